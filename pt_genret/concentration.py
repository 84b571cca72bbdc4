"""The seed's step-wise bound ``A / p`` estimated on a real index (``pt-genret analyze --index``).

For each query, a relevance distribution over the index's docids comes from a first stage
(:func:`bm25_relevance`: BM25 scores of the top candidates, softmaxed; or :func:`qrels_relevance`:
uniform over the judged relevant documents). From it:

* ``A = E_{d1}[ sqrt(sum_d Pr(d | d1)^2) ]^2`` over the docids' first tokens ``d1``, which
  simplifies to ``(sum_{d1} ||Pr restricted to d1||_2)^2`` (:func:`concentration`);
* ``p``: the index's docids as a share of the code space its trie spans, the product over
  positions of the number of distinct tokens seen there (``k^m`` for ``m``-level codes of
  ``k`` clusters; :func:`code_space_share`), kept as ``log10 p`` because keyword docids make it
  astronomically small;
* the seed's bound ``A / p`` on the first-step KL.
"""
from __future__ import annotations

import csv
import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd


@dataclass
class QueryConcentration:
    qid: str
    candidates: int  # documents of the index with non-zero relevance
    top_share: float  # the largest Pr(d)
    concentration: float  # A
    log10_p: float
    log10_bound: float  # log10(A / p)


def concentration(first_tokens: np.ndarray, probs: np.ndarray) -> float:
    """``A`` of a relevance distribution ``probs`` over documents whose docids start with
    ``first_tokens`` (``probs`` is normalised here)."""
    probs = np.asarray(probs, dtype=np.float64)
    probs = probs / probs.sum()
    _, group = np.unique(np.asarray(first_tokens), return_inverse=True)
    norms = np.sqrt(np.bincount(group, weights=probs ** 2))
    return float(norms.sum() ** 2)


def code_space_share(tokens: list[list[int]], eos: int | None = None) -> tuple[float, list[int]]:
    """``log10 p`` of docids ``tokens`` (end token ``eos`` dropped) in the code space spanned by
    the distinct tokens at each position, and those alphabet sizes."""
    seqs = [[t for t in seq if t != eos] for seq in tokens]
    depth = max(len(s) for s in seqs)
    sizes = [len({s[i] for s in seqs if len(s) > i}) for i in range(depth)]
    return math.log10(len(seqs)) - sum(math.log10(k) for k in sizes), sizes


def qrels_relevance(qrels: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Uniform over each query's judged relevant documents (label > 0): the sharpest reading."""
    rel = qrels[qrels["label"] > 0]
    return {str(q): {str(d): 1.0 for d in g["docno"]} for q, g in rel.groupby("qid")}


def bm25_relevance(dataset, topics: pd.DataFrame, pisa_path: str, num_results: int = 100,
                   temperature: float = 1.0) -> dict[str, dict[str, float]]:
    """``softmax(score / temperature)`` of BM25 (PISA, built at ``pisa_path`` if absent) over
    each query's top ``num_results`` documents."""
    from pt_genret.baselines import bm25_pisa

    bm25 = bm25_pisa(dataset.get_corpus_iter(), pisa_path, num_results=num_results)
    res = bm25(topics[["qid", "query"]])
    out = {}
    for q, g in res.groupby("qid"):
        z = g["score"].to_numpy(np.float64) / temperature
        w = np.exp(z - z.max())
        out[str(q)] = dict(zip(g["docno"].astype(str), w / w.sum()))
    return out


def index_concentration(docnos: list[str], tokens: list[list[int]], relevance: dict[str, dict[str, float]],
                        eos: int | None = None) -> list[QueryConcentration]:
    """A, p and log10(A/p) per query of ``relevance`` (documents outside the index dropped)."""
    log10_p, _ = code_space_share(tokens, eos)
    first = {d: seq[0] for d, seq in zip(docnos, tokens)}
    rows = []
    for qid, dist in relevance.items():
        kept = [(first[d], w) for d, w in dist.items() if d in first and w > 0]
        if not kept:
            continue
        d1, w = np.array([k[0] for k in kept]), np.array([k[1] for k in kept], dtype=np.float64)
        a = concentration(d1, w)
        rows.append(QueryConcentration(qid, len(kept), float(w.max() / w.sum()), a, log10_p,
                                       math.log10(a) - log10_p))
    return rows


def summarise(rows: list[QueryConcentration]) -> dict:
    """Averages over queries: mean A, p, and the bound of the mean A (as log10)."""
    a = float(np.mean([r.concentration for r in rows]))
    log10_p = rows[0].log10_p
    return {"queries": len(rows), "mean_A": a, "median_A": float(np.median([r.concentration for r in rows])),
            "mean_candidates": float(np.mean([r.candidates for r in rows])),
            "log10_p": log10_p, "log10_bound_of_mean_A": math.log10(a) - log10_p}


def write_csv(rows: list[QueryConcentration], path: str) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(asdict(rows[0])) if rows else ["qid"])
        w.writeheader()
        w.writerows(asdict(r) for r in rows)


def plot_concentration(rows: list[QueryConcentration], path: str, title: str = "") -> None:
    """Histogram of the per-query concentration A (log scale), the mean marked."""
    from pt_genret.plotting import pyplot

    plt = pyplot()
    a = np.array([r.concentration for r in rows])
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.hist(np.log10(a), bins=20)
    ax.axvline(math.log10(a.mean()), color="k", ls="--", label=f"mean A = {a.mean():.3g}")
    ax.set(xlabel="log10 A (per query)", ylabel="queries",
           title=title or f"Concentration A; log10 p = {rows[0].log10_p:.1f}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
