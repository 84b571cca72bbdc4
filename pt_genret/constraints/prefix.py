"""The prefix-trie constraint: docid indexes decode over a :class:`~pt_genret.constraints.PrefixTrie`.

Every document has a docid (a token sequence from its scheme, the rows of the docid table) and
decoding may only write docids; training targets are the docids themselves. The trie is used
only through its public methods (``build``, ``insert``, ``remove``, ``live_docs``, ``save``,
``load``).
"""
from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import numpy as np

from pt_genret.constraints.base import Constraint, Hit
from pt_genret.constraints.trie import PrefixTrie


class TrieConstraint(Constraint):
    """Docids in a prefix trie (every scheme but the n-gram ones)."""

    name = "trie"
    default_decoder = "beam"
    description = "a docid index (a prefix trie of docids)"
    location = "trie.npz"

    def __init__(self, trie: PrefixTrie) -> None:
        self.trie = trie

    @classmethod
    def identify(cls, docs, backbone, scheme, table=None):
        """Docids from the fitted ``scheme`` (new code tokens added to the backbone), spelled as
        token sequences that no other document has."""
        from pt_genret.docids import DocIdTable
        from pt_genret.docids.spelling import spell_unique

        docids = scheme.assign(docs, taken=() if table is None else table.docids)
        if scheme.kind == "codes":  # after assign: new documents may need new code tokens
            backbone.ensure_codes(scheme.num_codes())
        taken = frozenset() if table is None else {tuple(t) for t in table.tokens}
        docids, tokens = spell_unique(scheme, backbone, docids, taken=taken)
        if table is None:
            return DocIdTable(docs["docno"].tolist(), docids, tokens)
        return table.extend(docs["docno"].tolist(), docids, tokens)

    @classmethod
    def build(cls, docs, table, backbone, scheme) -> "TrieConstraint":
        return cls(PrefixTrie.build(table.tokens, backbone.vocab_size))

    def max_length(self, table, scheme) -> int:
        return max(len(t) for t in table.tokens)

    def save(self, folder: str) -> None:
        self.trie.save(os.path.join(folder, self.location))

    @classmethod
    def load(cls, folder: str, meta: dict) -> "TrieConstraint":
        path = os.path.join(folder, cls.location)
        if not os.path.exists(path):
            raise FileNotFoundError(f"missing {cls.location}")
        return cls(PrefixTrie.load(path))

    @property
    def num_docs(self) -> int:
        return self.trie.num_docs

    def live_docs(self) -> np.ndarray:
        return self.trie.live_docs()

    def __len__(self) -> int:
        return len(self.trie)

    def add(self, docs, table, backbone, scheme) -> "TrieConstraint":
        """Insert the new rows of ``table``; over a larger vocabulary (new code tokens) the trie
        is rebuilt first, keeping removed documents removed."""
        trie, old = self.trie, self.num_docs
        if backbone.vocab_size > trie.vocab_size:
            live = trie.live_docs()
            trie = PrefixTrie.build(table.tokens[:old], backbone.vocab_size)
            if not live.all():
                trie.remove(np.flatnonzero(~live))
        trie.insert(table.tokens[old:])
        return TrieConstraint(trie)

    def remove(self, doc_indices: Sequence[int]) -> None:
        self.trie.remove(doc_indices)

    def examples(self, docs, table, backbone, scheme, seed: int, topics=None, qrels=None) -> list:
        from pt_genret.training import build_examples

        return build_examples(docs, dict(zip(table.docnos, table.tokens)), topics=topics, qrels=qrels)

    def target_of(self, table, backbone, scheme) -> Callable[[str, str], list[int]]:
        return lambda query, docno: table.tokens[table.index_of(docno)]

    def decode(self, decoder: Any, backbone, queries: list[str], num_results: int, max_steps: int) -> list[list[Hit]]:
        return [[(d, s, {}) for d, s in res] for res in decoder.decode(backbone, self.trie, queries, num_results,
                                                                       max_steps)]

    def score(self, decoder: Any, backbone, queries: list[str], candidates: list[list[int]],
              table) -> list[list[tuple[float, dict]]]:
        """The exact log-likelihood of each candidate's docid (whichever decoder retrieves)."""
        from pt_genret.decoding.scoring import score_candidates

        return [[(float(s), {}) for s in score_candidates(backbone, q, [table.tokens[i] for i in cands])]
                for q, cands in zip(queries, candidates)]
