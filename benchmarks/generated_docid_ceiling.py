"""How much of a corpus's lexical signal keyword-sentence docids keep (the `generated` scheme).

    python benchmarks/generated_docid_ceiling.py ../shared/data/cranfield --words 6 8 10 16

A GR model with `generated` docids writes a document's key words (``min_words`` of them with the
extractive default); it ranks by what those words tell apart. This prints, side by side on the same queries, BM25 (PISA) over the
documents' full text and BM25 over their docid sentences alone at each ``--words`` length
(``min_words``; ``max_words`` = max(min_words, 8)), with each one's ratio to full-text BM25: a
lexical reference point for the GR model (not a strict bound), set by the docids before any training.
"""
from __future__ import annotations

import argparse
import os
import tempfile

import pandas as pd
import pyterrier as pt

from pt_genret.baselines import bm25_pisa
from pt_genret.datasets import load_dataset
from pt_genret.experiment import usable_docs
from pt_genret.metrics import parse_metrics
from pt_genret.registry import SCHEMES


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dataset", help="a BEIR folder or irds:<id>")
    p.add_argument("--split", default="test")
    p.add_argument("--words", type=int, nargs="+", default=[6, 8, 10, 16], help="docid lengths (min_words)")
    p.add_argument("--metrics", nargs="+", default=["nDCG@10", "R@100", "Success@1"])
    args = p.parse_args()
    metrics = parse_metrics(args.metrics)
    dataset = load_dataset(args.dataset)
    topics, qrels = dataset.get_topics(args.split), dataset.get_qrels(args.split)
    docs = pd.DataFrame(list(usable_docs(dataset)))
    work = tempfile.mkdtemp(prefix="docid-ceiling-")
    systems = {"BM25, full text": bm25_pisa(docs.to_dict("records"), os.path.join(work, "full"))}
    for n in args.words:
        scheme = SCHEMES.create("generated", min_words=n, max_words=max(n, 8)).fit(docs)
        sentences = scheme.assign(docs)
        print(f"{n} words, e.g. {sentences[0]!r}")
        records = [{"docno": d, "text": s} for d, s in zip(docs["docno"].astype(str), sentences)]
        systems[f"BM25, {n}-word docids"] = bm25_pisa(records, os.path.join(work, f"words{n}"))
    table = pt.Experiment(list(systems.values()), topics, qrels, metrics, names=list(systems))
    full = table.iloc[0]
    for m in metrics:
        table[f"{m} ratio"] = table[str(m)] / full[str(m)]
    print(f"{dataset.name}: {len(docs)} documents, {len(topics)} {args.split} queries")
    with pd.option_context("display.width", 200, "display.float_format", "{:.3f}".format):
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
