"""Statistics shared by every chapter: summaries, estimates with intervals, tests and power.

Conventions: a "per-seed" array has the replication axis first (seeds, data draws, folds). Every
inferential number in the book is an :class:`Estimate`: a point value, a two-sided 95% interval,
the number of independent units behind it, what those units are and how the interval was made.
The verdict logic that reads estimates lives in :mod:`mfh_lib.evidence`.

Intervals, by statistic:

* a mean (of a paired per-seed difference, say): Student t over the units (:func:`mean_estimate`);
* a correlation over a handful of settings or teachers: Fisher z with the Bonett-Wright standard
  error for Spearman, so the interval stays inside [-1, 1], plus an exact permutation p-value
  (:func:`correlation_estimate`);
* a correlation of a per-setting statistic averaged over seeds: percentile bootstrap over seeds, the
  unit of replication (:func:`correlation_over_seeds`; percentiles of a bounded statistic are bounded).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import stats as sps

CONFIDENCE = 0.95
POWER = 0.8


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


def summarize(values, confidence: float = CONFIDENCE) -> Summary:
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


# --- estimates ---------------------------------------------------------------------------------

# Interval families a claim can declare (paper_numbers/*.json, "test": {"interval": ...}).
T_INTERVAL = "t"
FISHER_Z = "fisher-z"
BOOTSTRAP = "bootstrap"
PERMUTATION = "permutation"
INTERVALS = (T_INTERVAL, FISHER_Z, BOOTSTRAP, PERMUTATION)


@dataclass(frozen=True)
class Estimate:
    """A statistic with its 95% interval, over ``n`` independent ``unit``s.

    ``se`` is the standard error the interval implies (used by the power helpers); ``df`` the degrees
    of freedom of a t interval (None otherwise); ``p_value`` a two-sided p-value of "no effect" where
    the method gives one (permutation tests); ``values`` the per-unit values, kept for the ledger.
    """

    point: float
    ci_low: float
    ci_high: float
    n: int
    unit: str
    method: str
    description: str
    se: float = float("nan")
    df: float | None = None
    p_value: float | None = None
    values: tuple = field(default=(), repr=False)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["values"] = [round(float(v), 6) for v in self.values]
        for key in ("point", "ci_low", "ci_high", "se", "p_value"):
            out[key] = json_number(out[key])
        return out


def json_number(x):
    """A float for a results file: rounded to 6 decimals, None where not finite; others unchanged."""
    if isinstance(x, (float, np.floating)):
        return round(float(x), 6) if math.isfinite(float(x)) else None
    return x


def per_seed_slope(settings, values) -> np.ndarray:
    """(S,) least-squares slope over ``settings`` (G,) of each column of ``values`` (G, S): the
    per-unit trend a sweep claim is judged on (one slope per seed, then an interval over seeds)."""
    x = np.asarray(settings, dtype=float)
    y = np.asarray(values, dtype=float)
    x = x - x.mean()
    return (x[:, None] * (y - y.mean(axis=0))).sum(axis=0) / (x ** 2).sum()


def mean_estimate(values, unit: str = "seeds", what: str = "mean") -> Estimate:
    """Mean of per-unit values (e.g. paired per-seed differences) with a Student-t 95% interval.

    With one unit, or no spread, the interval has zero width and ``se`` is 0 or nan: the evidence
    engine treats fewer than three units as too few for an interval to mean anything.
    """
    x = _as_array(values)
    if x.size == 0:
        raise ValueError(f"no values for the {what}: an experiment produced nothing to summarise")
    if not np.isfinite(x).all():
        raise ValueError(f"non-finite values for the {what}: {x.tolist()}")
    s = summarize(x)
    se = s.std / math.sqrt(s.n) if s.n > 1 else float("nan")
    return Estimate(s.mean, s.ci_low, s.ci_high, s.n, unit, T_INTERVAL,
                    f"{what}, t interval over {s.n} {unit}", se=se, df=s.n - 1 if s.n > 1 else None,
                    values=tuple(x.tolist()))


def bootstrap_ci(values, statistic, num_resamples: int = 2000, confidence: float = CONFIDENCE, seed: int = 0):
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


def pearson(x, y) -> float:
    x, y = _as_array(x), _as_array(y)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


_CORRELATIONS = {"spearman": spearman, "pearson": pearson}
EXACT_PERMUTATION_MAX = 8  # 8! = 40,320 permutations; beyond, Monte Carlo


def permutation_p_value(x, y, kind: str = "spearman", max_exact: int = EXACT_PERMUTATION_MAX, num_resamples: int = 20000,
                        seed: int = 0) -> float:
    """Two-sided p-value of "no association" by permuting y: exact (every permutation) up to
    ``max_exact`` points, Monte Carlo (with the +1 correction) beyond."""
    corr = _CORRELATIONS[kind]
    x, y = _as_array(x), _as_array(y)
    observed = abs(corr(x, y))
    if not math.isfinite(observed):
        return float("nan")
    if x.size <= max_exact:
        stats_ = np.array([corr(x, y[list(p)]) for p in itertools.permutations(range(x.size))])
        return float(np.mean(np.abs(stats_) >= observed - 1e-12))
    rng = np.random.default_rng(seed)
    hits = sum(abs(corr(x, rng.permutation(y))) >= observed - 1e-12 for _ in range(num_resamples))
    return float((hits + 1) / (num_resamples + 1))


def correlation_estimate(x, y, unit: str = "settings", kind: str = "spearman") -> Estimate:
    """Rank (or Pearson) correlation over ``n`` units with a Fisher-z 95% interval, bounded in
    [-1, 1], and an exact permutation p-value.

    For Spearman the z standard error is Bonett and Wright's sqrt((1 + r^2 / 2) / (n - 3)); with
    n <= 3 no z interval exists and the interval is [-1, 1] (the permutation p-value still speaks).
    """
    r = _CORRELATIONS[kind](x, y)
    n = _as_array(x).size
    p = permutation_p_value(x, y, kind, max_exact=EXACT_PERMUTATION_MAX)
    test = "exact permutation" if n <= EXACT_PERMUTATION_MAX else "Monte Carlo permutation"
    if not math.isfinite(r):
        return Estimate(float("nan"), -1.0, 1.0, n, unit, FISHER_Z, f"{kind} over {n} {unit}: undefined (constant input)",
                        p_value=p)
    if n <= 3:
        lo, hi, se = -1.0, 1.0, float("nan")
    else:
        se = math.sqrt((1 + r * r / 2) / (n - 3)) if kind == "spearman" else 1 / math.sqrt(n - 3)
        z = math.atanh(max(min(r, 1 - 1e-12), -1 + 1e-12))
        crit = sps.norm.ppf(0.5 + CONFIDENCE / 2)
        lo, hi = math.tanh(z - crit * se), math.tanh(z + crit * se)
    return Estimate(r, lo, hi, n, unit, FISHER_Z,
                    f"{kind} over {n} {unit}, Fisher-z interval, {test} p = {p:.3g}",
                    se=se, p_value=p, values=tuple(_as_array(y).tolist()))


def permutation_correlation(x, y, unit: str = "teachers", kind: str = "spearman") -> Estimate:
    """:func:`correlation_estimate` judged by its exact permutation p-value (a handful of units,
    where an asymptotic interval means little); the Fisher-z interval is kept for display."""
    est = correlation_estimate(x, y, unit, kind)
    return Estimate(est.point, est.ci_low, est.ci_high, est.n, unit, PERMUTATION,
                    est.description.replace("Fisher-z interval, ", "decided by the "),
                    se=est.se, p_value=est.p_value, values=est.values)


def spearman_over_seeds(x, per_seed_y, num_resamples: int = 2000, seed: int = 0):
    """Rank correlation of a per-setting statistic with ``x``, and its bootstrap CI over seeds.

    ``per_seed_y`` has shape (seeds, settings); the correlation is computed on the seed mean and
    the CI resamples seeds (the unit of replication), not settings.
    """
    per_seed_y = np.asarray(per_seed_y, dtype=float)
    rho = spearman(x, per_seed_y.mean(axis=0))
    ci = bootstrap_ci(per_seed_y, lambda ys: spearman(x, ys.mean(axis=0)), num_resamples, seed=seed)
    return rho, ci


def correlation_over_seeds(x, per_seed_y, unit: str = "seeds", num_resamples: int = 2000, seed: int = 0) -> Estimate:
    """:func:`spearman_over_seeds` as an Estimate: the Spearman correlation of the seed-mean curve
    with ``x``, with a percentile bootstrap interval over seeds (inside [-1, 1] by construction).

    ``values`` holds each seed's own correlation. With few seeds the bootstrap has few distinct
    resamples (10 for 3 seeds), so its interval is coarse: the description says how many seeds.
    """
    per_seed_y = np.asarray(per_seed_y, dtype=float)
    rho, (lo, hi) = spearman_over_seeds(x, per_seed_y, num_resamples, seed)
    n = per_seed_y.shape[0]
    per_seed = tuple(spearman(x, row) for row in per_seed_y)
    se = (hi - lo) / (2 * sps.norm.ppf(0.5 + CONFIDENCE / 2))
    return Estimate(rho, lo, hi, n, unit, BOOTSTRAP,
                    f"Spearman of the {unit}-mean curve over {per_seed_y.shape[1]} settings, "
                    f"percentile bootstrap over {n} {unit}", se=se, values=per_seed)


def value_estimate(value: float, unit: str = "computation", what: str = "value") -> Estimate:
    """An exact number (a closed form, a deterministic computation): no sampling variability."""
    value = float(value)
    return Estimate(value, value, value, 1, unit, T_INTERVAL, f"{what} (exact, no sampling error)", se=0.0,
                    values=(value,))


# --- power -------------------------------------------------------------------------------------

def _crit(n: int | float | None, confidence: float, power: float) -> float:
    """z_{1-alpha/2} + z_{power}, with t quantiles when the degrees of freedom are known."""
    if n is None or not math.isfinite(n) or n < 2:
        return float(sps.norm.ppf(0.5 + confidence / 2) + sps.norm.ppf(power))
    return float(sps.t.ppf(0.5 + confidence / 2, n - 1) + sps.t.ppf(power, n - 1))


def minimal_detectable_effect(se: float, n: int | None = None, confidence: float = CONFIDENCE, power: float = POWER) -> float:
    """The smallest true effect a two-sided test at this standard error detects with ``power``."""
    return _crit(n, confidence, power) * se


def units_needed(sd: float, effect: float, confidence: float = CONFIDENCE, power: float = POWER,
                 max_units: int = 100_000) -> int | None:
    """Units (seeds, draws) a paired t test needs to detect ``effect`` at ``power``, from a pilot's
    per-unit standard deviation ``sd``. None when no effect or no spread makes the question moot."""
    effect = abs(effect)
    if not (math.isfinite(sd) and math.isfinite(effect)) or effect == 0:
        return None
    if sd == 0:
        return 3
    n = 3
    while n <= max_units:
        if _crit(n, confidence, power) * sd / math.sqrt(n) <= effect:
            return n
        n = n + 1 if n < 200 else int(n * 1.05) + 1
    return None


def units_needed_from_se(se: float, n: int, effect: float, confidence: float = CONFIDENCE, power: float = POWER) -> int | None:
    """:func:`units_needed` for any estimate whose standard error shrinks as 1/sqrt(n)."""
    if not (math.isfinite(se) and n >= 1):
        return None
    return units_needed(se * math.sqrt(n), effect, confidence, power)
