"""The dense_init docid scheme: atomic docids whose model starts as dense retrieval."""
from __future__ import annotations

import pandas as pd
import pytest
import torch

from conftest import make_docs

DOCS = pd.DataFrame(make_docs(per_topic=5))


def _fresh(docs: pd.DataFrame, **options):
    from pt_genret.backbone import create_backbone
    from pt_genret.registry import CONSTRAINTS, SCHEMES

    backbone = create_backbone("minilm", seed=3, device="cpu")
    scheme = SCHEMES.create("dense_init", **options).fit(docs)
    table = CONSTRAINTS["trie"].identify(docs, backbone, scheme)
    backbone.set_docid_head({t for ts in table.tokens for t in ts})
    scheme.prepare_model(backbone, table, docs, fresh=True)
    backbone.model.eval()
    return backbone, scheme, table


def _centred_cosines(backbone, queries, docs, scale):
    from pt_genret.docids.dense_init import encode_mean_pooled
    from pt_genret.documents import full_texts

    def unit(v):
        return torch.nn.functional.normalize(v - v.mean(1, keepdim=True), dim=1)

    q = encode_mean_pooled(backbone, queries, 64, 16)
    d = encode_mean_pooled(backbone, full_texts(docs), 256, 16)
    return scale * unit(q) @ unit(d).T


def test_a_fresh_model_scores_every_docid_as_dense_retrieval():
    """Before training, log P(docid | query), end of sequence included, is the log-softmax of
    scale × the centred cosine of the query's and the document's encodings (up to the small
    share end of sequence takes at the first step, the same for every docid of a query)."""
    from pt_genret.decoding.scoring import score_candidates

    backbone, scheme, table = _fresh(DOCS, scale=15.0)
    queries = ["telescope orbit comet", "garlic butter sauce", "a referee gave a penalty"]
    expected = torch.log_softmax(_centred_cosines(backbone, queries, DOCS, 15.0), dim=1)
    for i, query in enumerate(queries):
        got = torch.from_numpy(score_candidates(backbone, query, table.tokens))
        gap = got - expected[i]
        assert float(gap.max() - gap.min()) < 1e-4 and -1e-2 < float(gap.mean()) <= 1e-5


def test_beam_search_returns_the_dense_ranking():
    from pt_genret.constraints.trie import PrefixTrie
    from pt_genret.decoding.beam import ConstrainedBeamSearch

    backbone, _, table = _fresh(DOCS)
    queries = ["planet galaxy nebula", "python compiler syntax"]
    trie = PrefixTrie.build(table.tokens, backbone.vocab_size)
    hits = ConstrainedBeamSearch(num_beams=5).decode(backbone, trie, queries, 5, 2)
    dense = _centred_cosines(backbone, queries, DOCS, 20.0).argsort(dim=1, descending=True)[:, :5]
    assert [[doc for doc, _ in h] for h in hits] == dense.tolist()


def test_an_index_built_with_dense_init_finds_documents_and_records_the_scheme(tmp_path):
    from pt_genret.index import GenIndex

    index = GenIndex(str(tmp_path / "dense.gr")).indexer(
        scheme="dense_init", epochs=1, batch_size=16, lr=1e-4, max_minutes=None, num_pseudo_queries=2,
        seed=42, verbose=False).index(DOCS)
    assert index.meta["scheme"] == "dense_init" and index.meta["scheme_config"]["scale"] == 20.0
    first = DOCS.iloc[[0, 7, 13]]
    res = index.retriever(num_results=3, verbose=False).transform(
        pd.DataFrame({"qid": ["a", "b", "c"], "query": (first["title"] + " " + first["text"]).tolist()}))
    top = res[res["rank"] == 0].set_index("qid")["docno"]
    assert top.to_dict() == dict(zip("abc", first["docno"]))


def test_new_documents_get_their_encodings_as_rows():
    """An update's documents start where a fresh build's would (prepare_model with fresh=False)."""
    from pt_genret.registry import CONSTRAINTS

    old, new = DOCS.iloc[:12], DOCS.iloc[12:16]
    backbone, scheme, table = _fresh(old)
    grown = CONSTRAINTS["trie"].identify(new, backbone, scheme, table)
    backbone.grow_head({t for ts in grown.tokens[len(table):] for t in ts})
    scheme.prepare_model(backbone, grown, new, fresh=False)
    reference, _, ref_table = _fresh(pd.concat([old, new]))
    rows = [t[0] for t in grown.tokens]
    ref_rows = [t[0] for t in ref_table.tokens]
    weight = backbone.model.decoder.get_output_embeddings().weight
    ref_weight = reference.model.decoder.get_output_embeddings().weight
    torch.testing.assert_close(weight[rows], ref_weight[ref_rows], atol=1e-5, rtol=0)


def test_a_backbone_without_a_bert_decoder_is_refused_in_one_line(tmp_path):
    from pt_genret.index import GenIndex

    with pytest.raises(ValueError, match="needs an encoder-decoder backbone with a BERT decoder"):
        GenIndex(str(tmp_path / "t5.gr")).indexer(scheme="dense_init", backbone="t5-scratch",
                                      backbone_options={"d_model": 32, "layers": 1, "vocab_size": 300},
                                      epochs=1, max_minutes=None, verbose=False).index(DOCS)


def test_the_indexer_defaults_to_dense_init_on_minilm_and_its_own_rate(tmp_path):
    """No scheme named: dense_init (at 2e-4) on minilm, keywords (at the backbone's rate) elsewhere;
    a rate given is kept."""
    from pt_genret.index import GenIndex

    target = GenIndex(str(tmp_path / "x.gr"))
    default = target.indexer(verbose=False)
    assert (default.scheme, default.config.lr) == ("dense_init", 7e-5)
    assert target.indexer(scheme="keywords", verbose=False).config.lr == 2e-3
    assert target.indexer(lr=1e-3, verbose=False).config.lr == 1e-3
    other = target.indexer(backbone="t5-scratch", verbose=False)
    assert (other.scheme, other.config.lr) == ("keywords", 5e-4)


@pytest.mark.parametrize("method", ["incremental", "dome"])
def test_documents_added_to_a_dense_init_index_are_found(tmp_path, method):
    """An update's new documents start with their encodings as rows (then the method trains or
    edits): each is found by its own text, and the old documents still are."""
    from pt_genret.index import GenIndex

    old, new = DOCS.iloc[:14], DOCS.iloc[14:18]
    index = GenIndex(str(tmp_path / "dense.gr")).indexer(
        scheme="dense_init", epochs=1, batch_size=16, max_minutes=None, num_pseudo_queries=2, seed=42,
        verbose=False).index(old)
    options = {"epochs": 1} if method == "incremental" else {}
    updated = index.updater(method=method, verbose=False, **options).index(new)
    probe = pd.concat([new, old.iloc[:2]])
    res = updated.retriever(num_results=1, verbose=False).transform(
        pd.DataFrame({"qid": [f"q{i}" for i in range(len(probe))],
                      "query": (probe["title"] + " " + probe["text"]).tolist()}))
    assert res.set_index("qid")["docno"].to_dict() == {f"q{i}": d for i, d in enumerate(probe["docno"])}


def test_rows_of_instructed_documents_are_orthogonal_to_their_instruction():
    """Each document's row loses its component along its own instruction's centred encoding
    (which every instructed query carries); documents without an instruction keep the plain
    encoding, and ``project_instruction=False`` keeps it for all."""
    from pt_genret.docids.dense_init import encode_mean_pooled

    first, second = "Given a space question, retrieve abstracts", "Given a recipe, retrieve dishes"
    docs = DOCS.assign(instruction=[first if i % 3 == 0 else second if i % 3 == 1 else None
                                    for i in range(len(DOCS))])
    projected, _, table = _fresh(docs)
    plain, _, plain_table = _fresh(docs, project_instruction=False)
    bare, _, _ = _fresh(DOCS)

    def rows(backbone, tab):
        weight = backbone.model.decoder.get_output_embeddings().weight
        return weight[[t[0] for t in tab.tokens]].detach()

    got, before = rows(projected, table), rows(plain, plain_table)
    torch.testing.assert_close(before, rows(bare, table), atol=1e-6, rtol=0)
    for i, text in ((0, first), (1, second)):
        direction = encode_mean_pooled(projected, [text], 256, 1)[0]
        direction = torch.nn.functional.normalize(direction - direction.mean(), dim=0)
        mine = list(range(i, len(docs), 3))
        assert float((got[mine] @ direction).abs().max()) < 1e-5
        assert float((before[mine] @ direction).abs().min()) > 1e-3  # there was a component to remove
    untouched = list(range(2, len(docs), 3))
    torch.testing.assert_close(got[untouched], before[untouched], atol=1e-6, rtol=0)


def test_an_update_projects_new_rows_with_the_index_instruction(tmp_path, monkeypatch):
    """Documents added to an instructed index (no instruction column of their own) get rows
    without the index's instruction direction, as the build's documents did."""
    from pt_genret.docids.dense_init import DenseInitScheme
    from pt_genret.index import GenIndex

    instruction = "Given a topic, retrieve the articles about it"
    seen = []
    original = DenseInitScheme.init_rows

    def recording(self, backbone, table, docs, verbose=False):
        seen.append((list(docs["docno"]), list(docs.get("instruction", [None] * len(docs))),
                     self.project_instruction))
        return original(self, backbone, table, docs, verbose)

    monkeypatch.setattr(DenseInitScheme, "init_rows", recording)
    old, new = DOCS.iloc[:14], DOCS.iloc[14:18]
    index = GenIndex(str(tmp_path / "dense.gr")).indexer(
        scheme="dense_init", epochs=1, batch_size=16, max_minutes=None, num_pseudo_queries=2, seed=42,
        instruction=instruction, verbose=False).index(old)
    index.updater(method="dome", verbose=False).index(new)
    (built, built_instr, _), (added, added_instr, projected) = seen
    assert built == list(old["docno"]) and set(built_instr) == {instruction}
    assert added == list(new["docno"]) and set(added_instr) == {instruction} and projected


def test_an_index_saved_before_instruction_projection_keeps_unprojected_rows(tmp_path):
    """A dense_init scheme config without ``project_instruction`` (saved before the option
    existed) loads with it off, so its updates' rows match its build's."""
    import json

    from pt_genret.docids import load_scheme

    scheme = _fresh(DOCS)[1]
    scheme.save(str(tmp_path))
    meta = json.loads((tmp_path / "scheme.json").read_text())
    assert load_scheme(str(tmp_path)).project_instruction is True
    del meta["config"]["project_instruction"]
    (tmp_path / "scheme.json").write_text(json.dumps(meta))
    assert load_scheme(str(tmp_path)).project_instruction is False
