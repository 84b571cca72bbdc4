"""Learned interpolation of a first stage (e.g. BM25) with generative-retrieval scores.

:class:`ScoreInterpolation` retrieves a query's top ``cutoff`` candidates with a first stage,
re-scores them once with a GR re-ranker (a :class:`~pt_genret.retriever.GenRetriever` given a
result frame scores each candidate by log P(docid | query)), normalises both scores per query
and ranks by::

    score = (1 - alpha) * first_norm + alpha * gr_norm

``alpha = 0`` is the first stage's own ranking of its top ``cutoff``, ``alpha = 1`` is
``(first_stage % cutoff) >> gr``. The ranking is that of PyTerrier's linear fusion
``(1 - a) * (first % k >> PerQueryMaxMinScore()) + a * (first % k >> gr >> PerQueryMaxMinScore())``
(``pyterrier_alpha.fusion``) restricted to the first stage's candidates, with the first stage
run once instead of twice and both raw scores kept. :meth:`ScoreInterpolation.fit` chooses
``alpha`` on a grid with ``pt.GridScan`` over a cached candidate frame, so the first stage and
the GR model run once for the training queries, not once per grid value. Without real training queries,
:func:`pseudo_query_topics` turns an index's saved pseudo-queries into topics and qrels.
"""
from __future__ import annotations

import math
import os
from numbers import Real

import numpy as np
import pandas as pd
import pyterrier as pt
import pyterrier_alpha as pta

from pt_genret.baselines import RestoreQuery
from pt_genret.index import GenIndex
from pt_genret.saved_queries import held_out_file, read_pseudo_queries
from pt_genret.metrics import parse_metric
from pt_genret.retriever import GenRetriever

__all__ = ["ScoreInterpolation", "normalise_scores", "pseudo_query_topics", "DEFAULT_GRID"]

DEFAULT_GRID = tuple(round(i * 0.05, 2) for i in range(21))  # 0, 0.05, ..., 1
NORMALISERS = ("minmax", "zscore", "none")
SIGNALS = {"first": "first_score", "gr": "gr_score"}
_NORM = {"first": "_first_norm", "gr": "_gr_norm"}  # internal columns of a candidate frame


def _check_alpha(alpha, what: str = "alpha") -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, Real) or not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"{what} must be a number in [0, 1], got {alpha!r}")
    return float(alpha)


def normalise_scores(scores: pd.Series | np.ndarray, qids: pd.Series | np.ndarray,
                     method: str | None = "minmax") -> np.ndarray:
    """Per-query normalisation of ``scores`` (grouped by ``qids``).

    ``"minmax"`` maps each query's scores to [0, 1] as PyTerrier's per-query min-max scalers do
    (``pt.pipelines.PerQueryMaxMinScoreTransformer``, deprecated, and
    ``pyterrier_alpha.fusion.PerQueryMaxMinScore``, whose import fails in pyterrier-alpha 0.16.5):
    sklearn's ``minmax_scale`` per query, a constant list becoming all 0; here vectorised.
    ``"zscore"`` standardises per query (a constant list becomes all 0); ``"none"``/``None``
    keeps the raw scores. Before normalising, ``-inf`` and missing scores
    become the query's lowest finite score and ``+inf`` its highest (0 if it has none).
    """
    method = "none" if method is None else method
    if method not in NORMALISERS:
        raise ValueError(f"normalise must be one of {', '.join(NORMALISERS)} or None, got {method!r}")
    s = pd.Series(np.asarray(scores, dtype=float))
    q = pd.Series(np.asarray(qids)).astype(str)
    finite = np.isfinite(s.to_numpy())
    if not finite.all():
        fin = s.where(finite).groupby(q.values, sort=False)
        lo, hi = fin.transform("min").fillna(0.0), fin.transform("max").fillna(0.0)
        s = s.where(finite, np.where(s.to_numpy() == np.inf, hi, lo))
    if method == "none":
        return s.to_numpy()
    g = s.groupby(q.values, sort=False)
    if method == "minmax":
        lo = g.transform("min").to_numpy()
        spread = g.transform("max").to_numpy() - lo
        return np.where(spread > 0, (s.to_numpy() - lo) / np.where(spread > 0, spread, 1.0), 0.0)
    mean, std = g.transform("mean").to_numpy(), g.transform("std", ddof=0).to_numpy()
    return np.where(std > 0, (s.to_numpy() - mean) / np.where(std > 0, std, 1.0), 0.0)


def _sorted_run(out: pd.DataFrame) -> pd.DataFrame:
    """``out`` with ranks from its ``score`` (ties keep row order), sorted by query then rank."""
    out = pt.model.add_ranks(out.reset_index(drop=True))
    order = pd.factorize(out["qid"])[0]
    out = out.iloc[np.lexsort((out["rank"].to_numpy(), order))].reset_index(drop=True)
    cols = [c for c in out.columns if c != "rank"]
    cols.insert(cols.index("score") + 1, "rank")
    return out[cols]


class _CachedMix(pt.Transformer):
    """The interpolation of a fixed candidate frame at ``alpha``: what ``pt.GridScan`` varies."""

    def __init__(self, owner: "ScoreInterpolation", candidates: pd.DataFrame) -> None:
        self.owner, self.candidates, self.alpha = owner, candidates, 0.0

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        cands = self.candidates[self.candidates["qid"].isin(set(inp["qid"].astype(str)))]
        return self.owner.combine(cands, alpha=self.alpha)


class ScoreInterpolation(pt.Estimator):
    """``(1 - alpha) * norm(first stage) + alpha * norm(GR)`` over the first stage's top ``cutoff``.

    Args:
        first_stage: a retriever (query frame in, result frame out), e.g. BM25.
        gr: the re-ranker that re-scores the candidates: a :class:`GenRetriever`, a
            :class:`GenIndex` or its path (wrapped in a ``GenRetriever``), or any re-ranking
            transformer (result frame in, ``score`` out).
        alpha: weight of the GR score in [0, 1]; ``None`` until :meth:`fit` sets it.
        cutoff: candidates taken from the first stage per query (``None``: all it returns).
        normalise: per-query score normalisation, ``"minmax"`` (default), ``"zscore"`` or
            ``"none"`` (see :func:`normalise_scores`).
        metric: what :meth:`fit` maximises (an ``ir_measures`` name or measure).
        grid: the alpha values :meth:`fit` tries.
        verbose: progress bars while fitting.

    On a query frame (``qid, query``, any other columns) the output is a result frame with
    every input column, the first stage's ``docno`` (and any columns it adds), the interpolated
    ``score``, ``rank``, and the raw scores as ``first_score`` and ``gr_score``. Only the first
    stage's candidates are ranked: nothing is added. Columns that the GR re-ranker adds (a
    ``GenRetriever`` writes ``gr_docid``) are not copied. The GR re-ranker sees the input query
    even when the first stage rewrites it (as in :func:`~pt_genret.baselines.rrf`).

    After :meth:`fit`: ``alpha`` is the chosen weight, ``curve_`` a frame of ``alpha`` and the
    metric per grid value, ``best_score_`` the metric at ``alpha``, ``fit_queries_`` the
    number of training queries with judgements.
    """

    def __init__(self, first_stage: pt.Transformer, gr, alpha: float | None = None, cutoff: int | None = 100,
                 normalise: str | None = "minmax", metric="nDCG@10", grid=DEFAULT_GRID, verbose: bool = False) -> None:
        if not isinstance(first_stage, pt.Transformer):
            raise TypeError(f"first_stage must be a pt.Transformer, got {type(first_stage).__name__}")
        if isinstance(gr, (GenIndex, str)):
            gr = GenRetriever(gr)
        if not isinstance(gr, pt.Transformer):
            raise TypeError(f"gr must be a pt.Transformer, a GenIndex or an index path, got {type(gr).__name__}")
        if cutoff is not None and (isinstance(cutoff, bool) or not isinstance(cutoff, int) or cutoff < 1):
            raise ValueError(f"cutoff must be a positive integer or None, got {cutoff!r}")
        normalise_scores([], [], normalise)  # validates the name
        grid = list(grid)
        if not grid:
            raise ValueError("grid must list at least one alpha value")
        self.grid = sorted({_check_alpha(a, "every grid value") for a in grid})
        self.first_stage, self.gr = first_stage, gr
        self.alpha = None if alpha is None else _check_alpha(alpha)
        self.cutoff, self.normalise, self.verbose = cutoff, normalise, verbose
        self.metric = parse_metric(metric)
        self.curve_: pd.DataFrame | None = None
        self.best_score_: float | None = None
        self.fit_queries_: int | None = None

    def __repr__(self) -> str:
        return (f"ScoreInterpolation({self.first_stage!r}, {self.gr!r}, alpha={self.alpha}, cutoff={self.cutoff}, "
                f"normalise={self.normalise!r})")

    # -- running ---------------------------------------------------------------------------
    def candidates(self, topics: pd.DataFrame) -> pd.DataFrame:
        """First-stage top ``cutoff`` for ``topics`` with raw ``first_score`` and ``gr_score``
        (one first-stage call, one GR call), in the first stage's order; every input column kept."""
        pta.validate.query_frame(topics, extra_columns=["query"])
        topics = topics.assign(qid=topics["qid"].astype(str))
        if len(topics) == 0:
            return self._empty(topics)
        first = self.first_stage % self.cutoff if self.cutoff else self.first_stage
        res = RestoreQuery(first)(topics)
        if len(res) == 0:
            return self._empty(topics)
        if "docno" not in res.columns or "score" not in res.columns:
            raise ValueError(f"the first stage returned no docno/score columns (got {list(res.columns)}): "
                             "it must be a retriever")
        res = res.assign(qid=res["qid"].astype(str), docno=res["docno"].astype(str))
        missing = [c for c in topics.columns if c not in res.columns]
        if missing:  # a first stage that drops input columns: bring them back by qid
            res = res.merge(topics[["qid", *missing]].drop_duplicates("qid"), on="qid", how="left")
        position = dict(zip(topics["qid"], range(len(topics))))
        order = res["qid"].map(position).to_numpy()
        keys = (res["rank"].to_numpy(), order) if "rank" in res.columns else (-res["score"].to_numpy(), order)
        res = res.iloc[np.lexsort(keys)].reset_index(drop=True)  # input query order, then first-stage rank
        if self.cutoff:  # a first stage that ignores the cutoff (or ranks without a rank column)
            res = res[res.groupby("qid", sort=False).cumcount() < self.cutoff].reset_index(drop=True)
        res["first_score"] = res["score"].astype(float)
        gr_out = self.gr(res)
        if "score" not in gr_out.columns:
            raise ValueError(f"the GR re-ranker returned no score column (got {list(gr_out.columns)})")
        gr_scores = (gr_out.assign(qid=gr_out["qid"].astype(str), docno=gr_out["docno"].astype(str))
                     [["qid", "docno", "score"]].drop_duplicates(["qid", "docno"])
                     .rename(columns={"score": "gr_score"}))
        res = res.merge(gr_scores, on=["qid", "docno"], how="left")  # a dropped candidate: its query's lowest
        return self._with_norms(res)

    def _empty(self, topics: pd.DataFrame) -> pd.DataFrame:
        cols = list(topics.columns) + [c for c in ("docno", "score", "rank", "first_score", "gr_score")
                                       if c not in topics.columns]
        return self._with_norms(pd.DataFrame(columns=cols).astype(
            {"docno": object, "score": float, "rank": "int64", "first_score": float, "gr_score": float}))

    def _with_norms(self, res: pd.DataFrame) -> pd.DataFrame:
        for signal, column in SIGNALS.items():
            res[_NORM[signal]] = normalise_scores(res[column], res["qid"], self.normalise)
        return res

    def combine(self, candidates: pd.DataFrame, alpha: float | None = None) -> pd.DataFrame:
        """The interpolated run of a :meth:`candidates` frame (``alpha`` defaults to ``self.alpha``);
        ties keep the first stage's order."""
        alpha = self.alpha if alpha is None else alpha
        if alpha is None:
            raise ValueError("alpha is not set: pass alpha= or call fit(topics, qrels) first")
        alpha = _check_alpha(alpha)
        out = candidates.copy()
        out["score"] = (1.0 - alpha) * out[_NORM["first"]].to_numpy() + alpha * out[_NORM["gr"]].to_numpy()
        return _sorted_run(out.drop(columns=list(_NORM.values())))

    def signal_run(self, candidates: pd.DataFrame, signal: str) -> pd.DataFrame:
        """One signal's own ranking of a :meth:`candidates` frame with its raw score: ``"first"``
        (the first stage's top ``cutoff``) or ``"gr"`` (``(first_stage % cutoff) >> gr``)."""
        if signal not in SIGNALS:
            raise ValueError(f"signal must be 'first' or 'gr', got {signal!r}")
        out = candidates.drop(columns=list(_NORM.values())).assign(score=candidates[SIGNALS[signal]].astype(float))
        return _sorted_run(out)

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        if self.alpha is None:
            raise ValueError("alpha is not set: pass alpha= or call fit(topics, qrels) first")
        _check_alpha(self.alpha)  # it may have been set by set_parameter / GridSearch
        return self.combine(self.candidates(inp))

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, topics: pd.DataFrame, qrels: pd.DataFrame, topics_va=None, qrels_va=None) -> "ScoreInterpolation":
        """Choose ``alpha`` on ``self.grid`` maximising ``self.metric`` over ``topics``/``qrels``.

        The candidates (first stage + GR scores) of the training queries are computed once and
        cached; ``pt.GridScan`` then evaluates the interpolation of that frame at each grid value,
        which costs a weighted sum and a sort per value. Of several best values, the middle of
        the first run of consecutive best values is taken (a plateau's edge is where the metric
        starts to change). Only queries with a relevant document in ``qrels`` count. The
        validation pair of ``pt.Estimator.fit``, when given, is scored the same way into
        ``validation_curve_``; it does not affect the choice.
        """
        topics, qrels = self._training_data(topics, qrels, "training")
        self.curve_ = self._curve(topics, qrels)
        values = self.curve_[str(self.metric)].to_numpy()
        best = float(values.max())
        run = [i for i in range(len(values)) if values[i] >= best - 1e-12]
        first_run = [i for k, i in enumerate(run) if i - run[0] == k]  # consecutive from the first best
        self.alpha = float(self.curve_["alpha"].iloc[first_run[(len(first_run) - 1) // 2]])
        self.best_score_, self.fit_queries_ = best, len(topics)
        self.validation_curve_ = None
        if topics_va is not None or qrels_va is not None:
            if topics_va is None or qrels_va is None:
                raise ValueError("give both validation topics and qrels, or neither")
            self.validation_curve_ = self._curve(*self._training_data(topics_va, qrels_va, "validation"))
        return self

    def _training_data(self, topics: pd.DataFrame, qrels: pd.DataFrame, what: str):
        if not isinstance(topics, pd.DataFrame) or not isinstance(qrels, pd.DataFrame):
            raise TypeError(f"{what} topics and qrels must be DataFrames")
        if len(topics) == 0:
            raise ValueError(f"no {what} topics: fit needs at least one query")
        pta.validate.query_frame(topics, extra_columns=["query"])
        missing = [c for c in ("qid", "docno", "label") if c not in qrels.columns]
        if missing:
            raise ValueError(f"{what} qrels lack column(s) {', '.join(missing)} (need qid, docno, label)")
        topics = topics.assign(qid=topics["qid"].astype(str))
        dup = topics["qid"].duplicated()
        if dup.any():
            raise ValueError(f"duplicate qid {topics['qid'][dup].iloc[0]!r} in the {what} topics: one row per query")
        qrels = qrels.assign(qid=qrels["qid"].astype(str), docno=qrels["docno"].astype(str))
        judged = set(qrels.loc[qrels["label"] > 0, "qid"])
        topics = topics[topics["qid"].isin(judged)].reset_index(drop=True)
        if len(topics) == 0:
            raise ValueError(f"none of the {what} topics has a relevant document in the qrels")
        return topics, qrels[qrels["qid"].isin(set(topics["qid"]))].reset_index(drop=True)

    def _curve(self, topics: pd.DataFrame, qrels: pd.DataFrame) -> pd.DataFrame:
        cands = self.candidates(topics)  # the one first-stage and GR pass
        if len(cands) == 0:
            raise ValueError(f"the first stage returned no candidates for the {len(topics)} training queries")
        mix = _CachedMix(self, cands)
        scan = pt.GridScan(mix, {mix: {"alpha": self.grid}}, topics, qrels, [self.metric],
                           verbose=self.verbose, dataframe=False)
        rows = [(setting[0][2], float(next(iter(scores.values())))) for setting, scores in scan]
        return pd.DataFrame(rows, columns=["alpha", str(self.metric)])


def pseudo_query_topics(index: GenIndex | str, n: int | None = 200,
                        seed: int = 42) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(topics, qrels)`` from ``n`` of ``index``'s saved pseudo-queries, each query relevant to
    its own document (label 1), for fitting when there are no real training queries.

    The sample is seeded and spread over documents (one query per document first, then more per
    document while ``n`` is not reached); ``n=None`` takes them all. Documents removed from the
    index are skipped. When the index holds pseudo-queries that its build held out of training
    (``heldout_queries.jsonl``, written by a budgeted build), only those are used: the model never
    saw them, so they do not flatter GR. Otherwise the GR model was trained on these queries, and
    an ``alpha`` fitted on them leans towards GR.
    """
    index = index if isinstance(index, GenIndex) else GenIndex(index)
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"n must be a positive integer or None, got {n!r}")
    held_out = held_out_file(index.path)
    rows = (pd.read_json(held_out, lines=True, dtype=False) if os.path.exists(held_out)
            else read_pseudo_queries(index.path))
    if len(rows):
        table = index.table()
        rows = rows.assign(docno=rows["docno"].astype(str), query=rows["query"].astype(str))
        rows = rows[rows["query"].str.strip().astype(bool) & rows["docno"].map(lambda d: d in table)]
        rows = rows.drop_duplicates(["docno", "query"])
    if len(rows) == 0:
        raise ValueError(f"{index.path!r} has no saved pseudo-queries (built with query_generator='none'?): "
                         "fit on real training topics and qrels instead")
    shuffled = rows.sample(frac=1.0, random_state=seed)
    per_doc = shuffled.groupby("docno", sort=False).cumcount()
    picked = shuffled.iloc[np.argsort(per_doc.to_numpy(), kind="stable")]
    picked = picked.head(n if n is not None else len(picked)).reset_index(drop=True)
    width = max(1, int(math.log10(len(picked))) + 1)
    qids = [f"pq{i:0{width}d}" for i in range(len(picked))]
    topics = pd.DataFrame({"qid": qids, "query": picked["query"].tolist()})
    qrels = pd.DataFrame({"qid": qids, "docno": picked["docno"].tolist(), "label": 1})
    return topics, qrels
