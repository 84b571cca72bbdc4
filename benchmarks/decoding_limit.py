"""Constrained beam search against the model's own speed, side by side in one run.

    python benchmarks/decoding_limit.py runs/final/cranfield.genret ../shared/data/cranfield \\
        --queries 8 --beams 10 100 --batch-sizes 1 4 16

For each beam width, the same queries in the same batches, alternating, through:

* ``constrained``: :class:`~pt_genret.decoding.ConstrainedBeamSearch` (the retriever's decoder);
* ``forward-only``: the same model over the same beams and the same number of steps, with its
  key/value cache and docid head, and nothing else (no constraint, no selection, no reorder):
  the limit a constrained decode can approach. It runs in the same groups of queries as the
  constrained decode (``ConstrainedBeamSearch.max_rows``: at most 128 decoder rows on a CPU),
  each group for as many steps as the decode took on it, so the ratio is like for like;
* ``HF generate``: ``model.generate`` beam search, unconstrained;
* ``HF generate + dict trie``: ``generate`` constrained by a nested-dict trie through
  ``prefix_allowed_tokens_fn`` (GENRE's way), written here;

``HF generate`` runs in the same groups of queries too (``generate`` itself would take the whole
batch at once, and pay for its wide key/value cache on a CPU). Then seconds per query, each
method's ratio to ``forward-only`` and whether the constrained
decode and ``generate`` with the dict trie rank the same documents. Last, the constrained
decode's throughput in queries per second as the batch grows. One CPU thread unless
``--threads``; on a GPU where ``--device cuda``.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import pt_genret.decoding.beam as beam_module
from pt_genret.datasets import load_dataset
from pt_genret.decoding import ConstrainedBeamSearch
from pt_genret.decoding.model_calls import IncrementalDecoder, encode
from pt_genret.docid_head import compact_logits
from pt_genret.index import GenIndex


class CountingDecoder(IncrementalDecoder):
    """Records each decoder's queries and steps (one decoder per group of queries), so the
    forward-only pass runs the same groups for as many steps."""
    groups: list[list[int]] = []  # [queries, steps] per decoder, in order

    def __init__(self, backbone, hidden, mask, use_cache=True, group=1):
        super().__init__(backbone, hidden, mask, use_cache, group)
        self.record = [len(hidden), 0]
        CountingDecoder.groups.append(self.record)

    def step(self, tokens):
        self.record[1] += 1
        return super().step(tokens)


def forward_only(backbone, queries: list[str], beams: int, groups: list[list[int]]) -> None:
    """The model alone, in the constrained decode's groups: each group of queries encoded, then
    as many cached decoder steps over ``beams`` rows a query as the decode took on it."""
    with compact_logits(backbone.model) as head:
        some = int(head.ids[0]) if head is not None else backbone.pad_token_id
        start = 0
        for size, steps in groups:
            hidden, mask = encode(backbone, queries[start:start + size])
            start += size
            decoder = IncrementalDecoder(backbone, hidden, mask, True, group=beams)
            tokens = torch.full((size * beams,), backbone.decoder_start_token_id, dtype=torch.long)
            for _ in range(steps):
                decoder.step(tokens).max(dim=-1)
                tokens = torch.full_like(tokens, some)
        assert start == len(queries), "the recorded groups do not cover the batch"


def split(queries: list[str], sizes: list[int]) -> list[list[str]]:
    """``queries`` cut into consecutive groups of these sizes."""
    out, start = [], 0
    for size in sizes:
        out.append(queries[start:start + size])
        start += size
    return out


def dict_trie(sequences: np.ndarray, pad: int) -> tuple[dict, dict]:
    root: dict = {}
    owner = {}
    for d, row in enumerate(sequences):
        seq = tuple(int(t) for t in row if t != pad)
        node = root
        for t in seq:
            node = node.setdefault(t, {})
        owner[seq] = d
    return root, owner


def hf_generate(backbone, queries: list[str], beams: int, steps: int, trie: dict | None, owner: dict):
    tok = backbone.tokenizer(queries, padding=True, truncation=True, max_length=64, return_tensors="pt")
    tok = tok.to(backbone.device)
    start, pad, eos = backbone.decoder_start_token_id, backbone.pad_token_id, backbone.eos_token_id

    def allowed(_batch_id, sent):
        node = trie
        for t in sent.tolist()[1:]:
            node = node.get(t)
            if node is None:
                return [pad]
        return list(node) or [pad]

    with torch.inference_mode():
        out = backbone.model.generate(**tok, num_beams=beams, num_return_sequences=beams, max_new_tokens=steps,
                                      length_penalty=0.0, do_sample=False, decoder_start_token_id=start,
                                      eos_token_id=eos, pad_token_id=pad,
                                      output_scores=True, return_dict_in_generate=True,
                                      prefix_allowed_tokens_fn=allowed if trie is not None else None)
    seqs, scores = out.sequences.tolist(), out.sequences_scores.tolist()
    ranked = []
    for q in range(len(queries)):
        docs = []
        for s, sc in zip(seqs[q * beams:(q + 1) * beams], scores[q * beams:(q + 1) * beams]):
            s = s[1:]
            d = owner.get(tuple(s[:s.index(eos) + 1] if eos in s else s))  # finished beams are padded with EOS
            if d is not None:
                docs.append((d, sc))
        ranked.append(docs)
    return ranked


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("index")
    p.add_argument("dataset")
    p.add_argument("--split", default="test")
    p.add_argument("--queries", type=int, default=8)
    p.add_argument("--beams", type=int, nargs="+", default=[10, 100])
    p.add_argument("--batch-size", type=int, default=4, help="batch size of the side-by-side comparison")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4, 16], help="throughput batch sizes")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    index = GenIndex(args.index)
    backbone, trie = index.backbone(), index.trie()
    backbone.model.to(args.device).eval()
    steps = int(index.meta["max_docid_length"]) + 1
    queries = load_dataset(args.dataset).get_topics(args.split)["query"].head(args.queries).tolist()
    root, owner = dict_trie(trie.sequences(), trie.vocab_size)
    beam_module.IncrementalDecoder = CountingDecoder
    print(f"{len(queries)} queries in batches of {args.batch_size}, {trie.num_docs} docids, at most {steps} steps, "
          f"{args.threads} thread(s), {args.device}, index {args.index}")
    for beams in args.beams:
        names = ["constrained", "forward-only", "HF generate", "HF generate + dict trie"]
        seconds = dict.fromkeys(names, 0.0)
        ours, theirs = [], []
        grouping: set[tuple[int, ...]] = set()
        for lo in range(0, len(queries), args.batch_size):
            batch = queries[lo:lo + args.batch_size]
            CountingDecoder.groups = []
            t = time.perf_counter()
            ours += ConstrainedBeamSearch(num_beams=beams).decode(backbone, trie, batch, beams, steps)
            seconds["constrained"] += time.perf_counter() - t
            groups = CountingDecoder.groups
            t = time.perf_counter()
            forward_only(backbone, batch, beams, groups)
            seconds["forward-only"] += time.perf_counter() - t
            sizes = [size for size, _ in groups]
            t = time.perf_counter()
            for part in split(batch, sizes):
                hf_generate(backbone, part, beams, steps, None, owner)
            seconds["HF generate"] += time.perf_counter() - t
            t = time.perf_counter()
            for part in split(batch, sizes):
                theirs += hf_generate(backbone, part, beams, steps, root, owner)
            seconds["HF generate + dict trie"] += time.perf_counter() - t
            grouping.add(tuple(sizes))
        n = len(queries)
        print(f"\nbeam {beams} (groups of queries per batch, all methods: "
              f"{' / '.join('+'.join(map(str, g)) for g in sorted(grouping))}):")
        for name in names:
            print(f"  {name:25s} {seconds[name] / n:7.3f} s/query  {seconds[name] / seconds['forward-only']:6.3f}x forward-only")
        same = sum([d for d, _ in a] == [d for d, _ in b] for a, b in zip(ours, theirs))
        top10 = sum([d for d, _ in a][:10] == [d for d, _ in b][:10] for a, b in zip(ours, theirs))
        diff = max((abs(x - y) for a, b in zip(ours, theirs) for (_, x), (_, y) in zip(a, b)), default=0.0)
        print(f"  same rankings as HF generate + dict trie: {same}/{n} queries (top 10: {top10}/{n}); "
              f"max score difference {diff:.1e}")
    print("\nthroughput of the constrained decode (queries per second):")
    many = (queries * (max(args.batch_sizes) // max(len(queries), 1) + 1))[:max(args.batch_sizes)]
    for beams in args.beams:
        row = []
        for bs in args.batch_sizes:
            t = time.perf_counter()
            for lo in range(0, len(many), bs):
                ConstrainedBeamSearch(num_beams=beams).decode(backbone, trie, many[lo:lo + bs], beams, steps)
            row.append(f"batch {bs}: {len(many) / (time.perf_counter() - t):6.2f}")
        print(f"  beam {beams:3d}  " + "  ".join(row))


if __name__ == "__main__":
    main()
