"""The docid-token output head, training to a time budget with validation, and their records."""
from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import build_tiny_index, make_docs
from pt_genret.decoding import ConstrainedBeamSearch
from pt_genret.decoding.model_calls import encode, sequence_logprobs
from pt_genret.docid_head import OUTSIDE, DocIdHead, compact_logits, install
from pt_genret.index import GenIndex


@pytest.fixture(scope="module")
def head_index(tmp_path_factory):
    return build_tiny_index(tmp_path_factory.mktemp("head") / "title.gr", make_docs(per_topic=3, seed=3),
                            scheme="title", epochs=12)


def test_head_holds_the_docid_tokens_and_end_of_sequence(head_index):
    backbone = head_index.backbone()
    head = backbone.head
    used = {t for tokens in head_index.table().tokens for t in tokens}
    assert head is not None and set(head.ids.tolist()) == used and backbone.eos_token_id in used
    assert len(head) < backbone.vocab_size / 4
    assert head_index.meta["output_head"] == "docid"
    assert os.path.exists(os.path.join(head_index.folder, "model", "docid_head.json"))


def test_compact_and_full_width_logits_agree(head_index):
    backbone = head_index.backbone()
    head = backbone.head
    hidden, mask = encode(backbone, ["alpha beta", "a longer query here"])
    dec_in = torch.full((2, 1), backbone.decoder_start_token_id)
    from transformers.modeling_outputs import BaseModelOutput

    def logits():
        return backbone.model(encoder_outputs=BaseModelOutput(last_hidden_state=hidden), attention_mask=mask,
                              decoder_input_ids=dec_in).logits[:, -1]

    with torch.no_grad():
        wide = logits()
        with compact_logits(backbone.model):
            narrow = logits()
    assert narrow.shape[-1] == len(head) and wide.shape[-1] == backbone.vocab_size
    torch.testing.assert_close(wide[:, head.ids], narrow)
    outside = torch.ones(backbone.vocab_size, dtype=torch.bool)
    outside[head.ids] = False
    assert bool((wide[:, outside] == OUTSIDE).all())
    # log P of every docid: the compact head's and a softmax of the full-width logits are the same
    tokens = head_index.table().tokens
    got = sequence_logprobs(backbone, hidden[:1].expand(len(tokens), -1, -1), mask[:1].expand(len(tokens), -1),
                            tokens)
    assert torch.isfinite(got).all() and torch.logsumexp(got, 0) <= 1e-4  # a distribution over docids


def test_beam_search_same_rankings_compact_or_full_width(head_index, docs_frame):
    backbone, trie = head_index.backbone(), head_index.trie()
    queries = ["alpha beta gamma", "delta epsilon", "a query about nothing"]
    steps = int(head_index.meta["max_docid_length"]) + 1
    a = ConstrainedBeamSearch(num_beams=10).decode(backbone, trie, queries, 10, steps)
    b = ConstrainedBeamSearch(num_beams=10, compact=False).decode(backbone, trie, queries, 10, steps)
    assert [[d for d, _ in r] for r in a] == [[d for d, _ in r] for r in b]
    np.testing.assert_allclose([s for r in a for _, s in r], [s for r in b for _, s in r], atol=1e-4)


def test_head_retrieves_documents_by_title(head_index):
    docs = make_docs(per_topic=3, seed=3)
    topics = pd.DataFrame({"qid": [d["docno"] for d in docs], "query": [d["title"] for d in docs]})
    res = head_index.retriever(num_results=1)(topics)
    assert (res["qid"] == res["docno"]).mean() >= 0.8


def test_full_head_option(tmp_path):
    index = build_tiny_index(tmp_path / "full.gr", make_docs(per_topic=1), epochs=1, output_head="full")
    assert index.backbone().head is None and index.meta["output_head"] == "full"
    assert not os.path.exists(os.path.join(index.folder, "model", "docid_head.json"))
    with pytest.raises(ValueError, match="output_head"):
        GenIndex(str(tmp_path / "x")).indexer(output_head="words")


def test_update_grows_the_head_with_new_tokens(head_index, tmp_path):
    import shutil

    path = tmp_path / "copy.gr"
    shutil.copytree(head_index.path, path)
    index = GenIndex(str(path))
    before = set(index.backbone().head.ids.tolist())
    new = [{"docno": "n1", "title": "zymurgy xylophone", "text": "zymurgy xylophone quokka fermentation notes"},
           {"docno": "n2", "title": "quokka habitat", "text": "quokka habitat island marsupial survey"}]
    index = index.updater(method="incremental", epochs=6, verbose=False).index(pd.DataFrame(new))
    after = set(GenIndex(str(path)).backbone().head.ids.tolist())  # reloaded from the folder
    new_tokens = {t for d in ("n1", "n2") for t in index.table().tokens[index.table().index_of(d)]}
    assert before < after and new_tokens <= after and new_tokens - before


def test_head_rejects_tokens_outside_it():
    head = DocIdHead([3, 7, 9], vocab_size=20)
    assert head.columns(np.array([9, 3, -100])).tolist() == [2, 0, -100]
    with pytest.raises(ValueError, match="token 4 is outside the model.s docid head"):
        head.columns(np.array([4]))
    with pytest.raises(ValueError, match="token id 25 is outside the vocabulary"):
        DocIdHead([25], vocab_size=20)


def test_install_none_restores_the_full_vocabulary(head_index):
    backbone = GenIndex(head_index.path).backbone()
    install(backbone.model, None)
    assert backbone.head is None
    hidden, mask = encode(backbone, ["q"])
    with torch.no_grad(), compact_logits(backbone.model) as head:
        from transformers.modeling_outputs import BaseModelOutput

        out = backbone.model(encoder_outputs=BaseModelOutput(last_hidden_state=hidden), attention_mask=mask,
                             decoder_input_ids=torch.full((1, 1), backbone.decoder_start_token_id)).logits
    assert head is None and out.shape[-1] == backbone.vocab_size


# ------------------------------------------------------------------- time budget and validation
def test_budgeted_build_validates_keeps_best_and_records_the_curve(tmp_path):
    docs = make_docs(per_topic=3, seed=5)
    index = build_tiny_index(tmp_path / "budget.gr", docs, epochs=30, max_minutes=5, patience=2,
                             validation_queries=20)
    training = index.meta["training"]
    curve = training["curve"]
    assert training["validation"].startswith("RR@10 of") and training["held_out"] > 0
    assert 1 <= len(curve) <= 30 and training["stopped"] in ("epochs", "no improvement", "budget")
    scores = [c["score"] for c in curve]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert training["best_epoch"] == 1 + int(np.argmax(scores))  # the first best epoch is kept
    if training["stopped"] == "no improvement":
        assert len(curve) - training["best_epoch"] >= 2
    assert [c["epoch"] for c in curve] == list(range(1, len(curve) + 1))
    assert all(b["seconds"] >= a["seconds"] for a, b in zip(curve, curve[1:]))
    assert index.meta["examples"]["query"] == training["held_out"] + sum(
        1 for _ in range(index.meta["examples"]["query"] - training["held_out"]))
    assert os.path.exists(os.path.join(index.folder, "training_curve.png"))
    # the held-out pseudo-queries are kept, and fitting on top of GR uses them (never trained on)
    from pt_genret.interpolation import pseudo_query_topics

    held = pd.read_json(os.path.join(index.folder, "heldout_queries.jsonl"), lines=True, dtype=False)
    assert len(held) == training["held_out"]
    topics, qrels = pseudo_query_topics(index, n=1000)
    assert set(topics["query"]) == set(held["query"]) and set(qrels["docno"]) <= set(held["docno"])


def test_budget_stops_training_in_time(tmp_path):
    """A budget far below the epochs asked for stops the build early (the curve says why)."""
    docs = make_docs(per_topic=4, seed=6)
    index = build_tiny_index(tmp_path / "short.gr", docs, epochs=500, max_minutes=0.6, patience=500,
                             validation_queries=10)
    training = index.meta["training"]
    assert training["stopped"] == "budget" and len(training["curve"]) < 500
    rates = [c["lr"] for c in training["curve"]]
    assert rates[-1] < 0.5 * max(rates)  # the plan decays the rate by the end of the budget
    assert index.meta["build_seconds"] < 0.6 * 60 + 15
    with pytest.raises(ValueError, match="spent before training"):  # 18 s less the 20 s kept for saving
        build_tiny_index(tmp_path / "none.gr", docs, max_minutes=0.3)


def test_dev_queries_validate_with_ndcg(tmp_path):
    docs = make_docs(per_topic=2, seed=8)
    topics = pd.DataFrame({"qid": ["q1", "q2"], "query": [docs[0]["title"], docs[1]["title"]]})
    qrels = pd.DataFrame({"qid": ["q1", "q2"], "docno": [docs[0]["docno"], docs[1]["docno"]], "label": [1, 1]})
    index = build_tiny_index(tmp_path / "dev.gr", docs, epochs=3, max_minutes=5, valid_topics=topics,
                             valid_qrels=qrels)
    assert index.meta["training"]["validation"] == "nDCG@10 of 2 dev queries"
    assert index.meta["training"]["held_out"] == 0


def test_resumed_budgeted_run_honours_time_spent(tmp_path):
    """The checkpoint records the training seconds spent; a resumed run counts them."""
    from pt_genret.backbone import create_backbone
    from pt_genret.training import Budget, TrainConfig, build_examples, train

    docs = pd.DataFrame(make_docs(per_topic=2, seed=9))
    bb = create_backbone("t5-scratch", corpus_texts=docs["text"].tolist(), d_model=32, layers=2, vocab_size=300)
    tokens = {d: bb.spell(t.lower(), "text") for d, t in zip(docs["docno"], docs["title"])}
    examples = build_examples(docs, tokens)
    config = TrainConfig(epochs=3, batch_size=8, lr=3e-3, max_minutes=1)
    ckpt = tmp_path / "ckpt"
    train(bb, examples, config, checkpoint_dir=str(ckpt), verbose=False, budget=Budget(seconds=60))
    progress = json.loads((ckpt / "progress.json").read_text())
    assert progress["epoch"] == 3 and progress["seconds"] > 0 and len(progress["curve"]) == 3
    # pretend the earlier run used the whole budget: a resumed run with more epochs stops at once
    progress["seconds"] = 1e6
    progress["config"]["epochs"] = 5
    (ckpt / "progress.json").write_text(json.dumps(progress))
    again = Budget(seconds=60)
    losses = train(bb, examples, TrainConfig(epochs=5, batch_size=8, lr=3e-3, max_minutes=1),
                   checkpoint_dir=str(ckpt), verbose=False, budget=again)
    assert len(losses) == 3 and again.stopped == "budget"


def test_a_model_with_a_head_pickles_and_copies(head_index):
    import copy
    import pickle

    model = head_index.backbone().model
    for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        head = clone.get_output_embeddings()._genret_head
        assert torch.equal(head.ids, head_index.backbone().head.ids)
        assert type(clone.get_output_embeddings()).__name__ == "DocIdLinear"


def test_frozen_encoder_states_are_encoded_lazily_and_match_the_up_front_pass():
    """Training with a frozen encoder encodes a source when a batch first needs it (with its
    first-epoch batch), so a budget ending early has encoded only what it trained on, and the
    states equal those of the up-front pass."""
    from pt_genret.training import LengthBucketSampler, _CollateFrozen, encode_sources

    from pt_genret.backbone import create_backbone
    from pt_genret.training import Example

    docs = make_docs(per_topic=2, seed=3)
    backbone = create_backbone("t5-scratch", corpus_texts=[d["text"] for d in docs], seed=42, d_model=32, layers=1,
                               vocab_size=300)
    backbone.model.train()
    examples = [Example(source=" ".join(d["text"].split()[:n]), target=[5, 1], kind="query")
                for d in docs for n in (3, 9)]
    groups = list(LengthBucketSampler([len(e.source.split()) for e in examples], 4, 42))
    collate = _CollateFrozen(examples, backbone, 32, groups=groups)
    batch = collate(groups[0])
    assert sum(s is not None for s in collate.states) == len(groups[0])  # nothing beyond the first batch
    later = collate(groups[-1][:1])  # one row of another batch: its whole first-epoch batch is encoded
    assert sum(s is not None for s in collate.states) == len(groups[0]) + len(groups[-1])
    assert later["encoder_outputs"].last_hidden_state.shape[0] == 1
    again = collate(groups[0])
    assert torch.equal(again["encoder_outputs"].last_hidden_state, batch["encoder_outputs"].last_hidden_state)
    upfront = encode_sources(backbone, examples, 32, batch_size=4, verbose=False)
    for i in groups[0]:
        assert torch.allclose(upfront[i].float(), collate.states[i].float(), atol=2e-2)
    assert backbone.model.get_encoder().training  # encoded in evaluation mode, the model's mode kept


def test_a_slow_start_does_not_end_a_budgeted_run_early(monkeypatch):
    """The first batches' pace (here 20 slow ones on a simulated clock) is re-estimated as
    training goes on, so the learning-rate decay, and training, end with the budget rather than
    at the first estimate; the warm-up is not started over by the longer plan."""
    from pt_genret import training
    from pt_genret.backbone import create_backbone
    from pt_genret.training import Budget, TrainConfig, build_examples, train

    docs = pd.DataFrame(make_docs(per_topic=2, seed=9))
    bb = create_backbone("t5-scratch", corpus_texts=docs["text"].tolist(), d_model=32, layers=2, vocab_size=300)
    tokens = {d: bb.spell(t.lower(), "text") for d, t in zip(docs["docno"], docs["title"])}
    examples = build_examples(docs, tokens) * 100  # one long epoch
    now, calls, rates = [0.0], [], []
    loss = training.seq2seq_loss

    class Clock:  # training's clock: 0.15 s for each of the first 20 batches, then 0.01 s
        @staticmethod
        def time():
            return now[0]

    def batch(*args, **kwargs):
        calls.append(1)
        now[0] += 0.15 if len(calls) <= 20 else 0.01
        return loss(*args, **kwargs)

    monkeypatch.setattr(training, "time", Clock)
    monkeypatch.setattr(training, "seq2seq_loss", batch)
    step = torch.optim.AdamW.step
    monkeypatch.setattr(torch.optim.AdamW, "step", lambda self, *a, **k: rates.append(self.param_groups[0]["lr"])
                        or step(self, *a, **k))
    budget = Budget(seconds=8.0)
    train(bb, examples, TrainConfig(epochs=1, batch_size=1, lr=1e-3, max_minutes=1), verbose=False, budget=budget)
    assert len(examples) * 0.01 + 3 > 8  # the epoch does not fit: the budget ends it
    first_plan = int((8.0 - 3.0) / 0.15) + 20  # the steps planned from the first 20 batches' pace
    assert budget.stopped == "budget" and len(calls) > 5 * first_plan  # the plan grew with the real pace
    assert now[0] >= 8.0 - 0.02  # the budget was used to its end
    assert rates.index(max(rates)) <= 21  # the warm-up ends with the first plan (at batch 20), not the grown one
    assert rates[-1] < 0.1 * max(rates)  # and the rate has decayed when the budget ends
