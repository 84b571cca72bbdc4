"""ZeroGR (issue 17): instructions, the docid generator, the instructed query generator,
multi-corpus indexes, the preset and decoder-only backbones. Tiny seeded corpora and tiny
from-scratch models only."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import build_tiny_index, make_docs
from pt_genret.instructions import (GENERIC_INSTRUCTION, Instruct, default_instruction, instruct,
                                    instruct_pseudo_queries, instruct_topics, instructed_queries)
from pt_genret.retriever import GenRetriever
from pt_genret.saved_queries import read_pseudo_queries

INSTR = "Given a topic, retrieve the notes about it"


# instructions ------------------------------------------------------------------------------
def test_instruction_defaults_and_concatenation():
    assert default_instruction("../shared/data/scifact/").startswith("Given a scientific claim")
    assert default_instruction("irds:beir/scifact/test") == default_instruction("scifact")
    assert default_instruction("my-corpus") == GENERIC_INSTRUCTION
    assert instruct(None, "q") == "q" and instruct("do x", "q") == "do x | q"
    topics = pd.DataFrame({"qid": ["1", "2"], "query": ["a", "b"], "instruction": ["own", None]})
    assert instructed_queries(topics, "default") == ["own | a", "default | b"]
    assert instruct_topics(topics.drop(columns="instruction"), None)["query"].tolist() == ["a", "b"]
    docs = pd.DataFrame({"docno": ["d"], "text": ["t"], "querygen": [["x", "y"]]})
    assert instruct_pseudo_queries(docs, "i")["querygen"][0] == ["i | x", "i | y"]
    assert Instruct("i")(topics)["instruction"].tolist() == ["i", "i"]
    with pytest.raises(ValueError, match="instruction"):
        instructed_queries(topics.assign(instruction=[1, 2]), None)


@pytest.fixture(scope="module")
def instructed_index(tmp_path_factory):
    return build_tiny_index(tmp_path_factory.mktemp("zgr") / "instr.gr", make_docs(per_topic=4), scheme="title",
                            epochs=2, instruction=INSTR)


def test_instruction_recorded_and_trained_on(instructed_index):
    assert instructed_index.meta["instruction"] == INSTR
    assert instructed_index.meta["instructions"] == [INSTR]
    saved = read_pseudo_queries(instructed_index.path)
    assert len(saved) and saved["query"].str.startswith(INSTR + " | ").all()


def test_retriever_reads_instruction_then_query(instructed_index):
    gr = GenRetriever(instructed_index, num_results=3)
    plain = pd.DataFrame({"qid": ["1"], "query": ["planet orbit"]})
    assert gr.model_queries(plain) == [f"{INSTR} | planet orbit"]
    assert GenRetriever(instructed_index, instruction="other").model_queries(plain) == ["other | planet orbit"]
    own = plain.assign(instruction="row")
    assert gr.model_queries(own) == ["row | planet orbit"]
    # the default instruction gives the same results as spelling it out in the frame
    a = gr(plain)
    b = gr(plain.assign(instruction=INSTR))
    assert a["docno"].tolist() == b["docno"].tolist() and "instruction" in b.columns
    # re-ranking scores instruction ⊕ query as well
    rr = gr(a[["qid", "query", "docno"]].assign(score=0.0, rank=0))
    assert sorted(rr["docno"]) == sorted(a["docno"])
