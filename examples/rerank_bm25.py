"""Re-rank BM25's top 100 with an existing generative-retrieval index, on a BEIR folder.

The GR index must have been built on the same corpus, e.g.::

    pt-genret index path/to/scifact scifact.genret --scheme keywords --epochs 10
    python examples/rerank_bm25.py path/to/scifact scifact.genret

A BEIR folder holds ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``. BM25 comes
from a PISA index, built under ``--work-dir`` (or reused from there). Each of BM25's top
``--depth`` candidates is re-scored by the GR model's log-likelihood of its docid, so the
re-ranker never adds documents. Prints ``pt.Experiment`` for BM25 and BM25 >> GR.
"""
from __future__ import annotations

import argparse
import os
import tempfile

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pandas as pd  # noqa: E402
import pyterrier as pt  # noqa: E402

from pt_genret import GenRetriever  # noqa: E402
from pt_genret.baselines import bm25_pisa  # noqa: E402
from pt_genret.datasets import read_beir  # noqa: E402
from pt_genret.experiment import parse_metrics, usable_docs  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("beir_folder", help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv")
    parser.add_argument("index", help="path of a GR index built on the same corpus")
    parser.add_argument("--split", default="test")
    parser.add_argument("--depth", type=int, default=100, help="BM25 candidates re-ranked per query")
    parser.add_argument("--metrics", default="nDCG@10,R@100,RR@10")
    parser.add_argument("--work-dir", help="where the PISA index is built and reused (default: temporary)")
    parser.add_argument("--save-dir", help="write the runs here")
    args = parser.parse_args()

    dataset = read_beir(args.beir_folder)
    topics, qrels = dataset.get_topics(args.split), dataset.get_qrels(args.split)
    work_dir = args.work_dir or tempfile.mkdtemp(prefix="pt-genret-rerank-")

    bm25 = bm25_pisa(usable_docs(dataset), os.path.join(work_dir, "pisa"), num_results=1000)
    gr = GenRetriever(pt.Artifact.load(args.index), verbose=True)
    pipeline = (bm25 % args.depth) >> gr

    kwargs = {"save_dir": args.save_dir, "save_mode": "overwrite"} if args.save_dir else {}
    if args.save_dir:
        os.makedirs(args.save_dir, exist_ok=True)
    table = pt.Experiment([bm25, pipeline], topics, qrels, parse_metrics(args.metrics),
                          names=["BM25", f"BM25 top {args.depth} re-ranked by GR"], **kwargs)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
