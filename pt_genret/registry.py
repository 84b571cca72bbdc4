"""The registries: decoders, docid schemes, constraints and update methods, by name.

Every list of names (CLI choices and help, error messages, docs) is read from here, and a new
decoder, scheme, constraint or update method is one module plus one line below. Entries are
``"module:attribute"`` strings imported on first use, so reading the names (``pt-genret --help``)
imports neither torch nor transformers; :meth:`Registry.register` also takes the object itself.
"""
from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import Any, Callable


class Registry(MutableMapping):
    """Names of one kind of component (``kind``, used in errors), each a lazily imported factory."""

    def __init__(self, kind: str, entries: dict[str, Any] | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, Any] = dict(entries or {})

    def __getitem__(self, name: str) -> Any:
        target = self._entries[name]
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            target = self._entries[name] = getattr(importlib.import_module(module), attr)
        return target

    def __setitem__(self, name: str, target: Any) -> None:
        self._entries[name] = target

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {sorted(self._entries)})"

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._entries)

    def check(self, name: str) -> str:
        """``name`` if registered, else a one-line ``ValueError`` listing the choices."""
        if name not in self._entries:
            raise ValueError(f"unknown {self.kind} {name!r}; choose one of {', '.join(self.names())}")
        return name

    def create(self, name: str, **kwargs) -> Any:
        """The component ``name`` built with ``kwargs``."""
        return self[self.check(name)](**kwargs)

    def register(self, name: str, target: Any = None) -> Callable | Any:
        """Register ``target`` (an object or ``"module:attribute"``) as ``name``; without a target,
        a class decorator."""
        if target is None:
            def decorator(obj):
                self._entries[name] = obj
                return obj
            return decorator
        self._entries[name] = target
        return target


DECODERS = Registry("decoder", {
    "beam": "pt_genret.decoding.beam:ConstrainedBeamSearch",
    "sharpened": "pt_genret.decoding.beam:sharpened",  # beam search with a Temperature(0.5) step transform
    "annealed": "pt_genret.decoding.sampling:AnnealedSampling",
    "ngram": "pt_genret.decoding.ngram_search:NgramBeamSearch",  # n-gram indexes (SEAL, MINDER)
})

SCHEMES = Registry("docid scheme", {
    "atomic": "pt_genret.docids.numeric:AtomicScheme",
    "naive": "pt_genret.docids.numeric:NaiveScheme",
    "dense_init": "pt_genret.docids.dense_init:DenseInitScheme",  # atomic, rows start as document encodings
    "semantic": "pt_genret.docids.semantic:SemanticScheme",
    "title": "pt_genret.docids.lexical:TitleScheme",
    "keywords": "pt_genret.docids.lexical:KeywordScheme",
    "rq": "pt_genret.docids.quantised:ResidualQuantisedScheme",
    "pq": "pt_genret.docids.quantised:ProductQuantisedScheme",
    "url": "pt_genret.docids.url:UrlScheme",
    "bm25_terms": "pt_genret.docids.bm25_terms:Bm25TermScheme",
    "ngrams": "pt_genret.docids.ngrams:NgramScheme",
    "multiview": "pt_genret.docids.ngrams:MultiViewScheme",
    "generated": "pt_genret.docids.generated:GeneratedScheme",  # ZeroGR: a 6-8 word keyword sentence per document
})

# what a decoder decodes over (pt_genret.constraints.base.Constraint): a prefix trie of docids,
# or the suffix arrays of n-gram views; pt_meta.json records the name under "constraint"
CONSTRAINTS = Registry("constraint", {
    "trie": "pt_genret.constraints.prefix:TrieConstraint",
    "ngrams": "pt_genret.constraints.views:NgramConstraint",  # SEAL, MINDER
})

UPDATE_METHODS = Registry("update method", {
    "finetune": "pt_genret.updates.finetune:FinetuneUpdate",
    "incremental": "pt_genret.updates.incremental:IncrementalUpdate",
    "dome": "pt_genret.updates.dome:DomeUpdate",
    "memit": "pt_genret.updates.memit:MemitUpdate",
    "rome": "pt_genret.updates.rome:RomeUpdate",
})

__all__ = ["Registry", "DECODERS", "SCHEMES", "CONSTRAINTS", "UPDATE_METHODS"]
