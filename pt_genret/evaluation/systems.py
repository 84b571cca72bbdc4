"""The systems the dynamic-corpus protocol runs: GR update methods and re-indexed baselines.

Every system goes through the same three calls: :meth:`DynamicSystem.start` with ``D0``,
:meth:`DynamicSystem.add` with each new batch (timed, wall clock), and
:meth:`DynamicSystem.retriever` after each step.

* :class:`GRUpdateSystem` copies the shared ``D0`` GR index and adds each batch with
  ``GenIndex.updater(method=...)`` (a method of ``pt_genret.updates.UPDATE_METHODS``).
* :class:`ReindexSystem` rebuilds a baseline index (BM25 over PISA, MiniLM dense over a FlexIndex)
  from every document present at that step: its cost per added document is the rebuild time over
  the number of documents the step added.

A new baseline is one function ``(docs, folder, num_results) -> retriever`` and one line in
:data:`BASELINES`.
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd
import pyterrier as pt

from pt_genret.index import GenIndex


@dataclass
class StepCost:
    """What adding one batch cost: wall-clock seconds, the seconds the system itself reported, and
    where an update method reports them, its stages' seconds (which part of an update the time goes to)."""

    seconds: float
    reported_seconds: float | None = None
    stages: dict[str, float] | None = None


class DynamicSystem:
    """One system followed through D0..Dn (subclasses implement the three calls)."""

    name: str
    docid_type: str = ""

    def start(self, docs: pd.DataFrame) -> StepCost:  # pragma: no cover - interface
        raise NotImplementedError

    def add(self, docs: pd.DataFrame) -> StepCost:  # pragma: no cover - interface
        raise NotImplementedError

    def retriever(self) -> pt.Transformer:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        """Free disk space taken by the system's indexes (when not kept)."""


@dataclass
class GRUpdateSystem(DynamicSystem):
    """A GR index started from a copy of the shared ``D0`` index and updated with ``method``."""

    name: str
    d0_index: str
    folder: str
    seed: int = 42
    options: dict = field(default_factory=dict)
    retriever_options: dict = field(default_factory=dict)
    num_results: int = 10
    verbose: bool = False
    keep: bool = False

    def __post_init__(self) -> None:
        self.path = os.path.join(self.folder, "index.gr")
        self.docid_type = str(GenIndex(self.d0_index).meta.get("scheme", ""))

    def start(self, docs: pd.DataFrame) -> StepCost:
        if os.path.exists(self.path):
            shutil.rmtree(self.path)
        os.makedirs(self.folder, exist_ok=True)
        shutil.copytree(self.d0_index, self.path)
        return StepCost(seconds=float(GenIndex(self.d0_index).meta.get("build_seconds", float("nan"))))

    def add(self, docs: pd.DataFrame) -> StepCost:
        index = GenIndex(self.path, verbose=self.verbose)
        if not hasattr(index, "updater"):
            raise ValueError(f"GR update method {self.name!r} needs GenIndex.updater (pt_genret.updates), "
                             "which this installation of pt-genret does not have")
        updater = index.updater(method=self.name, seed=self.seed, verbose=self.verbose, **self.options)
        started = time.perf_counter()
        new = updater.index(docs)
        seconds = time.perf_counter() - started
        generations = (new.meta.get("generations") or [{}]) if isinstance(new, GenIndex) else [{}]
        reported = generations[-1].get("seconds")
        stages = (generations[-1].get("details") or {}).get("stage_seconds")
        return StepCost(seconds=seconds, reported_seconds=None if reported is None else float(reported),
                        stages=dict(stages) if stages else None)

    def retriever(self) -> pt.Transformer:
        from pt_genret.retriever import GenRetriever

        options = {"num_results": self.num_results, "verbose": False, **self.retriever_options}
        return GenRetriever(GenIndex(self.path), **options)

    def close(self) -> None:
        if not self.keep:
            shutil.rmtree(self.folder, ignore_errors=True)


def _records(docs: pd.DataFrame) -> list[dict]:
    cols = [c for c in ("docno", "title", "text") if c in docs.columns]
    return docs[cols].to_dict("records")


def build_bm25(docs: pd.DataFrame, folder: str, num_results: int) -> pt.Transformer:
    """BM25 over a PISA index of ``docs`` built in ``folder``."""
    from pt_genret.baselines import bm25_pisa

    return bm25_pisa(_records(docs), folder, num_results=num_results)


def build_dense(docs: pd.DataFrame, folder: str, num_results: int) -> pt.Transformer:
    """MiniLM dense retrieval over a FlexIndex of ``docs`` built in ``folder``."""
    from pt_genret.baselines import dense_retriever

    return dense_retriever(_records(docs), folder, num_results=num_results)


# name → (builder, docid type shown in the tables)
BASELINES: dict[str, tuple[Callable[[pd.DataFrame, str, int], pt.Transformer], str]] = {
    "bm25": (build_bm25, "Term Weight"),
    "dense": (build_dense, "Dense Vector"),
}


@dataclass
class ReindexSystem(DynamicSystem):
    """A baseline rebuilt from all present documents at every step (the previous build is removed)."""

    name: str
    folder: str
    num_results: int = 10
    keep: bool = False

    def __post_init__(self) -> None:
        if self.name not in BASELINES:
            raise ValueError(f"unknown baseline {self.name!r}; choose from {sorted(BASELINES)}")
        self.build, self.docid_type = BASELINES[self.name]
        self.docs: pd.DataFrame | None = None
        self.step = -1
        self._retriever: pt.Transformer | None = None

    def _rebuild(self) -> StepCost:
        self.step += 1
        previous = os.path.join(self.folder, f"step{self.step - 1}")
        path = os.path.join(self.folder, f"step{self.step}")
        if os.path.exists(path):
            shutil.rmtree(path)
        os.makedirs(self.folder, exist_ok=True)
        started = time.perf_counter()
        self._retriever = self.build(self.docs, path, self.num_results)
        seconds = time.perf_counter() - started
        if self.step > 0 and not self.keep:
            shutil.rmtree(previous, ignore_errors=True)
        return StepCost(seconds=seconds)

    def start(self, docs: pd.DataFrame) -> StepCost:
        self.docs, self.step = docs.reset_index(drop=True), -1
        return self._rebuild()

    def add(self, docs: pd.DataFrame) -> StepCost:
        if self.docs is None:
            raise ValueError(f"{self.name}: add() before start()")
        self.docs = pd.concat([self.docs, docs], ignore_index=True)
        return self._rebuild()

    def retriever(self) -> pt.Transformer:
        if self._retriever is None:
            raise ValueError(f"{self.name}: retriever() before start()")
        return self._retriever

    def close(self) -> None:
        if not self.keep:
            shutil.rmtree(self.folder, ignore_errors=True)


def update_methods() -> tuple[str, ...]:
    """Names of the GR update methods this installation has (empty without ``pt_genret.updates``)."""
    try:
        from pt_genret.updates import UPDATE_METHODS
    except ImportError:
        return ()
    return tuple(UPDATE_METHODS)


def check_methods(methods: list[str]) -> list[str]:
    """``methods`` validated against the baselines and the GR update methods; clear error otherwise."""
    if not methods:
        raise ValueError("no methods given")
    known = set(BASELINES) | set(update_methods())
    unknown = [m for m in methods if m not in known]
    if unknown:
        gr = ", ".join(update_methods()) or "none: pt_genret.updates is not installed"
        raise ValueError(f"unknown method(s) {unknown}; baselines: {', '.join(BASELINES)}; GR update methods: {gr}")
    dup = [m for m in set(methods) if methods.count(m) > 1]
    if dup:
        raise ValueError(f"method(s) listed twice: {sorted(dup)}")
    return list(methods)
