"""A compact prefix trie over tokenised docids, in flat narrow-integer arrays.

Nodes are numbered breadth first with each node's children consecutive and sorted by token,
so the trie is three arrays: ``token[n]`` (the token written to reach node ``n``), ``first[n]``
(its children are nodes ``first[n] .. first[n+1]-1``) and ``count[n]`` (live docids below it),
plus ``leaf_of_doc``. A decoding state is one node number per beam; a node's children are a
slice, found without a search, and a parent is one ``searchsorted`` on ``first``. Removing a
document only decrements counts (a node with count 0 is not allowed) and a *restricted* view is
the same arrays with other counts. Tokens are 16-bit where the vocabulary allows, node numbers
32-bit, and the file is a compressed ``.npz`` storing child counts (small integers) instead of
``first``. At a million 8-token docids this is well under 100 MB in memory and on disk
(docs/constraints.md). The build is vectorised: sort the padded token matrix, find where each
row first differs from the previous one, and number each level's new nodes by a cumulative sum.
"""
from __future__ import annotations

import logging
from itertools import chain
from typing import Sequence

import numpy as np
import torch

from pt_genret.constraints.storage import check_names, read_arrays, save_arrays

FORMAT_VERSION = 2
ROOT = 0
DEAD = -1
log = logging.getLogger(__name__)


def token_dtype(vocab_size: int) -> np.dtype:
    """The narrowest unsigned type holding every token and one padding value (``vocab_size``)."""
    return np.dtype(np.uint16 if vocab_size < 2 ** 16 else np.uint32)


def index_dtype(n: int) -> np.dtype:
    return np.dtype(np.int32 if n < 2 ** 31 - 1 else np.int64)


def token_matrix(sequences: Sequence[Sequence[int]] | np.ndarray, vocab_size: int,
                 chunk: int = 1 << 13) -> np.ndarray:
    """Sequences as a ``(n, max_len)`` matrix of the narrowest token type, padded with
    ``vocab_size``, checked: none empty, every token in ``[0, vocab_size)``. Lists are converted
    a chunk of rows at a time, so no full-size int64 copy is ever held."""
    dtype = token_dtype(vocab_size)
    if isinstance(sequences, np.ndarray) and sequences.ndim == 2:
        if sequences.shape[1] == 0 and len(sequences):
            raise ValueError("cannot insert an empty docid")
        _check_tokens(sequences, vocab_size)
        return sequences.astype(dtype)
    lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))
    if len(lengths) and lengths.min() == 0:
        raise ValueError("cannot insert an empty docid")
    width = int(lengths.max()) if len(lengths) else 1
    out = np.full((len(lengths), width), vocab_size, dtype=dtype)
    for lo in range(0, len(lengths), chunk):
        part, lens = sequences[lo:lo + chunk], lengths[lo:lo + chunk]
        flat = np.fromiter(chain.from_iterable(part), dtype=np.int64, count=int(lens.sum()))
        _check_tokens(flat, vocab_size)
        rows = np.repeat(np.arange(lo, lo + len(lens)), lens)
        cols = np.arange(len(flat)) - np.repeat(np.cumsum(lens) - lens, lens)
        out[rows, cols] = flat
    return out


def _check_tokens(tokens: np.ndarray, vocab_size: int) -> None:
    bad = tokens[(tokens < 0) | (tokens >= vocab_size)]
    if bad.size:
        raise ValueError(f"token {int(bad.flat[0])} outside vocabulary of size {vocab_size}")


def _run_sums(cumsum: np.ndarray, starts: np.ndarray, n: int) -> np.ndarray:
    """Sums over the runs of rows ``[starts[j], starts[j+1])`` (the last run ends at ``n``) from an
    inclusive running sum."""
    ends = np.empty_like(starts)
    ends[:-1], ends[-1:] = starts[1:] - 1, n - 1
    before = cumsum[np.maximum(starts - 1, 0)]
    before[starts == 0] = 0
    return cumsum[ends] - before


def _layout(matrix: np.ndarray, live: np.ndarray, pad: int):
    """Breadth-first trie of the rows of a padded token matrix (sorted in place: it is consumed).

    Returns ``token, first, count, leaf_of_row, duplicates``: ``duplicates`` is a ``(2, d)``
    array of rows sharing a leaf with the row given beside them (which precedes them in sorted
    order). Rows need not be distinct; ``count`` counts only rows with ``live`` set. Each level
    is one pass over the sorted rows: a row starts a node at a level when it first differs from
    the row above at or before that level, so node numbers are a running sum and a node's
    children and documents are runs of rows, counted by differences of running sums.
    """
    n, width = matrix.shape
    order = (np.lexsort(matrix.T[::-1]) if n else np.zeros(0, dtype=np.int64)).astype(index_dtype(n))
    matrix[:] = matrix[order]
    rows = matrix
    first_diff = np.zeros(n, dtype=np.int16 if width < 2 ** 15 else np.int32)
    if n > 1:
        neq = rows[1:] != rows[:-1]
        first_diff[1:] = np.where(neq.any(axis=1), neq.argmax(axis=1), width)
        del neq
    live_sorted = live[order]
    sizes = [int(((rows[:, lv] != pad) & (first_diff <= lv)).sum()) for lv in range(width)]
    total = 1 + sum(sizes)
    itype = index_dtype(total + 1)
    token = np.zeros(total, dtype=rows.dtype)
    first = np.zeros(total + 1, dtype=itype)  # child counts at [1 + node], summed at the end
    count = np.zeros(total, dtype=np.int32)
    count[ROOT] = live.sum()
    leaf_sorted = np.zeros(n, dtype=itype)
    prev_starts, prev_base, base = np.zeros(min(n, 1), dtype=itype), 0, 1
    for level, k in enumerate(sizes):
        col = rows[:, level]
        has = col != pad
        new = has & (first_diff <= level)
        starts = np.flatnonzero(new).astype(itype)
        token[base:base + k] = col[starts]
        running = np.cumsum(new, dtype=itype)
        if len(prev_starts):
            first[1 + prev_base:1 + prev_base + len(prev_starts)] = _run_sums(running, prev_starts, n)
        ends = has & (rows[:, level + 1] == pad) if level + 1 < width else has  # the row's last token
        leaf_sorted[ends] = running[ends] + (base - 1)
        del running, ends
        if k:
            count[base:base + k] = _run_sums(np.cumsum(has & live_sorted, dtype=np.int32), starts, n)
        prev_starts, prev_base, base = starts, base, base + k
        del has, new, col
    first[0] = 1
    np.cumsum(first[1:], out=first[1:])
    first[1:] += 1
    leaf = np.empty(n, dtype=itype)
    leaf[order] = leaf_sorted
    same = np.flatnonzero(first_diff == width) if n > 1 else np.zeros(0, dtype=np.int64)
    same = same[same > 0]
    return token, first, count, leaf, np.stack([order[same], order[same - 1]]).astype(np.int64)


class PrefixTrie:
    """Prefix trie of token sequences; sequence ``i`` belongs to document index ``i``."""

    def __init__(self, vocab_size: int) -> None:
        self.vocab_size = int(vocab_size)
        self.token = np.zeros(1, dtype=token_dtype(self.vocab_size))
        self.first = np.ones(2, dtype=np.int32)
        self.count = np.zeros(1, dtype=np.int32)
        self.leaf_of_doc = np.zeros(0, dtype=np.int32)
        self._owners()

    # construction --------------------------------------------------------------------------
    @classmethod
    def build(cls, sequences: Sequence[Sequence[int]] | np.ndarray, vocab_size: int) -> "PrefixTrie":
        """The trie of ``sequences`` (a list of token lists or an ``(n, length)`` integer array)."""
        trie = cls(vocab_size)
        trie.insert(sequences)
        return trie

    @classmethod
    def _from_matrix(cls, vocab_size: int, matrix: np.ndarray, live: np.ndarray) -> tuple["PrefixTrie", np.ndarray]:
        trie = cls(vocab_size)
        trie.token, trie.first, trie.count, trie.leaf_of_doc, dup = _layout(matrix, live, vocab_size)
        trie._owners()
        return trie, dup

    @property
    def num_nodes(self) -> int:
        return len(self.token)

    @property
    def num_docs(self) -> int:
        return len(self.leaf_of_doc)

    @property
    def nbytes(self) -> int:
        """Bytes held by the trie's arrays."""
        return sum(a.nbytes for a in (self.token, self.first, self.count, self.leaf_of_doc, self._term_node,
                                       self._term_doc))

    def __len__(self) -> int:
        """Number of live docids."""
        return int(self.count[ROOT])

    def insert(self, sequences: Sequence[Sequence[int]] | np.ndarray) -> list[int]:
        """Add sequences as the next document indices; returns those indices.

        Every sequence must be non-empty, within the vocabulary, and not a duplicate of a
        live docid (a sequence is one docid, terminated by its last token). The arrays are
        rebuilt (node numbers change); on an error the trie is unchanged.
        """
        new = token_matrix(sequences, self.vocab_size)
        added = len(new)
        if added == 0:
            return []
        if self.num_docs == 0:
            matrix = new
        else:
            old = self.sequences()
            width = max(old.shape[1], new.shape[1])
            matrix = np.full((len(old) + len(new), width), self.vocab_size, dtype=token_dtype(self.vocab_size))
            matrix[:len(old), :old.shape[1]] = old
            matrix[len(old):, :new.shape[1]] = new
            del old, new
        live = np.concatenate([self.live_docs(), np.ones(added, dtype=bool)])
        trie, dup = _from_matrix_checked(self, matrix, live)
        self.token, self.first, self.count, self.leaf_of_doc = trie.token, trie.first, trie.count, trie.leaf_of_doc
        self._term_node, self._term_doc = trie._term_node, trie._term_doc
        return list(range(len(live) - added, len(live)))

    def _owners(self) -> None:
        """The terminal nodes, sorted, and the document each now ends (the last inserted there)."""
        order = np.argsort(self.leaf_of_doc, kind="stable")
        leaves = self.leaf_of_doc[order]
        last = np.flatnonzero(np.append(leaves[1:] != leaves[:-1], True)) if len(leaves) else np.zeros(0, np.int64)
        self._term_node = leaves[last]
        self._term_doc = order[last].astype(index_dtype(max(len(order), 1)))

    def owner(self, nodes: np.ndarray) -> np.ndarray:
        """The document that ends at each node (the latest inserted there), or ``-1``."""
        nodes = np.asarray(nodes, dtype=np.int64)
        i = np.searchsorted(self._term_node, nodes)
        ic = np.minimum(i, max(len(self._term_node) - 1, 0))
        hit = (i < len(self._term_node)) & (self._term_node[ic] == nodes) if len(self._term_node) else nodes < -1
        return np.where(hit, self._term_doc[ic] if len(self._term_doc) else DEAD, DEAD).astype(np.int64)

    def parents(self, nodes: np.ndarray) -> np.ndarray:
        """Parent of each node (``-1`` for the root)."""
        return np.searchsorted(self.first, np.asarray(nodes, dtype=np.int64), side="right").astype(np.int64) - 1

    @property
    def parent(self) -> np.ndarray:
        """Parent of every node (computed; prefer :meth:`parents` on the nodes needed)."""
        return self.parents(np.arange(self.num_nodes))

    @property
    def doc(self) -> np.ndarray:
        """Document ending at every node, or ``-1`` (computed; prefer :meth:`owner`)."""
        return self.owner(np.arange(self.num_nodes))

    def live_docs(self) -> np.ndarray:
        """Boolean ``(num_docs,)``: which documents are allowed (not removed, not superseded)."""
        leaves = self.leaf_of_doc
        return (self.count[leaves] > 0) & (self.owner(leaves) == np.arange(len(leaves)))

    def sequences(self, docs: np.ndarray | None = None) -> np.ndarray:
        """The token sequences of ``docs`` (default all), a matrix padded with ``vocab_size``."""
        nodes = self.leaf_of_doc if docs is None else self.leaf_of_doc[self._check_docs(docs)]
        cols, cur = [], nodes.astype(np.int64)
        while len(cur) and (cur > ROOT).any():
            cols.append(np.where(cur > ROOT, self.token[np.maximum(cur, 0)], self.vocab_size))
            cur = np.where(cur > ROOT, self.parents(cur), ROOT)
        out = np.full((len(nodes), max(len(cols), 1)), self.vocab_size, dtype=token_dtype(self.vocab_size))
        if cols:  # cols run leaf first; left-align each row
            rev = np.stack(cols, axis=1)
            lengths = (rev != self.vocab_size).sum(axis=1)
            j = np.arange(rev.shape[1])
            src = lengths[:, None] - 1 - j[None, :]
            out[:] = np.where(src >= 0, np.take_along_axis(rev, np.maximum(src, 0), axis=1), self.vocab_size)
        return out

    def remove(self, doc_indices: Sequence[int]) -> None:
        """Disallow the docids of these documents (their nodes stay, with lower counts)."""
        docs = np.unique(self._check_docs(doc_indices))
        docs = docs[self.live_docs()[docs]]
        self._add_paths(self.count, self.leaf_of_doc[docs], -1)

    def _add_paths(self, count: np.ndarray, nodes: np.ndarray, amount: int) -> None:
        nodes = nodes.astype(np.int64)
        while len(nodes):
            np.add.at(count, nodes, amount)
            nodes = self.parents(nodes)
            nodes = nodes[nodes != DEAD]

    def restrict(self, doc_indices: Sequence[int]) -> "PrefixTrie":
        """A view allowing only these documents (shares the arrays; counts are new)."""
        view = PrefixTrie(self.vocab_size)
        view.token, view.first, view.leaf_of_doc = self.token, self.first, self.leaf_of_doc
        view._term_node, view._term_doc = self._term_node, self._term_doc
        view.count = np.zeros_like(self.count)
        docs = np.unique(self._check_docs(doc_indices))
        # removed documents stay removed, also where their node now ends another document
        docs = docs[self.live_docs()[docs]]
        self._add_paths(view.count, self.leaf_of_doc[docs], 1)
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
        lo = self.first[s].astype(np.int64)
        lens = np.where(ok, self.first[s + 1] - lo, 0)
        rows = np.repeat(np.arange(len(states)), lens)
        kids = np.repeat(lo - (np.cumsum(lens) - lens), lens) + np.arange(rows.size)
        live = self.count[kids] > 0
        kids = kids[live]
        return rows[live], self.token[kids].astype(np.int64), kids

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
        ok = states >= 0
        s = np.where(ok, states, 0)
        lo = np.where(ok, self.first[s], 0).astype(np.int64)
        end = np.where(ok, self.first[s + 1], 0).astype(np.int64)
        hi, last = end.copy(), self.num_nodes - 1
        while (lo < hi).any():  # binary search for the token among each node's sorted children
            mid = (lo + hi) // 2
            less = self.token[np.minimum(mid, last)] < tokens
            active = lo < hi
            lo, hi = np.where(active & less, mid + 1, lo), np.where(active & ~less, mid, hi)
        found = (lo < end) & (self.token[np.minimum(lo, last)] == tokens)
        found &= self.count[np.minimum(lo, last)] > 0
        return np.where(found, lo, DEAD)

    def doc_at(self, states: np.ndarray) -> np.ndarray:
        """Document index completed at each state, or ``-1``."""
        states = np.asarray(states, dtype=np.int64)
        out = self.owner(states)
        ok = out >= 0
        out[ok] = np.where(self.count[states[ok]] > 0, out[ok], DEAD)
        return out

    # persistence ---------------------------------------------------------------------------
    def save(self, path: str) -> None:
        """A compressed ``.npz``: tokens, child counts (``first`` is their running sum), counts."""
        nchild = np.diff(self.first)
        nchild = nchild.astype(np.uint16 if nchild.max(initial=0) < 2 ** 16 else nchild.dtype)
        save_arrays(path, FORMAT_VERSION, compressed=True, vocab_size=np.array([self.vocab_size]),
                    token=self.token, nchild=nchild, count=self.count, leaf_of_doc=self.leaf_of_doc)

    @classmethod
    def load(cls, path: str) -> "PrefixTrie":
        arrays = read_arrays(path, "trie")
        version = int(arrays["format_version"][0])
        if version == 1:
            return cls._upgrade_v1(path, arrays)
        if version != FORMAT_VERSION:
            raise ValueError(f"trie file {path} has format version {version}; this pt-genret reads 1 and "
                             f"{FORMAT_VERSION}: upgrade pt-genret")
        check_names(path, "trie", arrays, {"vocab_size", "token", "nchild", "count", "leaf_of_doc"})
        trie = cls(int(arrays["vocab_size"][0]))
        trie.token, trie.count = arrays["token"], arrays["count"]
        trie.leaf_of_doc = arrays["leaf_of_doc"]
        nchild = arrays["nchild"]
        trie.first = np.empty(len(nchild) + 1, dtype=index_dtype(len(nchild) + 1))
        trie.first[0] = 1
        np.cumsum(nchild, out=trie.first[1:])
        trie.first[1:] += 1
        if len(trie.first) != len(trie.token) + 1 or len(trie.count) != len(trie.token):
            raise ValueError(f"corrupt trie file {path}: array lengths disagree")
        trie._owners()
        return trie

    @classmethod
    def _upgrade_v1(cls, path: str, arrays: dict[str, np.ndarray]) -> "PrefixTrie":
        """Read the first format (int64 edge keys, one child and parent per node) into this one."""
        check_names(path, "trie", arrays, {"vocab_size", "keys", "child", "parent", "count", "doc", "leaf_of_doc"})
        vocab = int(arrays["vocab_size"][0])
        tok = np.zeros(len(arrays["parent"]), dtype=np.int64)
        tok[arrays["child"]] = arrays["keys"] % vocab
        parent, leaves = arrays["parent"], arrays["leaf_of_doc"]
        cols, cur = [], leaves.copy()
        while len(cur) and (cur > ROOT).any():
            cols.append(np.where(cur > ROOT, tok[np.maximum(cur, 0)], vocab))
            cur = np.where(cur > ROOT, parent[np.maximum(cur, 0)], ROOT)
        matrix = np.stack(cols[::-1], axis=1) if cols else np.zeros((0, 1), dtype=np.int64)
        lengths = (matrix != vocab).sum(axis=1)  # right-aligned: shift each row left
        shift = matrix.shape[1] - lengths
        j = np.arange(matrix.shape[1])
        src = j[None, :] + shift[:, None]
        matrix = np.where(src < matrix.shape[1], np.take_along_axis(matrix, np.minimum(src, matrix.shape[1] - 1), 1), vocab)
        live = (arrays["count"][leaves] > 0) & (arrays["doc"][leaves] == np.arange(len(leaves)))
        trie, _ = cls._from_matrix(vocab, matrix.astype(token_dtype(vocab)), live)
        log.info("%s is trie format 1: read into format %d; the index's next update or rebuild rewrites it",
                 path, FORMAT_VERSION)
        return trie


def _from_matrix_checked(before: PrefixTrie, matrix: np.ndarray, live: np.ndarray) -> tuple[PrefixTrie, np.ndarray]:
    """Rebuild with ``matrix``'s rows, refusing a new row that repeats a live docid or another new row."""
    start = before.num_docs
    pad = before.vocab_size
    trie, dup = PrefixTrie._from_matrix(before.vocab_size, matrix, live)
    # equal rows keep their order (a stable sort), so each pair is (row, an earlier equal row)
    later, earlier = dup
    bad = later[(later >= start) & ((earlier >= start) | live[earlier])]
    if len(bad):
        tokens = trie.sequences(np.array([int(bad[0])]))[0]
        raise ValueError(f"duplicate docid: token sequence {[int(t) for t in tokens if t != pad]} "
                         "is already in the trie")
    return trie, dup
