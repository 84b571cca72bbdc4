"""Hostile inputs and faults, table-driven: each case asserts the one-line error or the data
that survives (issue 14). Bad corpora, BEIR files, options, damaged index files, output
folders, concurrent writers, and writers killed at every stage of a build, update and remove."""
from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import TINY_T5, build_tiny_index, make_docs
from pt_genret.cli import main
from pt_genret.datasets import read_beir_corpus
from pt_genret.index import GenIndex
from pt_genret.retriever import GenRetriever
from pt_genret.saved_queries import files_of
from pt_genret.storage import IndexLockedError, WriteLock
from pt_genret.storage.faults import CRASH_ENV, CRASH_EXIT_CODE

DOCS = make_docs(per_topic=2, seed=5)  # 8 documents
NEW = [{"docno": "new1", "title": "zephyr quasar", "text": "zephyr quasar pulsar notes"},
       {"docno": "new2", "title": "quokka bakery", "text": "quokka bakery sourdough notes"}]
MORE = [{"docno": "more1", "title": "tundra glacier", "text": "tundra glacier permafrost notes"}]
TOPICS = pd.DataFrame({"qid": [d["docno"] for d in DOCS + NEW], "query": [d["title"] for d in DOCS + NEW]})
FAST_UPDATE = {"method": "incremental", "epochs": 1, "verbose": False}


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> str:
    return build_tiny_index(tmp_path_factory.mktemp("hostile") / "base.gr", DOCS, epochs=2).path


@pytest.fixture()
def copy(base, tmp_path) -> str:
    path = str(tmp_path / "copy.gr")
    shutil.copytree(base, path)
    return path


def run(path: str) -> list[tuple]:
    """What the index retrieves (qid, docno, rank), each score rounded."""
    res = GenRetriever(path, num_results=5)(TOPICS)
    return sorted(zip(res["qid"], res["docno"], res["rank"], np.round(res["score"].astype(float), 4)))


def last_line(err: str) -> str:
    """The error line (progress bars may come before it)."""
    return err.strip().replace("\r", "\n").splitlines()[-1]


def gen(path: str) -> Path:
    return Path(files_of(path))


# --- corpora as documents ------------------------------------------------------------------------
CORPORA = {
    "docno with a tab": ([{"docno": "a\tb", "text": "x"}], r"contains '\\t'"),
    "docno with a newline": ([{"docno": "a\nb", "text": "x"}], r"contains '\\n'"),
    "docno with a carriage return": ([{"docno": "a\rb", "text": "x"}], r"contains '\\r'"),
    "docno with a leading space": ([{"docno": " a", "text": "x"}], "spaces around it"),
    "docno with a trailing space": ([{"docno": "a ", "text": "x"}], "spaces around it"),
    "empty docno": ([{"docno": "", "text": "x"}], "empty docno"),
    "blank docno": ([{"docno": "   ", "text": "x"}], "empty docno"),
    "missing docno": ([{"docno": None, "text": "x"}], "missing docno"),
    "duplicate docno": ([{"docno": "a", "text": "x"}, {"docno": "a", "text": "y"}], "duplicate docno 'a'"),
    "list text": ([{"docno": "a", "text": ["x"]}], "'text' must be a string, got list"),
    "dict title": ([{"docno": "a", "text": "x", "title": {"t": 1}}], "'title' must be a string, got dict"),
    "number text": ([{"docno": "a", "text": 42}], "'text' must be a string, got int"),
    "bool docno": ([{"docno": True, "text": "x"}], "'docno' must be a string or a whole number, got bool"),
    "float docno": ([{"docno": 1.5, "text": "x"}], "'docno' must be a string or a whole number, got float"),
    "empty corpus": ([], "corpus is empty"),
    "no text field": ([{"docno": "a", "body": "x"}], "'text' field"),
    "no docno field": ([{"id": "a", "text": "x"}], "'docno' field"),
    "empty document": ([{"docno": "a", "text": " ", "title": ""}], "'a' has empty text and title"),
}


@pytest.mark.parametrize("case", sorted(CORPORA))
def test_bad_corpus(case, tmp_path):
    docs, message = CORPORA[case]
    with pytest.raises(ValueError, match=message):
        GenIndex(str(tmp_path / "idx.gr")).indexer(backbone="t5-scratch", backbone_options=TINY_T5, epochs=1,
                                                   verbose=False).index(docs)
    assert os.listdir(tmp_path) == []  # refused before anything was written


# --- BEIR corpus files (the bad record on line 2) -------------------------------------------------------
BEIR_LINES = {
    "a number": (b"42", r"corpus.jsonl:2: expected a JSON object"),
    "null": (b"null", r"corpus.jsonl:2: expected a JSON object"),
    "a string": (b'"a document"', r"corpus.jsonl:2: expected a JSON object"),
    "a list": (b"[1, 2]", r"corpus.jsonl:2: expected a JSON object"),
    "list _id": (b'{"_id": ["a"], "text": "x"}', r":2: '_id' must be a string or a whole number"),
    "float _id": (b'{"_id": 1.5, "text": "x"}', r":2: '_id' must be a string or a whole number"),
    "bool _id": (b'{"_id": true, "text": "x"}', r":2: '_id' must be a string or a whole number"),
    "number text": (b'{"_id": "a", "text": 3}', r":2: 'text' must be a string, got int '3'"),
    "object text": (b'{"_id": "a", "text": {"x": 1}}', r":2: 'text' must be a string"),
    "list title": (b'{"_id": "a", "title": ["t"], "text": "x"}', r":2: 'title' must be a string"),
    "no _id": (b'{"text": "x"}', r":2: missing '_id'"),
    "broken JSON": (b'{"_id": "a", "text": ', r":2: invalid JSON"),
    "not UTF-8": (b'{"_id": "a", "text": "caf\xe9"}', r"corpus.jsonl:2: not UTF-8"),
    "tab in _id": (b'{"_id": "a\\tb", "text": "x"}', r":2: docno 'a\\tb' contains"),
    "space around _id": (b'{"_id": " a", "text": "x"}', r":2: docno ' a' has spaces around it"),
    "duplicate _id": (b'{"_id": "d0", "text": "y"}', r":2: duplicate docno 'd0'"),
}


@pytest.mark.parametrize("case", sorted(BEIR_LINES))
def test_bad_beir_line(case, tmp_path):
    line, message = BEIR_LINES[case]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_bytes(b'{"_id": "d0", "text": "fine"}\n' + line + b"\n")
    with pytest.raises(ValueError, match=message):
        list(read_beir_corpus(corpus))


def test_bad_beir_line_on_the_command_line(tmp_path, capsys, base):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_bytes(b'{"_id": "new9", "text": "fine"}\n42\n')
    assert main(["update", base, str(corpus)]) == 2
    err = last_line(capsys.readouterr().err)
    assert err.startswith("pt-genret update: error: ") and "corpus.jsonl:2: expected a JSON object" in err


# --- options -------------------------------------------------------------------------------------
BUILD_OPTIONS = {
    "epochs 0": ({"epochs": 0}, "epochs=0 trains nothing, so it needs init_from"),  # zero-shot only
    "epochs -1": ({"epochs": -1}, "epochs must be >= 1"),
    "epochs 1.5": ({"epochs": 1.5}, "epochs must be a whole number"),
    "epochs text": ({"epochs": "3"}, "epochs must be a number"),
    "batch size 0": ({"batch_size": 0}, "batch_size must be >= 1"),
    "batch size -2": ({"batch_size": -2}, "batch_size must be >= 1"),
    "lr 0": ({"lr": 0}, "lr must be > 0"),
    "lr negative": ({"lr": -1e-3}, "lr must be > 0"),
    "lr nan": ({"lr": float("nan")}, "lr must be a number"),
    "lr text": ({"lr": "abc"}, "lr must be a number"),
    "pseudo-queries -1": ({"num_pseudo_queries": -1}, "num_pseudo_queries must be >= 0"),
    "source length 0": ({"max_source_length": 0}, "max_source_length must be >= 1"),
    "patience 0": ({"patience": 0}, "patience must be >= 1"),
    "validation queries -1": ({"validation_queries": -1}, "validation_queries must be >= 0"),
    "teacher k 0": ({"teacher_k": 0}, "teacher_k must be >= 1"),
    "budget 0": ({"max_minutes": 0}, "max_minutes must be > 0"),
    "budget negative": ({"max_minutes": -5}, "max_minutes must be > 0"),
    "output head": ({"output_head": "words"}, "output_head must be one of"),
}


@pytest.mark.parametrize("case", sorted(BUILD_OPTIONS))
def test_bad_build_option(case, tmp_path):
    options, message = BUILD_OPTIONS[case]
    with pytest.raises(ValueError, match=message):
        GenIndex(str(tmp_path / "idx.gr")).indexer(**options)
    assert os.listdir(tmp_path) == []


UPDATE_OPTIONS = {
    "lr text": ("dome", {"lr": "abc"}, r"lr='abc': expected a number"),
    "steps -1": ("dome", {"steps": -1}, r"steps=-1: must be > 0"),
    "steps 0": ("memit", {"steps": 0}, r"steps=0: must be > 0"),
    "steps 1.5": ("rome", {"steps": 1.5}, r"steps=1.5: expected a whole number"),
    "epochs 0": ("incremental", {"epochs": 0}, r"epochs=0: must be > 0"),
    "batch size 0": ("finetune", {"batch_size": 0}, r"batch_size=0: must be > 0"),
    "lr negative": ("finetune", {"lr": -1.0}, r"lr=-1.0: must be > 0"),
    "bool as text": ("dome", {"relocate": "yes"}, r"relocate='yes': expected true or false"),
    "unknown option": ("dome", {"nonsense": 1}, r"bad options for update method 'dome'"),
    "unknown method": ("nope", {}, r"unknown update method 'nope'"),
    "pseudo-queries 0": ("dome", {"num_pseudo_queries": 0}, r"num_pseudo_queries must be a whole number >= 1"),
    "pseudo-queries -1": ("dome", {"num_pseudo_queries": -1}, r"num_pseudo_queries must be a whole number >= 1"),
}


@pytest.mark.parametrize("case", sorted(UPDATE_OPTIONS))
def test_bad_update_option(case, base):
    method, options, message = UPDATE_OPTIONS[case]
    with pytest.raises(ValueError, match=message):
        GenIndex(base).updater(method=method, **options)


RETRIEVAL = {
    "no results": (lambda p: GenRetriever(p, num_results=0), r"num_results \(-k, --hits\) must be a whole number >= 1"),
    "negative results": (lambda p: GenRetriever(p, num_results=-5), r"must be a whole number >= 1, got -5"),
    "None query": (lambda p: GenRetriever(p)(pd.DataFrame({"qid": ["1"], "query": [None]})),
                   r"query of qid '1' is None, not text"),
    "number query": (lambda p: GenRetriever(p)(pd.DataFrame({"qid": ["1", "2"], "query": ["a", 3]})),
                     r"query of qid '2' is 3, not text"),
}


@pytest.mark.parametrize("case", sorted(RETRIEVAL))
def test_bad_retrieval_input(case, base):
    action, message = RETRIEVAL[case]
    with pytest.raises(ValueError, match=message):
        action(base)


def test_search_with_no_results_on_the_command_line(base, capsys):
    assert main(["search", base, "amber", "-k", "0"]) == 2
    assert last_line(capsys.readouterr().err).startswith("pt-genret search: error: num_results")


def test_bad_update_option_on_the_command_line(base, tmp_path, capsys):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps({"_id": "new9", "text": "fine"}) + "\n")
    assert main(["update", base, str(corpus), "-o", "lr=abc"]) == 2
    assert "pt-genret update: error: update option lr='abc': expected a number" in capsys.readouterr().err


# --- damaged index files ---------------------------------------------------------------------------
def _meta(path: str, change) -> None:
    file = Path(path) / "pt_meta.json"
    meta = json.loads(file.read_text())
    file.write_text(json.dumps(change(meta)))


def _truncate(file: Path) -> None:
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])


DAMAGE = {
    "truncated weights": (lambda p: _truncate(gen(p) / "model" / "model.safetensors"), r"corrupt model .*rebuild"),
    "garbage model config": (lambda p: (gen(p) / "model" / "config.json").write_text("{"), r"corrupt model"),
    "no model folder": (lambda p: shutil.rmtree(gen(p) / "model"), r"incomplete: missing model"),
    "meta is a list": (lambda p: (Path(p) / "pt_meta.json").write_text("[1, 2]"), r"holds a list, not a JSON object"),
    "meta is a number": (lambda p: (Path(p) / "pt_meta.json").write_text("7"), r"holds a int, not a JSON object"),
    "meta is broken": (lambda p: (Path(p) / "pt_meta.json").write_text('{"type": '), r"corrupt pt_meta.json"),
    "generation out of the folder": (lambda p: _meta(p, lambda m: {**m, "generation_folder": "../../etc"}),
                                     r"not gen-NNNNNN"),
    "generation folder gone": (lambda p: _meta(p, lambda m: {**m, "generation_folder": "gen-000099"}),
                               r"gen-000099 is missing"),
    "num_docs is text": (lambda p: _meta(p, lambda m: {**m, "num_docs": "abc"}), r"field 'num_docs'"),
    "no max_docid_length": (lambda p: _meta(p, lambda m: {k: v for k, v in m.items() if k != "max_docid_length"}),
                            r"field 'max_docid_length'"),
    "format version 99": (lambda p: _meta(p, lambda m: {**m, "format_version": 99}), r"format version 99"),
    "another artifact": (lambda p: _meta(p, lambda m: {**m, "type": "sparse_index"}), r"not a generative_index"),
    "docids one row short": (lambda p: (gen(p) / "docids.jsonl").write_text(
        "".join((gen(p) / "docids.jsonl").read_text().splitlines(keepends=True)[:-1])),
        r"docids.jsonl in GR index .*7 rows, pt_meta.json says 8"),
    "docids row is a list": (lambda p: (gen(p) / "docids.jsonl").write_text("[1, 2]\n"),
                             r"corrupt (docid table|docids.jsonl)"),
    "garbage trie": (lambda p: (gen(p) / "trie.npz").write_bytes(b"PK\x03\x04 garbage"), r"corrupt trie"),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damaged_index_file(case, copy, capsys):
    damage, message = DAMAGE[case]
    damage(copy)
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        run(copy)
    assert main(["search", copy, "amber"]) == 2  # and one line on the command line
    err = capsys.readouterr().err
    assert "Traceback" not in err and last_line(err).startswith("pt-genret search: error: ")


def _edit_state(path: str, name: str, content: bytes) -> None:
    (gen(path) / "edit").mkdir(exist_ok=True)
    (gen(path) / "edit" / name).write_bytes(content)


UPDATE_DAMAGE = {
    "garbage edit state": (lambda p: _edit_state(p, "state.json", b"{"), "dome",
                           r"corrupt model-editing state .*state.json"),
    "edit state is a list": (lambda p: _edit_state(p, "state.json", b"[]"), "dome",
                             r"corrupt model-editing state .*state.json"),
    "truncated key covariance": (lambda p: _edit_state(p, "key_covariance.safetensors", b"\x10\x00\x00"), "dome",
                                 r"corrupt model-editing state .*key_covariance.safetensors"),
    "scheme with an extra key": (lambda p: (gen(p) / "scheme" / "scheme.json").write_text(json.dumps(
        {**json.loads((gen(p) / "scheme" / "scheme.json").read_text()),
         "config": {**json.loads((gen(p) / "scheme" / "scheme.json").read_text())["config"], "evil": 1}})),
        "incremental", r"corrupt scheme/ in GR index"),
    "garbage scheme state": (lambda p: (gen(p) / "scheme" / "scheme_state.npz").write_bytes(b"nope"),
                             "incremental", r"corrupt scheme/ in GR index"),
    "garbage pseudo-queries": (lambda p: (gen(p) / "pseudo_queries.jsonl").write_text(
        (gen(p) / "pseudo_queries.jsonl").read_text() + "[1]\n"), "incremental",
        r"corrupt .*pseudo_queries.jsonl' at line 9"),
}


@pytest.mark.parametrize("case", sorted(UPDATE_DAMAGE))
def test_damaged_update_state(case, copy):
    damage, method, message = UPDATE_DAMAGE[case]
    damage(copy)
    before = json.loads((Path(copy) / "pt_meta.json").read_text())
    with pytest.raises(ValueError, match=message):
        GenIndex(copy).updater(method=method, verbose=False).index(NEW)
    assert json.loads((Path(copy) / "pt_meta.json").read_text()) == before  # nothing published


def test_update_after_removing_everything(copy):
    GenIndex(copy).remove([d["docno"] for d in DOCS])
    with pytest.raises(ValueError, match="every document of .* was removed"):
        GenIndex(copy).updater(**FAST_UPDATE).index(NEW)


def test_query_generator_path_is_never_read_from_the_index(copy, tmp_path):
    _meta(copy, lambda m: {**m, "query_generator": str(tmp_path / "evil-model")})
    with pytest.raises(ValueError, match="pass it again as query_generator="):
        GenIndex(copy).updater(**FAST_UPDATE).index(NEW)


def test_damaged_training_checkpoint_does_not_block_a_rebuild(tmp_path):
    target = tmp_path / "idx.gr"
    checkpoint = tmp_path / "idx.gr.training"
    checkpoint.mkdir()
    (checkpoint / "progress.json").write_text('{"epoch": 1, "losses": [1.0]}')
    (checkpoint / "model.safetensors").write_bytes(b"\x00\x01")
    (checkpoint / "optimizer.pt").write_bytes(b"junk")
    with pytest.warns(UserWarning, match="damaged checkpoint in .*idx.gr.training"):
        index = build_tiny_index(target, DOCS[:4], epochs=1, query_generator="none")
    assert len(index) == 4 and not checkpoint.exists()


# --- output folders --------------------------------------------------------------------------------
def _beir(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": d["docno"], "title": d["title"],
                                                             "text": d["text"]}) + "\n" for d in DOCS))
    return folder


def test_overwrite_refuses_a_folder_that_is_not_an_index(tmp_path, capsys):
    corpus, target = _beir(tmp_path / "corpus"), tmp_path / "mydata"
    target.mkdir()
    (target / "thesis.tex").write_text("years of work")
    assert main(["index", str(corpus), str(target), "--overwrite", "--time-budget", "0", "--epochs", "1"]) == 2
    assert "not a pt-genret index and not empty (it holds thesis.tex)" in capsys.readouterr().err
    assert (target / "thesis.tex").read_text() == "years of work"


@pytest.mark.parametrize("where", ["the corpus folder", "a folder holding the corpus"])
def test_index_never_replaces_its_corpus(where, tmp_path, capsys):
    corpus = _beir(tmp_path / "data" / "corpus")
    target = corpus if where == "the corpus folder" else tmp_path / "data"
    assert main(["index", str(corpus), str(target), "--overwrite"]) == 2
    assert ("is the input" if target == corpus else "contains the input") in capsys.readouterr().err
    assert len((corpus / "corpus.jsonl").read_text().splitlines()) == len(DOCS)


def test_target_is_a_file(tmp_path):
    (tmp_path / "idx.gr").write_text("x")
    with pytest.raises(FileExistsError, match="is a file, not a folder"):
        build_tiny_index(tmp_path / "idx.gr", DOCS[:2], epochs=1, overwrite=True)
    assert (tmp_path / "idx.gr").read_text() == "x"


def test_other_artifact_is_not_replaced(tmp_path):
    target = tmp_path / "other"
    target.mkdir()
    (target / "pt_meta.json").write_text(json.dumps({"type": "sparse_index", "format": "pisa"}))
    with pytest.raises(FileExistsError, match=r"not a pt-genret index .*pt_meta.json"):
        build_tiny_index(target, DOCS[:2], epochs=1, overwrite=True)
    assert json.loads((target / "pt_meta.json").read_text())["type"] == "sparse_index"


def test_existing_index_without_overwrite_on_the_command_line(base, tmp_path, capsys):
    corpus = _beir(tmp_path / "corpus")
    assert main(["index", str(corpus), base]) == 2
    assert "pass overwrite=True (--overwrite)" in capsys.readouterr().err


def test_empty_folder_is_filled(tmp_path):
    (tmp_path / "empty").mkdir()
    index = build_tiny_index(tmp_path / "empty", DOCS[:2], epochs=1, query_generator="none")
    assert len(index) == 2


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_output(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="cannot write"):
            build_tiny_index(ro / "idx.gr", DOCS[:2], epochs=1)
    finally:
        ro.chmod(0o700)


def test_full_disk_is_found_before_training(tmp_path, monkeypatch):
    import collections

    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10, 10, 0))
    started = time.time()
    with pytest.raises(OSError, match="not enough disk space"):
        build_tiny_index(tmp_path / "idx.gr", DOCS, epochs=50)
    assert time.time() - started < 30 and not (tmp_path / "idx.gr").exists()


# --- concurrent writers ------------------------------------------------------------------------------
WRITERS = {
    "update": lambda p, **kw: GenIndex(p).updater(**FAST_UPDATE, **kw).index(NEW),
    "remove": lambda p, **kw: GenIndex(p).remove(["ast0"], **kw),
    "rebuild": lambda p, **kw: build_tiny_index(p, DOCS[:2], epochs=1, overwrite=True, **kw),
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_second_writer_fails_at_once(writer, copy):
    before = run(copy)
    with WriteLock(copy, purpose="update"):
        started = time.time()
        with pytest.raises(IndexLockedError, match=r"is being written by update pid \d+ on host .*--wait"):
            WRITERS[writer](copy)
        assert time.time() - started < 5
        assert run(copy) == before  # readers are never blocked
    assert run(copy) == before


def test_second_writer_gives_up_after_waiting(copy):
    with WriteLock(copy, purpose="update"):
        with pytest.raises(IndexLockedError, match="gave up after waiting 0.3s"):
            GenIndex(copy).remove(["ast0"], wait=0.3)


def test_locked_index_on_the_command_line(copy, capsys):
    with WriteLock(copy, purpose="update"):
        assert main(["remove", copy, "ast0"]) == 2
    err = last_line(capsys.readouterr().err)
    assert err.startswith("pt-genret remove: error: ") and "is being written by update pid" in err


def test_stale_lock_of_a_dead_process_is_taken_over(copy):
    (Path(copy) / "write.lock").write_text(json.dumps({"pid": 2**22 + 7, "host": "gone", "purpose": "update"}))
    pid = os.fork()
    if pid == 0:  # a writer killed while it holds the lock
        WriteLock(copy, purpose="update").acquire()
        os._exit(0)
    os.waitpid(pid, 0)
    index = GenIndex(copy).remove(["ast0"])
    assert index.meta["generation"] == 1


def _at_once(*jobs) -> list:
    """Run the jobs in threads started together; their results or exceptions."""
    out: list = [None] * len(jobs)

    def call(i, job):
        try:
            out[i] = job()
        except Exception as e:  # noqa: BLE001 - reported to the test
            out[i] = e

    threads = [threading.Thread(target=call, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_two_updates_at_once_without_waiting_fail_loudly(copy):
    out = _at_once(lambda: GenIndex(copy).updater(**FAST_UPDATE).index(NEW),
                   lambda: GenIndex(copy).updater(**FAST_UPDATE).index(MORE))
    failed = [r for r in out if isinstance(r, Exception)]
    assert all(isinstance(e, IndexLockedError) for e in failed) and len(failed) <= 1
    table = GenIndex(copy).table()
    added = [d for d in ("new1", "more1") if d in table]
    assert len(added) == 2 - len(failed)  # what was reported as done is in the index


def test_two_updates_at_once_with_waiting_keep_both(copy):
    out = _at_once(lambda: GenIndex(copy).updater(**FAST_UPDATE, wait=True).index(NEW),
                   lambda: GenIndex(copy).updater(**FAST_UPDATE, wait=True).index(MORE))
    assert not [r for r in out if isinstance(r, Exception)], out
    index = GenIndex(copy)
    assert {"new1", "new2", "more1"} <= set(index.table().docnos) and index.meta["generation"] == 2
    assert len(index) == len(DOCS) + 3


def test_update_and_remove_at_once_keep_both(copy):
    out = _at_once(lambda: GenIndex(copy).updater(**FAST_UPDATE, wait=True).index(NEW),
                   lambda: GenIndex(copy).remove(["ast0"], wait=True))
    assert not [r for r in out if isinstance(r, Exception)], out
    index = GenIndex(copy)
    assert "new1" in index.table() and len(index) == len(DOCS) + 2 - 1
    res = GenRetriever(index, num_results=len(DOCS) + 2)(TOPICS)
    assert "ast0" not in set(res["docno"])  # the removed document stays removed


# --- writers killed at every stage ---------------------------------------------------------------------
def _killed_at(stage: str, job) -> int:
    """Run ``job`` in a forked child that dies (as kill -9) at ``stage``; its exit code."""
    pid = os.fork()
    if pid == 0:
        os.environ[CRASH_ENV] = stage
        try:
            job()
        except BaseException:  # noqa: BLE001
            os._exit(3)
        os._exit(0)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


PUBLISH = ["publish:start", "publish:written", "publish:linked", "publish:synced", "publish:renamed",
           "publish:published", "publish:cleaned"]
CRASHES = {
    "update": (lambda p: GenIndex(p).updater(**FAST_UPDATE).index(NEW),
               ["update:locked", "write:model", "write:docids.jsonl", "write:trie.npz", "write:scheme",
                "write:pseudo_queries.jsonl", "write:state"] + PUBLISH),
    "remove": (lambda p: GenIndex(p).remove(["ast0"]), ["remove:locked", "write:trie.npz"] + PUBLISH),
    "rebuild": (lambda p: build_tiny_index(p, DOCS[2:], epochs=1, overwrite=True),
                ["build:locked", "write:model", "write:constraint", "write:pseudo_queries.jsonl"] + PUBLISH),
}


@pytest.fixture(scope="module")
def outcomes(base, tmp_path_factory) -> dict:
    """Retrieval before and after each writer run to the end (the two allowed outcomes)."""
    out = {}
    for name, (job, _) in CRASHES.items():
        path = str(tmp_path_factory.mktemp("done") / "idx.gr")
        shutil.copytree(base, path)
        old = run(path)
        job(path)
        out[name] = (old, run(path))
        assert out[name][0] != out[name][1], name  # the two outcomes can be told apart
    return out


@pytest.mark.parametrize("writer,stage", [(w, s) for w, (_, stages) in CRASHES.items() for s in stages])
def test_writer_killed_at_a_stage(writer, stage, copy, outcomes):
    job, _ = CRASHES[writer]
    assert _killed_at(stage, lambda: job(copy)) == CRASH_EXIT_CODE, f"stage {stage} was not reached"
    old, new = outcomes[writer]
    now = run(copy)
    assert now in (old, new)
    if PUBLISH.index(stage) >= PUBLISH.index("publish:published") if stage in PUBLISH else False:
        assert now == new
    # what the crash left is gone once opened, and the index takes the next writer
    assert not [n for n in os.listdir(copy) if n.startswith(".genret-tmp-")]
    GenIndex(copy).updater(**FAST_UPDATE).index(MORE)
    assert "more1" in GenIndex(copy).table()


@pytest.mark.parametrize("value,message", [("-3", "must be >= 0 minutes"), ("nan", "must be >= 0 minutes"),
                                           ("inf", "must be >= 0 minutes"), ("abc", "expected minutes")])
def test_bad_time_budget_on_the_command_line(value, message, tmp_path, capsys):
    """A negative, infinite or non-numeric budget is refused while the command line is read (a
    negative one used to mean "no budget" and trained 10 epochs)."""
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"_id": "d1", "text": "fine"}\n')
    with pytest.raises(SystemExit) as stop:
        main(["index", str(corpus), str(tmp_path / "out"), "--time-budget", value])
    assert stop.value.code == 2
    err = last_line(capsys.readouterr().err)
    assert err.startswith("pt-genret index: error: argument --time-budget: ") and message in err
    assert not (tmp_path / "out").exists()
