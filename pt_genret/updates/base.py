"""The update-method interface: what a method receives and what it must do.

An update method changes the model of a generative index so that it also writes the docids
of new documents. It gets an :class:`UpdateContext` (a private copy of the backbone, the new
documents' training examples, the old documents' pseudo-queries for replay or preservation)
and edits ``ctx.backbone`` in place. Everything else (docid assignment, the trie, pseudo-query
generation, writing the new generation) is done once for all methods by
:class:`~pt_genret.updates.updater.GenUpdater`.
"""
from __future__ import annotations

import os
import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import pandas as pd

from pt_genret.backbone import Backbone
from pt_genret.options import check_options, option, recorded
from pt_genret.training import Example, TrainConfig


@dataclass
class UpdateContext:
    """Everything a method may read while updating the model.

    Attributes:
        path: folder of the current (old) generation; read-only.
        meta: its ``pt_meta.json``.
        backbone: a private copy of the model, loaded for this update: edit it in place.
        new_docs: the new documents (``docno, text, title[, querygen]``).
        new_tokens: docno → docid token ids (ending with end-of-sequence) of each new document.
        new_examples: indexing and pseudo-query examples of the new documents.
        old_queries: ``docno, query`` pseudo-queries of the live old documents.
        old_texts: ``docno, text`` sources of their indexing examples (empty for indexes written
            before these were saved).
        old_tokens: docno → docid token ids of the live old documents.
        train_config: the training settings the index was built with.
        seed, verbose: as given to the updater.
    """

    path: str
    meta: dict
    backbone: Backbone
    new_docs: pd.DataFrame
    new_tokens: dict[str, list[int]]
    new_examples: list[Example]
    old_queries: pd.DataFrame
    old_tokens: dict[str, list[int]]
    train_config: TrainConfig
    old_texts: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["docno", "text"]))
    seed: int = 42
    verbose: bool = True
    state: dict[str, Any] = field(default_factory=dict)
    #: ``target(query, docno)`` of an old document's example where it is not its docid (n-gram
    #: indexes: the span of the document that best matches the query); ``None``: ``old_tokens``
    target_of: Callable[[str, str], list[int]] | None = None

    def old_examples(self, limit: int | None = None, seed: int | None = None, texts: bool = False) -> list[Example]:
        """Pseudo-query examples of old documents (a seeded sample of at most ``limit``); with
        ``texts``, their indexing examples are in the pool too."""
        rows = [(q, d, "query") for q, d in zip(self.old_queries["query"], self.old_queries["docno"])]
        if texts:
            rows += [(t, d, "index") for t, d in zip(self.old_texts["text"], self.old_texts["docno"])]
        if limit is not None and limit < len(rows):
            rows = random.Random(self.seed if seed is None else seed).sample(rows, limit)
        target = self.target_of or (lambda q, d: self.old_tokens[d])
        return [Example(q, target(q, d), kind) for q, d, kind in rows]

    def new_query_examples(self) -> list[Example]:
        """The new documents' pseudo-query examples, or their indexing examples where there are none."""
        queries = [e for e in self.new_examples if e.kind == "query"]
        have = {tuple(e.target) for e in queries}
        return queries + [e for e in self.new_examples if e.kind == "index" and tuple(e.target) not in have]


@dataclass(kw_only=True, eq=False, repr=False)
class UpdateMethod(ABC):
    """Base class: one subclass per method, registered in :data:`pt_genret.updates.UPDATE_METHODS`.

    A method is a dataclass: its fields are its options (keyword arguments, recorded in the
    generation record by :meth:`options`), checked in one place
    (:func:`pt_genret.options.check_options`, from each field's type and :func:`~pt_genret.options.option`).
    """

    name: ClassVar[str]
    #: whether the method keeps the edit state (``edit/``: key covariance, critical layers)
    #: valid. Fine-tuning changes every weight, so it drops the state and the next edit recomputes it.
    keeps_edit_state: ClassVar[bool] = False
    #: the constraints (:data:`pt_genret.registry.CONSTRAINTS`) whose indexes the method can update:
    #: editing methods write docids through a trie; training on examples also serves n-gram indexes
    constraints: ClassVar[tuple[str, ...]] = ("trie",)

    seed: int = option(42, record=False)
    verbose: bool = option(True, record=False)

    def __post_init__(self) -> None:
        check_options(self, "update")

    def options(self) -> dict[str, Any]:
        """The method's options and their values (JSON-serialisable)."""
        return recorded(self)

    @abstractmethod
    def update(self, ctx: UpdateContext) -> dict[str, Any]:
        """Change ``ctx.backbone`` so that it writes the new docids; returns facts to record."""

    def save_state(self, folder: str) -> None:
        """Write the method's state into the new generation ``folder`` (under :func:`edit_dir`)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.options().items())})"


def edit_dir(folder: str) -> str:
    """Where model-editing state lives inside an index folder."""
    return os.path.join(folder, "edit")
