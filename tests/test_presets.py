"""Presets build through the shared indexer and decode valid, distinct documents."""
from __future__ import annotations

import pandas as pd
import pytest

from pt_genret.docids import get_scheme
from pt_genret.presets import PRESETS, get_preset, preset_indexer, preset_retriever


def test_every_preset_names_a_registered_scheme_and_decoder():
    from pt_genret.decoding import DECODERS
    from pt_genret.docids import SCHEMES

    for name, preset in PRESETS.items():
        assert preset.scheme in SCHEMES and preset.decoder in DECODERS and preset.notes, name
        get_scheme(preset.scheme, **preset.scheme_options)  # options are valid constructor arguments
    with pytest.raises(ValueError, match="unknown preset"):
        get_preset("nope")


def test_nci_codes_are_position_aware(docs_frame):
    scheme = get_scheme("semantic", k=3, position_aware=True).fit(docs_frame, embeddings=_embeddings(docs_frame))
    ids = scheme.assign(docs_frame)
    for docid in ids:
        codes = [int(c) for c in docid.split("-")]
        assert all(d * 3 <= c < (d + 1) * 3 for d, c in enumerate(codes))  # digit at depth d is d*k + c
    assert scheme.num_codes() == 3 * max(len(i.split("-")) for i in ids)


def _embeddings(frame):
    import numpy as np

    rng = np.random.default_rng(0)
    topic = {t: rng.normal(size=8) for t in frame["text"].str.split().str[0].unique()}
    return np.stack([topic[t.split()[0]] + 0.1 * rng.normal(size=8) for t in frame["text"]]).astype("float32")


@pytest.mark.parametrize("name", ["DSI-naive", "NCI", "MINDER"])
def test_preset_builds_and_retrieves(tmp_path, docs, name):
    index = preset_indexer(tmp_path / name, name, backbone="t5-scratch", epochs=2, verbose=False,
                           backbone_options={"d_model": 64, "layers": 2, "vocab_size": 400}).index(docs)
    assert index.meta["scheme"] == get_preset(name).scheme
    res = preset_retriever(index, name, num_results=4)(pd.DataFrame({"qid": ["1"], "query": [docs[0]["text"]]}))
    assert len(res) == 4 and res["docno"].is_unique
    assert set(res["docno"]) <= {d["docno"] for d in docs}


def test_ltrgr_preset_runs_the_rank_phase_on_pseudo_queries(tmp_path, docs):
    index = preset_indexer(tmp_path / "ltrgr", "LTRGR", backbone="t5-scratch", epochs=2, verbose=False,
                           backbone_options={"d_model": 64, "layers": 2, "vocab_size": 400},
                           ltr_options={"max_pseudo_queries": 12, "top_k": 3}).index(docs)
    phase = index.meta["ltr"][-1]
    assert phase["queries"] == 12 and phase["top_k"] == 3 and len(phase["epoch_losses"]) == 1
    res = preset_retriever(index, "LTRGR", num_results=3)(pd.DataFrame({"qid": ["1"], "query": [docs[0]["title"]]}))
    assert len(res) == 3 and set(res["docno"]) <= {d["docno"] for d in docs}


def test_pseudo_query_topics_are_a_seeded_sample(title_index):
    from pt_genret.presets import pseudo_query_topics

    topics, qrels = pseudo_query_topics(title_index, 10, seed=1)
    again, _ = pseudo_query_topics(title_index, 10, seed=1)
    assert len(topics) == 10 and topics.equals(again) and topics["qid"].is_unique
    assert set(qrels["docno"]) <= set(title_index.table().docnos) and (qrels["label"] == 1).all()
