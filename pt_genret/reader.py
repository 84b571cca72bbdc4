"""``IndexReader``: the read side of a generative index folder.

It reads the generation that ``pt_meta.json`` names when first asked and keeps reading that
one (a snapshot), so a writer publishing a new generation meanwhile changes nothing it returns;
:meth:`IndexReader.reload` moves to the current generation. Every part is loaded on first use
and checked: a damaged file is a one-line error naming it, never a traceback. Readers take no
lock; opening an index cleans up what interrupted writers left when no writer runs.
"""
from __future__ import annotations

import os
from typing import Any, Callable, TypeVar

from pt_genret import __version__
from pt_genret import storage
from pt_genret.backbone import Backbone
from pt_genret.constraints.base import Constraint
from pt_genret.constraints.trie import PrefixTrie
from pt_genret.docids import DocIdScheme, DocIdTable, load_scheme
from pt_genret.ngram_views import NgramView
from pt_genret.registry import CONSTRAINTS

FORMAT_VERSION = 2  # 2: generation folders and a pointer in pt_meta.json; 1: files in the index folder
READABLE_VERSIONS = (1, 2)
ARTIFACT_TYPE, ARTIFACT_FORMAT = "generative_index", "genret"
REQUIRED_FILES = ("model", "docids.jsonl", "scheme")
REQUIRED_META = {"num_docs": int, "num_codes": int, "backbone": str, "scheme": str, "max_docid_length": int,
                 "train": dict}
REBUILD = "rebuild the index (pt-genret index ... --overwrite)"
T = TypeVar("T")


class IndexReader:
    """The parts of the generative index at ``path``, loaded on first use."""

    ARTIFACT_TYPE = ARTIFACT_TYPE
    ARTIFACT_FORMAT = ARTIFACT_FORMAT

    def __init__(self, path: str, *, device: str | None = None, verbose: bool = True) -> None:
        self.path = str(path)
        self.device = device
        self.verbose = verbose
        self._cache: dict[str, Any] = {}

    def built(self) -> bool:
        return os.path.exists(os.path.join(self.path, storage.META_FILE))

    def reload(self) -> None:
        """Forget the loaded parts: the next access reads the current generation."""
        self._cache.clear()

    @property
    def meta(self) -> dict:
        if "meta" not in self._cache:
            if os.path.exists(self.path) and not os.path.isdir(self.path):
                raise FileNotFoundError(f"no GR index at {self.path!r}: it is a file, not an index folder")
            meta = storage.read_meta(self.path)
            self._check_meta(meta)
            storage.recover(self.path)
            self._cache["folder"] = storage.generation_folder(self.path, meta)
            missing = [f for f in REQUIRED_FILES if not os.path.exists(os.path.join(self._cache["folder"], f))]
            if missing:
                raise FileNotFoundError(f"GR index {self.path!r} is incomplete: missing {', '.join(missing)}; {REBUILD}")
            self._cache["meta"] = meta
        return self._cache["meta"]

    def _check_meta(self, meta: dict) -> None:
        if meta.get("type") != ARTIFACT_TYPE or meta.get("format") != ARTIFACT_FORMAT:
            raise ValueError(f"{self.path!r} is a {meta.get('type')}.{meta.get('format')} artifact, "
                             f"not a {ARTIFACT_TYPE}.{ARTIFACT_FORMAT} index")
        if meta.get("format_version") not in READABLE_VERSIONS:
            raise ValueError(f"GR index {self.path!r} has format version {meta.get('format_version')}; "
                             f"pt-genret {__version__} reads versions {', '.join(map(str, READABLE_VERSIONS))}")
        for key, kind in REQUIRED_META.items():
            if not isinstance(meta.get(key), kind) or isinstance(meta.get(key), bool):
                raise ValueError(f"corrupt pt_meta.json in {self.path!r}: field {key!r} is {meta.get(key)!r}, "
                                 f"not a {kind.__name__}; {REBUILD}")

    @property
    def folder(self) -> str:
        """The folder of the generation this reader reads."""
        self.meta
        return self._cache["folder"]

    def file(self, *parts: str) -> str:
        """Path of a file of this reader's generation."""
        folder = self.folder
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"the generation of {self.path!r} this reader opened was removed by newer "
                                    "updates; open the index again")
        return os.path.join(folder, *parts)

    def _part(self, key: str, what: str, load: Callable[[], T]) -> T:
        if key not in self._cache:
            self.meta
            try:
                self._cache[key] = load()
            except FileNotFoundError:
                raise
            except Exception as e:  # a damaged file, whatever the library raised for it
                message = str(e).splitlines()[0] if str(e) else type(e).__name__
                if message.startswith("corrupt"):
                    raise ValueError(message if "rebuild" in message else f"{message}; {REBUILD}") from None
                raise ValueError(f"corrupt {what} in GR index {self.path!r}: {message}; {REBUILD}") from None
        return self._cache[key]

    def backbone(self) -> Backbone:
        meta = self.meta
        return self._part("backbone", "model (model/)", lambda: Backbone.load(
            self.file("model"), meta["backbone"], meta["num_codes"], self.device))

    def table(self) -> DocIdTable:
        table = self._part("table", "docids.jsonl", lambda: DocIdTable.load(self.file("docids.jsonl")))
        expected = self.meta.get("num_docids", None if self.meta.get("generations") else self.meta["num_docs"])
        if expected is not None and len(table) != expected:
            self._cache.pop("table")
            raise ValueError(f"corrupt docids.jsonl in GR index {self.path!r}: {len(table)} rows, pt_meta.json "
                             f"says {expected}; {REBUILD}")
        return table

    @property
    def constraint_name(self) -> str:
        """The name of the index's constraint in :data:`pt_genret.registry.CONSTRAINTS`: as recorded
        in ``pt_meta.json``, else (indexes written before it was recorded) from the scheme's kind."""
        meta = self.meta
        return meta.get("constraint") or ("ngrams" if meta.get("scheme_kind") == "ngrams" else "trie")

    @property
    def is_ngram(self) -> bool:
        """Whether documents are identified by their n-grams (SEAL, MINDER) rather than by a docid."""
        return self.constraint_name == "ngrams"

    def constraint(self) -> Constraint:
        """What decoding is constrained by (:mod:`pt_genret.constraints.base`), loaded by its recorded name."""
        name = CONSTRAINTS.check(self.constraint_name)

        def load() -> Constraint:
            folder = self.file()
            try:
                constraint = CONSTRAINTS[name].load(folder, self.meta)
            except FileNotFoundError as e:
                raise FileNotFoundError(f"GR index {self.path!r} is incomplete: {e}; {REBUILD}") from None
            if constraint.num_docs != len(self.table()):
                raise ValueError(f"{CONSTRAINTS[name].location} indexes {constraint.num_docs} documents, "
                                 f"docids.jsonl has {len(self.table())}")
            return constraint

        return self._part("constraint", CONSTRAINTS[name].location, load)

    def trie(self) -> PrefixTrie:
        """The prefix trie of a docid index."""
        if self.constraint_name != "trie":
            raise ValueError(f"{self.path!r} is {CONSTRAINTS[self.constraint_name].description} "
                             f"({self.meta['scheme']}): it has no docid trie")
        return self.constraint().trie

    def views(self) -> list[NgramView]:
        """The n-gram views of a SEAL/MINDER index (one suffix array per view)."""
        if self.constraint_name != "ngrams":
            raise ValueError(f"{self.path!r} identifies documents by docids ({self.meta['scheme']}), not n-grams")
        return self.constraint().views

    def scheme(self) -> DocIdScheme:
        return self._part("scheme", "scheme/", lambda: load_scheme(self.file("scheme")))

    def __len__(self) -> int:
        return int(self.meta["num_docs"])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"
