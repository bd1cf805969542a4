"""Pins of the Gaussian modality Venn diagram (mfh_lib.data.gaussian_mvd), the batched KD runner
(mfh_lib.gaussian_kd) and Theorem 1's closed forms (mfh_lib.theory) against hand values, Monte
Carlo and plain autograd references (issue #20)."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from mfh_lib import gaussian_kd as gk
from mfh_lib import theory
from mfh_lib.config import ConfigError
from mfh_lib.data import gaussian_mvd as mvd
from mfh_lib.losses import kd_loss


# ============================================================================ the MVD generator

def test_spec_ratios_by_hand():
    spec = mvd.MVDSpec(8, 9, 7, (0, 1, 2, 5), (2, 3, 5))
    assert spec.union == 5 and spec.overlap == 2
    assert spec.gamma == pytest.approx(2 / 5)
    assert spec.alpha == pytest.approx(1 - 3 / 5) and spec.beta == pytest.approx(1 - 4 / 5)
    assert spec.shared_columns == (2, 5)
    only_b = mvd.MVDSpec(8, 9, 7, (), (3,))
    assert only_b.gamma == 0 and only_b.alpha == 0 and only_b.beta == 1


def test_spec_index_bounds_are_exact():
    mvd.MVDSpec(4, 6, 5, (3,), (4,))  # largest allowed: min(d, d1) - 1 and min(d, d2) - 1
    for bad in [dict(J1=(4,), J2=(0,)), dict(J1=(0,), J2=(5,)), dict(J1=(-1,), J2=(0,)), dict(J1=(), J2=())]:
        with pytest.raises(ConfigError):
            mvd.MVDSpec(4, 6, 5, **bad)
    for dims in [(0, 6, 5), (4, 0, 5), (4, 6, 0)]:
        with pytest.raises(ConfigError):
            mvd.MVDSpec(*dims, (0,), (0,))
    mvd.MVDSpec(1, 1, 1, (0,), ())  # one decisive feature, seen by a only


def test_spec_constructors_lay_out_shared_then_a_then_b():
    spec = mvd.spec_from_counts(20, 21, 12, 3, 2, 4)
    assert spec.J1 == (0, 1, 2, 3, 4, 5, 6) and spec.J2 == (0, 1, 2, 3, 7, 8)
    assert (spec.d1, spec.d2, spec.d) == (20, 21, 12)
    with pytest.raises(ConfigError):
        mvd.spec_from_counts(20, 20, 20, -1, 0, 2)
    with pytest.raises(ConfigError):
        mvd.spec_from_counts(20, 20, 20, 0, -1, 2)
    with pytest.raises(ConfigError):
        mvd.spec_from_counts(20, 20, 20, 1, 0, -2)
    g = mvd.spec_for_gamma(0.3, 10, 30, 40)
    assert g.J1 == tuple(range(7)) and g.J2 == (0, 1, 2, 7, 8, 9) and g.d == 10
    assert mvd.spec_for_gamma(0.3, 10, 30, 40, d=25).d == 25
    assert mvd.spec_for_gamma(1.0, 6, 10, 10).J1 == mvd.spec_for_gamma(1.0, 6, 10, 10).J2 == tuple(range(6))
    s = mvd.spec_from_sizes(30, 30, 20, 6, 4, 3)
    assert (len(s.J1), len(s.J2), s.overlap) == (6, 4, 3)
    mvd.spec_from_sizes(30, 30, 20, 6, 4, 4)  # overlap = min(|J1|, |J2|) is allowed
    assert mvd.spec_from_sizes(30, 30, 20, 6, 4, 0).overlap == 0  # and no overlap at all
    for overlap in (-1, 5):
        with pytest.raises(ConfigError):
            mvd.spec_from_sizes(30, 30, 20, 6, 4, overlap)


def test_samples_follow_eq27_exactly_and_in_distribution():
    spec = mvd.MVDSpec(6, 6, 6, (0, 1, 2, 3), (2, 3, 4, 5))  # J1 ∪ J2 = all of x*
    gen = torch.Generator().manual_seed(0)
    delta = mvd.draw_hyperplane(6, 2, gen)
    assert delta.shape == (2, 6)
    x_a, x_b, y = mvd.sample_mvd(spec, 4000, delta, gen)
    assert y.dtype == torch.int64
    x_star = torch.cat([x_a[..., :4], x_b[..., 4:6]], dim=-1)
    assert torch.equal(x_a[..., 2:4], x_b[..., 2:4])  # modality-general: the same draw of x*
    assert not torch.equal(x_a[..., :2], x_b[..., :2])  # a's own decisive features are not b's
    assert torch.equal(y, (torch.einsum("snd,sd->sn", x_star, delta) > 0).long())
    # non-decisive columns are fresh noise: x_a[:, 4:] carries nothing about y
    assert x_a[..., 4:].mean().abs() < 0.05 and (x_a[..., 4:].std() - 1).abs() < 0.05
    corr = np.corrcoef(x_a[0, :, 4].numpy(), x_star[0, :, 4].numpy())[0, 1]
    assert abs(corr) < 0.06
    # the Bayes rule on x^a's decisive block agrees with y with probability 1 - arccos(rho) / pi,
    # rho = ||delta_J1|| / ||delta|| (two correlated standard normals keep their sign)
    for s in range(2):
        d = delta[s]
        rho = (d[:4].norm() / d.norm()).item()
        agree = ((x_a[s, :, :4] @ d[:4] > 0).long() == y[s]).float().mean().item()
        assert agree == pytest.approx(1 - math.acos(rho) / math.pi, abs=0.025)
    big = mvd.draw_hyperplane(50, 400, torch.Generator().manual_seed(1))
    assert big.mean().abs() < 0.02 and (big.std() - 1).abs() < 0.02


def test_sample_mvd_checks_delta_shape():
    spec = mvd.MVDSpec(6, 5, 6, (0,), (1,))
    for bad in (torch.zeros(6), torch.zeros(2, 5), torch.zeros(1, 2, 6)):
        with pytest.raises(ConfigError):
            mvd.sample_mvd(spec, 3, bad, torch.Generator())


# ============================================================================ the batched KD runner

def test_settings_validation_boundaries():
    gk.KDSettings(rho=0.0), gk.KDSettings(rho=1.0), gk.KDSettings(num_train=1, num_test=1, num_epochs=1)
    for bad in [dict(lr=0.0), dict(lr=-1.0), dict(temperature=-1.0), dict(num_train=0), dict(num_test=0),
                dict(num_epochs=0), dict(hyperplane="zeros"), dict(teacher_input="none"), dict(student_data="other"),
                dict(rho=-0.1)]:
        with pytest.raises(ConfigError):
            gk.KDSettings(**bad)
    assert gk.KDSettings().kd_weights() == (0.5, 0.5)
    assert gk.KDSettings(rho=0.2).kd_weights() == (0.2, pytest.approx(0.8))


def test_streams_hyperplanes_and_run_data():
    a = torch.rand(3, generator=gk._generator(5, "train"))
    assert torch.equal(a, torch.rand(3, generator=gk._generator(5, "train")))
    assert not torch.equal(a, torch.rand(3, generator=gk._generator(5, "test")))
    assert not torch.equal(a, torch.rand(3, generator=gk._generator(6, "train")))
    small, large = mvd.spec_for_gamma(0.5, 10, 20, 20), mvd.spec_for_gamma(0.5, 20, 30, 30)
    d_small = gk._hyperplane(small, 3, "normal")
    d_large = gk._hyperplane(large, 3, "normal")
    assert d_small.shape == (1, 10) and torch.equal(d_small[0], d_large[0, :10])  # a shared prefix
    assert torch.equal(gk._hyperplane(small, 3, "ones"), torch.ones(1, 10))
    settings = gk.KDSettings(num_train=30, num_test=20)
    same = gk.draw_run_data(small, 3, settings)
    assert same["x_a_train"].shape == (30, 20) and same["x_b_test"].shape == (20, 20) and same["y_test"].shape == (20,)
    assert torch.equal(same["delta"], d_small[0])
    assert same["x_b_student"] is same["x_b_train"] and same["y_student"] is same["y_train"]
    fresh = gk.draw_run_data(small, 3, gk.KDSettings(num_train=30, num_test=20, student_data="fresh"))
    assert torch.equal(fresh["x_a_train"], same["x_a_train"]) and not torch.equal(fresh["x_b_student"], same["x_b_train"])
    assert fresh["x_b_student"].shape == (30, 20)
    y = (torch.einsum("nd,d->n", torch.cat([fresh["x_a_student"][:, :8], fresh["x_b_student"][:, 8:10]], 1),
                      fresh["delta"]) > 0).long()
    assert torch.equal(y, fresh["y_student"])  # the fresh draw's labels come from its own x*
    ones = gk.draw_run_data(small, 3, gk.KDSettings(num_train=5, num_test=5, hyperplane="ones"))
    assert torch.equal(ones["delta"], torch.ones(10))


def test_linear_init_padding_and_logits():
    mask = torch.tensor([True, False, True, True, False])
    w, b = gk._linear_init(mask, torch.Generator().manual_seed(0))
    assert w.shape == (2, 5) and b.shape == (2,)
    assert (w[:, ~mask] == 0).all() and (w[:, mask].abs() <= 1 / math.sqrt(3)).all()
    assert (b.abs() <= 1 / math.sqrt(3)).all()
    many = torch.stack([gk._linear_init(torch.ones(4, dtype=torch.bool), torch.Generator().manual_seed(s))[0]
                        for s in range(300)])
    assert many.max() > 0.45 and many.min() < -0.45 and many.mean().abs() < 0.03  # uniform on (-1/2, 1/2)
    assert gk._pad_columns(torch.ones(2, 3), 5).tolist() == [[1, 1, 1, 0, 0]] * 2
    x = torch.tensor([[[1.0, 2.0], [0.0, -1.0]]])
    weight = torch.tensor([[[1.0, 0.0], [2.0, 3.0]]])
    bias = torch.tensor([[0.5, -1.0]])
    assert gk.batched_logits(x, weight, bias).tolist() == [[[1.5, 7.0], [0.5, -4.0]]]


def test_cpu_threads_restores_the_thread_count():
    before = torch.get_num_threads()
    with gk.cpu_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with gk.cpu_threads(None):
        assert torch.get_num_threads() == before


@pytest.mark.parametrize("ce_weight,kd_weight,temperature", [(1.0, 0.0, 1.0), (0.3, 0.7, 2.0), (1.0, 0.5, 0.5)])
def test_closed_form_gradient_descent_equals_autograd_sgd(ce_weight, kd_weight, temperature):
    gen = torch.Generator().manual_seed(0)
    R, n, D = 2, 16, 3
    x = torch.randn(R, n, D, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 2, (R, n), generator=gen)
    w0 = torch.randn(R, 2, D, generator=gen, dtype=torch.float64)
    b0 = torch.randn(R, 2, generator=gen, dtype=torch.float64)
    teacher = 2 * torch.randn(R, n, 2, generator=gen, dtype=torch.float64)
    epochs_seen = []
    w, b = gk.train_linear_batched(x, y, w0, b0, num_epochs=7, lr=0.3, ce_weight=ce_weight, kd_weight=kd_weight,
                                   teacher_logits=teacher if kd_weight else None, temperature=temperature,
                                   on_epoch_end=lambda e, *_: epochs_seen.append(e))
    assert epochs_seen == list(range(7))
    for r in range(R):
        model = nn.Linear(D, 2).double()
        with torch.no_grad():
            model.weight.copy_(w0[r]), model.bias.copy_(b0[r])
        opt = torch.optim.SGD(model.parameters(), lr=0.3)
        total = ce_weight + kd_weight
        for _ in range(7):
            loss = total * kd_loss(model(x[r]), teacher[r], y[r], rho=ce_weight / total, temperature=temperature)
            opt.zero_grad()
            loss.backward()
            opt.step()
        torch.testing.assert_close(w[r], model.weight.detach(), rtol=1e-9, atol=1e-10)
        torch.testing.assert_close(b[r], model.bias.detach(), rtol=1e-9, atol=1e-10)
    with pytest.raises(ValueError):
        gk.train_linear_batched(x, y, w0, b0, num_epochs=1, lr=0.1, kd_weight=0.5)
    with pytest.raises(ValueError):
        gk.train_linear_batched(x, y, torch.zeros(R, 3, D), torch.zeros(R, 3), num_epochs=1, lr=0.1)


def test_run_kd_results_curves_gain_and_summary_values():
    specs = [mvd.spec_from_sizes(8, 8, 6, 4, 4, 2)]
    res = gk.run_kd(specs, [0, 1], gk.KDSettings(num_train=40, num_test=50, num_epochs=6), curve_every=3)
    assert res.curves["epochs"].tolist() == [3, 6]
    assert torch.equal(res.curves["kd"][-1], res.kd_acc) and torch.equal(res.curves["teacher"][-1], res.teacher_acc)
    assert torch.equal(res.curves["no_kd"][-1], res.no_kd_acc)
    assert torch.equal(res.gain, res.kd_acc - res.no_kd_acc)
    for name, shape in (("teacher_weight", (1, 2, 2, 8)), ("teacher_bias", (1, 2, 2)), ("no_kd_weight", (1, 2, 2, 8)),
                        ("no_kd_bias", (1, 2, 2)), ("kd_weight", (1, 2, 2, 8)), ("kd_bias", (1, 2, 2))):
        assert getattr(res, name).shape == shape, name
    assert not torch.equal(res.no_kd_bias, res.kd_bias)  # the two students start alike and end apart
    logits_acc = (res.kd_logits.argmax(-1) == res.test_y).float().mean(-1) * 100
    torch.testing.assert_close(res.kd_acc, logits_acc)
    row = res.summary().iloc[0]
    assert (row["|J1|"], row["|J2|"], row["overlap"]) == (4, 4, 2)
    assert row["gamma"] == round(2 / 6, 2) and row["alpha"] == round(1 - 4 / 6, 2)
    s = res.teacher_acc[0]
    assert row["teacher"] == f"{s.mean():.2f} ± {s.std():.2f}"
    g = res.gain[0]
    assert row["KD gain"] == f"{g.mean():.2f} ± {g.std():.2f}"
    assert gk.run_kd(specs, [0], gk.KDSettings(num_train=10, num_test=10, num_epochs=2)).curves == {}
    with pytest.raises(ConfigError):
        gk.run_kd([], [0])
    with pytest.raises(ConfigError):
        gk.run_kd(specs, [])


def test_cache_key_names_everything_that_changes_a_result():
    specs = [mvd.spec_from_sizes(8, 8, 6, 4, 4, 2)]
    key = gk.cache_key(specs, [0, 1], gk.KDSettings(rho=0.3))
    assert key["code_version"] == gk.CODE_VERSION and key["seeds"] == [0, 1]
    assert key["settings"]["rho"] == 0.3 and key["specs"][0]["J1"] == specs[0].J1
    assert gk.cache_key(specs, [0, 1], gk.KDSettings(rho=0.4)) != key


def test_cached_runs_equal_fresh_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("MFH_CACHE_DIR", str(tmp_path))
    specs = [mvd.spec_from_sizes(8, 8, 6, 4, 4, 2)]
    settings = gk.KDSettings(num_train=20, num_test=20, num_epochs=3)
    first = gk.run_kd_cached(specs, [0], settings, namespace="pins")
    again = gk.run_kd_cached(specs, [0], settings, namespace="pins")
    fresh = gk.run_kd(specs, [0], settings)
    assert torch.equal(first.kd_logits, fresh.kd_logits) and torch.equal(again.kd_acc, fresh.kd_acc)
    assert any(tmp_path.rglob("*"))


def test_population_accuracy_matches_monte_carlo():
    if not hasattr(gk, "population_accuracy"):
        pytest.skip("no population_accuracy in this version")
    gen = torch.Generator().manual_seed(0)
    D, n = 5, 200_000
    delta = torch.randn(D + 2, generator=gen)  # x* has 2 coordinates no modality sees
    x_star = torch.randn(n, D + 2, generator=gen)
    y = (x_star @ delta > 0).long()
    decisive = [0, 2, 3]  # the modality's columns that are x*'s; columns 1, 4 are independent noise
    x = torch.randn(n, D, generator=gen)
    x[:, decisive] = x_star[:, decisive]
    signal = torch.zeros(D)
    signal[decisive] = delta[decisive]
    weight = torch.randn(3, 2, D, generator=gen)
    bias = torch.tensor([[0.0, 0.0], [0.3, -0.5], [1.0, 0.2]])
    acc = gk.population_accuracy(weight, bias, signal.expand(3, D), delta.norm().expand(3))
    for r in range(3):
        mc = ((x @ weight[r].T + bias[r]).argmax(-1) == y).float().mean().item() * 100
        assert acc[r].item() == pytest.approx(mc, abs=0.4)
    zero = gk.population_accuracy(torch.zeros(1, 2, D), torch.zeros(1, 2), signal[None], delta.norm()[None])
    assert zero.item() == pytest.approx(50.0)


# ============================================================================ Theorem 1

def test_theory_closed_forms_by_hand():
    # f(1) = 1/(1 - e^-1) - 1 - ln(1/(1 - e^-1))
    u = 1 / (1 - math.exp(-1))
    assert float(theory.kl_envelope(1.0)) == pytest.approx(u - 1 - math.log(u), rel=1e-12)
    assert float(theory.kl_envelope(2e-5)) == pytest.approx((2e-5) ** 2 / 8, rel=1e-6)
    assert float(theory.corollary1_bound(7, 1.0)) == pytest.approx(7 * (u - 1 - math.log(u)), rel=1e-12)
    assert float(theory.theorem1_bound(3, 1.0)) == pytest.approx(3 * (u - 1 - math.log(u)), rel=1e-12)
    assert float(theory.lemma2_factor(2.0)) == pytest.approx(2**1.5 * 5)
    assert float(theory.lemma2_rhs(2.0, 0.1)) == pytest.approx(2**1.5 * 5 * 0.1, rel=1e-13)  # in float64
    # lemma1_argmax: t = (e^eps (1 - eps) - 1) / (1 + eps - e^eps), a = -ln t
    eps = 0.7
    t = (math.exp(eps) * (1 - eps) - 1) / (1 + eps - math.exp(eps))
    assert float(theory.lemma1_argmax(eps)) == pytest.approx(-math.log(t), rel=1e-12)
    # l(b, a) = KL(Bernoulli(sigma(a)) || Bernoulli(sigma(b)))
    sig = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    p, q = sig(0.4), sig(-1.1)
    kl = p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))
    assert float(theory.logit_kl(torch.tensor(-1.1, dtype=torch.float64), torch.tensor(0.4, dtype=torch.float64))) \
        == pytest.approx(kl, rel=1e-12)
    assert float(theory.distillation_risk(torch.tensor([-1.1, 0.0], dtype=torch.float64),
                                          torch.tensor([0.4, 0.0], dtype=torch.float64))) == pytest.approx(kl, rel=1e-12)


def test_data_lambda_gram_gap_and_sharp_rhs_by_hand():
    x = torch.tensor([[2.0, 0.0], [0.0, 0.5], [0.0, 0.0]], dtype=torch.float64)  # X^T X = diag(4, 0.25)
    assert float(theory.data_lambda(x)) == pytest.approx(4.0)  # max(4, 1 / 0.25)
    y = torch.tensor([[1.0, 0.0], [0.0, 0.5], [0.0, 0.0]], dtype=torch.float64)
    # Gram gap: X X^T - Y Y^T = diag(3, 0, 0)
    assert float(theory.gram_difference_norm(x, y)) == pytest.approx(3.0)
    assert float(theory.lemma2_sharp_rhs(x, 3.0)) == pytest.approx(3.0 / math.sqrt(0.25))
    assert float(theory.risk_smoothness(x)) == pytest.approx(1.0)
    # projection residual of a on b's span: a = [1, 1] column-wise on b = e1 leaves e2
    a = torch.tensor([[1.0], [1.0], [0.0]], dtype=torch.float64)
    b = torch.tensor([[1.0], [0.0], [0.0]], dtype=torch.float64)
    assert theory.projection_residual(a, b).flatten().tolist() == pytest.approx([0.0, 1.0, 0.0])
    assert float(theory.lemma2_lhs(a, b)) == pytest.approx(1.0)


def test_estimate_eps_uses_the_higher_quantile():
    gaps = torch.tensor([1.0, 2.0, 3.0, 4.0, 10.0])
    assert theory.estimate_eps(gaps, 0.5, 0.3) == pytest.approx(4.0 / 0.5)  # 0.7 quantile, 'higher' -> 4
    assert theory.estimate_eps(gaps, 0.0, 0.0) == pytest.approx(10.0)
    assert float(theory.eps_star(2.0, 0.25, 3.0)) == pytest.approx(2**1.5 * 5 * 0.75 * 3.0)


def test_newton_minimum_is_a_stationary_point_and_proof_student_is_least_squares():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(30, 3, generator=gen, dtype=torch.float64)
    t = torch.randn(30, generator=gen, dtype=torch.float64)
    theta, risk = theory.newton_minimum(x, t, torch.zeros(3, dtype=torch.float64))
    grad = x.T @ (torch.sigmoid(x @ theta) - torch.sigmoid(t))
    assert grad.abs().max() < 1e-10
    assert float(risk) == pytest.approx(float(theory.distillation_risk(x @ theta, t)))
    theta_t = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    a = torch.randn(30, 3, generator=gen, dtype=torch.float64)
    expected = np.linalg.lstsq(x.numpy(), (a @ theta_t).numpy(), rcond=None)[0]
    assert theory.proof_student(a, x, theta_t).numpy() == pytest.approx(expected)


def test_gradient_flow_records_and_starts_where_told():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 20, 3, generator=gen, dtype=torch.float64)
    t = torch.randn(2, 20, generator=gen, dtype=torch.float64)
    theta, times, risks = theory.gradient_flow(x, t, flow_time=4.0, step=0.5, num_records=5)
    assert times.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0] and times.dtype == torch.float64 and risks.shape == (5, 2)
    assert torch.allclose(risks[0], theory.distillation_risk(torch.zeros(2, 20, dtype=torch.float64), t))
    # one explicit Euler step of size step / L from theta0, by hand
    theta0 = torch.tensor([[0.1, 0.2, -0.3], [0.0, 1.0, 0.0]], dtype=torch.float64)
    one, _, _ = theory.gradient_flow(x, t, flow_time=0.5, step=0.5, num_records=2, theta0=theta0)
    lip = torch.linalg.eigvalsh(x.mT @ x)[..., -1] / 4
    grad = (x * (torch.sigmoid((x * theta0[:, None]).sum(-1)) - torch.sigmoid(t))[..., None]).sum(-2)
    torch.testing.assert_close(one, theta0 - (0.5 / lip)[:, None] * grad)
    assert torch.equal(theta0, torch.tensor([[0.1, 0.2, -0.3], [0.0, 1.0, 0.0]], dtype=torch.float64))  # not in place
    _, _, r_fine = theory.gradient_flow(x, t, flow_time=4.0, step=0.25, num_records=5)
    assert r_fine.shape == (5, 2)


def test_decisive_features_and_oracle_teacher():
    spec = theory.theorem1_spec(4, 2)
    assert spec.J1 == (0, 1, 2, 3) and spec.J2 == (0, 1, 4, 5) and spec.d1 == spec.d2 == spec.d == 6
    x_a, x_b = torch.arange(12.0).reshape(2, 6), -torch.arange(12.0).reshape(2, 6)
    fa, fb = theory.decisive_features(spec, x_a, x_b)
    assert fa.tolist() == [[0, 1, 2, 3], [6, 7, 8, 9]] and fb.tolist() == [[0, -1, -4, -5], [-6, -7, -10, -11]]
    with pytest.raises(ConfigError):
        theory.decisive_features(mvd.MVDSpec(6, 6, 6, (0, 1), (0,)), x_a, x_b)
    delta = torch.tensor([[3.0, 4.0, 0.0, 0.0, 7.0, 7.0]])
    theta = theory.oracle_teacher(spec, delta)
    assert theta.dtype == torch.float64 and theta.tolist() == [[0.6, 0.8, 0.0, 0.0]]
    with pytest.raises(ConfigError):
        theory.theorem1_spec(3, -1)


def test_theorem1_data_shapes_scale_and_teacher_logits():
    data = theory.theorem1_data(n=12, dim=3, num_shared=[0, 3], num_runs=2, num_reference_draws=4, scale=2.0, seed=1)
    assert data.features_a.shape == (2, 2, 12, 3) and data.n == 12 and data.scale == 2.0
    assert data.gamma.tolist() == [0.0, 1.0]
    assert data.reference_gaps.shape == (2, 4) and data.reference_lambdas.shape == (2, 4)
    assert torch.equal(data.features_a[1], data.features_b[1])  # gamma = 1: identical blocks
    assert float(data.reference_gaps[1].abs().max()) == 0.0
    torch.testing.assert_close(data.teacher_logits, (data.features_a @ data.theta_teacher[..., None])[..., 0])
    torch.testing.assert_close(data.theta_teacher.norm(dim=-1), torch.ones(2, 2, dtype=torch.float64))
    # features are scale * N(0, 1): their spread is the scale
    assert float(data.features_a.std()) == pytest.approx(2.0, rel=0.25)
    lam = torch.maximum(theory.data_lambda(data.features_a), theory.data_lambda(data.features_b))
    chain = theory.theorem1_chain(data, theory.distillation_risk(torch.zeros_like(data.teacher_logits),
                                                                 data.teacher_logits), delta=0.25)
    torch.testing.assert_close(chain["lam_run"], lam)
    assert float(chain["lam_hat"]) == pytest.approx(float(data.reference_lambdas.max()))
    assert chain["eps_hat"][1].item() == 0.0 and chain["eps_star_hat"][1].item() == 0.0
    eps0 = theory.estimate_eps(data.reference_gaps[0], 0.0, 0.25)
    assert chain["eps_hat"][0].item() == pytest.approx(eps0)
    lam_hat = float(chain["lam_hat"])
    assert chain["eps_star_hat"][0].item() == pytest.approx(lam_hat**1.5 * (lam_hat**2 + 1) * eps0)
    assert chain["sharp_bound"][0, 0].item() == pytest.approx(lam_hat * eps0**2 / 8)
    assert chain["theorem_bound"][0, 1].item() == pytest.approx(float(theory.kl_envelope(chain["eps_star_hat"][0])) * 12)


def test_error_messages_name_the_offending_field():
    with pytest.raises(ConfigError, match="gamma must lie in"):
        theory.eps_star(1.0, 1.5, 1.0)
    with pytest.raises(ConfigError, match="delta must lie in"):
        theory.estimate_eps(torch.ones(3), 0.5, 2.0)
    for dims, field in (((0, 6, 5), "d1"), ((4, 0, 5), "d2"), ((4, 6, 0), "d")):
        with pytest.raises(ConfigError, match=f"^{field} must be a positive integer"):
            mvd.MVDSpec(*dims, (0,), (0,))
    with pytest.raises(ConfigError, match=r"J1 indices \[4\] do not fit.*min\(d=5, d1=4\)"):
        mvd.MVDSpec(4, 6, 5, (4,), (0,))
    with pytest.raises(ConfigError, match=r"J2 indices \[5\] do not fit.*min\(d=5, d2=6\)"):
        mvd.MVDSpec(4, 6, 5, (0,), (5,))
    with pytest.raises(ConfigError, match="J1 indices must be integers"):
        mvd.MVDSpec(4, 6, 5, (1.5,), (0,))
    for kwargs, field in ((dict(only_a=-1, only_b=0, shared=1), "only_a"), (dict(only_a=0, only_b=-1, shared=1), "only_b"),
                          (dict(only_a=0, only_b=0, shared=-1), "shared")):
        with pytest.raises(ConfigError, match=f"^{field} must be >= 0"):
            mvd.spec_from_counts(20, 20, 20, **kwargs)


def test_theorem1_data_is_reproducible_and_the_chain_scales_by_one_minus_gamma():
    kwargs = dict(n=10, dim=3, num_shared=[1], num_runs=1, num_reference_draws=5, seed=2)
    data, again = theory.theorem1_data(**kwargs), theory.theorem1_data(**kwargs)
    assert torch.equal(data.features_a, again.features_a) and torch.equal(data.reference_gaps, again.reference_gaps)
    assert data.gamma.dtype == torch.float64 and data.gamma.tolist() == [pytest.approx(1 / 5)]
    chain = theory.theorem1_chain(data, torch.zeros(1, 1, dtype=torch.float64), delta=0.2)
    lam, eps = float(chain["lam_hat"]), chain["eps_hat"][0].item()
    assert chain["eps_star_hat"][0].item() == pytest.approx(lam**1.5 * (lam**2 + 1) * (1 - 1 / 5) * eps, rel=1e-9)
    assert chain["sharp_bound"][0, 0].item() == pytest.approx(lam * ((1 - 1 / 5) * eps) ** 2 / 8, rel=1e-9)


def test_cached_control_runs_equal_fresh_runs(tmp_path, monkeypatch):
    if not hasattr(gk, "run_kd_controls_cached"):
        pytest.skip("no control runs in this version")
    monkeypatch.setenv("MFH_CACHE_DIR", str(tmp_path))
    specs = [mvd.spec_from_sizes(8, 8, 6, 4, 4, 2)]
    settings = gk.KDSettings(num_train=20, num_test=20, num_epochs=3)
    first = gk.run_kd_controls_cached(specs, [0, 1], settings, namespace="pins")
    fresh = gk.run_kd_controls(specs, [0, 1], settings)
    other = gk.run_kd_controls_cached(specs, [2, 3], settings, namespace="pins")
    assert first.seeds == (0, 1) and other.seeds == (2, 3)
    for name in fresh.student_acc:
        assert torch.equal(first.student_acc[name], fresh.student_acc[name])
    assert torch.equal(first.teacher_confidence, fresh.teacher_confidence)
    assert not torch.equal(other.teacher_acc, first.teacher_acc)
