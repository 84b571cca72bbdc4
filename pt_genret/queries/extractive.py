"""Offline pseudo-queries cut from the document itself.

No model and no download: each document yields up to about a hundred distinct queries of
several kinds (its title, its sentences and clauses, key phrases ranked by tf-idf over the
corpus being transformed, keyword pairs and triples, question-like templates, random windows
of content words, ...). These stand in for the questions a user would ask, so the model
learns query → docid and not only text → docid.

The kinds are interleaved round-robin, so any prefix of a document's list is varied: the
first five queries are one title, one sentence, one key phrase, one window and one question,
not five windows.
"""
from __future__ import annotations

import itertools
import math
import random
import re
from collections import Counter
from typing import Iterable, Iterator, Sequence

import pandas as pd
import pyterrier as pt
import pyterrier_alpha as pta
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from pt_genret.docids.lexical import content_words, words
from pt_genret.documents import full_texts, titles

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_CLAUSE = re.compile(r"[,;:()\[\]{}\"“”]+|\s[-–—]+\s")

#: Every kind, in the default round-robin order.
KINDS = ("title", "sentence", "keyphrase", "window", "question", "keywords", "terms", "title_keyphrase", "clause")

# question-like templates over key phrases: {a} and {b} are two different key phrases
_TEMPLATES_1 = ("what is {a}", "{a} meaning", "how does {a} work", "{a} explained", "information about {a}",
                "{a} overview")
_TEMPLATES_2 = ("{a} {b} effect", "how does {a} affect {b}", "{a} and {b}", "{a} in {b}",
                "relationship between {a} and {b}", "{a} vs {b}")


def _is_content(w: str) -> bool:
    return len(w) > 1 and w not in ENGLISH_STOP_WORDS


def _key(query: str) -> str:
    """Deduplication key: lower-cased words (case, spacing and punctuation do not make a new query)."""
    return " ".join(words(query)) or " ".join(query.lower().split())


class ExtractiveQueryGenerator(pt.Transformer):
    """Adds a ``querygen`` column: a list of up to ``num_queries`` distinct pseudo-queries per document.

    Queries are drawn round-robin from ``kinds`` (default :data:`KINDS`, in that order):

    * ``title``: the title (at most once);
    * ``sentence``: each sentence of the text with at least ``min_words`` words, in order, cut to
      ``2 × max_words`` words;
    * ``keyphrase``: runs of 1–3 consecutive content words (no stopword or punctuation between
      them), best first by tf-idf, where document frequencies come from the frame being
      transformed (or from :meth:`fit_corpus`);
    * ``window``: ``min_words``–``max_words`` consecutive content words at random positions;
    * ``question``: templates over key phrases (``what is <a>``, ``<a> <b> effect``,
      ``how does <a> affect <b>``, ...);
    * ``keywords``: pairs and triples of the top tf-idf words, in document order;
    * ``terms``: a sentence's content words (a keyword-style query), cut to ``max_words``;
    * ``title_keyphrase``: the title (cut to ``max_words`` words) followed by a key phrase that
      shares no word with it;
    * ``clause``: parts of sentences between commas, semicolons, colons, brackets or dashes,
      with at least ``min_words`` words.

    Duplicates (same words, ignoring case and punctuation) are dropped, so a short document may
    get fewer than ``num_queries``. Random choices are seeded by ``seed`` and the docno, so a
    document's queries do not depend on the order of the frame, only (through document
    frequencies) on which documents are in it. ``record_kinds=True`` also adds a
    ``querygen_kind`` column: the kind of each query, aligned with ``querygen``.
    """

    def __init__(self, num_queries: int = 5, min_words: int = 3, max_words: int = 8, seed: int = 42,
                 kinds: Sequence[str] | None = None, record_kinds: bool = False, max_keywords: int = 8) -> None:
        self.num_queries = num_queries
        self.min_words = min_words
        self.max_words = max_words
        self.seed = seed
        self.kinds = tuple(KINDS if kinds is None else kinds)
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown or not self.kinds:
            raise ValueError(f"unknown query kinds {unknown}; choose from {KINDS}")
        self.record_kinds = record_kinds
        self.max_keywords = max_keywords
        self.num_docs: int | None = None  # corpus statistics frozen by fit_corpus, else per frame
        self.df: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"ExtractiveQueryGenerator(num_queries={self.num_queries}, seed={self.seed})"

    # corpus statistics ------------------------------------------------------------------

    @staticmethod
    def document_frequencies(texts: Iterable[str]) -> tuple[int, dict[str, int]]:
        """Number of texts and each content word's document frequency among them."""
        df: Counter[str] = Counter()
        n = 0
        for text in texts:
            df.update(set(content_words(text)))
            n += 1
        return n, dict(df)

    def fit_corpus(self, docs: pd.DataFrame) -> "ExtractiveQueryGenerator":
        """Freeze document frequencies from ``docs`` (e.g. the whole corpus), so that later frames,
        such as a handful of new documents, rank key phrases against the corpus and not
        against themselves."""
        self.num_docs, self.df = self.document_frequencies(full_texts(docs))
        return self

    # one document -----------------------------------------------------------------------

    def queries_for(self, docno: str, title: str, text: str, num_docs: int = 1,
                    df: dict[str, int] | None = None) -> list[str]:
        """The pseudo-queries of one document (``num_docs, df``: corpus statistics; by default the
        document alone, so tf-idf is term frequency)."""
        return [q for q, _ in self.queries_with_kinds(docno, title, text, num_docs, df)]

    def key_phrases(self, docno: str, title: str, text: str, num_docs: int = 1,
                    df: dict[str, int] | None = None) -> list[str]:
        """The document's key phrases (runs of 1-3 content words), best first by tf-idf coverage."""
        return list(_Doc(self, docno, title, text, num_docs, df or {})._rank()[0])

    def queries_with_kinds(self, docno: str, title: str, text: str, num_docs: int = 1,
                           df: dict[str, int] | None = None) -> list[tuple[str, str]]:
        """``(query, kind)`` pairs of one document, in round-robin order."""
        doc = _Doc(self, docno, title, text, num_docs, df or {})
        streams = [(kind, iter(getattr(doc, kind)())) for kind in self.kinds]
        out: list[tuple[str, str]] = []
        seen: set[str] = set()
        while streams and len(out) < self.num_queries:
            alive = []
            for kind, stream in streams:
                if len(out) >= self.num_queries:
                    break
                for query in stream:  # the next query of this kind that is new
                    key = _key(query)
                    if key and key not in seen:
                        seen.add(key)
                        out.append((query, kind))
                        alive.append((kind, stream))
                        break
            streams = alive
        if not out and self.num_queries > 0:
            fallback = " ".join(text.split()[: self.max_words]) or title.strip()
            if fallback:
                out.append((fallback, "text"))
        return out

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        pta.validate.document_frame(inp, ["docno", "text"])
        out = inp.copy()
        texts = inp["text"].fillna("").astype(str).tolist()
        heads = titles(inp).tolist()
        if self.num_docs is not None:
            num_docs, df = self.num_docs, self.df
        else:
            num_docs, df = self.document_frequencies(full_texts(inp))
        pairs = [self.queries_with_kinds(str(d), t, x, num_docs, df) for d, t, x in zip(inp["docno"], heads, texts)]
        out["querygen"] = [[q for q, _ in p] for p in pairs]
        if self.record_kinds:
            out["querygen_kind"] = [[k for _, k in p] for p in pairs]
        return out


class _Doc:
    """One document's parse and its lazy query streams, one method per kind."""

    def __init__(self, gen: ExtractiveQueryGenerator, docno: str, title: str, text: str, num_docs: int,
                 df: dict[str, int]) -> None:
        self.gen, self.docno = gen, docno
        self.head = " ".join(title.split())
        self.text = text
        self.num_docs, self.df = num_docs, df
        self.sentences = [s for s in (" ".join(s.split()) for s in _SENTENCE.split(text.strip())) if s]
        self._ranked: tuple[list[str], list[str], dict[str, int]] | None = None

    def _rng(self, kind: str) -> random.Random:
        return random.Random(f"{self.gen.seed}:{self.docno}:{kind}")

    # key phrases and keywords, ranked once per document
    def _rank(self) -> tuple[list[str], list[str], dict[str, int]]:
        """Key phrases best first, the top ``max_keywords`` words best first, first positions."""
        if self._ranked is not None:
            return self._ranked
        runs: list[list[str]] = []  # runs of content words between stopwords and punctuation
        for part in [self.head] + self.sentences:
            for clause in _CLAUSE.split(part):
                run: list[str] = []
                for w in words(clause):
                    if _is_content(w):
                        run.append(w)
                    elif run:
                        runs.append(run)
                        run = []
                if run:
                    runs.append(run)
        tf: Counter[str] = Counter()
        first: dict[str, int] = {}
        phrases: Counter[tuple[str, ...]] = Counter()
        phrase_first: dict[tuple[str, ...], int] = {}
        pos = 0
        for run in runs:
            for i, w in enumerate(run):
                tf[w] += 1
                first.setdefault(w, pos + i)
                for n in (1, 2, 3):
                    if i + n <= len(run):
                        p = tuple(run[i:i + n])
                        phrases[p] += 1
                        phrase_first.setdefault(p, pos + i)
            pos += len(run)
        n_docs = max(self.num_docs, 1)
        # a word's weight: sublinear tf times idf (the idf of KeywordScheme; unseen words get the highest)
        weight = {w: (1.0 + math.log(c)) * (math.log((n_docs + 1) / (self.df.get(w, 0) + 1)) + 1.0)
                  for w, c in tf.items()}

        def score(p: tuple[str, ...]) -> tuple[float, int]:
            # mean word weight; longer and repeated phrases favoured; ties broken by position
            s = sum(weight[w] for w in p) / len(p) * (1 + 0.5 * (len(p) - 1)) * (1 + 0.5 * math.log(phrases[p]))
            return (-s, phrase_first[p])

        keyphrases: list[str] = []
        chosen: list[set[str]] = []
        for p in sorted(phrases, key=score):
            if len(set(p)) < len(p):
                continue  # "cell cell"
            ws = set(p)
            if any(ws <= c for c in chosen):
                continue  # a part of a better phrase: "network" after "neural network"
            chosen.append(ws)
            keyphrases.append(" ".join(p))
            if len(keyphrases) >= 60:
                break
        top = sorted(tf, key=lambda w: (-weight[w], first[w]))[: self.gen.max_keywords]
        self._ranked = (keyphrases, top, first)
        return self._ranked

    # the kinds ---------------------------------------------------------------------------
    def title(self) -> Iterator[str]:
        if self.head:
            yield self.head

    def sentence(self) -> Iterator[str]:
        for s in self.sentences:
            ws = s.split()
            if len(ws) >= self.gen.min_words:
                yield " ".join(ws[: 2 * self.gen.max_words])

    def clause(self) -> Iterator[str]:
        for s in self.sentences:
            parts = [" ".join(c.split()) for c in _CLAUSE.split(s)]
            if len(parts) < 2:
                continue
            for c in parts:
                ws = c.split()
                if len(ws) >= self.gen.min_words:
                    yield " ".join(ws[: 2 * self.gen.max_words])

    def terms(self) -> Iterator[str]:
        for s in self.sentences:
            ws = content_words(s)
            if len(ws) >= 2:
                yield " ".join(ws[: self.gen.max_words])

    def keyphrase(self) -> Iterator[str]:
        yield from self._rank()[0]

    def title_keyphrase(self) -> Iterator[str]:
        head = " ".join(self.head.split()[: self.gen.max_words])
        if not head:
            return
        in_title = set(words(head))
        for kp in self._rank()[0]:
            if in_title.isdisjoint(kp.split()):
                yield f"{head} {kp}"

    def keywords(self) -> Iterator[str]:
        # all pairs and triples among the best j keywords come before those that need keyword
        # j + 1; each combination's words are in document order, which reads more naturally
        _, top, first = self._rank()
        for j in range(1, len(top)):
            for size in (2, 3):
                for rest in itertools.combinations(top[:j], size - 1):
                    yield " ".join(sorted((*rest, top[j]), key=first.__getitem__))

    def question(self) -> Iterator[str]:
        kps = self._rank()[0][:20]
        if not kps:
            return
        rng = self._rng("question")
        for i, a in enumerate(kps):
            others = kps[:i] + kps[i + 1:]
            if others and rng.random() < 0.5:
                b = rng.choice(others[:8])
                yield rng.choice(_TEMPLATES_2).format(a=a, b=b)
            yield rng.choice(_TEMPLATES_1).format(a=a)

    def window(self) -> Iterator[str]:
        terms = content_words(self.text)
        lo, hi = self.gen.min_words, self.gen.max_words
        if len(terms) < lo:
            return
        rng = random.Random(f"{self.gen.seed}:{self.docno}")  # as before: per-document seed
        for _ in range(4 * max(self.gen.num_queries, 1)):
            n = rng.randint(lo, min(hi, len(terms)))
            start = rng.randint(0, len(terms) - n)
            yield " ".join(terms[start:start + n])
