"""Views of an n-gram index (SEAL, MINDER): their tokenisation, suffix arrays and training targets.

A *view* is a set of texts per document whose substrings identify that document. Each view
is tokenised with the backbone's own tokenizer and indexed by a
:class:`~pt_genret.constraints.NgramIndex`; with several views a marker token (a code token)
precedes the n-gram in training targets and in decoding.

Training targets are spans of ``span_length`` tokens that start at a word boundary, cut from
the token sequences that were indexed, so every target is a valid n-gram of its view:

* indexing example: the document's text → a span at a seeded random position;
* pseudo-query / training query: the query → the span of the document with the most tokens
  in common with the query (SEAL's choice of target); MINDER cycles its queries through the
  views: title, body span, another pseudo-query of the document.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from pt_genret.backbone import Backbone
from pt_genret.constraints.ngram import NgramIndex
from pt_genret.documents import full_texts
from pt_genret.training import Example


@dataclass
class ViewTokens:
    """One view tokenised: sequences, the document of each, and where its words start."""

    name: str
    sequences: list[list[int]]
    owners: np.ndarray
    word_starts: list[np.ndarray]

    def of_document(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for i, d in enumerate(self.owners):
            out.setdefault(int(d), []).append(i)
        return out


@dataclass
class NgramView:
    """A view ready for decoding: its name, its marker token (``None`` for a single view), its index."""

    name: str
    marker: int | None
    index: NgramIndex


def tokenise_views(backbone: Backbone, texts: dict[str, list[list[str]]], max_tokens: int = 512) -> list[ViewTokens]:
    """Tokenise every view's texts (no special tokens, at most ``max_tokens`` per text)."""
    out = []
    for name, per_doc in texts.items():
        flat = [t for doc in per_doc for t in doc]
        owners = np.array([d for d, doc in enumerate(per_doc) for _ in doc], dtype=np.int64)
        enc = backbone.tokenizer(flat, add_special_tokens=False, truncation=True, max_length=max_tokens)
        sequences, starts = [], []
        for i, ids in enumerate(enc["input_ids"]):
            words = enc.word_ids(i)
            first = [j for j in range(len(ids)) if j == 0 or words[j] != words[j - 1] or words[j] is None]
            if not ids:
                raise ValueError(f"text {flat[i][:40]!r} of document position {owners[i]} has no tokens in view {name!r}")
            sequences.append(list(ids))
            starts.append(np.array(first, dtype=np.int64))
        out.append(ViewTokens(name, sequences, owners, starts))
    return out


def view_markers(backbone: Backbone, num_views: int) -> list[int | None]:
    """Marker token of each view: the code tokens ``<c0>..`` when there are several views."""
    if num_views == 1:
        return [None]
    backbone.ensure_codes(num_views)
    return [backbone.code_offset + i for i in range(num_views)]


def build_views(tokens: list[ViewTokens], markers: list[int | None], vocab_size: int) -> list[NgramView]:
    return [NgramView(v.name, m, NgramIndex.build(v.sequences, vocab_size, v.owners)) for v, m in zip(tokens, markers)]


class NgramViews(list):
    """The views of one index, saved together as a folder (``ngrams/<view>.npz``)."""

    def save(self, folder: str) -> None:
        save_views(folder, self)


def view_sequences(view: NgramView) -> tuple[list[list[int]], np.ndarray]:
    """The token sequences a view indexed and the document of each, read back from its suffix
    array's text (sequences end at the separators)."""
    idx = view.index
    ends = np.flatnonzero(idx.text == idx.separator)
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64)
    return [idx.text[s:e].tolist() for s, e in zip(starts, ends)], idx.doc_of[starts]


def indexed_tokens(views: list[NgramView]) -> list[ViewTokens]:
    """The views' indexed sequences as :class:`ViewTokens` (word starts unknown: every token)."""
    out = []
    for v in views:
        seqs, owners = view_sequences(v)
        out.append(ViewTokens(v.name, seqs, owners, [np.arange(len(s), dtype=np.int64) for s in seqs]))
    return out


def extend_views(views: list[NgramView], new: list[ViewTokens], first_doc: int) -> NgramViews:
    """The views with the new documents' sequences added (their documents numbered from
    ``first_doc``): each suffix array is rebuilt over old and new sequences, which costs
    seconds even for large corpora, so n-gram indexes take new documents without training
    anything but the new documents' examples."""
    out = NgramViews()
    for v, t in zip(views, new):
        seqs, owners = view_sequences(v)
        index = NgramIndex.build(seqs + t.sequences, v.index.vocab_size, np.concatenate([owners, t.owners + first_doc]))
        out.append(NgramView(v.name, v.marker, index))
    return out


def replay_targets(views: list[NgramView], backbone: Backbone, span_length: int,
                   docnos: list[str]) -> "Callable[[str, str], list[int]]":
    """``target(query, docno)``: the n-gram span of an indexed document that best matches a
    query (SEAL's target), for replaying old documents' pseudo-queries during an update."""
    tokens = indexed_tokens(views)
    targets = _Targets(tokens, [v.marker for v in views], span_length, backbone)
    position, body = {d: i for i, d in enumerate(docnos)}, targets.body()
    return lambda query, docno: targets.for_query(position[docno], query, body, skip=query)


def save_views(folder: str, views: list[NgramView]) -> None:
    os.makedirs(folder, exist_ok=True)
    for v in views:
        v.index.save(os.path.join(folder, f"{v.name}.npz"))


def load_views(folder: str, names: list[str], markers: list[int | None]) -> list[NgramView]:
    views = []
    for name, marker in zip(names, markers):
        path = os.path.join(folder, f"{name}.npz")
        if not os.path.exists(path):
            raise FileNotFoundError(f"n-gram index of view {name!r} is missing: {path}")
        views.append(NgramView(name, marker, NgramIndex.load(path)))
    return views


def _span(seq: list[int], starts: np.ndarray, length: int, start: int) -> list[int]:
    return seq[int(starts[start]): int(starts[start]) + length]


def best_span(seq: list[int], starts: np.ndarray, length: int, query_tokens: set[int]) -> list[int]:
    """The span of ``length`` tokens, starting at a word, with the most tokens of the query."""
    if not query_tokens or len(starts) == 0:
        return seq[:length]
    hits = np.concatenate([[0], np.cumsum(np.isin(np.asarray(seq), list(query_tokens)))])
    ends = np.minimum(starts + length, len(seq))
    return seq[int(starts[np.argmax(hits[ends] - hits[starts])]):][:length]


class _Targets:
    """Target spans of one document, for the queries and texts that point at it."""

    def __init__(self, views: list[ViewTokens], markers: list[int | None], span_length: int,
                 backbone: Backbone) -> None:
        self.views, self.markers, self.length, self.tok = views, markers, span_length, backbone.tokenizer
        self.owned = [v.of_document() for v in views]

    def _mark(self, view: int, span: list[int]) -> list[int]:
        return ([self.markers[view]] if self.markers[view] is not None else []) + span

    def body(self) -> int:
        """The view that holds the document text (SEAL's only view, MINDER's ``body``)."""
        names = [v.name for v in self.views]
        return names.index("body") if "body" in names else 0

    def random_span(self, doc: int, rng: random.Random) -> list[int]:
        view = self.body()
        seq_i = self.owned[view][doc][0]
        seq, starts = self.views[view].sequences[seq_i], self.views[view].word_starts[seq_i]
        return self._mark(view, _span(seq, starts, self.length, rng.randrange(len(starts))))

    def for_query(self, doc: int, query: str, view: int, skip: str | None = None) -> list[int]:
        qtok = set(self.tok(query, add_special_tokens=False)["input_ids"])
        seqs = self.owned[view][doc]
        if self.views[view].name == "query" and len(seqs) > 1 and skip is not None:
            # another pseudo-query of the document, not the source itself
            source = self.tok(skip, add_special_tokens=False, truncation=True, max_length=512)["input_ids"]
            seqs = [i for i in seqs if self.views[view].sequences[i] != source] or seqs
        best, score = None, -1
        for i in seqs:
            seq, starts = self.views[view].sequences[i], self.views[view].word_starts[i]
            span = best_span(seq, starts, self.length, qtok)
            s = len(qtok & set(span))
            if s > score:
                best, score = span, s
        return self._mark(view, best)


def ngram_examples(docs: pd.DataFrame, views: list[ViewTokens], markers: list[int | None], backbone: Backbone,
                   span_length: int, seed: int, topics: pd.DataFrame | None = None,
                   qrels: pd.DataFrame | None = None, max_words: int = 64) -> list[Example]:
    """Indexing, pseudo-query and (optional) supervised examples with n-gram targets."""
    targets = _Targets(views, markers, span_length, backbone)
    body, out = targets.body(), []
    position = {d: i for i, d in enumerate(docs["docno"].astype(str))}
    for i, (docno, text) in enumerate(zip(docs["docno"].astype(str), full_texts(docs))):
        rng = random.Random(f"{seed}:{docno}")
        out.append(Example(" ".join(text.split()[:max_words]), targets.random_span(i, rng), "index"))
    if "querygen" in docs.columns:
        for i, queries in enumerate(docs["querygen"]):
            for j, q in enumerate(q for q in queries if q.strip()):
                view = j % len(views) if len(views) > 1 else body
                out.append(Example(q, targets.for_query(i, q, view, skip=q), "query"))
    if topics is not None and qrels is not None:
        qrels = qrels.assign(qid=qrels["qid"].astype(str), docno=qrels["docno"].astype(str))
        rel = qrels[qrels["label"] > 0].merge(topics.assign(qid=topics["qid"].astype(str))[["qid", "query"]], on="qid")
        for j, (q, d) in enumerate(zip(rel["query"], rel["docno"])):
            if d in position:
                view = j % len(views) if len(views) > 1 else body
                out.append(Example(q, targets.for_query(position[d], q, view, skip=q), "train"))
    return out
