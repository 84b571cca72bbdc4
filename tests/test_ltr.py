"""LTRGR: the learning-to-rank phase improves the ranking of relevant docids on its training queries."""
from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from pt_genret.index import GenIndex
from pt_genret.ltr import LTRGR
from pt_genret.retriever import GenRetriever


def mrr(index, topics, qrels):
    res = GenRetriever(index, num_results=10)(topics)
    rel = set(zip(qrels["qid"], qrels["docno"]))
    hits = res[[(q, d) in rel for q, d in zip(res["qid"], res["docno"])]]
    return float((1.0 / (hits.groupby("qid")["rank"].min() + 1)).reindex(topics["qid"]).fillna(0).mean())


@pytest.fixture()
def index_copy(title_index, tmp_path):
    """A private copy of the trained title index (LTRGR rewrites its model)."""
    shutil.copytree(title_index.path, tmp_path / "copy.gr")
    return GenIndex(str(tmp_path / "copy.gr"))


def test_ltr_raises_relevant_documents(index_copy, docs):
    # training queries: the end of each document's text, which the index ranks well but not perfectly
    topics = pd.DataFrame({"qid": [f"q{i}" for i in range(len(docs))],
                           "query": [" ".join(d["text"].split()[8:]) for d in docs]})
    qrels = pd.DataFrame({"qid": topics["qid"], "docno": [d["docno"] for d in docs], "label": 1})
    table_before = index_copy.table().docids
    before = mrr(index_copy, topics, qrels)
    LTRGR(index_copy, top_k=5, epochs=4, lr=3e-4, batch_size=4, verbose=False).fit(topics, qrels)
    reloaded = GenIndex(index_copy.path)
    after = mrr(reloaded, topics, qrels)
    assert before < 0.95 and after > before + 0.03, (before, after)
    assert reloaded.table().docids == table_before  # docids and trie untouched
    meta = json.loads(open(f"{index_copy.path}/pt_meta.json").read())
    assert meta["ltr"][0]["top_k"] == 5 and len(meta["ltr"][0]["epoch_losses"]) == 4


def test_ltr_rejects_unknown_relevant_documents(index_copy):
    topics = pd.DataFrame({"qid": ["1"], "query": ["x"]})
    with pytest.raises(ValueError, match="not in the index"):
        LTRGR(index_copy, verbose=False).fit(topics, pd.DataFrame({"qid": ["1"], "docno": ["nope"], "label": [1]}))
    with pytest.raises(ValueError, match="no training query"):
        LTRGR(index_copy, verbose=False).fit(topics, pd.DataFrame({"qid": ["2"], "docno": [index_copy.table().docnos[0]],
                                                                   "label": [1]}))
