"""Multi-corpus indexes (ZeroGR): one GR model over several corpora, each with its own instruction.

Documents and queries of each corpus are namespaced (``"scifact/123"``), so docnos never clash,
and carry their corpus's instruction in an ``instruction`` column, so the model learns which
task a query belongs to. A corpus the model has never seen is then indexed from its documents
and pseudo-queries alone, no real queries, in one of two ways:

* a new index that starts from the multi-corpus model (``GenIndexer(init_from=base)``, see
  :func:`index_new_corpus`): continued training on the new corpus only, within its own budget;
* the new corpus added to the multi-corpus index itself (``base.updater(...)``,
  :func:`add_corpus`), then searched through :class:`CorpusFilter`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import pandas as pd
import pyterrier as pt

from pt_genret.documents import collect_documents
from pt_genret.instructions import COLUMN, default_instruction

SEP = "/"


def namespaced(corpus: str, ids: Iterable) -> list[str]:
    """``corpus/id`` for each id."""
    if not corpus or SEP in corpus or any(c.isspace() for c in corpus):
        raise ValueError(f"corpus name {corpus!r} must be non-empty, without {SEP!r} or spaces")
    return [f"{corpus}{SEP}{i}" for i in ids]


@dataclass
class Corpus:
    """One corpus of a multi-corpus index: its documents, optional training queries and its instruction
    (default: :func:`~pt_genret.instructions.default_instruction` of ``name``)."""

    name: str
    docs: Iterable[dict] | pd.DataFrame
    topics: pd.DataFrame | None = None
    qrels: pd.DataFrame | None = None
    instruction: str | None = None

    def __post_init__(self) -> None:
        self.instruction = self.instruction or default_instruction(self.name)

    def documents(self) -> pd.DataFrame:
        """The documents with namespaced docnos and the corpus's instruction and name."""
        docs = collect_documents(self.docs)
        return docs.assign(docno=namespaced(self.name, docs["docno"]), **{COLUMN: self.instruction},
                           corpus=self.name)

    def queries(self) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
        """Namespaced training topics (with the instruction) and qrels, or ``(None, None)``."""
        if self.topics is None or self.qrels is None:
            return None, None
        topics = self.topics.assign(qid=namespaced(self.name, self.topics["qid"].astype(str)),
                                    **{COLUMN: self.instruction})
        qrels = self.qrels.assign(qid=namespaced(self.name, self.qrels["qid"].astype(str)),
                                  docno=namespaced(self.name, self.qrels["docno"].astype(str)))
        return topics[["qid", "query", COLUMN]], qrels


def multi_corpus(corpora: list[Corpus]) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None]:
    """Documents, training topics and qrels of several corpora as one namespaced set."""
    names = [c.name for c in corpora]
    if len(set(names)) != len(names):
        raise ValueError(f"corpus names must differ, got {names}")
    docs = pd.concat([c.documents() for c in corpora], ignore_index=True)
    pairs = [c.queries() for c in corpora]
    topics = [t for t, _ in pairs if t is not None]
    qrels = [q for _, q in pairs if q is not None]
    if not topics:
        return docs, None, None
    return docs, pd.concat(topics, ignore_index=True), pd.concat(qrels, ignore_index=True)


def build_multi_corpus_index(path: str, corpora: list[Corpus], **indexer_options):
    """One GR index over ``corpora`` (:class:`~pt_genret.index.GenIndexer` options, e.g. ``scheme``,
    ``query_generator="instructed"``, ``max_minutes``)."""
    from pt_genret.index import GenIndex

    docs, topics, qrels = multi_corpus(corpora)
    return GenIndex(path).indexer(train_topics=topics, train_qrels=qrels, **indexer_options).index(docs)


def index_new_corpus(base, path: str, docs, instruction: str, **indexer_options):
    """A GR index of an unseen corpus from its documents and pseudo-queries alone, starting from the
    model of the multi-corpus index ``base`` (continued training; same options as the build)."""
    from pt_genret.index import GenIndex

    options = {"query_generator": "instructed", **indexer_options}
    return GenIndex(path).indexer(init_from=base, instruction=instruction, **options).index(docs)


def add_corpus(base, corpus: Corpus, method: str = "incremental", **updater_options):
    """Add an unseen corpus (documents only) to the multi-corpus index ``base`` with an update method;
    its pseudo-queries are instructed with its own instruction."""
    from pt_genret.index import GenIndex

    index = base if isinstance(base, GenIndex) else GenIndex(str(base))
    return index.updater(method=method, **updater_options).index(corpus.documents())


class CorpusFilter(pt.Transformer):
    """Keeps the results of one corpus of a multi-corpus index, with its own docnos (namespace
    removed) and ranks renumbered: ``Instruct(instr) >> gr >> CorpusFilter("scifact")``."""

    def __init__(self, corpus: str, num_results: int | None = None) -> None:
        self.corpus, self.num_results = corpus, num_results

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        prefix = f"{self.corpus}{SEP}"
        out = inp[inp["docno"].astype(str).str.startswith(prefix)].copy()
        out["docno"] = out["docno"].str[len(prefix):]
        out = pt.model.add_ranks(out.drop(columns=["rank"], errors="ignore"))
        if self.num_results is not None:
            out = out[out["rank"] < self.num_results]
        return out.reset_index(drop=True)
