"""95% confidence intervals of the dynamic-corpus summary figures, over queries.

``F_n`` and ``GA_n`` are means over a few dozen queries in a CPU-sized run, so a difference of
one query moves them by 0.01-0.02: a target such as ``F_n <= 0.01`` cannot be decided by the
point estimate alone. Each figure is rewritten as a mean of per-query terms and given the
normal-approximation interval ``estimate ± 1.96·SE``:

* ``F_n``: the queries about D0 documents are the same at every step, so
  ``F_n = mean_q d_q`` with ``d_q = x_q(D0) - mean_{i>=1} x_q(Di)`` (paired across steps);
* ``GA_n = mean_i mean_{q in G_i} x_q(Di)``: the groups ``G_i`` are disjoint (with the
  protocol's default ``mixed="exclude"``; ``mixed="split"`` puts a query in several groups and
  the interval then ignores that overlap), so ``SE² = Σ_i s_i² / |G_i| / n²`` (``s_i`` the
  standard deviation within group ``i``, ``n`` the number of groups with queries);
* the difference of two methods' ``GA_n`` uses the same formula on per-query differences
  (paired: both methods answer the same queries).

A group with a single query has no standard deviation, and the interval is then unknown (NaN).
Hit@k is 0 or 1 per query: where every query agrees (all found, or no drop anywhere) the
interval has zero width, which understates the uncertainty of a few dozen queries.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pt_genret.evaluation.protocol import DynamicResult

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Interval:
    """A point estimate with its 95% interval (``half`` is the half-width; NaN when unknown)."""

    estimate: float
    half: float

    @property
    def low(self) -> float:
        return self.estimate - self.half

    @property
    def high(self) -> float:
        return self.estimate + self.half

    def __str__(self) -> str:
        return f"{self.estimate:.3f} ± {self.half:.3f}" if not math.isnan(self.half) else f"{self.estimate:.3f}"


def _values(result: DynamicResult, method: str, measure: str) -> pd.DataFrame:
    q = result.query_scores
    if q.empty:
        return q
    return q[(q["method"] == method) & (q["measure"] == measure)]


def _sem(values: np.ndarray) -> float:
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else float("nan")


def forgetting_interval(result: DynamicResult, method: str, measure: str = "Success@10") -> Interval:
    """``F_n`` of ``method`` and its interval from the paired per-query drops."""
    v = _values(result, method, measure)
    if v.empty:
        return Interval(float("nan"), float("nan"))
    initial = v[v["group"] == 0].pivot_table(index="qid", columns="step", values="value")
    later = [s for s in initial.columns if s > 0]
    if 0 not in initial.columns or not later:
        return Interval(float("nan"), float("nan"))
    drops = (initial[0] - initial[later].mean(axis=1)).dropna().to_numpy()
    return Interval(float(drops.mean()), Z95 * _sem(drops))


def _stratified(per_group: list[np.ndarray]) -> Interval:
    groups = [g for g in per_group if len(g)]
    if not groups:
        return Interval(float("nan"), float("nan"))
    estimate = float(np.mean([g.mean() for g in groups]))
    variance = sum(_sem(g) ** 2 for g in groups) / len(groups) ** 2
    return Interval(estimate, Z95 * math.sqrt(variance))


def _new_groups(result: DynamicResult, method: str, measure: str) -> dict[int, pd.Series]:
    v = _values(result, method, measure)
    if v.empty:
        return {}
    return {i: v[(v["group"] == i) & (v["step"] == i)].set_index("qid")["value"] for i in range(1, result.steps + 1)}


def generalization_interval(result: DynamicResult, method: str, measure: str = "Success@10") -> Interval:
    """``GA_n`` of ``method`` and its interval (groups as strata)."""
    return _stratified([g.to_numpy() for g in _new_groups(result, method, measure).values()])


def generalization_difference(result: DynamicResult, method: str, reference: str,
                              measure: str = "Success@10") -> Interval:
    """``GA_n(method) - GA_n(reference)`` and its interval from paired per-query differences."""
    a, b = _new_groups(result, method, measure), _new_groups(result, reference, measure)
    if not a or not b:
        return Interval(float("nan"), float("nan"))
    return _stratified([(a[i] - b[i]).dropna().to_numpy() for i in a if i in b])


def verdict(interval: Interval, target: float, at_most: bool) -> str:
    """``met``/``NOT met`` where the whole interval is on one side of ``target``; otherwise
    ``undecided`` with the side the point estimate falls on."""
    if math.isnan(interval.estimate):
        return "unknown (no per-query scores: results resumed from an older record?)"
    ok = interval.estimate <= target if at_most else interval.estimate >= target
    if math.isnan(interval.half):
        return f"undecided (no interval; point estimate {'met' if ok else 'not met'})"
    if interval.high <= target if at_most else interval.low >= target:
        return "met"
    if interval.low > target if at_most else interval.high < target:
        return "NOT met"
    return f"undecided at this query count (point estimate {'met' if ok else 'not met'})"
