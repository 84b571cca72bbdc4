"""The decoder protocol: what :class:`~pt_genret.retriever.GenRetriever` needs of a decoder.

A decoder has a ``name`` (written in the results' ``decoder`` column), the ``constraint`` it
decodes over (a name in :data:`pt_genret.registry.CONSTRAINTS`: ``"trie"`` for docid
indexes, ``"ngrams"`` for SEAL/MINDER's n-gram views) and ``decode``, which returns for each
query its results best first: ``(document index, score)`` pairs over a trie, ``(document index,
score, contributing n-grams)`` over n-gram views. The retriever never calls ``decode`` itself:
the index's constraint does (:meth:`pt_genret.constraints.base.Constraint.decode`), and picks
its own default decoder (``Constraint.default_decoder``) when the retriever's default is named.
A new decoder is one module with such a class plus one line in :data:`pt_genret.registry.DECODERS`.
"""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Decoder(Protocol):
    name: str
    constraint: str

    def decode(self, backbone: Any, constraint: Any, queries: list[str], num_results: int,
               max_steps: int) -> list[list[tuple]]: ...

