"""Mutual-information closed forms and estimators against Gaussian ground truth (nats)."""
import math

import pytest
import torch
from scipy import integrate, stats as sps

from mfh_lib import mi
from mfh_lib.config import ConfigError


def correlated_pair(rho, n, batch=(), seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(*batch, n, 2, generator=g, dtype=torch.float64)
    return z[..., 0], rho * z[..., 0] + math.sqrt(1 - rho**2) * z[..., 1]


def test_scalar_and_logdet_closed_forms_agree():
    assert float(mi.gaussian_mi_from_corr(0.6)) == pytest.approx(-0.5 * math.log(0.64))
    cov = torch.tensor([[1.0, 0.6], [0.6, 1.0]])
    assert float(mi.gaussian_mi_from_cov(cov, 1)) == pytest.approx(-0.5 * math.log(0.64))
    # two independent pairs: the vector MI is the sum of the scalar ones
    cov4 = torch.zeros(4, 4)
    cov4[[0, 1, 2, 3], [0, 1, 2, 3]] = 1
    cov4[0, 2] = cov4[2, 0] = 0.6
    cov4[1, 3] = cov4[3, 1] = -0.3
    expected = -0.5 * math.log(0.64) - 0.5 * math.log(0.91)
    assert float(mi.gaussian_mi_from_cov(cov4, 2)) == pytest.approx(expected)
    with pytest.raises(ConfigError, match="dim_x"):
        mi.gaussian_mi_from_cov(cov, 0)


def test_binary_threshold_mi_matches_quadrature():
    for rho, p in [(0.7, 0.5), (0.4, 0.3), (-0.9, 0.8), (0.999, 0.5)]:
        tau = sps.norm.ppf(1 - p)

        def integrand(s):
            q = sps.norm.cdf((rho * s - tau) / math.sqrt(1 - rho**2))
            h = -(q * math.log(q) if q > 0 else 0) - ((1 - q) * math.log(1 - q) if q < 1 else 0)
            return h * sps.norm.pdf(s)

        hp = -(p * math.log(p) + (1 - p) * math.log(1 - p))
        expected = hp - integrate.quad(integrand, -12, 12, limit=200)[0]
        assert float(mi.binary_threshold_mi(rho, p)) == pytest.approx(expected, abs=1e-6)
    assert float(mi.binary_threshold_mi(0.0)) == pytest.approx(0.0, abs=1e-9)
    # rho -> 1: the score determines the label, I -> H(Y) (the conditional entropy is O(sqrt(1 - rho^2)))
    assert float(mi.binary_threshold_mi(0.99999)) == pytest.approx(math.log(2), abs=5e-3)


def test_gaussian_and_latent_probit_estimators_are_consistent():
    x, y = correlated_pair(0.6, 20000)
    assert float(mi.gaussian_mi_estimate(x, y)) == pytest.approx(float(mi.gaussian_mi_from_corr(0.6)), abs=0.01)
    labels = (y > 0.5).long()
    truth = mi.binary_threshold_mi(0.6, 1 - sps.norm.cdf(0.5))
    assert float(mi.latent_probit_mi_estimate(x, labels)) == pytest.approx(float(truth), abs=0.01)
    with pytest.raises(ConfigError, match="binary labels"):
        mi.latent_probit_mi_estimate(x, labels + 1)


def test_ksg_recovers_scalar_and_vector_gaussian_mi():
    x, y = correlated_pair(0.6, 1000, batch=(4,))
    estimates = mi.ksg_mi(x[..., None], y[..., None])
    assert estimates.shape == (4,)
    assert float(estimates.mean()) == pytest.approx(float(mi.gaussian_mi_from_corr(0.6)), abs=0.03)
    independent = mi.ksg_mi(x[..., None], torch.roll(y, 1, dims=0)[..., None])
    assert float(independent.mean()) < 0.03
    # 2-d x and 2-d y: two correlated pairs
    a, b = correlated_pair(0.6, 1000, seed=1)
    c, d = correlated_pair(-0.3, 1000, seed=2)
    truth = -0.5 * math.log(0.64) - 0.5 * math.log(0.91)
    assert float(mi.ksg_mi(torch.stack([a, c], -1), torch.stack([b, d], -1))) == pytest.approx(truth, abs=0.05)
    with pytest.raises(ConfigError, match="k must be"):
        mi.ksg_mi(x[0], y[0], k=0)


def test_ross_estimator_matches_binary_closed_form():
    x, y = correlated_pair(0.8, 1000, batch=(4,), seed=3)
    estimates = mi.ksg_mi_discrete(x[..., None], (y > 0).long())
    assert float(estimates.mean()) == pytest.approx(float(mi.binary_threshold_mi(0.8)), abs=0.03)
    assert float(mi.label_entropy(torch.tensor([0, 1, 0, 1]))) == pytest.approx(math.log(2))
