"""An n-gram index: a suffix array over the tokenised corpus, with document boundaries (SEAL).

Any substring of any document is a valid identifier. The corpus is concatenated into one token
array with a separator after each document (a value outside the vocabulary, so no n-gram
crosses a boundary); ``pydivsufsort`` builds its suffix array. An n-gram's occurrences are one
contiguous interval of that array, found by binary search, which gives in O(|ngram| log N):
the tokens that may follow a generated prefix, the n-gram's corpus frequency, and the
documents that contain it. Like :class:`~pt_genret.constraints.PrefixTrie`, a pure data
structure with no model inside.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from pt_genret.constraints.storage import load_arrays, save_arrays

FORMAT_VERSION = 1


class NgramIndex:
    """Suffix array over token sequences; sequence ``i`` is document index ``i``."""

    def __init__(self, text: np.ndarray, suffixes: np.ndarray, doc_of: np.ndarray, vocab_size: int) -> None:
        self.text, self.suffixes, self.doc_of, self.vocab_size = text, suffixes, doc_of, int(vocab_size)
        self.separator = self.vocab_size

    @classmethod
    def build(cls, documents: Sequence[Sequence[int]], vocab_size: int,
              owners: Sequence[int] | None = None) -> "NgramIndex":
        """Index token sequences; ``owners[i]`` is the document of sequence ``i`` (default ``i``),
        so one document may have several sequences (MINDER's pseudo-query view)."""
        import pydivsufsort

        if len(documents) == 0:
            raise ValueError("cannot build an n-gram index over no documents")
        owners = np.arange(len(documents), dtype=np.int64) if owners is None else np.asarray(owners, dtype=np.int64)
        if len(owners) != len(documents):
            raise ValueError(f"{len(owners)} owners for {len(documents)} sequences")
        lengths = np.array([len(d) for d in documents], dtype=np.int64)
        parts = []
        for i, doc in enumerate(documents):
            tokens = np.asarray(doc, dtype=np.int64)
            if len(tokens) and (tokens.min() < 0 or tokens.max() >= vocab_size):
                raise ValueError(f"document {i} has tokens outside vocabulary of size {vocab_size}")
            parts.extend([tokens, np.array([vocab_size], dtype=np.int64)])
        text = np.concatenate(parts)
        doc_of = np.repeat(owners, lengths + 1)
        suffixes = pydivsufsort.divsufsort(text).astype(np.int64)
        return cls(text, suffixes, doc_of, vocab_size)

    @property
    def num_docs(self) -> int:
        return int(self.doc_of.max()) + 1 if len(self.doc_of) else 0

    @property
    def num_tokens(self) -> int:
        """Corpus length in tokens, separators excluded (the denominator of n-gram frequencies)."""
        return int((self.text != self.separator).sum())

    def children(self, lo: int, hi: int, depth: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The tokens that extend the n-gram whose suffixes are ``[lo, hi)`` (of length ``depth``),
        with each extension's own interval ``[start, start + count)``: one step of decoding."""
        tokens, first, counts = np.unique(self._column(lo, hi, depth), return_index=True, return_counts=True)
        keep = (tokens >= 0) & (tokens != self.separator)
        return tokens[keep], lo + first[keep], counts[keep]

    def _column(self, lo: int, hi: int, depth: int) -> np.ndarray:
        """The token at offset ``depth`` of each suffix in ``[lo, hi)``, sorted when those suffixes
        share their first ``depth`` tokens; suffixes too short to have one give -1 (they sort first)."""
        pos = self.suffixes[lo:hi] + depth
        return np.where(pos < len(self.text), self.text[np.minimum(pos, len(self.text) - 1)], -1)

    def documents_in(self, lo: int, hi: int) -> np.ndarray:
        """Sorted documents of the suffixes ``[lo, hi)`` (an interval from :meth:`children`)."""
        return np.unique(self.doc_of[self.suffixes[lo:hi]])

    def interval(self, ngram: Sequence[int]) -> tuple[int, int]:
        """``[lo, hi)`` of the suffixes that start with ``ngram`` (all suffixes for ``[]``)."""
        lo, hi = 0, len(self.suffixes)
        for depth, tok in enumerate(ngram):
            tok = int(tok)
            col = self._column(lo, hi, depth)
            lo, hi = lo + int(np.searchsorted(col, tok, "left")), lo + int(np.searchsorted(col, tok, "right"))
            if lo >= hi:
                return lo, lo
        return lo, hi

    def count(self, ngram: Sequence[int]) -> int:
        """Occurrences of ``ngram`` in the corpus."""
        lo, hi = self.interval(ngram)
        return hi - lo

    def next_tokens(self, prefix: Sequence[int]) -> np.ndarray:
        """Sorted distinct tokens that follow ``prefix`` somewhere in the corpus."""
        return self.children(*self.interval(prefix), len(prefix))[0]

    def documents(self, ngram: Sequence[int]) -> np.ndarray:
        """Sorted indices of the documents that contain ``ngram``."""
        if len(ngram) == 0:
            return np.arange(self.num_docs)
        return self.documents_in(*self.interval(ngram))

    def save(self, path: str) -> None:
        save_arrays(path, FORMAT_VERSION, vocab_size=np.array([self.vocab_size]), text=self.text,
                    suffixes=self.suffixes, doc_of=self.doc_of)

    @classmethod
    def load(cls, path: str) -> "NgramIndex":
        arrays = load_arrays(path, "n-gram index", FORMAT_VERSION, {"vocab_size", "text", "suffixes", "doc_of"})
        return cls(arrays["text"], arrays["suffixes"], arrays["doc_of"], int(arrays["vocab_size"][0]))
