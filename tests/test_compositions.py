"""GenRetriever in the pipelines PyTerrier users write: rewrites, dense scorers, text loaders,
first stages, fusion and pt.Experiment. Frames must be PyTerrier-valid: GR's identifier in
``gr_docid`` (never PyTerrier's integer ``docid``) and every input column kept."""
from __future__ import annotations

import ir_measures
import numpy as np
import pandas as pd
import pyterrier as pt
import pyterrier_alpha as pta
import pytest

from pt_genret.baselines import bm25_pisa, default_dense_model, rrf
from pt_genret.datasets import MemoryDataset
from pt_genret.retriever import DOCID_COLUMN, GenRetriever


@pytest.fixture(scope="module")
def topics(docs) -> pd.DataFrame:
    return pd.DataFrame({"qid": [f"q{i}" for i in range(6)], "query": [d["title"] for d in docs[::6][:6]]})


@pytest.fixture(scope="module")
def qrels(docs, topics) -> pd.DataFrame:
    return pd.DataFrame({"qid": topics["qid"], "docno": [d["docno"] for d in docs[::6][:6]], "label": 1})


@pytest.fixture(scope="module")
def gr(title_index) -> GenRetriever:
    return GenRetriever(title_index, num_results=5)


@pytest.fixture(scope="module")
def bm25(docs, tmp_path_factory):
    return bm25_pisa(docs, tmp_path_factory.mktemp("pisa") / "bm25.pisa", num_results=10)


@pytest.fixture(scope="module")
def flex(docs, tmp_path_factory):
    """A pyterrier_dr FlexIndex over the offline MiniLM, and its bi-encoder."""
    import pyterrier_dr

    encoder = pyterrier_dr.SBertBiEncoder(default_dense_model(), batch_size=32)
    index = pyterrier_dr.FlexIndex(str(tmp_path_factory.mktemp("dense") / "docs.flex"))
    (encoder.doc_encoder() >> index.indexer()).index({"docno": d["docno"], "text": d["title"] + " " + d["text"]}
                                                     for d in docs)
    return encoder, index


def test_frame_is_pyterrier_valid(gr, topics):
    res = gr(topics.assign(extra=range(len(topics))))
    pta.validate.result_frame(res, extra_columns=["query", DOCID_COLUMN])
    assert "docid" not in res.columns  # PyTerrier's integer row id is never written
    assert {"extra", DOCID_COLUMN, "decoder"} <= set(res.columns)
    assert list(res.columns[:3]) == ["qid", "query", "extra"]  # input columns first, as pyterrier_dr
    assert (res.groupby("qid")["rank"].apply(lambda r: list(r) == list(range(len(r))))).all()
    extra = dict(zip(topics["qid"], range(len(topics))))
    assert (res["extra"] == res["qid"].map(extra)).all()


def test_rewrite_then_reset(gr, topics):
    """``query_0`` passes through GR, so a later ``pt.rewrite.reset()`` restores the query."""
    pipe = pt.apply.query(lambda r: r["query"] + " notes") >> gr >> pt.rewrite.reset()
    res = pipe(topics)
    assert len(res) and "query_0" not in res.columns
    assert set(res["query"]) <= set(topics["query"])


def test_dense_scorer_after_gr(gr, flex, topics):
    """``gr >> enc.query_encoder() >> flex.scorer()`` scores GR's documents by their docno."""
    encoder, index = flex
    res = (gr >> encoder.query_encoder() >> index.scorer())(topics)
    assert len(res) == len(gr(topics))
    # the same scores as the dense retriever's for those documents
    full = (encoder.query_encoder() >> index.retriever(num_results=1000))(topics)
    expected = full.set_index(["qid", "docno"])["score"]
    got = res.set_index(["qid", "docno"])["score"]
    np.testing.assert_allclose(got.to_numpy(), expected.loc[got.index].to_numpy(), rtol=1e-5)


def test_dense_scorer_on_atomic_docids(tmp_path, docs, flex):
    """Atomic docids ("0", "1", ...) look like row ids: kept out of ``docid`` they cannot be
    mistaken for the FlexIndex's own."""
    from conftest import build_tiny_index

    index = build_tiny_index(tmp_path / "atomic.gr", docs[:8], scheme="atomic", epochs=1)
    encoder, flex_index = flex
    topics = pd.DataFrame({"qid": ["1"], "query": [docs[3]["title"]]})
    res = (GenRetriever(index, num_results=4) >> encoder.query_encoder() >> flex_index.scorer())(topics)
    full = (encoder.query_encoder() >> flex_index.retriever(num_results=1000))(topics).set_index("docno")["score"]
    np.testing.assert_allclose(res["score"].to_numpy(), full.loc[res["docno"]].to_numpy(), rtol=1e-5)
    assert set(res["docno"]) <= {d["docno"] for d in docs[:8]}


def test_get_text_after_gr(gr, topics, docs):
    dataset = MemoryDataset(name="tiny", docs=docs)
    res = (gr >> pt.text.get_text(dataset, ["title", "text"]))(topics)
    by_docno = {d["docno"]: d for d in docs}
    assert (res["title"] == res["docno"].map(lambda d: by_docno[d]["title"])).all()
    assert (res["text"] == res["docno"].map(lambda d: by_docno[d]["text"])).all()


def test_first_stage_then_gr(gr, bm25, topics):
    first = (bm25 % 7)(topics)
    res = (bm25 % 7 >> gr)(topics)
    assert len(res) == len(first)  # re-ranking adds and drops nothing
    assert set(zip(res["qid"], res["docno"])) == set(zip(first["qid"], first["docno"]))
    assert DOCID_COLUMN in res.columns and "docid" not in res.columns
    pta.validate.result_frame(res, extra_columns=["query"])


@pytest.mark.parametrize("fusion", ["pyterrier_alpha", "pt_genret"])
def test_fusion(gr, bm25, topics, fusion):
    pipe = pta.RRFusion(bm25, gr) if fusion == "pyterrier_alpha" else rrf(bm25, gr)
    res = pipe(topics)
    assert len(res) and set(res["qid"]) == set(topics["qid"])
    pta.validate.result_frame(res)
    # a document both systems rank first for a query gets the highest fused score
    assert res.groupby("qid")["score"].apply(lambda s: s.is_monotonic_decreasing).all()


def test_experiment_with_names_and_measures(gr, bm25, topics, qrels):
    """pt.Experiment takes trec_eval metric strings and ir_measures objects."""
    table = pt.Experiment([bm25, gr, bm25 % 5 >> gr], topics, qrels,
                          ["ndcg_cut_10", "recip_rank", ir_measures.R @ 5, ir_measures.Success @ 1],
                          names=["bm25", "gr", "bm25 >> gr"])
    assert list(table["name"]) == ["bm25", "gr", "bm25 >> gr"]
    assert {"ndcg_cut_10", "recip_rank", "R@5", "Success@1"} <= set(table.columns)  # named as given
    assert table.loc[table["name"] == "gr", "Success@1"].iloc[0] >= 0.5  # the title index finds titles
