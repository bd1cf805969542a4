"""MFH Theorem 1 (Sec. 4.2, App. A): linear binary crossmodal KD, its lemmas, its bound.

Notation follows the paper. ``l(b, a)`` (eq. 7) is the KL divergence between Bernoulli(sigma(a))
(teacher) and Bernoulli(sigma(b)) (student) written in logits; it equals the Bregman divergence of
softplus, ``softplus(b) - softplus(a) - sigma(a) (b - a)``. ``f(eps)`` is Lemma 1's closed form
(eq. 8), the largest ``l(b, a)`` with ``|a - b| <= eps``. Theorem 1 bounds the converged
distillation risk (eq. 6) by ``n f(eps*)`` with ``eps* = lam^1.5 (lam^2 + 1) (1 - gamma) eps``.

Array convention: the paper stacks n samples as columns, ``Z^u`` in R^{d_u x n}; here features are
stored sample-major, ``X^u = Z^{u,T}`` of shape (..., n, d_u), with any leading batch axes (runs).
So ``Z Z^T = X^T X`` (d x d) and ``Z^T Z = X X^T`` (n x n, the Gram matrix of eq. 4).
Everything is batched over leading axes; use float64 (the bounds reach 1e13 at the paper's scale).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .config import ConfigError, check_unit_interval
from .data.gaussian_mvd import MVDSpec, draw_hyperplane, sample_mvd, spec_from_counts


# --- Lemma 1 and Corollary 1 -------------------------------------------------------------------

def logit_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """l(b, a) of eq. (7), elementwise: KL(Bernoulli(sigma(a)) || Bernoulli(sigma(b)))."""
    b, a = student_logits, teacher_logits
    # clamp: the Bregman form can come out at -1e-17 by round-off where the KL is exactly 0
    return (F.softplus(b) - F.softplus(a) - torch.sigmoid(a) * (b - a)).clamp_min(0)


def kl_envelope(eps) -> torch.Tensor:
    """f(eps) = eps / (1 - e^-eps) - 1 - ln(eps / (1 - e^-eps)), Lemma 1's max (eq. 8); f(0) = 0.

    ``-expm1(-eps)`` keeps 1 - e^-eps accurate for small eps; below 1e-4 the second-order
    expansion f = eps^2/8 - eps^4/1152 + O(eps^6) replaces the cancelling closed form.
    """
    eps = torch.as_tensor(eps, dtype=torch.float64)
    if (eps < 0).any():
        raise ValueError("eps must be >= 0")
    safe = torch.where(eps < 1e-4, torch.ones_like(eps), eps)
    u = safe / -torch.expm1(-safe)
    closed = u - 1 - torch.log(u)
    series = eps**2 / 8 - eps**4 / 1152
    return torch.where(eps < 1e-4, series, closed)


def lemma1_argmax(eps) -> torch.Tensor:
    """Teacher logit a where l(a + eps, a) attains f(eps): a = -ln[(e^eps(1-eps) - 1)/(1 + eps - e^eps)].

    The paper's t = e^-a; the expression is exact but cancels for small eps, so it is meant for
    0.01 <= eps <= 30 (plots, tests), not for the huge eps* of the theorem.
    """
    eps = torch.as_tensor(eps, dtype=torch.float64)
    t = (torch.exp(eps) * (1 - eps) - 1) / (1 + eps - torch.exp(eps))
    return -torch.log(t)


def corollary1_bound(n: int, eps) -> torch.Tensor:
    """Corollary 1 (eq. 12): sum_i l(b_i, a_i) <= n f(eps) when ||a - b|| <= eps."""
    return n * kl_envelope(eps)


# --- Lemma 2 and the data constant lambda --------------------------------------------------------

def data_lambda(features: torch.Tensor) -> torch.Tensor:
    """max{||Z Z^T||, ||(Z Z^T)^-1||} (spectral norms) of features X = Z^T, shape (..., n, d)."""
    eigenvalues = torch.linalg.eigvalsh(features.mT @ features)  # ascending, (..., d)
    return torch.maximum(eigenvalues[..., -1], 1 / eigenvalues[..., 0])


def gram_difference_norm(features_a: torch.Tensor, features_b: torch.Tensor) -> torch.Tensor:
    """||Z^{a,T} Z^a - Z^{b,T} Z^b||, the spectral norm of the n x n Gram-matrix gap of eq. (4).

    The gap is W J W^T with W = [X^a, X^b] (n x 2d) and J = diag(I, -I). With the reduced QR
    W = QR it has the eigenvalues of R J R^T (2d x 2d), so no n x n matrix is formed: O(n d^2).
    """
    if features_a.shape != features_b.shape:
        raise ConfigError(
            f"eq. (4) compares Z^a and Z^b of equal shape, got {tuple(features_a.shape)} and "
            f"{tuple(features_b.shape)}; build the MVD with d_a = d_b (see theorem1_spec)"
        )
    dim = features_a.shape[-1]
    r = torch.linalg.qr(torch.cat([features_a, features_b], dim=-1), mode="r").R
    signs = torch.cat([r.new_ones(dim), -r.new_ones(dim)])
    eigenvalues = torch.linalg.eigvalsh((r * signs) @ r.mT)
    # identical blocks (gamma = 1) have a gap of exactly 0, which QR would blur into round-off
    identical = (features_a == features_b).flatten(-2).all(-1)
    return torch.where(identical, torch.zeros_like(eigenvalues[..., 0]), eigenvalues.abs().amax(-1))


def projection_residual(features_a: torch.Tensor, features_b: torch.Tensor) -> torch.Tensor:
    """(I - P_b) Z^{a,T}, with P_b = Z^{b,T}(Z^b Z^{b,T})^-1 Z^b the projection on the student's span.

    Its norm is the left side of Lemma 2 (eq. 13): ||Z^{b,T}(Z^b Z^{b,T})^-1 Z^b Z^{a,T} - Z^{a,T}||.
    """
    coefficients = torch.linalg.lstsq(features_b, features_a).solution  # (Z^b Z^bT)^-1 Z^b Z^aT
    return features_a - features_b @ coefficients


def lemma2_lhs(features_a: torch.Tensor, features_b: torch.Tensor) -> torch.Tensor:
    return torch.linalg.matrix_norm(projection_residual(features_a, features_b), ord=2)


def lemma2_factor(lam) -> torch.Tensor:
    """lam^1.5 (lam^2 + 1), the constant of Lemma 2 and of eps*."""
    lam = torch.as_tensor(lam, dtype=torch.float64)
    return lam**1.5 * (lam**2 + 1)


def lemma2_rhs(lam, gram_gap) -> torch.Tensor:
    """Lemma 2's right side with (1 - gamma) eps replaced by the Gram gap it bounds."""
    return lemma2_factor(lam) * torch.as_tensor(gram_gap, dtype=torch.float64)


def lemma2_sharp_rhs(features_a: torch.Tensor, gram_gap) -> torch.Tensor:
    """A sharper Lemma 2 (our derivation, not the paper's): ||(AA^T)^-1||^0.5 * Gram gap.

    From eq. (14), LHS = ||(I - P_b)(A^T A - B^T B) A^T (A A^T)^-1||; I - P_b is an orthogonal
    projection (norm <= 1, not <= lam^2 + 1) and ||A^T (A A^T)^-1|| = ||(A A^T)^-1||^0.5 exactly
    (not <= lam * lam^0.5). So lam^0.5 * gap bounds it, a factor lam (lam^2 + 1) below eq. (13).
    """
    eigenvalues = torch.linalg.eigvalsh(features_a.mT @ features_a)
    return eigenvalues[..., 0].rsqrt() * gram_gap


# --- Theorem 1 -----------------------------------------------------------------------------------

def eps_star(lam, gamma: float, eps) -> torch.Tensor:
    """eps* = lam^1.5 (lam^2 + 1) (1 - gamma) eps (Theorem 1)."""
    check_unit_interval("gamma", gamma)
    return lemma2_factor(lam) * (1 - gamma) * torch.as_tensor(eps, dtype=torch.float64)


def theorem1_bound(n: int, eps_star_value) -> torch.Tensor:
    """The right side of eq. (5): n f(eps*)."""
    return corollary1_bound(n, eps_star_value)


def estimate_eps(gram_gaps: torch.Tensor, gamma: float, delta: float) -> float:
    """Smallest eps that makes eq. (4) hold empirically: the (1-delta) quantile of gap/(1-gamma).

    ``gram_gaps`` are ||Z^aT Z^a - Z^bT Z^b|| over independent draws of the data. The 'higher'
    quantile makes at least a (1 - delta) share of the draws satisfy the condition. At gamma = 1
    the gap is 0 in every draw (Z^a = Z^b) and any eps works: 0 is returned, so eps* = 0.
    """
    check_unit_interval("gamma", gamma)
    check_unit_interval("delta", delta)
    quantile = float(torch.quantile(gram_gaps.to(torch.float64), 1 - delta, interpolation="higher"))
    if gamma == 1.0:
        if quantile > 0:
            raise ConfigError("gamma = 1 but Z^a != Z^b: the data do not match gamma; check the MVD spec")
        return 0.0
    return quantile / (1 - gamma)


def distillation_risk(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """R_n^dis of eq. (6): sum over the n samples (last axis) of l(theta_s^T x^b_i, theta_t^T x^a_i)."""
    return logit_kl(student_logits, teacher_logits).sum(-1)


# --- Gradient flow on R_dis ----------------------------------------------------------------------

def risk_smoothness(features: torch.Tensor) -> torch.Tensor:
    """L = ||X^T X|| / 4 bounds the Hessian X^T diag(sigma') X of R_dis (sigma' <= 1/4)."""
    return torch.linalg.eigvalsh(features.mT @ features)[..., -1] / 4


def gradient_flow(features: torch.Tensor, teacher_logits: torch.Tensor, flow_time: float,
                  step: float = 0.5, theta0: torch.Tensor | None = None, num_records: int = 21):
    """Integrate d theta/dt = -grad R_dis(theta) (eq. 24) with explicit Euler, batched over runs.

    ``features`` (..., n, d) are the student's X^b, ``teacher_logits`` (..., n). Time is measured
    in units of 1/L per run (L = ``risk_smoothness``), so one ``step`` = step/L of flow time and
    every run is integrated at the same relative resolution; ``flow_time`` is in the same units.
    Euler with step h/L is the gradient-flow ODE up to O(h) (stable for h < 2). Risks are recorded
    at ``num_records`` evenly spaced times, which must be multiples of ``step`` so that runs with
    different steps are compared at the same times. Returns (theta, times, risks (num_records, ...)).
    """
    interval = flow_time / (num_records - 1)
    every = round(interval / step)
    if every < 1 or abs(every * step - interval) > 1e-9 * interval:
        raise ConfigError(f"flow_time/(num_records-1) = {interval:g} must be a multiple of step = {step:g}; "
                          "change flow_time, step or num_records")
    lipschitz = risk_smoothness(features)
    step_size = (step / lipschitz)[..., None]
    targets = torch.sigmoid(teacher_logits)
    theta = features.new_zeros(features.shape[:-2] + features.shape[-1:]) if theta0 is None else theta0.clone()
    num_steps = every * (num_records - 1)
    risks = []
    for k in range(num_steps + 1):
        # broadcast-and-sum rather than batched matmul: many tiny (n x d) products batch poorly
        logits = (features * theta[..., None, :]).sum(-1)
        if k % every == 0:
            risks.append(distillation_risk(logits, teacher_logits))
        if k < num_steps:
            gradient = (features * (torch.sigmoid(logits) - targets)[..., None]).sum(-2)
            theta = theta - step_size * gradient
    times = torch.linspace(0, flow_time, num_records, dtype=torch.float64)
    return theta, times, torch.stack(risks)


def newton_minimum(features: torch.Tensor, teacher_logits: torch.Tensor, theta0: torch.Tensor,
                   num_iters: int = 30) -> tuple[torch.Tensor, torch.Tensor]:
    """The minimiser of the (convex) R_dis by Newton's method from ``theta0``: the flow's t -> inf limit.

    Soft targets in (0, 1) make R_dis strictly convex and coercive when X^b has full column rank,
    so the minimiser is unique and gradient flow converges to it. Started near it (from the
    flow's end point) Newton converges quadratically without line search.
    """
    targets = torch.sigmoid(teacher_logits)
    theta = theta0.clone()
    for _ in range(num_iters):
        logits = (features @ theta[..., None])[..., 0]
        probs = torch.sigmoid(logits)
        gradient = features.mT @ (probs - targets)[..., None]
        hessian = features.mT @ (features * (probs * (1 - probs))[..., None])
        theta = theta - torch.linalg.solve(hessian, gradient)[..., 0]
    logits = (features @ theta[..., None])[..., 0]
    return theta, distillation_risk(logits, teacher_logits)


def proof_student(features_a: torch.Tensor, features_b: torch.Tensor, theta_teacher: torch.Tensor) -> torch.Tensor:
    """theta_s* = (Z^b Z^bT)^-1 Z^b Z^aT theta_t (eq. 20): least squares of teacher logits on X^b."""
    teacher_logits = features_a @ theta_teacher[..., None]
    return torch.linalg.lstsq(features_b, teacher_logits).solution[..., 0]


# --- Data for Theorem 1 --------------------------------------------------------------------------

def theorem1_spec(dim: int, num_shared: int) -> MVDSpec:
    """An eq. (27) MVD whose decisive blocks Z^a, Z^b have the same size d_a = d_b = ``dim``.

    Eq. (4) subtracts n x n Gram matrices, which any shapes allow, but Lemma 2 and the proof treat
    Z^a and Z^b alike, and equal d_a = d_b keeps lam's distribution the same for every gamma:
    only the overlap changes. ``num_shared`` = d_0 of the ``dim`` features are modality-general,
    the other dim - d_0 are specific to each modality, so gamma = d_0 / (2 dim - d_0).
    """
    if not 0 <= num_shared <= dim:
        raise ConfigError(f"num_shared must be in [0, dim={dim}], got {num_shared}")
    union = 2 * dim - num_shared
    specific = dim - num_shared
    return spec_from_counts(union, union, union, specific, specific, num_shared)


def decisive_features(spec: MVDSpec, x_a: torch.Tensor, x_b: torch.Tensor):
    """(X^a, X^b) = the decisive columns J1 of x^a and J2 of x^b: the data with identity g^u.

    Columns come shared-first in both, so at gamma = 1 X^a and X^b are identical.
    """
    if len(spec.J1) != len(spec.J2):
        raise ConfigError(f"Theorem 1 needs d_a = d_b, got |J1|={len(spec.J1)}, |J2|={len(spec.J2)}; use theorem1_spec")
    return x_a[..., list(spec.J1)], x_b[..., list(spec.J2)]


def oracle_teacher(spec: MVDSpec, delta: torch.Tensor) -> torch.Tensor:
    """theta_t = delta_J1 / ||delta_J1||: the Bayes direction for x^a, scaled to ||theta_t|| = 1.

    The proof assumes ||theta_t|| = 1 "without loss of generality"; a logistic-regression teacher
    estimates this same direction.
    """
    direction = delta[..., list(spec.J1)].to(torch.float64)
    return direction / torch.linalg.vector_norm(direction, dim=-1, keepdim=True)


# --- The Theorem 1 experiment: data, flow, and every link of the proof's chain -------------------

@dataclass
class Theorem1Data:
    """Runs of the Theorem 1 setting for several gammas, batched as (gammas G, runs S, ...)."""

    gamma: torch.Tensor  # (G,)
    features_a: torch.Tensor  # (G, S, n, d): X^a = scale * decisive columns of x^a
    features_b: torch.Tensor  # (G, S, n, d)
    theta_teacher: torch.Tensor  # (G, S, d), unit norm
    teacher_logits: torch.Tensor  # (G, S, n)
    reference_gaps: torch.Tensor  # (G, E): eq. (4) Gram gaps of E independent draws per gamma
    reference_lambdas: torch.Tensor  # (G, E): lam of the same draws (max over u = a, b)
    scale: float

    @property
    def n(self) -> int:
        return self.features_a.shape[-2]


def theorem1_data(n: int, dim: int, num_shared: list[int], num_runs: int, num_reference_draws: int,
                  scale: float = 1.0, seed: int = 0, device="cpu") -> Theorem1Data:
    """Draw ``num_runs`` training sets (own hyperplane delta each) per overlap in ``num_shared``.

    Features are eq. (27) decisive blocks (identity g, d_a = d_b = ``dim``) times ``scale``; the
    teacher is the unit-norm oracle. ``num_reference_draws`` further independent draws per gamma
    estimate the (eps, delta) of eq. (4) and lam, so the bound is not fitted to the runs it bounds.
    """
    if n <= dim:
        raise ConfigError(f"Theorem 1 needs Z^u Z^uT invertible, i.e. n > d; got n={n}, d={dim}")
    generator = torch.Generator().manual_seed(seed)
    fields = {k: [] for k in ("gamma", "a", "b", "theta", "gaps", "lams")}
    for shared in num_shared:
        spec = theorem1_spec(dim, shared)
        delta = draw_hyperplane(spec.d, num_runs + num_reference_draws, generator)
        x_a, x_b, _ = sample_mvd(spec, n, delta, generator)
        features_a, features_b = (scale * x.double() for x in decisive_features(spec, x_a, x_b))
        reference = slice(num_runs, None)
        fields["gamma"].append(spec.gamma)
        fields["a"].append(features_a[:num_runs])
        fields["b"].append(features_b[:num_runs])
        fields["theta"].append(oracle_teacher(spec, delta[:num_runs]))
        fields["gaps"].append(gram_difference_norm(features_a[reference], features_b[reference]))
        fields["lams"].append(torch.maximum(data_lambda(features_a[reference]), data_lambda(features_b[reference])))
    features_a = torch.stack(fields["a"]).to(device)
    theta = torch.stack(fields["theta"]).to(device)
    return Theorem1Data(
        gamma=torch.tensor(fields["gamma"], dtype=torch.float64),
        features_a=features_a,
        features_b=torch.stack(fields["b"]).to(device),
        theta_teacher=theta,
        teacher_logits=(features_a @ theta[..., None])[..., 0],
        reference_gaps=torch.stack(fields["gaps"]),
        reference_lambdas=torch.stack(fields["lams"]),
        scale=scale,
    )


def theorem1_chain(data: Theorem1Data, risk_final: torch.Tensor, delta: float) -> dict[str, torch.Tensor]:
    """Every quantity between the converged risk and Theorem 1's bound, per run (G, S) on the CPU.

    Chain of the proof (each line bounds the one before it):
      risk_final = R(theta_s(inf)) <= risk_proof = R(theta_s*)                       (eqs. 23-26)
        <= cor1 = n f(||b* - a||)                                                    (Corollary 1)
        <= lemma2_direct = n f(||(I - P_b) Z^aT||), ||theta_t|| = 1                  (eq. 21)
        <= per_run_bound = n f(lam_run^1.5 (lam_run^2 + 1) gap_run)                  (Lemma 2, eq. 19)
        <= theorem_bound = n f(eps*), eps* from lam_hat and the (1-delta) eps_hat    (Theorem 1)
    the last step only when the run meets the estimated conditions (``conditions_hold``).
    Also: risk_zero = R(0) (the trivial student, for vacuity), sharp_bound = lam_hat (1-gamma)^2
    eps_hat^2 / 8 (our sharpened constants; see ``lemma2_sharp_rhs`` and l(b, a) <= (b - a)^2 / 8).
    """
    cpu = lambda t: t.detach().to("cpu", torch.float64)
    features_a, features_b = cpu(data.features_a), cpu(data.features_b)
    teacher_logits, n = cpu(data.teacher_logits), data.n
    gamma = data.gamma
    lam_hat = data.reference_lambdas.max()
    eps_hat = torch.tensor([estimate_eps(g, float(gm), delta) for g, gm in zip(data.reference_gaps, gamma)])
    eps_star_hat = lemma2_factor(lam_hat) * (1 - gamma) * eps_hat  # (G,)
    student_star = proof_student(features_a, features_b, cpu(data.theta_teacher))
    logits_star = (features_b @ student_star[..., None])[..., 0]
    lam_run = torch.maximum(data_lambda(features_a), data_lambda(features_b))
    gap_run = gram_difference_norm(features_a, features_b)
    return {
        "risk_final": cpu(risk_final),
        "risk_zero": distillation_risk(torch.zeros_like(teacher_logits), teacher_logits),
        "risk_proof": distillation_risk(logits_star, teacher_logits),
        "cor1": corollary1_bound(n, torch.linalg.vector_norm(logits_star - teacher_logits, dim=-1)),
        "lemma2_direct": corollary1_bound(n, lemma2_lhs(features_a, features_b)),
        "per_run_bound": corollary1_bound(n, lemma2_factor(lam_run) * gap_run),
        "theorem_bound": corollary1_bound(n, eps_star_hat)[:, None].expand_as(gap_run),
        "sharp_bound": (lam_hat * ((1 - gamma) * eps_hat) ** 2 / 8)[:, None].expand_as(gap_run),
        "conditions_hold": (lam_run <= lam_hat) & (gap_run <= (1 - gamma)[:, None] * eps_hat[:, None] * (1 + 1e-12)),
        "lam_run": lam_run,
        "gap_run": gap_run,
        "lam_hat": lam_hat,
        "eps_hat": eps_hat,
        "eps_star_hat": eps_star_hat,
    }


# --- The Theorem 1 study: typed settings, one cached call per feature scale -----------------------

THEOREM1_STUDY_VERSION = 1  # bump when a change alters results, so cached studies are recomputed


@dataclass(frozen=True)
class Theorem1Settings:
    """The Theorem 1 experiment on the MVD (chapter 03); every field has a default and is validated.

    n training pairs per run, ``dim`` = d_a = d_b decisive features per modality, ``num_shared``
    the overlaps d_0 swept (gamma = d_0 / (2 dim - d_0)), ``seeds`` runs per gamma,
    ``reference_draws`` further draws per gamma for (eps_hat, lam_hat), ``delta`` the failure
    probability of eq. (4), ``flow_time`` / ``step`` the gradient flow (units of 1/L, see
    :func:`gradient_flow`), ``convergence_steps`` the Euler steps compared for convergence.
    """

    n: int = 200
    dim: int = 10
    num_shared: tuple[int, ...] = tuple(range(11))
    seeds: int = 5
    reference_draws: int = 200
    delta: float = 0.05
    flow_time: float = 40.0
    step: float = 0.5
    convergence_steps: tuple[float, ...] = (1.0, 0.5, 0.25)

    def __post_init__(self):
        object.__setattr__(self, "num_shared", tuple(int(k) for k in self.num_shared))
        object.__setattr__(self, "convergence_steps", tuple(float(h) for h in self.convergence_steps))
        check_unit_interval("delta", self.delta)
        for name in ("n", "dim", "seeds", "reference_draws"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.n <= self.dim:
            raise ConfigError(f"Theorem 1 needs n > dim (Z^u Z^uT invertible); got n={self.n}, dim={self.dim}")
        bad = [k for k in self.num_shared if not 0 <= k <= self.dim]
        if not self.num_shared or bad:
            raise ConfigError(f"num_shared must be a non-empty list of overlaps in [0, dim={self.dim}], got {self.num_shared}")
        if not self.flow_time > 0 or not 0 < self.step < 2 or not self.convergence_steps:
            raise ConfigError(f"need flow_time > 0, 0 < step < 2 (Euler stability) and convergence_steps; got "
                              f"flow_time={self.flow_time}, step={self.step}, convergence_steps={self.convergence_steps}")

    @classmethod
    def from_config(cls, cfg: dict) -> "Theorem1Settings":
        """The settings from a chapter profile (other keys of the profile are ignored); a missing
        field raises a ConfigError that names it."""
        from dataclasses import fields

        missing = [f.name for f in fields(cls) if f.name not in cfg]
        if missing:
            raise ConfigError(f"the Theorem 1 profile lacks {missing}; add them to the chapter's config")
        return cls(**{f.name: cfg[f.name] for f in fields(cls)})


def theorem1_study(settings: Theorem1Settings, scale: float = 1.0, device="cpu", use_cache: bool = True) -> dict:
    """Theorem 1 on the MVD at one feature ``scale``: data, gradient flow, Newton limit, proof chain.

    Returns a dict: gamma (G,); chain (:func:`theorem1_chain`, tensors (G, S)); times (R,) and
    risks (R, G, S) of the flow at ``settings.step``; risk_minimum (G, S) by Newton from the flow's
    end; trajectories {step: (times (R,), risks (R, G, S))} for each convergence step. The data
    are generated (seed 0), so the cache (:class:`mfh_lib.cache.ResultsCache`, namespace
    "03_theorem1") is keyed by the settings, the scale and the code version.
    """
    from dataclasses import asdict

    from .cache import ResultsCache

    def compute():
        data = theorem1_data(settings.n, settings.dim, list(settings.num_shared), settings.seeds,
                             settings.reference_draws, scale=scale, seed=0, device=device)
        trajectories = {}
        for step in settings.convergence_steps:
            _, times, risks = gradient_flow(data.features_b, data.teacher_logits, settings.flow_time, step=step)
            trajectories[step] = (times, risks.cpu())
        theta, times, risks = gradient_flow(data.features_b, data.teacher_logits, settings.flow_time, step=settings.step)
        _, risk_minimum = newton_minimum(data.features_b, data.teacher_logits, theta)
        return {"gamma": data.gamma, "chain": theorem1_chain(data, risks[-1], settings.delta), "times": times,
                "risks": risks.cpu(), "risk_minimum": risk_minimum.cpu(), "trajectories": trajectories}

    if not use_cache:
        return compute()
    key = {"version": THEOREM1_STUDY_VERSION, "settings": asdict(settings), "scale": float(scale)}
    return ResultsCache("03_theorem1").get_or_compute(key, compute)
