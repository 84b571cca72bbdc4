"""The decoder protocol: what :class:`~pt_genret.retriever.GenRetriever` needs of a decoder.

A decoder has a ``name`` (written in the results' ``decoder`` column), the ``constraint`` it
decodes over (a name in :data:`pt_genret.registry.CONSTRAINTS`: ``"trie"`` for docid
indexes, ``"ngrams"`` for SEAL/MINDER's n-gram views) and ``decode``, which returns for each
query its results best first: ``(document index, score)`` pairs over a trie, ``(document index,
score, contributing n-grams)`` over n-gram views. A new decoder is one module with such a class
plus one line in :data:`pt_genret.registry.DECODERS`.
"""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Decoder(Protocol):
    name: str
    constraint: str

    def decode(self, backbone: Any, constraint: Any, queries: list[str], num_results: int,
               max_steps: int) -> list[list[tuple]]: ...


# the decoder used over each constraint when the retriever is given another constraint's default
DEFAULT_DECODERS = {"trie": "beam", "ngrams": "ngram"}


def constraint_of(decoder: Any) -> str:
    """The constraint ``decoder`` decodes over (``"trie"`` when it does not say)."""
    return getattr(decoder, "constraint", "trie")
