"""The evidence engine pinned on constructed cases: each verdict, both directions, the boundaries,
preconditions, equivalence margins, bounded correlation intervals, power, controls and the ledger."""
import json
import math

import numpy as np
import pytest
import torch
from scipy import stats as sps

from mfh_lib import claims, controls, evidence as ev, stats


def est(point, lo, hi, n=10, method=stats.T_INTERVAL, se=None, p=None):
    se = (hi - lo) / (2 * 2.262) if se is None else se
    return stats.Estimate(point, lo, hi, n, "seeds", method, "constructed", se=se, df=n - 1, p_value=p)


def directional(direction=1, **kw):
    return ev.ClaimTest(kind="directional", direction=direction, statistic="diff", **kw)


# --- directional claims --------------------------------------------------------------------------

@pytest.mark.parametrize("direction", [1, -1])
def test_significant_on_the_claimed_side_is_reproduced(direction):
    e = est(direction * 2.0, *sorted((direction * 1.0, direction * 3.0)))
    assert ev.judge(directional(direction), e).verdict == ev.REPRODUCED


@pytest.mark.parametrize("direction", [1, -1])
def test_significant_on_the_other_side_is_contradicted(direction):
    e = est(-direction * 2.0, *sorted((-direction * 1.0, -direction * 3.0)))
    assert ev.judge(directional(direction), e).verdict == ev.CONTRADICTED


@pytest.mark.parametrize("direction", [1, -1])
@pytest.mark.parametrize("point", [-0.3, 0.0, 0.3])
def test_interval_across_zero_is_never_reproduced_nor_contradicted(direction, point):
    # whatever the sign of the point estimate (the old rule let the sign of noise decide)
    j = ev.judge(directional(direction), est(point, -2.0, 0.5 + point))
    assert j.verdict == ev.INCONCLUSIVE
    assert j.mde is not None and j.mde > 0


def test_issue_example_direction_minus_one_with_swapped_ends():
    # [-2, .5] for a claim "< 0": crosses zero, so inconclusive, however the ends are passed
    t = directional(-1)
    assert ev.judge(t, est(-0.3, -2.0, 0.5)).verdict == ev.INCONCLUSIVE
    assert ev.judge(t, est(-1.0, -2.0, -0.3)).verdict == ev.REPRODUCED


def test_boundary_touching_zero_is_not_significant():
    assert ev.judge(directional(), est(1.0, 0.0, 2.0)).verdict == ev.INCONCLUSIVE


def test_size_inconsistent_with_paper_is_direction_only():
    t = directional(size=True)
    assert ev.judge(t, est(0.5, 0.3, 0.7), paper_value=2.1).verdict == ev.DIRECTION_ONLY
    assert ev.judge(t, est(2.0, 1.5, 2.5), paper_value=2.1).verdict == ev.REPRODUCED
    # outside the CI but within a declared margin of the point
    t_margin = directional(size=True, margin=0.5)
    assert ev.judge(t_margin, est(1.7, 1.5, 1.9), paper_value=2.1).verdict == ev.REPRODUCED
    assert ev.judge(t_margin, est(1.5, 1.4, 1.6), paper_value=2.1).verdict == ev.DIRECTION_ONLY


def test_practical_margin_contradicts_only_when_every_practical_effect_is_excluded():
    t = directional(practical=1.0)
    assert ev.judge(t, est(0.1, -0.3, 0.5)).verdict == ev.CONTRADICTED
    assert ev.judge(t, est(0.3, -0.3, 1.2)).verdict == ev.INCONCLUSIVE


def test_nonzero_null():
    t = directional(null=0.5)
    assert ev.judge(t, est(0.8, 0.6, 1.0)).verdict == ev.REPRODUCED
    assert ev.judge(t, est(0.5, 0.3, 0.7)).verdict == ev.INCONCLUSIVE


def test_too_few_units_is_inconclusive():
    j = ev.judge(directional(), est(5.0, 4.0, 6.0, n=2))
    assert j.verdict == ev.INCONCLUSIVE and "too few" in j.reason


def test_inconclusive_reports_units_needed_consistent_with_a_t_power_calculation():
    values = np.array([1.0, -0.5, 2.0, 0.2, 1.1])
    e = stats.mean_estimate(values)
    j = ev.judge(directional(size=True), e, paper_value=1.0)
    assert j.verdict == ev.INCONCLUSIVE
    sd = values.std(ddof=1)
    n = j.units_needed
    # independent check with the noncentral t: power at n is >= 0.8, at n - 1 below (or n is the floor)
    def power(k):
        crit = sps.t.ppf(0.975, k - 1)
        nc = 1.0 / (sd / math.sqrt(k))
        return 1 - sps.nct.cdf(crit, k - 1, nc)
    assert power(n) >= 0.75
    assert n == 3 or power(n - 1) < 0.85


# --- equivalence and value claims ------------------------------------------------------------------

def test_equivalence_at_a_stated_margin():
    t = ev.ClaimTest(kind="equivalence", statistic="diff", margin=1.0)
    assert ev.judge(t, est(0.1, -0.5, 0.7)).verdict == ev.REPRODUCED
    assert ev.judge(t, est(0.1, -1.5, 0.7)).verdict == ev.INCONCLUSIVE
    assert ev.judge(t, est(2.0, 1.2, 2.8)).verdict == ev.CONTRADICTED
    assert ev.judge(t, est(-2.0, -2.8, -1.0)).verdict == ev.CONTRADICTED
    # the margin is exclusive: an interval reaching it is not inside
    assert ev.judge(t, est(0.0, -1.0, 0.5)).verdict == ev.INCONCLUSIVE


def test_value_claim_is_equivalence_around_the_paper_value_in_both_directions():
    t = ev.ClaimTest(kind="value", statistic="acc", margin=1.0)
    assert ev.judge(t, est(80.2, 79.6, 80.8), paper_value=80.0).verdict == ev.REPRODUCED
    assert ev.judge(t, est(75.0, 74.0, 76.0), paper_value=80.0).verdict == ev.CONTRADICTED  # below
    assert ev.judge(t, est(85.0, 84.0, 86.0), paper_value=80.0).verdict == ev.CONTRADICTED  # above
    assert ev.judge(t, est(80.0, 77.0, 83.0), paper_value=80.0).verdict == ev.INCONCLUSIVE


def test_declarations_need_margins_and_reasons():
    with pytest.raises(ev.DeclarationError, match="margin"):
        ev.ClaimTest.from_declaration("c", {"kind": "equivalence"})
    with pytest.raises(ev.DeclarationError, match="reason"):
        ev.ClaimTest.from_declaration("c", {"kind": "not testable"})
    with pytest.raises(ev.DeclarationError, match="unknown test field"):
        ev.ClaimTest.from_declaration("c", {"kind": "directional", "tolerance": 2})
    with pytest.raises(ev.DeclarationError, match="'c'"):
        ev.ClaimTest.from_declaration("c", {"kind": "maybe"})


def test_estimate_method_must_match_the_declared_interval():
    t = directional(interval=stats.FISHER_Z)
    with pytest.raises(ev.DeclarationError, match="declares"):
        ev.judge(t, est(1.0, 0.5, 1.5))


# --- preconditions -------------------------------------------------------------------------------

def test_failed_precondition_is_not_testable_whatever_the_data_say():
    pre = ev.Precondition("gap", "teacher beats student by >= 3 pp", min=3.0)
    t = directional(preconditions=(pre,))
    j = ev.judge(t, est(2.0, 1.0, 3.0), preconditions={"gap": 1.2})
    assert j.verdict == ev.NOT_TESTABLE
    assert "precondition failed" in j.reason and "3 pp" in j.reason
    assert ev.judge(t, est(2.0, 1.0, 3.0), preconditions={"gap": 3.5}).verdict == ev.REPRODUCED
    with pytest.raises(KeyError, match="gap"):
        ev.judge(t, est(2.0, 1.0, 3.0))


def test_precondition_accepts_an_estimate_and_max():
    pre = ev.Precondition("f1_gap", "teachers within 1 F1 point", max=1.0)
    t = directional(preconditions=(pre,))
    assert ev.judge(t, est(2, 1, 3), preconditions={"f1_gap": est(1.5, 1, 2)}).verdict == ev.NOT_TESTABLE


# --- intervals -----------------------------------------------------------------------------------

def test_t_interval_matches_scipy():
    x = np.array([1.0, 2.0, 4.0, 3.5])
    e = stats.mean_estimate(x)
    lo, hi = sps.t.interval(0.95, 3, loc=x.mean(), scale=x.std(ddof=1) / 2)
    assert (e.ci_low, e.ci_high) == pytest.approx((lo, hi))
    assert e.se == pytest.approx(x.std(ddof=1) / 2)


def test_correlation_interval_stays_in_minus_one_one():
    x = np.arange(5.0)
    e = stats.correlation_estimate(x, x + np.array([0, 0.1, 0, 0.1, 0]))  # a perfect rank correlation
    assert e.point == pytest.approx(1.0)
    assert -1 <= e.ci_low <= e.ci_high <= 1
    e2 = stats.correlation_estimate(x, np.array([0.0, 2, 1, 4, 3]))
    assert -1 <= e2.ci_low < e2.point < e2.ci_high <= 1
    # bootstrap over seeds: percentiles of a bounded statistic
    rng = np.random.default_rng(0)
    per_seed = np.arange(6.0) + rng.normal(0, 0.3, (3, 6))
    b = stats.correlation_over_seeds(np.arange(6.0), per_seed)
    assert -1 <= b.ci_low <= b.ci_high <= 1 and b.n == 3


def test_exact_permutation_p_value():
    # 4 points in perfect order: 2 of 24 permutations are as extreme (|rho| = 1)
    assert stats.permutation_p_value([1, 2, 3, 4], [1, 2, 3, 4]) == pytest.approx(2 / 24)
    e = stats.permutation_correlation([1, 2, 3, 4], [1, 2, 3, 4])
    j = ev.judge(directional(interval=stats.PERMUTATION), e)
    assert j.verdict == ev.INCONCLUSIVE and "smallest p-value" in j.reason
    e6 = stats.permutation_correlation(np.arange(6), np.arange(6))
    assert ev.judge(directional(interval=stats.PERMUTATION), e6).verdict == ev.REPRODUCED
    assert ev.judge(directional(-1, interval=stats.PERMUTATION), e6).verdict == ev.CONTRADICTED


def test_bootstrap_resamples_the_first_axis():
    # 4 seeds x 50 settings: resampling settings instead of seeds would give a far narrower interval
    rng = np.random.default_rng(1)
    seeds = rng.normal(0, 1, (4, 1)) + rng.normal(0, 0.01, (4, 50))
    lo, hi = stats.bootstrap_ci(seeds, lambda v: v.mean(), num_resamples=500)
    assert hi - lo > 0.5


def test_units_needed_inverts_the_minimal_detectable_effect():
    sd, effect = 2.0, 1.0
    n = stats.units_needed(sd, effect)
    assert stats.minimal_detectable_effect(sd / math.sqrt(n), n) <= effect
    assert stats.minimal_detectable_effect(sd / math.sqrt(n - 1), n - 1) > effect
    # normal approximation: ((1.96 + 0.84) * 2 / 1)^2 = 31.4; t needs a little more
    assert 31 <= n <= 36
    assert stats.units_needed(0.0, 1.0) == 3 and stats.units_needed(1.0, 0.0) is None


# --- controls ------------------------------------------------------------------------------------

def test_smoothing_logits_give_the_declared_confidence_at_temperature():
    y = torch.tensor([0, 2, 1])
    for temperature in (1.0, 4.0):
        logits = controls.smoothing_logits(y, 3, 0.7, temperature)
        p = torch.softmax(logits / temperature, -1)
        assert torch.allclose(p[torch.arange(3), y], torch.full((3,), 0.7), atol=1e-6)
        assert torch.allclose(p.sum(-1), torch.ones(3))
    per_seed = controls.smoothing_logits(y, 3, torch.tensor([0.5, 0.9]))
    assert per_seed.shape == (2, 3, 3)
    assert float(controls.mean_confidence(per_seed)[1]) == pytest.approx(0.9, abs=1e-6)
    with pytest.raises(ValueError, match="confidence"):
        controls.smoothing_logits(y, 3, 0.2)


def test_cross_fit_predicts_every_sample_out_of_fold():
    n = 10
    seen = {}

    def fit_predict(train_index, predict_index):
        assert not set(train_index.tolist()) & set(predict_index.tolist())
        for i in predict_index.tolist():
            seen[i] = set(train_index.tolist())
        return predict_index.float()[:, None].repeat(1, 2)  # "logits" that encode the sample index

    out = controls.cross_fit(fit_predict, n, 3, torch.Generator().manual_seed(0))
    assert torch.equal(out[:, 0], torch.arange(n).float())  # back in the original order
    assert all(i not in seen[i] for i in range(n))


def test_shuffled_labels_and_noise_keep_marginals():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(100) % 5
    s = controls.shuffled_labels(y, g)
    assert torch.equal(torch.bincount(s), torch.bincount(y)) and not torch.equal(s, y)
    x = torch.randn(2000, 3, generator=g) * torch.tensor([1.0, 5.0, 0.1]) + 3
    z = controls.noise_like(x, g)
    assert torch.allclose(z.std(0), x.std(0), rtol=0.1) and torch.allclose(z.mean(0), x.mean(0), atol=0.3)


# --- the ledger ------------------------------------------------------------------------------------

def declarations():
    return {
        "gain": {"category": "paper", "source": "MFH Tab. 1", "setting": "s", "statement": "KD helps",
                 "paper_value": 2.0, "paper_std": None, "unit": "pp",
                 "test": {"kind": "directional", "statistic": "paired gain", "size": True,
                          "preconditions": [{"id": "gap", "statement": "teacher beats student by >= 3 pp", "min": 3}]}},
        "ours_q": {"category": "ours", "source": "ours", "setting": "s", "statement": "q", "paper_value": None,
                   "paper_std": None, "unit": "pp", "test": {"kind": "equivalence", "statistic": "d", "margin": 1.0}},
        "bound": {"category": "check", "source": "MFH Theorem 1", "setting": "s", "statement": "bound holds",
                  "paper_value": None, "paper_std": None, "unit": ""},
    }


def test_ledger_judges_by_declaration_and_keeps_checks_apart(tmp_path, monkeypatch):
    monkeypatch.setattr(claims, "PAPER_DIR", tmp_path)
    monkeypatch.setenv(claims.RESULTS_ENV_VAR, str(tmp_path / "results"))
    (tmp_path / "demo.json").write_text(json.dumps(declarations()))
    ledger = claims.Ledger("demo", "quick", "synthetic", data_hash="abc")
    assert ledger.test("gain", [2.0, 2.5, 1.5, 2.2], preconditions={"gap": 1.0}).verdict == ev.NOT_TESTABLE
    assert ledger.test("ours_q", [0.1, -0.1, 0.05, 0.0]).verdict == ev.REPRODUCED
    with pytest.raises(ValueError, match="check"):
        ledger.test("bound", [1.0])
    with pytest.raises(ValueError, match="declared but never judged"):
        ledger.save()
    assert ledger.check("bound", True, "holds in 10/10 runs", values=[1.0] * 10) == ev.PASS
    ledger.save()
    saved = json.loads((tmp_path / "results" / "demo.json").read_text())
    assert saved["provenance"]["data_hash"] == "abc"
    rows = {r["claim_id"]: r for r in saved["claims"]}
    assert rows["bound"]["category"] == "check" and rows["bound"]["verdict"] == "pass"
    assert rows["gain"]["preconditions"][0]["passed"] is False
    with pytest.raises(KeyError, match="not declared"):
        ledger.test("nope", [1.0])


def test_paper_claim_needs_a_source_location(tmp_path, monkeypatch):
    monkeypatch.setattr(claims, "PAPER_DIR", tmp_path)
    bad = declarations()
    bad["gain"]["source"] = "MFH"
    (tmp_path / "demo.json").write_text(json.dumps(bad))
    with pytest.raises(ev.DeclarationError, match="location"):
        claims.paper_claims("demo")


@pytest.mark.parametrize("path", sorted(claims.PAPER_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_every_committed_declaration_is_valid(path):
    claims.paper_claims(path.stem)
