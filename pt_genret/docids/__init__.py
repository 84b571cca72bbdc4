"""DocID schemes. A new scheme is one module plus one line in :data:`pt_genret.registry.SCHEMES`."""
from __future__ import annotations

import json
import os

import numpy as np

from pt_genret.docids.base import DocIdScheme, DocIdTable
from pt_genret.registry import SCHEMES


def get_scheme(scheme: str | DocIdScheme, seed: int = 42, **kwargs) -> DocIdScheme:
    """A scheme object from a name (with constructor ``kwargs``) or the object itself."""
    if isinstance(scheme, DocIdScheme):
        return scheme
    return SCHEMES.create(scheme, seed=seed, **kwargs)


def load_scheme(path: str) -> DocIdScheme:
    """Load a fitted scheme saved by :meth:`DocIdScheme.save`."""
    with open(os.path.join(path, "scheme.json")) as f:
        meta = json.load(f)
    config = {**getattr(SCHEMES[meta["name"]], "legacy_defaults", {}), **meta["config"]}
    scheme = get_scheme(meta["name"], **config)
    with np.load(os.path.join(path, "scheme_state.npz"), allow_pickle=False) as arrays:
        scheme.load_state(dict(arrays))
    scheme.fitted = True
    return scheme


__all__ = ["SCHEMES", "DocIdScheme", "DocIdTable", "get_scheme", "load_scheme"]
