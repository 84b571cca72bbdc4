"""Constraint structures for decoding: pure data structures, no model inside."""
from pt_genret.constraints.ngram import NgramIndex
from pt_genret.constraints.trie import PrefixTrie

__all__ = ["NgramIndex", "PrefixTrie"]
