"""Constraint structures for decoding (pure data structures, no model inside) and the
:class:`Constraint` interface an index decodes through (:mod:`pt_genret.constraints.base`)."""
from pt_genret.constraints.base import Constraint
from pt_genret.constraints.ngram import NgramIndex
from pt_genret.constraints.trie import PrefixTrie

__all__ = ["Constraint", "NgramIndex", "PrefixTrie"]
