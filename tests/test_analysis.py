"""pt_genret.analysis: the seed's two results on small synthetic settings, and the CLI's plots."""
from __future__ import annotations

import numpy as np
import pytest

from pt_genret.analysis import beam_recall, stepwise_error
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
