"""Recorded options: schemes and update methods are dataclasses whose fields are their options."""
from __future__ import annotations

import json

import numpy as np
import pytest

from pt_genret.docids import get_scheme, load_scheme
from pt_genret.registry import SCHEMES
from pt_genret.updates.updater import make_method

# the keys scheme.json recorded before schemes were dataclasses: old index folders must still load
OLD_SCHEME_KEYS = {
    "atomic": {"seed"}, "naive": {"seed"}, "title": {"max_words", "seed"}, "keywords": {"num_terms", "seed"},
    "bm25_terms": {"num_terms", "k1", "b", "seed"}, "url": {"max_words", "require_url", "seed"},
    "ngrams": {"seed", "span_length"}, "multiview": {"seed", "span_length"},
    "semantic": {"k", "encoder", "max_depth", "position_aware", "seed"},
    "rq": {"m", "k", "encoder", "max_suffix", "seed"}, "pq": {"m", "k", "encoder", "max_suffix", "seed"},
}
OLD_METHOD_KEYS = {
    "finetune": {"epochs", "lr", "batch_size"}, "incremental": {"replay_ratio", "epochs", "lr", "batch_size"},
    "memit": {"layers", "steps", "lr", "weight_decay", "stop_prob", "docid_softmax", "softmax_top_k", "preservation",
              "cov_queries", "batch_rows", "max_source_length", "check_rows", "sources"},
}


@pytest.mark.parametrize("name", sorted(OLD_SCHEME_KEYS))
def test_scheme_records_the_same_keys(name):
    assert set(SCHEMES.create(name).config()) == OLD_SCHEME_KEYS[name]


@pytest.mark.parametrize("name", sorted(OLD_METHOD_KEYS))
def test_update_method_records_the_same_keys(name):
    assert set(make_method(name).options()) == OLD_METHOD_KEYS[name]


def test_an_old_scheme_json_loads(tmp_path):
    (tmp_path / "scheme.json").write_text(json.dumps({"name": "title", "config": {"max_words": 4, "seed": 7}}))
    np.savez(tmp_path / "scheme_state.npz")
    scheme = load_scheme(str(tmp_path))
    assert (scheme.max_words, scheme.seed, scheme.fitted) == (4, 7, True)


def test_saved_options_round_trip(tmp_path):
    scheme = get_scheme("url", max_words=5, require_url=True, seed=5)
    scheme.fitted = True
    scheme.save(str(tmp_path))
    assert json.loads((tmp_path / "scheme.json").read_text())["config"] == {"seed": 5, "max_words": 5,
                                                                             "require_url": True}
    assert load_scheme(str(tmp_path)).config() == scheme.config()


@pytest.mark.parametrize("make, message", [
    (lambda: get_scheme("keywords", num_terms=0), r"docid scheme 'keywords' option num_terms=0: must be > 0"),
    (lambda: get_scheme("bm25_terms", b=1.5), r"option b=1.5: must lie in \[0, 1\]"),
    (lambda: get_scheme("url", require_url="yes"), r"option require_url='yes': expected true or false"),
    (lambda: get_scheme("title", max_words=2.5), r"option max_words=2.5: expected a whole number"),
    (lambda: make_method("dome", anneal=0), r"update option anneal=0: must lie in \(0, 1\]"),
    (lambda: make_method("incremental", replay_ratio=-1), r"update option replay_ratio=-1: must be >= 0"),
    (lambda: make_method("rome", preservation=0.5), r"bad options for update method 'rome'.*accepts"),
])
def test_one_validator(make, message):
    with pytest.raises(ValueError, match=message):
        make()
