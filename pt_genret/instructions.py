"""Task instructions (ZeroGR): the model reads ``instruction ⊕ query``, never the bare query.

One GR model can serve several corpora and tasks when each query says what it is for: a
natural-language instruction ("Given a scientific claim, retrieve abstracts that support or
refute it") is prepended to every query the model trains on (pseudo-queries and real ones)
and to every query it answers. Indexing examples (a document's own text) are not instructed:
they teach what a document is, whatever the task.

Where an instruction comes from, first match wins:

* a query frame's (or document frame's) ``instruction`` column, row by row;
* the retriever's (or indexer's) ``instruction`` argument;
* the instruction recorded in the index (``pt_meta.json``'s ``instruction``).

:data:`DEFAULT_INSTRUCTIONS` holds a default per known corpus; :func:`default_instruction`
falls back to :data:`GENERIC_INSTRUCTION` for any other.
"""
from __future__ import annotations

import os
from typing import Iterable

import pandas as pd
import pyterrier as pt

COLUMN = "instruction"
SEPARATOR = " | "  # between the instruction and the query: a boundary every tokenizer spells
GENERIC_INSTRUCTION = "Given a query, retrieve the documents that answer it"

#: A default instruction per corpus (the BEIR/ir_datasets name, lower-case).
DEFAULT_INSTRUCTIONS: dict[str, str] = {
    "cranfield": "Given an aeronautics question, retrieve the research abstracts that answer it",
    "vaswani": "Given a physics query, retrieve the scientific abstracts relevant to it",
    "scifact": "Given a scientific claim, retrieve the abstracts that support or refute it",
    "nfcorpus": "Given a nutrition question, retrieve the medical articles that answer it",
    "trec-covid": "Given a question about COVID-19, retrieve the scientific articles that answer it",
    "fiqa": "Given a financial question, retrieve the forum posts that answer it",
    "arguana": "Given an argument, retrieve the counter-arguments that refute it",
    "scidocs": "Given a paper title, retrieve the abstracts of papers it cites",
    "msmarco": "Given a web search query, retrieve the passages that answer it",
    "nq": "Given a question, retrieve the Wikipedia passages that answer it",
    "hotpotqa": "Given a multi-hop question, retrieve the Wikipedia passages needed to answer it",
    "quora": "Given a question, retrieve the questions that ask the same thing",
    "touche2020": "Given a controversial question, retrieve the arguments about it",
    "dbpedia-entity": "Given an entity query, retrieve the Wikipedia abstracts of matching entities",
    "climate-fever": "Given a claim about climate change, retrieve the passages that support or refute it",
    "fever": "Given a claim, retrieve the Wikipedia passages that support or refute it",
}


def corpus_name(spec: str | os.PathLike) -> str:
    """A corpus's short name from a folder path, ``irds:`` id or name (``../data/scifact/`` → ``scifact``)."""
    text = str(spec).rstrip("/\\")
    if text.startswith("irds:"):
        text = text[len("irds:"):].replace("/", "-")
        for name in DEFAULT_INSTRUCTIONS:  # irds:beir/scifact/test -> scifact
            if name in text.split("-"):
                return name
        return text
    return os.path.basename(text).lower() or text


def default_instruction(corpus: str | os.PathLike | None = None) -> str:
    """The default instruction of a corpus (a name, folder or ``irds:`` id), or the generic one."""
    if corpus is None:
        return GENERIC_INSTRUCTION
    return DEFAULT_INSTRUCTIONS.get(corpus_name(corpus), GENERIC_INSTRUCTION)


def check_instruction(instruction: str | None, where: str = "instruction") -> str | None:
    """``instruction`` stripped, or ``None``; a one-line error for anything but text."""
    if instruction is None:
        return None
    if not isinstance(instruction, str):
        raise ValueError(f"{where} must be a string, got {type(instruction).__name__} {instruction!r}")
    return instruction.strip() or None


def instruct(instruction: str | None, query: str) -> str:
    """``instruction ⊕ query`` (the query alone when there is no instruction)."""
    instruction = (instruction or "").strip()
    return f"{instruction}{SEPARATOR}{query}" if instruction else query


def split_instruction(text: str, instructions: Iterable[str]) -> tuple[str | None, str]:
    """``(instruction, query)`` of a text :func:`instruct` wrote with one of ``instructions`` (the
    longest that matches), else ``(None, text)``: what a teacher (BM25, dense) must read, since an
    instruction's words would count as query terms for every document."""
    for instruction in sorted({i.strip() for i in instructions if i and i.strip()}, key=len, reverse=True):
        prefix = f"{instruction}{SEPARATOR}"
        if text.startswith(prefix):
            return instruction, text[len(prefix):]
    return None, text


def row_instructions(frame: pd.DataFrame, default: str | None) -> list[str | None]:
    """Each row's instruction: its ``instruction`` column where set, else ``default``."""
    if COLUMN not in frame.columns:
        return [default] * len(frame)
    out = []
    for value in frame[COLUMN].tolist():
        if value is not None and not isinstance(value, str) and value == value:
            raise ValueError(f"the {COLUMN!r} column holds {value!r}, not text: one instruction string per row")
        out.append(value.strip() if isinstance(value, str) and value.strip() else default)
    return out


def instructed_queries(topics: pd.DataFrame, default: str | None) -> list[str]:
    """The text the model reads for each query of ``topics``: ``instruction ⊕ query``."""
    return [instruct(i, str(q)) for i, q in zip(row_instructions(topics, default), topics["query"].tolist())]


def instruct_topics(topics: pd.DataFrame | None, default: str | None) -> pd.DataFrame | None:
    """``topics`` with each ``query`` replaced by ``instruction ⊕ query`` (training queries)."""
    if topics is None or (default is None and COLUMN not in topics.columns):
        return topics
    return topics.assign(query=instructed_queries(topics, default))


def with_instruction(docs: pd.DataFrame, instruction: str | None) -> pd.DataFrame:
    """Documents with an ``instruction`` column: kept where set, ``instruction`` elsewhere."""
    if instruction is None:
        return docs
    return docs.assign(**{COLUMN: row_instructions(docs, instruction)})


def instruct_pseudo_queries(docs: pd.DataFrame, default: str | None) -> pd.DataFrame:
    """Documents whose ``querygen`` lists read ``instruction ⊕ query`` (each document's own
    instruction, else ``default``); unchanged without pseudo-queries or any instruction."""
    if "querygen" not in docs.columns or (default is None and COLUMN not in docs.columns):
        return docs
    rows = row_instructions(docs, default)
    return docs.assign(querygen=[[instruct(i, q) for q in qs] for i, qs in zip(rows, docs["querygen"])])


class Instruct(pt.Transformer):
    """Sets the ``instruction`` column of a query frame: ``Instruct("...") >> retriever``.

    With ``overwrite=False`` rows that already have an instruction keep it.
    """

    def __init__(self, instruction: str, overwrite: bool = True) -> None:
        self.instruction = check_instruction(instruction)
        if self.instruction is None:
            raise ValueError("Instruct needs a non-empty instruction string")
        self.overwrite = overwrite

    def __repr__(self) -> str:
        return f"Instruct({self.instruction!r})"

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        if self.overwrite or COLUMN not in inp.columns:
            return inp.assign(**{COLUMN: self.instruction})
        return inp.assign(**{COLUMN: row_instructions(inp, self.instruction)})


__all__ = ["COLUMN", "DEFAULT_INSTRUCTIONS", "GENERIC_INSTRUCTION", "Instruct", "SEPARATOR", "check_instruction",
           "corpus_name", "default_instruction", "instruct", "instruct_pseudo_queries", "instruct_topics",
           "instructed_queries", "row_instructions", "with_instruction"]
