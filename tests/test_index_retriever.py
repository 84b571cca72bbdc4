"""GenIndex (building, artifact format, errors) and GenRetriever (retrieve, re-rank, pipelines)."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import ir_measures
import numpy as np
import pandas as pd
import pyterrier as pt
import pytest
import torch

import pt_genret
from conftest import TINY_T5, build_tiny_index, make_docs
from pt_genret.backbone import create_backbone
from pt_genret.baselines import bm25_pisa
from pt_genret.constraints.trie import PrefixTrie
from pt_genret.decoding import score_candidates
from pt_genret.index import FORMAT_VERSION, GenIndex
from pt_genret.retriever import OUTPUT_COLUMNS, GenRetriever
from pt_genret.saved_queries import files_of
from pt_genret.training import TrainConfig, build_examples, train


def gen(path) -> Path:
    """The current generation's folder of the index at ``path``."""
    return Path(files_of(str(path)))


def leftovers(folder) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.startswith((".genret-tmp-", ".genret-old-")))


@pytest.fixture(scope="module")
def topics(docs) -> pd.DataFrame:
    """Each document's title as a query, qid = its docno."""
    return pd.DataFrame({"qid": [d["docno"] for d in docs], "query": [d["title"] for d in docs]})


@pytest.fixture(scope="module")
def qrels(docs) -> pd.DataFrame:
    return pd.DataFrame({"qid": [d["docno"] for d in docs], "docno": [d["docno"] for d in docs], "label": 1})


@pytest.fixture(scope="module")
def bm25(docs, tmp_path_factory):
    return bm25_pisa(docs, tmp_path_factory.mktemp("pisa") / "pisa", num_results=20)


@pytest.fixture()
def index_copy(title_index, tmp_path):
    """A throw-away copy of the trained index, for corruption tests."""
    path = tmp_path / "copy.gr"
    shutil.copytree(title_index.path, path)
    return path


# --- the built artifact ------------------------------------------------------------------------

def test_index_layout_and_metadata(title_index, docs):
    path = title_index.path
    assert sorted(os.listdir(path)) == ["gen-000000", "pt_meta.json", "write.lock"]
    assert title_index.folder == os.path.join(path, "gen-000000")
    for name in ("pt_meta.json", "model", "docids.jsonl", "trie.npz", "scheme", "pseudo_queries.jsonl"):
        assert os.path.exists(os.path.join(title_index.folder, name)), name
    assert any(f.endswith(".safetensors") for f in os.listdir(os.path.join(title_index.folder, "model")))
    with open(os.path.join(path, "pt_meta.json")) as f:
        meta = json.load(f)
    assert meta["type"] == "generative_index" and meta["format"] == "genret"
    assert meta["generation_folder"] == "gen-000000" and meta["generation"] == 0
    assert meta["package_hint"] == "pt-genret" and meta["format_version"] == FORMAT_VERSION
    assert meta["train"]["seed"] == 42 and meta["train"]["epochs"] == 15
    assert set(meta["built_with"]) >= {"pt_genret", "python", "torch", "transformers", "pyterrier"}
    assert meta["built_with"]["torch"] == torch.__version__ and meta["built_with"]["pt_genret"] == pt_genret.__version__
    assert meta["num_docs"] == len(docs) and meta["scheme"] == "title" and meta["backbone"] == "t5-scratch"
    assert meta["examples"] == {"index": len(docs), "query": 5 * len(docs), "train": 0}
    assert len(meta["epoch_losses"]) == 15 and meta["epoch_losses"][-1] < meta["epoch_losses"][0]
    # the build cleans up after itself
    parent = os.path.dirname(path)
    assert leftovers(parent) == [] and not os.path.exists(path + ".training")


def test_artifact_load_and_accessors(title_index, docs):
    loaded = pt.Artifact.load(title_index.path)
    assert isinstance(loaded, GenIndex)
    assert len(loaded) == len(docs)
    assert loaded.built()
    table = loaded.table()
    assert table.docnos == [d["docno"] for d in docs]
    # title docids: the lower-cased title, every one spelled with its own token path in the trie
    assert table.docids == [d["title"].lower() for d in docs]
    assert len(loaded.trie()) == len(docs)
    assert loaded.scheme().name == "title"
    assert isinstance(loaded.retriever(), GenRetriever)


# --- retrieval -----------------------------------------------------------------------------------

def test_retrieve_output_frame(title_index, topics):
    gr = GenRetriever(title_index, num_results=5)
    res = gr(topics.head(6))
    assert list(res.columns) == OUTPUT_COLUMNS
    assert res.groupby("qid").size().tolist() == [5] * 6
    table = title_index.table()
    assert set(res["docno"]) <= set(table.docnos)
    assert all(table.docids[table.index_of(d)] == i for d, i in zip(res["docno"], res["gr_docid"]))
    assert dict(zip(res["qid"], res["query"])) == dict(zip(topics["qid"].head(6), topics["query"].head(6)))
    for _, group in res.groupby("qid", sort=False):
        assert group["rank"].tolist() == list(range(len(group)))  # ranks from 0, in row order
        assert group["score"].is_monotonic_decreasing
        assert not group["docno"].duplicated().any()
    assert (res["score"] <= 0).all()


def test_documents_find_themselves(title_index, docs):
    """A query copied from a document (title, or title + text) finds it in the top 3."""
    gr = GenRetriever(title_index, num_results=3)
    rates = {}
    for name, make in {"title": lambda d: d["title"], "text": lambda d: f"{d['title']} {d['text']}"}.items():
        res = gr(pd.DataFrame({"qid": [d["docno"] for d in docs], "query": [make(d) for d in docs]}))
        rates[name] = float((res["qid"] == res["docno"]).groupby(res["qid"]).any().mean())
    # calibrated: this tiny model finds ~97-100% of its documents; chance is 3/32
    assert rates["title"] >= 0.75 and rates["text"] >= 0.75, rates


def test_retrieval_scores_are_exact_loglikelihoods(title_index, topics):
    res = GenRetriever(title_index, num_results=4)(topics.head(3))
    bb, table = title_index.backbone(), title_index.table()
    for (qid, query), group in res.groupby(["qid", "query"]):
        exact = score_candidates(bb, query, [table.tokens[table.index_of(d)] for d in group["docno"]])
        np.testing.assert_allclose(group["score"].to_numpy(), exact, atol=1e-4)


def test_rank_cutoff_fuses_into_decoding(title_index, topics):
    gr = GenRetriever(title_index, num_results=10)
    cut = gr % 2
    res = cut(topics.head(4))
    assert res.groupby("qid").size().tolist() == [2] * 4
    full = gr(topics.head(4))
    assert res.merge(full, on=["qid", "docno"])["rank_y"].max() <= 1  # the same top 2


def test_empty_query_frame(title_index):
    res = GenRetriever(title_index)(pd.DataFrame({"qid": pd.Series(dtype=str), "query": pd.Series(dtype=str)}))
    assert len(res) == 0 and list(res.columns) == OUTPUT_COLUMNS


def test_blank_query_gives_results_or_a_clear_error(title_index):
    gr = GenRetriever(title_index, num_results=3)
    try:
        res = gr(pd.DataFrame({"qid": ["1"], "query": [""]}))
    except ValueError:
        return  # refusing a blank query with a clear message is fine
    assert len(res) <= 3 and set(res["docno"]) <= set(title_index.table().docnos)


# --- re-ranking -----------------------------------------------------------------------------------

def test_rerank_scores_exactly_the_candidates(title_index, topics, docs):
    rng = np.random.default_rng(0)
    rows = []
    for qid, query in zip(topics["qid"][:4], topics["query"][:4]):
        cands = rng.choice([d["docno"] for d in docs], size=6, replace=False)
        rows += [(qid, query, d, float(-r), r, "keep") for r, d in enumerate(cands)]
    inp = pd.DataFrame(rows, columns=["qid", "query", "docno", "score", "rank", "extra"])
    out = GenRetriever(title_index)(inp)
    assert len(out) == len(inp)
    assert set(zip(out["qid"], out["docno"])) == set(zip(inp["qid"], inp["docno"]))
    assert (out["extra"] == "keep").all()
    bb, table = title_index.backbone(), title_index.table()
    for (qid, query), group in out.groupby(["qid", "query"]):
        exact = score_candidates(bb, query, [table.tokens[table.index_of(d)] for d in group["docno"]])
        np.testing.assert_allclose(group["score"].to_numpy(), exact, atol=1e-4)
        order = group.sort_values("score", ascending=False)
        assert order["rank"].tolist() == list(range(len(group)))
        assert list(group["gr_docid"]) == [table.docids[table.index_of(d)] for d in group["docno"]]
    assert not np.allclose(out["score"].to_numpy(), inp["score"].to_numpy())


def test_rerank_unknown_docno(title_index):
    inp = pd.DataFrame({"qid": ["1", "1"], "query": ["amber", "amber"], "docno": ["ast0", "not-a-doc"],
                        "score": [1.0, 0.5], "rank": [0, 1]})
    with pytest.raises(ValueError, match="not-a-doc"):
        GenRetriever(title_index)(inp)


def test_rerank_empty_result_frame(title_index):
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in ["qid", "query", "docno", "score", "rank"]})
    out = GenRetriever(title_index)(empty)
    assert len(out) == 0 and {"qid", "query", "docno", "score", "rank", "gr_docid"} <= set(out.columns)


def test_bm25_candidates_reranked_by_gr(title_index, bm25, topics):
    pipe = bm25 % 5 >> GenRetriever(title_index)
    res = pipe(topics.head(6))
    cands = (bm25 % 5)(topics.head(6))
    assert set(zip(res["qid"], res["docno"])) == set(zip(cands["qid"], cands["docno"]))
    assert res.groupby("qid").size().max() <= 5
    assert "gr_docid" in res.columns


def test_experiment_with_bm25_and_gr(title_index, bm25, topics, qrels):
    gr = GenRetriever(title_index, num_results=10)
    table = pt.Experiment([bm25, gr], topics, qrels, [ir_measures.nDCG @ 10, ir_measures.RR @ 10],
                          names=["BM25", "GR"])
    assert table["name"].tolist() == ["BM25", "GR"]
    assert set(table.columns) == {"name", "nDCG@10", "RR@10"}
    gr_rr = float(table.set_index("name").loc["GR", "RR@10"])
    assert gr_rr >= 0.6, table  # titles as queries on a model trained on them


# --- bad input and broken indexes -----------------------------------------------------------------

BAD_CORPORA = {
    "empty list": ([], "empty"),
    "empty frame": (pd.DataFrame(columns=["docno", "text", "title"]), "empty"),
    "duplicate docno": ([{"docno": "a", "text": "x y"}, {"docno": "b", "text": "y"}, {"docno": "a", "text": "z"}],
                        "duplicate docno 'a'"),
    "empty docno": ([{"docno": "a", "text": "x"}, {"docno": "  ", "text": "y"}], "document at position 1: empty docno"),
    "only empty documents": ([{"docno": "b", "text": " ", "title": ""}, {"docno": "c", "text": ""}],
                             "'b', 'c' have empty text and title"),
    "no text field": ([{"docno": "a", "body": "x"}], "'text' field"),
}


@pytest.mark.parametrize("case", sorted(BAD_CORPORA))
def test_bad_corpus_is_refused_and_leaves_nothing(case, tmp_path):
    corpus, message = BAD_CORPORA[case]
    target = tmp_path / "idx.gr"
    with pytest.raises(ValueError, match=message):
        GenIndex(str(target)).indexer(backbone="t5-scratch", backbone_options=TINY_T5, epochs=1,
                                      verbose=False).index(corpus)
    assert not target.exists()
    assert os.listdir(tmp_path) == []  # no temporary folders, no checkpoints


def test_existing_path_without_overwrite(tmp_path, docs):
    target = tmp_path / "idx.gr"
    target.mkdir()
    (target / "precious.txt").write_text("keep me")
    for overwrite in (False, True):  # a folder that is not an index is never replaced
        with pytest.raises(FileExistsError, match="not a pt-genret index .*precious.txt"):
            build_tiny_index(target, docs[:4], epochs=1, overwrite=overwrite)
    assert os.listdir(target) == ["precious.txt"]
    index = build_tiny_index(tmp_path / "real.gr", docs[:4], epochs=1, query_generator="none")
    with pytest.raises(FileExistsError, match=r"already exists and holds a GR index; pass overwrite=True \(--overwrite\)"):
        build_tiny_index(index.path, docs[:4], epochs=1)
    assert leftovers(tmp_path) == []


def test_failed_write_leaves_no_index(tmp_path, docs, monkeypatch):
    def failing_save(self, path):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(PrefixTrie, "save", failing_save)  # fails half-way through writing the index
    target = tmp_path / "idx.gr"
    with pytest.raises(OSError, match="disk full"):
        build_tiny_index(target, docs[:6], epochs=1, query_generator="none")
    assert not target.exists()
    assert leftovers(tmp_path) == []


def test_rebuild_after_failed_build_trains_on_the_new_corpus(tmp_path, monkeypatch, saved_backbone):
    """Whatever a failed build of another corpus left behind must not leak into a new build.

    The backbone is loaded from a folder, so builds are bit-for-bit reproducible and the rebuilt
    index must equal a clean build of the new corpus.
    """
    old_docs = make_docs(per_topic=3, seed=1, topics=("astronomy", "programming"))
    new_docs = make_docs(per_topic=3, seed=2, topics=("cooking", "football"))
    kw = dict(epochs=2, query_generator="none", backbone=saved_backbone, backbone_options={})
    target = tmp_path / "idx.gr"
    with monkeypatch.context() as m:
        m.setattr(PrefixTrie, "save", lambda self, path: (_ for _ in ()).throw(OSError("crash (simulated)")))
        with pytest.raises(OSError, match="crash"):
            build_tiny_index(target, old_docs, **kw)
    assert not target.exists()
    rebuilt = build_tiny_index(target, new_docs, **kw)
    reference = build_tiny_index(tmp_path / "reference.gr", new_docs, **kw)
    assert rebuilt.table().docnos == [d["docno"] for d in new_docs]
    assert rebuilt.meta["epoch_losses"] == reference.meta["epoch_losses"], "trained on the old corpus' checkpoint"
    sa, sb = rebuilt.backbone().model.state_dict(), reference.backbone().model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_overwrite_replaces_index(tmp_path, docs):
    target = tmp_path / "idx.gr"
    build_tiny_index(target, docs[:4], epochs=1, query_generator="none")
    again = build_tiny_index(target, docs[4:10], epochs=1, query_generator="none", overwrite=True)
    assert again.table().docnos == [d["docno"] for d in docs[4:10]]
    assert len(again) == 6
    assert leftovers(tmp_path) == []


def test_missing_file(index_copy):
    os.remove(gen(index_copy) / "trie.npz")
    with pytest.raises(FileNotFoundError, match="trie.npz"):
        GenRetriever(str(index_copy))(pd.DataFrame({"qid": ["1"], "query": ["amber"]}))
    with pytest.raises(FileNotFoundError, match="trie.npz"):
        GenIndex(str(index_copy)).trie()


def test_missing_weights(index_copy):
    for f in os.listdir(gen(index_copy) / "model"):
        if f.endswith(".safetensors"):
            os.remove(gen(index_copy) / "model" / f)
    with pytest.raises(FileNotFoundError, match="safetensors"):
        GenIndex(str(index_copy)).backbone()


def test_missing_index_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no GR index"):
        GenIndex(str(tmp_path / "nothing")).meta


def test_corrupt_meta(index_copy):
    (index_copy / "pt_meta.json").write_text('{"type": "generative_index", "format": ')
    with pytest.raises(ValueError, match="corrupt pt_meta.json"):
        GenIndex(str(index_copy)).meta


@pytest.mark.parametrize("change,message", [
    ({"format_version": FORMAT_VERSION + 1}, "format version"),
    ({"format_version": None}, "format version"),
    ({"type": "sparse_index"}, "not a generative_index"),
])
def test_wrong_meta(index_copy, change, message):
    path = index_copy / "pt_meta.json"
    meta = json.loads(path.read_text())
    meta.update(change)
    path.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=message):
        GenRetriever(str(index_copy))(pd.DataFrame({"qid": ["1"], "query": ["amber"]}))


def test_corrupt_docid_table(index_copy):
    with open(gen(index_copy) / "docids.jsonl", "a") as f:
        f.write("garbage\n")
    with pytest.raises(ValueError, match="corrupt docid table"):
        GenIndex(str(index_copy)).table()


# --- reproducibility and training ------------------------------------------------------------------

def assert_same_index(a: GenIndex, b: GenIndex, queries: list[str]) -> None:
    assert (Path(a.folder) / "docids.jsonl").read_bytes() == (Path(b.folder) / "docids.jsonl").read_bytes()
    assert a.meta["epoch_losses"] == b.meta["epoch_losses"]
    sa, sb = a.backbone().model.state_dict(), b.backbone().model.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    topics = pd.DataFrame({"qid": [str(i) for i in range(len(queries))], "query": queries})
    ra, rb = a.retriever(num_results=5)(topics), b.retriever(num_results=5)(topics)
    assert ra["docno"].tolist() == rb["docno"].tolist()
    np.testing.assert_array_equal(ra["score"].to_numpy(), rb["score"].to_numpy())


SMALL_TRAIN_TOPICS = pd.DataFrame({"qid": ["t1", "t2", "t3"], "query": ["amber comet", "basil oven", "xyz"]})


def small_train_qrels(small):
    return pd.DataFrame({"qid": ["t1", "t2", "t3"], "docno": [small[0]["docno"], small[1]["docno"], "nope"],
                         "label": [1, 0, 1]})


def test_same_seed_same_index(tmp_path, docs):
    """Two builds with the same seed and settings (t5-scratch backbone) are identical."""
    small = docs[::3]
    kw = dict(scheme="keywords", epochs=2, train_topics=SMALL_TRAIN_TOPICS, train_qrels=small_train_qrels(small))
    a = build_tiny_index(tmp_path / "a.gr", small, **kw)
    b = build_tiny_index(tmp_path / "b.gr", small, **kw)
    assert a.meta["examples"]["train"] == 1  # label 0 and unknown docnos are not training targets
    assert_same_index(a, b, [small[0]["title"], "goal keeper"])


def test_same_seed_same_index_with_fixed_backbone(tmp_path, docs, saved_backbone):
    """With a backbone loaded from a folder (no tokenizer training), builds are reproducible."""
    small = docs[::3]
    kw = dict(scheme="keywords", epochs=2, backbone=saved_backbone, backbone_options={},
              train_topics=SMALL_TRAIN_TOPICS, train_qrels=small_train_qrels(small))
    a = build_tiny_index(tmp_path / "a.gr", small, **kw)
    b = build_tiny_index(tmp_path / "b.gr", small, **kw)
    assert a.meta["backbone"] == saved_backbone
    assert_same_index(a, b, [small[0]["title"], "goal keeper"])
    # another seed gives another model
    c = build_tiny_index(tmp_path / "c.gr", small, seed=7, **kw)
    assert c.meta["epoch_losses"] != a.meta["epoch_losses"]


def test_scratch_backbones_with_the_same_seed_are_identical():
    texts = [f"{d['title']} {d['text']}" for d in make_docs(per_topic=2, seed=11)]
    a = create_backbone("t5-scratch", corpus_texts=texts, seed=3, device="cpu", **TINY_T5)
    b = create_backbone("t5-scratch", corpus_texts=texts, seed=3, device="cpu", **TINY_T5)
    assert a.tokenizer.get_vocab() == b.tokenizer.get_vocab()
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_minilm_decoder_shape_options():
    """``decoder_layers`` and ``decoder_ffn`` shape the MiniLM backbone's decoder; bad values are refused."""
    from pt_genret.updates.editing import ffn_sites

    backbone = create_backbone("minilm", seed=3, device="cpu", decoder_layers=3, decoder_ffn=512)
    sites = ffn_sites(backbone.model)
    assert len(sites) == 3
    assert all(site.proj.weight.shape == (backbone.model.config.decoder.hidden_size, 512) for site in sites)
    with pytest.raises(ValueError, match="decoder_ffn"):
        create_backbone("minilm", seed=3, device="cpu", decoder_ffn=0)


def test_minilm_decoder_warm_start_from_encoder():
    """``decoder_init="encoder"`` copies the encoder's bottom layers into the decoder; a wider
    decoder FFN computes exactly the pretrained layer's function; impossible shapes are refused."""
    random_init = create_backbone("minilm", seed=3, device="cpu")
    warm = create_backbone("minilm", seed=3, device="cpu", decoder_init="encoder")
    wide = create_backbone("minilm", seed=3, device="cpu", decoder_init="encoder", decoder_ffn=2048)
    enc_layer = warm.model.encoder.encoder.layer[1]
    for bb in (warm, wide):
        layer = bb.model.decoder.bert.encoder.layer[1]
        assert torch.equal(layer.attention.self.query.weight, enc_layer.attention.self.query.weight)
        assert torch.equal(layer.output.LayerNorm.weight, enc_layer.output.LayerNorm.weight)
    assert torch.equal(warm.model.decoder.bert.encoder.layer[1].intermediate.dense.weight,
                       enc_layer.intermediate.dense.weight)
    assert random_init.model.decoder.config.to_dict()["hidden_act"] == warm.model.encoder.config.hidden_act
    wide.model.eval(), warm.model.eval()
    x = torch.randn(5, enc_layer.attention.self.query.in_features)
    with torch.no_grad():
        want = enc_layer.output(enc_layer.intermediate(x), x)
        wide_layer = wide.model.decoder.bert.encoder.layer[1]
        got = wide_layer.output(wide_layer.intermediate(x), x)
    assert torch.allclose(got, want, atol=1e-5)
    with pytest.raises(ValueError, match="decoder_layers"):
        create_backbone("minilm", seed=3, device="cpu", decoder_init="encoder", decoder_layers=7)
    with pytest.raises(ValueError, match="decoder_ffn"):
        create_backbone("minilm", seed=3, device="cpu", decoder_init="encoder", decoder_ffn=512)
    with pytest.raises(ValueError, match="decoder_init"):
        create_backbone("minilm", seed=3, device="cpu", decoder_init="t5")


@pytest.fixture(scope="module")
def saved_backbone(tmp_path_factory) -> str:
    """A tiny scratch T5 saved to a folder, so every load is bit-identical."""
    texts = [f"{d['title']} {d['text']}" for d in make_docs()]
    path = str(tmp_path_factory.mktemp("backbone") / "t5-tiny")
    create_backbone("t5-scratch", corpus_texts=texts, seed=3, device="cpu", **TINY_T5).save(path)
    return path


@pytest.fixture(params=[0.0, 0.1], ids=["no-dropout", "dropout"])
def resume_setup(saved_backbone, tmp_path, request):
    """A fixed backbone (with or without dropout), examples and a 2-epoch configuration."""
    path = tmp_path / "backbone"
    shutil.copytree(saved_backbone, path)
    config = json.loads((path / "config.json").read_text())
    config["dropout_rate"] = request.param
    (path / "config.json").write_text(json.dumps(config))
    docs = pd.DataFrame(make_docs(per_topic=2, seed=11))
    docs["querygen"] = [[d["title"].split()[0], d["title"]] for _, d in docs.iterrows()]

    def fresh():
        return create_backbone(str(path), device="cpu")

    bb = fresh()
    tokens = {d: bb.spell(t.lower(), "text") for d, t in zip(docs["docno"], docs["title"])}
    return fresh, build_examples(docs, tokens), TrainConfig(epochs=2, batch_size=4, lr=3e-3, seed=5)


def test_training_is_reproducible(resume_setup):
    fresh, examples, config = resume_setup
    a, b = fresh(), fresh()
    assert train(a, examples, config, verbose=False) == train(b, examples, config, verbose=False)
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_training_resume_matches_uninterrupted_run(resume_setup, tmp_path):
    """A run interrupted after epoch 1 and resumed ends with the uninterrupted run's weights."""
    fresh, examples, config = resume_setup
    full = fresh()
    full_losses = train(full, examples, config, checkpoint_dir=str(tmp_path / "full"), verbose=False)

    class Interrupted(Exception):
        pass

    ckpt = tmp_path / "interrupted"

    def crash_once_checkpointed(module, args, kwargs):
        if (ckpt / "progress.json").exists():  # epoch 1 is saved: the machine goes down
            raise Interrupted()

    victim = fresh()
    victim.model.register_forward_pre_hook(crash_once_checkpointed, with_kwargs=True)
    with pytest.raises(Interrupted):
        train(victim, examples, config, checkpoint_dir=str(ckpt), verbose=False)
    assert json.loads((ckpt / "progress.json").read_text())["epoch"] == 1

    # a different configuration does not resume someone else's checkpoint: it starts afresh
    other_ckpt = tmp_path / "other"
    shutil.copytree(ckpt, other_ckpt)
    other = TrainConfig(epochs=1, batch_size=4, lr=3e-3, seed=5)
    with pytest.warns(UserWarning, match="another training run made it"):
        other_losses = train(fresh(), examples, other, checkpoint_dir=str(other_ckpt), verbose=False)
    assert len(other_losses) == 1
    assert json.loads((other_ckpt / "progress.json").read_text())["config"]["seed"] == 5

    resumed = fresh()
    resumed_losses = train(resumed, examples, config, checkpoint_dir=str(ckpt), verbose=False)
    assert len(resumed_losses) == 2
    assert resumed_losses[0] == full_losses[0]  # epoch 1 comes from the checkpoint
    sf, sr = full.model.state_dict(), resumed.model.state_dict()
    diff = max(float((sf[k].float() - sr[k].float()).abs().max()) for k in sf)
    assert diff == 0.0, f"resumed weights differ from the uninterrupted run by up to {diff:g}"
    assert resumed_losses == full_losses


def test_train_without_examples():
    with pytest.raises(ValueError, match="no training examples"):
        train(None, [], TrainConfig())
