"""Keeping the pseudo-queries a teacher retriever can answer (as Doc2Query-- does).

Many pseudo-queries are poor: too generic (``"results were found"``) or about something the
document only mentions. A teacher -- any PyTerrier retrieval pipeline over the same corpus,
e.g. BM25 -- runs every pseudo-query, and a query is kept only when its own document is in the
teacher's top ``rank_cutoff``.
"""
from __future__ import annotations

import math
import re
from typing import Callable

import numpy as np
import pandas as pd
import pyterrier as pt
import pyterrier_alpha as pta

_NOT_WORD = re.compile(r"[^\w\s]+")


def sanitise_query(query: str) -> str:
    """``query`` with punctuation replaced by spaces and whitespace collapsed: what every query
    parser accepts (Terrier's parser rejects ``?``, ``:``, quotes, brackets, ...; PISA and Lucene's
    bag-of-words builder drop punctuation anyway, so their results do not change)."""
    return " ".join(_NOT_WORD.sub(" ", query).split())


class TeacherFilter(pt.Transformer):
    """Filters the ``querygen`` column of a document frame with a teacher retriever.

    Every pseudo-query is run through ``teacher`` (any PyTerrier retrieval pipeline: a query frame
    in, a result frame with ``qid, docno`` and ``rank`` or ``score`` out, ranks from 0) over the
    same corpus. A query is kept when its own document is at rank ``< rank_cutoff``. When fewer
    than ``keep_at_least`` of a document's queries pass, its best ``keep_at_least`` are kept:
    those whose document the teacher ranks highest, earlier queries first among equals (and
    among queries whose document is not retrieved at all), so no document loses all its queries.

    Queries are sent as :func:`sanitise_query` makes them (``sanitise=False`` sends them as they
    are, a callable sanitises them its way); the stored queries stay as generated. Queries that
    sanitise to the same text are run once, in batches of ``batch_size`` queries (progress with
    ``verbose``); queries that sanitise to nothing are not run (their document is unranked).

    The output is the input frame with ``querygen`` (and a ``querygen_kind`` column aligned with
    it, if present) filtered, in the generated order; nothing is added. It composes with a
    generator: ``ExtractiveQueryGenerator(50) >> TeacherFilter(bm25, 10)`` is a query generator.
    """

    def __init__(self, teacher: pt.Transformer, rank_cutoff: int = 10, keep_at_least: int = 1,
                 batch_size: int = 1000, sanitise: bool | Callable[[str], str] = True, verbose: bool = True) -> None:
        if rank_cutoff < 1:
            raise ValueError(f"rank_cutoff must be at least 1, got {rank_cutoff}")
        if keep_at_least < 0:
            raise ValueError(f"keep_at_least must be at least 0, got {keep_at_least}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.teacher = teacher
        self.rank_cutoff = rank_cutoff
        self.keep_at_least = keep_at_least
        self.batch_size = batch_size
        self.sanitise = sanitise
        self.verbose = verbose

    def __repr__(self) -> str:
        return f"TeacherFilter({self.teacher!r}, rank_cutoff={self.rank_cutoff}, keep_at_least={self.keep_at_least})"

    def _clean(self, query: str) -> str:
        if callable(self.sanitise):
            return self.sanitise(query)
        return sanitise_query(query) if self.sanitise else " ".join(str(query).split())

    def ranks(self, docnos: list[str], queries: list[list[str]]) -> list[np.ndarray]:
        """For each document, the teacher's rank of that document for each of its queries
        (``inf`` where it is not retrieved or the query is empty)."""
        qids: dict[str, int] = {}  # sanitised text -> number of its made-up qid
        wanted_q, wanted_docno, wanted_pos = [], [], []
        offsets, total = [0], 0  # document i's queries are flat[offsets[i]:offsets[i + 1]]
        for docno, qs in zip(docnos, queries):
            for q in qs:
                text = self._clean(str(q))
                if text:
                    wanted_q.append(qids.setdefault(text, len(qids)))
                    wanted_docno.append(docno)
                    wanted_pos.append(total)
                total += 1
            offsets.append(total)
        flat = np.full(total, math.inf)
        wanted = pd.DataFrame({"q": wanted_q, "docno": wanted_docno, "pos": wanted_pos}).sort_values("q", kind="stable")
        bounds = wanted["q"].to_numpy()
        texts = list(qids)
        starts = range(0, len(texts), self.batch_size)
        for start in pt.tqdm(starts, desc="teacher filter", unit="batch", disable=not self.verbose):
            stop = min(start + self.batch_size, len(texts))
            topics = pd.DataFrame({"qid": [f"pq{n}" for n in range(start, stop)], "query": texts[start:stop]})
            res = self.teacher(topics)
            if len(res) == 0:
                continue
            if "rank" in res.columns:
                rank = res["rank"].to_numpy(dtype=float)
            else:  # ranks from scores, from 0 (ties: the teacher's order)
                rank = res.groupby("qid", sort=False)["score"].rank(ascending=False, method="first").to_numpy() - 1
            q = res["qid"].astype(str).str.slice(2)
            res = pd.DataFrame({"q": pd.to_numeric(q, errors="coerce"), "docno": res["docno"].astype(str).to_numpy(),
                                "rank": rank}).dropna(subset=["q"])
            res["q"] = res["q"].astype(np.int64)
            lo, hi = np.searchsorted(bounds, [start, stop])
            hit = wanted.iloc[lo:hi].merge(res, on=["q", "docno"], how="inner")
            if len(hit):
                # a pipeline may return a document twice for one query: its best rank counts
                best = hit.groupby("pos")["rank"].min()
                flat[best.index.to_numpy()] = best.to_numpy(dtype=float)
        return [flat[offsets[i]:offsets[i + 1]] for i in range(len(docnos))]

    def keep(self, ranks: np.ndarray) -> np.ndarray:
        """Positions of the queries to keep, in order, given their documents' ranks."""
        passing = np.flatnonzero(ranks < self.rank_cutoff)
        if len(passing) >= self.keep_at_least:
            return passing
        best = np.lexsort((np.arange(len(ranks)), ranks))[: self.keep_at_least]  # by rank, then position
        return np.sort(best)

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        pta.validate.document_frame(inp, ["docno", "querygen"])
        out = inp.copy()
        queries = [list(qs) if isinstance(qs, (list, tuple, np.ndarray)) else [] for qs in inp["querygen"]]
        ranks = self.ranks([str(d) for d in inp["docno"]], queries)
        kept = [self.keep(r) for r in ranks]
        out["querygen"] = [[qs[i] for i in k] for qs, k in zip(queries, kept)]
        if "querygen_kind" in out.columns:
            aligned = (lambda ks, qs: isinstance(ks, (list, tuple, np.ndarray)) and len(ks) == len(qs))  # noqa: E731
            out["querygen_kind"] = [[ks[i] for i in k] if aligned(ks, qs) else ks
                                    for ks, qs, k in zip(inp["querygen_kind"], queries, kept)]
        return out
