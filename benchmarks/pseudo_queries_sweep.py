"""GR effectiveness against the number of pseudo-queries per document, at one fixed time budget.

    python benchmarks/pseudo_queries_sweep.py ../shared/data/cranfield runs/pq-sweep --counts 5,20,50 --minutes 8

Each count builds an index with the default recipe (``minilm``, ``keywords`` docids, docid
head, validation on held-out pseudo-queries) and the same budget, one after another, then
decodes the evaluation split (100 beams) and prints nDCG@10, R@100, the epochs the budget
allowed and the validation score of the kept epoch. ``--teacher bm25`` also filters the
pseudo-queries by BM25 (Doc2Query--: kept when BM25 ranks their document in its top 10).
"""
from __future__ import annotations

import argparse
import os

import ir_measures
import pandas as pd
import pyterrier as pt

from pt_genret.baselines import bm25_pisa
from pt_genret.datasets import load_dataset
from pt_genret.experiment import usable_docs
from pt_genret.index import GenIndex
from pt_genret.queries import ExtractiveQueryGenerator, TeacherFilter
from pt_genret.retriever import GenRetriever


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dataset")
    p.add_argument("out")
    p.add_argument("--counts", default="5,20,50")
    p.add_argument("--minutes", type=float, default=8.0)
    p.add_argument("--split", default="test")
    p.add_argument("--train-split", help="real training queries as well")
    p.add_argument("--teacher", choices=["none", "bm25"], default="none")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args()
    dataset = load_dataset(args.dataset)
    topics, qrels = dataset.get_topics(args.split), dataset.get_qrels(args.split)
    train_topics = train_qrels = None
    if args.train_split:
        train_topics, train_qrels = dataset.get_topics(args.train_split), dataset.get_qrels(args.train_split)
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for n in (int(c) for c in args.counts.split(",")):
        generator = ExtractiveQueryGenerator(num_queries=n, seed=args.seed)
        if args.teacher == "bm25":
            bm25 = bm25_pisa(usable_docs(dataset), os.path.join(args.out, "pisa"), num_results=10)
            generator = generator >> TeacherFilter(bm25, rank_cutoff=10)
        path = os.path.join(args.out, f"pq{n}-{args.teacher}")
        index = GenIndex(path)
        if not index.built():
            index = index.indexer(query_generator=generator, num_pseudo_queries=n, max_minutes=args.minutes,
                                  train_topics=train_topics, train_qrels=train_qrels, seed=args.seed).index(
                usable_docs(dataset))
        run = GenRetriever(index, num_results=100, verbose=True)(topics)
        scores = ir_measures.calc_aggregate([ir_measures.nDCG @ 10, ir_measures.R @ 100],
                                            qrels.rename(columns={"qid": "query_id", "docno": "doc_id",
                                                                  "label": "relevance"}),
                                            run.rename(columns={"qid": "query_id", "docno": "doc_id"}))
        training = index.meta["training"]
        best = training["curve"][training["best_epoch"] - 1]["score"] if training["best_epoch"] else None
        rows.append({"pseudo-queries/doc": n, "teacher": args.teacher, "examples": sum(index.meta["examples"].values()),
                     "epochs": len(training["curve"]), "best epoch": training["best_epoch"],
                     "validation": best, "build s": index.meta["build_seconds"],
                     "nDCG@10": scores[ir_measures.nDCG @ 10], "R@100": scores[ir_measures.R @ 100]})
        print(pd.DataFrame(rows).to_string(index=False), flush=True)
    pd.DataFrame(rows).to_csv(os.path.join(args.out, f"sweep-{args.teacher}.csv"), index=False)


if __name__ == "__main__":
    main()
