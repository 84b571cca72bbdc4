"""ScoreInterpolation: normalised first-stage (BM25) and GR scores mixed with a fitted weight."""
from __future__ import annotations

import os
import shutil

import ir_measures
import numpy as np
import pandas as pd
import pyterrier as pt
import pytest
from sklearn.preprocessing import minmax_scale

from conftest import build_tiny_index, make_docs
from pt_genret.baselines import bm25_pisa
from pt_genret.index import read_pseudo_queries
from pt_genret.saved_queries import files_of
from pt_genret.interpolation import DEFAULT_GRID, ScoreInterpolation, normalise_scores, pseudo_query_topics
from pt_genret.retriever import GenRetriever

NDCG10 = ir_measures.nDCG @ 10


# --- controlled signals ------------------------------------------------------------------------

class Scored(pt.Transformer):
    """A fake first stage (query frame → its scores per qid) or re-ranker (result frame → new
    scores); counts its calls and records the queries it saw."""

    def __init__(self, scores: dict[str, dict[str, float]]) -> None:
        self.scores, self.calls, self.queries = scores, 0, []

    def transform(self, inp: pd.DataFrame) -> pd.DataFrame:
        self.calls += 1
        self.queries.extend(inp["query"].tolist())
        if "docno" in inp.columns:  # re-rank
            out = inp.assign(score=[self.scores[q][d] for q, d in zip(inp["qid"], inp["docno"])])
            return pt.model.add_ranks(out.assign(gr_docid="generated-id"))
        rows = [(q, query, d, s) for q, query in zip(inp["qid"], inp["query"]) for d, s in self.scores[q].items()]
        return pt.model.add_ranks(pd.DataFrame(rows, columns=["qid", "query", "docno", "score"]))


def toy(good: str, n: int = 6):
    """Queries whose relevant document ``r`` the ``good`` signal ranks first and the other last."""
    up, down = {"r": 4.0, "a": 3.0, "b": 2.0, "c": 1.0}, {"r": 1.0, "a": 2.0, "b": 3.0, "c": 4.0}
    qids = [f"q{i}" for i in range(n)]
    first = Scored({q: dict(up if good == "first" else down) for q in qids})
    gr = Scored({q: dict(up if good == "gr" else down) for q in qids})
    topics = pd.DataFrame({"qid": qids, "query": [f"query {q}" for q in qids]})
    qrels = pd.DataFrame({"qid": qids, "docno": "r", "label": 1})
    return first, gr, topics, qrels


@pytest.mark.parametrize("good", ["first", "gr"])
def test_fit_picks_the_better_signal_with_one_pass(good):
    first, gr, topics, qrels = toy(good)
    si = ScoreInterpolation(first, gr).fit(topics, qrels)
    curve = si.curve_.set_index("alpha")[str(NDCG10)]
    assert list(curve.index) == list(DEFAULT_GRID)
    # the relevant document is first exactly when the good signal weighs more (ties: first stage order)
    assert (si.alpha > 0.5) == (good == "gr") and si.alpha == (0.75 if good == "gr" else 0.25)
    assert si.best_score_ == 1.0 and curve.max() == 1.0
    assert curve[1.0 if good == "gr" else 0.0] == 1.0 and curve[0.0 if good == "gr" else 1.0] < 0.7
    assert si.fit_queries_ == len(topics)
    assert first.calls == 1 and gr.calls == 1  # 21 grid values, one pass over the candidates
    res = si(topics)
    assert (res[res["rank"] == 0]["docno"] == "r").all()


def test_fit_finds_an_interior_optimum():
    """Each signal gets one of two queries right; only a mix in (0.29, 0.71) gets both."""
    first = Scored({"A": {"x": 1.0, "y": 0.0, "z": 0.5}, "B": {"x": 0.6, "y": 1.0, "z": 0.0}})
    gr = Scored({"A": {"x": 0.6, "y": 1.0, "z": 0.0}, "B": {"x": 1.0, "y": 0.0, "z": 0.5}})
    topics = pd.DataFrame({"qid": ["A", "B"], "query": ["a", "b"]})
    qrels = pd.DataFrame({"qid": ["A", "B"], "docno": ["x", "x"], "label": [1, 1]})
    si = ScoreInterpolation(first, gr).fit(topics, qrels)
    curve = si.curve_.set_index("alpha")[str(NDCG10)]
    assert curve[0.0] < 1.0 and curve[1.0] < 1.0
    assert curve[0.3] == curve[0.7] == 1.0 and curve[0.25] < 1.0 and curve[0.75] < 1.0
    assert si.alpha == 0.5  # the middle of the best plateau 0.3 .. 0.7
    np.testing.assert_allclose(si(topics).set_index(["qid", "docno"])["score"][("A", "x")], 0.8)


def test_fit_scores_validation_without_changing_the_choice():
    first, gr, topics, qrels = toy("gr")
    si = ScoreInterpolation(first, gr, metric="RR@10", grid=[0, 0.5, 1]).fit(topics[:3], qrels, topics[3:], qrels)
    assert si.alpha == 1.0 and list(si.curve_.columns) == ["alpha", "RR@10"]
    assert si.validation_curve_["RR@10"].tolist()[-1] == 1.0 and si.validation_curve_["RR@10"].iloc[0] < 1.0


def test_first_stage_rewrite_and_docid_not_copied():
    """GR scores the input query, not a first stage's rewrite; the re-ranker's docid is not kept."""
    first, gr, topics, _ = toy("gr", n=2)
    rewrite = pt.apply.query(lambda r: r["query"] + " expanded")
    out = ScoreInterpolation(rewrite >> first, gr, alpha=0.5)(topics)
    assert set(gr.queries) == set(topics["query"]) and set(out["query"]) == set(topics["query"])
    assert "gr_docid" not in out.columns and "query_0" not in out.columns


def test_cutoff_and_added_documents():
    first, gr, topics, _ = toy("gr", n=2)
    out = ScoreInterpolation(first, gr, alpha=1.0, cutoff=2)(topics)
    # only the first stage's top 2 (c, b: "down" ranks r last) are ranked; GR orders them
    assert out.groupby("qid")["docno"].apply(list).to_dict() == {"q0": ["b", "c"], "q1": ["b", "c"]}
    assert out["rank"].tolist() == [0, 1, 0, 1]


def test_empty_frame_in_empty_frame_out():
    first, gr, _, _ = toy("gr")
    out = ScoreInterpolation(first, gr, alpha=0.3)(pd.DataFrame({"qid": pd.Series(dtype=str),
                                                                 "query": pd.Series(dtype=str)}))
    assert len(out) == 0 and {"qid", "query", "docno", "score", "rank", "first_score", "gr_score"} <= set(out.columns)
    assert first.calls == 0 and gr.calls == 0


def test_bad_input_errors():
    first, gr, topics, qrels = toy("gr")
    for alpha in (1.5, -0.1, True, "0.5"):
        with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 1\]"):
            ScoreInterpolation(first, gr, alpha=alpha)
    with pytest.raises(ValueError, match="cutoff"):
        ScoreInterpolation(first, gr, cutoff=0)
    with pytest.raises(ValueError, match="normalise"):
        ScoreInterpolation(first, gr, normalise="softmax")
    with pytest.raises(ValueError, match="grid value"):
        ScoreInterpolation(first, gr, grid=[0, 1.2])
    with pytest.raises(ValueError, match="grid must list"):
        ScoreInterpolation(first, gr, grid=[])
    with pytest.raises(ValueError, match="unknown metric"):
        ScoreInterpolation(first, gr, metric="bogus@3")
    with pytest.raises(TypeError, match="first_stage"):
        ScoreInterpolation(lambda df: df, gr)
    si = ScoreInterpolation(first, gr)
    with pytest.raises(ValueError, match="alpha is not set"):
        si(topics)
    with pytest.raises(ValueError, match="no training topics"):
        si.fit(topics.head(0), qrels)
    with pytest.raises(ValueError, match="none of the training topics has a relevant document"):
        si.fit(topics, qrels.assign(label=0))
    with pytest.raises(ValueError, match="lack column"):
        si.fit(topics, qrels.drop(columns=["label"]))
    with pytest.raises(ValueError, match="duplicate qid"):
        si.fit(pd.concat([topics, topics]), qrels)
    with pytest.raises(KeyError):  # a result frame: the first stage needs queries
        ScoreInterpolation(first, gr, alpha=0.5)(first(topics))
    assert first.calls == 1 and gr.calls == 0  # nothing ran for the refused inputs
    si.alpha = 2.0  # as set_parameter would
    with pytest.raises(ValueError, match="alpha"):
        si(topics)


def test_normalise_scores():
    qids = ["1", "1", "1", "2", "2", "3"]
    scores = [3.0, 1.0, 2.0, -5.0, -1.0, 7.0]
    # what PyTerrier's PerQueryMaxMinScoreTransformer / pyterrier_alpha's PerQueryMaxMinScore compute
    reference = pd.Series(scores).groupby(qids).transform(lambda x: minmax_scale(x)).to_numpy()
    np.testing.assert_allclose(normalise_scores(scores, qids), reference)
    np.testing.assert_allclose(normalise_scores(scores, qids), [1, 0, 0.5, 0, 1, 0])  # constant list: 0
    np.testing.assert_allclose(normalise_scores([-np.inf, 0.0, 2.0, np.nan], ["1"] * 4), [0, 0, 1, 0])
    z = normalise_scores(scores, qids, "zscore")
    np.testing.assert_allclose(z[:3], [1.224745, -1.224745, 0.0], atol=1e-6)
    assert z[5] == 0.0
    np.testing.assert_allclose(normalise_scores(scores, qids, None), scores)


# --- a real first stage and GR index -----------------------------------------------------------

@pytest.fixture(scope="module")
def small_docs() -> list[dict]:
    return make_docs(per_topic=3, seed=3)


@pytest.fixture(scope="module")
def small_index(tmp_path_factory, small_docs):
    return build_tiny_index(tmp_path_factory.mktemp("interp") / "title.gr", small_docs, scheme="title", epochs=2)


@pytest.fixture(scope="module")
def bm25(small_docs, tmp_path_factory):
    return bm25_pisa(small_docs, tmp_path_factory.mktemp("pisa") / "pisa", num_results=20)


@pytest.fixture(scope="module")
def topics(small_docs) -> pd.DataFrame:
    """Titles as queries, with an extra column."""
    return pd.DataFrame({"qid": [str(i) for i in range(len(small_docs))], "query": [d["title"] for d in small_docs],
                         "lang": [f"en{i}" for i in range(len(small_docs))]})


@pytest.fixture(scope="module")
def qrels(small_docs) -> pd.DataFrame:
    return pd.DataFrame({"qid": [str(i) for i in range(len(small_docs))], "docno": [d["docno"] for d in small_docs],
                         "label": 1})


def orders(res: pd.DataFrame) -> dict[str, list[str]]:
    res = res.assign(qid=res["qid"].astype(str)).sort_values(["qid", "rank"])
    return res.groupby("qid")["docno"].apply(list).to_dict()


def test_alpha_0_is_the_first_stage_and_alpha_1_is_gr_reranking(bm25, small_index, topics):
    gr = GenRetriever(small_index)
    out0 = ScoreInterpolation(bm25, gr, alpha=0.0, cutoff=5)(topics)
    out1 = ScoreInterpolation(bm25, small_index, alpha=1.0, cutoff=5)(topics)  # an index is wrapped in GenRetriever
    assert orders(out0) == orders((bm25 % 5)(topics))
    reranked = ((bm25 % 5) >> gr)(topics)
    assert orders(out1) == orders(reranked)
    assert orders(out1) != orders(out0)  # the two signals disagree somewhere, so the checks mean something
    merged = out1.merge(reranked, on=["qid", "docno"], suffixes=("", "_gr"))
    np.testing.assert_allclose(merged["gr_score"], merged["score_gr"], rtol=1e-5)
    assert out0["score"].between(0, 1).all() and out1["score"].between(0, 1).all()


def test_input_columns_kept(bm25, small_index, topics):
    topics = topics.assign(qid=topics["qid"].astype(int))  # qids come out as strings, as GenRetriever writes them
    out = ScoreInterpolation(bm25, small_index, alpha=0.4, cutoff=4)(topics)
    assert set(topics.columns) | {"docno", "score", "rank", "first_score", "gr_score"} == set(out.columns)
    lang = dict(zip(topics["qid"].astype(str), topics["lang"]))
    assert (out["lang"] == out["qid"].map(lang)).all()
    assert out.groupby("qid").size().max() <= 4
    assert (out.groupby("qid")["rank"].apply(list) == out.groupby("qid").size().map(lambda n: list(range(n)))).all()
    assert out["qid"].drop_duplicates().tolist() == topics["qid"].astype(str).tolist()  # query order kept


def test_in_experiment_and_pipelines(bm25, small_index, topics, qrels):
    si = ScoreInterpolation(bm25, small_index, cutoff=5).fit(*pseudo_query_topics(small_index, n=8))
    assert si.alpha in DEFAULT_GRID and len(si.curve_) == len(DEFAULT_GRID) and si.fit_queries_ == 8
    table = pt.Experiment([bm25 % 5, si, si % 2, si >> pt.apply.doc_score(lambda r: -r["rank"])], topics, qrels,
                          [NDCG10, ir_measures.R @ 5], names=["BM25", "interp", "interp % 2", "interp >> apply"])
    by = table.set_index("name")
    assert by.loc["interp", "R@5"] == by.loc["BM25", "R@5"]  # re-ranking the same candidates
    assert by.loc["interp", "nDCG@10"] == by.loc["interp >> apply", "nDCG@10"]
    assert ((si % 2)(topics).groupby("qid").size() <= 2).all()


def test_pseudo_query_topics(small_index, small_docs, tmp_path):
    saved = read_pseudo_queries(small_index.path)
    pairs = set(zip(saved["query"], saved["docno"].astype(str)))
    topics, qrels = pseudo_query_topics(small_index, n=10, seed=1)
    assert list(topics.columns) == ["qid", "query"] and list(qrels.columns) == ["qid", "docno", "label"]
    assert len(topics) == 10 and topics["qid"].is_unique and (qrels["qid"] == topics["qid"]).all()
    assert set(zip(topics["query"], qrels["docno"])) <= pairs and (qrels["label"] == 1).all()
    assert qrels["docno"].is_unique  # spread: one query per document before a second one
    again, _ = pseudo_query_topics(small_index, n=10, seed=1)
    other, _ = pseudo_query_topics(small_index, n=10, seed=2)
    assert again.equals(topics) and not other["query"].equals(topics["query"])
    everything, _ = pseudo_query_topics(small_index.path, n=None)
    assert len(everything) == len(pairs) and len(pseudo_query_topics(small_index, n=10_000)[0]) == len(pairs)
    with pytest.raises(ValueError, match="n must be"):
        pseudo_query_topics(small_index, n=0)
    copy = tmp_path / "copy.gr"
    shutil.copytree(small_index.path, copy)
    with open(os.path.join(files_of(str(copy)), "pseudo_queries.jsonl"), "w"):
        pass
    with pytest.raises(ValueError, match="no saved pseudo-queries"):
        pseudo_query_topics(str(copy))
