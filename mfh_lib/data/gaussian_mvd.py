"""The synthetic Gaussian modality Venn diagram of MFH App. B.2, eq. (27).

    x* ~ N(0, I_d),  y = 1(<delta, x*> > 0)
    x^a ~ N(0, I_d1),  x^a_{J1} <- x*_{J1}
    x^b ~ N(0, I_d2),  x^b_{J2} <- x*_{J2}

Index sets address x* and the modality vector alike (as in the authors' code), so every index in
J1 must be < min(d, d1) and every index in J2 < min(d, d2). Modality-general decisive features are
J1 ∩ J2; alpha = 1 - |J2|/|J1 ∪ J2|, beta = 1 - |J1|/|J1 ∪ J2|, gamma = |J1 ∩ J2|/|J1 ∪ J2|.
Decisive coordinates outside J1 ∪ J2 (possible when d > |J1 ∪ J2|) are seen by neither modality:
they act as label noise for both.
"""
from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import torch

from ..config import ConfigError, check_unit_interval


@dataclass(frozen=True)
class MVDSpec:
    d1: int
    d2: int
    d: int
    J1: tuple[int, ...]
    J2: tuple[int, ...]

    def __post_init__(self):
        def is_int(value):  # bool is an Integral too, but True is not an index
            return isinstance(value, Integral) and not isinstance(value, bool)

        for name, dim in (("d1", self.d1), ("d2", self.d2), ("d", self.d)):
            if not is_int(dim) or dim < 1:
                raise ConfigError(f"{name} must be a positive integer, got {dim!r}")
        for name, J, du, dname in (("J1", self.J1, self.d1, "d1"), ("J2", self.J2, self.d2, "d2")):
            not_int = [j for j in J if not is_int(j)]
            if not_int:
                raise ConfigError(f"{name} indices must be integers (positions in x*), got {not_int}")
            if len(set(J)) != len(J):
                raise ConfigError(f"{name} has repeated indices: {J}")
            bad = [j for j in J if not 0 <= j < min(self.d, du)]
            if bad:
                raise ConfigError(
                    f"{name} indices {bad} do not fit: each must be in [0, min(d={self.d}, {dname}={du})); "
                    f"shrink {name} or enlarge d / {dname}"
                )
        if not set(self.J1) | set(self.J2):
            raise ConfigError("J1 and J2 are both empty: no modality sees a decisive feature")

    @property
    def union(self) -> int:
        return len(set(self.J1) | set(self.J2))

    @property
    def overlap(self) -> int:
        return len(set(self.J1) & set(self.J2))

    @property
    def gamma(self) -> float:
        return self.overlap / self.union

    @property
    def alpha(self) -> float:
        return 1 - len(self.J2) / self.union

    @property
    def beta(self) -> float:
        return 1 - len(self.J1) / self.union

    @property
    def shared_columns(self) -> tuple[int, ...]:
        """Columns of x^a (the teacher modality) holding modality-general decisive features."""
        return tuple(sorted(set(self.J1) & set(self.J2)))


def spec_from_counts(d1: int, d2: int, d: int, only_a: int, only_b: int, shared: int) -> MVDSpec:
    """Contiguous index sets: [shared | only-a | only-b] laid out from 0 in x*.

    J1 = shared + only-a features, J2 = shared + only-b features. Raises if they do not fit.
    """
    for name, v in (("only_a", only_a), ("only_b", only_b), ("shared", shared)):
        if v < 0:
            raise ConfigError(f"{name} must be >= 0, got {v}")
    shared_idx = tuple(range(shared))
    a_idx = tuple(range(shared, shared + only_a))
    b_idx = tuple(range(shared + only_a, shared + only_a + only_b))
    return MVDSpec(d1, d2, d, shared_idx + a_idx, shared_idx + b_idx)


def spec_for_gamma(gamma: float, num_decisive: int, d1: int, d2: int, d: int | None = None) -> MVDSpec:
    """A symmetric spec (alpha = beta) whose gamma is closest to the requested one.

    ``num_decisive`` = |J1 ∪ J2|; the shared count is round(gamma * num_decisive) and the rest is
    split evenly between the two modality-specific parts.
    """
    check_unit_interval("gamma", gamma)
    shared = round(gamma * num_decisive)
    rest = num_decisive - shared
    return spec_from_counts(d1, d2, d or num_decisive, rest - rest // 2, rest // 2, shared)


def draw_hyperplane(d: int, num_draws: int, generator: torch.Generator) -> torch.Tensor:
    """(num_draws, d) standard-normal separating hyperplanes delta."""
    return torch.randn(num_draws, d, generator=generator)


def sample_mvd(spec: MVDSpec, n: int, delta: torch.Tensor, generator: torch.Generator):
    """Draw n pairs per hyperplane: returns x_a (S, n, d1), x_b (S, n, d2), y (S, n) int64.

    ``delta`` is (S, d) (one hyperplane per independent run), so S runs are drawn in one call.
    """
    if delta.ndim != 2 or delta.shape[1] != spec.d:
        raise ConfigError(f"delta must have shape (runs, d={spec.d}), got {tuple(delta.shape)}")
    runs = delta.shape[0]
    x_star = torch.randn(runs, n, spec.d, generator=generator)
    y = (torch.einsum("snd,sd->sn", x_star, delta) > 0).long()
    x_a = torch.randn(runs, n, spec.d1, generator=generator)
    x_b = torch.randn(runs, n, spec.d2, generator=generator)
    J1, J2 = list(spec.J1), list(spec.J2)
    x_a[..., J1] = x_star[..., J1]
    x_b[..., J2] = x_star[..., J2]
    return x_a, x_b, y


def spec_from_sizes(d1: int, d2: int, d: int, size_J1: int, size_J2: int, overlap: int) -> MVDSpec:
    """The spec with |J1| = size_J1, |J2| = size_J2 and |J1 ∩ J2| = overlap (layout of spec_from_counts).

    This is the parametrisation a reader thinks in (how many decisive features each modality sees
    and how many of them are shared); it raises a ConfigError when the sizes are inconsistent.
    """
    if not 0 <= overlap <= min(size_J1, size_J2):
        raise ConfigError(
            f"overlap must lie in [0, min(|J1|, |J2|)] = [0, {min(size_J1, size_J2)}], got {overlap}; "
            "shrink the overlap or enlarge |J1| / |J2|"
        )
    return spec_from_counts(d1, d2, d, size_J1 - overlap, size_J2 - overlap, overlap)
