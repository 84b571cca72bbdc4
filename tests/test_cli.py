"""The ``pt-genret`` command line on a tiny BEIR folder (default MiniLM backbone, one epoch)."""
from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from conftest import build_tiny_index, make_docs
from pt_genret.cli import build_parser, main
from pt_genret.interpolation import pseudo_query_topics

METRICS = ["nDCG@10", "R@100", "RR@10", "Success@10"]
SYSTEMS = ["BM25", "dense", "GR", "BM25 >> GR", "BM25 >> GR (interpolated)", "RRF(BM25, GR)", "RRF(BM25, dense)"]


def write_beir(root, docs) -> str:
    os.makedirs(root / "qrels")
    with open(root / "corpus.jsonl", "w") as f:
        for d in docs:
            f.write(json.dumps({"_id": d["docno"], "title": d["title"], "text": d["text"]}) + "\n")
    queries = [(f"q{i}", d["title"], d["docno"]) for i, d in enumerate(docs)]
    with open(root / "queries.jsonl", "w") as f:
        for qid, text, _ in queries:
            f.write(json.dumps({"_id": qid, "text": text}) + "\n")
    for split, rows in {"test": queries[::4], "train": queries[1::2]}.items():
        with open(root / "qrels" / f"{split}.tsv", "w") as f:
            f.write("query-id\tcorpus-id\tscore\n")
            for qid, _, docno in rows:
                f.write(f"{qid}\t{docno}\t1\n")
    return str(root)


@pytest.fixture(scope="module")
def cli_docs():
    return make_docs(per_topic=4, seed=5, topics=("astronomy", "cooking", "football"))


@pytest.fixture(scope="module")
def beir(tmp_path_factory, cli_docs) -> str:
    return write_beir(tmp_path_factory.mktemp("beir") / "tiny", cli_docs)


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory, beir):
    """``pt-genret index`` with the default backbone, trained for one epoch."""
    path = str(tmp_path_factory.mktemp("cli") / "tiny.gr")
    rc = main(["index", beir, path, "--epochs", "1", "--num-pseudo-queries", "2", "--batch-size", "16",
               "--train-split", "train"])
    return rc, path


def test_index_command(cli_index, cli_docs):
    rc, path = cli_index
    assert rc == 0
    with open(os.path.join(path, "pt_meta.json")) as f:
        meta = json.load(f)
    assert meta["num_docs"] == len(cli_docs)
    assert meta["backbone"] == "minilm" and meta["scheme"] == "dense_init" and meta["train"]["lr"] == 7e-5
    assert meta["train"]["epochs"] == 1 and meta["train"]["seed"] == 42
    assert meta["examples"] == {"index": len(cli_docs), "query": 2 * len(cli_docs), "train": len(cli_docs) // 2}


def test_search_prints_docnos(cli_index, cli_docs, capsys):
    _, path = cli_index
    assert main(["search", path, cli_docs[0]["title"], "-k", "3"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert lines[0].split()[:3] == ["rank", "docno", "score"]
    rows = [line.split() for line in lines[1:]]
    assert len(rows) == 3
    assert [r[0] for r in rows] == ["0", "1", "2"]
    docnos = {d["docno"] for d in cli_docs}
    assert all(r[1] in docnos for r in rows)
    assert len({r[1] for r in rows}) == 3


@pytest.fixture(scope="module")
def tiny_gr(tmp_path_factory, cli_docs) -> str:
    """A fast t5-scratch index over the same documents, so evaluate's 100-beam decoding is cheap."""
    path = tmp_path_factory.mktemp("tiny") / "t5.gr"
    build_tiny_index(path, cli_docs, scheme="title", epochs=8)
    return str(path)


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory) -> str:
    """Baseline indexes (PISA, dense), built by the first evaluate and reused by the next."""
    return str(tmp_path_factory.mktemp("baselines"))


def check_printed_table(out: str) -> None:
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    header = next(i for i, line in enumerate(lines) if line.startswith("name"))
    columns = lines[header].split()
    assert columns[0] == "name" and sorted(columns[1:]) == sorted(METRICS)  # ir_measures orders them
    rows = lines[header + 1:header + 1 + len(SYSTEMS)]
    assert len(rows) == len(SYSTEMS)
    for name, line in zip(SYSTEMS, rows):
        assert line.startswith(name), (name, line)
        values = [float(v) for v in line[len(name):].split()]
        assert len(values) == len(METRICS) and all(0 <= v <= 1 for v in values)


def test_evaluate_prints_every_system(tiny_gr, beir, work_dir, capsys):
    assert main(["evaluate", tiny_gr, beir, "--work-dir", work_dir]) == 0
    out = capsys.readouterr().out
    check_printed_table(out)
    assert "(interpolated): alpha=" in out and "train queries" in out  # the beir fixture has a train split
    assert os.path.isdir(os.path.join(work_dir, "pisa")) and os.path.isdir(os.path.join(work_dir, "dense.flex"))


def test_evaluate_save_dir_writes_results_csv(tiny_gr, beir, work_dir, tmp_path, capsys):
    save = tmp_path / "runs"
    rc = main(["evaluate", tiny_gr, beir, "--save-dir", str(save), "--work-dir", work_dir, "--train-split", "none"])
    captured = capsys.readouterr()
    assert rc == 0, [line for line in captured.err.splitlines() if "error" in line]
    check_printed_table(captured.out)
    assert len(list(save.glob("*.res.gz"))) == len(SYSTEMS)  # one saved run per system
    results = pd.read_csv(save / "results.csv")
    assert results.columns[0] == "name" and sorted(results.columns[1:]) == sorted(METRICS)
    assert results["name"].tolist() == SYSTEMS
    assert ((results[METRICS] >= 0) & (results[METRICS] <= 1)).all().all()
    by_name = results.set_index("name")
    assert by_name.loc["BM25", "Success@10"] == 1.0  # titles as queries
    # the re-ranking rows only reorder BM25's top 100: the same recall
    assert by_name.loc["BM25 >> GR", "R@100"] == by_name.loc["BM25", "R@100"]
    assert by_name.loc["BM25 >> GR (interpolated)", "R@100"] == by_name.loc["BM25", "R@100"]
    with open(save / "interpolation.json") as f:
        fit = json.load(f)
    assert fit["fitted_on"] == "pseudo-queries" and 0 <= fit["alpha"] <= 1 and fit["metric"] == "nDCG@10"
    assert len(fit["curve"]) == 21 and fit["num_queries"] == len(pseudo_query_topics(tiny_gr, n=200)[0])


def test_the_interpolation_is_fitted_on_train_queries_when_there_are_some():
    from pt_genret.cli import fit_split

    assert fit_split(None, "test", ["test", "train"]) == "train"
    assert fit_split(None, "train", ["test", "train"]) is None  # never on the evaluation split
    assert fit_split(None, "test", ["test"]) is None  # no training queries: the pseudo-queries
    assert fit_split("none", "test", ["test", "train"]) is None and fit_split("dev", "test", ["dev"]) == "dev"


def test_evaluate_fits_on_a_train_split(tiny_gr, beir, work_dir, tmp_path, capsys):
    save = tmp_path / "runs"
    rc = main(["evaluate", tiny_gr, beir, "--work-dir", work_dir, "--save-dir", str(save), "--train-split", "train",
               "--metrics", "nDCG@10"])
    assert rc == 0, capsys.readouterr().err
    with open(save / "interpolation.json") as f:
        fit = json.load(f)
    assert fit["fitted_on"] == "train" and fit["num_queries"] == 6 and 0 <= fit["alpha"] <= 1
    assert "fitted on 6 train queries" in capsys.readouterr().out
    assert main(["evaluate", tiny_gr, beir, "--work-dir", work_dir, "--train-split", "test"]) == 2
    assert "is the evaluation split" in capsys.readouterr().err


def test_evaluate_unknown_metric_fails_before_any_work(tmp_path, capsys):
    """Checked when the command line is read: neither the index nor the dataset is opened."""
    with pytest.raises(SystemExit) as e:
        main(["evaluate", str(tmp_path / "no.gr"), str(tmp_path / "no-data"), "--metrics", "nDCG@10,bogus"])
    assert e.value.code == 2
    assert "unknown metric 'bogus'" in capsys.readouterr().err


def test_evaluate_unknown_baseline_fails_before_any_work(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "no.gr"), str(tmp_path / "no-data"), "--baseline", "bm26"]) == 2
    assert "unknown system 'bm26'" in capsys.readouterr().err


def test_evaluate_with_a_baseline(tiny_gr, beir, work_dir, capsys):
    assert main(["evaluate", tiny_gr, beir, "--work-dir", work_dir, "--metrics", "RR@10", "--baseline", "bm25"]) == 0
    out = capsys.readouterr().out
    assert "RR@10 p-value" in out and "RR@10 +" in out  # pt.Experiment's significance columns


def test_evaluate_with_the_cli_built_index(cli_index, beir, work_dir, capsys):
    """The MiniLM index made by ``pt-genret index`` evaluates too (its decoding is the slow part)."""
    _, path = cli_index
    assert main(["evaluate", path, beir, "--work-dir", work_dir, "--metrics", "RR@10"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in SYSTEMS) and "RR@10" in out


def test_missing_corpus_folder(tmp_path, capsys):
    rc = main(["index", str(tmp_path / "no-such-folder"), str(tmp_path / "idx.gr")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "pt-genret index: error:" in err and "no-such-folder" in err
    assert not (tmp_path / "idx.gr").exists()


def test_index_existing_path(cli_index, beir, capsys):
    _, path = cli_index
    assert main(["index", beir, path, "--epochs", "1"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_search_missing_index(tmp_path, capsys):
    assert main(["search", str(tmp_path / "nothing.gr"), "a query"]) == 2
    assert "no GR index" in capsys.readouterr().err


def test_bad_arguments_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["no-such-command"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["index", "only-one-argument"])
    assert e.value.code == 2
    args = build_parser().parse_args(["index", "c", "i"])
    assert (args.scheme, args.preset, args.backbone, args.epochs, args.seed) == (None, None, "minilm", None, 42)
    assert (args.time_budget, args.output_head) == (30.0, "docid")  # a budget, not an epoch count


# --- names from the registries, defaults in every help --------------------------------------

def test_choices_come_from_the_registries():
    from pt_genret.presets import PRESETS
    from pt_genret.registry import DECODERS, SCHEMES, UPDATE_METHODS

    sub = build_parser()._subparsers._group_actions[0].choices
    choices = {(name, a.dest): a.choices for name, p in sub.items() for a in p._actions if a.choices}
    assert choices[("index", "scheme")] == SCHEMES.names() and {"ngrams", "multiview"} <= set(SCHEMES)
    assert choices[("index", "preset")] == list(PRESETS)
    assert choices[("update", "method")] == UPDATE_METHODS.names()
    assert choices[("search", "decoder")] == choices[("run", "decoder")] == DECODERS.names()


def test_every_option_shows_its_default():
    import argparse

    from pt_genret.cli import HelpFormatter

    for name, p in build_parser()._subparsers._group_actions[0].choices.items():
        shown = HelpFormatter(name)
        for a in p._actions:
            if isinstance(a, argparse._HelpAction):
                continue
            assert a.help, (name, a.dest)
            if a.default not in (None, False, []) and not a.required:
                assert "default" in shown._get_help_string(a), (name, a.dest)


@pytest.mark.parametrize("argv, message", [
    (["index", "c", "i", "--scheme", "bogus"], "invalid choice: 'bogus'"),
    (["index", "c", "i", "--preset", "DSI-bogus"], "invalid choice: 'DSI-bogus'"),
    (["search", "i", "q", "--decoder", "greedy"], "invalid choice: 'greedy'"),
    (["update", "i", "d", "--method", "retrain"], "invalid choice: 'retrain'"),
])
def test_unknown_names_fail_when_read(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and message in capsys.readouterr().err


# --- run: a TREC run file from topics ---------------------------------------------------------

def test_run_writes_a_trec_run_that_pyterrier_reads(tiny_gr, beir, cli_docs, tmp_path, capsys):
    import pyterrier as pt

    from pt_genret.datasets import read_beir

    out = tmp_path / "runs" / "gr.run"
    assert main(["run", tiny_gr, beir, "--split", "test", "--output", str(out), "--hits", "5",
                 "--num-beams", "8", "--batch-size", "2", "--device", "cpu", "--run-name", "tiny"]) == 0
    assert "wrote" in capsys.readouterr().out
    run = pt.io.read_results(str(out))
    topics, qrels = read_beir(beir).get_topics("test"), read_beir(beir).get_qrels("test")
    assert set(run["qid"]) == set(topics["qid"]) and run.groupby("qid").size().max() == 5
    assert open(out).readline().split()[1::4] == ["Q0", "tiny"]
    table = pt.Experiment([pt.Transformer.from_df(run)], topics, qrels, ["recip_rank"], names=["gr"])
    assert table["recip_rank"].iloc[0] > 0.5  # titles as queries


@pytest.mark.parametrize("kind", ["trec", "sgml", "jsonl"])
def test_run_reads_topics_files(tiny_gr, cli_docs, tmp_path, kind, capsys):
    import pyterrier as pt

    queries = [("1", cli_docs[0]["title"]), ("2", cli_docs[5]["title"])]
    path = tmp_path / f"topics.{'jsonl' if kind == 'jsonl' else 'txt'}"
    with open(path, "w") as f:
        for qid, query in queries:
            f.write({"trec": f"{qid}\t{query}\n", "sgml": f"<top>\n<num> {qid}\n<title> {query}\n</top>\n",
                     "jsonl": json.dumps({"_id": qid, "text": query}) + "\n"}[kind])
    out = tmp_path / "gr.run"
    assert main(["run", tiny_gr, str(path), "-o", str(out), "-k", "3", "--decoder", "sharpened"]) == 0
    run = pt.io.read_results(str(out))
    assert sorted(run["qid"].unique()) == ["1", "2"] and len(run) == 6
    from pt_genret.retriever import GenRetriever

    direct = GenRetriever(tiny_gr, num_results=3, decoder="sharpened")(pd.DataFrame(queries, columns=["qid", "query"]))
    assert list(zip(run["qid"], run["docno"])) == list(zip(direct["qid"], direct["docno"]))


def test_run_unknown_irds_id_is_one_clear_line(tiny_gr, tmp_path, capsys):
    assert main(["run", tiny_gr, "irds:no-such/dataset", "-o", str(tmp_path / "x.run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown dataset 'irds:no-such/dataset'" in err[0] and "ir-datasets.com" in err[0]
    assert not (tmp_path / "x.run").exists()


def test_run_checks_the_index_before_the_topics(tmp_path, capsys):
    assert main(["run", str(tmp_path / "no.gr"), str(tmp_path / "no-topics"), "-o", str(tmp_path / "x.run")]) == 2
    assert "no GR index" in capsys.readouterr().err


def test_search_options(tiny_gr, cli_docs, capsys):
    assert main(["search", tiny_gr, cli_docs[0]["title"], "--hits", "2", "--decoder", "annealed",
                 "--device", "cpu"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:] if line.strip()]
    assert len(rows) == 2
    assert main(["search", tiny_gr, "x", "--decoder", "annealed", "--num-beams", "4"]) == 2
    assert "does not take num_beams" in capsys.readouterr().err


def test_index_with_a_preset(beir, tmp_path, capsys):
    path = tmp_path / "nci.gr"
    assert main(["index", beir, str(path), "--preset", "NCI", "--epochs", "1", "--time-budget", "0",
                 "--num-pseudo-queries", "1", "--backbone", "t5-scratch", "-b", "d_model=32", "-b", "layers=1",
                 "-b", "vocab_size=300"]) == 0
    with open(path / "pt_meta.json") as f:
        meta = json.load(f)
    assert meta["scheme"] == "semantic"
    assert main(["index", beir, str(tmp_path / "x.gr"), "--preset", "NCI", "--scheme", "title"]) == 2
    assert "--preset NCI sets the scheme" in capsys.readouterr().err


def test_docs_list_every_registered_name():
    """The CLI page lists every registered scheme, decoder, update method and preset."""
    from pathlib import Path

    from pt_genret.presets import PRESETS
    from pt_genret.registry import DECODERS, SCHEMES, UPDATE_METHODS

    page = (Path(__file__).parent.parent / "docs" / "cli.md").read_text()
    for name in [*SCHEMES, *DECODERS, *UPDATE_METHODS, *PRESETS]:
        assert f"`{name}`" in page, name
