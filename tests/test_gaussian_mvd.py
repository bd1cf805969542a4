"""The Gaussian MVD generator (MFH eq. (27)) and the batched KD runner (mfh_lib.gaussian_kd)."""

import numpy as np
import pytest
import torch
from torch import nn

from mfh_lib import config, stats
from mfh_lib.config import ConfigError
from mfh_lib.data.gaussian_mvd import MVDSpec, sample_mvd, spec_for_gamma, spec_from_counts, spec_from_sizes
from mfh_lib.gaussian_kd import KDSettings, _generator, _linear_init, cpu_threads, draw_run_data, run_kd
from mfh_lib.losses import kd_divergence, kd_loss

FIG2 = [spec_from_sizes(25, 50, 20, 10, 10, k) for k in range(0, 11, 2)]


def test_fig2_and_fig3_ratios_match_appendix():
    assert [round(s.gamma, 2) for s in FIG2] == [0, 0.11, 0.25, 0.43, 0.67, 1.0]
    for s in FIG2:
        assert s.alpha == pytest.approx((1 - s.gamma) / 2) and s.beta == pytest.approx(s.alpha)
    fig3 = [spec_from_counts(50, 50, 50, m, 0, 10) for m in range(0, 41, 10)]
    assert [round(s.alpha, 2) for s in fig3] == [0, 0.5, 0.67, 0.75, 0.8]
    assert all(s.beta == 0 and s.gamma == pytest.approx(1 - s.alpha) for s in fig3)


def test_sample_mvd_plants_decisive_features():
    spec = spec_from_sizes(25, 50, 20, 10, 10, 4)
    delta = torch.randn(3, 20, generator=torch.Generator().manual_seed(0))
    x_a, x_b, y = sample_mvd(spec, 500, delta, torch.Generator().manual_seed(1))
    assert x_a.shape == (3, 500, 25) and x_b.shape == (3, 500, 50) and y.shape == (3, 500)
    shared = list(spec.shared_columns)
    assert torch.equal(x_a[..., shared], x_b[..., shared])  # modality-general features are identical
    assert 0.4 < y.float().mean() < 0.6


@pytest.mark.parametrize("make", [
    lambda: spec_for_gamma(1.5, 20, 50, 50),  # gamma outside [0, 1]
    lambda: spec_for_gamma(-0.1, 20, 50, 50),
    lambda: MVDSpec(10, 50, 20, tuple(range(12)), (0,)),  # J1 does not fit d1
    lambda: spec_from_counts(50, 50, 20, 15, 0, 10),  # |J1 ∪ J2| = 25 > d = 20
    lambda: spec_from_sizes(50, 50, 20, 5, 10, 6),  # overlap > |J1|
    lambda: config.load_profile("02_gaussian_mvd", "huge"),  # unknown profile
    lambda: KDSettings(rho=1.2),
    lambda: KDSettings(temperature=0),
    lambda: KDSettings(weighting="hinton"),
    lambda: run_kd([FIG2[0]], [0], KDSettings(teacher_input="shared", num_epochs=1)),  # no shared feature
])
def test_bad_parameters_raise_config_error(make):
    with pytest.raises(ConfigError):
        make()


def test_authors_weighting_is_ce_plus_half_kl():
    """KLDivLoss's default 'mean' over (batch, 2 classes) is half the per-sample KL."""
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(64, 2, generator=g), torch.randn(64, 2, generator=g)
    with pytest.warns(UserWarning):  # torch warns that 'mean' is not the mathematical KL
        authors = nn.KLDivLoss()(torch.log_softmax(s, 1), torch.softmax(t, 1))
    assert authors.item() == pytest.approx(0.5 * kd_divergence(s, t).item(), rel=1e-5)
    assert KDSettings(weighting="authors_code").kd_weights() == (1.0, 0.5)
    assert KDSettings(rho=0.3).kd_weights() == (0.3, 0.7)


def _reference_run(spec, seed, settings):
    """One run the plain way: nn.Linear(d, 2) models, kd_loss, torch.optim.SGD, no padding."""
    data = draw_run_data(spec, seed, settings)
    teacher_cols = list(spec.shared_columns) if settings.teacher_input == "shared" else list(range(spec.d1))

    def fit(x, y, init_stream, in_features, teacher=None, ce_weight=1.0, kd_weight=0.0):
        mask = torch.ones(in_features, dtype=torch.bool)
        weight, bias = _linear_init(mask, _generator(seed, init_stream))
        model = nn.Linear(in_features, 2)
        with torch.no_grad():
            model.weight.copy_(weight), model.bias.copy_(bias)
        opt = torch.optim.SGD(model.parameters(), lr=settings.lr)
        total = ce_weight + kd_weight
        for _ in range(settings.num_epochs):
            loss = total * kd_loss(model(x), teacher, y, rho=ce_weight / total, temperature=settings.temperature)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return model

    teacher = fit(data["x_a_train"][:, teacher_cols], data["y_train"], "teacher_init", len(teacher_cols))
    no_kd = fit(data["x_b_student"], data["y_student"], "student_init", spec.d2)
    with torch.no_grad():
        soft = teacher(data["x_a_student"][:, teacher_cols])
    kd = fit(data["x_b_student"], data["y_student"], "student_init", spec.d2, soft, *settings.kd_weights())
    with torch.no_grad():
        return {"teacher": teacher(data["x_a_test"][:, teacher_cols]), "no_kd": no_kd(data["x_b_test"]),
                "kd": kd(data["x_b_test"]), "teacher_weight": teacher.weight, "kd_weight": kd.weight}


@pytest.mark.parametrize("settings", [
    KDSettings(num_epochs=60, temperature=2.0),
    KDSettings(num_epochs=60, weighting="authors_code", hyperplane="ones", student_data="fresh",
               teacher_input="shared"),
])
def test_batched_runs_equal_one_at_a_time_training(settings):
    """Zero-padding (different d1 per setting, the modality-general teacher's removed columns) and the
    closed-form batched gradient give the same models as training each run alone."""
    specs = [spec_from_sizes(25, 50, 20, 10, 10, 4), spec_from_counts(50, 30, 30, 10, 0, 10)]
    seeds = [3, 7]
    batched = run_kd(specs, seeds, settings)
    for p, spec in enumerate(specs):
        teacher_cols = list(spec.shared_columns) if settings.teacher_input == "shared" else list(range(spec.d1))
        for s, seed in enumerate(seeds):
            with cpu_threads(1):  # tiny kernels: threads only add synchronisation cost
                ref = _reference_run(spec, seed, settings)
            torch.testing.assert_close(batched.teacher_logits[p, s], ref["teacher"], atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(batched.no_kd_logits[p, s], ref["no_kd"], atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(batched.kd_logits[p, s], ref["kd"], atol=1e-4, rtol=1e-4)
            torch.testing.assert_close(batched.teacher_weight[p, s][:, teacher_cols], ref["teacher_weight"],
                                       atol=1e-5, rtol=1e-4)
            padded = torch.ones(batched.teacher_weight.shape[-1], dtype=torch.bool)
            padded[teacher_cols] = False
            assert torch.all(batched.teacher_weight[p, s][:, padded] == 0)  # padded weights never move
            torch.testing.assert_close(batched.kd_weight[p, s][:, : spec.d2], ref["kd_weight"], atol=1e-5, rtol=1e-4)


def test_a_run_does_not_depend_on_its_batch():
    settings = KDSettings(num_epochs=30)
    together = run_kd(FIG2[:3], [0, 1, 2], settings)
    alone = run_kd([FIG2[2]], [1], settings)
    torch.testing.assert_close(together.kd_logits[2, 1], alone.kd_logits[0, 0], atol=1e-5, rtol=1e-5)
    assert together.kd_acc[2, 1] == alone.kd_acc[0, 0]


def test_result_shapes_and_summary():
    settings = KDSettings(num_epochs=20, num_test=100)
    res = run_kd(FIG2[:2], [0, 1, 2], settings, curve_every=10)
    assert res.teacher_acc.shape == (2, 3) and res.gain.shape == (2, 3)
    assert res.teacher_logits.shape == (2, 3, 100, 2) and res.test_y.shape == (2, 3, 100)
    assert res.teacher_weight.shape == (2, 3, 2, 25) and res.kd_weight.shape == (2, 3, 2, 50)
    assert res.curves["teacher"].shape == (2, 2, 3) and res.curves["epochs"].tolist() == [10, 20]
    assert list(res.summary()["gamma"]) == [0.0, 0.11]


def test_gain_grows_with_gamma_fig2():
    """MFH Fig. 2 at reduced scale: KD gain rank-correlates positively with gamma (CI over seeds > 0)."""
    res = run_kd(FIG2, range(4), KDSettings())
    gamma = np.array([s.gamma for s in FIG2])
    rho, (lo, hi) = stats.spearman_over_seeds(gamma, res.gain.T.numpy(), num_resamples=500)
    assert rho > 0.8 and lo > 0
    assert res.gain[-1].mean() > 0 > res.gain[0].mean()


# --- exact population accuracy and the control students ------------------------------------------

def test_population_accuracy_matches_monte_carlo_and_the_arccos_form():
    from mfh_lib.gaussian_kd import population_accuracy

    g = torch.Generator().manual_seed(0)
    spec = spec_from_sizes(25, 50, 20, 10, 10, 6)
    delta = torch.randn(1, spec.d, generator=g)
    weight = torch.randn(4, 2, spec.d2, generator=g)
    bias = torch.tensor([[0.0, 0.0], [0.0, 0.8], [0.3, -0.5], [0.0, 2.5]])
    signal = torch.zeros(4, spec.d2)
    signal[:, list(spec.J2)] = delta[0, list(spec.J2)]
    exact = population_accuracy(weight, bias, signal, delta.norm().repeat(4))
    x_a, x_b, y = sample_mvd(spec, 400_000, delta, g)
    logits = torch.einsum("nd,rkd->rnk", x_b[0], weight) + bias[:, None]
    monte_carlo = (logits.argmax(-1) == y[0]).float().mean(-1) * 100
    torch.testing.assert_close(exact, monte_carlo, atol=0.25, rtol=0)  # 4 MC standard errors
    v = weight[0, 1] - weight[0, 0]
    r = float((v * signal[0]).sum() / (v.norm() * delta.norm()))
    assert float(exact[0]) == pytest.approx(100 * (1 - np.arccos(r) / np.pi), abs=1e-4)
    assert float(population_accuracy(torch.zeros(1, 2, 3), torch.zeros(1, 2), torch.ones(1, 3), torch.ones(1))) == 50


def test_population_score_agrees_with_a_large_test_set():
    specs, seeds = [FIG2[-1]], [0, 1]
    test = run_kd(specs, seeds, KDSettings(num_epochs=40, num_test=100_000))
    population = run_kd(specs, seeds, KDSettings(num_epochs=40, num_test=100_000, score="population"))
    torch.testing.assert_close(population.kd_logits, test.kd_logits)  # same models, only the scoring differs
    torch.testing.assert_close(population.kd_acc, test.kd_acc, atol=0.6, rtol=0)
    torch.testing.assert_close(population.teacher_acc, test.teacher_acc, atol=0.6, rtol=0)


def test_control_students_share_everything_but_their_targets():
    from mfh_lib.gaussian_kd import CONTROL_CONDITIONS, run_kd_controls

    specs, seeds = [FIG2[0], FIG2[-1]], [0, 1, 2]
    settings = KDSettings(num_epochs=60, score="population")
    plain = run_kd(specs, seeds, settings)
    ctrl = run_kd_controls(specs, seeds, settings)
    assert set(ctrl.student_acc) == {"KD", *CONTROL_CONDITIONS}
    # the KD condition is exactly run_kd's KD student; teachers and no-KD students are the same models
    torch.testing.assert_close(ctrl.student_acc["KD"], plain.kd_acc)
    torch.testing.assert_close(ctrl.teacher_acc, plain.teacher_acc)
    torch.testing.assert_close(ctrl.no_kd_acc, plain.no_kd_acc)
    assert ctrl.gain("KD").shape == (2, 3)
    # a teacher on shuffled labels knows nothing about the label: near chance
    assert (ctrl.noise_teacher_acc - 50).abs().max() < 15
    assert ((ctrl.teacher_confidence > 0.5) & (ctrl.teacher_confidence < 1)).all()


def test_label_smoothing_control_matches_the_teacher_confidence():
    """The smoothing targets put exactly the teacher's mean confidence on the true class."""
    from mfh_lib import controls

    spec, settings = FIG2[-1], KDSettings(num_epochs=60, temperature=2.0)
    res = run_kd([spec], [0], settings)
    data = draw_run_data(spec, 0, settings)
    teacher_logits = data["x_a_train"] @ res.teacher_weight[0, 0].T + res.teacher_bias[0, 0]
    confidence = controls.mean_confidence(teacher_logits, settings.temperature)
    targets = controls.smoothing_logits(data["y_train"], 2, confidence, settings.temperature)
    p = torch.softmax(targets / settings.temperature, -1)
    torch.testing.assert_close(p[torch.arange(len(p)), data["y_train"]], confidence.expand(len(p)), atol=1e-5, rtol=0)
