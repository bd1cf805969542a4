"""scripts/size_record.py on a constructed results file: each sizing rule, the budget, the configs."""
import importlib.util
import json
import math
from pathlib import Path

import pytest

from mfh_lib import stats

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("size_record", ROOT / "scripts" / "size_record.py")
sr = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sr)

QUICK = {"seeds": 3, "headline_seeds": 20, "lr": 0.1}


def estimate(point, sd, n=3, unit="seeds", method="t"):
    se = sd / math.sqrt(n)
    return {"point": point, "se": se, "n": n, "unit": unit, "method": method, "ci_low": point - 3 * se,
            "ci_high": point + 3 * se, "values": [], "description": "constructed", "df": n - 1, "p_value": None}


def claim(claim_id, test, est=None, verdict="inconclusive", category="paper", paper_value=None, **extra):
    return {"claim_id": claim_id, "category": category, "test": test, "estimate": est, "verdict": verdict,
            "paper_value": paper_value, "statement": claim_id, "reason": extra.pop("reason", ""), **extra}


ROWS = [
    # directional with a size check: the paper's effect is the target
    claim("size", {"kind": "directional", "direction": 1, "size": True, "margin": 1.0},
          estimate(1.0, 2.0), paper_value=3.0),
    # directional with a practical size, no size check
    claim("practical", {"kind": "directional", "direction": 1, "practical": 2.0}, estimate(0.5, 2.0), paper_value=9.0),
    # directional, neither: the pilot's own point, measured from the null, on the claimed side
    claim("pilot", {"kind": "directional", "direction": -1, "null": 1.0}, estimate(0.5, 1.0, n=20, unit="seeds and data draws")),
    # equivalence with the point inside the margin
    claim("equiv", {"kind": "equivalence", "margin": 1.0}, estimate(0.25, 1.0)),
    # value with the point outside the margin (would be contradicted)
    claim("value", {"kind": "value", "margin": 1.0}, estimate(12.0, 1.0), paper_value=10.0, verdict="contradicted"),
    # a failed precondition
    claim("pre", {"kind": "directional", "preconditions": [{"id": "gap", "min": 3, "statement": "teacher beats student by >= 3"}]},
          estimate(1.0, 1.0), verdict="not testable", reason="precondition failed: teacher beats student by >= 3 (measured 1)",
          preconditions=[{"id": "gap", "statement": "teacher beats student by >= 3", "value": 1.0, "passed": False}]),
    # declared not testable
    claim("declared", {"kind": "not testable", "reason": "absolute numbers on a stand-in"}, estimate(70.0, 1.0),
          verdict="not testable"),
    # a permutation test over teachers: not seeds
    claim("teachers", {"kind": "directional", "interval": "permutation"}, estimate(0.5, 1.0, n=6, unit="teachers",
                                                                                  method="permutation"), category="ours"),
    # the same, already decided at the quick run: decided, not a design change
    claim("teachers_done", {"kind": "directional", "interval": "permutation"},
          estimate(0.9, 1.0, n=11, unit="settings", method="permutation"), verdict="reproduced"),
    # 10 settings x 3 seeds = 30 runs
    claim("runs", {"kind": "directional"}, estimate(0.3, 1.0, n=30, unit="seeds and data draws"), category="ours"),
    # a check is ignored
    {"claim_id": "chk", "category": "check", "verdict": "pass", "reason": "", "statement": "", "paper_value": None},
]
RESULTS = {"chapter": "99_constructed", "profile": "quick", "claims": ROWS}


def by_id(rows):
    return {r["claim_id"]: r for r in rows}


def test_each_rule_picks_its_target_and_uses_units_needed():
    rows = by_id(sr.size_claim(r, QUICK) for r in ROWS if r["category"] != "check")
    assert rows["size"]["target"] == 3.0 and "paper" in rows["size"]["target_kind"]
    assert rows["size"]["units_needed"] == stats.units_needed(2.0, 3.0)
    assert rows["practical"]["target"] == 2.0 and "practical" in rows["practical"]["target_kind"]
    assert rows["practical"]["units_needed"] == stats.units_needed(2.0, 2.0)
    # the paper's 9.0 is not the target without a size check, but the row says what it would take
    assert rows["practical"]["units_for_paper_effect"] == stats.units_needed(2.0, 9.0)
    assert rows["pilot"]["target"] == pytest.approx(0.5) and "pilot" in rows["pilot"]["target_kind"]
    assert rows["pilot"]["seed_key"] == "headline_seeds" and rows["pilot"]["units_per_seed"] == 1
    # equivalence: CI half-width below margin - |point - centre| (power 0.5 = the half-width criterion)
    assert rows["equiv"]["target"] == pytest.approx(0.75)
    n = rows["equiv"]["units_needed"]
    half = lambda k: stats.sps.t.ppf(0.975, k - 1) / math.sqrt(k)  # noqa: E731  (sd = 1)
    assert half(n) <= 0.75 < half(n - 1)
    assert rows["value"]["target"] == pytest.approx(1.0) and "contradicted" in rows["value"]["note"]
    assert rows["pre"]["status"] == sr.DESIGN and sr.DESIGN_NOTE in rows["pre"]["note"]
    assert "measured 1, needs >= 3" in rows["pre"]["note"]
    assert rows["declared"]["status"] == sr.NOT_TESTABLE and "stand-in" in rows["declared"]["note"]
    assert rows["teachers"]["status"] == sr.DESIGN and "teachers" in rows["teachers"]["note"]
    assert rows["teachers_done"]["status"] == sr.DECIDED
    assert rows["runs"]["seed_key"] == "seeds" and rows["runs"]["units_per_seed"] == 10
    assert rows["runs"]["seeds_needed"] == math.ceil(rows["runs"]["units_needed"] / 10)


def test_chapter_within_budget_decides_every_headline_claim():
    out = sr.size_chapter(RESULTS, QUICK, {"wall_time_s": 60.0, "seeds": [0, 1, 2]}, budget_s=3600)
    rows = by_id(out["claims"])
    assert "chk" not in rows
    headline_needs = [rows[c]["seeds_needed"] for c in ("size", "practical", "equiv", "value")]
    # our own claims (here "runs", 10 units per seed) ride along where they fit the budget
    assert out["record_seeds"]["seeds"] == max([3] + headline_needs + [rows["runs"]["seeds_needed"]])
    assert out["record_seeds"]["headline_seeds"] == max(20, rows["pilot"]["seeds_needed"])
    ratio = max(out["record_seeds"]["seeds"] / 3, out["record_seeds"]["headline_seeds"] / 20)
    assert out["estimated_record_time_s"] == pytest.approx(60.0 * ratio)
    assert out["fits_budget"] and out["open_headline"] == []
    assert out["cheapest_seeds"] == out["record_seeds"]
    assert out["headline_counts"][sr.DESIGN] == 1 and out["headline_counts"][sr.NOT_TESTABLE] == 1


def test_chapter_over_budget_proposes_what_fits_and_lists_what_stays_open():
    quick = {"seeds": 3}
    rows = [claim("easy", {"kind": "directional"}, estimate(5.0, 2.0)),        # a handful of seeds
            claim("hard", {"kind": "directional"}, estimate(0.05, 2.0)),       # thousands
            claim("ours_hard", {"kind": "directional"}, estimate(0.05, 2.0), category="ours")]
    out = sr.size_chapter({"chapter": "x", "profile": "quick", "claims": rows}, quick,
                          {"wall_time_s": 600.0}, budget_s=3600)
    sized = by_id(out["claims"])
    assert out["max_seeds_within_budget"]["seeds"] == 18
    # the most seeds that fit, and the cheaper alternative that still decides what can be decided
    assert out["record_seeds"]["seeds"] == 18
    assert out["estimated_record_time_s"] == pytest.approx(3600)
    assert out["cheapest_seeds"]["seeds"] == max(3, sized["easy"]["seeds_needed"]) < 18
    assert sized["easy"]["status"] == sr.DECIDED and sized["hard"]["status"] == sr.INCONCLUSIVE
    assert [o["claim_id"] for o in out["open_headline"]] == ["hard"]   # open headline claims only
    assert sized["ours_hard"]["status"] == sr.INCONCLUSIVE
    assert out["fits_budget"] and not out["decides_all_headline_within_budget"]
    assert out["open_headline"][0]["time_needed_s"] == pytest.approx(600.0 * sized["hard"]["seeds_needed"] / 3)


def test_record_profile_is_the_quick_one_with_only_the_seeds_changed():
    text = '{\n "quick": {\n  "seeds": 3,\n  "headline_seeds": 20,\n  "sub": {"seeds_like": 3}\n },\n' \
           ' "full": {\n  "seeds": 10,\n  "headline_seeds": 40,\n  "sub": {"seeds_like": 3}\n }\n}\n'
    new = sr.with_record_profile(text, {"seeds": 7, "headline_seeds": 50})
    parsed = json.loads(new)
    assert list(parsed) == ["quick", "full", "record"]
    assert parsed["record"] == {**parsed["quick"], "seeds": 7, "headline_seeds": 50}
    assert new.startswith(text.rstrip()[:-1].rstrip())          # quick and full untouched, byte for byte
    assert '\n "record": {\n  "seeds": 7,' in new                 # the file's own indentation
    again = sr.with_record_profile(new, {"seeds": 9, "headline_seeds": 50})   # refreshing replaces it
    assert json.loads(again)["record"]["seeds"] == 9 and again.count('"record"') == 1


def test_refreshing_a_record_profile_keeps_its_own_settings():
    text = '{\n "quick": {"seeds": 3, "n": 100},\n "record": {"seeds": 5, "n": 3200, "infonce": true}\n}\n'
    new = sr.with_record_profile(text, {"seeds": 40})
    assert json.loads(new)["record"] == {"seeds": 40, "n": 3200, "infonce": True}
    assert json.loads(new)["quick"] == {"seeds": 3, "n": 100}


def test_markdown_escapes_pipes_in_cells():
    out = sr.size_chapter(RESULTS, QUICK, {"wall_time_s": 60.0}, budget_s=3600)
    text = sr.markdown([out], results_dir="x", generated="now")
    for line in text.splitlines():
        if line.startswith("| `equiv`"):
            assert "\\|point - centre\\|" in line
            assert line.replace("\\|", "").count("|") == 12


def test_cost_ratio_scales_the_time_and_a_record_that_changes_more_than_seeds_is_flagged():
    provenance = {"wall_time_s": 60.0, "profile": "quick"}
    record = {**QUICK, "lr": 0.2}  # a record profile that changes a non-seed setting
    flagged = sr.size_chapter(RESULTS, QUICK, provenance, budget_s=600.0, record=record)
    assert flagged["record_changes_besides_seeds"] == ["lr"]
    assert any("also changes lr" in w and "lower bound" in w for w in flagged["warnings"])
    costed = sr.size_chapter(RESULTS, QUICK, provenance, budget_s=600.0, record=record, cost_ratio=2.0)
    assert not any("also changes" in w for w in costed["warnings"])
    assert costed["quick_wall_time_s"] == 60.0  # the quick run's own time is reported as measured
    # 600 s of budget over a quick run of 60 s: 10x the seeds; at 2 quick seeds per record seed: 5x
    assert flagged["max_seeds_within_budget"]["seeds"] == 30 and costed["max_seeds_within_budget"]["seeds"] == 15
    ratio = costed["record_seeds"]["seeds"] / QUICK["seeds"]
    assert costed["estimated_record_time_s"] == pytest.approx(60.0 * 2.0 * max(
        ratio, costed["record_seeds"]["headline_seeds"] / QUICK["headline_seeds"]))
