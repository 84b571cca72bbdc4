"""Text docids: the document's title, or a short keyword sentence.

Text identifiers are spelled with the backbone's own tokenizer, so a model that knows the
language can write identifiers of documents it never saw: the family the seed finds to
generalise to new documents.
"""
from __future__ import annotations

import math
import re
from collections import Counter

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from pt_genret.docids.base import DocIdScheme
from pt_genret.documents import full_texts, titles
from pt_genret.options import option

_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")  # letters and digits of any script


def words(text: str) -> list[str]:
    """Lower-cased word tokens."""
    return _WORD.findall(text.lower())


def content_words(text: str) -> list[str]:
    """Word tokens without stopwords and one-letter tokens."""
    return [w for w in words(text) if len(w) > 1 and w not in ENGLISH_STOP_WORDS]


@dataclass(kw_only=True, eq=False)
class TitleScheme(DocIdScheme):
    """The title, lower-cased and cut to ``max_words``; the text's first words when untitled."""

    name = "title"
    kind = "text"

    max_words: int = option(12, positive=True)

    def fit(self, docs: pd.DataFrame) -> "TitleScheme":
        self.fitted = True
        return self

    def propose(self, docs: pd.DataFrame) -> list[str]:
        out = []
        for title, text in zip(titles(docs), docs["text"].fillna("")):
            ws = words(title) or words(text)
            out.append(" ".join(ws[: self.max_words]) or "untitled")
        return out


@dataclass(kw_only=True, eq=False)
class CorpusFrequencyScheme(DocIdScheme):
    """A scheme whose fitted state is the corpus's document frequencies (``df``, ``num_docs``),
    saved and restored with the index (the keyword and generated-sentence schemes)."""

    df: dict[str, int] = field(default_factory=dict, init=False, repr=False)
    num_docs: int = field(default=0, init=False, repr=False)

    def state(self) -> dict[str, np.ndarray]:
        terms = sorted(self.df)
        return {"num_docs": np.array([self.num_docs], dtype=np.int64),
                "terms": np.array(terms, dtype=np.str_), "df": np.array([self.df[t] for t in terms], dtype=np.int64)}

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.num_docs = int(arrays["num_docs"][0])
        self.df = dict(zip(arrays["terms"].tolist(), arrays["df"].tolist()))
        self.fitted = True


@dataclass(kw_only=True, eq=False)
class KeywordScheme(CorpusFrequencyScheme):
    """The ``num_terms`` terms that best cover the document, best first.

    A term's coverage is its frequency in the document times its inverse document frequency
    in the fitted corpus, so the sentence names what is frequent here and rare elsewhere.
    Unseen terms in new documents get the highest idf.
    """

    name = "keywords"
    kind = "text"

    num_terms: int = option(6, positive=True)

    def fit(self, docs: pd.DataFrame) -> "KeywordScheme":
        df: Counter[str] = Counter()
        for text in full_texts(docs):
            df.update(set(content_words(text)))
        self.df, self.num_docs = dict(df), len(docs)
        self.fitted = True
        return self

    def keywords(self, text: str) -> list[str]:
        tf = Counter(content_words(text))
        first = {w: i for i, w in reversed(list(enumerate(content_words(text))))}

        def coverage(w: str) -> tuple[float, int]:
            idf = math.log((self.num_docs + 1) / (self.df.get(w, 0) + 1)) + 1.0
            return (-tf[w] * idf, first[w])  # ties broken by first occurrence: deterministic

        return sorted(tf, key=coverage)

    def propose(self, docs: pd.DataFrame) -> list[str]:
        return [" ".join(self.keywords(t)[: self.num_terms]) or "untitled" for t in full_texts(docs)]
