"""Distillation from a PyTerrier teacher: teacher lists, the listwise loss, and a build with a teacher."""
from __future__ import annotations

import pandas as pd
import pytest
import torch

from conftest import build_tiny_index, make_docs
from pt_genret.baselines import bm25_pisa
from pt_genret.distillation import RankingTargets, listwise_loss, teacher_rankings
from pt_genret.index import GenIndex
from pt_genret.instructions import instruct, split_instruction
from pt_genret.training import Example


class FixedTeacher:
    """A teacher returning a fixed ranking for every query (a stand-in only for the list logic)."""

    def __init__(self, docnos):
        self.docnos = docnos
        self.calls = 0

    def __call__(self, topics):
        self.calls += 1
        rows = [(q, d, -r, r) for q in topics["qid"] for r, d in enumerate(self.docnos)]
        return pd.DataFrame(rows, columns=["qid", "docno", "score", "rank"])


def test_listwise_loss_prefers_the_teacher_order():
    good = listwise_loss(torch.tensor([0.0, -1.0, -2.0, -3.0]), [4])
    bad = listwise_loss(torch.tensor([-3.0, -2.0, -1.0, 0.0]), [4])
    assert good < bad
    two = listwise_loss(torch.tensor([0.0, -1.0, -3.0, -2.0, -1.0]), [2, 3])
    assert torch.isfinite(two)


def test_lists_put_the_own_document_first_and_skip_it_in_the_teacher_part():
    tokens = [[1, 9], [2, 9], [3, 9], [4, 9]]
    examples = [Example("a query", [2, 9], "query"), Example("doc text", [1, 9], "index"),
                Example("another query", [4, 9], "train")]
    teacher = FixedTeacher(["d3", "d1", "d0"])
    targets = RankingTargets.from_teacher(teacher, examples, ["d0", "d1", "d2", "d3"], tokens, k=2, verbose=False)
    assert targets.lists == {0: [1, 3], 2: [3, 1]}  # top-2 d3, d1: the own document once, first; no list for index examples
    assert teacher.calls == 1
    picked = targets.pick([2, 1, 0], step=0)
    assert 1 <= len(picked) <= 2
    for row, lst, listed in picked:
        own = targets.lists[[2, 1, 0][row]]
        assert lst[:listed] == own and len(lst) == len(set(lst)) and not set(lst[listed:]) & set(own)
    with pytest.raises(ValueError, match="share"):
        RankingTargets.from_teacher(teacher, examples, ["d0"], tokens, share=0)


def test_teacher_rankings_with_bm25(tmp_path):
    docs = make_docs(per_topic=3, seed=2)
    bm25 = bm25_pisa(docs, tmp_path / "pisa", num_results=5)
    title = docs[4]["title"]
    ranked = teacher_rankings(bm25, [title, title + "?", ""], k=3, verbose=False)
    assert set(ranked) == {title, title + "?"} and ranked[title][0] == docs[4]["docno"]
    assert len(ranked[title]) == 3


def test_build_with_a_teacher_ranks_the_teachers_documents_higher(tmp_path):
    """Distilled from BM25, the model ranks BM25's best other document for a query higher than a
    model trained without the teacher does (the list-wise loss moves it up)."""
    docs = make_docs(per_topic=3, seed=4)
    bm25 = bm25_pisa(docs, tmp_path / "pisa", num_results=10)
    topics = pd.DataFrame({"qid": [d["docno"] for d in docs], "query": [d["title"] for d in docs]})
    ranked = bm25(topics)
    second = {q: g.sort_values("rank")["docno"].tolist() for q, g in ranked.groupby("qid")}
    second = {q: next(d for d in lst if d != q) for q, lst in second.items()}

    def mean_rank(index):
        res = index.retriever(num_results=len(docs))(topics)
        return res[res["docno"] == res["qid"].map(second)]["rank"].reindex(range(len(docs)), fill_value=len(docs))

    index = build_tiny_index(tmp_path / "distilled.gr", docs, scheme="title", epochs=10, teacher=bm25,
                             teacher_k=4, distill_share=0.5)
    info = index.meta["distillation"]
    assert info["teacher_k"] == 4 and info["queries_with_lists"] > 0
    plain = build_tiny_index(tmp_path / "plain.gr", docs, scheme="title", epochs=10)
    assert plain.meta["distillation"] is None
    with_teacher = index.retriever(num_results=len(docs))(topics)
    without = plain.retriever(num_results=len(docs))(topics)

    def rank_of_second(res):
        res = res.assign(want=res["qid"].map(second))
        found = res[res["docno"] == res["want"]].set_index("qid")["rank"]
        return found.reindex(topics["qid"], fill_value=len(docs)).mean()

    assert rank_of_second(with_teacher) < rank_of_second(without)
    hits = with_teacher[with_teacher["rank"] < 5]
    assert (hits["qid"] == hits["docno"]).sum() >= 0.8 * len(docs)  # the own document stays near the top


def test_distillation_estimator_on_an_existing_index(tmp_path):
    from pt_genret.distillation import TeacherDistillation

    docs = make_docs(per_topic=3, seed=4)
    index = build_tiny_index(tmp_path / "idx.gr", docs, scheme="title", epochs=6)
    before = {k: v.clone() for k, v in index.backbone().model.state_dict().items()}
    bm25 = bm25_pisa(docs, tmp_path / "pisa", num_results=10)
    est = TeacherDistillation(index, bm25, teacher_k=3, share=1.0, epochs=2, lr=1e-3, verbose=False).fit()
    reloaded = GenIndex(index.path)
    phase = reloaded.meta["distillation_phases"][-1]
    assert phase["epochs"] == 2 and phase["queries_with_lists"] > 0 and len(phase["epoch_losses"]) == 2
    after = reloaded.backbone().model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # the saved model changed
    topics = pd.DataFrame({"qid": [d["docno"] for d in docs], "query": [d["title"] for d in docs]})
    assert len(est.transform(topics)) > 0
    with pytest.raises(ValueError, match="epochs"):
        TeacherDistillation(index, bm25, epochs=0)


def test_named_teachers(tmp_path):
    from pt_genret.distillation import named_teacher

    docs = make_docs(per_topic=2, seed=3)
    assert named_teacher("none", lambda: iter(docs), str(tmp_path)) is None
    with pytest.raises(ValueError, match="unknown teacher"):
        named_teacher("bm26", lambda: iter(docs), str(tmp_path))
    teacher = named_teacher("bm25", lambda: iter(docs), str(tmp_path / "t"))
    assert not (tmp_path / "t").exists()  # built on first use, inside a build's budget
    res = teacher(pd.DataFrame({"qid": ["1"], "query": [docs[3]["title"]]}))
    assert res["docno"].iloc[0] == docs[3]["docno"] and (tmp_path / "t" / "pisa").exists()


def test_a_teacher_that_eats_the_budget_is_a_clear_error(tmp_path, monkeypatch):
    """The teacher's time comes out of the build's budget; when it leaves none, the build says so
    (naming the teacher and the fix) instead of failing later with no epoch trained."""
    import time as real_time

    import pt_genret.index as index_module

    docs = make_docs(per_topic=2, seed=5)
    clock = {"offset": 0.0}

    class Clock:  # index.py's clock, which a slow teacher moves on by an hour
        @staticmethod
        def time():
            return real_time.time() + clock["offset"]

    class SlowTeacher(FixedTeacher):
        def __call__(self, topics):
            clock["offset"] += 3600.0
            return super().__call__(topics)

    monkeypatch.setattr(index_module, "time", Clock)
    with pytest.raises(ValueError, match=r"teacher's rankings .* took 3600 s.*raise max_minutes"):
        build_tiny_index(tmp_path / "slow.gr", docs, max_minutes=10, teacher=SlowTeacher([d["docno"] for d in docs]))
    assert not (tmp_path / "slow.gr").exists()


class RecordingTeacher(FixedTeacher):
    """A fixed ranking that also records the query frames it was sent."""

    def __init__(self, docnos):
        super().__init__(docnos)
        self.frames = []

    def __call__(self, topics):
        self.frames.append(topics.copy())
        return super().__call__(topics)


def test_instructed_queries_reach_the_teacher_bare():
    instruction = "Given a claim, retrieve the abstracts"
    texts = [instruct(instruction, "zebra stripes"), "plain query", instruct("other task", "kept whole")]
    teacher = RecordingTeacher(["d1", "d0"])
    ranked = teacher_rankings(teacher, texts, k=2, verbose=False, instructions=[instruction, "  "])
    sent = pd.concat(teacher.frames)
    assert sorted(sent["query"]) == sorted(["zebra stripes", "plain query", "other task kept whole"])
    assert dict(zip(sent["query"], sent["instruction"]))["zebra stripes"] == instruction
    assert set(ranked) == set(texts)  # keyed by the text the model trains on
    assert split_instruction(instruct(instruction, "q | r"), [instruction, "Given a claim"]) == (instruction, "q | r")
    assert split_instruction("q", [instruction]) == (None, "q")


def test_a_build_sends_its_teacher_the_bare_pseudo_queries(tmp_path):
    docs = make_docs(per_topic=2, seed=3)
    instruction = "Given a topic, retrieve its notes"
    teacher = RecordingTeacher([d["docno"] for d in docs[:3]])
    build_tiny_index(tmp_path / "idx", docs, scheme="atomic", epochs=1, num_pseudo_queries=2, teacher=teacher,
                     instruction=instruction)
    sent = pd.concat(teacher.frames)
    assert len(sent) > 0 and not sent["query"].str.contains("retrieve its notes").any()
    assert set(sent["instruction"]) == {instruction}
