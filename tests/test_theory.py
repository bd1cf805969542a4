"""MFH Theorem 1 and its lemmas (mfh_lib.theory): golden values by independent numerics, limits,
monotonicity, Lemma 2 on random matrices, and the gradient-flow integrator."""
import numpy as np
import pytest
import torch
from scipy import optimize

torch.set_num_threads(2)

from mfh_lib import theory
from mfh_lib.config import ConfigError


def eq7_numpy(b, a):
    """l(b, a) exactly as printed in eq. (7), with log-sigmoids (independent of the library)."""
    log_sig = lambda x: -np.logaddexp(0, -x)
    sig_a = 1 / (1 + np.exp(-a))
    return (-sig_a * (log_sig(b) - log_sig(a))
            - (1 - sig_a) * (log_sig(-b) - log_sig(-a)))


def brute_force_lemma1_max(eps):
    """max over a of l(a +- eps, a) by a dense grid refined with a bounded scalar optimiser."""
    grid = np.linspace(-40, 40, 80001)
    best = -np.inf
    for sign in (1, -1):
        values = eq7_numpy(grid + sign * eps, grid)
        a0 = grid[np.argmax(values)]
        res = optimize.minimize_scalar(lambda a: -eq7_numpy(a + sign * eps, a), bounds=(a0 - 0.01, a0 + 0.01),
                                       method="bounded", options={"xatol": 1e-12})
        best = max(best, -res.fun, values.max())
    return best


def test_logit_kl_matches_eq7():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 5, 1000), rng.normal(0, 5, 1000)
    ours = theory.logit_kl(torch.tensor(b), torch.tensor(a)).numpy()
    np.testing.assert_allclose(ours, eq7_numpy(b, a), rtol=1e-9, atol=1e-12)
    assert (ours >= 0).all()


@pytest.mark.parametrize("eps", [0.05, 0.5, 1.0, 3.0, 10.0, 25.0])
def test_lemma1_closed_form_is_the_numerical_max(eps):
    closed = float(theory.kl_envelope(eps))
    assert closed == pytest.approx(brute_force_lemma1_max(eps), rel=1e-8, abs=1e-12)


@pytest.mark.parametrize("eps", [0.05, 1.0, 5.0])
def test_lemma1_argmax_attains_the_max(eps):
    a_star = float(theory.lemma1_argmax(eps))
    assert eq7_numpy(a_star + eps, a_star) == pytest.approx(float(theory.kl_envelope(eps)), rel=1e-9)
    # the minus branch attains the same value at the mirrored point (the paper's last remark)
    assert eq7_numpy(-a_star - eps, -a_star) == pytest.approx(float(theory.kl_envelope(eps)), rel=1e-9)


def test_kl_envelope_limits_and_shape():
    assert float(theory.kl_envelope(0.0)) == 0.0
    assert float(theory.kl_envelope(1e-8)) == pytest.approx(1e-16 / 8, rel=1e-6)
    # continuous across the switch from the series to the closed form at 1e-4
    below, above = theory.kl_envelope(torch.tensor([1e-4 * (1 - 1e-9), 1e-4 * (1 + 1e-9)]))
    assert float(below) == pytest.approx(float(above), rel=1e-6)
    eps = torch.logspace(-6, 12, 400, dtype=torch.float64)
    f = theory.kl_envelope(eps)
    assert (f.diff() > 0).all()  # increasing
    assert (f <= eps**2 / 8 * (1 + 1e-12)).all()  # KL of logits is 1/4-smooth: l <= (b - a)^2 / 8
    assert float(f[-1]) == pytest.approx(1e12 - 1 - np.log(1e12), rel=1e-12)  # large eps: eps - 1 - ln eps
    with pytest.raises(ValueError):
        theory.kl_envelope(-1.0)


def test_corollary1_on_random_vectors():
    gen = torch.Generator().manual_seed(1)
    n, eps = 50, 2.0
    a = 4 * torch.randn(2000, n, generator=gen, dtype=torch.float64)
    direction = torch.randn(2000, n, generator=gen, dtype=torch.float64)
    radius = eps * torch.rand(2000, 1, generator=gen, dtype=torch.float64)
    b = a + radius * direction / direction.norm(dim=1, keepdim=True)
    losses = theory.distillation_risk(b, a)
    assert (losses <= theory.corollary1_bound(n, eps)).all()
    assert (losses <= (b - a).pow(2).sum(1) / 8 + 1e-12).all()


def random_pairs(seed=0):
    """(A, B) = (X^a, X^b) pairs of many shapes, scales and correlations."""
    gen = torch.Generator().manual_seed(seed)
    pairs = []
    for n, d in [(5, 2), (20, 5), (60, 10), (200, 10)]:
        for scale in (0.1, 1.0, 3.0):
            for mix in (0.0, 0.5, 0.95, 1.0):
                a = torch.randn(8, n, d, generator=gen, dtype=torch.float64)
                noise = torch.randn(8, n, d, generator=gen, dtype=torch.float64)
                b = mix * a + (1 - mix**2) ** 0.5 * noise
                pairs.append((scale * a, scale * b))
    return pairs


def test_gram_gap_and_lambda_against_dense_numpy():
    for a, b in random_pairs()[:36:5]:  # n <= 60: dense n x n norms stay cheap
        dense = np.linalg.norm(a.numpy() @ np.swapaxes(a.numpy(), 1, 2) - b.numpy() @ np.swapaxes(b.numpy(), 1, 2), ord=2, axis=(1, 2))
        np.testing.assert_allclose(theory.gram_difference_norm(a, b).numpy(), dense, rtol=1e-8, atol=1e-10)
        cov = np.swapaxes(a.numpy(), 1, 2) @ a.numpy()
        lam = np.maximum(np.linalg.norm(cov, 2, axis=(1, 2)), np.linalg.norm(np.linalg.inv(cov), 2, axis=(1, 2)))
        np.testing.assert_allclose(theory.data_lambda(a).numpy(), lam, rtol=1e-8)
    assert float(theory.gram_difference_norm(a, a).max()) == 0.0
    with pytest.raises(ConfigError, match="d_a = d_b"):
        theory.gram_difference_norm(torch.zeros(3, 2), torch.zeros(3, 1))


def test_lemma2_on_random_matrices():
    for a, b in random_pairs():
        lhs = theory.lemma2_lhs(a, b)
        gap = theory.gram_difference_norm(a, b)
        lam = torch.maximum(theory.data_lambda(a), theory.data_lambda(b))
        assert (lhs <= theory.lemma2_rhs(lam, gap) * (1 + 1e-9) + 1e-9).all()
        assert (lhs <= theory.lemma2_sharp_rhs(a, gap) * (1 + 1e-9) + 1e-9).all()
        if a.shape[1] > 60:
            continue
        # eq. (14): (P A^T - A^T) A A^T = (P - I)(A^T A - B^T B) A^T, in sample-major form
        p = b @ torch.linalg.solve(b.mT @ b, b.mT)
        left = -theory.projection_residual(a, b) @ (a.mT @ a)
        right = (p - torch.eye(a.shape[1], dtype=a.dtype)) @ (a @ a.mT - b @ b.mT) @ a
        torch.testing.assert_close(left, right, rtol=1e-7, atol=1e-9 * a.shape[1] * float(a.abs().max()) ** 3)


def test_proof_student_is_eq20():
    a, b = random_pairs()[20]
    theta_t = torch.randn(a.shape[0], a.shape[2], dtype=torch.float64)
    expected = torch.linalg.solve(b.mT @ b, b.mT @ a @ theta_t[..., None])[..., 0]
    torch.testing.assert_close(theory.proof_student(a, b, theta_t), expected)


def test_bound_decreases_in_gamma_and_vanishes_at_one():
    gammas = torch.linspace(0, 1, 21)
    for lam, eps in [(1.0, 0.1), (1.5, 2.0), (300.0, 300.0)]:
        bounds = torch.stack([theory.theorem1_bound(200, theory.eps_star(lam, float(g), eps)) for g in gammas])
        assert (bounds.diff() < 0).all()
        assert float(bounds[-1]) == 0.0
    assert float(theory.eps_star(2.0, 0.5, 3.0)) == pytest.approx(2**1.5 * 5 * 0.5 * 3)
    with pytest.raises(ConfigError):
        theory.eps_star(2.0, 1.5, 3.0)


def test_estimate_eps_meets_the_share_and_handles_gamma_one():
    gaps = torch.arange(1.0, 101.0)
    eps = theory.estimate_eps(gaps, 0.5, 0.1)
    assert ((gaps <= 0.5 * eps).double().mean()) >= 0.9
    assert theory.estimate_eps(torch.zeros(10), 1.0, 0.05) == 0.0
    with pytest.raises(ConfigError):
        theory.estimate_eps(gaps, 1.0, 0.05)
    with pytest.raises(ConfigError):
        theory.estimate_eps(gaps, 0.5, 1.5)


def test_theorem1_spec_has_equal_blocks():
    for dim, shared in [(10, 0), (10, 4), (10, 10), (3, 1)]:
        spec = theory.theorem1_spec(dim, shared)
        assert len(spec.J1) == len(spec.J2) == dim
        assert spec.gamma == pytest.approx(shared / (2 * dim - shared))
    with pytest.raises(ConfigError):
        theory.theorem1_spec(5, 6)


def test_gradient_flow_reaches_the_minimum_consistently():
    gen = torch.Generator().manual_seed(3)
    features = torch.randn(4, 40, 3, generator=gen, dtype=torch.float64)
    teacher = 2 * torch.randn(4, 40, generator=gen, dtype=torch.float64)
    theta, times, risks = theory.gradient_flow(features, teacher, flow_time=200, step=0.5)
    _, risk_min = theory.newton_minimum(features, teacher, theta)
    torch.testing.assert_close(risks[-1], risk_min, rtol=0, atol=1e-9)
    assert (risks.diff(dim=0) <= 1e-12).all()  # the flow only descends
    # Euler is first order: halving the step halves the distance to the h -> 0 trajectory
    paths = [theory.gradient_flow(features, teacher, flow_time=5, step=h, num_records=6)[2] for h in (0.5, 0.25, 0.125)]
    err_coarse, err_fine = (paths[0] - paths[2]).abs().max(), (paths[1] - paths[2]).abs().max()
    assert 2.5 < float(err_coarse / err_fine) < 3.5  # (h - h/4) / (h/2 - h/4) = 3 for a first-order method
    with pytest.raises(ConfigError, match="multiple of step"):
        theory.gradient_flow(features, teacher, flow_time=5, step=0.3, num_records=6)


def test_chain_is_ordered_on_mvd_runs():
    data = theory.theorem1_data(n=40, dim=4, num_shared=[0, 2, 4], num_runs=3, num_reference_draws=40, seed=0)
    theta, _, risks = theory.gradient_flow(data.features_b, data.teacher_logits, flow_time=60, step=0.5)
    chain = theory.theorem1_chain(data, risks[-1], delta=0.05)
    order = ["risk_final", "risk_proof", "cor1", "lemma2_direct", "per_run_bound"]
    for lower, upper in zip(order, order[1:]):
        assert (chain[lower] <= chain[upper] * (1 + 1e-9) + 1e-9).all(), (lower, upper)
    held = chain["conditions_hold"]
    assert (chain["risk_final"][held] <= chain["theorem_bound"][held] + 1e-9).all()
    assert (chain["risk_final"] <= chain["risk_zero"] + 1e-12).all()
    assert float(chain["theorem_bound"][-1].max()) == 0.0  # gamma = 1: student = teacher
    with pytest.raises(ConfigError, match="n > d"):
        theory.theorem1_data(n=4, dim=4, num_shared=[0], num_runs=1, num_reference_draws=1)
