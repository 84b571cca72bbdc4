"""The docid-token output head against the full vocabulary: training and decoding, side by side.

    python benchmarks/training_speed.py ../shared/data/cranfield --steps 60 --queries 16

One process, one thread by default (``--threads``), the same data for both heads:

* **training**: two copies of the same freshly initialised model (``minilm`` backbone, frozen
  encoder, ``keywords`` docids, extractive pseudo-queries, as ``pt-genret index`` built them when this was measured), one
  with the full-vocabulary output layer (what every HF model does, and what pt-genret did
  before the head), one with the docid head; the same batches, alternating; examples per second.
* **decoding** (constrained beam search at 10 and 100 beams, the same queries): the docid
  head's compact logits against the full-vocabulary projection and log-softmax of the same
  weights. The *same rankings* check decodes once more with the head in full-width mode (logits
  of the vocabulary with every non-docid token at -1e4, i.e. the distribution the trained model
  defines) and compares rankings and scores with the compact head's.
"""
from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch

from pt_genret.backbone import create_backbone
from pt_genret.constraints.trie import PrefixTrie
from pt_genret.datasets import load_dataset
from pt_genret.decoding import ConstrainedBeamSearch
from pt_genret.docid_head import install
from pt_genret.docids import get_scheme
from pt_genret.documents import collect_documents
from pt_genret.experiment import usable_docs
from pt_genret.index import spell_unique
from pt_genret.queries import get_query_generator
from pt_genret.training import LengthBucketSampler, _CollateFrozen, build_examples, encode_sources, seq2seq_loss


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dataset", help="a BEIR folder, irds:<id> or 'quickstart'")
    p.add_argument("--split", default="test", help="queries to decode")
    p.add_argument("--steps", type=int, default=60, help="training batches timed per head")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--queries", type=int, default=16)
    p.add_argument("--beams", default="10,100")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    dataset = load_dataset(args.dataset)
    docs = collect_documents(usable_docs(dataset))
    scheme = get_scheme("keywords", seed=args.seed).fit(docs)
    full = create_backbone("minilm", seed=args.seed, device="cpu")
    docids, tokens = spell_unique(scheme, full, scheme.assign(docs))
    docs = get_query_generator("extractive", 5, args.seed).transform(docs)
    examples = build_examples(docs, dict(zip(docs["docno"], tokens)))
    head_tokens = sorted({t for ts in tokens for t in ts})
    trie = PrefixTrie.build(tokens, full.vocab_size)
    print(f"{args.dataset}: {len(docs)} documents, {len(examples)} training examples; vocabulary "
          f"{full.vocab_size}, docid head {len(head_tokens)} tokens; {args.threads} thread(s)")

    docid = copy.deepcopy(full)
    install(docid.model, None)
    docid.set_docid_head(head_tokens)

    # ---------------------------------------------------------------------------- training
    states = encode_sources(full, examples, 64, verbose=False)
    collate = _CollateFrozen(examples, states=states)
    sampler = LengthBucketSampler([len(e.source.split()) for e in examples], args.batch_size, args.seed)
    batches = [collate(b) for b in list(iter(sampler))[:args.steps]]
    seconds = {"full": 0.0, "docid": 0.0}
    for name, bb in (("full", full), ("docid", docid)):
        bb.model.get_encoder().requires_grad_(False)
        bb.model.train()
        bb.optimizer = torch.optim.AdamW([q for q in bb.model.parameters() if q.requires_grad], lr=5e-4)
    for batch in batches:  # alternating, so both heads see the same machine load
        for name, bb in (("full", full), ("docid", docid)):
            t = time.perf_counter()
            loss = seq2seq_loss(bb.model, bb.model, batch, bb.decoder_start_token_id, bb.pad_token_id)
            loss.backward()
            bb.optimizer.step()
            bb.optimizer.zero_grad()
            seconds[name] += time.perf_counter() - t
    n = sum(len(b["labels"]) for b in batches)
    eps = {k: n / v for k, v in seconds.items()}
    print(f"\ntraining, {len(batches)} batches of {args.batch_size} (forward, backward, AdamW step):")
    print(f"  full vocabulary: {eps['full']:.1f} examples/s")
    print(f"  docid head:      {eps['docid']:.1f} examples/s")
    print(f"  ratio: {eps['docid'] / eps['full']:.2f}x")

    # ---------------------------------------------------------------------------- decoding
    for bb in (full, docid):
        bb.model.eval()
    queries = dataset.get_topics(args.split)["query"].head(args.queries).tolist()
    steps = max(len(t) for t in tokens) + 1
    print(f"\ndecoding {len(queries)} queries (batches of 8), seconds per query:")
    for beams in (int(b) for b in args.beams.split(",")):
        search = ConstrainedBeamSearch(num_beams=beams)
        took = {"full": 0.0, "docid": 0.0}
        compact, masked = [], []
        for start in range(0, len(queries), 8):
            batch = queries[start:start + 8]
            for name, bb in (("full", full), ("docid", docid)):
                t = time.perf_counter()
                out = search.decode(bb, trie, batch, beams, steps)
                took[name] += time.perf_counter() - t
                if name == "docid":
                    compact += out
            masked += ConstrainedBeamSearch(num_beams=beams, compact=False).decode(docid, trie, batch, beams, steps)
        same = all([d for d, _ in a] == [d for d, _ in b] for a, b in zip(compact, masked))
        diff = max((abs(x - y) for a, b in zip(compact, masked) for (_, x), (_, y) in zip(a, b)), default=0.0)
        q = len(queries)
        print(f"  beam {beams:>3}: full vocabulary {took['full'] / q:.3f}, docid head {took['docid'] / q:.3f}, "
              f"speed-up {took['full'] / took['docid']:.2f}x; same rankings as the full-width head: {same} "
              f"(max score difference {diff:.1e})")


if __name__ == "__main__":
    main()
