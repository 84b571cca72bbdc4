"""GR effectiveness against the training recipe at one fixed time budget: pseudo-queries per
document, Doc2Query-- filtering, and the distillation teacher.

    python benchmarks/recipe_sweep.py ../shared/data/cranfield runs/sweep --counts 5,20,50 --minutes 10
    python benchmarks/recipe_sweep.py ../shared/data/cranfield runs/sweep --counts 10 --teachers none,bm25,dense,rrf

Every combination of ``--counts`` and ``--teachers`` builds an index with the default recipe
(``minilm``, ``keywords`` docids unless ``--scheme`` says otherwise, docid head, validation on held-out pseudo-queries) and the
same budget, one after another, then decodes the evaluation split (100 beams) and prints
nDCG@10, R@100, the epochs the budget allowed and the validation score of the kept epoch.
A teacher (BM25 by PISA, dense MiniLM by pyterrier_dr, or RRF of both) is distilled from
(:mod:`pt_genret.distillation`); ``--filter`` also drops pseudo-queries whose document BM25
does not rank in its top 10 (Doc2Query--). The rows are written to ``OUT/sweep-*.csv``.
"""
from __future__ import annotations

import argparse
import os

import ir_measures
import pandas as pd
import pyterrier as pt

from pt_genret.baselines import bm25_pisa, dense_retriever, rrf
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
    p.add_argument("--teachers", default="none", help="comma-separated: none, bm25, dense, rrf")
    p.add_argument("--filter", action="store_true", help="Doc2Query--: keep pseudo-queries BM25 ranks in its top 10")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--scheme", default="keywords", help="docid scheme (the sweep in docs/benchmarks.md: keywords)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--decode-batch-size", type=int, default=8, help="queries decoded together")
    args = p.parse_args()
    dataset = load_dataset(args.dataset)
    topics, qrels = dataset.get_topics(args.split), dataset.get_qrels(args.split)
    train_topics = train_qrels = None
    if args.train_split:
        train_topics, train_qrels = dataset.get_topics(args.train_split), dataset.get_qrels(args.train_split)
    os.makedirs(args.out, exist_ok=True)
    bm25 = bm25_pisa(usable_docs(dataset), os.path.join(args.out, "pisa"), num_results=100)
    teachers = {"none": None, "bm25": bm25}
    if {"dense", "rrf"} & set(args.teachers.split(",")):
        teachers["dense"] = dense_retriever(usable_docs(dataset), os.path.join(args.out, "dense.flex"), num_results=100)
        teachers["rrf"] = rrf(bm25, teachers["dense"], num_results=100)
    rows = []
    for n in (int(c) for c in args.counts.split(",")):
        for name in args.teachers.split(","):
            generator = ExtractiveQueryGenerator(num_queries=n, seed=args.seed)
            if args.filter:
                generator = generator >> TeacherFilter(bm25 % 10, rank_cutoff=10)
            path = os.path.join(args.out, f"pq{n}-{name}{'-filtered' if args.filter else ''}")
            index = GenIndex(path)
            if not index.built():
                options = {"lr": args.lr} if args.lr else {}
                index = index.indexer(scheme=args.scheme, query_generator=generator, num_pseudo_queries=n, max_minutes=args.minutes,
                                      train_topics=train_topics, train_qrels=train_qrels, seed=args.seed,
                                      teacher=teachers[name], **options).index(usable_docs(dataset))
            run = GenRetriever(index, num_results=100, batch_size=args.decode_batch_size, verbose=True)(topics)
            scores = ir_measures.calc_aggregate([ir_measures.nDCG @ 10, ir_measures.R @ 100],
                                                qrels.rename(columns={"qid": "query_id", "docno": "doc_id",
                                                                      "label": "relevance"}),
                                                run.rename(columns={"qid": "query_id", "docno": "doc_id"}))
            training = index.meta["training"]
            best = training["curve"][training["best_epoch"] - 1]["score"] if training["best_epoch"] else None
            rows.append({"pseudo-queries/doc": n, "filtered": args.filter, "teacher": name,
                         "examples": sum(index.meta["examples"].values()), "epochs": len(training["curve"]),
                         "best epoch": training["best_epoch"], "validation": best,
                         "build s": index.meta["build_seconds"],
                         "nDCG@10": scores[ir_measures.nDCG @ 10], "R@100": scores[ir_measures.R @ 100]})
            print(pd.DataFrame(rows).to_string(index=False), flush=True)
            name_csv = f"sweep-pq{args.counts.replace(',', '_')}-{args.teachers.replace(',', '_')}.csv"
            pd.DataFrame(rows).to_csv(os.path.join(args.out, name_csv), index=False)


if __name__ == "__main__":
    main()
