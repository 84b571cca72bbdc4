"""Tables (CSV and Markdown) and curves (PNG) of a dynamic-corpus run, in the seed talk's layout.

Two tables per measure, rows = methods, columns ``D0 .. Dn``:

* *initial documents*: ``S_0(Di)``, the score of the queries about D0 documents after step ``i``,
  and ``F_n = mean_{i=1..n} (S_0(D0) - S_0(Di))`` (lower is better);
* *new documents*: ``S_0(D0)`` in the D0 column, then ``S_i(Di)``, the score of the queries about the
  documents added at step ``i``, right after that step, and ``GA_n = mean_{i=1..n} S_i(Di)``.

A summary puts, per method, GA_n and F_n of each measure next to the seconds per added document.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
import warnings

import numpy as np
import pandas as pd

from pt_genret.evaluation.intervals import forgetting_interval, generalization_interval
from pt_genret.evaluation.protocol import DynamicResult

DISPLAY = {"bm25": "BM25", "dense": "Dense (MiniLM)", "dome": "DOME", "incremental": "Incremental",
           "finetune": "New-doc FT", "memit": "MEMIT", "rome": "ROME"}


def display_name(method: str) -> str:
    return DISPLAY.get(method, method)


def label(measure: str) -> str:
    """``Success@k`` is shown as ``Hit@k`` (the seed's tables; the DOME tables call Hit@1 "R@1")."""
    return "Hit@" + measure.split("@", 1)[1] if measure.startswith("Success@") else measure


def slug(measure: str) -> str:
    return "".join(c for c in label(measure).lower() if c.isalnum())


def forgetting(initial: list[float]) -> float:
    """``F_n`` from ``[S_0(D0), S_0(D1), ..., S_0(Dn)]``: mean drop from the D0 score (NaN steps skipped)."""
    if len(initial) < 2:
        raise ValueError("F_n needs the D0 score and at least one later step")
    drops = [initial[0] - v for v in initial[1:] if not math.isnan(v)]
    return float(np.mean(drops)) if drops else float("nan")


def generalization(new: list[float]) -> float:
    """``GA_n`` from ``[S_1(D1), ..., S_n(Dn)]``: mean score on newly added documents (NaN steps skipped)."""
    values = [v for v in new if not math.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def _step_columns(result: DynamicResult) -> list[str]:
    return [f"D{i}" for i in range(result.steps + 1)]


def initial_table(result: DynamicResult, measure: str = "Success@10") -> pd.DataFrame:
    """Method, DocID type, ``S_0(D0..Dn)`` and ``F_n``."""
    rows = []
    for m in result.methods:
        values = [result.score(m, measure, 0, i) for i in range(result.steps + 1)]
        rows.append({"Method": display_name(m), "DocID Type": result.docid_types.get(m, ""),
                     **dict(zip(_step_columns(result), values)), "F_n": forgetting(values)})
    return pd.DataFrame(rows)


def new_table(result: DynamicResult, measure: str = "Success@10") -> pd.DataFrame:
    """Method, DocID type, ``S_0(D0)``, ``S_i(Di)`` for i = 1..n, and ``GA_n``."""
    rows = []
    for m in result.methods:
        values = [result.score(m, measure, 0, 0)] + [result.score(m, measure, i, i) for i in range(1, result.steps + 1)]
        rows.append({"Method": display_name(m), "DocID Type": result.docid_types.get(m, ""),
                     **dict(zip(_step_columns(result), values)), "GA_n": generalization(values[1:])})
    return pd.DataFrame(rows)


def summary_table(result: DynamicResult) -> pd.DataFrame:
    """Per method: each measure on new documents (GA_n) and its forgetting (F_n), the 95% half-widths
    of both over queries (:mod:`.intervals`), seconds per added doc."""
    rows = []
    t = result.timings
    for m in result.methods:
        row = {"Method": display_name(m), "DocID Type": result.docid_types.get(m, "")}
        for measure in result.measures:
            row[f"{label(measure)} new"] = new_table(result, measure).set_index("Method").loc[display_name(m), "GA_n"]
        for measure in result.measures:
            row[f"F_n {label(measure)}"] = initial_table(result, measure).set_index("Method").loc[display_name(m), "F_n"]
        for measure in result.measures:  # 95% half-widths over queries (NaN for records without them)
            row[f"{label(measure)} new ±"] = generalization_interval(result, m, measure).half
            row[f"F_n {label(measure)} ±"] = forgetting_interval(result, m, measure).half
        added = t[(t["method"] == m) & (t["step"] > 0)]
        row["s/doc added"] = float(added["seconds"].sum() / added["docs"].sum())
        d0 = t[(t["method"] == m) & (t["step"] == 0)]
        row["s/doc D0"] = float(d0["seconds"].sum() / d0["docs"].sum())
        rows.append(row)
    return pd.DataFrame(rows)


def to_markdown(table: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub-style Markdown table (floats rounded to ``digits``)."""
    def cell(v) -> str:
        if isinstance(v, (float, np.floating)):
            return "–" if math.isnan(v) else f"{v:.{digits}f}"
        return str(v)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def plot_curves(result: DynamicResult, measure: str, path: str) -> None:
    """Two panels: initial-document score and new-document score against the step, one line per method
    (needs matplotlib: the ``plot`` extra)."""
    from pt_genret.plotting import pyplot

    plt = pyplot()

    steps = list(range(result.steps + 1))
    init, new = initial_table(result, measure), new_table(result, measure)
    cols = _step_columns(result)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for (_, a), (_, b) in zip(init.iterrows(), new.iterrows()):
        left.plot(steps, [a[c] for c in cols], marker="o", label=a["Method"])
        right.plot(steps, [b[c] for c in cols], marker="o", label=b["Method"])
    left.set_title(f"initial documents: {label(measure)} of D0 queries after step i")
    right.set_title(f"new documents: {label(measure)} of Di queries after step i")
    values = pd.concat([init[cols], new[cols]]).to_numpy(dtype=float)
    if np.nanmin(values, initial=0.0) >= 0 and np.nanmax(values, initial=0.0) <= 1:
        left.set_ylim(-0.03, 1.03)  # a [0, 1] measure: keep the scale comparable across runs
    for ax in (left, right):
        ax.set_xticks(steps, [f"D{i}" for i in steps])
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    left.set_ylabel(label(measure))
    right.legend(loc="best", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _write(path: str, write) -> None:
    """Write via a temporary file in the same folder, renamed into place when complete."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=folder)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _text(path: str, text: str) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf8") as f:
            f.write(text)

    _write(path, write)


def write_report(result: DynamicResult, out_dir: str) -> dict[str, str]:
    """Write every table (CSV + Markdown), the curves (PNG, with matplotlib), raw scores and timings to ``out_dir``.

    Returns file kind → path. ``report.md`` gathers all tables in one page.
    """
    from pt_genret.plotting import MISSING, has_matplotlib

    os.makedirs(out_dir, exist_ok=True)
    paths: dict[str, str] = {}
    sections = [_preamble(result)]
    plots = has_matplotlib()
    if not plots:
        warnings.warn(MISSING, stacklevel=2)

    def table(name: str, title: str, frame: pd.DataFrame) -> None:
        p = os.path.join(out_dir, f"{name}.csv")
        _write(p, lambda t: frame.to_csv(t, index=False))
        paths[f"{name}.csv"] = p
        p = os.path.join(out_dir, f"{name}.md")
        _text(p, f"## {title}\n\n{to_markdown(frame)}")
        paths[f"{name}.md"] = p
        sections.append(f"## {title}\n\n{to_markdown(frame)}")

    table("summary", "Summary: new documents (GA_n), forgetting (F_n), seconds per document", summary_table(result))
    for measure in result.measures:
        s = slug(measure)
        table(f"initial_{s}", f"Initial documents ({label(measure)})", initial_table(result, measure))
        table(f"new_{s}", f"Newly added documents ({label(measure)})", new_table(result, measure))
        if plots:
            png = os.path.join(out_dir, f"curves_{s}.png")
            _write(png, lambda t, m=measure: plot_curves(result, m, t))
            paths[f"curves_{s}.png"] = png
    for name, frame in (("scores", result.scores), ("query_scores", result.query_scores),
                        ("timings", result.timings)):
        p = os.path.join(out_dir, f"{name}.csv")
        _write(p, lambda t, f=frame: f.to_csv(t, index=False))
        paths[f"{name}.csv"] = p
    split = {"batches": result.batches, "excluded_mixed_queries": result.excluded,
             "queries_per_group": result.groups[result.groups["label"] > 0].groupby("group")["qid"].nunique()
             .reindex(range(result.steps + 1), fill_value=0).tolist(),
             "settings": result.settings}
    p = os.path.join(out_dir, "split.json")
    _text(p, json.dumps(split, indent=1, default=str))
    paths["split.json"] = p
    p = os.path.join(out_dir, "report.md")
    _text(p, "\n".join(sections))
    paths["report.md"] = p
    return paths


def _preamble(result: DynamicResult) -> str:
    s = result.settings
    per_group = result.groups[result.groups["label"] > 0].groupby("group")["qid"].nunique()
    queries = ", ".join(f"D{g}: {int(per_group.get(g, 0))}" for g in range(result.steps + 1))
    return (f"# Dynamic corpus: {s.get('num_docs')} documents in D0..D{result.steps} "
            f"(sizes {s.get('batch_sizes')}, seed {s.get('seed')})\n\n"
            f"Queries scored per group: {queries}; mixed queries ({s.get('mixed')}): {len(result.excluded)} excluded.\n"
            f"F_n = mean over i=1..n of (S_0(D0) - S_0(Di)); GA_n = mean over i=1..n of S_i(Di); "
            f"Hit@k = ir_measures Success@k; a column ending in ± is the 95% half-width of the figure before "
            f"it, over queries (pt_genret.evaluation.intervals).\n")
