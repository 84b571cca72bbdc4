"""Reading a document stream into a validated frame.

Bad input is refused before any model work starts, naming the offending document, so no
index is ever built from a corpus with empty or duplicate docnos, docnos that would break a
TREC run file (whitespace inside or around them), fields that are not text, or empty documents.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd
import pyterrier as pt


def check_docno(docno: str, where: str) -> None:
    """Refuse a docno a TREC run or qrels file cannot hold: one with a tab, a line break or
    another whitespace character other than an inner space, or one with spaces around it."""
    if docno != docno.strip():
        raise ValueError(f"{where}: docno {docno!r} has spaces around it, which TREC run files lose; strip them")
    bad = next((c for c in docno if c.isspace() and c != " "), None)
    if bad is not None:
        raise ValueError(f"{where}: docno {docno!r} contains {bad!r}, which breaks TREC run files; "
                         "use docnos without tabs or line breaks")


def _check_types(frame: pd.DataFrame, column: str, numbers: bool) -> None:
    """Refuse values that are not text (a number too for ``numbers``; missing is allowed)."""
    for pos, value in enumerate(frame[column].tolist()):
        if value is None or isinstance(value, str) or (isinstance(value, float) and value != value):
            continue
        if numbers and isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            continue
        raise ValueError(f"document at position {pos}: {column!r} must be a string, got "
                         f"{type(value).__name__} {str(value)[:60]!r}")


def collect_documents(docs: Iterable[dict] | pd.DataFrame, verbose: bool = False) -> pd.DataFrame:
    """A ``docno, text, title`` frame (plus any extra fields) from dicts or a frame, validated."""
    if isinstance(docs, pd.DataFrame):
        frame = docs.copy()
    else:
        frame = pd.DataFrame(list(pt.tqdm(docs, desc="reading documents", unit="doc", disable=not verbose)))
    if len(frame) == 0:
        raise ValueError("no documents to index: the corpus is empty")
    if "docno" not in frame.columns:
        raise ValueError(f"documents need a 'docno' field; got fields {sorted(frame.columns)}")
    if "text" not in frame.columns:
        raise ValueError(f"documents need a 'text' field; got fields {sorted(frame.columns)}")
    if "title" not in frame.columns:
        frame["title"] = ""
    missing = frame["docno"].isna()
    if missing.any():
        raise ValueError(f"missing docno at document position {int(missing.values.argmax())}")
    _check_types(frame, "docno", numbers=True)
    _check_types(frame, "text", numbers=False)
    _check_types(frame, "title", numbers=False)
    frame["docno"] = frame["docno"].astype(str)
    frame["text"] = frame["text"].fillna("").astype(str)
    frame["title"] = frame["title"].fillna("").astype(str)
    empty_docno = frame["docno"].str.strip() == ""
    if empty_docno.any():
        raise ValueError(f"empty docno at document position {int(empty_docno.values.argmax())}")
    for pos, docno in enumerate(frame["docno"]):
        check_docno(docno, f"document at position {pos}")
    dup = frame["docno"].duplicated()
    if dup.any():
        raise ValueError(f"duplicate docno {frame['docno'][dup].iloc[0]!r} in the corpus")
    empty = (frame["text"].str.strip() == "") & (frame["title"].str.strip() == "")
    if empty.any():
        raise ValueError(f"document {frame['docno'][empty].iloc[0]!r} has empty text and title")
    return frame.reset_index(drop=True)


def titles(docs: pd.DataFrame) -> pd.Series:
    """The ``title`` column, with empty strings where a frame or a document has none."""
    if "title" not in docs.columns:
        return pd.Series([""] * len(docs), index=docs.index)
    return docs["title"].fillna("").astype(str)


def full_texts(docs: pd.DataFrame) -> list[str]:
    """Title and text of each document as one string: what schemes, encoders and training read."""
    return [f"{t} {x}".strip() for t, x in zip(titles(docs), docs["text"].fillna("").astype(str))]
