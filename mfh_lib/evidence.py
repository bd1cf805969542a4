"""The evidence engine: claims declared before the run, judged from estimates after it.

A claim's test is data, kept beside the paper's numbers in ``mfh_lib/paper_numbers/<chapter>.json``
under ``"test"``, so the reader sees what was fixed before any number was computed::

    "test": {"kind": "directional", "direction": 1, "statistic": "paired CM-KD - UM-KD student accuracy (pp)",
             "unit": "seeds", "interval": "t", "size": true, "margin": 1.0, "practical": null,
             "preconditions": [{"id": "teacher_gap", "statement": "CM teacher beats UM teacher by >= 3 pp", "min": 3}]}

Kinds of test:

* ``directional``: the effect has a sign (``direction`` +1 or -1, against ``null``, default 0).
  reproduced when the 95% interval excludes the null on the claimed side and, with ``size: true``,
  the paper's value lies inside the interval or within ``margin`` of the point estimate; **direction
  only** when significant but the size disagrees; **contradicted** when the interval lies on the
  other side, or, where a smallest effect of practical size (``practical``) was declared, when it
  excludes every effect that large; otherwise **inconclusive**.
* ``equivalence``: a null claim ("KD does not help"): two one-sided tests at alpha = 0.025 each, i.e.
  reproduced when the 95% interval lies inside ``null ± margin``; contradicted when it lies entirely
  outside; inconclusive otherwise.
* ``value``: "our number is the paper's" on the paper's own data or generator: equivalence around
  ``paper_value`` with ``margin``.
* ``not testable``: declared with its ``reason`` (absolute numbers on a stand-in, say).

A failed precondition turns any claim into "not testable: precondition failed (...)". Fewer than
``min_n`` (default 3) units is inconclusive. Every inconclusive verdict carries the minimal
detectable effect at this run's n and the units that would resolve the claimed effect.

Checks (identities, by-construction facts, sanity bounds) are not claims: they pass or fail and
the ledger shows them apart, never counted as reproduced.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from . import stats

REPRODUCED = "reproduced"
DIRECTION_ONLY = "direction only"
INCONCLUSIVE = "inconclusive"
CONTRADICTED = "contradicted"
NOT_TESTABLE = "not testable"
VERDICTS = (REPRODUCED, DIRECTION_ONLY, INCONCLUSIVE, CONTRADICTED, NOT_TESTABLE)

PASS = "pass"
FAIL = "fail"

# Who makes the claim: the paper, or us (questions the papers do not ask); checks are neither.
PAPER = "paper"
OURS = "ours"
CHECK = "check"
CATEGORIES = (PAPER, OURS, CHECK)

KINDS = ("directional", "equivalence", "value", "not testable")
UNITS = ("seeds", "data draws", "folds", "teachers", "settings", "computation", "seeds and data draws")


class DeclarationError(ValueError):
    """A claim's declared test is malformed; the message names the claim and the field."""


@dataclass(frozen=True)
class Precondition:
    """``min <= value <= max`` for a quantity the chapter measures (teacher - student gap, say)."""

    id: str
    statement: str
    min: float | None = None
    max: float | None = None

    def holds(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)


@dataclass(frozen=True)
class ClaimTest:
    kind: str
    statistic: str = ""
    unit: str = "seeds"
    interval: str = stats.T_INTERVAL
    direction: int = 1
    null: float = 0.0
    size: bool = False
    margin: float | None = None
    practical: float | None = None
    min_n: int = 3
    reason: str = ""
    preconditions: tuple[Precondition, ...] = field(default=())

    @classmethod
    def from_declaration(cls, claim_id: str, declared: dict) -> "ClaimTest":
        """Parse and validate a ``"test"`` block; errors name the claim and the field."""
        where = f"claim {claim_id!r}"
        if not isinstance(declared, dict):
            raise DeclarationError(f"{where}: 'test' must be an object, got {declared!r}")
        known = set(cls.__dataclass_fields__)
        unknown = set(declared) - known
        if unknown:
            raise DeclarationError(f"{where}: unknown test field(s) {sorted(unknown)}; known: {sorted(known)}")
        kind = declared.get("kind")
        if kind not in KINDS:
            raise DeclarationError(f"{where}: test kind must be one of {KINDS}, got {kind!r}")
        args = dict(declared)
        args["preconditions"] = tuple(Precondition(**p) for p in declared.get("preconditions", ()))
        test = cls(**args)
        if test.kind == "not testable" and not test.reason:
            raise DeclarationError(f"{where}: a 'not testable' claim needs its 'reason'")
        if test.kind in ("equivalence", "value") and not (test.margin and test.margin > 0):
            raise DeclarationError(f"{where}: an {test.kind} test needs a positive 'margin' declared before the run")
        if test.direction not in (1, -1):
            raise DeclarationError(f"{where}: direction must be 1 or -1, got {test.direction!r}")
        if test.interval not in stats.INTERVALS:
            raise DeclarationError(f"{where}: interval must be one of {stats.INTERVALS}, got {test.interval!r}")
        if test.unit not in UNITS:
            raise DeclarationError(f"{where}: unit must be one of {UNITS}, got {test.unit!r}")
        if test.practical is not None and test.practical <= 0:
            raise DeclarationError(f"{where}: 'practical' (smallest effect of practical size) must be > 0")
        return test

    def describe(self, paper_value: float | None = None) -> str:
        """The test in words, as the ledger shows it next to the number."""
        if self.kind == "not testable":
            return f"not testable: {self.reason}"
        side = ">" if self.direction > 0 else "<"
        if self.kind == "directional":
            text = f"{self.statistic} {side} {self.null:g}"
            if self.size and paper_value is not None:
                text += f"; size consistent with the paper's {paper_value:g}" + (
                    f" (±{self.margin:g})" if self.margin else " (inside our CI)")
            if self.practical:
                text += f"; smallest effect of practical size {self.practical:g}"
        elif self.kind == "equivalence":
            text = f"{self.statistic} within {self.null:g} ± {self.margin:g} (TOST)"
        else:
            text = f"{self.statistic} equals the paper's {paper_value:g} within ± {self.margin:g}"
        return f"{text}; 95% {self.interval} interval over {self.unit}"


@dataclass(frozen=True)
class Judgement:
    verdict: str
    reason: str
    estimate: stats.Estimate | None
    mde: float | None = None
    units_needed: int | None = None
    units_needed_for: float | None = None
    preconditions: tuple[dict, ...] = ()

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "reason": self.reason,
                "estimate": None if self.estimate is None else self.estimate.to_dict(),
                "mde": stats.json_number(self.mde), "units_needed": self.units_needed,
                "units_needed_for": stats.json_number(self.units_needed_for), "preconditions": list(self.preconditions)}


def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1e-2 or abs(x) >= 1e4 else f"{x:.2f}"


def _power(est: stats.Estimate, target: float | None) -> tuple[float | None, int | None]:
    """Minimal detectable effect at this n, and the units needed to detect ``target``."""
    if not math.isfinite(est.se) or est.se <= 0:
        return None, None
    n_for_crit = est.n if est.method == stats.T_INTERVAL else None
    mde = stats.minimal_detectable_effect(est.se, n_for_crit)
    if est.method == stats.FISHER_Z and est.n > 3:
        # on the z scale: n - 3 = ((z_a + z_b) / atanh(r))^2
        mde = math.tanh(mde)
        needed = None
        if target is not None and 0 < abs(target) < 1:
            needed = int(math.ceil(((stats._crit(None, stats.CONFIDENCE, stats.POWER)) / math.atanh(abs(target))) ** 2 + 3))
        return mde, needed
    needed = stats.units_needed_from_se(est.se, est.n, target) if target else None
    return mde, needed


def judge(test: ClaimTest, est: stats.Estimate | None, *, paper_value: float | None = None,
          preconditions: dict | None = None) -> Judgement:
    """The verdict for one claim: ``est`` measured, ``preconditions`` {id: measured value}."""
    measured = preconditions or {}
    checked = []
    for pre in test.preconditions:
        if pre.id not in measured:
            raise KeyError(f"precondition {pre.id!r} ({pre.statement}) was declared but not measured: "
                           f"pass preconditions={{{pre.id!r}: value}}")
        value = measured[pre.id]
        value = value.point if isinstance(value, stats.Estimate) else float(value)
        checked.append({"id": pre.id, "statement": pre.statement, "value": round(value, 6), "passed": pre.holds(value)})
    if test.kind == "not testable":
        return Judgement(NOT_TESTABLE, test.reason, est, preconditions=tuple(checked))
    failed = [c for c in checked if not c["passed"]]
    if failed:
        why = "; ".join(f"{c['statement']} (measured {_fmt(c['value'])})" for c in failed)
        return Judgement(NOT_TESTABLE, f"precondition failed: {why}", est, preconditions=tuple(checked))
    if est is None:
        raise ValueError("a testable claim needs an estimate")
    if est.method != test.interval:
        raise DeclarationError(f"the claim declares a {test.interval!r} interval but the estimate is {est.method!r} "
                               f"({est.description}); measure it the declared way or change the declaration before the run")
    if test.kind == "value" and paper_value is None:
        raise DeclarationError("a 'value' test needs the paper's value")
    if est.n < test.min_n and est.method != stats.PERMUTATION:
        return Judgement(INCONCLUSIVE, f"only {est.n} {est.unit} (< {test.min_n}): too few for an interval",
                         est, preconditions=tuple(checked))
    interval = f"{_fmt(est.point)} [{_fmt(est.ci_low)}, {_fmt(est.ci_high)}]"
    if est.method == stats.PERMUTATION:
        verdict, reason = _permutation(test, est, interval)
        return Judgement(verdict, reason, est, preconditions=tuple(checked))
    if test.kind == "directional":
        verdict, reason, target = _directional(test, est, paper_value, interval)
    else:
        verdict, reason, target = _equivalence(test, est, paper_value, interval)
    mde = needed = None
    if verdict == INCONCLUSIVE:
        mde, needed = _power(est, target)
        if mde is not None:
            reason += f"; detectable at this n: {_fmt(mde)}"
        if needed is not None and target is not None:
            reason += f"; ~{needed} {est.unit} to detect {_fmt(target)} with 80% power"
    return Judgement(verdict, reason, est, mde, needed, target, tuple(checked))


def _directional(test: ClaimTest, est: stats.Estimate, paper_value, interval: str):
    d = test.direction
    lo, hi = sorted((d * (est.ci_low - test.null), d * (est.ci_high - test.null)))
    point = d * (est.point - test.null)
    paper = None if paper_value is None else d * (paper_value - test.null)
    side = "above" if d > 0 else "below"
    # the effect the run should be able to see: the paper's size when it is comparable, else the
    # declared practical size, else the one we measured
    target = paper if (test.size and paper is not None and paper > 0) else test.practical or (abs(point) or None)
    if lo > 0:
        if test.size and paper is not None:
            consistent = (lo <= paper <= hi) or (test.margin is not None and abs(point - paper) <= test.margin)
            if not consistent:
                return (DIRECTION_ONLY, f"{interval}: {side} {test.null:g} as claimed, but the size disagrees with "
                        f"the paper's {paper_value:g}" + (f" (beyond ±{test.margin:g})" if test.margin else ""), None)
            return REPRODUCED, f"{interval}: {side} {test.null:g}, size consistent with the paper's {paper_value:g}", None
        return REPRODUCED, f"{interval}: {side} {test.null:g} as claimed", None
    if hi < 0:
        return CONTRADICTED, f"{interval}: significantly on the other side of {test.null:g}", None
    if test.practical is not None and hi < test.practical:
        return (CONTRADICTED, f"{interval}: excludes every effect of practical size "
                f"(>= {test.practical:g} {side} {test.null:g}, declared before the run)", None)
    return INCONCLUSIVE, f"{interval}: contains both no effect and the claimed effect", target


def _permutation(test: ClaimTest, est: stats.Estimate, interval: str):
    """A handful of units (teachers, settings): the exact permutation test decides, not an interval."""
    if test.kind != "directional":
        raise DeclarationError("a permutation test decides directional claims only")
    p = est.p_value
    side = test.direction * (est.point - test.null)
    exact = "exact" if est.n <= stats.EXACT_PERMUTATION_MAX else "Monte Carlo"
    text = f"{interval}, {exact} permutation p = {p:.3g} over {est.n} {est.unit}"
    if p < 1 - stats.CONFIDENCE and side > 0:
        return REPRODUCED, text
    if p < 1 - stats.CONFIDENCE and side < 0:
        return CONTRADICTED, text + ": significant on the other side"
    smallest = 2 / math.factorial(est.n) if est.n <= stats.EXACT_PERMUTATION_MAX else 0.0
    return INCONCLUSIVE, text + (f" (the smallest p-value {est.n} {est.unit} can give is {smallest:.3g})" if smallest else "")


def _equivalence(test: ClaimTest, est: stats.Estimate, paper_value, interval: str):
    center = paper_value if test.kind == "value" else test.null
    m = test.margin
    lo, hi = est.ci_low - center, est.ci_high - center
    what = f"the paper's {paper_value:g}" if test.kind == "value" else f"{center:g}"
    if -m < lo and hi < m:
        return REPRODUCED, f"{interval}: inside {what} ± {m:g}", None
    if lo >= m or hi <= -m:
        return CONTRADICTED, f"{interval}: entirely outside {what} ± {m:g}", None
    # to resolve: the interval's half-width must shrink below the distance to the margin
    gap = m - abs(est.point - center)
    return INCONCLUSIVE, f"{interval}: overlaps the edge of {what} ± {m:g}", (gap if gap > 0 else None)


def judge_check(passed: bool) -> str:
    return PASS if passed else FAIL


__all__ = ["REPRODUCED", "DIRECTION_ONLY", "INCONCLUSIVE", "CONTRADICTED", "NOT_TESTABLE", "VERDICTS",
           "PASS", "FAIL", "PAPER", "OURS", "CHECK", "CATEGORIES", "KINDS", "UNITS", "DeclarationError",
           "Precondition", "ClaimTest", "Judgement", "judge", "judge_check"]
