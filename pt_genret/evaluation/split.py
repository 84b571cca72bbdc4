"""Splitting a collection into D0..Dn by document, and assigning queries to the batch of their documents.

The dynamic-corpus protocol (see ``docs/dynamic.md``) needs two things from a test collection:

* :func:`split_corpus` -- a seeded partition of the documents into an initial set ``D0`` (a fraction
  of the corpus, 0.5 by default: the DSI++ setting of half the corpus first, then five batches of 10%;
  the seed talk does not state a fraction) and ``n`` equal-sized batches ``D1..Dn`` of new documents.
* :func:`query_groups` -- which batch each query's relevant documents belong to, so a query is scored
  as an "initial" query (group 0) or as a query about the documents new at step ``i`` (group ``i``).
* :func:`subsample` -- a smaller collection for CPU-sized runs: the documents judged for a sample of
  queries plus a random sample of the other documents.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

MIXED_CHOICES = ("exclude", "split")


def split_corpus(docnos: list[str], steps: int = 5, initial_fraction: float = 0.5,
                 seed: int = 42) -> list[list[str]]:
    """Partition ``docnos`` into ``[D0, D1, ..., Dn]`` (``n = steps``), each document exactly once.

    The documents are shuffled with ``seed``; ``D0`` takes ``round(initial_fraction * N)`` of them and
    the rest is cut into ``steps`` batches whose sizes differ by at most one. Every batch must be
    non-empty.
    """
    docnos = [str(d) for d in docnos]
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if not 0 < initial_fraction < 1:
        raise ValueError(f"initial_fraction must be in (0, 1), got {initial_fraction}")
    if len(set(docnos)) != len(docnos):
        dup = pd.Series(docnos)[pd.Series(docnos).duplicated()].iloc[0]
        raise ValueError(f"duplicate docno {dup!r}: a document can only arrive once")
    n0 = int(round(initial_fraction * len(docnos)))
    if n0 < 1 or len(docnos) - n0 < steps:
        raise ValueError(f"cannot split {len(docnos)} documents into D0 ({initial_fraction:.0%}) and {steps} "
                         f"non-empty batches of new documents; use more documents or fewer steps")
    order = np.random.default_rng(seed).permutation(len(docnos))
    shuffled = [docnos[i] for i in order]
    rest = np.array_split(np.arange(n0, len(shuffled)), steps)
    return [shuffled[:n0]] + [[shuffled[i] for i in part] for part in rest]


def doc_steps(batches: list[list[str]]) -> dict[str, int]:
    """docno → the step at which it arrives (0 for ``D0``)."""
    return {d: i for i, batch in enumerate(batches) for d in batch}


def query_groups(qrels: pd.DataFrame, steps_of: dict[str, int], mixed: str = "exclude") -> pd.DataFrame:
    """``qrels`` with a ``group`` column: the step whose documents a query is scored on.

    Only relevant judgements (``label > 0``) of documents in the collection decide the group; judged
    documents outside the collection are dropped. A query whose relevant documents all arrive at one
    step ``g`` belongs to group ``g``. A *mixed* query (relevant documents from several steps) is

    * ``mixed="exclude"`` (default): left out of every group (its count is reported), so an initial
      query never has a relevant new document and vice versa;
    * ``mixed="split"``: scored once per step that holds any of its relevant documents, each time
      against that step's relevant documents only.
    """
    if mixed not in MIXED_CHOICES:
        raise ValueError(f"mixed must be one of {MIXED_CHOICES}, got {mixed!r}")
    missing = {"qid", "docno", "label"} - set(qrels.columns)
    if missing:
        raise ValueError(f"qrels need columns qid, docno, label; missing {sorted(missing)}")
    q = qrels.assign(qid=qrels["qid"].astype(str), docno=qrels["docno"].astype(str))
    q = q[q["docno"].isin(steps_of)]
    q = q.assign(group=q["docno"].map(steps_of).astype(int))
    rel = q[q["label"] > 0]
    if mixed == "exclude":
        per_query = rel.groupby("qid")["group"].agg(["min", "max"])
        pure = per_query[per_query["min"] == per_query["max"]]["min"]
        out = q[q["qid"].isin(pure.index)]
        out = out[out["group"] == out["qid"].map(pure)]
    else:
        keep = rel[["qid", "group"]].drop_duplicates()
        out = q.merge(keep, on=["qid", "group"])
    return out[["qid", "docno", "label", "group"]].reset_index(drop=True)


def mixed_queries(qrels: pd.DataFrame, steps_of: dict[str, int]) -> list[str]:
    """qids whose relevant documents (in the collection) arrive at more than one step."""
    q = qrels.assign(qid=qrels["qid"].astype(str), docno=qrels["docno"].astype(str))
    rel = q[(q["label"] > 0) & q["docno"].isin(steps_of)]
    counts = rel.assign(group=rel["docno"].map(steps_of)).groupby("qid")["group"].nunique()
    return sorted(counts[counts > 1].index)


def subsample(docs: pd.DataFrame, topics: pd.DataFrame, qrels: pd.DataFrame, max_docs: int | None = None,
              max_queries: int | None = None, seed: int = 42) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A smaller ``(docs, topics, qrels)`` for CPU-sized runs, seeded.

    Queries with a relevant document in ``docs`` are kept (at most ``max_queries``, sampled); then, in
    a random order, each query's relevant documents are taken while they fit in ``max_docs`` (a query
    whose documents no longer fit is dropped); the remaining room is filled with a random sample of the
    other documents, so the new batches also hold documents no query asks for.
    """
    rng = np.random.default_rng(seed)
    docs = docs.assign(docno=docs["docno"].astype(str))
    qrels = qrels.assign(qid=qrels["qid"].astype(str), docno=qrels["docno"].astype(str))
    topics = topics.assign(qid=topics["qid"].astype(str))
    present = set(docs["docno"])
    rel = qrels[(qrels["label"] > 0) & qrels["docno"].isin(present) & qrels["qid"].isin(set(topics["qid"]))]
    qids = sorted(rel["qid"].unique())
    qids = [qids[i] for i in rng.permutation(len(qids))]
    if max_queries is not None:
        if max_queries < 1:
            raise ValueError(f"max_queries must be positive, got {max_queries}")
        qids = qids[:max_queries]
    if max_docs is not None and max_docs < 1:
        raise ValueError(f"max_docs must be positive, got {max_docs}")
    rel_docs = rel.groupby("qid")["docno"].apply(list).to_dict()
    chosen: list[str] = []
    taken: set[str] = set()
    kept = []
    for qid in qids:
        new = [d for d in dict.fromkeys(rel_docs[qid]) if d not in taken]
        if max_docs is not None and len(chosen) + len(new) > max_docs:
            continue
        chosen.extend(new)
        taken.update(new)
        kept.append(qid)
    others = docs["docno"][~docs["docno"].isin(taken)].tolist()
    room = len(others) if max_docs is None else max(0, max_docs - len(chosen))
    chosen.extend(others[i] for i in sorted(rng.permutation(len(others))[:room]))
    keep_docs = set(chosen)
    out_docs = docs[docs["docno"].isin(keep_docs)].reset_index(drop=True)
    out_topics = topics[topics["qid"].isin(set(kept))].reset_index(drop=True)
    out_qrels = qrels[qrels["qid"].isin(set(kept)) & qrels["docno"].isin(keep_docs)].reset_index(drop=True)
    return out_docs, out_topics, out_qrels
