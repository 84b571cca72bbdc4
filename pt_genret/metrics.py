"""Metric names: ir_measures objects from ``"nDCG@10,R@100"``, checked before any work."""
from __future__ import annotations

import ir_measures


def parse_metric(name: str | ir_measures.Measure) -> ir_measures.Measure:
    """One measure from an ir_measures name (``nDCG@10``), a trec_eval name (``ndcg_cut_10``)
    or the measure itself; a one-line ``ValueError`` otherwise."""
    if isinstance(name, ir_measures.Measure):
        return name
    try:
        return ir_measures.parse_measure(str(name))
    except Exception:  # ir_measures raises several types for bad names
        pass
    try:
        found = ir_measures.parse_trec_measure(str(name))
    except Exception:
        found = []
    if len(found) != 1:
        raise ValueError(f"unknown metric {name!r}: use ir_measures names such as nDCG@10, R@100, RR@10, MAP, "
                         "Success@10 (or trec_eval names such as ndcg_cut_10)")
    return found[0]


def parse_metrics(spec: str | list | tuple) -> list[ir_measures.Measure]:
    """Measures from ``"nDCG@10,R@100"`` or a list of names or measures."""
    names = [m.strip() for m in spec.split(",")] if isinstance(spec, str) else list(spec)
    measures = [parse_metric(m) for m in names if not isinstance(m, str) or m]
    if not measures:
        raise ValueError(f"no metrics in {spec!r}: give e.g. nDCG@10,R@100")
    return measures
