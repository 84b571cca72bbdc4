"""Where a dense_init model starts on an instructed corpus, before any training on it.

    python benchmarks/dense_init_instructions.py ../shared/data/cranfield
    python benchmarks/dense_init_instructions.py ../shared/data/cranfield --base runs/zerogr/dense_init/base

Every row is a ``dense_init`` model that has not trained on the corpus, with each document's row
computed from its text, ranking the corpus's test queries by one constrained step over all
documents (beam search):

* ``fresh, bare queries``: a new model on queries without an instruction, over documents without
  one (plain rows): MiniLM's dense ranking;
* ``fresh, instructed, plain rows``: ``instruction ⊕ query``, rows without projection;
* ``fresh, instructed, projected rows``: the rows with the instruction's direction projected
  out (the scheme's default, ``project_instruction=True``);
* one row per ``--base`` index: that index's trained decoder on instructed queries, with rows
  computed by its encoder from the corpus's documents (projected): where ZeroGR's training on
  an unseen corpus starts.
"""
from __future__ import annotations

import argparse

import ir_measures
import pandas as pd

from pt_genret.backbone import create_backbone
from pt_genret.constraints.trie import PrefixTrie
from pt_genret.datasets import load_dataset
from pt_genret.decoding.beam import ConstrainedBeamSearch
from pt_genret.experiment import usable_docs
from pt_genret.instructions import default_instruction, instruct, with_instruction
from pt_genret.metrics import parse_metrics
from pt_genret.reader import IndexReader
from pt_genret.registry import CONSTRAINTS, SCHEMES


def starting_ranking(backbone, docs: pd.DataFrame, queries: list[str], fresh: bool, hits: int, seed: int,
                     **scheme_options) -> list[list[tuple[str, float]]]:
    """The untrained model's top ``hits`` docnos per query, rows set from ``docs``."""
    scheme = SCHEMES.create("dense_init", seed=seed, **scheme_options).fit(docs)
    table = CONSTRAINTS["trie"].identify(docs, backbone, scheme)
    backbone.set_docid_head({t for ts in table.tokens for t in ts})
    scheme.prepare_model(backbone, table, docs, fresh=fresh)
    backbone.model.eval()
    trie = PrefixTrie.build(table.tokens, backbone.vocab_size)
    found = ConstrainedBeamSearch(num_beams=hits).decode(backbone, trie, queries, hits, 2)
    return [[(table.docnos[d], s) for d, s in row] for row in found]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dataset", help="a BEIR folder or irds:<id>")
    p.add_argument("--split", default="test")
    p.add_argument("--instruction", help="default: the corpus's default instruction")
    p.add_argument("--base", nargs="*", default=[], help="dense_init GR indexes whose decoder to start from")
    p.add_argument("--metrics", nargs="+", default=["nDCG@10", "R@100", "Success@1"])
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()
    metrics = parse_metrics(args.metrics)
    dataset = load_dataset(args.dataset)
    instruction = args.instruction or default_instruction(args.dataset)
    topics, qrels = dataset.get_topics(args.split), dataset.get_qrels(args.split)
    plain = pd.DataFrame(list(usable_docs(dataset)))
    docs = with_instruction(plain, instruction)  # each document carries the instruction: its row is projected
    bare = topics["query"].astype(str).tolist()
    instructed = [instruct(instruction, q) for q in bare]
    hits, seed = 100, args.seed

    def fresh():
        return create_backbone("minilm", seed=seed)

    rows = {
        "fresh, bare queries": lambda: starting_ranking(fresh(), plain, bare, True, hits, seed),
        "fresh, instructed, plain rows": lambda: starting_ranking(fresh(), docs, instructed, True, hits, seed,
                                                                  project_instruction=False),
        "fresh, instructed, projected rows": lambda: starting_ranking(fresh(), docs, instructed, True, hits, seed),
    }
    for path in args.base:
        rows[f"{path}, instructed, projected rows"] = (
            lambda path=path: starting_ranking(IndexReader(path).backbone(), docs, instructed, False, hits, seed))
    judged = [ir_measures.Qrel(str(r.qid), str(r.docno), int(r.label)) for r in qrels.itertuples()]
    qids = topics["qid"].astype(str).tolist()
    print(f"{dataset.name}: {len(docs)} documents, {len(qids)} {args.split} queries; instruction {instruction!r}")
    for name, rank in rows.items():
        run = [ir_measures.ScoredDoc(qid, docno, float(score))
               for qid, found in zip(qids, rank()) for docno, score in found]
        scores = ir_measures.calc_aggregate(metrics, judged, run)
        print(f"{name:<60} " + "  ".join(f"{m} {scores[m]:.3f}" for m in metrics), flush=True)


if __name__ == "__main__":
    main()
