"""pt_genret.analysis: the seed's two results on small synthetic settings, and the CLI's plots."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pt_genret.analysis import beam_recall, beam_small_n, stepwise_error
from pt_genret.cli import main


def test_stepwise_error_grows_as_p_shrinks_and_tracks_a_over_p():
    res = stepwise_error(k=8, m=3, ps=(0.1, 0.5), alphas=(0.05, 1.0), trials=20, seed=1)
    by = {(r.alpha, r.p): r for r in res}
    for alpha in (0.05, 1.0):
        assert by[(alpha, 0.1)].kl > by[(alpha, 0.5)].kl  # a smaller corpus share: a larger error
    assert by[(0.05, 0.1)].concentration > by[(1.0, 0.1)].concentration
    assert by[(0.05, 0.1)].kl > by[(1.0, 0.1)].kl  # sharper relevance, larger error, as A/p says
    assert all(0 < r.kl < 2 * r.bound for r in res)


def test_beam_search_on_sparse_relevance_has_perfect_precision_at_1():
    res = beam_recall(k=6, beam_sizes=(3, 6), temperatures=(1.0,), trials=10, seed=0)
    assert all(r.precision_at_1 >= 0.9 for r in res)
    assert res[0].recall <= 0.5 + 1e-9  # a beam of n/2 finds at most half the n relevant documents


def test_seed_setting_irrelevant_one_over_k_keeps_every_relevant_prefix():
    # irrelevant mass o(1): a prefix holding a relevant document always outranks one without,
    # and at most n prefixes hold one, so a beam of n returns all n (recall 1, not 0.5)
    res = beam_recall(k=6, beam_sizes=(3, 6, 12), temperatures=(1.0,), trials=10, seed=0)
    by = {r.beams: r for r in res}
    assert by[3].recall == pytest.approx(0.5) and by[6].recall == 1.0 and by[12].recall == 1.0
    assert all(r.precision_at_1 == 1.0 and r.irrelevant == pytest.approx(1 / 6) for r in res)


def test_noise_variant_loses_relevant_prefixes_and_flattening_hurts():
    noisy = beam_recall(k=8, beam_sizes=(8,), temperatures=(1.0, 0.5), trials=10, seed=0, irrelevant=1.0)
    assert noisy[0].recall < 0.9 and noisy[1].recall == 1.0  # sharpening (T < 1) recovers them
    flat = beam_recall(k=8, beam_sizes=(8,), temperatures=(4.0,), trials=10, seed=0)
    assert flat[0].recall < 0.8  # T > 1: the irrelevant mass competes again


def test_paper_small_n_setting_does_not_give_one_half_with_o1_irrelevant_scores():
    # arXiv 2504.09935's sparse setting read with small n (n = k/2, so the beam of n prunes at the
    # first step) and irrelevant means k^-a: precision@1 is perfect, but recall at a beam of n is
    # well above 0.5 once the irrelevant scores are o(1) (a = 1/2), and near 0.5 only at mean 1
    res = beam_small_n(ks=(8,), exponents=(0.0, 0.5), beam_sizes=(4,), trials=20, seed=0)
    mean1, small = res
    assert small.n == 4 and small.lam == 0.5 and small.irrelevant == pytest.approx(8 ** -0.5)
    assert small.precision_at_1 == 1.0 and small.recall > 0.85
    assert mean1.recall < 0.6 and mean1.precision_at_1 >= 0.9


def test_concentration_a_and_p_on_a_toy_index():
    from pt_genret.concentration import code_space_share, concentration, index_concentration, qrels_relevance

    # one document per first token: A = (sum of Pr(d))^2 = 1; everything under one token: A = ||Pr||_2^2
    assert concentration(np.array([1, 2, 3]), np.array([0.2, 0.3, 0.5])) == pytest.approx(1.0)
    assert concentration(np.array([1, 1]), np.array([0.5, 0.5])) == pytest.approx(0.5)
    rng = np.random.default_rng(0)
    tokens = [[int(a), int(b), 99] for a, b in rng.choice(4, (6, 2))]
    tokens = [list(t) for t in {tuple(t) for t in tokens}]
    log10_p, sizes = code_space_share(tokens, eos=99)
    assert 10 ** log10_p == pytest.approx(len(tokens) / np.prod(sizes))
    docnos = [f"d{i}" for i in range(len(tokens))]
    qrels = pd.DataFrame({"qid": ["q1", "q1", "q2"], "docno": [docnos[0], docnos[1], "missing"], "label": [1, 1, 1]})
    rows = index_concentration(docnos, tokens, qrels_relevance(qrels), eos=99)
    assert [r.qid for r in rows] == ["q1"] and rows[0].candidates == 2  # q2's document is not in the index
    same_first = tokens[0][0] == tokens[1][0]
    assert rows[0].concentration == pytest.approx(0.5 if same_first else 1.0)
    assert rows[0].log10_bound == pytest.approx(np.log10(rows[0].concentration) - log10_p)


def test_analyze_writes_plots(tmp_path):
    pytest.importorskip("matplotlib")
    assert main(["analyze", "--output", str(tmp_path), "--trials", "4"]) in (0, None)
    for name in ("stepwise_constraints.png", "beam_sparse_relevance.png", "analysis.json"):
        assert (tmp_path / name).stat().st_size > 0


def test_analyze_without_matplotlib_is_one_line(tmp_path, monkeypatch):
    import builtins
    real = builtins.__import__

    def no_mpl(name, *a, **k):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_mpl)
    with pytest.raises(ImportError, match=r"pt-genret\[plot\]"):
        from pt_genret.analysis import run_analysis
        run_analysis(str(tmp_path), trials=2)
    assert np.all([not p.name.endswith(".png") for p in tmp_path.iterdir()])


def test_bm25_relevance_is_a_distribution_per_query(tmp_path):
    pytest.importorskip("pyterrier_pisa")
    from types import SimpleNamespace

    from conftest import make_docs
    from pt_genret.concentration import bm25_relevance

    docs = make_docs(per_topic=3)
    ds = SimpleNamespace(get_corpus_iter=lambda: iter(docs))
    topics = pd.DataFrame({"qid": ["1"], "query": [max(docs[0]["text"].split(), key=len).strip(".,")]})
    dist = bm25_relevance(ds, topics, str(tmp_path / "bm25.pisa"), num_results=5)
    assert list(dist) == ["1"] and 0 < len(dist["1"]) <= 5
    assert sum(dist["1"].values()) == pytest.approx(1.0)
