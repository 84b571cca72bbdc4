"""The n-gram constraint: SEAL/MINDER indexes decode over the suffix arrays of their views.

Any n-gram of a document's view texts identifies it (:mod:`pt_genret.ngram_views`); training
targets are spans of those texts, decoding writes n-grams and SEAL's aggregation turns them into
document scores (:mod:`pt_genret.decoding.ngram_search`). New documents join every view's suffix
array; removed documents are a mask (``ngrams/_removed.npz``) that decoding respects: their
n-grams stay in the suffix arrays, but they are never returned.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import numpy as np

from pt_genret.constraints.base import Constraint, Hit
from pt_genret.constraints.storage import load_arrays, save_arrays
from pt_genret.ngram_views import (NgramView, ViewTokens, build_views, extend_views, load_views, ngram_examples,
                                   replay_targets, save_views, tokenise_views, view_markers)

REMOVED_FILE, REMOVED_VERSION = "_removed.npz", 1  # "_": never the name of a view


class NgramConstraint(Constraint):
    """The n-gram views of an index, each with its suffix array, and a mask of removed documents."""

    name = "ngrams"
    default_decoder = "ngram"
    description = "an n-gram index (SEAL/MINDER views)"
    columns = ("ngrams",)
    location = "ngrams"

    def __init__(self, views: list[NgramView], removed: np.ndarray | None = None,
                 tokens: tuple[tuple[str, ...], list[ViewTokens]] | None = None) -> None:
        self.views = views
        num_docs = max((v.index.num_docs for v in views), default=0)
        self.removed = np.zeros(num_docs, dtype=bool) if removed is None else np.asarray(removed, dtype=bool)
        self._tokens = tokens  # (docnos, their tokenised views) of the last build or add, for their examples

    @classmethod
    def identify(cls, docs, backbone, scheme, table=None):
        """Documents are identified by their n-grams: the table holds their docnos and no tokens;
        with several views, the views' marker tokens are added to the backbone."""
        from pt_genret.docids import DocIdTable

        view_markers(backbone, len(scheme.views))
        docnos = docs["docno"].tolist()
        if table is None:
            return DocIdTable(docnos, docnos, [[] for _ in docnos])
        return table.extend(docnos, docnos, [[] for _ in docnos])

    @classmethod
    def build(cls, docs, table, backbone, scheme) -> "NgramConstraint":
        tokens = tokenise_views(backbone, scheme.view_texts(docs))
        views = build_views(tokens, view_markers(backbone, len(scheme.views)), backbone.vocab_size)
        return cls(views, tokens=(tuple(docs["docno"]), tokens))

    def max_length(self, table, scheme) -> int:
        return scheme.span_length

    def meta(self) -> dict[str, Any]:
        return {"constraint": self.name, "views": [v.name for v in self.views],
                "view_markers": [v.marker for v in self.views]}

    def save(self, folder: str) -> None:
        path = os.path.join(folder, self.location)
        save_views(path, self.views)
        save_arrays(os.path.join(path, REMOVED_FILE), REMOVED_VERSION, removed=self.removed)

    @classmethod
    def load(cls, folder: str, meta: dict) -> "NgramConstraint":
        path = os.path.join(folder, cls.location)
        views = load_views(path, meta["views"], meta["view_markers"])
        removed = None
        if os.path.exists(os.path.join(path, REMOVED_FILE)):  # indexes written before removals have none
            removed = load_arrays(os.path.join(path, REMOVED_FILE), "removed documents", REMOVED_VERSION,
                                  {"removed"})["removed"]
        return cls(views, removed)

    @property
    def num_docs(self) -> int:
        return len(self.removed)

    def live_docs(self) -> np.ndarray:
        return ~self.removed

    def add(self, docs, table, backbone, scheme) -> "NgramConstraint":
        """Every view's suffix array rebuilt with the new documents' sequences (seconds)."""
        tokens = tokenise_views(backbone, scheme.view_texts(docs))
        grown = extend_views(self.views, tokens, first_doc=self.num_docs)
        removed = np.concatenate([self.removed, np.zeros(len(docs), dtype=bool)])
        return NgramConstraint(list(grown), removed, tokens=(tuple(docs["docno"]), tokens))

    def remove(self, doc_indices: Sequence[int]) -> None:
        self.removed = self.removed.copy()
        self.removed[np.asarray(doc_indices, dtype=np.int64)] = True

    def examples(self, docs, table, backbone, scheme, seed: int, topics=None, qrels=None) -> list:
        if self._tokens is not None and self._tokens[0] == tuple(docs["docno"]):
            tokens = self._tokens[1]
        else:
            tokens = tokenise_views(backbone, scheme.view_texts(docs))
        return ngram_examples(docs, tokens, [v.marker for v in self.views], backbone, scheme.span_length, seed,
                              topics=topics, qrels=qrels)

    def target_of(self, table, backbone, scheme) -> Callable[[str, str], list[int]]:
        return replay_targets(self.views, backbone, scheme.span_length, table.docnos)

    def _strings(self, backbone, ngrams) -> list[str]:
        """The generated n-grams as text, prefixed by their view's name when there are several."""
        prefix = len(self.views) > 1
        return [(f"{self.views[g.view].name}: " if prefix else "") + backbone.tokenizer.decode(list(g.tokens))
                for g in ngrams]

    def decode(self, decoder: Any, backbone, queries: list[str], num_results: int, max_steps: int) -> list[list[Hit]]:
        extra = int(self.removed.sum())  # removed documents are dropped after aggregation
        found = decoder.decode(backbone, self.views, queries, num_results + extra, max_steps)
        return [[(d, s, {"ngrams": self._strings(backbone, g)}) for d, s, g in res if not self.removed[d]][:num_results]
                for res in found]

    def score(self, decoder: Any, backbone, queries: list[str], candidates: list[list[int]],
              table) -> list[list[tuple[float, dict]]]:
        """Each candidate's aggregated weight of the n-grams generated for its query (0 when none matches)."""
        found = decoder.decode(backbone, self.views, queries, self.num_docs, None)
        out = []
        for res, cands in zip(found, candidates):
            by_doc = {d: (s, g) for d, s, g in res}
            out.append([(float(s), {"ngrams": self._strings(backbone, g)})
                        for s, g in (by_doc.get(i, (0.0, [])) for i in cands)])
        return out
