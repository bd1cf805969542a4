"""The linear Gaussian KD model (exact risk vs Monte Carlo, the slope at 0) and the criteria."""
import math

import pytest
import torch

from mfh_lib import cch
from mfh_lib.config import ConfigError
from mfh_lib.data.gaussian_mvd import MVDSpec, sample_mvd


def overlap_model(q, sigma, d=8, teacher_scale=1.0):
    return cch.overlap_model(q, sigma, d, teacher_scale)


def test_exact_risk_matches_monte_carlo():
    model = overlap_model(0.5, 1.0)
    lams = torch.tensor([0.0, 0.1, 0.5, 2.0])
    risks = model.monte_carlo_risk(lams, n=30, num_draws=(2, 3000), generator=torch.Generator().manual_seed(0))
    flat = risks.reshape(-1, len(lams))
    stderr = flat.std(0) / math.sqrt(flat.shape[0])
    assert torch.all((flat.mean(0) - model.risk(lams, 30)).abs() < 4 * stderr)


def test_population_slope_is_zero_and_finite_sample_slope_is_exact():
    model = overlap_model(0.3, 0.5)
    assert float(model.slope_at_zero()) == 0.0
    lams = torch.linspace(0, 1, 11)
    assert torch.all(model.risk(lams) >= model.risk(0.0) - 1e-12)  # population: KD never helps
    h = 1e-6
    numeric = (model.risk(h, 20) - model.risk(0.0, 20)) / h
    assert float(numeric) == pytest.approx(float(model.slope_at_zero(20)), rel=1e-4)
    assert math.copysign(1, float(model.slope_at_zero(20))) == -math.copysign(1, float(model.error_covariance()))
    with pytest.raises(ConfigError, match="n > d"):
        model.risk(0.1, n=8)


def test_cch_is_sufficient_for_calibrated_teachers_but_not_scale_free():
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        L = 6
        model = cch.LinearGaussianKD.from_linear_map(torch.randn(3, L, generator=g), torch.randn(L, generator=g),
                                                     torch.randn(2, L, generator=g))
        if model.cch_gap() > 0:
            assert model.error_covariance() > 0
    # a teacher scaled by 5 (over-confident) keeps every MI but its errors can anti-correlate with the student's
    calibrated, scaled = overlap_model(0.9, 1.0), overlap_model(0.9, 1.0, teacher_scale=5.0)
    assert float(scaled.cch_gap()) == pytest.approx(float(calibrated.cch_gap()))
    assert calibrated.cch_gap() > 0 and calibrated.error_covariance() > 0
    assert scaled.error_covariance() < 0


def test_mvd_criteria_population_and_from_features():
    spec = MVDSpec(d1=12, d2=12, d=10, J1=tuple(range(2, 10)), J2=tuple(range(0, 6)))
    g = torch.Generator().manual_seed(1)
    delta = torch.randn(1, spec.d, generator=g)
    oracle = torch.zeros(spec.d1)
    oracle[list(spec.J1)] = delta[0, list(spec.J1)]
    pop = cch.mvd_population_criteria(spec, delta[0], oracle)
    shared = list(spec.shared_columns)
    expected_share = (delta[0, shared] ** 2).sum() / (delta[0, list(spec.J1)] ** 2).sum()
    assert float(pop["mfh_shared"]) == pytest.approx(float(expected_share))
    x_a, x_b, y = sample_mvd(spec, 4000, delta, g)
    teacher_logits = torch.stack([torch.zeros(4000), x_a[0] @ oracle.float()], -1)
    est = cch.criteria_from_features(teacher_logits, x_b[0], y[0])
    for key in ("i_student_label", "mfh_shared", "i_teacher_student"):
        assert float(est[key]) == pytest.approx(float(pop[key]), abs=0.04), key
    with pytest.raises(ConfigError, match="leading"):
        cch.criteria_from_features(teacher_logits[:10], x_b[0], y[0])


def test_criteria_ksg_path_and_multiclass_labels():
    spec = MVDSpec(d1=8, d2=8, d=6, J1=tuple(range(0, 6)), J2=tuple(range(0, 4)))
    g = torch.Generator().manual_seed(2)
    delta = torch.randn(2, spec.d, generator=g)
    x_a, x_b, y = sample_mvd(spec, 800, delta, g)
    oracle = torch.zeros(2, spec.d1)
    oracle[:, list(spec.J1)] = delta[:, list(spec.J1)]
    scores = torch.einsum("snd,sd->sn", x_a, oracle)[..., None]
    pop = cch.mvd_population_criteria(spec, delta[0], oracle[0])
    est = cch.criteria_from_features(scores, x_b, y, estimator="ksg")
    assert est["cch_gap"].shape == (2,)
    assert float(est["i_student_label"][0]) == pytest.approx(float(pop["i_student_label"]), abs=0.08)
    # three classes: multinomial probe and the k-NN label estimator
    y3 = torch.bucketize(torch.einsum("snd,sd->sn", x_a, oracle), torch.tensor([-0.5, 0.5]))
    est3 = cch.criteria_from_features(torch.randn(2, 800, 3, generator=g), x_b, y3, num_classes=3)
    assert all(torch.isfinite(v).all() for v in est3.values())
    assert float(est3["i_teacher_label"].max()) < 0.05  # random teacher logits carry no label information
