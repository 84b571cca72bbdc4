"""The extra docid schemes: rq / pq (quantised codes), url, bm25_terms."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import build_tiny_index, make_docs
from pt_genret.docids import SCHEMES, get_scheme, load_scheme
from pt_genret.docids.bm25_terms import Bm25TermScheme
from pt_genret.docids.quantised import ProductQuantisedScheme, ResidualQuantisedScheme
from pt_genret.docids.url import UrlScheme, url_words

NEW = {"rq": ResidualQuantisedScheme, "pq": ProductQuantisedScheme, "url": UrlScheme,
       "bm25_terms": Bm25TermScheme}


@pytest.fixture(autouse=True)
def registered(monkeypatch):
    """Make sure the new schemes are in the registry (load_scheme and the indexer find them by name)."""
    for name, cls in NEW.items():
        monkeypatch.setitem(SCHEMES, name, cls)


def frame(docs: list[dict], prefix: str = "") -> pd.DataFrame:
    d = pd.DataFrame(docs)
    d["docno"] = prefix + d["docno"]
    return d


@pytest.fixture(scope="module")
def corpus() -> pd.DataFrame:
    return frame(make_docs(per_topic=6, seed=3))


@pytest.fixture(scope="module")
def new_docs() -> pd.DataFrame:
    return frame(make_docs(per_topic=3, seed=99), "new-")


class FakeEncoder:
    """Deterministic stand-in for TextEncoder: a seeded random unit vector per distinct text,
    plus a per-topic offset so that the embeddings have some cluster structure."""

    def __init__(self, dim: int = 16) -> None:
        self.dim = dim

    def encode(self, texts, verbose: bool = False) -> np.ndarray:
        out = []
        for t in texts:
            seed = sum(ord(ch) * (i + 1) for i, ch in enumerate(t)) % (2 ** 32)
            v = np.random.default_rng(seed).normal(size=self.dim)
            topic = sum(map(ord, t.split()[2])) % 4 if len(t.split()) > 2 else 0
            v[topic * (self.dim // 4)] += 3.0
            out.append(v / np.linalg.norm(v))
        return np.array(out, dtype=np.float32).reshape(len(texts), self.dim)


def fake_embed(scheme, docs: pd.DataFrame) -> np.ndarray:
    from pt_genret.documents import full_texts as doc_texts

    return scheme.text_encoder().encode(doc_texts(docs))


def quantised(name: str, **options):
    scheme = get_scheme(name, **options)
    scheme._encoder = FakeEncoder()
    return scheme


def code_lists(ids: list[str]) -> list[list[int]]:
    return [[int(c) for c in i.split("-")] for i in ids]


# --- rq / pq --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,options", [("rq", {"m": 3, "k": 4}), ("pq", {"m": 4, "k": 4}),
                                          ("rq", {}), ("pq", {"m": 2, "k": 8, "max_suffix": 3})])
def test_quantised_fit_assign_save_load(name, options, corpus, new_docs, tmp_path):
    scheme = quantised(name, **options)
    scheme.fit(corpus, embeddings=fake_embed(scheme, corpus))
    m, k = scheme.m, scheme.k
    assert scheme.num_codes() == m * k + scheme.max_suffix
    ids = scheme.assign(corpus)
    assert len(set(ids)) == len(ids) == len(corpus)
    for code in code_lists(ids):
        assert all(0 <= c < scheme.num_codes() for c in code)
        # position-aware: level l's value lies in [l*k, (l+1)*k); a suffix lies after m*k
        assert all(l * k <= c < (l + 1) * k for l, c in enumerate(code[:m]))
        assert len(code) == m or (len(code) == m + 1 and code[m] >= m * k)
    # only collisions get a suffix
    plain = ["-".join(i.split("-")[:m]) for i in ids]
    for i, docid in enumerate(ids):
        assert (len(docid.split("-")) > m) == (plain[i] in plain[:i])

    more = scheme.assign(new_docs, taken=ids)
    assert len(set(more)) == len(more) and not set(more) & set(ids)
    assert all(0 <= c < scheme.num_codes() for code in code_lists(more) for c in code)

    # deterministic given the seed
    again = quantised(name, **options)
    assert again.fit(corpus, embeddings=fake_embed(again, corpus)).assign(corpus) == ids
    assert again.assign(new_docs, taken=ids) == more

    scheme.save(str(tmp_path / "s"))
    meta = json.loads((tmp_path / "s" / "scheme.json").read_text())
    assert meta["name"] == name and meta["config"] == scheme.config()
    with np.load(tmp_path / "s" / "scheme_state.npz", allow_pickle=False) as z:
        assert all(z[key].dtype.kind in "fiu" for key in z.files)
    loaded = load_scheme(str(tmp_path / "s"))
    assert type(loaded) is type(scheme) and loaded.num_codes() == scheme.num_codes()
    loaded._encoder = FakeEncoder()
    assert loaded.assign(new_docs, taken=ids) == more
    # the fitted documents, re-encoded by the loaded scheme, land on their fitted codes
    assert loaded.assign(corpus) == ids


def test_rq_uses_residuals(corpus):
    scheme = quantised("rq", m=2, k=4)
    emb = fake_embed(scheme, corpus)
    scheme.fit(corpus, embeddings=emb)
    from sklearn.cluster import KMeans

    first = KMeans(4, random_state=42, n_init=1).fit(emb)
    np.testing.assert_allclose(scheme.centroids[0], first.cluster_centers_, rtol=1e-5, atol=1e-6)
    residual = emb - first.cluster_centers_[first.labels_]
    second = KMeans(4, random_state=43, n_init=1).fit(residual)
    np.testing.assert_allclose(scheme.centroids[1], second.cluster_centers_, rtol=1e-4, atol=1e-5)
    codes = code_lists(scheme.propose(corpus))
    assert [c[0] for c in codes] == first.labels_.tolist()
    assert [c[1] - 4 for c in codes] == second.labels_.tolist()


def test_pq_subspaces(corpus):
    scheme = quantised("pq", m=3, k=4)  # 16 dims -> 6 + 5 + 5
    scheme.fit(corpus, embeddings=fake_embed(scheme, corpus))
    assert scheme.bounds.tolist() == [0, 6, 11, 16]
    assert [c.shape for c in scheme.sub_centroids] == [(4, 6), (4, 5), (4, 5)]
    with pytest.raises(ValueError, match="sub-spaces"):
        quantised("pq", m=32).fit(corpus, embeddings=np.ones((len(corpus), 8), np.float32))


@pytest.mark.parametrize("name", ["rq", "pq"])
def test_quantised_collisions_get_suffixes(name):
    docs = pd.DataFrame({"docno": [f"d{i}" for i in range(7)], "text": ["same"] * 7, "title": [""] * 7})
    emb = np.ones((7, 8), dtype=np.float32) / np.sqrt(8)
    scheme = get_scheme(name, m=2, k=4, max_suffix=8).fit(docs, embeddings=emb)
    ids = scheme.assign(docs)
    assert len(set(ids)) == 7
    base = ids[0]
    assert len(base.split("-")) == 2
    assert ids[1:] == [f"{base}-{8 + n}" for n in range(6)]  # m*k = 8: the suffix range
    assert all(int(c) < scheme.num_codes() for i in ids for c in i.split("-"))
    # against existing ids: the next free suffix
    again = get_scheme(name, m=2, k=4, max_suffix=8).fit(docs, embeddings=emb)
    assert again.assign(docs.head(1), taken=ids) == [f"{base}-14"]
    # too many duplicates: a clear error
    few = get_scheme(name, m=2, k=4, max_suffix=3).fit(docs, embeddings=emb)
    with pytest.raises(ValueError, match="larger k"):
        few.assign(docs)


@pytest.mark.parametrize("name", ["rq", "pq"])
def test_quantised_fewer_docs_than_k(name):
    docs = pd.DataFrame({"docno": ["a", "b", "c"], "text": ["x", "y", "z"], "title": [""] * 3})
    emb = np.eye(3, 8, dtype=np.float32)
    scheme = get_scheme(name, m=2, k=16).fit(docs, embeddings=emb)
    assert scheme.num_codes() == 2 * 16 + 64
    ids = scheme.assign(docs)
    assert len(set(ids)) == 3
    assert all(0 <= code[0] < 3 and 16 <= code[1] < 19 for code in code_lists(ids))


def test_quantised_errors(corpus):
    with pytest.raises(RuntimeError, match="fitted"):
        get_scheme("rq").assign(corpus)
    with pytest.raises(ValueError, match="shape"):
        get_scheme("rq").fit(corpus, embeddings=np.ones((3, 4), np.float32))
    with pytest.raises(ValueError, match=r"docid scheme .pq. option m=0: must be > 0"):
        get_scheme("pq", m=0)


def test_quantised_with_the_real_encoder(text_encoder, tmp_path):
    docs = frame(make_docs(per_topic=3, seed=5, topics=("astronomy", "cooking", "football")))
    new = frame(make_docs(per_topic=1, seed=8), "new-")
    for name, options in (("rq", {"m": 2, "k": 4}), ("pq", {"m": 4, "k": 4})):
        scheme = get_scheme(name, **options)
        scheme._encoder = text_encoder  # the shipped MiniLM, loaded once
        ids = scheme.fit(docs).assign(docs)
        assert len(set(ids)) == len(docs) == 9
        more = scheme.assign(new, taken=ids)
        assert len(set(more)) == len(new) and not set(more) & set(ids)
        assert all(0 <= c < scheme.num_codes() for code in code_lists(ids + more) for c in code)
        scheme.save(str(tmp_path / name))
        loaded = load_scheme(str(tmp_path / name))
        loaded._encoder = text_encoder
        assert loaded.assign(new, taken=ids) == more


# --- url --------------------------------------------------------------------------------------------

def test_url_words():
    assert url_words("https://www.example.com/wiki/Jet_engine") == ["example", "com", "wiki", "jet", "engine"]
    assert url_words("http://en.wikipedia.org/w/index.php?title=Jet-engine&oldid=12") == \
        ["en", "wikipedia", "org", "w", "index", "php", "title", "jet", "engine", "oldid", "12"]
    assert url_words("www.Foo.org/A%20B#sec") == ["foo", "org", "a", "b", "sec"]
    assert url_words("//cdn.site.net/x") == ["cdn", "site", "net", "x"]
    assert url_words("") == []


def test_url_scheme_and_fallbacks(tmp_path):
    docs = pd.DataFrame({
        "docno": ["a", "b", "c", "d", "e", "f"],
        "url": ["https://www.example.com/wiki/Jet_engine", None, "", np.nan, "https://www.example.com/wiki/Jet-Engine",
                "///"],
        "title": ["Ignored Title", "Turbofan Design", "", "", "x", "Only Title"],
        "text": ["t", "u", "First words of the text", "", "y", "z"],
    })
    scheme = get_scheme("url").fit(docs)
    ids = scheme.assign(docs)
    assert ids == ["example com wiki jet engine", "turbofan design", "first words of the text", "untitled",
                   "example com wiki jet engine 1", "only title"]
    # no url column: titles (like the title scheme)
    no_url = docs.drop(columns=["url"])
    assert get_scheme("url").fit(no_url).assign(no_url.head(2)) == ["ignored title", "turbofan design"]
    with pytest.raises(ValueError, match="no 'url' column"):
        get_scheme("url", require_url=True).fit(no_url)
    long = pd.DataFrame({"docno": ["x"], "url": ["http://a.b/" + "/".join(f"w{i}" for i in range(20))],
                         "text": ["t"]})
    assert get_scheme("url", max_words=4).fit(long).assign(long) == ["a b w0 w1"]
    scheme.save(str(tmp_path / "u"))
    loaded = load_scheme(str(tmp_path / "u"))
    assert loaded.config() == {"max_words": 12, "require_url": False, "seed": 42}
    assert loaded.assign(docs.head(1), taken=ids) == ["example com wiki jet engine 2"]


# --- bm25_terms -------------------------------------------------------------------------------------

def test_bm25_terms_prefers_document_specific_terms(tmp_path):
    specific = ["zebra", "quartz", "violin", "glacier", "saffron"]
    docs = pd.DataFrame({
        "docno": [f"d{i}" for i in range(5)], "title": [""] * 5,
        "text": [f"common shared common {w} {w} shared common the and of" for w in specific],
    })
    scheme = get_scheme("bm25_terms", num_terms=1).fit(docs)
    assert scheme.assign(docs) == specific
    ranked = scheme.terms(docs["text"][0])
    assert ranked == ["zebra", "common", "shared"]  # the stopwords never; common (tf 3) > shared (tf 2)
    assert scheme.avgdl == 7.0 and scheme.num_docs == 5
    # the BM25 formula, by hand
    w = scheme.weights(docs["text"][0])
    idf = np.log(1 + (5 - 1 + 0.5) / (1 + 0.5))
    assert w["zebra"] == pytest.approx(idf * 2 * 1.9 / (2 + 0.9 * (0.6 + 0.4 * 7 / 7)))
    # unseen terms have df = 0, the highest idf
    assert scheme.terms("common common shared platypus")[0] == "platypus"
    assert scheme.idf("platypus") == pytest.approx(np.log(1 + 5.5 / 0.5))
    # ties keep the first occurrence
    assert scheme.terms("shared common") == ["shared", "common"]
    assert get_scheme("bm25_terms").fit(docs).assign(docs.head(1).assign(text="the of")) == ["untitled"]
    # persistence: numeric and string arrays, same ids after loading
    scheme.save(str(tmp_path / "b"))
    with np.load(tmp_path / "b" / "scheme_state.npz", allow_pickle=False) as z:
        assert set(z.files) == {"num_docs", "avgdl", "terms", "df"}
    loaded = load_scheme(str(tmp_path / "b"))
    extra = pd.DataFrame({"docno": ["x", "y"], "title": ["", ""], "text": ["zebra common platypus", "zebra"]})
    taken = scheme.assign(docs)
    assert loaded.assign(extra, taken=taken) == scheme.assign(extra, taken=taken) == ["platypus", "zebra 1"]


def test_new_schemes_on_the_shared_corpus(corpus, new_docs, tmp_path):
    for name in ("url", "bm25_terms"):
        scheme = get_scheme(name).fit(corpus)
        ids = scheme.assign(corpus)
        assert len(set(ids)) == len(ids) and all(ids)
        more = scheme.assign(new_docs, taken=ids)
        assert len(set(more)) == len(more) and not set(more) & set(ids)
        scheme.save(str(tmp_path / name))
        assert load_scheme(str(tmp_path / name)).assign(new_docs, taken=ids) == more


# --- end to end -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,options", [("rq", {"m": 2, "k": 4}), ("url", {})])
def test_index_and_retrieve_end_to_end(name, options, tmp_path, text_encoder, monkeypatch):
    import pt_genret.docids.quantised as quantised_module

    # the indexer builds its own scheme object: hand it the already-loaded MiniLM
    monkeypatch.setattr(quantised_module, "TextEncoder", lambda name=None: text_encoder)
    docs = make_docs(per_topic=6, seed=11)
    for d in docs:
        d["url"] = f"https://www.example.org/{d['docno'][:3]}/{d['title'].replace(' ', '_')}"
    index = build_tiny_index(tmp_path / f"{name}.gr", docs, scheme=name, epochs=2, scheme_options=options)
    assert index.meta["scheme"] == name
    table = index.table()
    assert len(table) == len(docs) and len(set(table.docids)) == len(docs)
    if name == "rq":
        assert index.meta["num_codes"] == 2 * 4 + 64
        assert all(len(d.split("-")) in (2, 3) for d in table.docids)
    else:
        assert table.docids[0] == "example org ast " + docs[0]["title"].lower()
    topics = pd.DataFrame({"qid": ["q1", "q2", "q3"], "query": [docs[0]["title"], "oven recipe", "league goal"]})
    from pt_genret.retriever import GenRetriever

    res = GenRetriever(index, num_results=5)(topics)
    assert len(res) > 0
    assert set(res["docno"]) <= {d["docno"] for d in docs}
    for _, group in res.groupby("qid"):
        assert not group["docno"].duplicated().any()
        assert len(group) <= 5
    # reopened from disk: the scheme loads through the registry
    assert type(index.scheme()) is SCHEMES[name]
