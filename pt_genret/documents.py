"""Reading a document stream into a validated frame.

Bad input is refused before any model work starts, naming the offending document, so no
index is ever built from a corpus with empty or duplicate docnos or empty documents.
"""
from __future__ import annotations

from typing import Iterable

import pandas as pd
import pyterrier as pt


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
    frame["docno"] = frame["docno"].astype(str)
    frame["text"] = frame["text"].fillna("").astype(str)
    frame["title"] = frame["title"].fillna("").astype(str)
    empty_docno = frame["docno"].str.strip() == ""
    if empty_docno.any():
        raise ValueError(f"empty docno at document position {int(empty_docno.values.argmax())}")
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
