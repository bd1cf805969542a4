"""The population-level account of chapter 02 (regression surrogate with chapter 08's finite-n risk)
and the typed Theorem 1 study of chapter 03."""

import numpy as np
import pytest
import torch

from mfh_lib import theory
from mfh_lib.config import ConfigError
from mfh_lib.data.gaussian_mvd import sample_mvd, spec_from_sizes
from mfh_lib.gaussian_kd import (KDSettings, bayes_accuracy, gain_phase_diagram, gain_table, kd_lambda, run_kd,
                                 surrogate_accuracy, surrogate_model)

SPEC = spec_from_sizes(25, 50, 20, 10, 10, 6)


def _draw(n, runs, seed=0):
    g = torch.Generator().manual_seed(seed)
    delta = torch.randn(1, SPEC.d, generator=g)
    x_a, x_b, y = sample_mvd(SPEC, n, delta.expand(runs, -1).contiguous(), g)
    return delta[0], x_a.double(), x_b.double(), (2 * y - 1).double()


def test_surrogate_covariance_matches_monte_carlo():
    delta, x_a, x_b, y = _draw(200_000, 1)
    teacher = torch.randn(SPEC.d1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    model = surrogate_model(SPEC, delta, teacher)
    u = x_a[0] @ teacher
    t = (u * y[0]).mean() / (u * u).mean() * u  # the calibrated (least-squares) teacher prediction
    sample = torch.cat([x_b[0], y[0, :, None], t[:, None]], dim=1)
    torch.testing.assert_close(sample.T @ sample / sample.shape[0], model.cov, atol=0.012, rtol=0)


def test_surrogate_limits_and_lambda():
    delta = torch.randn(SPEC.d, generator=torch.Generator().manual_seed(2))
    no_kd_limit = surrogate_accuracy(SPEC, delta, 10**9, 0.0)
    assert no_kd_limit == pytest.approx(bayes_accuracy(SPEC, delta), abs=0.01)  # the no-KD student is consistent
    assert surrogate_accuracy(SPEC, delta, 100, 0.0) < surrogate_accuracy(SPEC, delta, 800, 0.0) < no_kd_limit
    assert kd_lambda(KDSettings(rho=0.5)) == 1.0 and kd_lambda(KDSettings(weighting="authors_code")) == 0.5
    with pytest.raises(ConfigError, match="rho > 0"):
        kd_lambda(KDSettings(rho=0.0))
    with pytest.raises(ConfigError, match="zero"):
        surrogate_model(SPEC, delta, torch.zeros(SPEC.d1))


def test_surrogate_predicts_least_squares_students():
    """The surrogate's accuracy is that of least-squares students on the mixed target (MC over draws)."""
    n, runs, lam = 200, 100, 1.0
    delta, x_a, x_b, y = _draw(n, runs, seed=3)
    oracle = torch.zeros(SPEC.d1, dtype=torch.float64)
    oracle[list(SPEC.J1)] = delta[list(SPEC.J1)].double()
    u = x_a @ oracle
    c = float(surrogate_model(SPEC, delta).cov[-1, -1] / (oracle**2).sum()) ** 0.5  # Var(t) = c^2 |v|^2
    for weight in (0.0, lam):
        target = (y + weight * c * u) / (1 + weight)
        w = torch.linalg.solve(x_b.mT @ x_b, (x_b.mT @ target[..., None]))[..., 0]
        signal = torch.zeros(SPEC.d2, dtype=torch.float64)
        signal[list(SPEC.J2)] = delta[list(SPEC.J2)].double()
        r = (w @ signal) / (w.norm(dim=-1) * delta.norm())
        measured = float((1 - torch.arccos(r) / np.pi).mean() * 100)
        assert surrogate_accuracy(SPEC, delta, n, weight) == pytest.approx(measured, abs=0.6)


def test_gain_table_and_phase_diagram(tmp_path, monkeypatch):
    monkeypatch.setenv("MFH_CACHE_DIR", str(tmp_path))
    specs = [spec_from_sizes(5, 8, 6, 3, 3, k) for k in (1, 3)]
    settings = KDSettings(num_train=40, num_test=50, num_epochs=20, score="population")
    table = gain_table(run_kd(specs, [0, 1], settings))
    assert len(table) == 4 and {"gain", "pred_gain", "bayes", "n_over_d2", "d1_over_d2"} <= set(table.columns)
    np.testing.assert_allclose(table["gain"], table["kd"] - table["no_kd"], atol=1e-5)
    phase = gain_phase_diagram(specs, [0, 1], settings, [20, 40])
    assert sorted(phase["n"].unique()) == [20, 40] and len(phase) == 8
    np.testing.assert_allclose(phase[phase["n"] == 40]["gain"].to_numpy(), table["gain"].to_numpy())
    with pytest.raises(ConfigError, match="training-set size"):
        gain_phase_diagram(specs, [0], settings, [])


def test_theorem1_settings_validate_and_the_study_runs():
    with pytest.raises(ConfigError, match="reference_draws"):
        theory.Theorem1Settings.from_config({"n": 50, "dim": 3, "num_shared": [0, 3], "seeds": 2, "delta": 0.1,
                                             "flow_time": 4, "step": 0.5, "convergence_steps": [0.5]})
    with pytest.raises(ConfigError, match="n > dim"):
        theory.Theorem1Settings(n=5, dim=5)
    settings = theory.Theorem1Settings(n=30, dim=3, num_shared=(0, 1), seeds=2, reference_draws=5, flow_time=20,
                                       step=0.5, convergence_steps=(0.5, 0.25))
    study = theory.theorem1_study(settings, use_cache=False)
    assert study["risks"].shape == (21, 2, 2) and set(study["trajectories"]) == {0.5, 0.25}
    assert bool((study["chain"]["risk_final"] <= study["chain"]["theorem_bound"]).all())  # gamma < 1: a huge bound
