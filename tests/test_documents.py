"""The one document checker: every entry point accepts and refuses the same corpus the same way."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest

from pt_genret.datasets import MemoryDataset, read_beir_corpus
from pt_genret.documents import check_documents, collect_documents, title_text_records
from pt_genret.experiment import usable_docs

DOCS = [{"docno": "a", "text": "alpha", "title": "A"}, {"docno": "b", "text": " ", "title": ""},
        {"docno": 3, "text": "gamma"}]


def _beir(tmp_path: Path, docs: list[dict]) -> Path:
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps({"_id": d["docno"], "text": d.get("text"), "title": d.get("title")}) + "\n"
                            for d in docs), encoding="utf-8")
    return path


def _entry_points(tmp_path: Path, docs: list[dict]) -> dict:
    """Each way documents enter pt_genret, as a function giving the docnos it keeps."""
    return {
        "check_documents": lambda: [d["docno"] for d in check_documents(docs)],
        "collect_documents (indexer, updater)": lambda: collect_documents(docs)["docno"].tolist(),
        "collect_documents of a frame": lambda: collect_documents(pd.DataFrame(docs))["docno"].tolist(),
        "BEIR corpus file": lambda: [d["docno"] for d in read_beir_corpus(_beir(tmp_path, docs))],
        "dataset (usable_docs)": lambda: [d["docno"] for d in usable_docs(MemoryDataset(name="m", docs=docs))],
        "baselines (title_text_records)": lambda: [d["docno"] for d in title_text_records(docs)],
    }


def test_one_policy_for_empty_documents(tmp_path):
    for name, keep in _entry_points(tmp_path, DOCS).items():
        with pytest.warns(UserWarning, match=r"skipped 1 document\(s\) with empty text and title: 'b'"):
            assert keep() == ["a", "3"], name


@pytest.mark.parametrize("docs, message", [
    ([{"docno": "a", "text": "x"}, {"docno": "a", "text": "y"}], "duplicate docno 'a'"),
    ([{"docno": "a\tb", "text": "x"}], r"contains '\\t'"),
    ([{"docno": " ", "text": "x"}], "empty docno"),
    ([{"docno": "a", "text": ["x"]}], "'text' must be a string, got list"),
    ([{"docno": "a", "text": " "}], "no documents left: 'a' has empty text and title"),
])
def test_one_policy_for_bad_documents(tmp_path, docs, message):
    for name, keep in _entry_points(tmp_path, docs).items():
        if name == "BEIR corpus file" and "'docno'" in message:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(ValueError, match=message):
                keep()


def test_errors_name_the_document():
    with pytest.raises(ValueError, match=r"^src: document at position 1: duplicate docno 'a'$"):
        list(check_documents([{"docno": "a", "text": "x"}, {"docno": "a", "text": "y"}], "src"))
    with pytest.raises(ValueError, match=r"^f.jsonl:7: empty docno$"):
        list(check_documents([{"docno": "", "text": "x", "_where": "f.jsonl:7"}]))
    with pytest.raises(ValueError, match="document 'a' has empty text and title"):
        list(check_documents([{"docno": "a", "text": ""}], empty_docs="error"))
    with pytest.raises(ValueError, match="empty_docs must be one of"):
        list(check_documents([], empty_docs="drop"))
