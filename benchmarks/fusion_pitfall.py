"""The RRF pitfall, measured: fusing a query-rewriting BM25 pipeline with dense retrieval.

``pyterrier_alpha.RRFusion`` joins its inputs on ``qid``, ``query`` and ``docno``. When one
pipeline rewrites the query (here: BM25 behind a query-cleaning step), its rows never match the
dense rows, so documents found by both get only one system's credit and appear twice.
``pt_genret.baselines.rrf`` restores the original query before fusing. Both fusions run side by
side on the same runs, with the unfused systems for reference.

    python benchmarks/fusion_pitfall.py ../shared/data/scifact --split train --work-dir runs/fusion
"""
from __future__ import annotations

import argparse
import os
import re

import pyterrier as pt
import pyterrier_alpha as pta

from pt_genret.baselines import rrf
from pt_genret.datasets import load_dataset
from pt_genret.experiment import baselines, parse_metrics


def clean_query(query: str) -> str:
    """Lower-case and drop punctuation: a typical rewrite in front of a lexical retriever."""
    return re.sub(r"[^\w\s]", " ", query.lower()).strip()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dataset")
    p.add_argument("--split", default="test")
    p.add_argument("--work-dir", default="runs/fusion")
    p.add_argument("--metrics", default="nDCG@10,R@100,RR@10")
    args = p.parse_args()
    dataset = load_dataset(args.dataset)
    topics, qrels = dataset.get_topics(args.split), dataset.get_qrels(args.split)
    bm25, dense = baselines(dataset, args.work_dir)
    cleaned_bm25 = pt.apply.query(lambda row: clean_query(row["query"])) >> bm25
    # run each system once; both fusions read the same runs
    runs = {name: pt.Transformer.from_df(system(topics), uniform=True)
            for name, system in (("bm25_cleaned", cleaned_bm25), ("dense", dense))}
    systems = [runs["bm25_cleaned"], runs["dense"], pta.RRFusion(runs["bm25_cleaned"], runs["dense"]),
               rrf(runs["bm25_cleaned"], runs["dense"])]
    names = ["BM25 (cleaned query)", "dense", "RRFusion (joins on query text)", "pt_genret rrf (qid, docno)"]
    table = pt.Experiment(systems, topics, qrels, parse_metrics(args.metrics), names=names)
    print(table.to_string(index=False))
    plain, fixed = table["nDCG@10"].iloc[2], table["nDCG@10"].iloc[3]
    print(f"\nnDCG@10 plain RRFusion {plain:.3f} vs correct fusion {fixed:.3f} (ratio {plain / fixed:.3f})")


if __name__ == "__main__":
    main()
