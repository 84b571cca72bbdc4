"""The standard comparison in one ``pt.Experiment``: BM25, dense, GR, BM25 >> GR, the learned
interpolation of BM25 and GR scores, RRF(BM25, GR) and RRF(BM25, dense).

Baseline indexes (PISA for BM25, a pyterrier_dr FlexIndex for MiniLM dense retrieval) are
built once in ``work_dir`` and reused. Each system runs once on the evaluation queries and its
run is reused: GR decodes each query once (GR row and its fusion row), and GR scores BM25's top
100 once (the re-ranking row and the interpolated row).
"""
from __future__ import annotations

import json
import os

import pandas as pd
import pyterrier as pt

from pt_genret.baselines import bm25_pisa, dense_retriever, rrf
from pt_genret.datasets import Dataset
from pt_genret.index import GenIndex
from pt_genret.interpolation import ScoreInterpolation, pseudo_query_topics
from pt_genret.metrics import parse_metrics
from pt_genret.retriever import GenRetriever

DEFAULT_METRICS = ("nDCG@10", "R@100", "RR@10", "Success@10")
# display name of each system → file name of its saved run (``<file>.res.gz``)
RUN_FILES = {"BM25": "bm25", "dense": "dense", "GR": "gr", "BM25 >> GR": "bm25_rerank_gr",
             "BM25 >> GR (interpolated)": "bm25_interp_gr", "RRF(BM25, GR)": "rrf_bm25_gr",
             "RRF(BM25, dense)": "rrf_bm25_dense"}
RERANK_DEPTH = 100  # BM25 candidates re-scored by GR (re-ranking and interpolated rows)


def system_position(name: str) -> int:
    """The position in :data:`RUN_FILES` of a system given by display or run-file name."""
    for i, (display, file) in enumerate(RUN_FILES.items()):
        if name in (display, file):
            return i
    raise ValueError(f"unknown system {name!r}; choose one of {', '.join(RUN_FILES.values())}")


def usable_docs(dataset: Dataset):
    """The dataset's documents, checked by :func:`pt_genret.documents.check_documents` as it streams
    them (empty ones skipped with a warning: nothing can retrieve them)."""
    return dataset.get_corpus_iter()


def baselines(dataset: Dataset, work_dir: str, num_results: int = 1000) -> tuple[pt.Transformer, pt.Transformer]:
    """BM25 (PISA) and dense (MiniLM) retrievers over ``dataset``, indexed under ``work_dir``."""
    os.makedirs(work_dir, exist_ok=True)
    bm25 = bm25_pisa(usable_docs(dataset), os.path.join(work_dir, "pisa"), num_results=num_results)
    dense = dense_retriever(usable_docs(dataset), os.path.join(work_dir, "dense.flex"), num_results=num_results)
    return bm25, dense


def compare(index: GenIndex | str, dataset: Dataset, work_dir: str, split: str = "test",
            metrics=DEFAULT_METRICS, save_dir: str | None = None, gr_results: int = 100,
            verbose: bool = True, train_split: str | None = None, fit_metric: str = "nDCG@10",
            fit_queries: int | None = 200, seed: int = 42, baseline: str | None = None) -> pd.DataFrame:
    """Run the systems of :data:`RUN_FILES` on ``split`` of ``dataset``; return the ``pt.Experiment`` table.

    The interpolation weight (:class:`~pt_genret.interpolation.ScoreInterpolation`) is fitted to
    maximise ``fit_metric`` on ``train_split``'s queries and qrels, or, without a training split,
    on the index's saved pseudo-queries (:func:`~pt_genret.interpolation.pseudo_query_topics`);
    at most ``fit_queries`` of them (seeded sample; ``None``: all). The fit is recorded in
    ``table.attrs["interpolation"]`` (alpha, metric, what it was fitted on, the curve) and,
    with ``save_dir``, in ``save_dir/interpolation.json``. ``baseline`` (a system's name or run
    file name, e.g. ``"BM25"`` or ``bm25``) adds pt.Experiment's significance tests against it.
    """
    index = index if isinstance(index, GenIndex) else GenIndex(index)
    baseline_at = None if baseline is None else system_position(baseline)
    measures, fit_measure = parse_metrics(metrics), parse_metrics([fit_metric])[0]  # bad names fail before any run
    if train_split is not None and train_split == split:
        raise ValueError(f"train split {train_split!r} is the evaluation split: alpha would be fitted on the "
                         "evaluation queries")
    topics, qrels = dataset.get_topics(split), dataset.get_qrels(split)
    if train_split is not None:  # read before the slow part, so a bad split fails at once
        fit_topics, fit_qrels = dataset.get_topics(train_split), dataset.get_qrels(train_split)
        if fit_queries is not None and len(fit_topics) > fit_queries:
            fit_topics = fit_topics.sample(n=fit_queries, random_state=seed).reset_index(drop=True)
        fitted_on = train_split
    else:
        fit_topics, fit_qrels = pseudo_query_topics(index, n=fit_queries, seed=seed)
        fitted_on = "pseudo-queries"
    bm25, dense = baselines(dataset, work_dir)
    gr = GenRetriever(index, num_results=gr_results, verbose=verbose)
    # each system runs once; the runs feed every row that uses them
    bm25_run = pt.Transformer.from_df(bm25(topics), uniform=True)
    dense_run = pt.Transformer.from_df(dense(topics), uniform=True)
    gr_run = pt.Transformer.from_df(gr(topics), uniform=True)
    interpolation = ScoreInterpolation(bm25, gr, cutoff=RERANK_DEPTH, metric=fit_measure, verbose=verbose)
    interpolation.fit(fit_topics, fit_qrels)
    candidates = interpolation.candidates(topics)  # BM25's top 100, each scored by GR once
    # (bm25 % 100) >> gr, from the same GR scores
    rerank_run = pt.Transformer.from_df(interpolation.signal_run(candidates, "gr"), uniform=True)
    interp_run = pt.Transformer.from_df(interpolation.combine(candidates), uniform=True)
    systems = [bm25_run, dense_run, gr_run, rerank_run, interp_run, rrf(bm25_run, gr_run), rrf(bm25_run, dense_run)]
    fit = {"alpha": interpolation.alpha, "metric": str(interpolation.metric), "best_score": interpolation.best_score_,
           "fitted_on": fitted_on, "num_queries": interpolation.fit_queries_, "cutoff": RERANK_DEPTH,
           "normalise": interpolation.normalise, "curve": interpolation.curve_.to_dict(orient="records")}
    kwargs = {"save_dir": save_dir, "save_mode": "overwrite"} if save_dir else {}
    if baseline_at is not None:
        kwargs["baseline"] = baseline_at
    if save_dir:
        os.makedirs(save_dir, exist_ok=True)
    # pt.Experiment names run files after the systems and refuses '>' and '/' there
    table = pt.Experiment(systems, topics, qrels, measures, names=list(RUN_FILES.values()), **kwargs)
    table["name"] = table["name"].map({v: k for k, v in RUN_FILES.items()})
    table.attrs["interpolation"] = fit
    if save_dir:
        table.to_csv(os.path.join(save_dir, "results.csv"), index=False)
        with open(os.path.join(save_dir, "interpolation.json"), "w") as f:
            json.dump(fit, f, indent=2)
    return table
