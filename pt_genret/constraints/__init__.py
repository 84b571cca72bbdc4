"""Constraint structures for decoding: pure data structures, no model inside."""
from pt_genret.constraints.trie import PrefixTrie

__all__ = ["PrefixTrie"]
