"""The pseudo-query files of an index: what updates replay and what fitting on top of GR reads.

``pseudo_queries.jsonl`` holds one JSON line per document (``docno``, its pseudo-queries, the
source text of its indexing example); ``heldout_queries.jsonl`` the ``docno, query`` pairs a
budgeted build held out of training for validation.
"""
from __future__ import annotations

import json
import os
from typing import IO

import pandas as pd

from pt_genret.documents import full_texts
from pt_genret.storage import FOLDER_KEY, META_FILE, generation_folder, read_meta
from pt_genret.training import index_source

PSEUDO_QUERIES = "pseudo_queries.jsonl"
HELD_OUT = "heldout_queries.jsonl"


def files_of(path: str) -> str:
    """The folder holding an index's files: its current generation's, given the index folder."""
    if os.path.exists(os.path.join(path, META_FILE)):
        meta = read_meta(path)
        if FOLDER_KEY in meta:
            return generation_folder(path, meta)
    return path


def write_pseudo_queries(f: IO[str], docs: pd.DataFrame) -> None:
    """One JSON line per document of ``docs`` (``docno, querygen``, text): its pseudo-queries and the
    source of its indexing example, so that updates can replay or preserve both."""
    for d, qs, text in zip(docs["docno"], docs["querygen"], full_texts(docs)):
        f.write(json.dumps({"docno": d, "queries": list(qs), "text": index_source(text)}) + "\n")


def read_saved_examples(path: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An index's saved ``docno, query`` pseudo-queries and ``docno, text`` indexing-example
    sources, in one pass over ``pseudo_queries.jsonl`` (both empty if it has none; no texts for
    indexes written before they were saved). ``path``: the index or one generation's folder."""
    file = os.path.join(files_of(path), PSEUDO_QUERIES)
    queries: list[tuple[str, str]] = []
    texts: list[tuple[str, str]] = []
    if os.path.exists(file):
        with open(file, encoding="utf8") as f:
            for n, line in enumerate(f, 1):
                try:
                    rec = json.loads(line)
                    queries.extend((str(rec["docno"]), q) for q in rec["queries"] if q.strip())
                    if rec.get("text", "").strip():
                        texts.append((str(rec["docno"]), rec["text"]))
                except (json.JSONDecodeError, KeyError, AttributeError, TypeError) as e:
                    raise ValueError(f"corrupt {file!r} at line {n}: {e}; rebuild the index") from None
    return pd.DataFrame(queries, columns=["docno", "query"]), pd.DataFrame(texts, columns=["docno", "text"])


def read_pseudo_queries(path: str, texts: bool = False) -> pd.DataFrame:
    """``docno, query`` rows of an index's saved pseudo-queries; with ``texts``, the ``docno, text``
    rows of its documents' indexing-example sources instead (see :func:`read_saved_examples`)."""
    queries, saved_texts = read_saved_examples(path)
    return saved_texts if texts else queries


def held_out_file(path: str) -> str:
    """Path of an index's ``heldout_queries.jsonl`` (which may not exist)."""
    return os.path.join(files_of(path), HELD_OUT)
