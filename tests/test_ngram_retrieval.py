"""SEAL and MINDER: n-gram indexes, their decoding, SEAL's aggregation and the n-grams column."""
from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from conftest import build_tiny_index
from pt_genret import GenIndex, GenRetriever
from pt_genret.constraints import NgramIndex
from pt_genret.decoding.ngram_search import GeneratedNgram, aggregate, ngram_weight
from pt_genret.ngram_views import NgramView


@pytest.fixture(scope="module")
def seal_index(tmp_path_factory, docs):
    return build_tiny_index(tmp_path_factory.mktemp("seal") / "index", docs, scheme="ngrams", epochs=12)


@pytest.fixture(scope="module")
def minder_index(tmp_path_factory, docs):
    return build_tiny_index(tmp_path_factory.mktemp("minder") / "index", docs, scheme="multiview", epochs=16)


def _title_topics(docs):
    return pd.DataFrame({"qid": [d["docno"] for d in docs], "query": [d["title"] for d in docs]})


def test_weight_formula():
    # P(n|q) = 0.5, P(n) = 10 / 1000: log(0.5 * 0.99 / (0.01 * 0.5))
    assert ngram_weight(np.log(0.5), 10, 1000) == pytest.approx(np.log(0.5 * 0.99 / (0.01 * 0.5)))
    assert ngram_weight(np.log(0.001), 500, 1000) == 0.0  # rarer under the query than in the corpus


def test_aggregation_sums_weights_and_counts_one_of_each_prefix_chain():
    index = NgramIndex.build([[1, 2, 3], [1, 2, 4], [5, 1]], 6)
    views = [NgramView("text", None, index)]

    def gen(tokens, logprob):
        return GeneratedNgram(0, tuple(tokens), logprob, *index.interval(tokens))

    a, ab, abc, e = gen([1], -0.1), gen([1, 2], -0.2), gen([1, 2, 3], -0.3), gen([5], -1.0)
    scores = {d: (s, used) for d, s, used in aggregate([a, ab, abc, e], views)}
    w = {g.tokens: ngram_weight(g.logprob, g.hi - g.lo, index.num_tokens) for g in (a, ab, abc, e)}
    best_chain = max(w[(1,)], w[(1, 2)], w[(1, 2, 3)])
    assert scores[0][0] == pytest.approx(best_chain)  # 1, 1 2, 1 2 3 extend one another: the heaviest counts
    assert scores[1][0] == pytest.approx(max(w[(1,)], w[(1, 2)]))
    assert scores[2][0] == pytest.approx(w[(1,)] + w[(5,)])  # unrelated n-grams add up
    assert [d for d, _, _ in aggregate([a, ab, abc, e], views)] == sorted(scores, key=lambda d: -scores[d][0])


def test_seal_index_layout_and_errors(seal_index):
    assert seal_index.is_ngram and seal_index.meta["views"] == ["text"]
    assert os.path.exists(os.path.join(seal_index.folder, "ngrams", "text.npz"))
    assert not os.path.exists(os.path.join(seal_index.folder, "trie.npz"))
    with pytest.raises(ValueError, match="n-gram index"):
        seal_index.trie()
    with pytest.raises(ValueError, match="n-gram index"):
        GenRetriever(seal_index, decoder="annealed")(_title_topics([{"docno": "x", "title": "planet"}]))
    os.rename(os.path.join(seal_index.folder, "ngrams", "text.npz"), os.path.join(seal_index.folder, "moved.npz"))
    try:
        with pytest.raises(FileNotFoundError, match="view 'text'"):
            GenIndex(seal_index.path).views()
    finally:
        os.rename(os.path.join(seal_index.folder, "moved.npz"), os.path.join(seal_index.folder, "ngrams", "text.npz"))


def test_ngram_decoder_refused_on_a_docid_index(title_index):
    with pytest.raises(ValueError, match="n-gram"):
        GenRetriever(title_index, decoder="ngram")(pd.DataFrame({"qid": ["1"], "query": ["planet"]}))


@pytest.mark.parametrize("which", ["seal_index", "minder_index"])
def test_retrieval_finds_documents_by_their_titles(request, docs, which):
    index = request.getfixturevalue(which)
    res = GenRetriever(index, num_results=10)(_title_topics(docs))
    assert set(res["docno"]) <= {d["docno"] for d in docs}
    assert not res.duplicated(["qid", "docno"]).any()
    assert (res["decoder"] == "ngram").all() and (res["score"] > 0).all()
    top = res[res["rank"] == 0]
    assert (top["qid"] == top["docno"]).mean() >= 0.5
    hit = res.groupby("qid").apply(lambda g: (g["docno"] == g.name).any(), include_groups=False)
    assert hit.mean() >= 0.8


def _token_ids(tok, text: str) -> list[int]:
    """The token ids of a reported n-gram; one that starts inside a word (``##e of``) starts with a
    continuation piece, which tokenising its text alone would not give back."""
    if not text.startswith("##"):
        return tok(text, add_special_tokens=False)["input_ids"]
    pieces = tok.tokenize(text[2:])
    return tok.convert_tokens_to_ids(["##" + pieces[0]] + pieces[1:])


@pytest.mark.parametrize("which", ["seal_index", "minder_index"])
def test_every_reported_ngram_occurs_in_its_document(request, docs, which):
    index = request.getfixturevalue(which)
    tok = index.backbone().tokenizer
    views = {v.name: v for v in index.views()}
    res = GenRetriever(index, num_results=5)(_title_topics(docs[:6]))
    assert res["ngrams"].map(len).min() >= 1
    row_of = {d: i for i, d in enumerate(index.table().docnos)}
    for docno, grams in zip(res["docno"], res["ngrams"]):
        for gram in grams:
            view, text = gram.split(": ", 1) if len(views) > 1 else ("text", gram)
            ids = _token_ids(tok, text)
            assert row_of[docno] in views[view].index.documents(ids).tolist(), (docno, gram)


def test_minder_uses_every_view(minder_index, docs):
    res = GenRetriever(minder_index, num_results=5)(_title_topics(docs[:8]))
    views = {g.split(": ", 1)[0] for grams in res["ngrams"] for g in grams}
    assert views == {"title", "body", "query"}
    assert minder_index.meta["view_markers"] == [minder_index.backbone().code_offset + i for i in range(3)]


def test_training_targets_are_ngrams_of_their_document(tmp_path, docs):
    from pt_genret.backbone import create_backbone
    from pt_genret.docids import get_scheme
    from pt_genret.documents import full_texts
    from pt_genret.ngram_views import build_views, ngram_examples, tokenise_views, view_markers
    from pt_genret.queries import get_query_generator
    from conftest import TINY_T5

    frame = get_query_generator("extractive", 3, 42).transform(pd.DataFrame(docs))
    backbone = create_backbone("t5-scratch", corpus_texts=full_texts(frame), **TINY_T5)
    scheme = get_scheme("multiview", span_length=6)
    markers = view_markers(backbone, 3)
    tokens = tokenise_views(backbone, scheme.view_texts(frame))
    views = build_views(tokens, markers, backbone.vocab_size)
    examples = ngram_examples(frame, tokens, markers, backbone, 6, seed=42)
    assert len(examples) == len(frame) * 4
    sources = {e.source: i for i, e in enumerate(examples)}
    for e in examples:
        view = markers.index(e.target[0])
        body = e.target[1:]
        assert 1 <= len(body) <= 6
        assert views[view].index.count(body) > 0
    # a pseudo-query aimed at the query view targets another pseudo-query of its document
    aimed = [e for e in examples if e.kind == "query" and e.target[0] == markers[2]]
    assert aimed
    for e in aimed:
        source = backbone.tokenizer(e.source, add_special_tokens=False)["input_ids"]
        assert e.target[1:] != source[:6]


def test_rerank_scores_agree_with_retrieval(seal_index, docs):
    topics = _title_topics(docs[:4])
    res = GenRetriever(seal_index, num_results=5)(topics)
    extra = pd.DataFrame({"qid": topics["qid"], "query": topics["query"], "docno": [docs[-1]["docno"]] * 4})
    cands = pd.concat([res[["qid", "query", "docno"]], extra]).drop_duplicates(["qid", "docno"])
    cands["score"], cands["rank"] = 0.0, 0
    rr = GenRetriever(seal_index)(cands)
    assert len(rr) == len(cands) and set(zip(rr["qid"], rr["docno"])) == set(zip(cands["qid"], cands["docno"]))
    merged = rr.merge(res[["qid", "docno", "score"]], on=["qid", "docno"], suffixes=("", "_retrieved"))
    assert np.allclose(merged["score"], merged["score_retrieved"])
    assert (rr["score"] >= 0).all()


def test_rank_cutoff_keeps_the_same_ngrams(seal_index, docs):
    topics = _title_topics(docs[:4])
    full = GenRetriever(seal_index, num_results=10)
    cut = (full % 3)(topics)
    top = full(topics)
    top = top[top["rank"] < 3]
    assert cut[["qid", "docno"]].values.tolist() == top[["qid", "docno"]].values.tolist()
