"""The DocID scheme interface and the docid table.

A scheme turns documents into identifiers. ``fit`` learns whatever the scheme needs from the
corpus (clusters, vocabulary statistics); ``assign`` gives identifiers to documents, new ones
included, without refitting. Identifiers are strings: a *code* scheme writes them as
``"-"``-joined integers that map to dedicated code tokens, a *text* scheme writes words that
the backbone's own tokenizer spells.
"""
from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterable, Literal

import numpy as np
import pandas as pd

from pt_genret.options import check_options, option, recorded


@dataclass(kw_only=True, eq=False)
class DocIdScheme(ABC):
    """Base class: one subclass per docid family, registered in :data:`pt_genret.registry.SCHEMES`.

    A scheme is a dataclass: its fields are its options (keyword arguments, recorded in
    ``scheme.json`` by :meth:`config`), checked in one place
    (:func:`pt_genret.options.check_options`); fitted state is in ``init=False`` fields.
    """

    name: ClassVar[str]
    kind: ClassVar[Literal["codes", "text", "ngrams"]]
    #: what decoding over its identifiers is constrained by (a name in :data:`pt_genret.registry.CONSTRAINTS`)
    constraint: ClassVar[str] = "trie"
    #: the learning rate an index with this scheme trains at when none is given (None: the
    #: indexer's default); a scheme whose model starts trained (``dense_init``) fine-tunes gently
    learning_rate: ClassVar[float | None] = None
    #: option values for configs saved before the option existed (when its default differs)
    legacy_defaults: ClassVar[dict] = {}

    seed: int = option(42)
    fitted: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        check_options(self, f"docid scheme {self.name!r}")

    @abstractmethod
    def fit(self, docs: pd.DataFrame) -> "DocIdScheme":
        """Learn from a document frame (``docno, text, title``)."""

    @abstractmethod
    def propose(self, docs: pd.DataFrame) -> list[str]:
        """Preferred identifier of each document; may collide with others."""

    def num_codes(self) -> int:
        """Size of the code vocabulary a *codes* scheme needs (0 for text schemes)."""
        return 0

    def prepare_model(self, backbone, table: "DocIdTable", docs: pd.DataFrame, fresh: bool,
                      verbose: bool = False) -> None:
        """Initialise the model for these docids before training (``fresh``: a new backbone, not
        one an index was built with). Most schemes leave the model as it is; ``dense_init`` sets
        each docid's output row from its document's encoding."""

    def assign(self, docs: pd.DataFrame, taken: Iterable[str] = ()) -> list[str]:
        """Unique identifiers for ``docs``, avoiding the identifiers in ``taken``.

        Collisions are resolved deterministically, in document order, by :meth:`disambiguate`.
        """
        if not self.fitted:
            raise RuntimeError(f"docid scheme {self.name!r} must be fitted before assign()")
        used = set(taken)
        out = []
        for docid in self.propose(docs):
            unique = docid
            n = 1
            while unique in used:
                unique = self.disambiguate(docid, n)
                n += 1
            used.add(unique)
            out.append(unique)
        return out

    def disambiguate(self, docid: str, n: int) -> str:
        """The ``n``-th alternative (n ≥ 1) to a colliding identifier."""
        return f"{docid} {n}" if self.kind == "text" else f"{docid}-{n - 1}"

    # persistence -------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """The options (JSON-serialisable constructor arguments), as ``scheme.json`` records them."""
        return recorded(self)

    def state(self) -> dict[str, np.ndarray]:
        """Fitted arrays to save (numeric numpy arrays only: loaded without pickle)."""
        return {}

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`state` returned."""

    def save(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "scheme.json"), "w") as f:
            json.dump({"name": self.name, "config": self.config()}, f, indent=1)
        np.savez(os.path.join(path, "scheme_state.npz"), **self.state())


class DocIdTable:
    """Which document has which identifier, and its token spelling.

    Rows are in insertion order; ``tokens[i]`` is the docid of ``docnos[i]`` as backbone token
    ids, ending with the end-of-sequence token.
    """

    def __init__(self, docnos: list[str], docids: list[str], tokens: list[list[int]]) -> None:
        if not (len(docnos) == len(docids) == len(tokens)):
            raise ValueError("docnos, docids and tokens must have the same length")
        self.docnos = list(docnos)
        self.docids = list(docids)
        self.tokens = [list(map(int, t)) for t in tokens]
        self._pos = {d: i for i, d in enumerate(self.docnos)}
        if len(self._pos) != len(self.docnos):
            dup = pd.Series(self.docnos)[pd.Series(self.docnos).duplicated()].iloc[0]
            raise ValueError(f"duplicate docno in docid table: {dup!r}")
        if len(set(self.docids)) != len(self.docids):
            dup = pd.Series(self.docids)[pd.Series(self.docids).duplicated()].iloc[0]
            raise ValueError(f"duplicate docid in docid table: {dup!r}")

    def __len__(self) -> int:
        return len(self.docnos)

    def __contains__(self, docno: str) -> bool:
        return docno in self._pos

    def index_of(self, docno: str) -> int:
        try:
            return self._pos[docno]
        except KeyError:
            raise KeyError(f"unknown docno {docno!r}: not in this index") from None

    def extend(self, docnos: list[str], docids: list[str], tokens: list[list[int]]) -> "DocIdTable":
        return DocIdTable(self.docnos + list(docnos), self.docids + list(docids), self.tokens + list(tokens))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"docno": self.docnos, "docid": self.docids})

    def save(self, path: str) -> None:
        """One JSON line per document: docno, docid, token ids."""
        with open(path, "w", encoding="utf8") as f:
            for d, i, t in zip(self.docnos, self.docids, self.tokens):
                f.write(json.dumps({"docno": d, "docid": i, "tokens": t}) + "\n")

    @classmethod
    def load(cls, path: str) -> "DocIdTable":
        docnos, docids, tokens = [], [], []
        with open(path, encoding="utf8") as f:
            for n, line in enumerate(f, 1):
                try:
                    rec = json.loads(line)
                    docnos.append(rec["docno"]); docids.append(rec["docid"]); tokens.append(rec["tokens"])
                except (json.JSONDecodeError, KeyError) as e:
                    raise ValueError(f"corrupt docid table {path!r} at line {n}: {e}") from None
        return cls(docnos, docids, tokens)
