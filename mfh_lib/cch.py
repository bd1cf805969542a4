"""The Cross-modal Complementarity Hypothesis (CCH, Xie, Xu & Sanguinetti 2025) and its Gaussian model.

CCH: crossmodal KD helps when I(T; S) > I(S; Y), T the teacher's representation, S the student's
(in the theorem: T = w1'x1, the teacher's prediction, and S = w*'x2, the optimal student's).

The linear Gaussian KD model (our derivation; the summary gives only the theorem)
--------------------------------------------------------------------------------
(x2, y, t) jointly Gaussian and zero-mean, x2 in R^d the student modality, y the regression target
and t = w1'x1 the teacher's prediction. Write beta = w* = S22^-1 s2y (the population student),
a = S22^-1 s2t, sigma_y^2 = Var(y | x2), sigma_t^2 = Var(t | x2) and c = Cov(y, t | x2). With n
samples the KD student minimises |y - X w|^2 + lambda |t - X w|^2, i.e. it is OLS on the mixed
target (y + lambda t) / (1 + lambda):

    w(lambda) = (X'X)^-1 X'(y + lambda t) / (1 + lambda).

The mixed target is x2'b + e with b = (beta + lambda a)/(1 + lambda) and Var(e | x2) =
s^2(lambda) = (sigma_y^2 + 2 lambda c + lambda^2 sigma_t^2)/(1 + lambda)^2, and for Gaussian rows
E[(X'X)^-1] = S22^-1 / (n - d - 1) (inverse Wishart, n > d + 1), so the expected test risk is exact:

    R(lambda) = sigma_y^2 + (lambda/(1+lambda))^2 (a - beta)' S22 (a - beta) + d/(n-d-1) s^2(lambda).

Hence dR/dlambda at 0 = -2 d/(n-d-1) Cov(y - w*'x2, y - t): in the population (n -> inf) the slope
is 0 (the background note's observation) and at finite n KD helps for small lambda iff the
student-oracle's and the teacher's errors are positively correlated.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from . import gaussian_kd, mi, stats
from .cache import ResultsCache
from .config import ConfigError

if TYPE_CHECKING:
    from .data import MultimodalDataset
    from .ranking import NullifiedStudySettings

DTYPE = torch.float64


@dataclass
class LinearGaussianKD:
    """Joint covariance of (x2 [d coordinates], y, t) and everything the KD risk needs."""

    cov: torch.Tensor  # (d + 2, d + 2), order x2..., y, t

    def __post_init__(self):
        self.cov = torch.as_tensor(self.cov, dtype=DTYPE)
        if self.cov.ndim != 2 or self.cov.shape[0] != self.cov.shape[1] or self.cov.shape[0] < 3:
            raise ConfigError(f"cov must be a square (d+2, d+2) matrix ordered (x2, y, t), got {tuple(self.cov.shape)}")
        self.d = self.cov.shape[0] - 2
        S22, s2y, s2t = self.cov[:self.d, :self.d], self.cov[:self.d, self.d], self.cov[:self.d, self.d + 1]
        self.beta = torch.linalg.solve(S22, s2y)  # w*, the population student
        self.a = torch.linalg.solve(S22, s2t)  # the teacher's projection on x2
        syy, stt, syt = self.cov[self.d, self.d], self.cov[self.d + 1, self.d + 1], self.cov[self.d, self.d + 1]
        self.sigma_y2 = syy - s2y @ self.beta
        self.sigma_t2 = stt - s2t @ self.a
        self.c = syt - s2y @ self.a
        diff = self.a - self.beta
        self.bias2 = diff @ S22 @ diff
        self.var_student = s2y @ self.beta  # Var(w*'x2)
        self.cov_teacher_student = s2t @ self.beta  # Cov(t, w*'x2)
        self.var_y, self.var_t = syy, stt

    @classmethod
    def from_linear_map(cls, student_map, label_map, teacher_map, teacher_scale: float = 1.0) -> "LinearGaussianKD":
        """Variables as linear maps of independent N(0, 1) latents: x2 = A2 z, y = c'z, x1 = A1 z.

        The teacher is the calibrated population predictor from x1, t = E[y | x1] (least squares),
        times ``teacher_scale`` (1 = calibrated; other values keep every MI but change the KD risk).
        """
        A2 = torch.as_tensor(student_map, dtype=DTYPE)
        cy = torch.as_tensor(label_map, dtype=DTYPE).reshape(1, -1)
        A1 = torch.as_tensor(teacher_map, dtype=DTYPE)
        A1 = A1.reshape(1, -1) if A1.ndim == 1 else A1
        w1 = torch.linalg.lstsq(A1 @ A1.T, A1 @ cy.T).solution  # S11^-1 s1y
        ct = teacher_scale * (w1.T @ A1)
        M = torch.cat([A2, cy, ct])
        return cls(M @ M.T)

    # --- the criterion -------------------------------------------------------------------------
    def i_teacher_student(self) -> torch.Tensor:
        rho = self.cov_teacher_student / torch.sqrt(self.var_t * self.var_student)
        return mi.gaussian_mi_from_corr(rho)

    def i_student_label(self) -> torch.Tensor:
        return mi.gaussian_mi_from_corr(torch.sqrt(self.var_student / self.var_y))

    def cch_gap(self) -> torch.Tensor:
        """I(w1'x1; w*'x2) - I(w*'x2; y): CCH predicts a KD gain when > 0."""
        return self.i_teacher_student() - self.i_student_label()

    def error_covariance(self) -> torch.Tensor:
        """Cov(y - w*'x2, y - t) = sigma_y^2 - c: the exact first-order criterion (gain iff > 0)."""
        return self.sigma_y2 - self.c

    # --- the risk ------------------------------------------------------------------------------
    def _variance_factor(self, n) -> float:
        if n is None or n == float("inf"):
            return 0.0
        if n <= self.d + 1:
            raise ConfigError(f"the exact risk needs n > d + 1 = {self.d + 1} samples (inverse-Wishart mean), got n={n}")
        return self.d / (n - self.d - 1)

    def risk(self, lam, n=None) -> torch.Tensor:
        """Expected test MSE of the KD student; n=None is the population (infinite-sample) risk."""
        lam = torch.as_tensor(lam, dtype=DTYPE)
        mix = lam / (1 + lam)
        noise = (self.sigma_y2 + 2 * lam * self.c + lam**2 * self.sigma_t2) / (1 + lam) ** 2
        return self.sigma_y2 + mix**2 * self.bias2 + self._variance_factor(n) * noise

    def slope_at_zero(self, n=None) -> torch.Tensor:
        """dR/dlambda at lambda = 0: -2 d/(n-d-1) Cov(y - w*'x2, y - t); exactly 0 in the population."""
        return -2 * self._variance_factor(n) * self.error_covariance()

    def sample(self, n: int, num_draws, generator: torch.Generator):
        """Draws of n rows: x2 (*num_draws, n, d), y and t (*num_draws, n)."""
        shape = tuple(num_draws) if isinstance(num_draws, (tuple, list)) else (num_draws,)
        chol = torch.linalg.cholesky(self.cov + 1e-12 * torch.eye(self.d + 2, dtype=DTYPE))
        z = torch.randn(*shape, n, self.d + 2, generator=generator, dtype=DTYPE) @ chol.T
        return z[..., :self.d], z[..., self.d], z[..., self.d + 1]

    def test_risk(self, w: torch.Tensor) -> torch.Tensor:
        """Exact population MSE E(y - w'x2)^2 of student weights w (..., d)."""
        S22, s2y = self.cov[:self.d, :self.d], self.cov[:self.d, self.d]
        return self.var_y - 2 * w @ s2y + torch.einsum("...i,ij,...j->...", w, S22, w)

    def monte_carlo_risk(self, lams, n: int, num_draws, generator: torch.Generator) -> torch.Tensor:
        """Test risk of the KD student fitted on each of many draws: (*num_draws, len(lams)).

        Every draw is solved at once (batched normal equations); w(lambda) is linear in the two OLS
        fits, w(lambda) = (w_y + lambda w_t)/(1 + lambda), so every lambda costs one combination.
        """
        x, y, t = self.sample(n, num_draws, generator)
        gram = x.transpose(-1, -2) @ x
        rhs = torch.stack([(x * y[..., None]).sum(-2), (x * t[..., None]).sum(-2)], dim=-1)
        w_y, w_t = torch.linalg.solve(gram, rhs).unbind(-1)
        lams = torch.as_tensor(lams, dtype=DTYPE)
        w = (w_y[..., None, :] + lams[:, None] * w_t[..., None, :]) / (1 + lams[:, None])
        return self.test_risk(w)


def signal_model(d: int, teacher=(1.0, 0.0, 0.0), label=(1.0, 1.0, 1.0), teacher_scale: float = 1.0) -> LinearGaussianKD:
    """A linear Gaussian KD model built from four independent N(0, 1) signals.

    s: seen by the student (its first coordinate; the other d - 1 coordinates are pure noise),
    v: a label signal the student cannot see, xi: label noise, eta: teacher-side noise.
    label = (l_s, l_v, l_xi): y = l_s s + l_v v + l_xi xi;  teacher = (a, b, c): the teacher modality
    x1 = a s + b v + c eta, and t = teacher_scale * E[y | x1] (calibrated when teacher_scale = 1).
    """
    if d < 1:
        raise ConfigError(f"d must be >= 1, got {d}")
    num_latents = 4 + d - 1  # s, v, xi, eta, student noise
    student = torch.zeros(d, num_latents, dtype=DTYPE)
    student[0, 0] = 1
    student[1:, 4:] = torch.eye(d - 1, dtype=DTYPE)
    label_row = torch.zeros(num_latents, dtype=DTYPE)
    label_row[:3] = torch.as_tensor(label, dtype=DTYPE)
    teacher_row = torch.zeros(num_latents, dtype=DTYPE)
    teacher_row[[0, 1, 3]] = torch.as_tensor(teacher, dtype=DTYPE)
    return LinearGaussianKD.from_linear_map(student, label_row, teacher_row, teacher_scale)


def overlap_model(q: float, sigma: float, d: int, teacher_scale: float = 1.0) -> LinearGaussianKD:
    """y = x1 + s + sigma xi with corr(x1, s) = q: teacher and student modalities overlap by q."""
    if not -1 <= q <= 1:
        raise ConfigError(f"q is a correlation and must lie in [-1, 1], got {q}")
    rest = (1 - q * q) ** 0.5
    return signal_model(d, teacher=(q, rest, 0.0), label=(1 + q, rest, sigma), teacher_scale=teacher_scale)


def mvd_population_criteria(spec, delta: torch.Tensor, teacher_weight: torch.Tensor) -> dict[str, torch.Tensor]:
    """Exact criteria on the MFH eq. (27) data for linear teachers t = w_a'x^a (any batch of w_a).

    ``delta`` (d,) the hyperplane; ``teacher_weight`` (..., d1) the teacher's logit direction
    (for 2-logit models: weight[1] - weight[0]). The student is the Bayes-optimal linear one,
    s = delta_J2'x^b. Returns i_teacher_student, i_student_label, cch_gap and mfh_shared =
    Var(E[t | x^b]) / Var(t) (= |delta_shared|^2 / |delta_J1|^2 for the oracle teacher).
    """
    delta = torch.as_tensor(delta, dtype=DTYPE)
    w = torch.as_tensor(teacher_weight, dtype=DTYPE)[..., :spec.d1]
    shared = list(spec.shared_columns)
    J2 = list(spec.J2)
    var_t = (w**2).sum(-1)
    var_s = (delta[J2] ** 2).sum()
    cov_ts = (w[..., shared] * delta[shared]).sum(-1)
    rho_ts = cov_ts / torch.sqrt(var_t * var_s)
    i_ts = mi.gaussian_mi_from_corr(rho_ts)
    i_sy = mi.binary_threshold_mi(torch.sqrt(var_s / (delta**2).sum()), 0.5)
    return {"i_teacher_student": i_ts, "i_student_label": i_sy.expand_as(i_ts), "cch_gap": i_ts - i_sy,
            "mfh_shared": (w[..., shared] ** 2).sum(-1) / var_t}


# --- criteria from features (any dataset) ----------------------------------------------------------

def _standardise(x: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    return (x - reference.mean(-2, keepdim=True)) / reference.std(-2, keepdim=True).clamp_min(1e-8)


def fit_linear_probe(x: torch.Tensor, labels: torch.Tensor, num_classes: int, weight_decay: float = 1e-3,
                     num_steps: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
    """Logistic regression on (..., N, D) features, every batch element at once.

    Returns weight (..., D, K) and bias (..., K). Two classes: Newton's method (batched solves,
    converges in a few steps); more classes: multinomial L-BFGS. A small L2 penalty keeps
    separable data finite.
    """
    if num_classes == 2:
        design = torch.nn.functional.pad(x, (0, 1), value=1.0)
        target = labels.to(x.dtype)
        theta = x.new_zeros(*x.shape[:-2], design.shape[-1])
        eye = torch.eye(design.shape[-1], dtype=x.dtype)
        n = x.shape[-2]
        for _ in range(min(num_steps, 25)):
            prob = torch.sigmoid(design @ theta[..., None])[..., 0]
            grad = (design * (prob - target)[..., None]).sum(-2) / n + 2 * weight_decay * theta
            hess = design.transpose(-1, -2) @ (design * (prob * (1 - prob))[..., None]) / n + 2 * weight_decay * eye
            step = torch.linalg.solve(hess, grad[..., None])[..., 0]
            theta = theta - step
            if float(step.abs().max()) < 1e-8:
                break
        weight = torch.stack([torch.zeros_like(theta[..., :-1]), theta[..., :-1]], dim=-1)
        bias = torch.stack([torch.zeros_like(theta[..., -1]), theta[..., -1]], dim=-1)
        return weight, bias
    weight = torch.zeros(*x.shape[:-2], x.shape[-1], num_classes, dtype=x.dtype, requires_grad=True)
    bias = torch.zeros(*x.shape[:-2], num_classes, dtype=x.dtype, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1, max_iter=num_steps, line_search_fn="strong_wolfe")
    targets = labels.reshape(-1)

    def closure():
        optimizer.zero_grad()
        logits = x @ weight + bias[..., None, :]
        # summed over batch elements (each has its own parameters), averaged over samples
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, num_classes), targets, reduction="sum") / x.shape[-2]
        loss = loss + weight_decay * (weight**2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return weight.detach(), bias.detach()


def _two_folds(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    order = torch.randperm(n, generator=generator)
    return order[: n // 2], order[n // 2:]


def _scores(logits: torch.Tensor) -> torch.Tensor:
    """Logits (..., N, K) -> scores: a single column as is, the logit difference for K = 2, else
    the centred logits without the last (softmax ignores a common shift, so K - 1 carry it all)."""
    if logits.shape[-1] == 1:
        return logits
    if logits.shape[-1] == 2:
        return (logits[..., 1] - logits[..., 0])[..., None]
    centred = logits - logits.mean(-1, keepdim=True)
    return centred[..., :-1]


def _ridge_predict(fit_x, fit_target, score_x, ridge: float) -> torch.Tensor:
    """Ridge least squares (with intercept, standardised features) fitted on one fold, applied to another."""
    design_fit = torch.nn.functional.pad(_standardise(fit_x, fit_x), (0, 1), value=1.0)
    design_score = torch.nn.functional.pad(_standardise(score_x, fit_x), (0, 1), value=1.0)
    gram = design_fit.transpose(-1, -2) @ design_fit
    gram = gram + ridge * fit_x.shape[-2] * torch.eye(gram.shape[-1], dtype=DTYPE)
    return design_score @ torch.linalg.solve(gram, design_fit.transpose(-1, -2) @ fit_target)


def _probe_logits(fit_x, fit_y, score_x, num_classes: int) -> torch.Tensor:
    """Logits (..., N_score, K) of a logistic probe fitted on (fit_x, fit_y), standardised by fit_x."""
    weight, bias = fit_linear_probe(_standardise(fit_x, fit_x), fit_y, num_classes)
    return _standardise(score_x, fit_x) @ weight + bias[..., None, :]


def _cross_fit(features, fit_and_predict, target, folds) -> torch.Tensor:
    """Out-of-fold predictions (..., N, C): fit on one fold, predict the other, then swap.
    ``target``: labels (..., N) or a multi-column target (..., N, C)."""
    n = features.shape[-2]
    out = None
    for fit_idx, score_idx in (folds, folds[::-1]):
        fit_target = target[..., fit_idx, :] if target.ndim == features.ndim else target[..., fit_idx]
        pred = fit_and_predict(features[..., fit_idx, :], fit_target, features[..., score_idx, :])
        if out is None:
            out = pred.new_zeros(*pred.shape[:-2], n, pred.shape[-1])
        out[..., score_idx, :] = pred
    return out


def criteria_from_features(teacher_features, student_features, labels, num_classes: int | None = None,
                           teacher_is_logits: bool = True, estimator: str = "gaussian", ridge: float = 1e-3,
                           seed: int = 0) -> dict[str, torch.Tensor]:
    """CCH's MI gap and the MFH-side shared share, estimated from samples; batched over leading axes.

    teacher_features: (..., N, Dt) teacher logits / predictions (``teacher_is_logits``) or features;
    student_features: (..., N, Ds) the student modality (or a student representation);
    labels: (..., N) integer classes, or floats for a regression target. Every fitted map is
    cross-fitted (two folds: fit on one half, score the other), so no quantity is measured on the
    data that fitted it.

    * T = the teacher's score (its logit difference for 2 classes, centred logits otherwise; a
      linear probe on the labels first when the features are not logits).
    * S = w*'x2: a linear probe of the labels on the student features (the no-KD optimum):
      logistic regression for classes, ridge least squares for a regression target.
    * i_teacher_student = I(T; S), i_student_label = I(S; Y), cch_gap = their difference,
      i_teacher_label = I(T; Y).
    * mfh_shared = cross-fitted R^2 of T regressed linearly on the student features: the share of
      the teacher's label signal that the student modality can reproduce. On the MFH eq. (27) data
      with a Bayes teacher it is |delta_{J1 ∩ J2}|^2 / |delta_J1|^2, whose mean over delta is
      |J1 ∩ J2| / |J1| = gamma / (1 - beta): the modality-general share of what the teacher uses.

    estimator: "gaussian" (log-det for continuous pairs; latent-probit for a score vs a binary
    label; the k-NN Ross estimator for K > 2 classes) or "ksg" (KSG for continuous pairs, Ross for
    a score vs classes).
    """
    if estimator not in ("gaussian", "ksg"):
        raise ConfigError(f"estimator must be 'gaussian' or 'ksg', got {estimator!r}")
    xt = torch.as_tensor(teacher_features, dtype=DTYPE)
    xs = torch.as_tensor(student_features, dtype=DTYPE)
    y = torch.as_tensor(labels)
    regression = y.is_floating_point()
    y = y.to(DTYPE) if regression else y.long()
    if xt.shape[:-1] != y.shape or xs.shape[:-1] != y.shape:
        raise ConfigError(f"teacher {tuple(xt.shape)}, student {tuple(xs.shape)} and labels {tuple(y.shape)} "
                          "must share the leading (..., N) axes")
    n = y.shape[-1]
    folds = _two_folds(n, torch.Generator().manual_seed(seed))
    k = None if regression else (num_classes or int(y.max()) + 1)

    def probe(fit_x, fit_y, score_x):
        if regression:
            return _ridge_predict(fit_x, fit_y[..., None], score_x, ridge)
        return _scores(_probe_logits(fit_x, fit_y, score_x, k))

    def cross_fit(features, fit_and_predict, target):
        return _cross_fit(features, fit_and_predict, target, folds)

    teacher = _scores(xt) if teacher_is_logits else cross_fit(xt, probe, y)
    student = cross_fit(xs, probe, y)
    # R^2 of the teacher score predicted from the student features (cross-fitted ridge)
    shared_part = cross_fit(xs, lambda fx, ft, sx: _ridge_predict(fx, ft, sx, ridge), teacher)
    total = (teacher - teacher.mean(-2, keepdim=True)).pow(2).sum((-2, -1))
    mfh_shared = (1 - (teacher - shared_part).pow(2).sum((-2, -1)) / total).clamp(0, 1)

    def mi_with_label(score):
        if regression:
            return (mi.ksg_mi if estimator == "ksg" else mi.gaussian_mi_estimate)(score, y[..., None])
        if estimator == "gaussian" and k == 2:
            return mi.latent_probit_mi_estimate(score[..., 0], y)
        return mi.ksg_mi_discrete(score, y)

    i_ts = (mi.ksg_mi if estimator == "ksg" else mi.gaussian_mi_estimate)(teacher, student)
    i_sy, i_ty = mi_with_label(student), mi_with_label(teacher)
    return {"i_teacher_student": i_ts, "i_student_label": i_sy, "cch_gap": i_ts - i_sy,
            "i_teacher_label": i_ty, "mfh_shared": mfh_shared}


def error_covariance_from_features(teacher_logits, student_features, labels, num_classes: int,
                                   temperature: float = 1.0, seed: int = 0) -> torch.Tensor:
    """The sharp first-order criterion on classification features: Cov(Y - p_S, Y - p_T), summed over classes.

    The analogue of :meth:`LinearGaussianKD.error_covariance` (KD helps at small weight iff the
    no-KD student's and the teacher's errors are positively correlated): Y the one-hot label
    (..., N, K), p_S the cross-fitted logistic probe's probabilities on the student features (the
    no-KD optimum, the same folds as :func:`criteria_from_features`), p_T = softmax(logits / temperature)
    the teacher's target. teacher_logits (..., N, K), student_features (..., N, D), labels (..., N)
    (the student side may have fewer leading axes: fitted once, broadcast). Returns (...,).
    """
    xt = torch.as_tensor(teacher_logits, dtype=DTYPE)
    xs = torch.as_tensor(student_features, dtype=DTYPE)
    y = torch.as_tensor(labels).long()
    folds = _two_folds(y.shape[-1], torch.Generator().manual_seed(seed))
    with gaussian_kd.cpu_threads(1):  # small L-BFGS kernels: one thread is faster on a shared CPU
        p_s = _cross_fit(xs, lambda fx, fy, sx: _probe_logits(fx, fy, sx, num_classes), y, folds).softmax(-1)
    p_t = (xt / temperature).softmax(-1)
    onehot = torch.nn.functional.one_hot(y, num_classes).to(DTYPE)
    e_s, e_t = torch.broadcast_tensors(onehot - p_s, onehot - p_t)
    e_s, e_t = e_s - e_s.mean(-2, keepdim=True), e_t - e_t.mean(-2, keepdim=True)
    return (e_s * e_t).sum(-1).sum(-1) / (y.shape[-1] - 1)


# estimator_comparison's per-estimator values: table column -> key, in the order a table shows them
ESTIMATOR_COLUMNS = {"I(T;S) log-det plug-in": "ts_plugin", "I(T;S) log-det unbiased": "ts_logdet", "I(T;S) KSG": "ts_ksg",
                     "KSG bias (surrogate)": "ts_ksg_bias", "I(T;S) KSG corrected": "ts_ksg_corrected",
                     "I(T;S) InfoNCE": "ts_infonce", "I(S;Y) Ross": "sy_ross", "Ross bias (surrogate)": "sy_ross_bias",
                     "I(S;Y) Ross corrected": "sy_ross_corrected", "H(Y)": "label_entropy"}
ESTIMATOR_KEYS = tuple(ESTIMATOR_COLUMNS.values())


def estimator_comparison(teacher_logits, student_features, labels, num_classes: int, num_draws: int = 20,
                         neural: bool = True, k: int = 3, seed: int = 0) -> dict[str, torch.Tensor]:
    """Both CCH terms by several estimators, with each estimator's bias on matched surrogates.

    T = the teacher's centred logits, S = the cross-fitted student probe's centred logits (as in
    :func:`criteria_from_features`); teacher_logits (..., N, K), student_features (..., N, D),
    labels (..., N); the student side may have fewer leading axes than the teachers' (it is then
    fitted once and broadcast). Returns (...,) tensors of the teachers' batch shape, nats:

    * I(T;S): ``ts_plugin`` (log-det, clamped at 0: the estimator used before), ``ts_logdet``
      (log-det minus its exact Gaussian bias, unclamped), ``ts_ksg`` (KSG, unclamped),
      ``ts_ksg_bias`` / ``ts_ksg_bias_se`` (KSG's bias on Gaussian surrogates with the same N, dims
      and covariance), ``ts_ksg_corrected`` and, if ``neural``, ``ts_infonce`` (held-out InfoNCE).
    * I(S;Y): ``sy_ross`` (Ross k-NN, unclamped), ``sy_ross_bias`` / ``sy_ross_bias_se`` (its bias on
      Gaussian-mixture surrogates with the same labels, class means and pooled covariance),
      ``sy_ross_corrected``, and ``label_entropy`` H(Y), the ceiling of any I(S;Y).
    * ``gap_knn``: ts_ksg_corrected - sy_ross_corrected, both terms from one (k-NN) family with
      the same k, each bias-corrected on its surrogate.
    """
    xt = torch.as_tensor(teacher_logits, dtype=DTYPE)
    xs = torch.as_tensor(student_features, dtype=DTYPE)
    y = torch.as_tensor(labels).long()
    folds = _two_folds(y.shape[-1], torch.Generator().manual_seed(seed))
    batch = xt.shape[:-2]
    teacher = _scores(xt)
    # the student side is computed once on its own batch shape (e.g. one face probe for every teacher)
    student = _scores(_cross_fit(xs, lambda fx, fy, sx: _probe_logits(fx, fy, sx, num_classes), y, folds))
    ksg = lambda a, b: mi.ksg_mi(a, b, k=k, clamp=False)
    ross = lambda a, labels_: mi.ksg_mi_discrete(a, labels_, k=k, clamp=False)
    student_b = student.expand(*batch, *student.shape[-2:])
    with gaussian_kd.cpu_threads(1):  # many small k-NN kernels: one thread is faster on a shared CPU
        out = {"ts_plugin": mi.gaussian_mi_estimate(teacher, student_b), "ts_logdet": mi.gaussian_mi_unbiased(teacher, student_b),
               "ts_ksg": ksg(teacher, student_b), "sy_ross": ross(student, y), "label_entropy": mi.label_entropy(y, num_classes)}
        out["ts_ksg_bias"], out["ts_ksg_bias_se"] = mi.gaussian_surrogate_bias(ksg, teacher, student_b, num_draws, seed)
        out["sy_ross_bias"], out["sy_ross_bias_se"] = mi.mixture_surrogate_bias(ross, student, y, num_classes, num_draws, seed)
    out = {key: value.expand(batch) for key, value in out.items()}
    out["ts_ksg_corrected"] = out["ts_ksg"] - out["ts_ksg_bias"]
    out["sy_ross_corrected"] = out["sy_ross"] - out["sy_ross_bias"]
    out["gap_knn"] = out["ts_ksg_corrected"] - out["sy_ross_corrected"]
    if neural:
        out["ts_infonce"] = mi.infonce_mi(teacher, student_b, seed=seed)
    return out


def estimator_bias_curve(n: int, dim: int, rhos, num_draws: int = 20, seed: int = 0) -> pd.DataFrame:
    """Mean bias (and its standard error over draws) of the I(T;S) estimators on Gaussians with known
    MI: T and S of ``dim`` coordinates each, coordinate i of S correlated ``rho`` with coordinate i
    of T, n rows; the MI is dim * (-1/2) log(1 - rho^2). One row per (rho, estimator)."""
    gen = torch.Generator().manual_seed(seed)
    estimators = {"log-det plug-in (clamped)": mi.gaussian_mi_estimate, "log-det, exact bias removed": mi.gaussian_mi_unbiased,
                  "KSG (k = 3, unclamped)": lambda a, b: mi.ksg_mi(a, b, clamp=False)}
    rows = []
    for rho in rhos:
        z = torch.randn(num_draws, n, 2 * dim, generator=gen, dtype=DTYPE)
        t, s = z[..., :dim], rho * z[..., :dim] + (1 - rho**2) ** 0.5 * z[..., dim:]
        truth = dim * float(mi.gaussian_mi_from_corr(rho))
        for name, estimator in estimators.items():
            with gaussian_kd.cpu_threads(1):  # small kernels: one thread is faster on a shared CPU
                err = estimator(t, s) - truth
            rows.append({"rho per coordinate": rho, "true MI": truth, "estimator": name, "bias": float(err.mean()),
                         "bias s.e.": float(err.std() / num_draws**0.5)})
    return pd.DataFrame(rows)


# --- the chapter's linear-Gaussian studies (cached by their settings) ------------------------------

def seeded_generator(*key: int) -> torch.Generator:
    """A generator seeded from a tuple of integers, so every experiment draws its own stream."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence(list(key)).generate_state(1)[0]))


@dataclass(frozen=True)
class LinearStudySettings:
    """Settings of :func:`overlap_sweep_study` and :func:`teacher_selection_study`.

    seeds (S), dim (d, the student's dimension), n (training rows, > d + 1) are required;
    lam_small is the KD weight lambda of "small lambda"; draws_per_seed the independent training
    sets per seed; probe_n the held-out rows per seed on which the criterion is estimated;
    sweep_q / sweep_sigma the overlap and label-noise grids of the sweep.
    """

    seeds: int
    dim: int
    n: int
    lam_small: float = 0.1
    draws_per_seed: int = 120
    probe_n: int = 500
    sweep_q: tuple = (-0.6, -0.3, 0.0, 0.3, 0.6, 0.9)
    sweep_sigma: tuple = (0.0, 0.25, 0.5, 1.0, 2.0)

    def __post_init__(self):
        object.__setattr__(self, "sweep_q", tuple(float(q) for q in self.sweep_q))
        object.__setattr__(self, "sweep_sigma", tuple(float(s) for s in self.sweep_sigma))
        if self.seeds < 1 or self.draws_per_seed < 2 or self.probe_n < 10:
            raise ConfigError(f"seeds >= 1, draws_per_seed >= 2 and probe_n >= 10 are needed, got {self}")
        if self.n <= self.dim + 1:
            raise ConfigError(f"n must exceed dim + 1 = {self.dim + 1} (the exact risk), got n={self.n}")
        if not all(-1 <= q <= 1 for q in self.sweep_q):
            raise ConfigError(f"sweep_q holds correlations in [-1, 1], got {self.sweep_q}")

    @classmethod
    def from_profile(cls, cfg) -> "LinearStudySettings":
        """From a chapter profile (a mapping): its other keys are ignored; a missing required key
        raises a ConfigError naming it."""
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING and f.name not in cfg]
        if missing:
            raise ConfigError(f"LinearStudySettings: missing setting(s) {missing}")
        return cls(**{k: cfg[k] for k in names if k in cfg})


def _study_cache(use_cache: bool):
    return ResultsCache("08_cch", enabled=use_cache)


def overlap_sweep_study(settings: LinearStudySettings, use_cache: bool = True):
    """KD gain and criteria of :func:`overlap_model` over the (q, sigma) grid.

    Returns (table, gains): one table row per setting (q, sigma, exact I(T;S), I(S;Y), CCH gap,
    the gap estimated from ``probe_n`` rows by :func:`criteria_from_features` (seed mean),
    Cov(errors), exact gain at lam_small) and the (seeds, settings) Monte Carlo gains
    R0 - R(lam_small), each the mean over ``draws_per_seed`` paired draws.
    """
    s = settings

    def compute():
        rows, per_seed = [], []
        grid = [(q, sigma) for q in s.sweep_q for sigma in s.sweep_sigma]
        for i, (q, sigma) in enumerate(grid):
            model = overlap_model(q, sigma, s.dim)
            gen = seeded_generator(3, i)
            risks = model.monte_carlo_risk([0.0, s.lam_small], s.n, (s.seeds, s.draws_per_seed), gen)
            per_seed.append((risks[..., 0] - risks[..., 1]).mean(-1))  # (seeds,)
            x2, y, t = model.sample(s.probe_n, s.seeds, gen)
            estimated = criteria_from_features(t[..., None], x2, y)["cch_gap"]
            rows.append({"q": q, "sigma": sigma, "I(T;S)": float(model.i_teacher_student()),
                         "I(S;Y)": float(model.i_student_label()), "CCH gap": float(model.cch_gap()),
                         "CCH gap (estimated)": float(estimated.mean()), "Cov(errors)": float(model.error_covariance()),
                         "exact gain": float(model.risk(0.0, s.n) - model.risk(s.lam_small, s.n))})
        return pd.DataFrame(rows), torch.stack(per_seed, 1).numpy()

    return _study_cache(use_cache).get_or_compute({"study": "overlap_sweep", **asdict(s)}, compute)


# Six candidate teacher modalities x1 = a s + b v + c eta for one student (y = s + v + 0.5 xi)
CANDIDATE_TEACHERS = {"s + v (knows y's signal)": (1.0, 1.0, 0.0), "s + 0.5 eta (student's view)": (1.0, 0.0, 0.5),
                      "v + 0.5 eta (student-invisible)": (0.0, 1.0, 0.5), "s + v + 1.5 eta (noisy)": (1.0, 1.0, 1.5),
                      "s + 0.3 v + 0.3 eta (mostly shared)": (1.0, 0.3, 0.3),
                      "s - 0.6 v + 0.3 eta (contrast)": (1.0, -0.6, 0.3)}
LAMBDA_GRID = (0.0, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)


def teacher_selection_study(settings: LinearStudySettings, use_cache: bool = True):
    """The candidate teachers of :data:`CANDIDATE_TEACHERS` (calibrated) for one student.

    Returns (table, gains, estimates): a row per teacher (I(T;Y), exact CCH gap, Cov(errors), the
    best lambda of :data:`LAMBDA_GRID` by the exact risk); gains (seeds, teachers, 2): the Monte
    Carlo gain at lam_small and at the best lambda; estimates {"gaussian", "ksg"}: (seeds, teachers)
    CCH gaps estimated from ``probe_n`` rows.
    """
    s = settings
    lam_grid = torch.tensor(LAMBDA_GRID, dtype=DTYPE)

    def compute():
        rows, gains, estimates = [], [], {"gaussian": [], "ksg": []}
        for i, (name, view) in enumerate(CANDIDATE_TEACHERS.items()):
            model = signal_model(s.dim, teacher=view, label=(1.0, 1.0, 0.5))
            gen = seeded_generator(4, i)
            # the weight a practitioner would tune: the best lambda on a grid by the exact risk
            best_lam = float(lam_grid[torch.argmin(model.risk(lam_grid, s.n))])
            risks = model.monte_carlo_risk([0.0, s.lam_small, best_lam], s.n, (s.seeds, s.draws_per_seed), gen)
            gains.append(risks[..., :1].sub(risks[..., 1:]).mean(1))  # (seeds, 2)
            x2, y, t = model.sample(s.probe_n, s.seeds, gen)
            for est in estimates:
                estimates[est].append(criteria_from_features(t[..., None], x2, y, estimator=est)["cch_gap"])
            rows.append({"teacher modality": name, "I(T;Y)": float(mi.gaussian_mi_from_corr(torch.sqrt(model.var_t / model.var_y))),
                         "CCH gap": float(model.cch_gap()), "Cov(errors)": float(model.error_covariance()), "best λ": best_lam})
        return (pd.DataFrame(rows), torch.stack(gains, 1).numpy(),
                {k: torch.stack(v, 1).numpy() for k, v in estimates.items()})

    return _study_cache(use_cache).get_or_compute({"study": "teacher_selection", **asdict(s)}, compute)


def random_model_signs(num_models: int, rescale: bool, generator: torch.Generator) -> pd.DataFrame:
    """Crosstab of the CCH sign against the sign of the small-lambda KD gain (exact) on random linear
    Gaussian models: 6 latent signals mapped to a 3-d student, a 2-d teacher modality and y, with a
    calibrated teacher, or (``rescale``) one rescaled by a factor log-uniform in [1/4, 4]."""
    rows = []
    for _ in range(num_models):
        scale = (float(torch.exp((torch.rand((), generator=generator, dtype=DTYPE) * 2 - 1) * math.log(4)))
                 if rescale else 1.0)
        model = LinearGaussianKD.from_linear_map(torch.randn(3, 6, generator=generator), torch.randn(6, generator=generator),
                                                 torch.randn(2, 6, generator=generator), teacher_scale=scale)
        rows.append({"CCH": "I(T;S) > I(S;Y)" if model.cch_gap() > 0 else "I(T;S) ≤ I(S;Y)",
                     "KD at small λ": "helps" if model.error_covariance() > 0 else "hurts"})
    frame = pd.DataFrame(rows)
    return pd.crosstab(frame["CCH"], frame["KD at small λ"])


def mvd_criteria(specs, seeds, kd_settings, results, estimator: str = "gaussian"):
    """Criteria of trained MVD teachers (``gaussian_kd.run_kd`` results over specs x seeds).

    Returns (estimated, population): :func:`criteria_from_features` on the teachers' test logits and
    the student modality's test inputs, and the exact ``cch_gap`` / ``mfh_shared`` of
    :func:`mvd_population_criteria` from the trained weights; tensors (specs, seeds).
    """
    runs = [[gaussian_kd.draw_run_data(spec, seed, kd_settings) for seed in seeds] for spec in specs]
    x_b_test = torch.stack([torch.stack([r["x_b_test"] for r in row]) for row in runs])  # (P, S, m, d2)
    estimated = criteria_from_features(results.teacher_logits, x_b_test, results.test_y, estimator=estimator)
    weight = results.teacher_weight[:, :, 1] - results.teacher_weight[:, :, 0]
    population = {k: torch.stack([torch.stack([mvd_population_criteria(spec, runs[p][s]["delta"], weight[p, s])[k]
                                               for s in range(len(seeds))]) for p, spec in enumerate(specs)])
                  for k in ("cch_gap", "mfh_shared")}
    return estimated, population


# --- tables the chapter shows ------------------------------------------------------------------------

def exact_vs_monte_carlo(models: dict, lams, sizes, lam: float, num_draws) -> tuple[pd.DataFrame, list]:
    """The exact KD gain R0 - R(lambda) beside its Monte Carlo mean, per model and training size.

    models {name: LinearGaussianKD}; lams the (L,) lambda grid; sizes the n values; lam the lambda
    of the table (the nearest grid point); num_draws (seeds, draws per seed). The Monte Carlo gain
    is paired per draw and its CI is a t interval over seeds. Returns the table (a population row
    n = inf per model) and, per finite row, |Monte Carlo mean - exact| in standard errors.
    """
    lams = torch.as_tensor(lams, dtype=DTYPE)
    k = int(torch.argmin((lams - lam).abs()))
    rows, z = [], []
    for i, (name, model) in enumerate(models.items()):
        for n in sizes:
            risks = model.monte_carlo_risk(lams, n, num_draws, seeded_generator(1, i, n))
            gain = (risks[..., 0:1] - risks).mean(1)  # (seeds, lambdas): R0 - R(lambda), paired per draw
            s = stats.summarize(gain[:, k])
            exact_gain = float(model.risk(0.0, n) - model.risk(lams[k], n))
            z.append(abs(s.mean - exact_gain) / (s.std / np.sqrt(s.n)))
            rows.append({"model": name, "n": n, "d": model.d, "I(T;S)-I(S;Y)": float(model.cch_gap()),
                         f"exact R0-R({lams[k]:.2f})": exact_gain,
                         "Monte Carlo (mean)": s.mean, "MC 95% CI": f"[{s.ci_low:.4f}, {s.ci_high:.4f}]",
                         "exact slope dR/dλ(0)": float(model.slope_at_zero(n))})
        rows.append({"model": name, "n": "∞", "d": model.d, "I(T;S)-I(S;Y)": float(model.cch_gap()),
                     f"exact R0-R({lams[k]:.2f})": float(model.risk(0.0) - model.risk(lams[k])),
                     "Monte Carlo (mean)": np.nan, "MC 95% CI": "—", "exact slope dR/dλ(0)": float(model.slope_at_zero())})
    return pd.DataFrame(rows), z


def gain_sign(per_seed_gain) -> int:
    """+1 / -1 when the 95% t-CI of the mean gain lies above / below 0, else 0 (not resolved)."""
    s = stats.summarize(per_seed_gain)
    return 1 if s.ci_low > 0 else (-1 if s.ci_high < 0 else 0)


def rank_by_criteria(criteria: dict, per_seed_gain, num_resamples: int) -> pd.DataFrame:
    """Spearman of each criterion {name: (P,) values} with the seed-mean gain (per_seed_gain (S, P)),
    and how much it moves when the seeds are resampled (a percentile bootstrap over seeds: the
    noise of the gains, not a test over settings)."""
    rows = []
    for name, x in criteria.items():
        est = stats.correlation_over_seeds(x, per_seed_gain, num_resamples=num_resamples)
        rows.append({"criterion": name, "Spearman with gain": est.point,
                     "95% bootstrap CI (seeds)": f"[{est.ci_low:.2f}, {est.ci_high:.2f}]"})
    return pd.DataFrame(rows)


def seed_mean_criteria(criteria_out: dict, label: str = "") -> dict:
    """Seed means (axis 1) of :func:`criteria_from_features`' (P, S) output, as table columns."""
    return {"I(T;S)": criteria_out["i_teacher_student"].mean(1).numpy(),
            "I(S;Y)": criteria_out["i_student_label"].mean(1).numpy(),
            f"CCH gap{label}": criteria_out["cch_gap"].mean(1).numpy(),
            f"mfh_shared{label}": criteria_out["mfh_shared"].mean(1).numpy()}


# ------------------------------------------------ the RAVDESS teachers of the Algorithm 1 chapter
STUDENT_MODALITY = "face (action units)"  # the student's modality b in chapter 05's audio -> face study


@dataclass(frozen=True)
class RavdessTeachers:
    """Chapter 05's actor-split audio -> face study, as :func:`ravdess_teacher_study` returns it.

    ``data``: the MultimodalDataset (a = audio, b = face AUs); ``settings``: the study's
    ``ranking.NullifiedStudySettings``; ``study``: :func:`ranking.nullified_teacher_study`'s result;
    ``real``: False when the RAVDESS stand-in (MLP teachers) replaced the real clips.
    """

    data: MultimodalDataset
    settings: NullifiedStudySettings
    study: dict
    real: bool

    @property
    def teacher_logits(self) -> torch.Tensor:
        """(T, S, N_test, K): every teacher's test logits."""
        return self.study["teacher_test_logits"]

    @property
    def gain(self) -> np.ndarray:
        """(T, S) student test accuracy minus the same seed's no-KD student, accuracy points."""
        return (self.study["student_acc"] - self.study["no_kd"]).numpy()

    def teacher_margin(self) -> stats.Summary:
        """The regular (r = 0) teacher's test accuracy minus the no-KD face student's, over seeds (points)."""
        return stats.summarize(self.study["teacher_acc"][0] - self.study["no_kd"])

    def criteria(self, estimator: str = "gaussian") -> dict[str, torch.Tensor]:
        """:func:`criteria_from_features` per (teacher, seed): the teachers' test logits, the test
        clips' face AUs (one probe for every teacher) and labels; (T, S) tensors."""
        (T, S), test = self.gain.shape, self.data.test
        return criteria_from_features(self.teacher_logits, test.b.expand(T, S, -1, -1), test.y.expand(T, S, -1),
                                      num_classes=self.data.num_classes, estimator=estimator)

    def teacher_description(self) -> str:
        """The teachers' network and input in words, for the prose."""
        cfg, widths = self.settings, lambda w: "-".join(map(str, w))
        if not self.real:
            return f"MLPs (hidden {widths(cfg.hidden_a)}) on the stand-in's audio features"
        maps = self.data.test.a.shape
        return (f"CNNs (conv widths {widths(cfg.cnn_widths)}, FC {widths(cfg.cnn_hidden)}) on maps of "
                f"{maps[2]} MFCCs x {maps[3]} frames per clip")

    def strength_phrase(self) -> str:
        """How the regular teacher compares with the student's own modality, by the margin's 95% t-CI."""
        margin = self.teacher_margin()
        return "stronger than" if margin.ci_low > 0 else ("weaker than" if margin.ci_high < 0 else "not distinguishable from")


def ravdess_teacher_study(data_dir, cfg05: dict, *, device="cpu") -> RavdessTeachers:
    """Chapter 05's RAVDESS study (actor protocol, audio -> face), so both chapters share one cached run.

    ``cfg05``: chapter 05's profile (``config.load_profile("05_ravdess_vggsound", ...)``). With a
    ``data_dir``: the raw speech clips as (N, 1, n_mfcc, frames) MFCC maps
    (:func:`mfh_lib.data.ravdess_audio.load_ravdess_audio_face`) and the audio CNN teacher of
    ``cfg05["audio_teacher"]``; without one: the RAVDESS stand-in and MLP teachers, as chapter 05
    falls back. The dataset and settings are chapter 05's own, so the content-keyed results cache
    returns its study. Checks that the teachers' test logits are (T, S, N_test, K) and that the
    student's modality b is the face AUs.
    """
    from . import ranking
    from .data.ravdess import load_ravdess
    from .data.ravdess_audio import load_ravdess_audio_face

    if data_dir is None:
        data, overrides = load_ravdess(None, seed=cfg05["data_seed"], standardize_b=True), {}
    else:
        data = load_ravdess_audio_face(data_dir, split="actor", seed=cfg05["data_seed"], time_pool=cfg05["time_pool"],
                                       audio_form="maps", direction="audio->face")
        overrides = cfg05["audio_teacher"]
    settings = ranking.NullifiedStudySettings.from_dict({**cfg05, **overrides}, extra="ignore")
    result = RavdessTeachers(data, settings, ranking.nullified_teacher_study(data, settings, device=device),
                             data_dir is not None)
    check_teacher_inputs(result)
    return result


def check_teacher_inputs(result: RavdessTeachers) -> None:
    """Raise ConfigError unless the teachers' logits and the student's features fit the criteria:
    logits (T, S, N_test, K) with (T, S) = the students' grid and K = the dataset's classes, and
    modality b (the student's) = the face AUs, (N_test, D) features."""
    data, logits = result.data, result.teacher_logits
    expected = (*result.study["student_acc"].shape, len(data.test), data.num_classes)
    if tuple(logits.shape) != expected:
        raise ConfigError(f"teacher test logits have shape {tuple(logits.shape)}, expected (T, S, N_test, K) = {expected}")
    if data.modalities[1] != STUDENT_MODALITY or data.test.b.dim() != 2:
        raise ConfigError(f"the student's features must be {STUDENT_MODALITY!r} as (N, D), got "
                          f"{data.modalities[1]!r} {tuple(data.test.b.shape)}")


def real_teacher_table(result: RavdessTeachers, criteria: dict) -> pd.DataFrame:
    """One row per teacher: kind, r (%), M, seed-mean teacher accuracy, the student's gain (mean ±
    std over seeds) and the seed means of :func:`criteria_from_features`' (T, S) ``criteria``."""
    teachers, study = result.study["teachers"], result.study
    return pd.DataFrame({
        "teacher": [kind for kind, _, _ in teachers], "r (%)": [100 * r for _, r, _ in teachers],
        "M": [m for *_, m in teachers], "teacher acc": study["teacher_acc"].mean(1).numpy(),
        "student gain (mean ± std)": [stats.mean_std(g) for g in result.gain],
        **seed_mean_criteria(criteria),
    })
