"""DocID schemes and the docid table."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import make_docs
from pt_genret.docids import SCHEMES, DocIdTable, get_scheme, load_scheme
from pt_genret.docids.semantic import base_k_digits

CODE_OPTIONS = {"semantic": {"k": 3}}


@pytest.fixture(scope="module")
def corpus() -> pd.DataFrame:
    return pd.DataFrame(make_docs(per_topic=6, seed=3))


@pytest.fixture(scope="module")
def new_docs() -> pd.DataFrame:
    """Unseen documents on the same topics, with fresh docnos."""
    d = pd.DataFrame(make_docs(per_topic=3, seed=99))
    d["docno"] = "new-" + d["docno"]
    return d


def make_scheme(name: str, encoder, seed: int = 42):
    scheme = get_scheme(name, seed=seed, **CODE_OPTIONS.get(name, {}))
    if name == "semantic":
        scheme._encoder = encoder  # share the loaded MiniLM between tests
    return scheme


def check_codes(scheme, ids):
    if scheme.kind != "codes":
        return
    for docid in ids:
        codes = [int(c) for c in docid.split("-")]
        assert all(0 <= c < scheme.num_codes() for c in codes), (docid, scheme.num_codes())


def test_registry_and_errors(corpus):
    assert set(SCHEMES) == {"atomic", "dense_init", "naive", "semantic", "title", "keywords", "rq", "pq", "url", "bm25_terms",
                            "ngrams", "multiview", "generated"}
    with pytest.raises(ValueError, match="unknown docid scheme"):
        get_scheme("nope")
    scheme = get_scheme("title")
    assert get_scheme(scheme) is scheme
    for name in ("atomic", "naive", "title", "keywords"):
        with pytest.raises(RuntimeError, match="fitted"):
            get_scheme(name).assign(corpus)


@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_fit_assign_unique_and_extend(name, corpus, new_docs, text_encoder, tmp_path):
    scheme = make_scheme(name, text_encoder).fit(corpus)
    ids = scheme.assign(corpus)
    assert len(ids) == len(corpus) and len(set(ids)) == len(ids)
    assert all(isinstance(i, str) and i for i in ids)
    check_codes(scheme, ids)

    state_before = {k: np.array(v).copy() for k, v in scheme.state().items() if k not in ("next_id", "leaf_fill")}
    more = scheme.assign(new_docs, taken=ids)
    assert len(more) == len(new_docs)
    assert len(set(ids) | set(more)) == len(ids) + len(more)  # unique against the existing ids
    check_codes(scheme, more)
    # assign() does not refit: the fitted statistics are unchanged
    for k, v in scheme.state().items():
        if k in state_before:
            np.testing.assert_array_equal(np.array(v), state_before[k])

    # deterministic given the seed
    again = make_scheme(name, text_encoder).fit(corpus)
    assert again.assign(corpus) == ids
    assert again.assign(new_docs, taken=ids) == more

    # save / load, then assign again: same ids as the live object, still unique
    scheme.save(str(tmp_path / "scheme"))
    again.save(str(tmp_path / "again"))
    loaded = load_scheme(str(tmp_path / "scheme"))
    assert type(loaded) is type(scheme) and loaded.fitted and loaded.config() == scheme.config()
    if name == "semantic":
        loaded._encoder = text_encoder
    extra = pd.DataFrame(make_docs(per_topic=2, seed=123))
    extra["docno"] = "extra-" + extra["docno"]
    taken = ids + more
    from_loaded = loaded.assign(extra, taken=taken)
    assert from_loaded == scheme.assign(extra, taken=taken)
    assert not set(from_loaded) & set(taken) and len(set(from_loaded)) == len(extra)
    assert loaded.num_codes() == scheme.num_codes()
    check_codes(loaded, from_loaded)


def test_scheme_files_are_loadable_without_pickle(corpus, tmp_path):
    scheme = get_scheme("keywords").fit(corpus)
    scheme.save(str(tmp_path))
    meta = json.loads((tmp_path / "scheme.json").read_text())
    assert meta == {"name": "keywords", "config": {"num_terms": 6, "seed": 42}}
    with np.load(tmp_path / "scheme_state.npz", allow_pickle=False) as z:
        assert int(z["num_docs"][0]) == len(corpus)


def test_atomic_and_naive_codes(corpus):
    atomic = get_scheme("atomic").fit(corpus)
    ids = atomic.assign(corpus)
    assert ids == [str(i) for i in range(len(corpus))]
    assert atomic.num_codes() == len(corpus)
    assert atomic.assign(corpus.head(2), taken=ids) == [str(len(corpus)), str(len(corpus) + 1)]
    assert atomic.num_codes() == len(corpus) + 2

    naive = get_scheme("naive").fit(corpus)
    ids = naive.assign(corpus)
    assert ids[:3] == ["0", "1", "2"] and ids[12] == "1-2"
    assert naive.num_codes() == 10
    # a taken id is skipped deterministically
    fresh = get_scheme("naive").fit(corpus)
    assert fresh.assign(corpus.head(2), taken=["0"]) == ["2", "1"]


def test_semantic_codes_below_k(corpus, text_encoder):
    for k in (2, 3, 5):
        scheme = make_scheme("semantic", text_encoder)
        scheme.k = k
        ids = scheme.fit(corpus).assign(corpus)
        assert len(set(ids)) == len(ids)
        codes = [[int(c) for c in i.split("-")] for i in ids]
        assert all(0 <= c < k for code in codes for c in code)
        assert max(len(c) for c in codes) >= 2  # 18 docs > k: hierarchical
        assert scheme.num_codes() == k


def test_semantic_routes_copies_to_their_original_cluster(corpus, text_encoder):
    scheme = get_scheme("semantic", k=4)
    scheme._encoder = text_encoder
    ids = scheme.fit(corpus).assign(corpus)
    copies = corpus.assign(docno="copy-" + corpus["docno"])
    copy_ids = scheme.assign(copies, taken=ids)
    same_top = [a.split("-")[0] == b.split("-")[0] for a, b in zip(ids, copy_ids)]
    assert all(same_top), list(zip(ids, copy_ids))


def test_semantic_identical_documents():
    docs = pd.DataFrame({"docno": [f"d{i}" for i in range(7)], "text": ["same"] * 7, "title": [""] * 7})
    emb = np.ones((7, 4), dtype=np.float32) / 2
    scheme = get_scheme("semantic", k=2).fit(docs, embeddings=emb)
    ids = scheme.assign(docs)
    assert len(set(ids)) == 7
    assert all(int(c) < 2 for i in ids for c in i.split("-"))


def test_base_k_digits():
    assert base_k_digits(0, 3) == [0]
    assert base_k_digits(5, 3) == [1, 2]
    assert base_k_digits(9, 3) == [1, 0, 0]
    assert all(sum(d * 7 ** p for p, d in enumerate(reversed(base_k_digits(n, 7)))) == n for n in range(200))


def test_title_collisions_resolved_deterministically():
    docs = pd.DataFrame({
        "docno": ["a", "b", "c", "d", "e"],
        "title": ["The Same Title!", "the same title", "", "The same title 1", "   "],
        "text": ["x", "y", "Untitled doc: first words here", "z", "Only text words"],
    })
    ids = get_scheme("title").fit(docs).assign(docs)
    assert ids == ["the same title", "the same title 1", "untitled doc first words here", "the same title 1 1",
                   "only text words"]
    assert get_scheme("title").fit(docs).assign(docs) == ids
    # against existing ids: the new document takes the next free alternative
    assert get_scheme("title").fit(docs).assign(docs.head(1), taken=ids) == ["the same title 2"]
    long = pd.DataFrame({"docno": ["x"], "title": [" ".join(f"w{i}" for i in range(20))], "text": ["t"]})
    assert get_scheme("title", max_words=4).fit(long).assign(long) == ["w0 w1 w2 w3"]


def test_keywords_prefer_document_specific_terms():
    specific = ["zebra", "quartz", "violin", "glacier", "saffron"]
    docs = pd.DataFrame({
        "docno": [f"d{i}" for i in range(5)],
        "title": [""] * 5,
        "text": [f"common shared common shared {w} the and of" for w in specific],
    })
    scheme = get_scheme("keywords", num_terms=1).fit(docs)
    assert scheme.assign(docs) == specific
    ranked = scheme.keywords(docs["text"][0])
    assert ranked[0] == "zebra"
    assert "the" not in ranked and "and" not in ranked  # stopwords never
    assert set(ranked) == {"zebra", "common", "shared"}
    # a term unseen at fit time has the highest idf
    assert scheme.keywords("common common shared platypus")[0] == "platypus"
    # without document-specific terms, ties keep the first occurrence order
    tie = get_scheme("keywords", num_terms=3).fit(docs)
    assert tie.keywords("shared common") == ["shared", "common"]


def test_keywords_collisions_get_suffixes():
    docs = pd.DataFrame({"docno": ["a", "b", "c"], "title": ["", "", ""],
                         "text": ["alpha beta", "beta alpha", "a an the"]})
    ids = get_scheme("keywords", num_terms=2).fit(docs).assign(docs)
    assert ids == ["alpha beta", "beta alpha", "untitled"]  # ties keep the text's order
    same = pd.DataFrame({"docno": ["a", "b", "c"], "title": ["", "", ""], "text": ["alpha beta"] * 3})
    assert get_scheme("keywords").fit(same).assign(same) == ["alpha beta", "alpha beta 1", "alpha beta 2"]


# --- DocIdTable -------------------------------------------------------------------------------

def test_docid_table_basics_and_roundtrip(tmp_path):
    table = DocIdTable(["d1", "d2"], ["x", "y"], [[5, 1], [6, 7, 1]])
    assert len(table) == 2 and "d2" in table and "d3" not in table
    assert table.index_of("d2") == 1
    with pytest.raises(KeyError, match="d3"):
        table.index_of("d3")
    bigger = table.extend(["d3"], ["z"], [[8, 1]])
    assert len(bigger) == 3 and len(table) == 2
    assert bigger.frame().to_dict("list") == {"docno": ["d1", "d2", "d3"], "docid": ["x", "y", "z"]}
    path = str(tmp_path / "docids.jsonl")
    bigger.save(path)
    back = DocIdTable.load(path)
    assert (back.docnos, back.docids, back.tokens) == (bigger.docnos, bigger.docids, bigger.tokens)


def test_docid_table_errors(tmp_path):
    with pytest.raises(ValueError, match="duplicate docno.*'d1'"):
        DocIdTable(["d1", "d2", "d1"], ["x", "y", "z"], [[1], [2], [3]])
    with pytest.raises(ValueError, match="duplicate docid.*'x'"):
        DocIdTable(["d1", "d2"], ["x", "x"], [[1], [2]])
    with pytest.raises(ValueError, match="same length"):
        DocIdTable(["d1"], ["x", "y"], [[1]])
    table = DocIdTable(["d1", "d2"], ["x", "y"], [[1], [2]])
    with pytest.raises(ValueError, match="duplicate docno"):
        table.extend(["d2"], ["z"], [[3]])
    path = tmp_path / "docids.jsonl"
    table.save(str(path))
    path.write_text(path.read_text() + "{not json\n")
    with pytest.raises(ValueError, match="line 3"):
        DocIdTable.load(str(path))
    path.write_text('{"docno": "d1", "docid": "x"}\n')
    with pytest.raises(ValueError, match="line 1"):
        DocIdTable.load(str(path))
