"""Numeric docids without semantics: atomic (one token per document) and naive (digits).

These are DSI's baselines: the identifier says nothing about the content, so a model must
memorise it, and new documents get identifiers the model has never seen.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pt_genret.docids.base import DocIdScheme


class AtomicScheme(DocIdScheme):
    """Each document is one new code token, numbered in arrival order."""

    name = "atomic"
    kind = "codes"

    def __init__(self, seed: int = 42) -> None:
        super().__init__(seed)
        self.next_id = 0

    def fit(self, docs: pd.DataFrame) -> "AtomicScheme":
        self.fitted = True
        return self

    def propose(self, docs: pd.DataFrame) -> list[str]:
        ids = [str(self.next_id + i) for i in range(len(docs))]
        self.next_id += len(docs)
        return ids

    def disambiguate(self, docid: str, n: int) -> str:
        # a fresh number is always free: atomic ids never collide with earlier ones
        self.next_id += 1
        return str(self.next_id - 1)

    def num_codes(self) -> int:
        return self.next_id

    def state(self) -> dict[str, np.ndarray]:
        return {"next_id": np.array([self.next_id], dtype=np.int64)}

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.next_id = int(arrays["next_id"][0])
        self.fitted = True


class NaiveScheme(DocIdScheme):
    """The document's arrival number written in decimal digits, one code token per digit."""

    name = "naive"
    kind = "codes"

    def __init__(self, seed: int = 42) -> None:
        super().__init__(seed)
        self.next_id = 0

    def fit(self, docs: pd.DataFrame) -> "NaiveScheme":
        self.fitted = True
        return self

    def propose(self, docs: pd.DataFrame) -> list[str]:
        ids = ["-".join(str(self.next_id + i)) for i in range(len(docs))]
        self.next_id += len(docs)
        return ids

    def disambiguate(self, docid: str, n: int) -> str:
        self.next_id += 1
        return "-".join(str(self.next_id - 1))

    def num_codes(self) -> int:
        return 10

    def state(self) -> dict[str, np.ndarray]:
        return {"next_id": np.array([self.next_id], dtype=np.int64)}

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.next_id = int(arrays["next_id"][0])
        self.fitted = True
