"""Mutual information: closed forms for Gaussians and sample estimators for real features.

All values are in nats. Every function accepts leading batch axes (seeds, draws, settings), so one
call estimates the MI of many independent samples: ``x`` is (..., N, dx), ``y`` is (..., N, dy) or
(..., N) for a scalar, ``labels`` is (..., N) integer.

Closed forms
    * ``gaussian_mi_from_corr(rho)``: scalars, I = -1/2 log(1 - rho^2).
    * ``gaussian_mi_from_cov(cov, dim_x)``: vectors, I = 1/2 [log|S_xx| + log|S_yy| - log|S|].
    * ``binary_threshold_mi(rho, prevalence)``: a standard-normal score S and a label
      Y = 1(Z > tau) where (S, Z) is standard bivariate normal with correlation rho and
      P(Y = 1) = prevalence. No closed form: I = H_b(p) - E_S[H_b(Phi((rho S - tau)/sqrt(1 - rho^2)))]
      is integrated numerically on a fine grid (the integrand is smooth for |rho| < 1).

Estimators
    * ``gaussian_mi_estimate``: plug-in of the sample covariance into the log-det form (consistent
      when the pair is jointly Gaussian, a lower bound on the MI of the Gaussian copula otherwise).
    * ``latent_probit_mi_estimate``: score vs binary label under the latent-probit model above;
      rho is estimated by the biserial correlation, which is consistent when (S, Z) is Gaussian.
    * ``ksg_mi``: Kraskov-Stoegbauer-Grassberger estimator (algorithm 1), k-NN in the max-norm with
      ``torch.cdist``; nonparametric, for continuous x and y.
    * ``ksg_mi_discrete``: Ross (2014) k-NN estimator for a continuous x and a discrete label.
"""
from __future__ import annotations

import torch

from .config import ConfigError

_GRID = torch.linspace(-12.0, 12.0, 6001, dtype=torch.float64)  # integration grid for N(0, 1)


def gaussian_mi_from_corr(rho) -> torch.Tensor:
    """I(U; V) for jointly Gaussian scalars with correlation ``rho`` (nats)."""
    rho = torch.as_tensor(rho, dtype=torch.float64)
    return -0.5 * torch.log1p(-rho.clamp(-1, 1) ** 2)


def gaussian_mi_from_cov(cov, dim_x: int) -> torch.Tensor:
    """I(X; Y) for a jointly Gaussian (X, Y) with covariance ``cov`` (..., D, D); X = first dim_x coords."""
    cov = torch.as_tensor(cov, dtype=torch.float64)
    if not 0 < dim_x < cov.shape[-1]:
        raise ConfigError(f"dim_x must split the {cov.shape[-1]} coordinates into two non-empty groups, got {dim_x}")
    logdet = torch.linalg.slogdet
    return 0.5 * (logdet(cov[..., :dim_x, :dim_x])[1] + logdet(cov[..., dim_x:, dim_x:])[1] - logdet(cov)[1])


def binary_entropy(p: torch.Tensor) -> torch.Tensor:
    """H_b(p) in nats, with 0 log 0 = 0."""
    p = p.clamp(0, 1)
    return -(torch.xlogy(p, p) + torch.xlogy(1 - p, 1 - p))


def binary_threshold_mi(rho, prevalence=0.5) -> torch.Tensor:
    """I(S; Y) for a Gaussian score S and Y = 1(Z > tau), corr(S, Z) = rho, P(Y=1) = prevalence."""
    rho = torch.as_tensor(rho, dtype=torch.float64).clamp(-1 + 1e-9, 1 - 1e-9)
    p = torch.as_tensor(prevalence, dtype=torch.float64)
    rho, p = torch.broadcast_tensors(rho, p)
    normal = torch.distributions.Normal(torch.zeros((), dtype=torch.float64), torch.ones((), dtype=torch.float64))
    tau = normal.icdf(1 - p)
    s = _GRID.reshape((1,) * rho.ndim + (-1,))
    density = torch.exp(normal.log_prob(s))
    p_given_s = normal.cdf((rho[..., None] * s - tau[..., None]) / torch.sqrt(1 - rho[..., None] ** 2))
    conditional = torch.trapezoid(binary_entropy(p_given_s) * density, s, dim=-1)
    return binary_entropy(p) - conditional


def _columns(t, name: str) -> torch.Tensor:
    t = torch.as_tensor(t, dtype=torch.float64)
    if t.ndim < 1:
        raise ConfigError(f"{name} must have a sample axis, got a scalar")
    return t[..., None] if t.ndim == 1 else t


def gaussian_mi_estimate(x, y) -> torch.Tensor:
    """Plug-in Gaussian MI from the sample covariance of (x, y); x (..., N, dx) or (N,), y likewise.

    Scalars given as (..., N) with a batch axis must be passed as (..., N, 1).
    """
    x, y = _columns(x, "x"), _columns(y, "y")
    z = torch.cat([x, y], dim=-1)
    z = z - z.mean(dim=-2, keepdim=True)
    cov = z.transpose(-1, -2) @ z / (z.shape[-2] - 1)
    return gaussian_mi_from_cov(cov, x.shape[-1]).clamp_min(0)


def biserial_correlation(score, labels) -> torch.Tensor:
    """Biserial correlation of a score (..., N) with a binary label (..., N).

    Under the latent-probit model (S, Z) Gaussian, Y = 1(Z > tau) it estimates corr(S, Z):
    r_b = (mean_1 - mean_0) / std(S) * p (1 - p) / phi(Phi^-1(p)).
    """
    s = torch.as_tensor(score, dtype=torch.float64)
    y = torch.as_tensor(labels).to(torch.float64)
    if not bool(((y == 0) | (y == 1)).all()):
        raise ConfigError("the latent-probit estimator needs binary labels in {0, 1}; use ksg_mi_discrete for K > 2 classes")
    p = y.mean(dim=-1)
    mean1 = (s * y).sum(-1) / (y.sum(-1))
    mean0 = (s * (1 - y)).sum(-1) / ((1 - y).sum(-1))
    std = s.std(dim=-1, unbiased=False)
    normal = torch.distributions.Normal(torch.zeros((), dtype=torch.float64), torch.ones((), dtype=torch.float64))
    height = torch.exp(normal.log_prob(normal.icdf(p)))
    return ((mean1 - mean0) / std * p * (1 - p) / height).clamp(-1, 1)


def latent_probit_mi_estimate(score, labels) -> torch.Tensor:
    """I(S; Y) for a scalar score and a binary label under the latent-probit Gaussian model."""
    y = torch.as_tensor(labels).to(torch.float64)
    rho = biserial_correlation(score, labels)
    return binary_threshold_mi(rho, y.mean(dim=-1))


def _standardise(t: torch.Tensor) -> torch.Tensor:
    return (t - t.mean(dim=-2, keepdim=True)) / t.std(dim=-2, keepdim=True).clamp_min(1e-12)


def _max_norm_distances(t: torch.Tensor) -> torch.Tensor:
    # torch.cdist accepts batch axes; p=inf is the max-norm KSG needs. float32 halves the time and
    # is exact enough: every comparison below is between entries of these same matrices.
    t = t.float()
    return torch.cdist(t, t, p=float("inf"))


def _kth_smallest(dist: torch.Tensor, k: int) -> torch.Tensor:
    # topk is several times faster than kthvalue on CPU for small k
    return dist.topk(k, dim=-1, largest=False).values[..., -1:]


def ksg_mi(x, y, k: int = 3) -> torch.Tensor:
    """KSG estimator (Kraskov et al. 2004, algorithm 1) of I(X; Y), batched over leading axes.

    Each variable is standardised first (the max-norm mixes their scales). Memory is O(N^2) per
    batch element: keep N at a few thousand.
    """
    x, y = _standardise(_columns(x, "x")), _standardise(_columns(y, "y"))
    n = x.shape[-2]
    if not 0 < k < n:
        raise ConfigError(f"k must be in [1, N-1], got k={k} with N={n}")
    dist_x, dist_y = _max_norm_distances(x), _max_norm_distances(y)
    dist_joint = torch.maximum(dist_x, dist_y)
    eye = torch.eye(n, dtype=torch.bool, device=x.device)
    eps = _kth_smallest(dist_joint.masked_fill(eye, float("inf")), k)
    # strict inequality and the point itself (distance 0 < eps) removed: n_x counts neighbours j != i
    n_x = (dist_x < eps).sum(-1) - 1
    n_y = (dist_y < eps).sum(-1) - 1
    digamma = torch.special.digamma
    value = digamma(torch.tensor(float(k))) + digamma(torch.tensor(float(n)))
    value = value - (digamma(n_x.double() + 1) + digamma(n_y.double() + 1)).mean(-1)
    return value.clamp_min(0)


def ksg_mi_discrete(x, labels, k: int = 3) -> torch.Tensor:
    """Ross (2014) k-NN estimator of I(X; Y) for continuous x (..., N, d) and integer labels (..., N).

    I = psi(N) - <psi(N_y)> + psi(k) - <psi(m)>, where the k-th neighbour distance is taken among
    points of the same label and m counts all points strictly closer than it (the point included).
    """
    x = _standardise(_columns(x, "x"))
    labels = torch.as_tensor(labels, device=x.device)
    n = x.shape[-2]
    dist = _max_norm_distances(x)
    same = labels[..., :, None] == labels[..., None, :]
    class_size = same.sum(-1)
    if int(class_size.min()) <= k:
        raise ConfigError(f"every class needs more than k={k} samples for the k-NN estimator; lower k or add data")
    eye = torch.eye(n, dtype=torch.bool, device=x.device)
    radius = _kth_smallest(dist.masked_fill(~same | eye, float("inf")), k)
    m = (dist < radius).sum(-1)
    digamma = torch.special.digamma
    value = digamma(torch.tensor(float(n))) + digamma(torch.tensor(float(k)))
    value = value - digamma(class_size.double()).mean(-1) - digamma(m.double()).mean(-1)
    return value.clamp_min(0)


def label_entropy(labels, num_classes: int | None = None) -> torch.Tensor:
    """Plug-in entropy H(Y) of integer labels (..., N), nats: the upper bound of any I(S; Y)."""
    labels = torch.as_tensor(labels).long()
    k = num_classes or int(labels.max()) + 1
    freq = torch.nn.functional.one_hot(labels, k).double().mean(-2)
    return -torch.xlogy(freq, freq).sum(-1)

