"""BM25-term docids: the document's terms with the highest BM25 weight, best first.

A term ``w`` of document ``d`` weighs::

    idf(w) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl)),
    idf(w) = log(1 + (N - df(w) + 0.5) / (df(w) + 0.5)),

with ``tf`` the term's frequency in ``d``, ``|d|`` the document's length and ``avgdl`` the
fitted corpus's average length (both counted in content words), ``N`` and ``df`` from the
fitted corpus, ``k1 = 0.9`` and ``b = 0.4`` (Anserini's defaults). Terms are the content words
of :func:`~pt_genret.docids.lexical.content_words` (lower-cased, no English stopwords, no
one-letter tokens) of the title and text. Ties keep the order of first occurrence. Terms
unseen at fit time (in new documents) get ``df = 0``, the highest idf.
"""
from __future__ import annotations

import math
from collections import Counter

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pt_genret.docids.base import DocIdScheme
from pt_genret.docids.lexical import content_words
from pt_genret.documents import full_texts
from pt_genret.options import option


@dataclass(kw_only=True, eq=False)
class Bm25TermScheme(DocIdScheme):
    """The ``num_terms`` (default 6) terms with the highest BM25 weight in the document."""

    name = "bm25_terms"
    kind = "text"

    num_terms: int = option(6, positive=True)
    k1: float = option(0.9)
    b: float = option(0.4, interval="[0, 1]")
    df: dict[str, int] = field(default_factory=dict, init=False, repr=False)
    num_docs: int = field(default=0, init=False, repr=False)
    avgdl: float = field(default=0.0, init=False, repr=False)

    def fit(self, docs: pd.DataFrame) -> "Bm25TermScheme":
        df: Counter[str] = Counter()
        total = 0
        for text in full_texts(docs):
            terms = content_words(text)
            total += len(terms)
            df.update(set(terms))
        self.df, self.num_docs = dict(df), len(docs)
        self.avgdl = total / len(docs) if len(docs) else 0.0
        self.fitted = True
        return self

    def idf(self, term: str) -> float:
        df = self.df.get(term, 0)
        return math.log(1.0 + (self.num_docs - df + 0.5) / (df + 0.5))

    def weights(self, text: str) -> dict[str, float]:
        """BM25 weight of each content word of ``text``, in order of first occurrence."""
        terms = content_words(text)
        tf = Counter(terms)
        norm = 1.0 - self.b + self.b * (len(terms) / self.avgdl if self.avgdl > 0 else 1.0)
        return {w: self.idf(w) * tf[w] * (self.k1 + 1.0) / (tf[w] + self.k1 * norm) for w in tf}

    def terms(self, text: str) -> list[str]:
        """Content words of ``text``, highest BM25 weight first, ties by first occurrence."""
        w = self.weights(text)
        order = {t: i for i, t in enumerate(w)}  # Counter keeps first-occurrence order
        return sorted(w, key=lambda t: (-w[t], order[t]))

    def propose(self, docs: pd.DataFrame) -> list[str]:
        return [" ".join(self.terms(t)[: self.num_terms]) or "untitled" for t in full_texts(docs)]

    def state(self) -> dict[str, np.ndarray]:
        terms = sorted(self.df)
        return {"num_docs": np.array([self.num_docs], dtype=np.int64),
                "avgdl": np.array([self.avgdl], dtype=np.float64),
                "terms": np.array(terms, dtype=np.str_),
                "df": np.array([self.df[t] for t in terms], dtype=np.int64)}

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.num_docs = int(arrays["num_docs"][0])
        self.avgdl = float(arrays["avgdl"][0])
        self.df = dict(zip(arrays["terms"].tolist(), arrays["df"].tolist()))
        self.fitted = True
