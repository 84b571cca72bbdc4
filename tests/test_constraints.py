"""The constraint interface: both registered constraints satisfy it, the reader loads the one
``pt_meta.json`` names (inferring it for older indexes), and a toy constraint registered with one
line is built on by the retriever, re-ranking and removal without any change elsewhere."""
from __future__ import annotations

import inspect
import json
import os
import shutil
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from pt_genret import GenRetriever
from pt_genret.constraints.base import Constraint
from pt_genret.docids import DocIdTable
from pt_genret.index import GenIndex
from pt_genret.registry import CONSTRAINTS, DECODERS


@pytest.mark.parametrize("name", CONSTRAINTS.names())
def test_registered_constraints_satisfy_the_interface(name):
    cls = CONSTRAINTS[name]
    assert issubclass(cls, Constraint) and not inspect.isabstract(cls)
    assert cls.name == name and cls.default_decoder in DECODERS and DECODERS[cls.default_decoder]().constraint == name
    assert isinstance(cls.location, str) and isinstance(cls.description, str)


def _edit_meta(path, **changes) -> None:
    meta_path = os.path.join(path, "pt_meta.json")
    with open(meta_path, encoding="utf8") as f:
        meta = json.load(f)
    for key, value in changes.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    with open(meta_path, "w", encoding="utf8") as f:
        json.dump(meta, f)


def test_the_reader_loads_the_recorded_constraint_or_infers_it(title_index, tmp_path):
    assert title_index.meta["constraint"] == "trie" and title_index.constraint().name == "trie"
    old = tmp_path / "old.gr"
    shutil.copytree(title_index.path, old)
    _edit_meta(old, constraint=None)  # an index written before the name was recorded
    index = GenIndex(str(old))
    assert index.constraint_name == "trie" and len(index.constraint()) == len(title_index)
    _edit_meta(old, constraint="nonesuch")
    with pytest.raises(ValueError, match="unknown constraint 'nonesuch'"):
        GenIndex(str(old)).constraint()


@dataclass
class FirstLive:
    """A toy decoder: the live documents in index order."""

    name: str = "first_live"
    constraint: str = "toy"

    def decode(self, backbone, live, queries, num_results, max_steps):
        return [[(int(d), -float(d)) for d in np.flatnonzero(live)[:num_results]] for _ in queries]


class ToyConstraint(Constraint):
    """Every document may be written; a mask of removed ones; no model involved."""

    name, default_decoder, description, location = "toy", "first_live", "a toy index", "toy.npz"
    columns = ("seen",)

    def __init__(self, live) -> None:
        self.live = np.asarray(live, dtype=bool)

    @classmethod
    def identify(cls, docs, backbone, scheme, table=None):
        docnos = docs["docno"].tolist()
        return DocIdTable(docnos, docnos, [[] for _ in docnos]) if table is None else \
            table.extend(docnos, docnos, [[] for _ in docnos])

    @classmethod
    def build(cls, docs, table, backbone, scheme):
        return cls(np.ones(len(table), dtype=bool))

    def max_length(self, table, scheme):
        return 1

    def save(self, folder):
        np.savez(os.path.join(folder, self.location), live=self.live)

    @classmethod
    def load(cls, folder, meta):
        with np.load(os.path.join(folder, cls.location)) as z:
            return cls(z["live"])

    @property
    def num_docs(self):
        return len(self.live)

    def live_docs(self):
        return self.live.copy()

    def add(self, docs, table, backbone, scheme):
        return ToyConstraint(np.concatenate([self.live, np.ones(len(docs), dtype=bool)]))

    def remove(self, doc_indices):
        self.live = self.live.copy()
        self.live[list(doc_indices)] = False

    def examples(self, docs, table, backbone, scheme, seed, topics=None, qrels=None):
        return []

    def target_of(self, table, backbone, scheme):
        return lambda query, docno: []

    def decode(self, decoder, backbone, queries, num_results, max_steps):
        return [[(d, s, {"seen": q}) for d, s in res]
                for q, res in zip(queries, decoder.decode(backbone, self.live, queries, num_results, max_steps))]

    def score(self, decoder, backbone, queries, candidates, table):
        return [[(-float(d), {"seen": q}) for d in cands] for q, cands in zip(queries, candidates)]


def test_a_toy_constraint_is_one_class_and_one_line(title_index, tmp_path, monkeypatch):
    monkeypatch.setitem(CONSTRAINTS, "toy", ToyConstraint)  # the one line in pt_genret/registry.py
    monkeypatch.setitem(DECODERS, "first_live", FirstLive)
    path = tmp_path / "toy.gr"
    shutil.copytree(title_index.path, path)
    ToyConstraint(np.ones(len(title_index.table()), dtype=bool)).save(GenIndex(str(path)).folder)
    _edit_meta(path, constraint="toy")
    index = GenIndex(str(path))
    docnos = index.table().docnos
    topics = pd.DataFrame({"qid": ["1", "2"], "query": ["a", "b"], "extra": [1, 2]})

    res = GenRetriever(index, num_results=3)(topics)  # the default decoder name: the toy's own default
    assert list(res["docno"]) == docnos[:3] * 2 and (res["decoder"] == "first_live").all()
    assert list(res["seen"]) == ["a"] * 3 + ["b"] * 3 and list(res["extra"]) == [1] * 3 + [2] * 3
    with pytest.raises(ValueError, match="a toy index: use decoder='first_live'"):
        GenRetriever(index, decoder="annealed")(topics)

    index.remove([docnos[1]])
    assert len(index) == len(docnos) - 1
    res = GenRetriever(GenIndex(str(path)), num_results=2)(topics[:1])
    assert list(res["docno"]) == [docnos[0], docnos[2]]

    cands = pd.DataFrame({"qid": ["1", "1"], "query": ["a", "a"], "docno": [docnos[4], docnos[2]]})
    ranked = GenRetriever(index)(cands)
    assert list(ranked.sort_values("rank")["docno"]) == [docnos[2], docnos[4]] and list(ranked["seen"]) == ["a", "a"]
