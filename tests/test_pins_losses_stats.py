"""Pins of mfh_lib.losses beyond eq. (1) (issue #20): the feature-KD baselines of the MSD chapter
(FitNet, RKD, SP) and the multi-label KD, each against a slow reference written from the papers'
definitions with loops over samples; the statistics helpers against closed forms; and edges of the
evidence engine's verdicts that mutation testing found unpinned."""
import itertools
import math

import numpy as np
import pytest
import torch

from mfh_lib import evidence as ev
from mfh_lib import losses, stats


def _huber(x):
    """smooth L1 with beta = 1: x^2 / 2 below 1, |x| - 1/2 above."""
    x = abs(x)
    return 0.5 * x * x if x < 1 else x - 0.5


def rkd_reference(student, teacher, distance_weight=25.0, angle_weight=50.0):
    """Park et al. 2019 for one (B, D) pair, with loops over pairs and triplets."""
    b = len(student)

    def distances(f):
        d = [[float(np.linalg.norm(f[i] - f[j])) for j in range(b)] for i in range(b)]
        mu = sum(d[i][j] for i in range(b) for j in range(b) if i != j) / (b * (b - 1))
        return [[d[i][j] / mu for j in range(b)] for i in range(b)]

    def cosines(f):
        def unit(v):
            n = np.linalg.norm(v)
            return v / n if n > 0 else v
        return {(i, j, k): float(unit(f[j] - f[i]) @ unit(f[k] - f[i]))
                for i, j, k in itertools.product(range(b), repeat=3)}

    ds, dt = distances(student), distances(teacher)
    distance = sum(_huber(ds[i][j] - dt[i][j]) for i in range(b) for j in range(b)) / b**2
    cs, ct = cosines(student), cosines(teacher)
    angle = sum(_huber(cs[key] - ct[key]) for key in cs) / b**3
    return distance_weight * distance + angle_weight * angle


def sp_reference(student, teacher):
    """Tung & Mori 2019: || norm_rows(S S^T) - norm_rows(T T^T) ||_F^2 / B^2."""
    def g(f):
        gram = f @ f.T
        return gram / np.linalg.norm(gram, axis=1, keepdims=True)
    return float(((g(student) - g(teacher)) ** 2).sum()) / len(student) ** 2


def test_rkd_matches_the_loop_reference_per_member():
    g = torch.Generator().manual_seed(0)
    student = torch.randn(2, 5, 3, generator=g, dtype=torch.float64)
    teacher = 3 * torch.randn(2, 5, 4, generator=g, dtype=torch.float64)  # widths may differ
    got = losses.rkd_loss(student, teacher)
    assert got.shape == (2,)
    for m in range(2):
        assert got[m].item() == pytest.approx(rkd_reference(student[m].numpy(), teacher[m].numpy()), rel=1e-9)
    custom = losses.rkd_loss(student, teacher, distance_weight=2.0, angle_weight=0.5)
    assert custom[1].item() == pytest.approx(rkd_reference(student[1].numpy(), teacher[1].numpy(), 2.0, 0.5), rel=1e-9)
    only_distance = losses.rkd_loss(student, teacher, angle_weight=0.0)
    assert only_distance[0].item() == pytest.approx(rkd_reference(student[0].numpy(), teacher[0].numpy(), 25.0, 0.0), rel=1e-9)


def test_rkd_large_differences_use_the_linear_huber_branch():
    # distances normalised very differently: some differences exceed 1
    student = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [10.0, 10.0]], dtype=torch.float64)
    teacher = torch.tensor([[0.0, 0.0], [5.0, 0.0], [0.0, 0.1], [0.2, 0.1]], dtype=torch.float64)
    got = losses.rkd_loss(student[None], teacher[None])[0].item()
    assert got == pytest.approx(rkd_reference(student.numpy(), teacher.numpy()), rel=1e-9)


def test_rkd_and_sp_gradients_are_finite_and_the_teacher_is_frozen():
    g = torch.Generator().manual_seed(1)
    student = torch.randn(2, 6, 3, generator=g, requires_grad=True)
    teacher = torch.randn(2, 6, 3, generator=g, requires_grad=True)
    (losses.rkd_loss(student, teacher).sum() + losses.sp_loss(student, teacher).sum()
     + losses.fitnet_loss(student, teacher).sum()).backward()
    assert torch.isfinite(student.grad).all() and student.grad.abs().sum() > 0
    assert teacher.grad is None


def test_pairwise_distances_are_exact_with_a_zero_diagonal():
    f = torch.tensor([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]], dtype=torch.float64)
    d = losses._pairwise_distances(f)
    assert d.tolist() == [[0.0, 5.0, 10.0], [5.0, 0.0, 5.0], [10.0, 5.0, 0.0]]


def test_sp_matches_the_reference_and_fitnet_is_the_mean_squared_error():
    g = torch.Generator().manual_seed(2)
    student = torch.randn(3, 4, 2, generator=g, dtype=torch.float64)
    teacher = torch.randn(3, 4, 5, generator=g, dtype=torch.float64)
    got = losses.sp_loss(student, teacher)
    for m in range(3):
        assert got[m].item() == pytest.approx(sp_reference(student[m].numpy(), teacher[m].numpy()), rel=1e-9)
    hint = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    target = torch.tensor([[[0.0, 0.0], [0.0, 1.0]]])
    assert losses.fitnet_loss(hint, target).tolist() == [pytest.approx((1 + 4 + 9 + 9) / 4)]


def test_multilabel_kd_is_the_mean_bernoulli_kl_times_t_squared():
    s = torch.tensor([[0.0, math.log(3)], [math.log(2), -1.0]], dtype=torch.float64)
    t = torch.tensor([[math.log(3), 0.0], [0.0, 2.0]], dtype=torch.float64)

    def bern(p, q):
        return p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))

    sig = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    for temperature in (1.0, 2.0):
        per_label = [bern(sig(t[i, k].item() / temperature), sig(s[i, k].item() / temperature))
                     for i in range(2) for k in range(2)]
        expected = temperature**2 * sum(per_label) / 4
        assert losses.multilabel_kd_divergence(s, t, temperature).item() == pytest.approx(expected, rel=1e-12)
    per_label = [bern(sig(t[i, k].item()), sig(s[i, k].item())) for i in range(2) for k in range(2)]
    assert losses.multilabel_kd_divergence(s, t).item() == pytest.approx(sum(per_label) / 4, rel=1e-12)


def test_kd_loss_names_rho_in_its_error_and_honours_ignore_index():
    s = torch.tensor([[0.0, math.log(3)], [math.log(2), 0.0]], dtype=torch.float64)
    y = torch.tensor([0, 255])
    with pytest.raises(ValueError, match="rho must lie in"):
        losses.kd_loss(s, s, y, rho=1.5)
    # a custom ignore label (255, as in segmentation) leaves its pixel out of the cross entropy
    assert losses.kd_loss(s, None, y, rho=1.0, ignore_index=255).item() == pytest.approx(math.log(4), rel=1e-12)


def test_feature_losses_take_unbatched_inputs_and_rkd_is_scale_free():
    g = torch.Generator().manual_seed(4)
    student = torch.randn(5, 3, generator=g, dtype=torch.float64)
    teacher = torch.randn(5, 4, generator=g, dtype=torch.float64)
    rkd = losses.rkd_loss(student, teacher)  # (B, D): no member axis
    assert rkd.shape == () and rkd.item() == pytest.approx(rkd_reference(student.numpy(), teacher.numpy()), rel=1e-9)
    assert losses.sp_loss(student, teacher).item() == pytest.approx(sp_reference(student.numpy(), teacher.numpy()), rel=1e-9)
    # distances are normalised by their mean: tiny embeddings (mean distance << 1) cost the same
    tiny = losses.rkd_loss(1e-3 * student, 1e-3 * teacher)
    assert tiny.item() == pytest.approx(rkd.item(), rel=1e-6)


# ============================================================================ statistics helpers


def test_summaries_and_mean_estimates_by_hand():
    one = stats.summarize([5.0])
    assert (one.mean, one.std, one.ci_low, one.ci_high, one.n) == (5.0, 0.0, 5.0, 5.0, 1)
    flat = stats.summarize([2.0, 2.0, 2.0])
    assert (flat.std, flat.ci_low, flat.ci_high) == (0.0, 2.0, 2.0)
    est = stats.mean_estimate([1.0, 2.0, 3.0, 4.0])
    sd = math.sqrt(5 / 3)
    assert est.point == 2.5 and est.se == pytest.approx(sd / 2) and est.df == 3 and est.n == 4
    assert est.values == (1.0, 2.0, 3.0, 4.0) and est.unit == "seeds" and est.method == stats.T_INTERVAL
    assert est.description == "mean, t interval over 4 seeds"
    two = stats.mean_estimate([1.0, 3.0], unit="draws", what="gain")
    assert two.se == pytest.approx(1.0) and two.df == 1 and two.description == "gain, t interval over 2 draws"
    single = stats.mean_estimate([7.0])
    assert math.isnan(single.se) and single.df is None and single.ci_low == single.ci_high == 7.0
    for bad in ([], [1.0, float("nan")]):
        with pytest.raises(ValueError):
            stats.mean_estimate(bad)


def test_estimate_to_dict_rounds_to_six_decimals_and_drops_non_finite():
    est = stats.Estimate(1.23456789, -0.1234564, float("inf"), 3, "seeds", stats.T_INTERVAL, "d",
                         se=float("nan"), p_value=0.00012345678, values=(1.23456789, 2.0))
    d = est.to_dict()
    assert d["point"] == 1.234568 and d["ci_low"] == -0.123456 and d["ci_high"] is None and d["se"] is None
    assert d["p_value"] == 0.000123 and d["values"] == [1.234568, 2.0] and d["df"] is None and d["n"] == 3


def test_pearson_and_permutation_correlation_by_hand():
    assert stats.pearson([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert math.isnan(stats.pearson([1, 1, 1], [1, 2, 3])) and math.isnan(stats.pearson([1, 2, 3], [4, 4, 4]))
    est = stats.permutation_correlation([1, 2, 3, 4], [2, 1, 4, 3])
    assert est.unit == "teachers" and est.method == stats.PERMUTATION
    assert est.values == (2.0, 1.0, 4.0, 3.0) and est.point == pytest.approx(0.6)
    # exact p: |rho| >= 0.6 in 10 of the 24 permutations of 4 ranks
    assert est.p_value == pytest.approx(10 / 24)


def test_correlation_over_seeds_estimate():
    x = np.arange(5)
    y = np.array([[0.0, 1.0, 2.0, 3.0, 4.0], [0.0, 2.0, 1.0, 3.0, 4.0], [1.0, 0.0, 2.0, 4.0, 3.0]])
    est = stats.correlation_over_seeds(x, y, num_resamples=300)
    rho, (lo, hi) = stats.spearman_over_seeds(x, y, num_resamples=300)
    assert est.point == rho and (est.ci_low, est.ci_high) == (lo, hi) and est.n == 3 and est.unit == "seeds"
    assert est.se == pytest.approx((hi - lo) / (2 * 1.959963984540054))
    assert est.values == pytest.approx((1.0, 0.9, 0.8))


def test_value_estimate_is_exact():
    est = stats.value_estimate(2.5)
    assert (est.point, est.ci_low, est.ci_high, est.n, est.se, est.values) == (2.5, 2.5, 2.5, 1, 0.0, (2.5,))
    assert est.unit == "computation" and est.description == "value (exact, no sampling error)"


def test_power_helpers_by_hand():
    z = 1.959963984540054 + 0.8416212335729143
    assert stats._crit(None, 0.95, 0.8) == pytest.approx(z)
    assert stats._crit(1, 0.95, 0.8) == pytest.approx(z) and stats._crit(float("inf"), 0.95, 0.8) == pytest.approx(z)
    assert stats._crit(10, 0.95, 0.8) == pytest.approx(2.2621571627409915 + 0.8834038606522)
    assert stats.minimal_detectable_effect(0.5, 10) == pytest.approx(0.5 * (2.2621571627409915 + 0.8834038606522))

    def exact_minimum(sd, effect):
        n = 3
        while stats._crit(n, 0.95, 0.8) * sd / math.sqrt(n) > effect:
            n += 1
        return n

    assert stats.units_needed(1.0, 0.5) == exact_minimum(1.0, 0.5)  # below 200 units: the smallest n
    assert stats.units_needed(1.0, -0.5) == exact_minimum(1.0, 0.5)
    large = stats.units_needed(1.0, 0.15)
    assert exact_minimum(1.0, 0.15) <= large <= 1.06 * exact_minimum(1.0, 0.15)  # 5% steps beyond 200
    assert stats.units_needed(0.0, 1.0) == 3 and stats.units_needed(1.0, 0.0) is None
    assert stats.units_needed(1.0, 1e-4, max_units=1000) is None
    assert stats.units_needed_from_se(0.5, 4, 0.5) == stats.units_needed(1.0, 0.5)
    assert stats.units_needed_from_se(0.5, 0, 0.5) is None and stats.units_needed_from_se(float("nan"), 4, 0.5) is None


def test_correlation_estimate_fisher_z_by_hand_and_its_permutation_p_values():
    from scipy import stats as sps

    x = np.arange(10.0)
    y = np.array([0.0, 2.0, 1.0, 3.0, 5.0, 4.0, 6.0, 9.0, 7.0, 8.0])
    z975 = 1.959963984540054
    for kind in ("spearman", "pearson"):
        est = stats.correlation_estimate(x, y, kind=kind)
        r = sps.spearmanr(x, y).statistic if kind == "spearman" else np.corrcoef(x, y)[0, 1]
        se = math.sqrt((1 + r * r / 2) / 7) if kind == "spearman" else 1 / math.sqrt(7)
        assert est.point == pytest.approx(r) and est.se == pytest.approx(se) and est.n == 10
        assert (est.ci_low, est.ci_high) == pytest.approx((math.tanh(math.atanh(r) - z975 * se),
                                                           math.tanh(math.atanh(r) + z975 * se)))
        assert est.unit == "settings" and "Monte Carlo permutation" in est.description
        hits = est.p_value * 20001 - 1  # Monte Carlo with the +1 correction: (hits + 1) / (20000 + 1)
        assert est.p_value < 0.01 and hits == pytest.approx(round(hits), abs=1e-6)
        assert est.values == tuple(y.tolist())
    small = stats.correlation_estimate([1, 2, 3], [1, 3, 2], unit="teachers")
    assert (small.ci_low, small.ci_high) == (-1.0, 1.0) and math.isnan(small.se) and small.unit == "teachers"
    assert "exact permutation" in small.description and small.p_value == 1.0  # every permutation has |rho| >= 0.5
    flat = stats.correlation_estimate([1, 2, 3, 4], [5, 5, 5, 5])
    assert math.isnan(flat.point) and (flat.ci_low, flat.ci_high) == (-1.0, 1.0) and flat.n == 4
    assert flat.p_value is not None and math.isnan(flat.p_value)
    # Monte Carlo path with a null association: a p-value well inside (0, 1), reproducible by seed
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=12), rng.normal(size=12)
    p = stats.permutation_p_value(a, b, num_resamples=400, seed=1)
    assert 0.05 < p < 1 and p == stats.permutation_p_value(a, b, num_resamples=400, seed=1)


# ============================================================================ the evidence engine
# Edges the taxonomy tests (test_evidence.py) leave open, found by mutation testing: interval
# boundaries on the negative side and at the margin, the paper's size measured from a nonzero null,
# the power arithmetic, and the ledger's rounding.


def est(point, lo, hi, n=5, se=0.5, method=stats.T_INTERVAL, p=None, unit="seeds"):
    return stats.Estimate(point, lo, hi, n, unit, method, "hand-made", se=se, p_value=p)


def directional(**kw):
    return ev.ClaimTest.from_declaration("c", {"kind": "directional", "statistic": "gain", **kw})


def test_declarations_reject_a_zero_practical_size_and_value_tests_without_margin():
    with pytest.raises(ev.DeclarationError, match="practical"):
        directional(practical=0.0)
    with pytest.raises(ev.DeclarationError, match="margin"):
        ev.ClaimTest.from_declaration("c", {"kind": "value", "statistic": "acc"})
    assert ev.ClaimTest.from_declaration("c", {"kind": "value", "statistic": "acc", "margin": 1.0}).margin == 1.0


def test_descriptions_in_words():
    assert directional(practical=0.5).describe() == \
        "gain > 0; smallest effect of practical size 0.5; 95% t interval over seeds"
    eq = ev.ClaimTest.from_declaration("c", {"kind": "equivalence", "statistic": "gap", "margin": 2.0})
    assert eq.describe() == "gap within 0 ± 2 (TOST); 95% t interval over seeds"


def test_negative_side_boundaries_mirror_the_positive_ones():
    up, down = directional(), directional(direction=-1)
    # an interval ending exactly at 0 is not significant on either side
    assert ev.judge(up, est(-1.0, -2.0, 0.0)).verdict == ev.INCONCLUSIVE
    assert ev.judge(down, est(1.0, 0.0, 2.0)).verdict == ev.INCONCLUSIVE
    assert ev.judge(up, est(-1.0, -2.0, -1e-9)).verdict == ev.CONTRADICTED
    assert ev.judge(down, est(-1.0, -2.0, -0.5)).verdict == ev.REPRODUCED


def test_size_against_the_paper_is_measured_from_the_null():
    test = directional(null=10.0, size=True, margin=0.5)
    # effect 2 (12 - 10), paper's effect 2.2 (12.2 - 10): consistent within the margin
    assert ev.judge(test, est(12.0, 11.0, 13.0), paper_value=12.2).verdict == ev.REPRODUCED
    # the paper at the interval's lower end counts as consistent (closed interval)
    no_margin = directional(size=True)
    assert ev.judge(no_margin, est(2.0, 1.0, 3.0), paper_value=1.0).verdict == ev.REPRODUCED
    assert ev.judge(no_margin, est(2.0, 1.0, 3.0), paper_value=0.9).verdict == ev.DIRECTION_ONLY
    # no paper value: direction alone decides
    assert ev.judge(no_margin, est(2.0, 1.0, 3.0)).verdict == ev.REPRODUCED
    j = ev.judge(test, est(12.0, 11.0, 13.0), paper_value=14.0)
    assert j.verdict == ev.DIRECTION_ONLY and "(beyond ±0.5)" in j.reason


def test_equivalence_margin_is_strict():
    test = ev.ClaimTest.from_declaration("c", {"kind": "equivalence", "statistic": "gap", "margin": 1.0})
    assert ev.judge(test, est(0.0, -0.5, 0.99)).verdict == ev.REPRODUCED
    assert ev.judge(test, est(0.0, -0.5, 1.0)).verdict == ev.INCONCLUSIVE  # touching the margin is not inside
    assert ev.judge(test, est(1.5, 1.0, 2.0)).verdict == ev.CONTRADICTED


def test_inconclusive_power_arithmetic_for_t_and_fisher_z_estimates():
    test = directional(practical=1.0)
    j = ev.judge(test, est(1.0, -0.5, 2.5, n=5, se=0.5))
    crit5 = stats._crit(5, 0.95, 0.8)
    assert j.verdict == ev.INCONCLUSIVE and j.mde == pytest.approx(crit5 * 0.5)
    assert j.units_needed_for == 1.0 and j.units_needed == stats.units_needed(0.5 * math.sqrt(5), 1.0)
    assert j.reason.startswith("1.00 [-0.50, 2.50]: contains both no effect and the claimed effect; detectable")
    assert f"detectable at this n: {j.mde:.2f}" in j.reason and f"~{j.units_needed} seeds to detect" in j.reason
    corr = ev.ClaimTest.from_declaration("c", {"kind": "directional", "statistic": "rho", "interval": "fisher-z",
                                               "unit": "settings", "practical": 0.5})
    j = ev.judge(corr, est(0.3, -0.2, 0.7, n=10, se=0.4, method=stats.FISHER_Z, unit="settings"))
    z = stats._crit(None, 0.95, 0.8)
    assert j.mde == pytest.approx(math.tanh(z * 0.4))
    assert j.units_needed == math.ceil((z / math.atanh(0.5)) ** 2 + 3)
    # a target of +-1 (or 0) has no finite sample size on the z scale
    assert ev._power(est(0.3, -0.2, 0.7, n=10, se=0.4, method=stats.FISHER_Z), 1.0) == \
        (pytest.approx(math.tanh(z * 0.4)), None)
    assert ev._power(est(0.3, -0.2, 0.7, n=10, se=0.4, method=stats.FISHER_Z), 0.0)[1] is None
    assert ev._power(est(1.0, 0.0, 2.0, se=float("nan")), 1.0) == (None, None)
    assert ev._power(est(1.0, 0.0, 2.0, se=0.0), 1.0) == (None, None)


def test_permutation_wording_at_the_exact_limit():
    test = directional(interval="permutation", unit="teachers")
    j = ev.judge(test, est(0.3, -1.0, 1.0, n=stats.EXACT_PERMUTATION_MAX, method=stats.PERMUTATION, p=0.5, unit="teachers"))
    assert "exact permutation" in j.reason and f"{2 / math.factorial(stats.EXACT_PERMUTATION_MAX):.3g}" in j.reason
    j = ev.judge(test, est(0.3, -1.0, 1.0, n=9, method=stats.PERMUTATION, p=0.5, unit="teachers"))
    assert "Monte Carlo permutation" in j.reason and "smallest p-value" not in j.reason
    j = ev.judge(test, est(-0.9, -1.0, -0.5, n=6, method=stats.PERMUTATION, p=0.01, unit="teachers"))
    assert j.verdict == ev.CONTRADICTED and j.reason.endswith(": significant on the other side")


def test_preconditions_are_rounded_and_every_failure_is_named():
    test = ev.ClaimTest.from_declaration("c", {"kind": "directional", "statistic": "gain", "preconditions": [
        {"id": "gap", "statement": "teacher beats student", "min": 1.0},
        {"id": "acc", "statement": "teacher learns", "min": 60.0}]})
    measured = est(1.0, 0.5, 1.5)
    j = ev.judge(test, measured, preconditions={"gap": 0.123456789, "acc": 50.0})
    assert j.verdict == ev.NOT_TESTABLE and j.estimate is measured  # the ledger still shows what was measured
    assert [c["value"] for c in j.preconditions] == [0.123457, 50.0]
    assert j.reason == "precondition failed: teacher beats student (measured 0.12); teacher learns (measured 50.00)"
    value = ev.ClaimTest.from_declaration("c", {"kind": "value", "statistic": "acc", "margin": 1.0})
    with pytest.raises(ev.DeclarationError, match="paper's value"):
        ev.judge(value, est(1.0, 0.5, 1.5))


def test_judgement_to_dict_rounds_and_drops_non_finite():
    j = ev.Judgement(ev.INCONCLUSIVE, "r", None, mde=0.1234567891, units_needed=12, units_needed_for=float("nan"))
    d = j.to_dict()
    assert d["estimate"] is None and d["mde"] == 0.123457 and d["units_needed"] == 12 and d["units_needed_for"] is None
    j = ev.Judgement(ev.REPRODUCED, "r", est(1.0, 0.5, 1.5), units_needed_for=2.00000049)
    d = j.to_dict()
    assert d["estimate"]["point"] == 1.0 and d["units_needed_for"] == 2.0 and d["mde"] is None


def test_every_verdict_keeps_the_estimate_it_was_given():
    few = est(1.0, 0.5, 1.5, n=2)
    j = ev.judge(directional(), few)
    assert j.verdict == ev.INCONCLUSIVE and j.estimate is few and j.reason.startswith("only 2 seeds (< 3)")
    untestable = ev.ClaimTest.from_declaration("c", {"kind": "not testable", "reason": "no data"})
    j = ev.judge(untestable, few)
    assert j.verdict == ev.NOT_TESTABLE and j.estimate is few and j.reason == "no data"
