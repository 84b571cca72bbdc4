"""pt-genret: generative retrieval for PyTerrier.

A generative retriever is a seq2seq model that reads a query and writes the identifier
(docid) of a relevant document, decoding under a constraint that only admits docids that
exist. This package indexes a corpus into such a model (:class:`GenIndex`), retrieves and
re-ranks with it (:class:`GenRetriever`) and composes with the rest of PyTerrier.
"""
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "GenIndex": "pt_genret.index",
    "GenIndexer": "pt_genret.index",
    "GenRetriever": "pt_genret.retriever",
    "load_dataset": "pt_genret.datasets",
}


def __getattr__(name: str) -> Any:
    """Import the heavy modules (torch, transformers) only when first used."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pt_genret' has no attribute {name!r}")


__all__ = ["GenIndex", "GenIndexer", "GenRetriever", "load_dataset", "__version__"]
