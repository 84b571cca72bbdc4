"""An array-backed prefix trie over tokenised docids.

Edges live in one sorted int64 array of keys ``parent * vocab_size + token`` with the child
node beside each key, so a node's children are a contiguous slice (found with
``searchsorted``) and a decoding state is a single node number per beam. Each node counts
the live docids below it: removing a document only decrements counts, a node with count 0 is
no longer allowed, and a *restricted* view is the same arrays with other counts. Nothing is a
nested dict, nothing is rebuilt per decoding step, and advancing a beam costs O(log E).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from pt_genret.constraints.storage import load_arrays, save_arrays

FORMAT_VERSION = 1
ROOT = 0
DEAD = -1


class PrefixTrie:
    """Prefix trie of token sequences; sequence ``i`` belongs to document index ``i``."""

    def __init__(self, vocab_size: int) -> None:
        self.vocab_size = int(vocab_size)
        self.keys = np.zeros(0, dtype=np.int64)
        self.child = np.zeros(0, dtype=np.int64)
        self.parent = np.full(1, DEAD, dtype=np.int64)
        self.count = np.zeros(1, dtype=np.int64)
        self.doc = np.full(1, DEAD, dtype=np.int64)  # document index at a terminal node
        self.leaf_of_doc = np.zeros(0, dtype=np.int64)
        self._offsets = np.zeros(2, dtype=np.int64)

    # construction --------------------------------------------------------------------------
    @classmethod
    def build(cls, sequences: Sequence[Sequence[int]], vocab_size: int) -> "PrefixTrie":
        trie = cls(vocab_size)
        trie.insert(sequences)
        return trie

    @property
    def num_nodes(self) -> int:
        return len(self.count)

    @property
    def num_docs(self) -> int:
        return len(self.leaf_of_doc)

    def __len__(self) -> int:
        """Number of live docids."""
        return int(self.count[ROOT])

    def insert(self, sequences: Sequence[Sequence[int]]) -> list[int]:
        """Add sequences as the next document indices; returns those indices.

        Every sequence must be non-empty, within the vocabulary, and not a duplicate of a
        live docid (a sequence is one docid, terminated by its last token).
        """
        new_keys: dict[int, int] = {}
        parents, docs, added = list(self.parent), list(self.doc), []
        counts = list(self.count)
        leaves = list(self.leaf_of_doc)
        for seq in sequences:
            if len(seq) == 0:
                raise ValueError("cannot insert an empty docid")
            node = ROOT
            path = [ROOT]
            for tok in seq:
                tok = int(tok)
                if not 0 <= tok < self.vocab_size:
                    raise ValueError(f"token {tok} outside vocabulary of size {self.vocab_size}")
                key = node * self.vocab_size + tok
                nxt = new_keys.get(key)
                if nxt is None:
                    nxt = self._lookup(node, tok)
                if nxt == DEAD:
                    nxt = len(parents)
                    parents.append(node); docs.append(DEAD); counts.append(0)
                    new_keys[key] = nxt
                node = nxt
                path.append(node)
            if docs[node] != DEAD and counts[node] > 0:
                raise ValueError(f"duplicate docid: token sequence {list(seq)} is already in the trie")
            docs[node] = len(leaves)
            leaves.append(node)
            added.append(docs[node])
            for n in path:
                counts[n] += 1
        if new_keys:
            keys = np.concatenate([self.keys, np.fromiter(new_keys.keys(), np.int64, len(new_keys))])
            child = np.concatenate([self.child, np.fromiter(new_keys.values(), np.int64, len(new_keys))])
            order = np.argsort(keys, kind="stable")
            self.keys, self.child = keys[order], child[order]
        self.parent = np.array(parents, dtype=np.int64)
        self.doc = np.array(docs, dtype=np.int64)
        self.count = np.array(counts, dtype=np.int64)
        self.leaf_of_doc = np.array(leaves, dtype=np.int64)
        self._reindex()
        return added

    def _reindex(self) -> None:
        bounds = np.arange(self.num_nodes + 1, dtype=np.int64) * self.vocab_size
        self._offsets = np.searchsorted(self.keys, bounds)

    def _lookup(self, node: int, tok: int) -> int:
        if node >= len(self._offsets) - 1:
            return DEAD
        key = node * self.vocab_size + tok
        i = int(np.searchsorted(self.keys, key))
        return int(self.child[i]) if i < len(self.keys) and self.keys[i] == key else DEAD

    def remove(self, doc_indices: Sequence[int]) -> None:
        """Disallow the docids of these documents (their nodes stay, with lower counts)."""
        for d in self._check_docs(doc_indices):
            node = int(self.leaf_of_doc[d])
            if self.count[node] == 0 or self.doc[node] != d:  # already removed, or re-used
                continue
            while node != DEAD:
                self.count[node] -= 1
                node = int(self.parent[node])

    def restrict(self, doc_indices: Sequence[int]) -> "PrefixTrie":
        """A view allowing only these documents (shares the edge arrays; counts are new)."""
        view = PrefixTrie(self.vocab_size)
        view.keys, view.child, view.parent, view.doc = self.keys, self.child, self.parent, self.doc
        view.leaf_of_doc, view._offsets = self.leaf_of_doc, self._offsets
        view.count = np.zeros_like(self.count)
        docs = np.unique(self._check_docs(doc_indices))
        nodes = self.leaf_of_doc[docs]
        # removed documents stay removed, also where their node now ends another document
        nodes = nodes[(self.count[nodes] > 0) & (self.doc[nodes] == docs)]
        while len(nodes):
            np.add.at(view.count, nodes, 1)
            nodes = self.parent[nodes]
            nodes = nodes[nodes != DEAD]
        return view

    def _check_docs(self, doc_indices: Sequence[int]) -> np.ndarray:
        docs = np.asarray(doc_indices, dtype=np.int64).reshape(-1)
        bad = docs[(docs < 0) | (docs >= self.num_docs)]
        if len(bad):
            raise IndexError(f"document index {int(bad[0])} not in the trie (it holds {self.num_docs})")
        return docs

    # decoding ------------------------------------------------------------------------------
    def allowed_edges(self, states: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every allowed continuation of every beam: ``(beam, token, next state)`` arrays.

        A dead or finished state (``-1`` or a terminal node) has none.
        """
        states = np.asarray(states, dtype=np.int64)
        ok = states >= 0
        s = np.where(ok, states, 0)
        lo, hi = self._offsets[s], self._offsets[s + 1]
        lens = np.where(ok, hi - lo, 0)
        rows = np.repeat(np.arange(len(states)), lens)
        starts = np.repeat(lo - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
        edges = starts + np.arange(lens.sum())
        kids = self.child[edges]
        live = self.count[kids] > 0
        return rows[live], (self.keys[edges] % self.vocab_size)[live], kids[live]

    def allowed_mask(self, states: np.ndarray | torch.Tensor, vocab_size: int | None = None) -> torch.Tensor:
        """Boolean ``(len(states), vocab)`` mask of the tokens each beam may write next."""
        rows, toks, _ = self.allowed_edges(states)
        mask = torch.zeros((len(np.asarray(states)), vocab_size or self.vocab_size), dtype=torch.bool)
        mask[torch.from_numpy(rows), torch.from_numpy(toks)] = True
        return mask

    def advance(self, states: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """Next state of each beam after writing ``tokens`` (``-1`` where not allowed)."""
        states = np.asarray(states, dtype=np.int64)
        tokens = np.asarray(tokens, dtype=np.int64)
        keys = states * self.vocab_size + tokens
        i = np.searchsorted(self.keys, keys)
        i_c = np.minimum(i, max(len(self.keys) - 1, 0))
        found = (states >= 0) & (i < len(self.keys)) & (self.keys[i_c] == keys) if len(self.keys) else np.zeros(len(keys), bool)
        nxt = np.where(found, self.child[i_c] if len(self.keys) else DEAD, DEAD)
        alive = nxt >= 0
        nxt[alive] = np.where(self.count[nxt[alive]] > 0, nxt[alive], DEAD)
        return nxt

    def doc_at(self, states: np.ndarray) -> np.ndarray:
        """Document index completed at each state, or ``-1``."""
        states = np.asarray(states, dtype=np.int64)
        out = np.full(len(states), DEAD, dtype=np.int64)
        ok = states >= 0
        out[ok] = self.doc[states[ok]]
        out[ok] = np.where(self.count[states[ok]] > 0, out[ok], DEAD)
        return out

    # persistence ---------------------------------------------------------------------------
    _ARRAYS = ("keys", "child", "parent", "count", "doc", "leaf_of_doc")

    def save(self, path: str) -> None:
        save_arrays(path, FORMAT_VERSION, vocab_size=np.array([self.vocab_size]),
                    **{name: getattr(self, name) for name in self._ARRAYS})

    @classmethod
    def load(cls, path: str) -> "PrefixTrie":
        arrays = load_arrays(path, "trie", FORMAT_VERSION, {"vocab_size", *cls._ARRAYS})
        trie = cls(int(arrays["vocab_size"][0]))
        for name in cls._ARRAYS:
            setattr(trie, name, arrays[name])
        trie._reindex()
        return trie
