"""The standard comparison: BM25, dense, GR, BM25 >> GR and RRF(BM25, GR) in one ``pt.Experiment``.

Baseline indexes (PISA for BM25, a pyterrier_dr FlexIndex for MiniLM dense retrieval) are
built once in ``work_dir`` and reused. GR decodes each query once: its run feeds both the GR
row and the fusion row.
"""
from __future__ import annotations

import os

import ir_measures
import pandas as pd
import pyterrier as pt

from pt_genret.baselines import bm25_pisa, dense_retriever, rrf
from pt_genret.datasets import Dataset
from pt_genret.index import GenIndex
from pt_genret.retriever import GenRetriever

DEFAULT_METRICS = ("nDCG@10", "R@100", "RR@10", "Success@10")
# display name of each system → file name of its saved run (``<file>.res.gz``)
RUN_FILES = {"BM25": "bm25", "dense": "dense", "GR": "gr", "BM25 >> GR": "bm25_rerank_gr",
             "RRF(BM25, GR)": "rrf_bm25_gr"}


def parse_metrics(spec: str | list[str] | tuple[str, ...]) -> list:
    """ir_measures measures from ``"nDCG@10,R@100"`` or a list of names."""
    names = [m.strip() for m in spec.split(",")] if isinstance(spec, str) else list(spec)
    try:
        return [ir_measures.parse_measure(m) for m in names if m]
    except Exception as e:  # ir_measures raises several types for bad names
        raise ValueError(f"unknown metric in {names}: {e}") from None


def usable_docs(dataset: Dataset):
    """The dataset's documents that have any text (empty ones cannot be retrieved by anyone)."""
    return (d for d in dataset.get_corpus_iter() if (d.get("text") or "").strip() or (d.get("title") or "").strip())


def baselines(dataset: Dataset, work_dir: str, num_results: int = 1000) -> tuple[pt.Transformer, pt.Transformer]:
    """BM25 (PISA) and dense (MiniLM) retrievers over ``dataset``, indexed under ``work_dir``."""
    os.makedirs(work_dir, exist_ok=True)
    bm25 = bm25_pisa(usable_docs(dataset), os.path.join(work_dir, "pisa"), num_results=num_results)
    dense = dense_retriever(usable_docs(dataset), os.path.join(work_dir, "dense.flex"), num_results=num_results)
    return bm25, dense


def compare(index: GenIndex | str, dataset: Dataset, work_dir: str, split: str = "test",
            metrics=DEFAULT_METRICS, save_dir: str | None = None, gr_results: int = 100,
            verbose: bool = True) -> pd.DataFrame:
    """Run the five systems on ``split`` of ``dataset`` and return the ``pt.Experiment`` table."""
    index = index if isinstance(index, GenIndex) else GenIndex(index)
    topics, qrels = dataset.get_topics(split), dataset.get_qrels(split)
    bm25, dense = baselines(dataset, work_dir)
    gr = GenRetriever(index, num_results=gr_results, verbose=verbose)
    gr_run = pt.Transformer.from_df(gr(topics), uniform=True)  # decode once, use twice
    systems = [bm25, dense, gr_run, (bm25 % 100) >> gr, rrf(bm25, gr_run)]
    kwargs = {"save_dir": save_dir, "save_mode": "overwrite"} if save_dir else {}
    if save_dir:
        os.makedirs(save_dir, exist_ok=True)
    # pt.Experiment names run files after the systems and refuses '>' and '/' there
    table = pt.Experiment(systems, topics, qrels, parse_metrics(metrics), names=list(RUN_FILES.values()), **kwargs)
    table["name"] = table["name"].map({v: k for k, v in RUN_FILES.items()})
    if save_dir:
        table.to_csv(os.path.join(save_dir, "results.csv"), index=False)
    return table
