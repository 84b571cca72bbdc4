"""Tests for pt_genret.datasets (all data is generated in tmp_path; no network)."""
from __future__ import annotations

import json
import random
import warnings
from collections import namedtuple
from pathlib import Path

import pandas as pd
import pytest

from pt_genret import datasets as ds
from pt_genret.datasets import (
    Dataset,
    load_dataset,
    quickstart_dataset,
    read_beir,
    read_trec_qrels,
    read_trec_run,
    read_trec_topics,
)

N_DOCS = 20
N_QUERIES = 6


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _write_qrels(path: Path, rows: list[tuple[str, str, int]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{s}" for q, d, s in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_beir(root: Path, docs: list[dict] | None = None, seed: int = 0) -> Path:
    """Create a small seeded BEIR folder with splits 'test' (q0-q2) and 'train' (q3-q5)."""
    rng = random.Random(seed)
    words = ["alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "theta"]
    root.mkdir(parents=True, exist_ok=True)
    if docs is None:
        docs = [
            {"_id": f"d{i}", "title": f"Title {i}" if i % 3 else "",
             "text": " ".join(rng.choice(words) for _ in range(8))}
            for i in range(N_DOCS)
        ]
        docs[0]["url"] = "http://example.org/d0"
        docs[1]["metadata"] = {"url": "http://example.org/d1"}
    _write_jsonl(root / "corpus.jsonl", docs)
    _write_jsonl(root / "queries.jsonl",
                 [{"_id": f"q{i}", "text": f"query {i} {rng.choice(words)}"} for i in range(N_QUERIES)])
    test = [(f"q{i}", f"d{rng.randrange(N_DOCS)}", rng.choice([1, 2])) for i in range(3)]
    test.append(("q0", "d19", 0))
    train = [(f"q{i}", f"d{rng.randrange(N_DOCS)}", 1) for i in range(3, N_QUERIES)]
    _write_qrels(root / "qrels" / "test.tsv", test)
    _write_qrels(root / "qrels" / "train.tsv", train)
    return root


@pytest.fixture
def beir_dir(tmp_path: Path) -> Path:
    return make_beir(tmp_path / "mini")


# ----------------------------------------------------------------------------- BEIR

def test_beir_corpus(beir_dir: Path) -> None:
    d = read_beir(beir_dir)
    assert isinstance(d, Dataset) and d.name == "mini"
    docs = list(d.get_corpus_iter())
    assert len(docs) == N_DOCS == d.corpus_size()
    assert all({"docno", "text", "title"} <= set(x) for x in docs)
    assert docs[0]["url"] == "http://example.org/d0"
    assert docs[1]["url"] == "http://example.org/d1"
    assert "url" not in docs[2]
    assert docs[3]["title"] == ""  # absent/empty title -> ""
    assert [x["docno"] for x in docs] == [f"d{i}" for i in range(N_DOCS)]
    # iterating twice works (streaming re-opens the file)
    assert len(list(d.get_corpus_iter(verbose=True))) == N_DOCS


def test_beir_topics_qrels_dtypes(beir_dir: Path) -> None:
    d = read_beir(beir_dir)
    assert d.splits() == ["test", "train"]
    topics = d.get_topics("test")
    assert list(topics.columns) == ["qid", "query"]
    assert all(pd.api.types.is_string_dtype(topics[c]) for c in topics.columns)
    assert list(topics["qid"]) == ["q0", "q1", "q2"]
    qrels = d.get_qrels("test")
    assert list(qrels.columns) == ["qid", "docno", "label"]
    assert pd.api.types.is_string_dtype(qrels["qid"]) and pd.api.types.is_string_dtype(qrels["docno"])
    assert pd.api.types.is_integer_dtype(qrels["label"])
    assert len(qrels) == 4 and set(qrels["label"]) <= {0, 1, 2}


def test_beir_split_filtering(beir_dir: Path) -> None:
    d = read_beir(beir_dir)
    assert list(d.get_topics("train")["qid"]) == ["q3", "q4", "q5"]
    assert len(d.get_topics(None)) == N_QUERIES
    assert set(d.get_qrels("train")["qid"]) == {"q3", "q4", "q5"}


def test_beir_missing_split(beir_dir: Path) -> None:
    d = read_beir(beir_dir)
    with pytest.raises(ValueError, match=r"'dev'.*\['test', 'train'\]"):
        d.get_qrels("dev")
    with pytest.raises(ValueError, match="dev"):
        d.get_topics("dev")


def test_beir_missing_file(beir_dir: Path, tmp_path: Path) -> None:
    (beir_dir / "queries.jsonl").unlink()
    d = read_beir(beir_dir)
    with pytest.raises(FileNotFoundError, match="queries.jsonl"):
        d.get_topics("test")
    (beir_dir / "corpus.jsonl").unlink()
    with pytest.raises(FileNotFoundError, match="corpus.jsonl"):
        list(d.get_corpus_iter())
    with pytest.raises(FileNotFoundError):
        read_beir(tmp_path / "does-not-exist")


def test_beir_empty_split_topics(tmp_path: Path) -> None:
    root = make_beir(tmp_path / "b")
    _write_qrels(root / "qrels" / "dev.tsv", [("unknown-q", "d1", 1)])
    with pytest.raises(ValueError, match="no queries"):
        read_beir(root).get_topics("dev")


def test_beir_duplicate_docno(tmp_path: Path) -> None:
    docs = [{"_id": "a", "text": "x"}, {"_id": "b", "text": "y"}, {"_id": "a", "text": "z"}]
    d = read_beir(make_beir(tmp_path / "dup", docs=docs))
    with pytest.raises(ValueError, match=r"corpus.jsonl:3.*duplicate docno 'a'"):
        list(d.get_corpus_iter())


def test_beir_empty_docno(tmp_path: Path) -> None:
    docs = [{"_id": "a", "text": "x"}, {"_id": " ", "text": "y"}]
    d = read_beir(make_beir(tmp_path / "empty", docs=docs))
    with pytest.raises(ValueError, match=r"corpus.jsonl:2.*empty docno"):
        list(d.get_corpus_iter())


def test_beir_empty_document_policies(tmp_path: Path) -> None:
    docs = [{"_id": "a", "text": "x"}, {"_id": "b", "title": "", "text": ""}, {"_id": "c", "text": "z"}]
    root = make_beir(tmp_path / "emptydoc", docs=docs)
    with pytest.raises(ValueError, match=r"corpus.jsonl:2.*'b'"):
        list(read_beir(root, empty_docs="error").get_corpus_iter())
    with pytest.warns(UserWarning, match="skipped 1 document.*'b'"):
        assert [x["docno"] for x in read_beir(root).get_corpus_iter()] == ["a", "c"]
    with pytest.warns(UserWarning, match="skipped"):  # "warn", the older name of "skip"
        assert [x["docno"] for x in read_beir(root, empty_docs="warn").get_corpus_iter()] == ["a", "c"]
    with pytest.warns(UserWarning, match="skipped"):
        assert [x["docno"] for x in read_beir(root, empty_docs="skip").get_corpus_iter()] == ["a", "c"]


def test_beir_bad_json_line(tmp_path: Path) -> None:
    root = make_beir(tmp_path / "bad")
    with open(root / "corpus.jsonl", "a", encoding="utf-8") as f:
        f.write("{not json\n")
    with pytest.raises(ValueError, match=rf"corpus.jsonl:{N_DOCS + 1}"):
        list(read_beir(root).get_corpus_iter())


# ----------------------------------------------------------------------------- TREC

def test_trec_topics_sgml(tmp_path: Path) -> None:
    p = tmp_path / "topics.trec"
    p.write_text(
        "<top>\n<num> Number: 301\n<title> International Organized Crime\n\n"
        "<desc> Description:\nIdentify organizations.\n</top>\n\n"
        "<top>\n<num>302</num>\n<title>Topic: Poliomyelitis and\n Post-Polio</title>\n"
        "<narr> Narrative: anything.\n</top>\n",
        encoding="utf-8",
    )
    t = read_trec_topics(p)
    assert list(t["qid"]) == ["301", "302"]
    assert list(t["query"]) == ["International Organized Crime", "Poliomyelitis and Post-Polio"]
    assert all(pd.api.types.is_string_dtype(t[c]) for c in ("qid", "query"))


def test_trec_topics_tab_and_space(tmp_path: Path) -> None:
    p = tmp_path / "topics.tsv"
    p.write_text("1\tfirst query here\n\n2\tsecond  query\n", encoding="utf-8")
    t = read_trec_topics(p)
    assert list(t["qid"]) == ["1", "2"] and t["query"].iloc[1] == "second  query"
    p2 = tmp_path / "topics.txt"
    p2.write_text("10 hello world\n11 foo\n", encoding="utf-8")
    assert list(read_trec_topics(p2)["query"]) == ["hello world", "foo"]
    p3 = tmp_path / "empty.txt"
    p3.write_text("\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no topics"):
        read_trec_topics(p3)


def test_trec_qrels(tmp_path: Path) -> None:
    p = tmp_path / "qrels.txt"
    p.write_text("1 0 d1 1\n1 0 d2 0\n2 0 d3 2\n", encoding="utf-8")
    q = read_trec_qrels(p)
    assert list(q.columns) == ["qid", "docno", "label"]
    assert list(q["label"]) == [1, 0, 2] and pd.api.types.is_integer_dtype(q["label"])
    p.write_text("1 0 d1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"qrels.txt:1"):
        read_trec_qrels(p)


def test_trec_run(tmp_path: Path) -> None:
    p = tmp_path / "run.txt"
    p.write_text("1 Q0 d1 1 12.5 tag\n1 Q0 d2 2 11.0 tag\n2 Q0 d9 1 -3 tag\n", encoding="utf-8")
    r = read_trec_run(p)
    assert list(r.columns) == ["qid", "docno", "rank", "score"]
    assert list(r["rank"]) == [1, 2, 1] and list(r["score"]) == [12.5, 11.0, -3.0]
    assert pd.api.types.is_integer_dtype(r["rank"]) and pd.api.types.is_float_dtype(r["score"])


# ----------------------------------------------------------------------------- quickstart

def test_quickstart_consistent() -> None:
    d = quickstart_dataset()
    docs = list(d.get_corpus_iter())
    docnos = {x["docno"] for x in docs}
    assert len(docs) == len(docnos) == d.corpus_size() >= 60
    assert all(x["text"] and x["title"] for x in docs)
    assert d.splits() == ["test"]
    topics, qrels = d.get_topics("test"), d.get_qrels("test")
    assert len(topics) >= 30 and topics["qid"].is_unique
    assert set(qrels["docno"]) <= docnos
    assert set(qrels["qid"]) <= set(topics["qid"])
    assert set(topics["qid"]) == set(qrels["qid"])
    assert qrels.groupby("qid").size().between(1, 3).all()
    assert set(qrels["label"]) <= {1, 2}
    assert pd.api.types.is_integer_dtype(qrels["label"])
    assert Path(ds.__file__).with_name("data").joinpath("quickstart.json").stat().st_size < 80_000


# ----------------------------------------------------------------------------- dispatch

def test_load_dataset_dispatch(beir_dir: Path) -> None:
    assert isinstance(load_dataset(beir_dir), ds.BeirDataset)
    assert isinstance(load_dataset(str(beir_dir)), ds.BeirDataset)
    assert isinstance(load_dataset("quickstart"), ds.MemoryDataset)
    irds = load_dataset("irds:some/thing")
    assert isinstance(irds, ds.IrdsDataset) and irds.irds_id == "some/thing"


@pytest.mark.parametrize("spec", ["nonexistent-folder-xyz", "irds:", "beir:scifact"])
def test_load_dataset_bad_spec(spec: str) -> None:
    with pytest.raises(ValueError, match="irds|quickstart"):
        load_dataset(spec)


# ----------------------------------------------------------------------------- ir_datasets (local, offline)

Doc = namedtuple("Doc", ["doc_id", "title", "text", "url"])
DocNoTitle = namedtuple("DocNoTitle", ["doc_id", "text"])
BodyDoc = namedtuple("BodyDoc", ["doc_id", "title", "body"])
Query = namedtuple("Query", ["query_id", "text"])
Topic = namedtuple("Topic", ["query_id", "title", "description"])


def _irds(docs=None, queries=None, qrels=None):
    """A real ir_datasets Dataset over in-memory records (its qrels in TREC format from a string)."""
    from ir_datasets.datasets.base import Dataset as IrdsBase
    from ir_datasets.formats import BaseDocs, BaseQueries, TrecQrels
    from ir_datasets.util.fileio import StringFile

    parts = []
    if docs is not None:
        class Docs(BaseDocs):
            def docs_iter(self): return iter(docs)
            def docs_count(self): return len(docs)
            def docs_cls(self): return type(docs[0])
        parts.append(Docs())
    if queries is not None:
        class Queries(BaseQueries):
            def queries_iter(self): return iter(queries)
            def queries_cls(self): return type(queries[0])
        parts.append(Queries())
    if qrels is not None:
        text = "".join(f"{q} 0 {d} {r}\n" for q, d, r in qrels)
        parts.append(TrecQrels(StringFile(text), {0: "not relevant", 1: "relevant", 2: "very"}))
    return IrdsBase(*parts)


@pytest.fixture
def fake_irds(monkeypatch: pytest.MonkeyPatch) -> dict:
    """Local datasets registered in ir_datasets' own registry (removed after the test), read
    through ``pt.get_dataset("irds:...")`` as any other id: no network."""
    import ir_datasets

    registry = {
        # base: docs + all queries, no qrels (like beir/scifact)
        "fake/beir": _irds(
            docs=[Doc("1", "T1", "text one", "http://u/1"), Doc("2", "", "text two", "")],
            queries=[Query("a", "q a"), Query("b", "q b")],
        ),
        "fake/beir/test": _irds(queries=[Query("a", "q a")], qrels=[("a", "1", 2)]),
        "fake/beir/train": _irds(queries=[Query("b", "q b")], qrels=[("b", "2", 1)]),
        # base with its own qrels and no sub-splits, docs without a title field
        "fake/flat": _irds(
            docs=[DocNoTitle("x", "xx"), DocNoTitle("y", "yy")],
            queries=[Query("1", "one")],
            qrels=[("1", "x", 1), ("1", "y", 0)],
        ),
        # documents with a body and no text, TREC-style topics with several fields
        "fake/trec": _irds(docs=[BodyDoc("d1", "A title", "the body")],
                           queries=[Topic("7", "short title", "a longer description")],
                           qrels=[("7", "d1", 1)]),
    }
    for name, dataset in registry.items():
        monkeypatch.setitem(ir_datasets.registry._registered, name, dataset)
    return registry


def test_irds_goes_through_pyterrier(fake_irds: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    import pyterrier as pt
    asked = []
    real = pt.get_dataset
    monkeypatch.setattr(pt, "get_dataset", lambda name, **kw: asked.append(name) or real(name, **kw))
    d = load_dataset("irds:fake/flat")
    assert [x["docno"] for x in d.get_corpus_iter()] == ["x", "y"]
    assert "irds:fake/flat" in asked


def test_irds_body_documents_and_multi_field_topics(fake_irds: dict) -> None:
    d = load_dataset("irds:fake/trec")
    assert list(d.get_corpus_iter()) == [{"docno": "d1", "text": "the body", "title": "A title"}]
    assert list(d.get_topics("test")["query"]) == ["short title"]


def test_irds_sub_splits(fake_irds: dict) -> None:
    d = load_dataset("irds:fake/beir")
    docs = list(d.get_corpus_iter())
    assert docs == [
        {"docno": "1", "text": "text one", "title": "T1", "url": "http://u/1"},
        {"docno": "2", "text": "text two", "title": ""},
    ]
    assert d.corpus_size() == 2
    assert d.splits() == ["test", "train"]
    t = d.get_topics("test")
    assert list(t["qid"]) == ["a"] and list(t["query"]) == ["q a"]
    q = d.get_qrels("train")
    assert q.to_dict("records") == [{"qid": "b", "docno": "2", "label": 1}]
    assert pd.api.types.is_integer_dtype(q["label"])
    assert len(d.get_topics(None)) == 2
    with pytest.raises(ValueError, match="no qrels"):
        d.get_qrels(None)
    with pytest.raises(ValueError, match=r"'dev'.*\['test', 'train'\]"):
        d.get_qrels("dev")


def test_irds_flat_dataset(fake_irds: dict) -> None:
    d = load_dataset("irds:fake/flat")
    assert d.splits() == ["test"]
    assert [x["title"] for x in d.get_corpus_iter()] == ["", ""]
    assert list(d.get_qrels("test")["label"]) == [1, 0]
    assert list(d.get_topics("test")["query"]) == ["one"]
    with pytest.raises(ValueError, match="train"):
        d.get_topics("train")
