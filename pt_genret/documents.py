"""The one document checker: every corpus entering pt_genret passes through it.

Dataset readers (BEIR folders, ir_datasets, the quickstart corpus), the indexer, the updater,
the evaluation protocol and the BM25/dense/Lucene baselines all read documents through
:func:`check_documents` (streams) or :func:`collect_documents` (frames), so the same corpus is
accepted or refused the same way everywhere. One policy:

* an error, naming the document (``file:line`` for files, the position otherwise): a missing or
  empty docno, a docno a TREC run file cannot hold (tabs, line breaks, spaces around it), a
  repeated docno, a docno that is not a string or a whole number, a text or title that is not
  a string;
* a document with neither text nor title is skipped with one warning naming the skipped
  documents (``empty_docs="skip"``, the default), or refused (``empty_docs="error"``). Nothing
  can retrieve an empty document, so every system (GR, BM25, dense) indexes the same documents.
"""
from __future__ import annotations

import warnings
from typing import Any, Iterable, Iterator, Literal

import numpy as np
import pandas as pd
import pyterrier as pt

__all__ = ["EMPTY_DOCS", "check_docno", "check_documents", "collect_documents", "title_text_records",
           "titles", "full_texts"]

EmptyDocs = Literal["skip", "error", "warn"]
EMPTY_DOCS = ("skip", "error", "warn")  # "warn": the older name of "skip"


def check_docno(docno: str, where: str) -> None:
    """Refuse a docno a TREC run or qrels file cannot hold: one with a tab, a line break or
    another whitespace character other than an inner space, or one with spaces around it."""
    if docno != docno.strip():
        raise ValueError(f"{where}: docno {docno!r} has spaces around it, which TREC run files lose; strip them")
    bad = next((c for c in docno if c.isspace() and c != " "), None)
    if bad is not None:
        raise ValueError(f"{where}: docno {docno!r} contains {bad!r}, which breaks TREC run files; "
                         "use docnos without tabs or line breaks")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _text(value: Any, field: str, where: str, numbers: bool = False) -> str:
    """A document field as a string (missing: empty); ``numbers``: whole numbers too (ids)."""
    if _missing(value):
        return ""
    if isinstance(value, str):
        return value
    if numbers and isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"{where}: {field!r} must be a string{' or a whole number' if numbers else ''}, got "
                     f"{type(value).__name__} {str(value)[:60]!r}")


def check_documents(docs: Iterable[dict], source: str = "", empty_docs: EmptyDocs = "skip",
                    docno_field: str = "docno") -> Iterator[dict]:
    """Stream ``docs`` checked under the module's policy, each with string ``docno``, ``text``
    and ``title`` (other fields kept). A ``_where`` key (e.g. ``file:line``) names the document
    in errors and is removed; otherwise it is ``document at position N`` of ``source``.
    ``docno_field`` is the name errors give the docno (``_id`` for BEIR files)."""
    if empty_docs not in EMPTY_DOCS:
        raise ValueError(f"empty_docs must be one of {EMPTY_DOCS}, got {empty_docs!r}")
    seen: set[str] = set()
    empty: list[str] = []
    kept = 0
    prefix = f"{source}: " if source else ""
    for pos, doc in enumerate(docs):
        if not isinstance(doc, dict):
            raise ValueError(f"{prefix}document at position {pos}: expected a dict with 'docno' and 'text', got "
                             f"{type(doc).__name__} {str(doc)[:60]!r}")
        doc = dict(doc)
        where = doc.pop("_where", None) or f"{prefix}document at position {pos}"
        if _missing(doc.get("docno")):
            raise ValueError(f"{where}: missing docno")
        docno = _text(doc["docno"], docno_field, where, numbers=True)
        if not docno.strip():
            raise ValueError(f"{where}: empty docno")
        check_docno(docno, where)
        if docno in seen:
            raise ValueError(f"{where}: duplicate docno {docno!r}")
        seen.add(docno)
        doc["docno"] = docno
        doc["text"] = _text(doc.get("text"), "text", where)
        doc["title"] = _text(doc.get("title"), "title", where)
        if not doc["text"].strip() and not doc["title"].strip():
            if empty_docs == "error":
                raise ValueError(f"{where}: document {docno!r} has empty text and title")
            empty.append(docno)
            continue
        kept += 1
        yield doc
    if empty:
        shown = ", ".join(repr(d) for d in empty[:10]) + (" ..." if len(empty) > 10 else "")
        warnings.warn(f"{source or 'corpus'}: skipped {len(empty)} document(s) with empty text and title: {shown}",
                      stacklevel=2)
    if empty and not kept:
        shown = ", ".join(repr(d) for d in empty[:3]) + (" ..." if len(empty) > 3 else "")
        raise ValueError(f"no documents left: {shown} {'has' if len(empty) == 1 else 'have'} empty text and title")


def collect_documents(docs: Iterable[dict] | pd.DataFrame, verbose: bool = False,
                      empty_docs: EmptyDocs = "skip") -> pd.DataFrame:
    """A ``docno, text, title`` frame (plus any extra fields) from dicts or a frame, checked by
    :func:`check_documents`; an empty corpus or one without ``docno``/``text`` fields is refused."""
    if isinstance(docs, pd.DataFrame):
        frame = docs
    else:
        frame = pd.DataFrame(list(pt.tqdm(docs, desc="reading documents", unit="doc", disable=not verbose)))
    if len(frame) == 0:
        raise ValueError("no documents to index: the corpus is empty")
    for field in ("docno", "text"):
        if field not in frame.columns:
            raise ValueError(f"documents need a {field!r} field; got fields {sorted(frame.columns)}")
    records = frame.to_dict("records")
    checked = pd.DataFrame(list(check_documents(records, empty_docs=empty_docs)))
    return checked.reset_index(drop=True)


def title_text_records(docs: Iterable[dict], source: str = "") -> Iterator[dict[str, str]]:
    """``{'docno', 'text'}`` records whose text is ``title + ' ' + text``, checked: what the
    BM25 (PISA, Lucene) and dense baselines index."""
    for doc in check_documents(docs, source):
        yield {"docno": doc["docno"], "text": " ".join(p for p in (doc["title"], doc["text"]) if p)}


def titles(docs: pd.DataFrame) -> pd.Series:
    """The ``title`` column, with empty strings where a frame or a document has none."""
    if "title" not in docs.columns:
        return pd.Series([""] * len(docs), index=docs.index)
    return docs["title"].fillna("").astype(str)


def full_texts(docs: pd.DataFrame) -> list[str]:
    """Title and text of each document as one string: what schemes, encoders and training read."""
    return [f"{t} {x}".strip() for t, x in zip(titles(docs), docs["text"].fillna("").astype(str))]
