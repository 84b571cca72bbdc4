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


# tiny from-scratch HF models saved to a folder: what "any HF model by name or path" loads --------
def save_tiny_model(folder, kind: str, texts: list[str]) -> str:
    """A tiny random GPT-2 (``causal``) or T5 (``seq2seq``) with a corpus tokenizer, as a HF folder."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, T5Config, T5ForConditionalGeneration

    from pt_genret.backbone import scratch_tokenizer

    torch.manual_seed(0)
    tok = scratch_tokenizer(texts, vocab_size=300)
    if kind == "causal":
        model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_positions=512, n_embd=32, n_layer=1, n_head=2,
                                           bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                           pad_token_id=tok.pad_token_id))
    else:
        model = T5ForConditionalGeneration(T5Config(vocab_size=len(tok), d_model=32, d_kv=8, d_ff=64, num_layers=1,
                                                    num_heads=2, pad_token_id=tok.pad_token_id,
                                                    eos_token_id=tok.eos_token_id,
                                                    decoder_start_token_id=tok.bos_token_id))
    model.save_pretrained(str(folder), safe_serialization=True)
    tok.save_pretrained(str(folder))
    return str(folder)


@pytest.fixture(scope="module", params=["causal", "seq2seq"])
def tiny_lm(request, tmp_path_factory):
    texts = [f"{d['title']} {d['text']}" for d in make_docs()]
    return save_tiny_model(tmp_path_factory.mktemp(f"lm-{request.param}"), request.param, texts)


# the docid generator -----------------------------------------------------------------------
def test_generated_docids_are_short_keyword_sentences():
    from pt_genret.docids import get_scheme

    docs = pd.DataFrame(make_docs(per_topic=6))
    scheme = get_scheme("generated").fit(docs)
    ids = scheme.assign(docs)
    assert len(set(ids)) == len(ids)
    assert all(6 <= len(i.split()) <= 8 for i in ids)
    assert ids == get_scheme("generated").fit(docs).assign(docs)  # deterministic
    # every word is the document's own; its repeated, corpus-rare key words are in the sentence
    for d, i in zip(make_docs(per_topic=6), ids):
        assert set(i.split()) <= set(f"{d['title']} {d['text']}".lower().replace(".", "").split())
    # ranked by coverage: a word this document repeats and others lack comes first
    extra = pd.DataFrame([{"docno": "q", "title": "", "text": "quasar quasar quasar planet star orbit comet "
                           "quasar galaxy moon eclipse solar meteor"}])
    both = pd.concat([docs, extra], ignore_index=True)
    assert get_scheme("generated").fit(both).propose(extra)[0].split()[0] == "quasar"


def test_generated_docid_conflicts_take_the_next_key_word():
    from pt_genret.docids.generated import GeneratedScheme

    twin = {"title": "solar eclipse", "text": "A solar eclipse darkens the moon and the sun over the planet orbit."}
    docs = pd.DataFrame([{"docno": "a", **twin}, {"docno": "b", **twin}, {"docno": "c", **twin}])
    scheme = GeneratedScheme(min_words=3, max_words=4, max_alternatives=1).fit(docs)
    first, second, third = scheme.assign(docs)
    assert first != second != third and len({first, second, third}) == 3
    assert second.split()[:3] == first.split() and len(second.split()) == 4  # next key word appended
    assert third == f"{first} 1"  # alternatives exhausted: a number
    assert scheme.assign(docs[:1], taken=[first])[0] == second


def test_generated_docids_from_a_hf_model_folder(tiny_lm, tmp_path):
    from pt_genret.docids import get_scheme, load_scheme

    docs = pd.DataFrame(make_docs(per_topic=2))
    scheme = get_scheme("generated", model=tiny_lm).fit(docs)
    ids = scheme.assign(docs)
    assert len(set(ids)) == len(ids) and all(6 <= len(i.split()) <= 8 for i in ids)
    scheme.save(str(tmp_path / "s"))
    again = load_scheme(str(tmp_path / "s"))
    assert again.config()["model"] == tiny_lm and again.assign(docs) == ids


def test_generated_scheme_builds_an_index(tmp_path):
    index = build_tiny_index(tmp_path / "gen.gr", make_docs(per_topic=3), scheme="generated", epochs=1)
    assert index.meta["scheme"] == "generated"
    assert all(6 <= len(d.split()) <= 8 for d in index.table().docids)


def test_bad_generated_options():
    from pt_genret.docids.generated import GeneratedScheme

    with pytest.raises(ValueError, match="min_words"):
        GeneratedScheme(min_words=9, max_words=8)
    with pytest.raises(ValueError, match="cannot load generation model"):
        GeneratedScheme(model="/no/such/model").fit(pd.DataFrame(make_docs(1))).assign(pd.DataFrame(make_docs(1)))


# the instructed query generator ------------------------------------------------------------
def test_instructed_queries_follow_the_instruction():
    from pt_genret.queries import InstructedQueryGenerator, get_query_generator
    from pt_genret.queries.instructed import kinds_for

    assert kinds_for("Given a scientific claim, retrieve ...")[0] == "sentence"
    assert kinds_for("Given a question, retrieve ...")[0] == "question"
    docs = pd.DataFrame(make_docs(per_topic=2))
    docs["instruction"] = ["Given a question, retrieve the notes"] * 4 + [None] * 4
    out = InstructedQueryGenerator("Given a claim, find evidence", num_queries=4)(docs)
    assert out["querygen"].map(len).eq(4).all()
    assert out["instruction"].tolist()[4:] == ["Given a claim, find evidence"] * 4
    # a claim instruction starts with a sentence of the text; a question one differs from it
    assert out["querygen"][0] != InstructedQueryGenerator("Given a claim", 4)(docs[:1])["querygen"][0]
    assert out["querygen"][4][0].rstrip(".") in docs["text"][4]
    assert out["querygen"].tolist() == InstructedQueryGenerator("Given a claim, find evidence", 4)(docs)["querygen"].tolist()
    assert isinstance(get_query_generator("instructed", 3), InstructedQueryGenerator)


def test_instructed_queries_from_a_hf_model_folder(tiny_lm):
    from pt_genret.queries import InstructedQueryGenerator

    docs = pd.DataFrame(make_docs(per_topic=1))
    gen = InstructedQueryGenerator("Given a question, retrieve notes", num_queries=3, model=tiny_lm, max_query_length=6)
    out = gen(docs)
    assert out["querygen"].map(len).eq(3).all()  # sampled, topped up extractively when repeated
    assert out["querygen"].tolist() == gen(docs)["querygen"].tolist()  # seeded


def test_index_with_the_instructed_generator_records_it(tmp_path):
    index = build_tiny_index(tmp_path / "iq.gr", make_docs(per_topic=2), scheme="generated", epochs=1,
                             query_generator="instructed", instruction="Given a question, retrieve notes")
    assert index.meta["query_generator"] == "instructed"
    saved = read_pseudo_queries(index.path)
    assert saved["query"].str.startswith("Given a question, retrieve notes | ").all()


# multi-corpus indexes --------------------------------------------------------------------
def corpus_of(topics: tuple[str, ...], name: str, instruction: str):
    from pt_genret.multicorpus import Corpus

    docs = make_docs(per_topic=3, topics=topics)
    queries = pd.DataFrame({"qid": [d["docno"] for d in docs], "query": [d["title"] for d in docs]})
    qrels = pd.DataFrame({"qid": queries["qid"], "docno": queries["qid"], "label": 1})
    return Corpus(name, docs, queries, qrels, instruction)


@pytest.fixture(scope="module")
def multi_index(tmp_path_factory):
    from pt_genret.multicorpus import build_multi_corpus_index
    from conftest import TINY_T5

    corpora = [corpus_of(("astronomy", "cooking"), "sky", "Find sky notes"),
               corpus_of(("football",), "ball", "Find football notes")]
    return build_multi_corpus_index(str(tmp_path_factory.mktemp("multi") / "base.gr"), corpora, scheme="generated",
                                    query_generator="instructed", num_pseudo_queries=3, backbone="t5-scratch",
                                    backbone_options=dict(TINY_T5), epochs=2, lr=3e-3, max_minutes=None, verbose=False)


def test_multi_corpus_index_namespaces_and_instructions(multi_index):
    docnos = multi_index.table().docnos
    assert {d.split("/")[0] for d in docnos} == {"sky", "ball"} and len(docnos) == 9
    assert multi_index.meta["instructions"] == ["Find football notes", "Find sky notes"]
    assert multi_index.meta["examples"]["train"] == 9  # real queries of both corpora
    saved = read_pseudo_queries(multi_index.path)
    sky = saved[saved["docno"].str.startswith("sky/")]
    assert sky["query"].str.startswith("Find sky notes | ").all()


def test_unseen_corpus_indexed_from_the_multi_corpus_model(multi_index, tmp_path):
    import torch

    from pt_genret.multicorpus import index_new_corpus

    docs = make_docs(per_topic=3, topics=("programming",))
    index = index_new_corpus(multi_index, str(tmp_path / "new.gr"), docs, "Find code notes", num_pseudo_queries=3,
                             epochs=1, lr=1e-12, max_minutes=None, verbose=False)
    assert index.meta["init_from"].endswith("base.gr") and index.meta["examples"]["train"] == 0
    assert index.meta["backbone"] == "t5-scratch" and index.meta["instruction"] == "Find code notes"
    assert sorted(index.table().docnos) == sorted(d["docno"] for d in docs)
    base = multi_index.backbone().model.get_encoder().embed_tokens.weight
    new = index.backbone().model.get_encoder().embed_tokens.weight
    assert torch.allclose(base, new)  # training started from the base model (lr ~ 0 left it there)
    res = GenRetriever(index, num_results=3)(pd.DataFrame({"qid": ["1"], "query": [docs[0]["title"]]}))
    assert len(res) == 3 and set(res["docno"]) <= {d["docno"] for d in docs}


def test_unseen_corpus_searched_zero_shot(multi_index, tmp_path):
    import torch

    from pt_genret.index import GenIndex
    from pt_genret.multicorpus import index_new_corpus

    docs = make_docs(per_topic=3, topics=("programming",))
    index = index_new_corpus(multi_index, str(tmp_path / "zs.gr"), docs, "Find code notes", num_pseudo_queries=3,
                             epochs=0, verbose=False)  # the default 30 min budget is ignored: nothing trains
    meta = index.meta
    assert meta["train"]["epochs"] == 0 and meta["train"]["max_minutes"] is None and meta["epoch_losses"] == []
    assert meta["training"]["held_out"] == 0 and meta["training"]["stopped"] == "zero-shot"
    assert meta["init_from_created"] == multi_index.meta["created"]
    assert len(read_pseudo_queries(index.path)) == 9  # 3 per document, kept for later updates
    assert sorted(index.table().docnos) == sorted(d["docno"] for d in docs)
    base, new = multi_index.backbone().model.state_dict(), index.backbone().model.state_dict()
    assert base.keys() == new.keys() and all(torch.equal(base[k], new[k]) for k in base)  # the model as it was
    res = GenRetriever(index, num_results=3)(pd.DataFrame({"qid": ["1"], "query": [docs[0]["title"]]}))
    assert len(res) == 3 and set(res["docno"]) <= {d["docno"] for d in docs}
    with pytest.raises(ValueError, match="epochs=0 trains nothing, so it needs init_from"):
        GenIndex(str(tmp_path / "scratch.gr")).indexer(epochs=0, verbose=False)

    more = make_docs(per_topic=2, seed=9, topics=("cooking",))  # an update of it trains, though the build did not
    GenIndex(index.path).updater(method="finetune", verbose=False).index(more)
    updated = GenIndex(index.path).backbone().model.state_dict()
    assert any(not torch.equal(base[k], updated[k]) for k in base)


def test_unseen_corpus_added_to_the_multi_corpus_index(multi_index, tmp_path):
    import shutil

    from pt_genret.index import GenIndex
    from pt_genret.multicorpus import Corpus, CorpusFilter, add_corpus

    copy = str(tmp_path / "copy.gr")
    shutil.copytree(multi_index.path, copy)
    docs = make_docs(per_topic=3, topics=("programming",))
    index = add_corpus(copy, Corpus("code", docs, instruction="Find code notes"), method="incremental",
                       epochs=1, verbose=False)
    index = GenIndex(copy)
    assert sum(d.startswith("code/") for d in index.table().docnos) == 3
    saved = read_pseudo_queries(copy)
    assert saved[saved["docno"].str.startswith("code/")]["query"].str.startswith("Find code notes | ").all()
    gr = GenRetriever(index, num_results=12) >> CorpusFilter("code")
    res = gr(pd.DataFrame({"qid": ["1"], "query": [docs[0]["title"]], "instruction": ["Find code notes"]}))
    assert set(res["docno"]) <= {d["docno"] for d in docs} and res["rank"].tolist() == list(range(len(res)))


# the preset ---------------------------------------------------------------------------------
def test_zerogr_preset_decodes_reverse_annealed_with_its_schedule(instructed_index):
    from pt_genret.presets import PRESETS, preset_retriever

    preset = PRESETS["ZeroGR"]
    assert preset.scheme == "generated" and preset.decoder == "annealed"
    assert preset.indexer_options["query_generator"] == "instructed"
    gr = preset_retriever(instructed_index, "ZeroGR", num_results=3)
    assert (gr.decoder.name, gr.decoder.start_temperature, gr.decoder.end_temperature) == ("annealed", 0.1, 1.5)
    hot = preset_retriever(instructed_index, "ZeroGR", num_results=3, decoder_options={"end_temperature": 3.0})
    assert hot.decoder.end_temperature == 3.0 and hot.decoder.start_temperature == 0.1
    assert preset_retriever(instructed_index, "ZeroGR", decoder="beam").decoder.name == "beam"
    res = gr(pd.DataFrame({"qid": ["1"], "query": ["planet orbit"]}))
    assert len(res) == 3 and (res["decoder"] == "annealed").all()


# decoder-only backbones -------------------------------------------------------------------
@pytest.fixture(scope="module")
def causal_index(tmp_path_factory):
    return build_tiny_index(tmp_path_factory.mktemp("causal") / "gpt2.gr", make_docs(per_topic=3), scheme="title",
                            epochs=12, backbone="gpt2-scratch",
                            backbone_options={"d_model": 64, "layers": 2, "vocab_size": 400})


def test_decoder_only_backbone_learns_and_decodes_with_every_trie_decoder(causal_index):
    from pt_genret.decoding import score_candidates

    assert causal_index.backbone().decoder_only and causal_index.meta["backbone"] == "gpt2-scratch"
    docs = make_docs(per_topic=3)
    topics = pd.DataFrame({"qid": [d["docno"] for d in docs], "query": [d["title"] for d in docs]})
    beam = GenRetriever(causal_index, num_results=3)(topics)
    top = beam[beam["rank"] == 0]
    assert (top["qid"] == top["docno"]).mean() >= 0.5  # trained: a title finds its document
    for decoder in ("sharpened", "annealed"):
        res = GenRetriever(causal_index, num_results=3, decoder=decoder)(topics[:4])
        assert len(res) == 12 and res.groupby("qid")["docno"].nunique().eq(3).all()
    # beam scores are the exact log-likelihoods that re-ranking computes (prompt, then the docid)
    table, backbone = causal_index.table(), causal_index.backbone()
    row = beam.iloc[0]
    exact = score_candidates(backbone, row["query"], [table.tokens[table.index_of(row["docno"])]])[0]
    assert exact == pytest.approx(row["score"], abs=1e-3)
    rr = GenRetriever(causal_index)(beam[["qid", "query", "docno"]])
    assert rr.set_index(["qid", "docno"])["score"].to_dict() == pytest.approx(
        beam.set_index(["qid", "docno"])["score"].to_dict(), abs=1e-3)


def test_decoder_only_backbone_from_a_hf_model_folder(tmp_path):
    texts = [f"{d['title']} {d['text']}" for d in make_docs()]
    folder = save_tiny_model(tmp_path / "lm", "causal", texts)
    index = build_tiny_index(tmp_path / "hf.gr", make_docs(per_topic=2), scheme="title", epochs=1, backbone=folder,
                             backbone_options={})
    assert index.backbone().decoder_only
    res = GenRetriever(index, num_results=2)(pd.DataFrame({"qid": ["1"], "query": ["planet"]}))
    assert len(res) == 2


def test_decoder_only_beam_search_with_the_cache_equals_recomputing(causal_index, monkeypatch):
    from pt_genret import causal

    steps = []
    real = causal.cached_step
    monkeypatch.setattr(causal, "cached_step", lambda *a, **k: steps.append(a[4] is not None) or real(*a, **k))
    docs = make_docs(per_topic=3)
    topics = pd.DataFrame({"qid": [d["docno"] for d in docs], "query": [d["title"] + " of it" * (i % 3)
                                                                      for i, d in enumerate(docs)]})
    cached = GenRetriever(causal_index, num_results=5, batch_size=4)(topics)
    recomputed = GenRetriever(causal_index, num_results=5, batch_size=4,
                              decoder_options={"use_cache": False})(topics)
    assert any(steps) and not all(steps)  # the prompt ran once per batch, then steps from the cache
    assert cached["docno"].tolist() == recomputed["docno"].tolist()  # padded prompts of different lengths
    assert cached["score"].to_numpy() == pytest.approx(recomputed["score"].to_numpy(), abs=1e-4)


def test_decoder_only_incremental_decoder_matches_recomputing(causal_index):
    from test_decoding import check_incremental_decoder

    check_incremental_decoder(causal_index)


def test_decoder_only_annealed_sampling_with_the_cache_draws_what_recomputing_draws(causal_index):
    from pt_genret.decoding.sampling import AnnealedSampling

    backbone, trie = causal_index.backbone(), causal_index.trie()
    steps = int(causal_index.meta["max_docid_length"]) + 1
    queries = ["planet", "a recipe with garlic and butter", "goal", "python syntax errors in a compiler"]
    cached = AnnealedSampling(seed=2).decode(backbone, trie, queries, 6, steps)
    assert cached == AnnealedSampling(seed=2, use_cache=False).decode(backbone, trie, queries, 6, steps)
