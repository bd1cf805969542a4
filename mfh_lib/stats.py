"""Statistics shared by every chapter: summaries over seeds, confidence intervals, verdicts.

Conventions: a "per-seed" array has the seed axis first. Confidence intervals are two-sided 95%
Student-t intervals for means (seeds are few, so t rather than normal), and percentile bootstrap
intervals for statistics with no simple sampling distribution (rank correlations).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

REPRODUCED = "reproduced"
PARTLY = "partly"
NOT_REPRODUCED = "not reproduced"
NOT_TESTABLE = "not testable"
VERDICTS = (REPRODUCED, PARTLY, NOT_REPRODUCED, NOT_TESTABLE)


@dataclass(frozen=True)
class Summary:
    mean: float
    std: float
    ci_low: float
    ci_high: float
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.2f} ± {self.std:.2f}"


def _as_array(values) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=float).reshape(-1)


def summarize(values, confidence: float = 0.95) -> Summary:
    """Mean, sample std (ddof=1) and a t confidence interval for the mean."""
    x = _as_array(values)
    n = x.size
    mean = float(x.mean())
    std = float(x.std(ddof=1)) if n > 1 else 0.0
    if n > 1 and std > 0:
        half = float(sps.t.ppf(0.5 + confidence / 2, n - 1)) * std / np.sqrt(n)
    else:
        half = 0.0
    return Summary(mean, std, mean - half, mean + half, n)


def mean_std(values, decimals: int = 2) -> str:
    """'m ± s' with fixed decimals, for tables and stable printed output."""
    s = summarize(values)
    return f"{s.mean:.{decimals}f} ± {s.std:.{decimals}f}"


def bootstrap_ci(values, statistic, num_resamples: int = 2000, confidence: float = 0.95, seed: int = 0):
    """Percentile bootstrap CI of ``statistic`` over resamples of the first axis of ``values``."""
    values = np.asarray(values)
    rng = np.random.default_rng(seed)
    n = values.shape[0]
    draws = np.array([statistic(values[rng.integers(0, n, n)]) for _ in range(num_resamples)])
    draws = draws[np.isfinite(draws)]
    lo, hi = np.quantile(draws, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(lo), float(hi)


def spearman(x, y) -> float:
    """Spearman rank correlation (nan when either side is constant)."""
    x, y = _as_array(x), _as_array(y)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(sps.spearmanr(x, y).statistic)


def spearman_over_seeds(x, per_seed_y, num_resamples: int = 2000, seed: int = 0):
    """Rank correlation of a per-setting statistic with ``x``, and its bootstrap CI over seeds.

    ``per_seed_y`` has shape (seeds, settings); the correlation is computed on the seed mean and
    the CI resamples seeds (the unit of replication), not settings.
    """
    per_seed_y = np.asarray(per_seed_y, dtype=float)
    rho = spearman(x, per_seed_y.mean(axis=0))
    ci = bootstrap_ci(per_seed_y, lambda ys: spearman(x, ys.mean(axis=0)), num_resamples, seed=seed)
    return rho, ci


def verdict_from_interval(ci_low: float, ci_high: float, direction: int = +1, point: float | None = None) -> str:
    """Verdict for a directional claim ("difference > 0" for direction=+1).

    reproduced: the CI lies on the claimed side of 0; not reproduced: it lies on the other side or
    the point estimate has the wrong sign; partly: right sign but the CI includes 0.
    """
    lo, hi = (ci_low, ci_high) if direction > 0 else (-ci_high, -ci_low)
    mid = (lo + hi) / 2 if point is None else direction * point
    if lo > 0:
        return REPRODUCED
    if hi < 0 or mid <= 0:
        return NOT_REPRODUCED
    return PARTLY


def verdict_for_difference(differences, direction: int = +1) -> tuple[str, Summary]:
    """Verdict for a paired per-seed difference (e.g. KD acc - no-KD acc) claimed to be >0 (or <0)."""
    s = summarize(differences)
    verdict = verdict_from_interval(s.ci_low, s.ci_high, direction, s.mean)
    if verdict == REPRODUCED and s.n < 3:  # too few seeds for an interval to mean anything
        verdict = PARTLY
    return verdict, s


def verdict_for_value(values, paper_value: float, tolerance: float) -> tuple[str, Summary]:
    """Verdict for matching a paper's number (same data and setting).

    reproduced: |mean - paper| <= tolerance; partly: the paper's value lies within the 95% CI
    widened by the tolerance; not reproduced otherwise.
    """
    s = summarize(values)
    if abs(s.mean - paper_value) <= tolerance:
        return REPRODUCED, s
    if s.ci_low - tolerance <= paper_value <= s.ci_high + tolerance:
        return PARTLY, s
    return NOT_REPRODUCED, s
