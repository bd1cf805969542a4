"""The chapter's CCH studies as library functions (issue #11) and the estimator / predictor helpers (issue #14)."""
import numpy as np
import pytest
import torch

from mfh_lib import cch
from mfh_lib.config import ConfigError

TINY = dict(seeds=2, dim=3, n=8, draws_per_seed=4, probe_n=40, sweep_q=(0.0, 0.9), sweep_sigma=(0.5,))


def test_settings_name_what_is_missing_or_unknown():
    with pytest.raises(ConfigError, match="'dim'"):
        cch.LinearStudySettings.from_profile({"seeds": 2, "n": 8})
    with pytest.raises(TypeError, match="bogus"):
        cch.LinearStudySettings(bogus=1, **TINY)
    with pytest.raises(ConfigError, match="n must exceed"):
        cch.LinearStudySettings(**{**TINY, "n": 4})
    profile = {**TINY, "random_models": 10}  # a chapter profile's other keys are ignored
    assert cch.LinearStudySettings.from_profile(profile) == cch.LinearStudySettings(**TINY)


def test_sweep_and_teacher_selection_studies_on_a_tiny_grid():
    settings = cch.LinearStudySettings(**TINY)
    table, gains = cch.overlap_sweep_study(settings, use_cache=False)
    assert len(table) == 2 and gains.shape == (2, 2)
    assert np.isfinite(gains).all()
    # the exact gain agrees with the formula of the model
    model = cch.overlap_model(0.9, 0.5, 3)
    assert table["exact gain"].iloc[1] == pytest.approx(float(model.risk(0.0, 8) - model.risk(0.1, 8)))
    teachers, teacher_gain, estimates = cch.teacher_selection_study(settings, use_cache=False)
    assert len(teachers) == len(cch.CANDIDATE_TEACHERS) and teacher_gain.shape == (2, len(teachers), 2)
    assert set(estimates) == {"gaussian", "ksg"} and estimates["ksg"].shape == (2, len(teachers))


def test_exact_vs_monte_carlo_and_gain_sign():
    models = {"m": cch.overlap_model(0.9, 1.0, 3)}
    table, z = cch.exact_vs_monte_carlo(models, torch.linspace(0, 0.4, 5), [12], 0.1, (3, 200))
    assert list(table["n"]) == [12, "∞"] and len(z) == 1 and z[0] < 5
    assert cch.gain_sign([1.0, 1.1, 0.9]) == 1 and cch.gain_sign([-1.0, 1.0, 0.1]) == 0


def classification_fixture(n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    signal = torch.nn.functional.one_hot(y, 3).double()
    student = torch.cat([signal + torch.randn(n, 3, generator=g, dtype=torch.float64),
                         torch.randn(n, 2, generator=g, dtype=torch.float64)], -1)
    return g, y, signal, student


def test_error_covariance_of_a_copy_of_the_student_and_of_an_oracle():
    g, y, signal, student = classification_fixture()
    # a teacher that repeats the student's view shares its errors (> 0); an oracle (p_T = Y) has no
    # errors to share (0)
    teachers = torch.stack([3 * student[:, :3], 30 * signal])
    cov = cch.error_covariance_from_features(teachers, student, y, num_classes=3)
    assert cov.shape == (2,)
    assert float(cov[0]) > 0.1 and abs(float(cov[1])) < 1e-6


def test_estimator_comparison_broadcasts_the_student_and_keeps_its_keys():
    g, y, signal, student = classification_fixture(150, seed=1)
    teachers = 2 * signal + torch.randn(2, 3, 150, 3, generator=g, dtype=torch.float64)  # (teachers, seeds, N, K)
    out = cch.estimator_comparison(teachers, student, y, num_classes=3, num_draws=2, neural=False)
    assert set(cch.ESTIMATOR_KEYS) - {"ts_infonce"} <= set(out) and "gap_knn" in out
    assert all(v.shape == (2, 3) for v in out.values())
    assert float(out["ts_logdet"].mean()) < float(out["ts_plugin"].mean())  # the plug-in's upward bias is removed
    assert bool((out["sy_ross_corrected"] <= out["label_entropy"] + 0.2).all())
    # the record and full profiles add the neural second opinion: a held-out bound of the same shape
    neural = cch.estimator_comparison(teachers, student, y, num_classes=3, num_draws=2, neural=True)
    assert set(cch.ESTIMATOR_KEYS) <= set(neural) and neural["ts_infonce"].shape == (2, 3)
    assert bool((neural["ts_infonce"] <= torch.log(torch.tensor(75.0)) + 1e-9).all())  # at most log(N/2)


def test_bias_curve_rows():
    curve = cch.estimator_bias_curve(60, 2, [0.0, 0.5], num_draws=3)
    assert len(curve) == 6 and set(curve.columns) >= {"true MI", "estimator", "bias", "bias s.e."}
