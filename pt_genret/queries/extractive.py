"""Offline pseudo-queries cut from the document itself.

No model and no download: each document yields its title, its leading sentences, and short
windows of content words sampled with a seeded generator. These stand in for the questions
a user would ask, so the model learns query → docid and not only text → docid.
"""
from __future__ import annotations

import random
import re

import pandas as pd
import pyterrier as pt
import pyterrier_alpha as pta

from pt_genret.docids.lexical import content_words
from pt_genret.documents import titles

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


class ExtractiveQueryGenerator(pt.Transformer):
    """Adds a ``querygen`` column: a list of ``num_queries`` pseudo-queries per document."""

    def __init__(self, num_queries: int = 5, min_words: int = 3, max_words: int = 8, seed: int = 42) -> None:
        self.num_queries = num_queries
        self.min_words = min_words
        self.max_words = max_words
        self.seed = seed

    def queries_for(self, docno: str, title: str, text: str) -> list[str]:
        rng = random.Random(f"{self.seed}:{docno}")  # per-document seed: order-independent
        out: list[str] = []
        if title.strip():
            out.append(title.strip())
        for sent in _SENTENCE.split(text.strip())[:2]:
            ws = sent.split()
            if len(ws) >= self.min_words:
                out.append(" ".join(ws[: 2 * self.max_words]))
        terms = content_words(text)
        while len(out) < self.num_queries and len(terms) >= self.min_words:
            n = rng.randint(self.min_words, min(self.max_words, len(terms)))
            start = rng.randint(0, len(terms) - n)
            out.append(" ".join(terms[start:start + n]))
        if not out:
            out.append(" ".join(text.split()[: self.max_words]) or title)
        return out[: self.num_queries]

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        pta.validate.document_frame(inp, ["docno", "text"])
        out = inp.copy()
        out["querygen"] = [self.queries_for(str(d), t, x) for d, t, x in zip(inp["docno"], titles(inp), inp["text"].fillna(""))]
        return out
