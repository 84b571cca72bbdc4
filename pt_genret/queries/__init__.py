"""Pseudo-query generators: ``pt.Transformer``s that add a ``querygen`` list column to documents,
and :class:`TeacherFilter`, which keeps the queries a teacher retriever answers with their document."""
from __future__ import annotations

import pyterrier as pt

from pt_genret.queries.doc2query import Doc2QueryGenerator
from pt_genret.queries.extractive import KINDS, ExtractiveQueryGenerator
from pt_genret.queries.filter import TeacherFilter, sanitise_query
from pt_genret.queries.instructed import InstructedQueryGenerator


def get_query_generator(spec: str | pt.Transformer | None, num_queries: int = 5,
                        seed: int = 42) -> pt.Transformer | None:
    """``"extractive"`` (offline default), ``"instructed"`` (ZeroGR's, offline: query kinds chosen by
    each document's instruction), ``"none"``, a doc2query model name/path, or a transformer
    (e.g. ``ExtractiveQueryGenerator(50) >> TeacherFilter(bm25)``), returned as is."""
    if spec is None or spec == "none":
        return None
    if isinstance(spec, pt.Transformer):
        return spec
    if spec == "extractive":
        return ExtractiveQueryGenerator(num_queries=num_queries, seed=seed)
    if spec == "instructed":
        return InstructedQueryGenerator(num_queries=max(num_queries, 1), seed=seed)
    return Doc2QueryGenerator(spec, num_queries=num_queries, seed=seed)


__all__ = ["Doc2QueryGenerator", "ExtractiveQueryGenerator", "InstructedQueryGenerator", "KINDS", "TeacherFilter",
           "get_query_generator", "sanitise_query"]
