"""The dynamic-corpus protocol: split, query groups, scores with a known answer (BM25), F_n / GA_n, report files."""
from __future__ import annotations

import itertools
import json
import os

import pandas as pd
import pytest

from pt_genret.evaluation import (doc_steps, forgetting, generalization, initial_table, mixed_queries, new_table,
                                  query_groups, run_dynamic, split_corpus, subsample, summary_table, write_report)

SYLLABLES = ["ba", "ko", "ri", "zu", "me", "ta", "lo", "ni"]
WORDS = ["".join(p) for p in itertools.product(SYLLABLES, repeat=3)]  # made-up, unstemmable, no stopwords
FILLER = "lorem ipsum dolor amet consectetur adipiscing elit sed tempor incididunt labore dolore magna aliqua"


# ---------------------------------------------------------------------------------------- split
def test_split_covers_every_document_once():
    docnos = [f"d{i}" for i in range(23)]
    batches = split_corpus(docnos, steps=5, initial_fraction=0.5, seed=3)
    assert len(batches) == 6
    flat = [d for b in batches for d in b]
    assert sorted(flat) == sorted(docnos) and len(flat) == len(set(flat))
    assert len(batches[0]) == round(0.5 * 23)
    sizes = [len(b) for b in batches[1:]]
    assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1
    assert split_corpus(docnos, 5, 0.5, seed=3) == batches  # seeded
    assert split_corpus(docnos, 5, 0.5, seed=4) != batches
    assert doc_steps(batches)[batches[3][0]] == 3


@pytest.mark.parametrize("kwargs, message", [
    ({"steps": 0}, "steps"), ({"initial_fraction": 1.0}, "initial_fraction"), ({"steps": 9}, "non-empty"),
])
def test_split_refuses_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        split_corpus([f"d{i}" for i in range(12)], **kwargs)
    with pytest.raises(ValueError, match="duplicate docno 'a'"):
        split_corpus(["a", "b", "a", "c"], steps=1)


def test_query_groups_exclude_or_split_mixed_queries():
    steps_of = {"a": 0, "b": 0, "c": 1, "d": 2}
    qrels = pd.DataFrame({"qid": ["q1", "q2", "q2", "q3", "q3", "q4", "q5"],
                          "docno": ["a", "c", "b", "a", "d", "d", "zz"],
                          "label": [1, 1, 0, 1, 2, 1, 1]})
    # q2: relevant c (step 1), b judged non-relevant -> pure group 1; q3 mixed (0 and 2); q5 outside the collection
    assert mixed_queries(qrels, steps_of) == ["q3"]
    ex = query_groups(qrels, steps_of, "exclude")
    assert dict(ex[ex["label"] > 0].groupby("qid")["group"].first()) == {"q1": 0, "q2": 1, "q4": 2}
    sp = query_groups(qrels, steps_of, "split")
    pairs = set(map(tuple, sp[sp["label"] > 0][["qid", "group"]].values.tolist()))
    assert pairs == {("q1", 0), ("q2", 1), ("q3", 0), ("q3", 2), ("q4", 2)}
    # in split mode each group of q3 is judged against that group's documents only
    assert set(sp[(sp["qid"] == "q3") & (sp["group"] == 2)]["docno"]) == {"d"}
    with pytest.raises(ValueError, match="mixed must be one of"):
        query_groups(qrels, steps_of, "drop")


def test_subsample_keeps_judged_documents_and_respects_the_budget():
    docs = pd.DataFrame({"docno": [f"d{i}" for i in range(30)], "text": ["x"] * 30})
    topics = pd.DataFrame({"qid": [f"q{i}" for i in range(10)], "query": ["x"] * 10})
    qrels = pd.DataFrame({"qid": [f"q{i}" for i in range(10)] + ["q0"],
                          "docno": [f"d{i}" for i in range(10)] + ["d29"], "label": 1})
    d, t, q = subsample(docs, topics, qrels, max_docs=12, max_queries=6, seed=1)
    assert len(d) == 12 and len(t) <= 6
    assert set(q["docno"]) <= set(d["docno"])  # every kept judgement points at a kept document
    assert set(q["qid"]) == set(t["qid"]) and len(t) >= 5  # q0 needs two documents, the others one
    assert len(set(d["docno"]) - set(q["docno"])) >= 12 - 7  # the rest of the room is unjudged documents
    assert subsample(docs, topics, qrels, 12, 6, seed=1)[0]["docno"].tolist() == d["docno"].tolist()


# ---------------------------------------------------------------------------------------- known answer
@pytest.fixture(scope="module")
def known(tmp_path_factory):
    """20 documents, one made-up word each; distractors arriving later beat two D0 documents and one new one.

    Expected BM25 Hit@1: initial queries 10/10, 9/10, 8/10 after D0, D1, D2; new queries 5/5 at D1, 4/5 at D2.
    """
    docnos = [f"d{i:02d}" for i in range(20)]
    word = dict(zip(docnos, WORDS[5:]))
    batches = split_corpus(docnos, steps=2, initial_fraction=0.5, seed=42)
    text = {d: f"{word[d]} {FILLER}" for d in docnos}
    a, b, m0 = batches[0][:3]
    x, m1 = batches[1][:2]
    y, z, v = batches[2][:3]
    text[x] = f"{word[x]} {word[a]} {word[a]} {word[a]}"   # step 1: beats a for a's query
    text[z] = f"{word[z]} {word[b]} {word[b]} {word[b]}"   # step 2: beats b for b's query
    text[v] = f"{word[v]} {word[y]} {word[y]} {word[y]}"   # step 2: beats y (new at 2) for y's query
    docs = pd.DataFrame({"docno": docnos, "title": "", "text": [text[d] for d in docnos]})
    topics = pd.DataFrame({"qid": [f"q{d}" for d in docnos] + ["qmix"],
                           "query": [word[d] for d in docnos] + [f"{word[m0]} {word[m1]}"]})
    qrels = pd.DataFrame({"qid": [f"q{d}" for d in docnos] + ["qmix", "qmix"], "docno": docnos + [m0, m1],
                          "label": 1})
    work = tmp_path_factory.mktemp("dyn")
    result = run_dynamic(docs, topics, qrels, ["bm25"], str(work / "work"), steps=2, initial_fraction=0.5,
                         seed=42, all_groups=True, verbose=False)
    return result, batches, work, (docs, topics, qrels)


def test_protocol_scores_the_known_answer(known):
    result, batches, _, _ = known
    assert result.batches == batches
    assert result.excluded == ["qmix"]  # relevant documents in D0 and D1
    s = result.score
    assert [s("bm25", "Success@1", 0, i) for i in range(3)] == pytest.approx([1.0, 0.9, 0.8])
    assert [s("bm25", "Success@10", 0, i) for i in range(3)] == pytest.approx([1.0, 1.0, 1.0])
    assert s("bm25", "Success@1", 1, 1) == pytest.approx(1.0)
    assert s("bm25", "Success@1", 2, 2) == pytest.approx(0.8)
    assert s("bm25", "Success@1", 1, 2) == pytest.approx(1.0)  # D1 queries are still followed at step 2
    counts = result.scores.query("measure == 'Success@1' and step == 2").set_index("group")["queries"].to_dict()
    assert counts == {0: 10, 1: 5, 2: 5}
    init, new = initial_table(result, "Success@1").iloc[0], new_table(result, "Success@1").iloc[0]
    assert init["F_n"] == pytest.approx(((1.0 - 0.9) + (1.0 - 0.8)) / 2)
    assert new["GA_n"] == pytest.approx((1.0 + 0.8) / 2)
    assert initial_table(result, "Success@10").iloc[0]["F_n"] == pytest.approx(0.0)
    t = result.timings
    assert t["docs"].tolist() == [10, 5, 5] and (t["seconds"] > 0).all()


def test_intervals_from_the_per_query_scores_of_the_known_answer(known):
    """Per-query scores average to the table's means; F_n and GA_n get their 95% intervals from them
    (Hit@1: initial drops 1 (a: lost at steps 1 and 2), 0.5 (b: lost at step 2), 0 x 8; new: 5/5, 4/5)."""
    import math

    import numpy as np

    from pt_genret.evaluation import forgetting_interval, generalization_difference, generalization_interval
    from pt_genret.evaluation.intervals import Interval, verdict

    result = known[0]
    q = result.query_scores
    means = q.groupby(["method", "step", "group", "measure"])["value"].mean()
    table = result.scores.set_index(["method", "step", "group", "measure"])["value"]
    assert means.to_dict() == pytest.approx(table.to_dict())
    f = forgetting_interval(result, "bm25", "Success@1")
    drops = np.array([1.0, 0.5] + [0.0] * 8)
    assert f.estimate == pytest.approx(initial_table(result, "Success@1").iloc[0]["F_n"])
    assert f.half == pytest.approx(1.959964 * drops.std(ddof=1) / math.sqrt(10), rel=1e-5)
    g = generalization_interval(result, "bm25", "Success@1")
    assert g.estimate == pytest.approx(0.9) and g.half == pytest.approx(1.959964 * math.sqrt((0 + 0.2 / 5) / 4),
                                                                          rel=1e-5)
    same = generalization_difference(result, "bm25", "bm25", "Success@1")
    assert same.estimate == 0 and same.half == 0
    assert forgetting_interval(result, "bm25", "Success@10").estimate == 0
    # a target is decided only when the whole interval is on one side of it
    assert verdict(Interval(0.005, 0.004), 0.01, at_most=True) == "met"
    assert verdict(Interval(0.05, 0.03), 0.01, at_most=True) == "NOT met"
    assert verdict(Interval(0.02, 0.03), 0.01, at_most=True).startswith("undecided") and "not met" in \
        verdict(Interval(0.02, 0.03), 0.01, at_most=True)
    assert verdict(Interval(-0.1, 0.05), 0.0, at_most=False) == "NOT met"
    assert verdict(Interval(0.01, 0.05), 0.0, at_most=False).endswith("(point estimate met)")
    assert verdict(Interval(0.005, float("nan")), 0.01, at_most=True).startswith("undecided (no interval")
    assert verdict(Interval(float("nan"), float("nan")), 0.01, at_most=True).startswith("unknown")


def test_results_resumed_from_records_without_per_query_scores(known, tmp_path):
    """A ``done/`` record written before per-query scores were kept is reused: its means stand,
    its intervals are unknown (NaN), and the verdict says so instead of guessing."""
    import math
    import shutil

    from pt_genret.evaluation import forgetting_interval
    from pt_genret.evaluation.intervals import verdict

    result, _, work, (docs, topics, qrels) = known
    old = str(tmp_path / "work")
    shutil.copytree(str(work / "work"), old)
    record = os.path.join(old, "done", "bm25.json")
    with open(record) as f:
        saved = json.load(f)
    del saved["query_scores"]
    with open(record, "w") as f:
        json.dump(saved, f)
    again = run_dynamic(docs, topics, qrels, ["bm25"], old, steps=2, initial_fraction=0.5, seed=42,
                        all_groups=True, verbose=False)
    assert again.timings["seconds"].tolist() == result.timings["seconds"].tolist()  # reused, not rerun
    assert again.query_scores.empty and again.scores.equals(result.scores)
    f = forgetting_interval(again, "bm25", "Success@1")
    assert math.isnan(f.estimate) and verdict(f, 0.01, at_most=True).startswith("unknown")
    summary = summary_table(again).iloc[0]
    assert summary["F_n Hit@1"] == pytest.approx(0.15) and math.isnan(summary["F_n Hit@1 ±"])


def test_split_mode_scores_a_mixed_query_in_both_groups(known):
    _, _, work, (docs, topics, qrels) = known
    result = run_dynamic(docs, topics, qrels, ["bm25"], str(work / "split"), steps=2, seed=42, mixed="split",
                         all_groups=True, verbose=False)
    assert result.excluded == []
    counts = result.scores.query("measure == 'Success@1' and step == 2").set_index("group")["queries"].to_dict()
    assert counts == {0: 11, 1: 6, 2: 5}


def test_report_files_and_formulas_from_the_written_tables(known):
    result, _, work, _ = known
    out = str(work / "out")
    paths = write_report(result, out)
    for name in ("summary", "initial_hit1", "new_hit1", "initial_hit10", "new_hit10"):
        assert os.path.getsize(os.path.join(out, f"{name}.csv")) > 0
        with open(os.path.join(out, f"{name}.md")) as f:
            assert "| Method | DocID Type |" in f.read()
    for png in ("curves_hit1.png", "curves_hit10.png"):
        with open(os.path.join(out, png), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert not [f for f in os.listdir(out) if f.startswith(".tmp-")]
    # F_n and GA_n recomputed by hand from the per-step columns of the written CSVs
    init = pd.read_csv(paths["initial_hit1.csv"]).iloc[0]
    new = pd.read_csv(paths["new_hit1.csv"]).iloc[0]
    assert list(init.index) == ["Method", "DocID Type", "D0", "D1", "D2", "F_n"]
    assert init["Method"] == "BM25" and init["DocID Type"] == "Term Weight"
    assert init["F_n"] == pytest.approx(((init["D0"] - init["D1"]) + (init["D0"] - init["D2"])) / 2)
    assert new["GA_n"] == pytest.approx((new["D1"] + new["D2"]) / 2)
    assert new["D0"] == init["D0"]
    summary = pd.read_csv(paths["summary.csv"]).iloc[0]
    assert summary["Hit@1 new"] == pytest.approx(new["GA_n"]) and summary["F_n Hit@1"] == pytest.approx(init["F_n"])
    assert summary["Hit@1 new ±"] > 0 and summary["F_n Hit@1 ±"] > 0 and summary["F_n Hit@10 ±"] == 0
    assert len(pd.read_csv(paths["query_scores.csv"])) == len(result.query_scores)
    t = result.timings
    assert summary["s/doc added"] == pytest.approx(t["seconds"][1:].sum() / 10)
    with open(paths["split.json"]) as f:
        split = json.load(f)
    assert split["queries_per_group"] == [10, 5, 5] and split["excluded_mixed_queries"] == ["qmix"]


def test_formulas_reproduce_the_seed_bm25_row():
    """The seed's NQ BM25 rows: D0..D5 on initial docs give F_n 0.051; new docs give GA_n 0.586."""
    assert round(forgetting([0.647, 0.625, 0.611, 0.598, 0.573, 0.573]), 3) == 0.051
    assert round(generalization([0.620, 0.588, 0.598, 0.552, 0.571]), 3) == 0.586
    assert generalization([0.5, float("nan")]) == 0.5  # a step without queries is skipped
    with pytest.raises(ValueError, match="at least one later step"):
        forgetting([0.5])


def test_protocol_refuses_bad_input(known, tmp_path):
    _, _, _, (docs, topics, qrels) = known
    with pytest.raises(ValueError, match="unknown method"):
        run_dynamic(docs, topics, qrels, ["bm25", "nosuch"], str(tmp_path), verbose=False)
    with pytest.raises(ValueError, match="have no text in topics"):
        run_dynamic(docs, topics.head(3), qrels, ["bm25"], str(tmp_path), steps=2, verbose=False)
    with pytest.raises(ValueError, match="method_options for method"):
        run_dynamic(docs, topics, qrels, ["bm25"], str(tmp_path), method_options={"dome": {}}, verbose=False)
    assert len(summary_table(known[0])) == 1


# ---------------------------------------------------------------------------------------- command line
def _write_beir(root, docs: pd.DataFrame, topics: pd.DataFrame, qrels: pd.DataFrame) -> str:
    os.makedirs(root / "qrels")
    with open(root / "corpus.jsonl", "w") as f:
        for d in docs.itertuples():
            f.write(json.dumps({"_id": d.docno, "title": d.title, "text": d.text}) + "\n")
    with open(root / "queries.jsonl", "w") as f:
        for q in topics.itertuples():
            f.write(json.dumps({"_id": q.qid, "text": q.query}) + "\n")
    with open(root / "qrels" / "test.tsv", "w") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for r in qrels.itertuples():
            f.write(f"{r.qid}\t{r.docno}\t{r.label}\n")
    return str(root)


def test_dynamic_command(known, tmp_path, capsys):
    from pt_genret.cli import main

    _, _, _, (docs, topics, qrels) = known
    beir = _write_beir(tmp_path / "beir", docs, topics, qrels)
    out = str(tmp_path / "out")
    assert main(["dynamic", beir, "--methods", "bm25,dense", "--steps", "2", "--out", out]) == 0
    printed = capsys.readouterr().out
    assert "| BM25 | Term Weight |" in printed and "| Dense (MiniLM) | Dense Vector |" in printed
    init = pd.read_csv(os.path.join(out, "initial_hit1.csv")).set_index("Method")
    assert init.loc["BM25", "F_n"] == pytest.approx(0.15)  # the same split and answer as the API run
    assert os.path.exists(os.path.join(out, "curves_hit10.png"))
    assert not os.path.exists(os.path.join(out, "work", "systems"))  # per-method indexes are cleaned up

    assert main(["dynamic", beir, "--methods", "bm25,nosuch", "--out", out]) == 2
    assert "unknown method(s) ['nosuch']" in capsys.readouterr().err
    assert main(["dynamic", beir, "--methods", "bm25", "--train-split", "test", "--out", out]) == 2
    assert "is the evaluation split" in capsys.readouterr().err
    assert main(["dynamic", beir, "--methods", "bm25", "-o", "dome.steps=5", "--out", out]) == 2  # -o as for update
    assert "'dome' is not one of the GR methods run" in capsys.readouterr().err


def test_method_options_parsing():
    from pt_genret.cli import parse_method_options

    got = parse_method_options(["lr=0.001", "dome.layers=[2, 3]", "incremental.name=abc"],
                               ["dome", "incremental", "bm25"])
    assert got == {"dome": {"lr": 0.001, "layers": [2, 3]}, "incremental": {"lr": 0.001, "name": "abc"}}
    with pytest.raises(ValueError, match="not one of the GR methods run"):
        parse_method_options(["rome.k=1"], ["dome", "bm25"])
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_method_options(["nonsense"], ["dome"])


# ---------------------------------------------------------------------------------------- GR update methods
def _gr_collection():
    from conftest import make_docs

    docs = pd.DataFrame(make_docs(per_topic=4, seed=11))
    topics = pd.DataFrame({"qid": [f"q{d}" for d in docs["docno"]], "query": docs["title"]})
    qrels = pd.DataFrame({"qid": topics["qid"], "docno": docs["docno"], "label": 1})
    return docs, topics, qrels


def _gr_options():
    from conftest import TINY_T5

    return {"scheme": "title", "backbone": "t5-scratch", "backbone_options": dict(TINY_T5), "epochs": 6,
            "batch_size": 16, "lr": 3e-3, "num_pseudo_queries": 2}


@pytest.fixture(scope="module")
def gr_run(tmp_path_factory):
    pytest.importorskip("pt_genret.updates")
    docs, topics, qrels = _gr_collection()
    work = str(tmp_path_factory.mktemp("dyn-gr") / "work")
    result = run_dynamic(docs, topics, qrels, ["finetune", "dome", "bm25"], work, steps=2, seed=42,
                         index_options=_gr_options(), method_options={"finetune": {"epochs": 2}},
                         keep_indexes=True, verbose=False)
    return result, work, (docs, topics, qrels)


def test_gr_methods_start_from_one_d0_index_and_add_every_batch(gr_run):
    from pt_genret.index import GenIndex

    result, work, (docs, _, _) = gr_run
    d0 = GenIndex(os.path.join(work, "d0.gr"))
    assert len(d0) == len(result.batches[0]) and not d0.meta.get("generations")  # the shared index is untouched
    for method in ("finetune", "dome"):
        final = GenIndex(os.path.join(work, "systems", method, "index.gr"))
        assert len(final) == len(docs)
        gens = [g for g in final.meta["generations"]]
        assert len(gens) == 2 and {g["method"] for g in gens} == {method}
        assert set(final.table().docnos) == set(docs["docno"])
    assert result.docid_types["finetune"] == "title"
    s = result.scores
    step0 = s[s["step"] == 0].set_index(["method", "measure"])["value"]
    assert step0["finetune"].equals(step0["dome"])  # both start from the same D0 model
    # groups 0 and i are scored after step i (only what the tables need), with values in [0, 1]
    assert set(map(tuple, s[["step", "group"]].drop_duplicates().values.tolist())) == {(0, 0), (1, 0), (1, 1),
                                                                                       (2, 0), (2, 2)}
    assert len(s) == 3 * 5 * 2 and s["value"].between(0, 1).all()
    t = result.timings.set_index(["method", "step"])
    assert t.loc[("finetune", 0), "seconds"] == pytest.approx(d0.meta["build_seconds"])
    gr_steps = t.loc[["finetune", "dome"]].query("step > 0")
    assert (gr_steps["seconds"] > 0).all() and (gr_steps["reported_seconds"] <= gr_steps["seconds"] + 1e-6).all()
    assert t.loc[("bm25", 1), "reported_seconds"] is None or pd.isna(t.loc[("bm25", 1), "reported_seconds"])
    # DOME reports where its time went; its stages add up to no more than the time it reported
    for step in (1, 2):
        stages = json.loads(t.loc[("dome", step), "stages"])
        assert {"edit_vectors", "weight_update"} <= set(stages)
        assert 0 < sum(stages.values()) <= t.loc[("dome", step), "reported_seconds"] + 1e-6
    assert pd.isna(t.loc[("bm25", 1), "stages"])


def test_gr_protocol_is_seeded_and_reuses_the_d0_index(gr_run):
    result, work, (docs, topics, qrels) = gr_run
    meta_file = os.path.join(work, "d0.gr", "pt_meta.json")
    before = os.path.getmtime(meta_file)
    again = run_dynamic(docs, topics, qrels, ["finetune"], work, steps=2, seed=42, index_options=_gr_options(),
                        method_options={"finetune": {"epochs": 2}}, resume=False, verbose=False)
    assert os.path.getmtime(meta_file) == before  # same split, options and seed: D0 index reused
    first = result.scores[result.scores["method"] == "finetune"].reset_index(drop=True)
    assert first.equals(again.scores.reset_index(drop=True))  # recomputed: the same numbers


def test_finished_methods_are_reused_unless_their_settings_change(gr_run):
    result, work, (docs, topics, qrels) = gr_run
    kwargs = dict(steps=2, seed=42, index_options=_gr_options(), verbose=False)
    same = run_dynamic(docs, topics, qrels, ["bm25", "dome"], work, **kwargs)
    old_t = result.timings.set_index(["method", "step"])
    new_t = same.timings.set_index(["method", "step"])
    # wall-clock seconds repeat exactly only when the saved results were read back
    assert new_t.loc["dome", "seconds"].tolist() == old_t.loc["dome", "seconds"].tolist()
    assert new_t.loc["bm25", "seconds"].tolist() == old_t.loc["bm25", "seconds"].tolist()
    assert same.score("dome", "Success@10", 2, 2) == result.score("dome", "Success@10", 2, 2)
    key = ["method", "step", "group", "measure", "qid"]
    reread = same.query_scores.sort_values(key).reset_index(drop=True)
    assert len(reread) and reread.equals(
        result.query_scores[result.query_scores["method"].isin(["bm25", "dome"])].sort_values(key)
        .reset_index(drop=True))  # per-query scores come back with the saved results
    changed = run_dynamic(docs, topics, qrels, ["finetune"], work, method_options={"finetune": {"epochs": 1}},
                          **kwargs)
    assert changed.timings["seconds"][1:].tolist() != old_t.loc["finetune", "seconds"][1:].tolist()


def test_report_without_matplotlib(known, monkeypatch):
    """matplotlib is the ``plot`` extra: without it the tables are written, the curves skipped
    with a message naming the extra, and plotting directly says the same."""
    import sys

    from pt_genret.evaluation.report import plot_curves

    result, _, work, _ = known
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    out = str(work / "no-plots")
    with pytest.warns(UserWarning, match=r"pt-genret\[plot\]"):
        paths = write_report(result, out)
    assert "summary.csv" in paths and not [p for p in paths if p.endswith(".png")]
    assert not [f for f in os.listdir(out) if f.endswith(".png")]
    with pytest.raises(ImportError, match=r"pip install 'pt-genret\[plot\]'"):
        plot_curves(result, result.measures[0], str(work / "x.png"))
