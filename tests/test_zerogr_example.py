"""``examples/zerogr.py`` end to end: two tiny training collections, a third as the unseen target."""
from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import shutil
import sys

import pandas as pd
import pytest

from conftest import make_docs
from test_cli import write_beir

EXAMPLE = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "zerogr.py")
METRICS = ["nDCG@10", "R@100", "Success@1"]


def run_example(argv: list[str]) -> None:
    spec = importlib.util.spec_from_file_location("zerogr_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    old = sys.argv
    sys.argv = ["zerogr.py", *argv]
    try:
        module.main()
    finally:
        sys.argv = old


@pytest.fixture(scope="module")
def collections(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("zerogr-collections")
    topics = {"space": ("astronomy",), "kitchen": ("cooking",), "target": ("football", "programming")}
    return {name: write_beir(root / name, make_docs(per_topic=8, seed=i, topics=t))
            for i, (name, t) in enumerate(topics.items())}


@pytest.fixture(scope="module")
def example_run(tmp_path_factory, collections):
    out = str(tmp_path_factory.mktemp("zerogr-run") / "out")
    common = ["--train", collections["space"], collections["kitchen"], "--target", collections["target"],
              "--out", out, "--epochs", "1", "--num-pseudo-queries", "2",
              "--max-train-docs", "8", "--hits", "5"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        run_example(common)
    return out, common, printed.getvalue()


def test_example_writes_the_table_with_every_system(example_run):
    out, _, printed = example_run
    table = pd.read_csv(os.path.join(out, "results.csv"))
    assert list(table.columns) == ["name", *METRICS]
    assert table["name"].tolist() == ["BM25", "dense"] + [
        f"{system} ({scheme}, {decoder})"
        for scheme, decoder in (("generated", "annealed"), ("generated", "beam"), ("dense_init", "beam"))
        for system in ("ZeroGR zero-shot", "ZeroGR", "target only")]
    assert table[METRICS].apply(lambda c: c.between(0, 1)).all().all()
    assert table.set_index("name").at["BM25", "nDCG@10"] > 0.5  # titles as queries: BM25 finds them
    for scheme in ("generated", "dense_init"):
        for name in ("base", "zeroshot", "zerogr", "target_only"):
            assert os.path.exists(os.path.join(out, scheme, name, "pt_meta.json"))
    assert "ZeroGR zero-shot (dense_init, beam) - target only (dense_init, beam): nDCG@10" in printed


def test_example_reuses_its_indexes_and_refuses_other_settings(example_run, collections, capsys, tmp_path):
    from pt_genret.index import GenIndex

    out, common, _ = example_run
    names = ("base", "zeroshot", "zerogr", "target_only")
    indexes = {name: GenIndex(os.path.join(out, "generated", name)) for name in names}
    created = {name: index.meta["created"] for name, index in indexes.items()}
    for name in ("zeroshot", "zerogr"):
        assert indexes[name].meta["init_from"] == os.path.abspath(indexes["base"].path)
    assert indexes["target_only"].meta["init_from"] is None
    assert indexes["zeroshot"].meta["train"]["epochs"] == 0 and indexes["zeroshot"].meta["epoch_losses"] == []
    for name in ("base", "zerogr", "target_only"):  # --epochs: trained one epoch, no time budget
        assert indexes[name].meta["train"]["epochs"] == 1 and indexes[name].meta["train"]["max_minutes"] is None
    run_example([*common, "--scheme", "generated", "--decoder", "beam"])  # the same settings: reused, not rebuilt
    for name, index in indexes.items():
        index.reload()
        assert index.meta["created"] == created[name]
    refused = {("-s", "generated.min_words=7"): "min_words 6, not 7: use another --out",
               ("--zerogr-lr", "0.01"): "learning rate (--zerogr-lr) 0.002, not 0.01",
               ("--seed", "7"): "with --seed 42, not 7",
               ("--epochs", "2"): "with --epochs 1, not 2",
               ("--teacher", "bm25"): "zerogr was built with --teacher none, not bm25",
               ("--base-teacher", "bm25"): "base was built with --base-teacher none, not bm25",
               ("--max-target-docs", "6"): "indexes other documents (16) than the 6 asked"}
    for extra, message in refused.items():
        with pytest.raises(SystemExit):
            run_example([*common, "--scheme", "generated", *extra])
        assert message in capsys.readouterr().err
    for name, index in indexes.items():  # nothing refused touched the indexes
        index.reload()
        assert index.meta["created"] == created[name]
    copy = tmp_path / "copy"  # ZeroGR's indexes without the base they started from
    shutil.copytree(out, copy)
    shutil.rmtree(copy / "generated" / "base")
    with pytest.raises(SystemExit):
        run_example([*common[:common.index("--out")], "--out", str(copy), *common[common.index("--out") + 2:],
                     "--scheme", "generated"])
    assert "zeroshot was built with a base model built at" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["-s", "semantic.k=4"], "'semantic' is not one of --scheme"),
    (["-s", "generated.min_words=10"], "1 <= min_words <= max_words"),  # max_words defaults to 8
    (["--decoder", "beam", "beam"], "--decoder names a decoder twice"),
    (["--epochs", "0"], "--epochs must be at least 1"),
])
def test_example_refuses_bad_options_before_building(tmp_path, collections, capsys, extra, message):
    out = tmp_path / "out"
    with pytest.raises(SystemExit):
        run_example(["--train", collections["space"], "--target", collections["target"], "--out", str(out),
                     "--epochs", "1", *extra])
    assert message in capsys.readouterr().err
    assert not out.exists()  # refused while parsing: no folder written, nothing trained


def test_example_on_a_sample_of_the_target(tmp_path, collections, capsys):
    from pt_genret.datasets import load_dataset
    from pt_genret.index import GenIndex

    out = str(tmp_path / "out")
    run_example(["--train", collections["space"], "--target", collections["target"], "--out", out,
                 "--scheme", "dense_init", "--epochs", "1", "--teacher", "bm25", "--base-teacher", "bm25",
                 "--num-pseudo-queries", "2", "--max-train-docs", "8", "--max-target-docs", "6", "--hits", "5"])
    printed = capsys.readouterr().out
    assert ", 6 documents;" in printed
    baselines = [f for f in os.listdir(out) if f.startswith("baselines")]
    assert len(baselines) == 1 and baselines[0].startswith("baselines-6docs-")
    indexed = set(GenIndex(os.path.join(out, "dense_init", "zerogr")).table().docnos)
    judged = set(load_dataset(collections["target"]).get_qrels("test").query("label > 0")["docno"].astype(str))
    assert len(judged) == 4 and judged <= indexed and len(indexed) == 6  # the judged ones, then a sample
    for name, teacher in (("base", "bm25"), ("zeroshot", None), ("zerogr", "bm25"), ("target_only", "bm25")):
        distillation = GenIndex(os.path.join(out, "dense_init", name)).meta["distillation"]
        assert (distillation and distillation["teacher"]) == (teacher and "teacher('bm25', num_results=100)")
        assert teacher is None or distillation["queries_with_lists"] > 0  # BM25 ranked each model's own documents
