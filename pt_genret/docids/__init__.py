"""DocID schemes. A new scheme is one module plus one line in :data:`SCHEMES`."""
from __future__ import annotations

import json
import os

import numpy as np

from pt_genret.docids.base import DocIdScheme, DocIdTable
from pt_genret.docids.bm25_terms import Bm25TermScheme
from pt_genret.docids.lexical import KeywordScheme, TitleScheme
from pt_genret.docids.ngrams import MultiViewScheme, NgramScheme
from pt_genret.docids.numeric import AtomicScheme, NaiveScheme
from pt_genret.docids.quantised import ProductQuantisedScheme, ResidualQuantisedScheme
from pt_genret.docids.semantic import SemanticScheme
from pt_genret.docids.url import UrlScheme

SCHEMES: dict[str, type[DocIdScheme]] = {
    "atomic": AtomicScheme,
    "naive": NaiveScheme,
    "semantic": SemanticScheme,
    "title": TitleScheme,
    "keywords": KeywordScheme,
    "rq": ResidualQuantisedScheme,
    "pq": ProductQuantisedScheme,
    "url": UrlScheme,
    "bm25_terms": Bm25TermScheme,
    "ngrams": NgramScheme,
    "multiview": MultiViewScheme,
}


def get_scheme(scheme: str | DocIdScheme, seed: int = 42, **kwargs) -> DocIdScheme:
    """A scheme object from a name (with constructor ``kwargs``) or the object itself."""
    if isinstance(scheme, DocIdScheme):
        return scheme
    if scheme not in SCHEMES:
        raise ValueError(f"unknown docid scheme {scheme!r}; choose one of {sorted(SCHEMES)}")
    return SCHEMES[scheme](seed=seed, **kwargs)


def load_scheme(path: str) -> DocIdScheme:
    """Load a fitted scheme saved by :meth:`DocIdScheme.save`."""
    with open(os.path.join(path, "scheme.json")) as f:
        meta = json.load(f)
    scheme = get_scheme(meta["name"], **meta["config"])
    with np.load(os.path.join(path, "scheme_state.npz"), allow_pickle=False) as arrays:
        scheme.load_state(dict(arrays))
    scheme.fitted = True
    return scheme


__all__ = ["SCHEMES", "DocIdScheme", "DocIdTable", "get_scheme", "load_scheme"]
