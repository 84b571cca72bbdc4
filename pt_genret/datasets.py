"""Dataset loading for pt_genret: BEIR folders, TREC files, ir_datasets and the
embedded ``quickstart`` corpus.

All datasets expose the same small interface (:class:`Dataset`):

* ``get_corpus_iter()`` streams ``{"docno", "text", "title"[, "url"]}`` dicts,
* ``get_topics(split)`` returns a ``qid, query`` frame (string columns),
* ``get_qrels(split)`` returns a ``qid, docno, label`` frame (``label`` is int),
* ``splits()`` lists the qrels splits, ``corpus_size()`` the number of docs (or None).

Documents are checked while streaming by :func:`pt_genret.documents.check_documents`, the one
checker every reader, indexer and baseline uses: bad or repeated docnos raise :class:`ValueError`
naming ``file:line``; documents whose text *and* title are empty are skipped with a warning
(``empty_docs="skip"``, the default) or refused (``"error"``).

``irds:`` datasets are read through PyTerrier's ir_datasets integration (``pt.get_dataset``),
TREC files through ``pt.io``; only the BEIR-folder reader and the split resolution are ours.
"""
from __future__ import annotations

import json
import os
import re
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Iterator

import pandas as pd
import pyterrier as pt
import pyterrier_alpha as pta

from pt_genret.documents import EMPTY_DOCS, EmptyDocs, check_documents

__all__ = [
    "Dataset",
    "BeirDataset",
    "IrdsDataset",
    "MemoryDataset",
    "load_dataset",
    "read_beir",
    "read_irds",
    "quickstart_dataset",
    "read_trec_topics",
    "read_trec_qrels",
    "read_trec_run",
    "load_topics",
    "pt_dataset",
]



# --------------------------------------------------------------------------- helpers

def _topics_frame(rows: Iterable[tuple[str, str]]) -> pd.DataFrame:
    """Build a ``qid, query`` frame with string dtypes."""
    df = pd.DataFrame(list(rows), columns=["qid", "query"])
    return df.astype({"qid": str, "query": str})


def _qrels_frame(rows: Iterable[tuple[str, str, int]]) -> pd.DataFrame:
    """Build a ``qid, docno, label`` frame (string ids, int label)."""
    df = pd.DataFrame(list(rows), columns=["qid", "docno", "label"])
    return df.astype({"qid": str, "docno": str, "label": "int64"})


def _parse_label(value: str, where: str) -> int:
    """Parse a relevance label such as ``"2"`` or ``"1.0"`` into an int."""
    try:
        return int(value)
    except ValueError:
        try:
            as_float = float(value)
        except ValueError:
            raise ValueError(f"{where}: relevance label {value!r} is not a number") from None
        if not as_float.is_integer():
            raise ValueError(f"{where}: relevance label {value!r} is not an integer")
        return int(as_float)


def _clean(value: Any) -> str:
    """Normalise an optional field to a stripped-of-None string."""
    return "" if value is None else str(value)


def _validated_docs(docs: Iterable[dict], source: str, empty_docs: EmptyDocs,
                    docno_field: str = "docno") -> Iterator[dict]:
    """``docs`` through the one document checker (a ``_where`` key names each in errors)."""
    if empty_docs not in EMPTY_DOCS:  # at the call, not at the first document
        raise ValueError(f"empty_docs must be one of {EMPTY_DOCS}, got {empty_docs!r}")
    return check_documents(docs, source, empty_docs, docno_field=docno_field)


# --------------------------------------------------------------------------- Dataset API

def _jsonl_records(path: Path) -> Iterator[tuple[str, dict]]:
    """``(file:line, record)`` for each non-empty line of a BEIR JSONL file; each needs an ``_id``."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            where = f"{path}:{lineno}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ValueError(f"{where}: not UTF-8 ({e.reason} at byte {e.start} of the line); "
                                 "re-encode the file as UTF-8") from None
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{where}: invalid JSON ({e})") from None
            if not isinstance(rec, dict):
                raise ValueError(f"{where}: expected a JSON object with '_id', got {json.dumps(rec)[:60]}")
            if "_id" not in rec:
                raise ValueError(f"{where}: missing '_id'")
            yield where, rec


@dataclass
class Dataset:
    """Common interface of all pt_genret datasets (subclasses implement the loaders)."""

    name: str

    def get_corpus_iter(self, verbose: bool = False) -> Iterator[dict]:
        """Stream documents as ``{"docno", "text", "title"[, "url"]}`` dicts."""
        raise NotImplementedError

    def get_topics(self, split: str | None = "test") -> pd.DataFrame:
        """Return the topics of ``split`` as a ``qid, query`` frame."""
        raise NotImplementedError

    def get_qrels(self, split: str = "test") -> pd.DataFrame:
        """Return the qrels of ``split`` as a ``qid, docno, label`` frame."""
        raise NotImplementedError

    def splits(self) -> list[str]:
        """Names of the splits that have qrels."""
        raise NotImplementedError

    def corpus_size(self) -> int | None:
        """Number of documents, or None when unknown without a full scan."""
        return None

    def text_loader(self, fields: list[str] | str = "*", *, verbose: bool = False) -> "pt.Transformer":
        """A transformer adding the documents' ``fields`` (``"*"``: all) by ``docno``, so that
        ``pt.text.get_text(dataset, "text")`` works on this dataset (PyTerrier's ``HasTextLoader``)."""
        return DocTextLoader(self, fields, verbose=verbose)

    def _check_split(self, split: str) -> None:
        available = self.splits()
        if split not in available:
            raise ValueError(
                f"dataset {self.name!r} has no split {split!r}; available splits: {available}"
            )

    @staticmethod
    def _progress(it: Iterable[dict], verbose: bool, desc: str, total: int | None) -> Iterable[dict]:
        if not verbose:
            return it
        try:
            from tqdm.auto import tqdm
        except ImportError:  # pragma: no cover - tqdm ships with pyterrier
            return it
        return tqdm(it, desc=desc, total=total, unit="doc")


class DocTextLoader(pt.Transformer):
    """Adds document fields to a frame with a ``docno`` column, read once from a dataset's corpus."""

    def __init__(self, dataset: Dataset, fields: list[str] | str = "*", verbose: bool = False) -> None:
        self.dataset, self.verbose = dataset, verbose
        self.fields = fields if fields == "*" else ([fields] if isinstance(fields, str) else list(fields))
        self._store: pd.DataFrame | None = None

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        pta.validate.columns(inp, includes=["docno"])
        if self._store is None:
            self._store = pd.DataFrame(list(self.dataset.get_corpus_iter(verbose=self.verbose))).set_index("docno")
        fields = list(self._store.columns) if self.fields == "*" else self.fields
        unknown = [f for f in fields if f not in self._store.columns]
        if unknown:
            raise ValueError(f"dataset {self.dataset.name!r} has no field(s) {unknown}; fields: "
                             f"{list(self._store.columns)}")
        missing = set(inp["docno"].astype(str)) - set(self._store.index)
        if missing:
            raise ValueError(f"{len(missing)} docno(s) not in dataset {self.dataset.name!r}, e.g. {sorted(missing)[:3]}")
        values = self._store.loc[inp["docno"].astype(str), fields].fillna("")
        return inp.assign(**{f: values[f].to_numpy() for f in fields})


# --------------------------------------------------------------------------- BEIR

@dataclass
class BeirDataset(Dataset):
    """A BEIR-format folder: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``."""

    path: Path = field(default_factory=Path)
    empty_docs: EmptyDocs = "skip"
    _size: int | None = field(default=None, init=False, repr=False)

    def _file(self, *parts: str) -> Path:
        p = self.path.joinpath(*parts)
        if not p.is_file():
            raise FileNotFoundError(f"BEIR dataset {self.name!r}: missing file {p}")
        return p

    def _raw_docs(self, path: Path) -> Iterator[dict]:
        for where, rec in _jsonl_records(path):
            doc = {
                "docno": rec["_id"],
                "text": rec.get("text"),
                "title": rec.get("title"),
                "_where": where,
            }
            url = rec.get("url") or (rec.get("metadata") or {}).get("url")
            if url:
                doc["url"] = str(url)
            yield doc

    def get_corpus_iter(self, verbose: bool = False) -> Iterator[dict]:
        path = self._file("corpus.jsonl")
        docs = _validated_docs(self._raw_docs(path), str(path), self.empty_docs, "_id")
        yield from self._progress(docs, verbose, self.name, self._size)

    def corpus_size(self) -> int | None:
        """Count non-blank lines of ``corpus.jsonl`` (no JSON parsing); cached."""
        if self._size is None:
            with open(self._file("corpus.jsonl"), "rb") as f:
                self._size = sum(1 for line in f if line.strip())
        return self._size

    def splits(self) -> list[str]:
        qdir = self.path / "qrels"
        return sorted(p.stem for p in qdir.glob("*.tsv")) if qdir.is_dir() else []

    def _all_queries(self) -> list[tuple[str, str]]:
        path = self._file("queries.jsonl")
        return [(_clean(rec["_id"]), _clean(rec.get("text"))) for _, rec in _jsonl_records(path)]

    def get_topics(self, split: str | None = "test") -> pd.DataFrame:
        """Queries of ``split`` (only those with qrels, BEIR convention); all if None."""
        rows = self._all_queries()
        if split is not None:
            qids = set(self.get_qrels(split)["qid"])
            rows = [r for r in rows if r[0] in qids]
        if not rows:
            raise ValueError(f"BEIR dataset {self.name!r}: no queries for split {split!r}")
        return _topics_frame(rows)

    def get_qrels(self, split: str = "test") -> pd.DataFrame:
        self._check_split(split)
        path = self._file("qrels", f"{split}.tsv")
        rows = []
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                parts = line.rstrip("\n\r").split("\t")
                if lineno == 1 and parts[0].strip().lower() in ("query-id", "query_id", "qid"):
                    continue  # header line
                if len(parts) < 3:
                    raise ValueError(f"{path}:{lineno}: expected 3 tab-separated fields")
                where = f"{path}:{lineno}"
                rows.append((parts[0].strip(), parts[1].strip(), _parse_label(parts[2].strip(), where)))
        return _qrels_frame(rows)


def read_beir(path: str | os.PathLike, empty_docs: EmptyDocs = "skip") -> BeirDataset:
    """Open a BEIR folder (files are read lazily; missing ones raise FileNotFoundError)."""
    p = Path(path)
    if not p.is_dir():
        raise FileNotFoundError(f"BEIR dataset folder not found: {p}")
    return BeirDataset(name=p.name, path=p, empty_docs=empty_docs)


def read_beir_corpus(path: str | os.PathLike, empty_docs: EmptyDocs = "skip") -> Iterator[dict]:
    """The documents of a BEIR ``corpus.jsonl`` file, or of the ``corpus.jsonl`` in a BEIR folder."""
    p = Path(path)
    if p.is_dir():
        return read_beir(p, empty_docs=empty_docs).get_corpus_iter()
    if not p.is_file():
        raise FileNotFoundError(f"no BEIR corpus at {p}: expected a corpus.jsonl file or a BEIR folder")
    dataset = BeirDataset(name=p.stem, path=p.parent, empty_docs=empty_docs)
    return _validated_docs(dataset._raw_docs(p), str(p), empty_docs, "_id")


# --------------------------------------------------------------------------- TREC files

def read_trec_topics(path: str | os.PathLike) -> pd.DataFrame:
    """Read TREC topics with ``pt.io.read_topics``: SGML (``<top><num>..<title>..``, whitespace in
    titles collapsed) or one ``qid<TAB>query`` / ``qid query`` per line."""
    content = Path(path).read_text(encoding="utf-8")
    sgml = re.search(r"<top>", content, re.IGNORECASE) is not None
    topics = pt.io.read_topics(str(path), format="trec" if sgml else "singleline")
    if topics.empty:
        raise ValueError(f"{path}: no topics found")
    queries = topics["query"].astype(str)
    return _topics_frame(zip(topics["qid"].astype(str), queries.str.split().str.join(" ") if sgml else queries))


def _whitespace_rows(path: str | os.PathLike, nfields: int, fmt: str) -> Iterator[tuple[str, list[str]]]:
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != nfields:
                raise ValueError(f"{path}:{lineno}: expected '{fmt}', got {line.strip()!r}")
            yield f"{path}:{lineno}", parts


def read_trec_qrels(path: str | os.PathLike) -> pd.DataFrame:
    """Read TREC qrels (``qid 0 docno label``) with ``pt.io.read_qrels`` into ``qid, docno, label``;
    a malformed line is a one-line error naming it."""
    try:
        qrels = pt.io.read_qrels(str(path))
    except ValueError:
        qrels = None
    if qrels is None or qrels["label"].isna().any() or qrels["docno"].isna().any():
        for _ in _whitespace_rows(path, 4, "qid 0 docno label"):  # raises at the first bad line
            pass
        raise ValueError(f"{path}: unreadable qrels; expected 'qid 0 docno label' lines")
    return _qrels_frame(zip(qrels["qid"], qrels["docno"], qrels["label"].astype("int64")))


def read_trec_run(path: str | os.PathLike) -> pd.DataFrame:
    """Read a TREC run (``qid Q0 docno rank score tag``) with ``pt.io.read_results`` into
    ``qid, docno, rank, score``."""
    run = pt.io.read_results(str(path))
    return run[["qid", "docno", "rank", "score"]].astype({"qid": str, "docno": str, "rank": "int64",
                                                         "score": "float64"})


# --------------------------------------------------------------------------- in-memory / quickstart

@dataclass
class MemoryDataset(Dataset):
    """A small dataset held in memory (used for the embedded quickstart corpus)."""

    docs: list[dict] = field(default_factory=list)
    topics: dict[str, pd.DataFrame] = field(default_factory=dict)
    qrels: dict[str, pd.DataFrame] = field(default_factory=dict)
    description: str = ""
    empty_docs: EmptyDocs = "skip"

    def get_corpus_iter(self, verbose: bool = False) -> Iterator[dict]:
        raw = ({"docno": d.get("docno"), "text": d.get("text"), "title": d.get("title"),
                **({"url": str(d["url"])} if d.get("url") else {})} for d in self.docs)
        docs = _validated_docs(raw, self.name, self.empty_docs)
        yield from self._progress(docs, verbose, self.name, len(self.docs))

    def corpus_size(self) -> int | None:
        return len(self.docs)

    def splits(self) -> list[str]:
        return sorted(self.qrels)

    def get_topics(self, split: str | None = "test") -> pd.DataFrame:
        if split is None:
            frames = list(self.topics.values())
            df = pd.concat(frames).drop_duplicates("qid") if frames else _topics_frame([])
        else:
            self._check_split(split)
            df = self.topics.get(split, _topics_frame([]))
        if df.empty:
            raise ValueError(f"dataset {self.name!r}: no queries for split {split!r}")
        return df.reset_index(drop=True).copy()

    def get_qrels(self, split: str = "test") -> pd.DataFrame:
        self._check_split(split)
        return self.qrels[split].reset_index(drop=True).copy()


def _quickstart_text() -> str:
    """Read ``data/quickstart.json`` from the installed package."""
    try:
        return resources.files("pt_genret").joinpath("data", "quickstart.json").read_text(encoding="utf-8")
    except (FileNotFoundError, TypeError, ModuleNotFoundError):
        # e.g. namespace-package edge cases: fall back to the source tree
        return (Path(__file__).parent / "data" / "quickstart.json").read_text(encoding="utf-8")


def quickstart_dataset() -> MemoryDataset:
    """The small embedded corpus (~80 docs, ~40 queries, split ``test``)."""
    data = json.loads(_quickstart_text())
    topics = _topics_frame((str(q["qid"]), str(q["query"])) for q in data["queries"])
    qrels = _qrels_frame((str(r["qid"]), str(r["docno"]), int(r["label"])) for r in data["qrels"])
    topics = topics[topics["qid"].isin(set(qrels["qid"]))].reset_index(drop=True)
    return MemoryDataset(
        name=data.get("name", "quickstart"),
        docs=data["docs"],
        topics={"test": topics},
        qrels={"test": qrels},
        description=data.get("description", ""),
        empty_docs="error",
    )


# --------------------------------------------------------------------------- ir_datasets

_NOT_DOC_TEXT = ("docno", "title", "url")


def _irds_text(doc: dict) -> str:
    """A document's ``text`` field, or (ir_datasets types without one, e.g. ``body``) its other
    text fields joined, as ir_datasets' ``default_text`` does less the title kept apart."""
    if doc.get("text") is not None:
        return doc["text"]
    return " ".join(v for k, v in doc.items() if k not in _NOT_DOC_TEXT and isinstance(v, str) and v)


@dataclass
class IrdsDataset(Dataset):
    """An ir_datasets dataset read through PyTerrier (``pt.get_dataset("irds:<id>")``).

    Split resolution (for topics and qrels): ``split=None`` uses the base dataset;
    otherwise ``<irds_id>/<split>`` is used when ir_datasets knows it (e.g.
    ``beir/scifact`` + ``test`` -> ``beir/scifact/test``); when no such sub-dataset
    exists but the base dataset itself has qrels, it is exposed as the single split
    ``"test"``.  Documents always come from the base dataset.
    """

    irds_id: str = ""
    empty_docs: EmptyDocs = "skip"

    def _base(self) -> "pt.datasets.Dataset":
        return pt_dataset(f"irds:{self.irds_id}")

    def _sub(self, split: str) -> "pt.datasets.Dataset | None":
        try:
            return pt.get_dataset(f"irds:{self.irds_id}/{split}")
        except KeyError:
            return None

    @staticmethod
    def _has(ds: "pt.datasets.Dataset", component: str) -> bool:
        return bool(getattr(ds.irds_ref(), f"has_{component}")())

    def _resolve(self, split: str | None, component: str) -> "pt.datasets.Dataset":
        """The PyTerrier dataset providing ``component`` ("queries"/"qrels") for ``split``."""
        base = self._base()
        if split is None:
            ds = base
        else:
            ds = self._sub(split)
            if ds is None:
                if split == "test" and self._has(base, "qrels"):
                    ds = base
                else:
                    raise ValueError(f"dataset {self.name!r} has no split {split!r}; "
                                     f"available splits: {self.splits()}")
        if not self._has(ds, component):
            raise ValueError(f"dataset {self.name!r} (split {split!r}) provides no {component}")
        return ds

    def get_corpus_iter(self, verbose: bool = False) -> Iterator[dict]:
        base = self._base()
        if not self._has(base, "docs"):
            raise ValueError(f"dataset {self.name!r} provides no documents")

        def raw() -> Iterator[dict]:
            for d in base.get_corpus_iter(verbose=False):
                doc = {"docno": d["docno"], "text": _irds_text(d), "title": d.get("title")}
                if d.get("url"):
                    doc["url"] = str(d["url"])
                yield doc

        docs = _validated_docs(raw(), self.name, self.empty_docs)
        yield from self._progress(docs, verbose, self.name, self.corpus_size())

    def corpus_size(self) -> int | None:
        try:
            return self._base().irds_ref().docs_count()
        except Exception:  # metadata may be unavailable offline
            return None

    def splits(self) -> list[str]:
        import ir_datasets  # the registry of ids: PyTerrier's irds provider lists the same
        prefix = f"{self.irds_id}/"
        out = []
        try:
            children = [k[len(prefix):] for k in ir_datasets.registry if k.startswith(prefix)]
        except Exception:
            children = []
        for name in children:
            if "/" in name:
                continue
            sub = self._sub(name)
            try:
                if sub is not None and self._has(sub, "qrels"):
                    out.append(name)
            except Exception:
                continue
        if not out and self._has(self._base(), "qrels"):
            out = ["test"]
        return sorted(out)

    def get_topics(self, split: str | None = "test") -> pd.DataFrame:
        ds = self._resolve(split, "queries")
        fields = ds.irds_ref().queries_cls()._fields[1:]
        # the query's text: its only field, else 'text', else 'title' (TREC topics), as default_text
        variant = None if len(fields) == 1 else "text" if "text" in fields else "title" if "title" in fields \
            else fields[0]
        topics = ds.get_topics(variant)
        if topics.empty:
            raise ValueError(f"dataset {self.name!r}: no queries for split {split!r}")
        return _topics_frame(zip(topics["qid"].map(_clean), topics["query"].map(_clean)))

    def get_qrels(self, split: str = "test") -> pd.DataFrame:
        qrels = self._resolve(split, "qrels").get_qrels()
        return _qrels_frame(zip(qrels["qid"].map(_clean), qrels["docno"].map(_clean), qrels["label"].astype(int)))


def read_irds(irds_id: str, empty_docs: EmptyDocs = "skip") -> IrdsDataset:
    """An ir_datasets id through PyTerrier (loaded lazily; nothing is downloaded until iterated)."""
    return IrdsDataset(name=f"irds:{irds_id}", irds_id=irds_id, empty_docs=empty_docs)


# --------------------------------------------------------------------------- dispatch

def load_dataset(spec: str | os.PathLike, empty_docs: EmptyDocs = "skip") -> Dataset:
    """Load a dataset from a spec.

    * ``"quickstart"`` -> the embedded corpus,
    * ``"irds:<id>"`` -> an ir_datasets dataset,
    * a directory path -> a BEIR folder.
    """
    if isinstance(spec, str) and spec == "quickstart":
        return quickstart_dataset()
    if isinstance(spec, str) and spec.startswith("irds:"):
        irds_id = spec[len("irds:"):]
        if not irds_id:
            raise ValueError("empty ir_datasets id in spec 'irds:'; use e.g. 'irds:beir/scifact'")
        return read_irds(irds_id, empty_docs=empty_docs)
    if Path(spec).is_dir():
        return read_beir(spec, empty_docs=empty_docs)
    raise ValueError(
        f"cannot load dataset {str(spec)!r}: expected 'quickstart', 'irds:<ir_datasets id>' "
        "or a path to a BEIR folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv)"
    )


def load_topics(spec: str | os.PathLike, split: str | None = None) -> pd.DataFrame:
    """A ``qid, query`` frame from a topics spec, read through PyTerrier where it can:

    * ``"irds:<id>"`` -> ``pt.get_dataset(spec).get_topics()`` (``<id>`` names the split, e.g.
      ``irds:beir/scifact/test``),
    * a BEIR folder -> its queries (those of ``split`` when given, else all),
    * a ``.jsonl`` file -> BEIR queries (``_id``, ``text``),
    * any other file -> TREC topics: SGML (``<top>``) or one ``qid query`` per line (``pt.io.read_topics``).
    """
    spec = str(spec)
    if spec.startswith("irds:"):
        dataset = pt_dataset(spec)
        try:
            topics = dataset.get_topics()
        except NotImplementedError:
            raise ValueError(f"{spec!r} has no queries; give a dataset id with queries, e.g. 'irds:beir/scifact/test'") from None
        return _topics_frame(zip(topics["qid"], topics["query"]))
    path = Path(spec)
    if path.is_dir():
        return read_beir(path).get_topics(split)
    if not path.is_file():
        raise FileNotFoundError(f"no topics at {spec!r}: give a BEIR folder, a queries.jsonl file, a TREC topics "
                                "file or 'irds:<id>'")
    if path.suffix == ".jsonl":
        rows = [(_clean(rec["_id"]), _clean(rec.get("text"))) for _, rec in _jsonl_records(path)]
        if not rows:
            raise ValueError(f"{spec}: no queries found")
        return _topics_frame(rows)
    return read_trec_topics(path)


def pt_dataset(spec: str):
    """``pt.get_dataset(spec)`` with a one-line error for an id PyTerrier does not know."""
    try:
        return pt.get_dataset(spec)
    except KeyError:
        raise ValueError(f"unknown dataset {spec!r}: ir_datasets has no such id (see https://ir-datasets.com "
                         "for the ids, e.g. 'irds:beir/scifact/test')") from None
