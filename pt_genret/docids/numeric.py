"""Numeric docids without semantics: atomic (one token per document) and naive (digits).

These are DSI's baselines: the identifier says nothing about the content, so a model must
memorise it, and new documents get identifiers the model has never seen.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pt_genret.docids.base import DocIdScheme


@dataclass(kw_only=True, eq=False)
class _ArrivalNumberScheme(DocIdScheme):
    """Documents are numbered in arrival order; subclasses say how a number is written."""

    kind = "codes"

    next_id: int = field(default=0, init=False, repr=False)

    def write(self, number: int) -> str:
        raise NotImplementedError

    def fit(self, docs: pd.DataFrame) -> "_ArrivalNumberScheme":
        self.fitted = True
        return self

    def propose(self, docs: pd.DataFrame) -> list[str]:
        ids = [self.write(self.next_id + i) for i in range(len(docs))]
        self.next_id += len(docs)
        return ids

    def disambiguate(self, docid: str, n: int) -> str:
        # a fresh number is always free: arrival numbers never collide with earlier ones
        self.next_id += 1
        return self.write(self.next_id - 1)

    def state(self) -> dict[str, np.ndarray]:
        return {"next_id": np.array([self.next_id], dtype=np.int64)}

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.next_id = int(arrays["next_id"][0])
        self.fitted = True


@dataclass(kw_only=True, eq=False)
class AtomicScheme(_ArrivalNumberScheme):
    """Each document is one new code token, numbered in arrival order."""

    name = "atomic"

    def write(self, number: int) -> str:
        return str(number)

    def num_codes(self) -> int:
        return self.next_id


@dataclass(kw_only=True, eq=False)
class NaiveScheme(_ArrivalNumberScheme):
    """The document's arrival number written in decimal digits, one code token per digit."""

    name = "naive"

    def write(self, number: int) -> str:
        return "-".join(str(number))

    def num_codes(self) -> int:
        return 10
