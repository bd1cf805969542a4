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
    * ``infonce_mi``: a neural second opinion, the held-out InfoNCE lower bound (bounded by log N/2).

Bias
    * ``gaussian_mi_bias`` / ``gaussian_mi_unbiased``: the plug-in log-det MI's bias is known exactly
      for Gaussians (Wishart log-determinants); subtracting it gives an unbiased, unclamped estimate.
    * ``gaussian_surrogate_bias`` / ``mixture_surrogate_bias``: any estimator's bias measured on
      surrogates matched to the data (same N, same dimensions, the data's covariance / class means),
      whose MI is known: a parametric-bootstrap correction for KSG and the Ross estimator.
"""
from __future__ import annotations

import math

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


def ksg_mi(x, y, k: int = 3, clamp: bool = True) -> torch.Tensor:
    """KSG estimator (Kraskov et al. 2004, algorithm 1) of I(X; Y), batched over leading axes.

    Each variable is standardised first (the max-norm mixes their scales). Memory is O(N^2) per
    batch element: keep N at a few thousand. ``clamp``: report max(estimate, 0) (the default, as
    before); clamp=False keeps negative estimates, so a mean over draws or seeds is not biased
    upwards at small MI.
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
    return value.clamp_min(0) if clamp else value


def ksg_mi_discrete(x, labels, k: int = 3, clamp: bool = True) -> torch.Tensor:
    """Ross (2014) k-NN estimator of I(X; Y) for continuous x (..., N, d) and integer labels (..., N).

    I = psi(N) - <psi(N_y)> + psi(k) - <psi(m)>, where the k-th neighbour distance is taken among
    points of the same label and m counts all points strictly closer than it (the point included).
    ``clamp`` as in :func:`ksg_mi`.
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
    return value.clamp_min(0) if clamp else value


def label_entropy(labels, num_classes: int | None = None) -> torch.Tensor:
    """Plug-in entropy H(Y) of integer labels (..., N), nats: the upper bound of any I(S; Y)."""
    labels = torch.as_tensor(labels).long()
    k = num_classes or int(labels.max()) + 1
    freq = torch.nn.functional.one_hot(labels, k).double().mean(-2)
    return -torch.xlogy(freq, freq).sum(-1)



# --- bias: exact for the Gaussian plug-in, measured on matched surrogates for the others -----------

def logdet_bias(n: int, dim: int) -> torch.Tensor:
    """E[log|S_hat|] - log|S| for the sample covariance (n - 1 degrees of freedom) of n Gaussian rows
    in ``dim`` dimensions: sum_{i=1..dim} psi((n - i)/2) + dim log(2/(n - 1)) (Wishart), whatever S."""
    if n <= dim + 1:
        raise ConfigError(f"the log-det bias needs n > dim + 1 rows, got n={n}, dim={dim}")
    i = torch.arange(1, dim + 1, dtype=torch.float64)
    return torch.special.digamma((n - i) / 2).sum() + dim * torch.log(torch.tensor(2.0 / (n - 1), dtype=torch.float64))


def gaussian_mi_bias(n: int, dim_x: int, dim_y: int) -> torch.Tensor:
    """Expected bias of the unclamped plug-in log-det MI on n jointly Gaussian rows (nats).

    It depends on n and the dimensions only (not on the covariance): the plug-in MI is a signed sum
    of three log-determinants, each biased by :func:`logdet_bias`. Positive: the plug-in overstates.
    """
    return 0.5 * (logdet_bias(n, dim_x) + logdet_bias(n, dim_y) - logdet_bias(n, dim_x + dim_y))


def gaussian_mi_unbiased(x, y) -> torch.Tensor:
    """The plug-in log-det MI minus its exact Gaussian bias, not clamped at 0: unbiased for Gaussian
    (x, y) at every n > dx + dy + 1 and every MI level (a clamp would bias small MI upwards)."""
    x, y = _columns(x, "x"), _columns(y, "y")
    z = torch.cat([x, y], dim=-1)
    z = z - z.mean(dim=-2, keepdim=True)
    cov = z.transpose(-1, -2) @ z / (z.shape[-2] - 1)
    return gaussian_mi_from_cov(cov, x.shape[-1]) - gaussian_mi_bias(z.shape[-2], x.shape[-1], y.shape[-1])


def _flat(t: torch.Tensor, keep: int) -> tuple[torch.Tensor, tuple]:
    """(..., *last ``keep`` axes) -> (B, *last axes), and the batch shape to restore."""
    batch = t.shape[: t.ndim - keep]
    return t.reshape(-1, *t.shape[t.ndim - keep:]), batch


def gaussian_surrogate_bias(estimator, x, y, num_draws: int = 20, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Bias of ``estimator(x, y)`` on Gaussian surrogates matched to the data: the same N, the same
    dimensions and the sample covariance of (x, y), whose MI is known in closed form.

    x (..., N, dx), y (..., N, dy). Returns (bias, its standard error over the draws), both (...,):
    the mean surrogate estimate minus the surrogate's MI. Subtracting it from ``estimator(x, y)``
    is a parametric-bootstrap bias correction.
    """
    x, y = _columns(x, "x"), _columns(y, "y")
    z = torch.cat([x, y], dim=-1)
    z, batch = _flat(z - z.mean(-2, keepdim=True), 2)
    n, dx = z.shape[-2], x.shape[-1]
    cov = z.transpose(-1, -2) @ z / (n - 1)
    truth = gaussian_mi_from_cov(cov, dx)
    chol = torch.linalg.cholesky(cov + 1e-10 * torch.eye(cov.shape[-1], dtype=torch.float64))
    gen = torch.Generator().manual_seed(seed)
    est = []  # one draw at a time, batched over B: the k-NN estimators hold (B, N, N) distances
    for _ in range(num_draws):
        draw = torch.randn(*z.shape, generator=gen, dtype=torch.float64) @ chol.transpose(-1, -2)
        est.append(estimator(draw[..., :dx], draw[..., dx:]) - truth)
    est = torch.stack(est)  # (draws, B)
    return est.mean(0).reshape(batch), (est.std(0) / num_draws**0.5).reshape(batch)


def mixture_mi(means: torch.Tensor, cov: torch.Tensor, weights: torch.Tensor, num_samples: int = 20000,
               seed: int = 0) -> torch.Tensor:
    """I(S; Y) of the Gaussian mixture S | Y=k ~ N(means[k], cov), P(Y=k) = weights[k], by Monte
    Carlo of the known densities: E[log p(s | y) - log p(s)]. means (..., K, d), cov (..., d, d)."""
    gen = torch.Generator().manual_seed(seed)
    (means, batch), cov, weights = _flat(means, 2), cov.reshape(-1, *cov.shape[-2:]), weights.reshape(-1, weights.shape[-1])
    chol = torch.linalg.cholesky(cov)
    labels = torch.multinomial(weights, num_samples, replacement=True, generator=gen)  # (B, M)
    s = means.gather(1, labels[..., None].expand(-1, -1, means.shape[-1]))
    s = s + torch.randn(s.shape, generator=gen, dtype=torch.float64) @ chol.transpose(-1, -2)
    # whitened by the shared covariance, the log-likelihoods are -|s - mu_k|^2 / 2 up to a constant
    whiten = torch.linalg.inv(chol).transpose(-1, -2)
    log_lik = -0.5 * torch.cdist(s @ whiten, means @ whiten) ** 2  # (B, M, K)
    own = log_lik.gather(2, labels[..., None])[..., 0]
    marginal = torch.logsumexp(log_lik + torch.log(weights)[:, None, :], dim=-1)
    return (own - marginal).mean(-1).reshape(batch)


def mixture_surrogate_bias(estimator, x, labels, num_classes: int, num_draws: int = 20,
                           seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Bias of ``estimator(x, labels)`` (a continuous score vs a class label) on matched Gaussian-
    mixture surrogates: the same labels (so the same N and class counts), and x redrawn from the
    observed class means with the pooled within-class covariance; the surrogate's MI is
    :func:`mixture_mi`. x (..., N, d), labels (..., N). Returns (bias, standard error), (...,)."""
    x = _columns(x, "x")
    (x, batch), (y, _) = _flat(x, 2), _flat(torch.as_tensor(labels).long(), 1)
    onehot = torch.nn.functional.one_hot(y, num_classes).double()  # (B, N, K)
    counts = onehot.sum(1).clamp_min(1)
    means = onehot.transpose(1, 2) @ x / counts[..., None]  # (B, K, d)
    resid = x - onehot @ means
    cov = resid.transpose(1, 2) @ resid / (x.shape[1] - num_classes)
    truth = mixture_mi(means, cov, onehot.mean(1), seed=seed)
    chol = torch.linalg.cholesky(cov)
    gen = torch.Generator().manual_seed(seed + 1)
    est = torch.stack([estimator(onehot @ means + torch.randn(*x.shape, generator=gen, dtype=torch.float64)
                                 @ chol.transpose(-1, -2), y) - truth for _ in range(num_draws)])
    return est.mean(0).reshape(batch), (est.std(0) / num_draws**0.5).reshape(batch)


# --- a neural second opinion ------------------------------------------------------------------------

def infonce_mi(x, y, hidden: int = 16, embed: int = 8, num_steps: int = 100, lr: float = 0.01,
               weight_decay: float = 0.1, seed: int = 0) -> torch.Tensor:
    """Held-out InfoNCE lower bound on I(X; Y) (van den Oord et al. 2018), batched over leading axes.

    A separable critic f(x, y) = g(x)'h(y) (one-hidden-layer MLPs, tanh) is trained by full-batch
    Adam on one half of the rows and evaluated on the other half (then the halves swap and the two
    bounds are averaged), so the critic never scores the rows it was fitted on:
    I >= log M + mean_i [f(x_i, y_i) - logsumexp_j f(x_i, y_j)], M = N/2, which is at most log M.
    x (..., N, dx), y (..., N, dy). Seeded and CPU-cheap (N of a few hundred). The strong weight
    decay and few steps are deliberate: with N/2 ~ 100 rows a freer critic overfits and its held-out
    bound turns negative; the price is a conservative (low) estimate, so read it for rankings.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny kernels: one thread is ~10x faster on a loaded CPU
    try:
        return _infonce(_standardise(_columns(x, "x")), _standardise(_columns(y, "y")), hidden, embed, num_steps, lr,
                        weight_decay, seed)
    finally:
        torch.set_num_threads(previous)


def _infonce(x, y, hidden, embed, num_steps, lr, weight_decay, seed) -> torch.Tensor:
    (x, batch), (y, _) = _flat(x, 2), _flat(y, 2)
    n = x.shape[1]
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(n, generator=gen)
    halves = (order[: n // 2], order[n // 2: 2 * (n // 2)])

    def init(shape, fan_in):
        return (torch.randn(len(x), *shape, generator=gen, dtype=torch.float64) / fan_in**0.5).requires_grad_()

    def critic(params, xs, ys):
        gx = torch.tanh(xs @ params[0] + params[1]) @ params[2]
        hy = torch.tanh(ys @ params[3] + params[4]) @ params[5]
        return gx @ hy.transpose(1, 2)  # (B, M, M): row i scores x_i against every y_j

    def bound(scores):
        return math.log(scores.shape[-1]) + (scores.diagonal(dim1=1, dim2=2) - scores.logsumexp(-1)).mean(-1)

    out = []
    for fit, score in (halves, halves[::-1]):
        params = [init((x.shape[-1], hidden), x.shape[-1]), torch.zeros(len(x), 1, hidden, dtype=torch.float64, requires_grad=True),
                  init((hidden, embed), hidden), init((y.shape[-1], hidden), y.shape[-1]),
                  torch.zeros(len(x), 1, hidden, dtype=torch.float64, requires_grad=True), init((hidden, embed), hidden)]
        _adam(lambda: -bound(critic(params, x[:, fit], y[:, fit])).sum(), params, num_steps, lr, weight_decay)
        with torch.no_grad():
            out.append(bound(critic(params, x[:, score], y[:, score])))
    return ((out[0] + out[1]) / 2).reshape(batch)


def _adam(loss_fn, params, num_steps: int, lr: float, weight_decay: float):
    """Full-batch ``torch.optim.Adam`` (L2 weight decay) on ``params`` for ``num_steps`` steps."""
    optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    for _ in range(num_steps):
        optimizer.zero_grad()
        loss_fn().backward()
        optimizer.step()
