"""The constraint interface: what an index decodes over, behind one set of methods.

A *constraint* says which sequences the model may write and which documents a written sequence
identifies: a prefix trie of docids (:mod:`pt_genret.constraints.prefix`), or the suffix arrays of
SEAL/MINDER's n-gram views (:mod:`pt_genret.constraints.views`). The index build, the reader, the
retriever, the updater and removals use only the methods below, so a new constraint is one module
with a :class:`Constraint` subclass plus one line in :data:`pt_genret.registry.CONSTRAINTS`;
``pt_meta.json`` records its name under ``constraint``.

Decoders say which constraint they decode over (``decoder.constraint``, see
:mod:`pt_genret.decoding.protocol`); :meth:`Constraint.decoder_for` picks the decoder a retriever
uses, and :meth:`Constraint.decode` / :meth:`Constraint.score` give every retrieval and re-ranking
its results as ``(document index, score, extra columns)``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable, ClassVar, Sequence

import numpy as np

#: one result: document index, score, and the values of the constraint's extra result columns
Hit = tuple[int, float, dict[str, Any]]


class Constraint(ABC):
    """Base class: one subclass per constraint, registered in :data:`pt_genret.registry.CONSTRAINTS`."""

    #: the registry name, recorded as ``constraint`` in ``pt_meta.json``
    name: ClassVar[str]
    #: the name in :data:`pt_genret.registry.DECODERS` a retriever decodes with by default
    default_decoder: ClassVar[str]
    #: what an index with this constraint is, for messages (``"an n-gram index"``)
    description: ClassVar[str]
    #: result columns beyond PyTerrier's and ``gr_docid`` (filled from each hit's extras)
    columns: ClassVar[tuple[str, ...]] = ()
    #: the file or folder it is saved as in a generation folder (``trie.npz``, ``ngrams``)
    location: ClassVar[str]

    # -- building, saving, loading ---------------------------------------------------------------
    @classmethod
    @abstractmethod
    def identify(cls, docs, backbone, scheme, table=None):
        """The docid table (:class:`~pt_genret.docids.DocIdTable`) of ``docs``, or ``table`` with
        their rows appended: what each document is identified by under this constraint."""

    @classmethod
    @abstractmethod
    def build(cls, docs, table, backbone, scheme) -> "Constraint":
        """The constraint over the documents ``docs`` whose identifiers are the rows of ``table``
        (the fitted ``scheme`` and the ``backbone``'s tokenizer give whatever else it needs)."""

    @abstractmethod
    def save(self, folder: str) -> None:
        """Write the constraint's files into an index generation ``folder``."""

    @classmethod
    @abstractmethod
    def load(cls, folder: str, meta: dict) -> "Constraint":
        """The constraint saved in a generation ``folder``, with its ``pt_meta.json`` ``meta``."""

    @abstractmethod
    def max_length(self, table, scheme) -> int:
        """The longest sequence decoding writes (``max_docid_length`` in ``pt_meta.json``)."""

    def meta(self) -> dict[str, Any]:
        """Facts recorded in ``pt_meta.json`` (the name, and what :meth:`load` reads back)."""
        return {"constraint": self.name}

    # -- documents -------------------------------------------------------------------------------
    @property
    @abstractmethod
    def num_docs(self) -> int:
        """Document indices the constraint knows, removed ones included."""

    @abstractmethod
    def live_docs(self) -> np.ndarray:
        """Boolean ``(num_docs,)``: which documents may be retrieved."""

    def __len__(self) -> int:
        """Number of live documents."""
        return int(self.live_docs().sum())

    @abstractmethod
    def add(self, docs, table, backbone, scheme) -> "Constraint":
        """The constraint with the documents ``docs`` added; ``table`` is the docid table with
        their rows appended (document indices from :attr:`num_docs`)."""

    @abstractmethod
    def remove(self, doc_indices: Sequence[int]) -> None:
        """Stop retrieving these documents (in place; the model is unchanged)."""

    # -- training targets ------------------------------------------------------------------------
    @abstractmethod
    def examples(self, docs, table, backbone, scheme, seed: int, topics=None, qrels=None) -> list:
        """Training examples (:class:`~pt_genret.training.Example`) of the documents ``docs``
        (rows of ``table``): indexing, pseudo-query and, with ``topics``/``qrels``, supervised."""

    @abstractmethod
    def target_of(self, table, backbone, scheme) -> Callable[[str, str], list[int]]:
        """``target(query, docno)``: the training target of an example of an indexed document
        (replayed during updates)."""

    # -- decoding --------------------------------------------------------------------------------
    def accepts(self, decoder: Any) -> bool:
        """Whether ``decoder`` decodes over this constraint (its ``constraint`` names it)."""
        return decoder.constraint == self.name

    def decoder_for(self, decoder: Any, default: bool = False, options: dict | None = None, where: str = "") -> Any:
        """The decoder to use over this constraint: ``decoder`` when it decodes over it; with
        ``default`` (the user named no decoder of their own choosing), this constraint's default
        decoder built with ``options``; else a one-line error naming the decoder to use."""
        from pt_genret.registry import CONSTRAINTS, DECODERS

        if self.accepts(decoder):
            return decoder
        if default:
            return DECODERS.create(self.default_decoder, **(options or {}))
        other = CONSTRAINTS[decoder.constraint].description if decoder.constraint in CONSTRAINTS \
            else f"a {decoder.constraint!r} constraint"
        raise ValueError(f"decoder {getattr(decoder, 'name', decoder)!r} decodes over {other}; {where or 'the index'} "
                         f"is {self.description}: use decoder={self.default_decoder!r}")

    @abstractmethod
    def decode(self, decoder: Any, backbone, queries: list[str], num_results: int,
               max_steps: int) -> list[list[Hit]]:
        """For each query, up to ``num_results`` live documents, best first."""

    @abstractmethod
    def score(self, decoder: Any, backbone, queries: list[str], candidates: list[list[int]],
              table) -> list[list[tuple[float, dict[str, Any]]]]:
        """For each query, a score (and extra column values) per candidate document index, in
        order: how the retriever re-ranks a given candidate list."""
