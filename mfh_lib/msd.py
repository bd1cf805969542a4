"""Modality-specific distillation (MSD; Jin et al., arXiv 2101.01881 v1).

A multimodal student mimics a multimodal teacher not only on the full input but also on each
modality alone. Every sample is fed to both networks in three *views* (:data:`VIEWS`):
``multimodal`` (a, b), ``a only`` (a, 0) and ``b only`` (0, b).

Dropping a modality means replacing its input by zeros. Inputs are standardised with training
statistics first (:func:`standardize`), so a dropped modality sits at its training mean: the
same masking for teacher and student, in training and in evaluation.

Eq. (5), with the tau^2 / |X| scale the paper omits for brevity, is

    L_distill = tau^2 * sum_v mean_i w_i^v KL(t(x_i^v; tau) || s(x_i^v; tau)),

and the student minimises ``lam * CE + (1 - lam) * L_distill`` (eq. (1)). The weights
w (one per member, view and sample) come from a *weighting*:

* ``"none"``: no distillation (the "small model" of Tab. 1);
* ``"kd"``: (1, 0, 0), conventional KD (Hinton et al.);
* ``"population"``: one constant triple per run, chosen by grid search on the validation set;
* ``"importance"`` (eq. (6)): w = 1 and each unimodal view weighted by tanh of the KL between the
  teacher's multimodal prediction and its prediction on that view;
* ``"correctness"`` (eq. (7)): w : w^a : w^b = 1/CE of the teacher on each view, summing to 1;
* ``"meta"`` (Algorithm 1): a Meta-Weight-Net (MLP + sigmoid on the teacher's three predictions)
  trained online through a one-step look-ahead of the student, with the validation set as meta data.
  The look-ahead is a differentiable copy of the student's real Adam step (:func:`lookahead_params`),
  so the meta-gradient is for the step the student actually takes.

Feature-based baselines (FitNet, RKD, SP from :mod:`mfh_lib.losses`) add ``feature_weight *
L_feature`` on the multimodal view; "X + MSD" keeps that term and replaces the KD term by MSD.

Everything is vectorised over members with ``torch.func.vmap``: a run trains ``num_settings x
num_seeds`` students at once, member ``m = g * num_seeds + s`` having setting g (e.g. a population
weight triple) and seed s. All members of one seed share initialisation and batch order across
methods and settings, so per-seed differences between methods are paired comparisons.
"""
from __future__ import annotations

import contextlib
import itertools
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap

from . import losses
from .cache import progress
from .config import ConfigError, StudySettings, check_unit_interval, check_whole
from .data import MultimodalDataset, MultimodalSplit
from .training import Ensemble, train_ensemble

VIEWS = ("multimodal", "a only", "b only")
WEIGHTINGS = ("none", "kd", "population", "importance", "correctness", "meta")
FEATURE_LOSSES = {"fitnet": losses.fitnet_loss, "rkd": losses.rkd_loss, "sp": losses.sp_loss}

# Tab. 1 / Tab. 2 methods: name -> (weighting, feature loss). "X + MSD" is X with the KD term
# replaced by meta-weighted MSD, so X vs X + MSD isolates MSD.
METHODS = {
    "small model": ("none", None),
    "KD": ("kd", None),
    "FitNet": ("kd", "fitnet"),
    "RKD": ("kd", "rkd"),
    "SP": ("kd", "sp"),
    "MSD (population)": ("population", None),
    "MSD (importance)": ("importance", None),
    "MSD (correctness)": ("correctness", None),
    "MSD (meta)": ("meta", None),
    "FitNet + MSD": ("meta", "fitnet"),
    "RKD + MSD": ("meta", "rkd"),
    "SP + MSD": ("meta", "sp"),
}


# ----------------------------------------------------------------------------- data and views


def _standardize_like(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return ((x.flatten(1) - mean) / std).reshape(x.shape)


def standardize(dataset: MultimodalDataset) -> MultimodalDataset:
    """Z-score every input feature with the training split's statistics (all splits alike).

    After this, zeroing a modality replaces it by its training mean, the masking MSD relies on.
    """
    splits = {}
    stats = {}
    for name in ("a", "b"):
        train = getattr(dataset.train, name).float().flatten(1)
        stats[name] = (train.mean(0), train.std(0).clamp_min(1e-6))
    for split_name in ("train", "val", "test"):
        split = getattr(dataset, split_name)
        splits[split_name] = MultimodalSplit(
            _standardize_like(split.a.float(), *stats["a"]), _standardize_like(split.b.float(), *stats["b"]), split.y
        )
    return replace(dataset, **splits)


def modality_views(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The three views of a batch, concatenated on the sample axis: (3B, ...) each.

    Rows [0, B) are multimodal, [B, 2B) keep only a (b zeroed), [2B, 3B) keep only b (a zeroed).
    """
    return torch.cat([a, a, torch.zeros_like(a)]), torch.cat([b, torch.zeros_like(b), b])


# ----------------------------------------------------------------------------- architecture


def _mlp_body(in_features: int, hidden: Sequence[int]) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers), width


class LateFusionNet(nn.Module):
    """Late fusion: an MLP encoder per (flattened) modality, concatenated, an MLP fusion body, a
    linear head. ``forward(a, b)`` returns logits; with ``return_features=True`` it returns
    ``(logits, features)`` where features are the fusion body's output, mapped by a linear *hint*
    regressor to ``hint_dim`` when one is given (FitNet's student-side regressor)."""

    def __init__(self, in_a: int, in_b: int, num_classes: int, encoder_hidden: Sequence[int] = (64,),
                 fusion_hidden: Sequence[int] = (64,), dropout: float = 0.0, hint_dim: int | None = None):
        super().__init__()
        self.encoder_a, width_a = _mlp_body(in_a, encoder_hidden)
        self.encoder_b, width_b = _mlp_body(in_b, encoder_hidden)
        self.dropout = nn.Dropout(dropout)
        self.fusion, self.feature_dim = _mlp_body(width_a + width_b, fusion_hidden)
        self.head = nn.Linear(self.feature_dim, num_classes)
        self.hint = nn.Linear(self.feature_dim, hint_dim) if hint_dim is not None else None

    def forward(self, a: torch.Tensor, b: torch.Tensor, return_features: bool = False):
        h = torch.cat([self.encoder_a(a.flatten(1)), self.encoder_b(b.flatten(1))], dim=-1)
        features = self.fusion(self.dropout(h))
        logits = self.head(features)
        if not return_features:
            return logits
        return logits, (self.hint(features) if self.hint is not None else features)


class MetaWeightNet(nn.Module):
    """Eq. (8): (w, w^a, w^b) = sigmoid(MLP(t(x), t(x^a only), t(x^b only))).

    As in Meta-Weight-Net (Shu et al. 2019): one hidden ReLU layer of 100 units and a sigmoid.
    Input (..., V, K) teacher probabilities of the three views; output (..., V) weights in (0, 1).
    """

    def __init__(self, num_classes: int, hidden: int = 100, num_views: int = len(VIEWS)):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(num_views * num_classes, hidden), nn.ReLU(), nn.Linear(hidden, num_views))

    def forward(self, teacher_view_probs: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(teacher_view_probs.flatten(-2)))


# ----------------------------------------------------------------------------- losses


def probabilities(logits: torch.Tensor, multilabel: bool, temperature: float = 1.0) -> torch.Tensor:
    """Softmax over classes (last axis), or per-label sigmoids for multi-label tasks."""
    return torch.sigmoid(logits / temperature) if multilabel else torch.softmax(logits / temperature, dim=-1)


def task_loss(logits: torch.Tensor, labels: torch.Tensor, multilabel: bool) -> torch.Tensor:
    """Per-sample supervised loss, shape logits.shape[:-1]: cross entropy, or binary cross entropy
    summed over labels (so it is on the same scale as the label-summed Bernoulli KL)."""
    if multilabel:
        return F.binary_cross_entropy_with_logits(logits, labels.float(), reduction="none").sum(-1)
    return -torch.log_softmax(logits, dim=-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)


def divergence(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 1.0,
               multilabel: bool = False) -> torch.Tensor:
    """Per-sample KL(t(x; tau) || s(x; tau)) over the last (class) axis, without the tau^2 factor.

    Eq. (5) weights every sample's term, so unlike ``losses.kd_divergence`` nothing is averaged
    here. Multi-label: the KL between the per-label Bernoulli distributions, summed over labels.
    """
    s, t = student_logits / temperature, teacher_logits.detach() / temperature
    if multilabel:
        p_t = torch.sigmoid(t)
        return (p_t * (F.logsigmoid(t) - F.logsigmoid(s)) + (1 - p_t) * (F.logsigmoid(-t) - F.logsigmoid(-s))).sum(-1)
    log_p_t = torch.log_softmax(t, dim=-1)
    return (log_p_t.exp() * (log_p_t - torch.log_softmax(s, dim=-1))).sum(-1)


def msd_distill_loss(student_view_logits: torch.Tensor, teacher_view_logits: torch.Tensor, weights: torch.Tensor,
                     temperature: float = 1.0, multilabel: bool = False) -> torch.Tensor:
    """Eq. (5): tau^2 * sum over views of the sample mean of w * KL; logits (..., V, B, K), weights
    broadcastable to (..., V, B). Returns shape (...). With V = 1 and w = 1 it is Hinton's KD."""
    kl = divergence(student_view_logits, teacher_view_logits, temperature, multilabel)
    return temperature**2 * (weights * kl).mean(-1).sum(-1)


# ----------------------------------------------------------------------------- weighting schemes


def population_grid(values: Sequence[float]) -> torch.Tensor:
    """All (1, w^a, w^b) with w^a, w^b from ``values``: the population-weighting search grid (G, 3)."""
    return torch.tensor([(1.0, wa, wb) for wa, wb in itertools.product(values, values)])


def importance_weights(teacher_view_logits: torch.Tensor, multilabel: bool = False) -> torch.Tensor:
    """Eq. (6). ``teacher_view_logits`` (V, N, K) -> weights (V, N).

    The paper's w^v = tanh(I_t) with I_t = KL(t(x) || t(x^v)): each unimodal view is weighted by how
    much the teacher's prediction changes when the *other* modality is dropped (the importance of
    the dropped modality), and the multimodal term gets w = 1.
    """
    multimodal = teacher_view_logits[:1].expand_as(teacher_view_logits[1:])
    change = divergence(teacher_view_logits[1:], multimodal, multilabel=multilabel)
    return torch.cat([torch.ones_like(change[:1]), torch.tanh(change)])


def correctness_weights(teacher_view_logits: torch.Tensor, labels: torch.Tensor, multilabel: bool = False,
                        eps: float = 1e-6) -> torch.Tensor:
    """Eq. (7): w : w^a : w^b = 1/h(t(x)) : 1/h(t(x^a)) : 1/h(t(x^b)) with h the teacher's cross
    entropy on each view, normalised so the three weights sum to 1. (V, N, K), (N,) -> (V, N)."""
    h = task_loss(teacher_view_logits, labels.expand(teacher_view_logits.shape[0], *labels.shape), multilabel)
    inverse = 1.0 / h.clamp_min(eps)
    return inverse / inverse.sum(0, keepdim=True)


# ----------------------------------------------------------------------------- teacher


def make_modality_dropout_loss(p_drop: float, multilabel: bool, generator: torch.Generator) -> Callable:
    """A ``train_ensemble`` loss for the teacher: each sample loses modality a with probability
    p_drop, else modality b with probability p_drop (never both). Trained this way the teacher's
    unimodal predictions t(x^a), t(x^b) are informative rather than out-of-distribution guesses."""
    if not 0.0 <= p_drop <= 0.5:
        raise ConfigError(f"modality dropout p_drop must lie in [0, 0.5] (each modality is dropped with p_drop), got {p_drop}")

    def loss_fn(ensemble, a, b, y):
        u = torch.rand(a.shape[:2], generator=generator).to(a.device)
        keep_a = (u >= p_drop).float()
        keep_b = ((u < p_drop) | (u >= 2 * p_drop)).float()
        a = a * keep_a.view(*keep_a.shape, *[1] * (a.dim() - 2))
        b = b * keep_b.view(*keep_b.shape, *[1] * (b.dim() - 2))
        return task_loss(ensemble(a, b), y, multilabel).mean(-1)

    return loss_fn


@dataclass
class TeacherOutputs:
    """The frozen teacher on one split: view logits (V, N, K) and multimodal features (N, D)."""

    logits: torch.Tensor
    features: torch.Tensor


@torch.no_grad()
def model_outputs(model: nn.Module, split: MultimodalSplit, batch_size: int = 4096) -> TeacherOutputs:
    """Logits of the three views and the multimodal features of one (non-ensemble) model."""
    model.eval()
    logits, features = [], []
    for start in range(0, len(split), batch_size):
        a, b = split.a[start:start + batch_size], split.b[start:start + batch_size]
        n = a.shape[0]
        out, feat = model(*modality_views(a, b), return_features=True)
        logits.append(out.reshape(len(VIEWS), n, -1))
        features.append(feat[:n])
    return TeacherOutputs(torch.cat(logits, dim=1), torch.cat(features))


# ----------------------------------------------------------------------------- students


@dataclass(frozen=True)
class StudentRecipe:
    """How a student is trained. ``lam`` is eq. (1)'s weight of the hard-label loss."""

    weighting: str = "kd"
    feature_loss: str | None = None
    lam: float = 0.5
    temperature: float = 4.0
    feature_weight: float = 1.0
    num_epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    meta_lr: float = 1e-3
    meta_weight_decay: float = 1e-4
    meta_hidden: int = 100
    meta_batch_size: int = 64

    def __post_init__(self):
        if self.weighting not in WEIGHTINGS:
            raise ConfigError(f"unknown weighting {self.weighting!r}; choose one of {WEIGHTINGS}")
        if self.feature_loss is not None and self.feature_loss not in FEATURE_LOSSES:
            raise ConfigError(f"unknown feature loss {self.feature_loss!r}; choose one of {sorted(FEATURE_LOSSES)} or None")
        check_unit_interval("lam", self.lam)
        if self.temperature <= 0:
            raise ConfigError(f"temperature must be > 0, got {self.temperature}")

    @classmethod
    def for_method(cls, method: str, **settings) -> "StudentRecipe":
        if method not in METHODS:
            raise ConfigError(f"unknown method {method!r}; choose one of {list(METHODS)}")
        weighting, feature_loss = METHODS[method]
        return cls(weighting=weighting, feature_loss=feature_loss, **settings)

    @property
    def uses_views(self) -> bool:
        return self.weighting not in ("none", "kd")


@dataclass
class TrainingData:
    """What a student's loss reads per training sample; everything indexed on axis 0 by sample."""

    a: torch.Tensor
    b: torch.Tensor
    y: torch.Tensor
    teacher_logits: torch.Tensor  # (N, V, K)
    teacher_features: torch.Tensor  # (N, D)
    instance_weights: torch.Tensor | None = None  # (N, V) for importance / correctness weighting

    def gather(self, idx: torch.Tensor) -> "TrainingData":
        """Rows ``idx`` (M, B) of every tensor: (M, B, ...)."""
        pick = lambda t: None if t is None else t[idx]  # noqa: E731
        return TrainingData(pick(self.a), pick(self.b), pick(self.y), pick(self.teacher_logits),
                            pick(self.teacher_features), pick(self.instance_weights))


def training_data(split: MultimodalSplit, teacher: TeacherOutputs, weighting: str, multilabel: bool) -> TrainingData:
    """Bundle a training split with the teacher's outputs and, if needed, eq. (6)/(7) weights."""
    weights = None
    if weighting == "importance":
        weights = importance_weights(teacher.logits, multilabel).T.contiguous()
    elif weighting == "correctness":
        weights = correctness_weights(teacher.logits, split.y, multilabel).T.contiguous()
    return TrainingData(split.a, split.b, split.y, teacher.logits.transpose(0, 1).contiguous(), teacher.features, weights)


def tile_ensemble(ensemble: Ensemble, num_settings: int) -> Ensemble:
    """Repeat an S-member ensemble ``num_settings`` times: member g * S + s is a copy of member s."""
    if num_settings > 1:
        tile = lambda v: v.detach().repeat(num_settings, *[1] * (v.dim() - 1))  # noqa: E731
        ensemble.params = {k: tile(v).requires_grad_(True) for k, v in ensemble.params.items()}
        ensemble.buffers = {k: tile(v) for k, v in ensemble.buffers.items()}
        ensemble.num_members *= num_settings
    return ensemble


_FUSED = {"enabled": True}


@contextlib.contextmanager
def fused_forward(enabled: bool):
    """Switch :func:`member_forward` between the fused batched-matmul path (default) and the
    generic ``vmap(functional_call)`` path (the naive reference that bench/bench_msd.py times)."""
    previous, _FUSED["enabled"] = _FUSED["enabled"], enabled
    try:
        yield
    finally:
        _FUSED["enabled"] = previous


def _fused_body(params: dict, prefix: str, x: torch.Tensor, num_layers: int) -> torch.Tensor:
    """Member-wise Linear + ReLU stack: x (M, B, D) with weights (M, out, in) -> (M, B, H)."""
    for i in range(num_layers):
        weight, bias = params[f"{prefix}.{2 * i}.weight"], params[f"{prefix}.{2 * i}.bias"]
        x = torch.relu(torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2)))
    return x


def _fused_late_fusion(net: "LateFusionNet", params: dict, a: torch.Tensor, b: torch.Tensor, views: bool):
    """LateFusionNet's forward for all members at once, without dropout, as a few batched matmuls.

    The encoders run once on the real inputs (M, B, ...) and once on a single zero input (the
    dropped modality); the three views only differ in which encodings are concatenated, so a
    unimodal view costs no encoder work. Same numbers as the generic path up to float rounding.
    """
    m, batch = a.shape[:2]
    layers_a, layers_b, layers_f = len(net.encoder_a) // 2, len(net.encoder_b) // 2, len(net.fusion) // 2
    h_a = _fused_body(params, "encoder_a", a.reshape(m, batch, -1), layers_a)
    h_b = _fused_body(params, "encoder_b", b.reshape(m, batch, -1), layers_b)
    if views:
        zero_a = _fused_body(params, "encoder_a", a.new_zeros(m, 1, a[0, :1].numel()),
                             layers_a).expand_as(h_a)
        zero_b = _fused_body(params, "encoder_b", b.new_zeros(m, 1, b[0, :1].numel()), layers_b).expand_as(h_b)
        h = torch.cat([torch.cat([h_a, h_b], -1), torch.cat([h_a, zero_b], -1), torch.cat([zero_a, h_b], -1)], dim=1)
    else:
        h = torch.cat([h_a, h_b], -1)
    features = _fused_body(params, "fusion", h, layers_f)
    logits = torch.baddbmm(params["head.bias"].unsqueeze(1), features, params["head.weight"].transpose(1, 2))
    features = features[:, :batch]
    if net.hint is not None:
        features = torch.baddbmm(params["hint.bias"].unsqueeze(1), features, params["hint.weight"].transpose(1, 2))
    return logits, features


def member_forward(ensemble: Ensemble, a: torch.Tensor, b: torch.Tensor, *, views: bool, params=None, buffers=None):
    """Member-wise ``(logits, features)`` of an ensemble of LateFusionNets on (M, B, ...) inputs.

    With ``views`` the logits are (M, V, B, K) for the three views (features: multimodal view only);
    otherwise (M, 1, B, K). ``params`` / ``buffers`` override the ensemble's (for the look-ahead).
    LateFusionNets without active dropout take the fused path (:func:`fused_forward`).
    """
    params = ensemble.params if params is None else params
    buffers = ensemble.buffers if buffers is None else buffers
    num_views = len(VIEWS) if views else 1
    ensemble.base.train(ensemble.training)
    net = ensemble.base
    if _FUSED["enabled"] and isinstance(net, LateFusionNet) and (net.dropout.p == 0 or not ensemble.training):
        logits, features = _fused_late_fusion(net, params, a, b, views)
        return logits.reshape(logits.shape[0], num_views, a.shape[1], -1), features

    def one(p, bu, a, b):
        if views:
            a, b = modality_views(a, b)
        return functional_call(ensemble.base, (p, bu), (a, b), {"return_features": True})

    logits, features = vmap(one, randomness="different")(params, buffers, a, b)
    batch = a.shape[1]
    return logits.reshape(logits.shape[0], num_views, batch, -1), features[:, :batch]


def student_losses(student: Ensemble, batch: TrainingData, weights: torch.Tensor | None, recipe: StudentRecipe,
                   multilabel: bool, params=None, buffers=None) -> torch.Tensor:
    """(M,) per-member losses: lam * CE + (1 - lam) * eq. (5) [+ feature_weight * L_feature]."""
    logits, features = member_forward(student, batch.a, batch.b, views=recipe.uses_views, params=params, buffers=buffers)
    ce = task_loss(logits[:, 0], batch.y, multilabel).mean(-1)
    if recipe.weighting == "none":
        loss = ce
    else:
        num_views = logits.shape[1]
        teacher = batch.teacher_logits[:, :, :num_views].transpose(1, 2)
        distill = msd_distill_loss(logits, teacher, weights[:, :num_views], recipe.temperature, multilabel)
        loss = recipe.lam * ce + (1 - recipe.lam) * distill
    if recipe.feature_loss is not None:
        loss = loss + recipe.feature_weight * FEATURE_LOSSES[recipe.feature_loss](features, batch.teacher_features)
    return loss


def _view_probs(batch: TrainingData, multilabel: bool) -> torch.Tensor:
    return probabilities(batch.teacher_logits, multilabel)  # (M, B, V, K): the meta-learner's input


def batch_weights(recipe: StudentRecipe, batch: TrainingData, population: torch.Tensor | None,
                  meta_net: Ensemble | None, multilabel: bool) -> torch.Tensor | None:
    """Weights (M, V, B) of eq. (5) for this batch under the recipe's weighting scheme."""
    m, bsz = batch.y.shape[:2]
    if recipe.weighting == "none":
        return None
    if recipe.weighting == "kd":
        return batch.a.new_ones(m, 1, bsz)
    if recipe.weighting == "population":
        return population[:, :, None].expand(m, len(VIEWS), bsz)
    if recipe.weighting in ("importance", "correctness"):
        return batch.instance_weights.transpose(1, 2)
    return meta_net(_view_probs(batch, multilabel)).transpose(1, 2)


def lookahead_params(params: dict[str, torch.Tensor], grads: Sequence[torch.Tensor | None],
                     optimizer: torch.optim.Optimizer | None = None, lr: float = 1e-3) -> dict[str, torch.Tensor]:
    """Algorithm 1, line 4: the parameters after one step, differentiable in ``grads``.

    With ``optimizer`` (an ``torch.optim.Adam`` over ``params``) the step is the one that optimiser
    would take next, computed from its current state (moments, step count, lr, betas, eps,
    weight decay) without changing it: the meta-gradient is then for the step the student really
    takes. Without one it is plain SGD at ``lr`` (Meta-Weight-Net's recipe). A parameter with no
    gradient stays where it is, as in the real step.
    """
    names = list(params)
    if optimizer is None:
        return {k: params[k] if g is None else params[k] - lr * g for k, g in zip(names, grads)}
    if not isinstance(optimizer, torch.optim.Adam) or isinstance(optimizer, torch.optim.AdamW):
        raise ConfigError(f"the differentiable look-ahead implements Adam only, got {type(optimizer).__name__}")
    group_of = {id(p): group for group in optimizer.param_groups for p in group["params"]}
    virtual = {}
    for k, g in zip(names, grads):
        p = params[k]
        if g is None:
            virtual[k] = p
            continue
        group = group_of[id(p)]
        if group["amsgrad"] or group.get("maximize", False):
            raise ConfigError("the differentiable Adam look-ahead does not implement amsgrad or maximize")
        beta1, beta2 = group["betas"]
        state = optimizer.state.get(p, {})
        step = float(state["step"]) + 1 if "step" in state else 1.0
        exp_avg = state.get("exp_avg", torch.zeros_like(p)).detach()
        exp_avg_sq = state.get("exp_avg_sq", torch.zeros_like(p)).detach()
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p.detach()
        m = beta1 * exp_avg + (1 - beta1) * g
        v = beta2 * exp_avg_sq + (1 - beta2) * g * g
        # clamp: sqrt has an infinite derivative at 0 (a parameter with a zero gradient); below
        # 1e-30 the clamp changes the denominator by far less than eps
        denom = v.clamp_min(1e-30).sqrt() / math.sqrt(1 - beta2**step) + group["eps"]
        virtual[k] = p.detach() - (group["lr"] / (1 - beta1**step)) * m / denom
    return virtual


def meta_step(student: Ensemble, meta_net: Ensemble, meta_optimizer: torch.optim.Optimizer, batch: TrainingData,
              meta_batch: MultimodalSplit, recipe: StudentRecipe, lookahead_lr: float, multilabel: bool,
              student_optimizer: torch.optim.Optimizer | None = None) -> torch.Tensor:
    """Algorithm 1, lines 4-5: a virtual step of the student as a function of the meta-net's
    parameters, then one meta-net update on the virtual student's validation cross entropy (eq. (9)).

    The virtual step (:func:`lookahead_params`) is the student optimiser's own next step when
    ``student_optimizer`` is given (Adam, as in :func:`train_students`), else plain SGD at
    ``lookahead_lr``. It is functional (``functional_call`` on the stepped parameters, built with
    ``create_graph=True``), so no model copy is made. Buffers are cloned for the look-ahead so a
    BatchNorm's running statistics are not updated by the virtual forwards (the Meta-Weight-Net
    pitfall); the models here have none, but the library should not rely on that.
    Returns the (M,) meta losses.
    """
    weights = meta_net(_view_probs(batch, multilabel)).transpose(1, 2)
    names = list(student.params)
    inner = student_losses(student, batch, weights, recipe, multilabel,
                           buffers={k: v.clone() for k, v in student.buffers.items()})
    grads = torch.autograd.grad(inner.sum(), [student.params[k] for k in names], create_graph=True, allow_unused=True)
    virtual = lookahead_params(student.params, grads, student_optimizer, lookahead_lr)
    logits, _ = member_forward(student, meta_batch.a, meta_batch.b, views=False, params=virtual,
                               buffers={k: v.clone() for k, v in student.buffers.items()})
    meta_loss = task_loss(logits[:, 0], meta_batch.y, multilabel).mean(-1)
    meta_optimizer.zero_grad(set_to_none=True)
    meta_loss.sum().backward(inputs=meta_net.parameters())
    meta_optimizer.step()
    return meta_loss.detach()


@dataclass
class StudentRun:
    """A trained set of students: ``ensemble`` (M = G * S members), the meta-net ensemble for
    ``"meta"``, and per-epoch evaluations returned by ``eval_fn`` (for learning curves)."""

    ensemble: Ensemble
    meta_net: Ensemble | None
    curve: list = field(default_factory=list)
    weight_curve: list = field(default_factory=list)  # per epoch, meta only: (M, V) mean learned weights


def _seed_orders(num_seeds: int, num_settings: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """(G * S, n) sample orders: one permutation per seed, shared by every setting of that seed."""
    return torch.stack([torch.randperm(n, generator=generator) for _ in range(num_seeds)]).repeat(num_settings, 1)


def train_students(make_student: Callable[[], nn.Module], data: TrainingData, recipe: StudentRecipe, *,
                   num_seeds: int, seed: int = 0, population: torch.Tensor | None = None,
                   meta_split: MultimodalSplit | None = None, multilabel: bool = False,
                   eval_fn: Callable[[Ensemble], object] | None = None, desc: str = "student") -> StudentRun:
    """Train ``G x num_seeds`` students with Adam; G = len(population) for population weighting, else 1.

    ``population`` (G, 3) holds the weight triples to try; ``meta_split`` is the meta-data set of
    Algorithm 1 (the validation split). Seeds set initialisation (``seed + s``), batch order and
    meta batches; ``eval_fn(ensemble)`` is called after every epoch (learning curves).
    """
    if recipe.weighting == "population" and population is None:
        raise ConfigError("population weighting needs `population`, the (G, 3) grid of weight triples to try")
    if recipe.weighting == "meta" and meta_split is None:
        raise ConfigError("meta weighting needs `meta_split` (the validation split used as meta data)")
    if recipe.weighting in ("importance", "correctness") and data.instance_weights is None:
        raise ConfigError(f"{recipe.weighting} weighting needs TrainingData built by training_data(..., weighting={recipe.weighting!r})")
    num_settings = population.shape[0] if recipe.weighting == "population" else 1
    device = data.a.device
    generator = torch.Generator().manual_seed(seed)
    student = tile_ensemble(Ensemble(make_student, num_seeds, seed=seed, device=device), num_settings)
    optimizer = torch.optim.Adam(student.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    if population is not None:
        population = population.to(device).repeat_interleave(num_seeds, dim=0)
    meta_net = meta_optimizer = None
    if recipe.weighting == "meta":
        num_classes = data.teacher_logits.shape[-1]
        meta_net = tile_ensemble(Ensemble(lambda: MetaWeightNet(num_classes, recipe.meta_hidden), num_seeds,
                                          seed=seed + 10_000, device=device), num_settings)
        meta_optimizer = torch.optim.Adam(meta_net.parameters(), lr=recipe.meta_lr, weight_decay=recipe.meta_weight_decay)
    run = StudentRun(student, meta_net)
    n = data.y.shape[0]
    for _ in progress(range(recipe.num_epochs), desc=desc):
        student.train()
        order = _seed_orders(num_seeds, num_settings, n, generator).to(device)
        for start in range(0, n, recipe.batch_size):
            batch = data.gather(order[:, start:start + recipe.batch_size])
            if meta_net is not None:
                meta_idx = torch.randint(0, len(meta_split), (num_seeds, recipe.meta_batch_size), generator=generator)
                meta_idx = meta_idx.repeat(num_settings, 1).to(device)
                meta_batch = MultimodalSplit(meta_split.a[meta_idx], meta_split.b[meta_idx], meta_split.y[meta_idx])
                meta_step(student, meta_net, meta_optimizer, batch, meta_batch, recipe, recipe.lr, multilabel,
                          student_optimizer=optimizer)
            with torch.no_grad() if meta_net is not None else contextlib.nullcontext():
                weights = batch_weights(recipe, batch, population, meta_net, multilabel)
            losses_ = student_losses(student, batch, weights, recipe, multilabel)
            optimizer.zero_grad(set_to_none=True)
            losses_.sum().backward()
            optimizer.step()
        student.eval()
        if eval_fn is not None:
            run.curve.append(eval_fn(student))
        if meta_net is not None:
            run.weight_curve.append(learned_weights(meta_net, data, multilabel).mean(1))
    student.eval()
    return run


# ----------------------------------------------------------------------------- evaluation and analysis


@torch.no_grad()
def view_logits(ensemble: Ensemble, split: MultimodalSplit, views: bool = True, batch_size: int = 2048) -> torch.Tensor:
    """Member-wise logits in eval mode: (M, V, N, K) for the three views, or (M, N, K) multimodal only."""
    ensemble.eval()
    m = ensemble.num_members
    chunks = []
    for start in range(0, len(split), batch_size):
        a, b = split.a[start:start + batch_size], split.b[start:start + batch_size]
        chunks.append(member_forward(ensemble, a.expand(m, *a.shape), b.expand(m, *b.shape), views=views)[0])
    logits = torch.cat(chunks, dim=2)
    return logits if views else logits[:, 0]


def f1_scores(predicted: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Macro and micro F1 (%) of multi-hot predictions (..., N, K) vs labels (N, K); a label with no
    positives and no predictions scores 0 in the macro mean (scikit-learn's zero_division=0)."""
    predicted, labels = predicted.float(), labels.float()
    tp = (predicted * labels).sum(-2)
    fp = (predicted * (1 - labels)).sum(-2)
    fn = ((1 - predicted) * labels).sum(-2)
    per_label = 2 * tp / (2 * tp + fp + fn).clamp_min(1e-12)
    micro = 2 * tp.sum(-1) / (2 * tp.sum(-1) + fp.sum(-1) + fn.sum(-1)).clamp_min(1e-12)
    return per_label.mean(-1) * 100, micro * 100


def metrics(logits: torch.Tensor, labels: torch.Tensor, multilabel: bool) -> dict[str, torch.Tensor]:
    """Per-member metrics (%) of (M, N, K) logits: accuracy, or macro / micro F1 at threshold 0.5."""
    if multilabel:
        macro, micro = f1_scores(logits > 0, labels)
        return {"macro F1": macro, "micro F1": micro}
    return {"accuracy": (logits.argmax(-1) == labels).float().mean(-1) * 100}


@torch.no_grad()
def learned_weights(meta_net: Ensemble, data: TrainingData, multilabel: bool) -> torch.Tensor:
    """The meta-net's eq. (8) weights (M, N, V) for every training sample, one row per member."""
    probs = probabilities(data.teacher_logits, multilabel)
    return meta_net(probs.expand(meta_net.num_members, *probs.shape))


def select_population(val_metric: torch.Tensor, num_seeds: int) -> int:
    """Index of the grid setting with the best seed-mean validation metric; (G * S,) -> g."""
    return int(val_metric.reshape(-1, num_seeds).mean(1).argmax())


def swap_one_modality(split: MultimodalSplit, generator: torch.Generator) -> MultimodalSplit:
    """Fig. 5's probe set: every sample gets one modality (a or b, fair coin) from another random
    sample. Labels are unknown for these pairs, so the teacher's prediction serves as reference."""
    n = len(split)
    donor = (torch.arange(n) + torch.randint(1, n, (n,), generator=generator)) % n  # never the sample itself
    replace_a = torch.rand(n, generator=generator) < 0.5
    donor, replace_a = donor.to(split.a.device), replace_a.to(split.a.device)
    mask = lambda x: replace_a.view(n, *[1] * (x.dim() - 1))  # noqa: E731
    return MultimodalSplit(torch.where(mask(split.a), split.a[donor], split.a),
                           torch.where(~mask(split.b), split.b[donor], split.b), split.y)


def consistency_ratio(student_logits: torch.Tensor, teacher_logits: torch.Tensor, multilabel: bool) -> torch.Tensor:
    """Teacher-student consistency (%): how often the student's predicted label equals the
    teacher's (per label for multi-label tasks). (M, N, K), (N, K) -> (M,)."""
    if multilabel:
        return ((student_logits > 0) == (teacher_logits > 0)).float().mean(dim=(-2, -1)) * 100
    return (student_logits.argmax(-1) == teacher_logits.argmax(-1)).float().mean(-1) * 100


def kl_to_teacher(student_view_logits: torch.Tensor, teacher_view_logits: torch.Tensor, multilabel: bool) -> torch.Tensor:
    """Fig. 7: mean KL(teacher || student) at temperature 1 per view; (M, V, N, K), (V, N, K) -> (M, V)."""
    return divergence(student_view_logits, teacher_view_logits, 1.0, multilabel).mean(-1)


# ----------------------------------------------------------------------------- experiment driver


def primary_metric(multilabel: bool) -> str:
    return "macro F1" if multilabel else "accuracy"


def input_sizes(dataset: MultimodalDataset) -> tuple[int, int]:
    return dataset.train.a[0].numel(), dataset.train.b[0].numel()


def train_teacher(dataset: MultimodalDataset, *, hidden: Sequence[int], dropout: float, modality_dropout: float,
                  num_epochs: int, batch_size: int, lr: float, seed: int = 0, device="cpu") -> LateFusionNet:
    """The frozen multimodal teacher: a wide LateFusionNet trained with modality dropout (Adam)."""
    in_a, in_b = input_sizes(dataset)

    def make():
        return LateFusionNet(in_a, in_b, dataset.num_classes, hidden, hidden, dropout=dropout)

    ensemble = Ensemble(make, 1, seed=seed, device=device)
    train = dataset.train
    loss_fn = make_modality_dropout_loss(modality_dropout, dataset.multilabel, torch.Generator().manual_seed(seed + 1))
    train_ensemble(ensemble, (train.a, train.b, train.y), loss_fn, shared=[True] * 3, num_epochs=num_epochs,
                   batch_size=batch_size, optimizer="adam", lr=lr, generator=torch.Generator().manual_seed(seed),
                   desc="teacher")
    teacher = make().to(device)
    teacher.load_state_dict(ensemble.member_state_dict(0))
    return teacher.eval()


def meta_and_selection(split: MultimodalSplit, meta_share: float, seed: int = 0) -> tuple[MultimodalSplit, MultimodalSplit]:
    """Split the validation set in two disjoint parts: the meta data of Algorithm 1 (``meta_share``
    of it, drawn at random with ``seed``) and the model-selection set (the rest), so the labels the
    meta-learner trains on never pick a population weight nor score a student."""
    check_unit_interval("meta_share", meta_share)
    n = len(split)
    num_meta = int(round(meta_share * n))
    if not 0 < num_meta < n:
        raise ConfigError(f"meta_share = {meta_share} leaves no meta or no selection sample of the {n} validation samples")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).to(split.y.device)
    pick = lambda idx: MultimodalSplit(split.a[idx], split.b[idx], split.y[idx])  # noqa: E731
    return pick(order[:num_meta]), pick(order[num_meta:])


def run_method(method: str, dataset: MultimodalDataset, teacher: dict[str, TeacherOutputs], probe: MultimodalSplit,
               settings: dict, *, num_seeds: int, seed: int = 0, student_hidden: Sequence[int] = (16,),
               population_values: Sequence[float] = (0.0, 0.5, 1.0), meta_share: float | None = None) -> dict:
    """Train ``num_seeds`` students with one Tab. 1/2 method and measure everything the chapter shows.

    ``teacher`` maps split name to the teacher's outputs; ``probe`` is the modality-swapped test set of
    Fig. 5. ``settings`` holds lam, temperature, num_epochs, batch_size, lr, meta_lr and
    feature_weights (per feature loss). Population weighting trains the whole grid at once and keeps
    the setting with the best seed-mean validation metric. With ``meta_share`` the validation split is
    cut by :func:`meta_and_selection`: meta data for Algorithm 1, the rest for selection and ``val``
    (None: the paper's recipe, the whole validation set for both). Returns CPU tensors, seed axis first:
    ``val`` (S,), ``test`` {metric: (S,)}, ``curve`` (S, epochs) test metric after each epoch,
    ``view_logits`` (S, V, N, K) on the test set, ``probe_logits`` (S, N, K), ``population`` (3,);
    for meta weighting also ``meta_weights`` (S, N, V), the learned weights on the training set at
    the end of training, and ``meta_weight_curve`` (S, epochs, V), their training-set mean after each epoch.
    """
    multilabel, metric = dataset.multilabel, primary_metric(dataset.multilabel)
    recipe = StudentRecipe.for_method(
        method, lam=settings["lam"], temperature=settings["temperature"], num_epochs=settings["num_epochs"],
        batch_size=settings["batch_size"], lr=settings["lr"], meta_lr=settings["meta_lr"],
        feature_weight=settings["feature_weights"].get(METHODS.get(method, (None, None))[1], 1.0))
    weighting, feature_loss = recipe.weighting, recipe.feature_loss
    in_a, in_b = input_sizes(dataset)
    hint_dim = teacher["train"].features.shape[-1] if feature_loss == "fitnet" else None

    def make_student():
        return LateFusionNet(in_a, in_b, dataset.num_classes, student_hidden, student_hidden, hint_dim=hint_dim)

    data = training_data(dataset.train, teacher["train"], weighting, multilabel)
    population = population_grid(population_values) if weighting == "population" else None
    curve_fn = lambda ens: metrics(view_logits(ens, dataset.test, views=False), dataset.test.y, multilabel)[metric]  # noqa: E731
    meta_split, selection = (dataset.val, dataset.val) if meta_share is None else meta_and_selection(dataset.val, meta_share, seed)
    run = train_students(make_student, data, recipe, num_seeds=num_seeds, seed=seed, population=population,
                         meta_split=meta_split, multilabel=multilabel, eval_fn=curve_fn, desc=method)
    val = metrics(view_logits(run.ensemble, selection, views=False), selection.y, multilabel)[metric]
    chosen = select_population(val, num_seeds) if population is not None else 0
    keep = slice(chosen * num_seeds, (chosen + 1) * num_seeds)
    test_views = view_logits(run.ensemble, dataset.test)[keep]
    out = {} if run.meta_net is None else {"meta_weights": learned_weights(run.meta_net, data, multilabel)[keep].cpu(),
                                           "meta_weight_curve": torch.stack(run.weight_curve, dim=1)[keep].cpu()}
    return {
        **out,
        "val": val[keep].cpu(),
        "test": {k: v.cpu() for k, v in metrics(test_views[:, 0], dataset.test.y, multilabel).items()},
        "curve": torch.stack(run.curve, dim=1)[keep].cpu(),
        "view_logits": test_views.cpu(),
        "probe_logits": view_logits(run.ensemble, probe, views=False)[keep].cpu(),
        "population": (population[chosen] if population is not None else torch.tensor([1.0, 0.0, 0.0])).cpu(),
    }


# ----------------------------------------------------------------------------- study functions (cached)


@dataclass(frozen=True)
class TeacherSettings(StudySettings):
    """How :func:`teacher_study` trains the frozen teacher (a wide LateFusionNet, Adam, modality dropout).

    ``hidden``: widths of every encoder and fusion layer; ``dropout``: feature dropout;
    ``modality_dropout``: probability that each sample loses modality a (and, separately, b);
    ``num_epochs``, ``lr``, ``batch_size``, ``seed``: the optimisation.
    """

    hidden: tuple[int, ...] = (128,)
    dropout: float = 0.2
    modality_dropout: float = 0.2
    num_epochs: int = 25
    lr: float = 3e-3
    batch_size: int = 128
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(self.hidden))
        for i, width in enumerate(self.hidden):
            check_whole(f"hidden[{i}]", width)
        check_whole("num_epochs", self.num_epochs)
        check_whole("batch_size", self.batch_size)
        check_whole("seed", self.seed, 0)
        check_unit_interval("dropout", self.dropout)
        if not 0.0 <= self.modality_dropout <= 0.5:
            raise ConfigError(f"setting 'modality_dropout' = {self.modality_dropout!r} must lie in [0, 0.5]")
        if not self.lr > 0:
            raise ConfigError(f"setting 'lr' = {self.lr!r} must be > 0")


@dataclass(frozen=True)
class StudentSettings(StudySettings):
    """How :func:`student_study` trains the students (one vmap ensemble of ``num_seeds`` per method).

    ``width``: units of every student layer; ``lam``: eq. (1)'s hard-label weight; ``temperature``;
    ``num_epochs``, ``batch_size``, ``lr`` (Adam), ``meta_lr`` (the meta-net's Adam);
    ``feature_weights``: weight of each feature loss (fitnet, rkd, sp); ``population_values``: the
    grid of w^a, w^b for population weighting; ``meta_share``: the share of the validation split held
    out as meta data (None: the paper's recipe, the whole validation set is meta *and* selection data).
    """

    num_seeds: int = 3
    width: int = 8
    lam: float = 0.5
    temperature: float = 4.0
    num_epochs: int = 15
    batch_size: int = 128
    lr: float = 0.01
    meta_lr: float = 1e-3
    feature_weights: dict = field(default_factory=lambda: {"fitnet": 1.0, "rkd": 1.0, "sp": 10.0})
    population_values: tuple[float, ...] = (0.0, 0.5, 1.0)
    meta_share: float | None = 0.5
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "population_values", tuple(float(v) for v in self.population_values))
        for name in ("num_seeds", "width", "num_epochs", "batch_size"):
            check_whole(name, getattr(self, name))
        check_whole("seed", self.seed, 0)
        check_unit_interval("lam", self.lam)
        if set(self.feature_weights) - set(FEATURE_LOSSES):
            raise ConfigError(f"setting 'feature_weights' has unknown losses {sorted(set(self.feature_weights) - set(FEATURE_LOSSES))}")
        if self.meta_share is not None and not 0 < self.meta_share < 1:
            raise ConfigError(f"setting 'meta_share' = {self.meta_share!r} must lie in (0, 1) or be None")
        for name in ("temperature", "lr", "meta_lr"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"setting {name!r} = {getattr(self, name)!r} must be > 0")


@dataclass
class TeacherUnit:
    """A trained teacher, by its outputs: ``outputs[split]`` (:class:`TeacherOutputs`, logits (V, N, K)),
    Fig. 5's modality-swapped test ``probe`` and the teacher's ``probe_logits`` (N, K) on it."""

    outputs: dict
    probe: MultimodalSplit
    probe_logits: torch.Tensor

    def to(self, device) -> "TeacherUnit":
        return TeacherUnit({k: TeacherOutputs(v.logits.to(device), v.features.to(device)) for k, v in self.outputs.items()},
                           self.probe.to(device), self.probe_logits.to(device))


def teacher_study(dataset: MultimodalDataset, settings: TeacherSettings, *, device="cpu", cache=None) -> TeacherUnit:
    """Train (or read from ``cache``, a :class:`mfh_lib.cache.ResultsCache`) the teacher of one dataset.

    The cache key is the dataset's content hash and the settings. Returns a :class:`TeacherUnit` on ``device``.
    """
    def compute():
        teacher = train_teacher(dataset, hidden=settings.hidden, dropout=settings.dropout,
                                modality_dropout=settings.modality_dropout, num_epochs=settings.num_epochs,
                                batch_size=settings.batch_size, lr=settings.lr, seed=settings.seed, device=device)
        outputs = {split: model_outputs(teacher, getattr(dataset, split)) for split in ("train", "val", "test")}
        probe = swap_one_modality(dataset.test, torch.Generator().manual_seed(settings.seed))
        with torch.no_grad():
            probe_logits = teacher(probe.a, probe.b)
        return TeacherUnit(outputs, probe, probe_logits).to("cpu")

    key = {"unit": "msd teacher", "data": dataset.content_hash, "settings": asdict(settings)}
    unit = compute() if cache is None else cache.get_or_compute(key, compute)
    return unit.to(device)


@dataclass
class StudyResult:
    """:func:`student_study`'s result: ``runs[method]`` is :func:`run_method`'s dict (per-seed
    tensors, seed axis first) and ``table`` the tidy per-seed results, one row per seed x method,
    columns ``method``, ``seed`` and one per test metric (%)."""

    runs: dict
    table: object  # pandas DataFrame


def student_study(dataset: MultimodalDataset, teacher: TeacherUnit, methods: Sequence[str], settings: StudentSettings,
                  *, teacher_settings: TeacherSettings, cache=None) -> StudyResult:
    """Train ``settings.num_seeds`` students per Tab. 1/2 method (see :data:`METHODS`) from one teacher.

    Each method's run is cached (``cache``, a ResultsCache) under the dataset's content hash, the
    method, the student settings and the teacher's settings (which, with the data, fix the teacher).
    """
    import pandas as pd

    run_settings = {"lam": settings.lam, "num_epochs": settings.num_epochs, "batch_size": settings.batch_size,
                    "lr": settings.lr, "meta_lr": settings.meta_lr, "feature_weights": dict(settings.feature_weights),
                    "temperature": settings.temperature}
    runs = {}
    for method in progress(methods, desc="students"):
        if method not in METHODS:
            raise ConfigError(f"unknown method {method!r}; choose among {list(METHODS)}")

        def compute(method=method):
            return run_method(method, dataset, teacher.outputs, teacher.probe, run_settings, num_seeds=settings.num_seeds,
                              seed=settings.seed, student_hidden=(settings.width,),
                              population_values=settings.population_values, meta_share=settings.meta_share)

        key = {"unit": "msd student", "data": dataset.content_hash, "method": method, "settings": asdict(settings),
               "teacher": asdict(teacher_settings), "lookahead": "adam"}
        runs[method] = compute() if cache is None else cache.get_or_compute(key, compute)
    table = pd.DataFrame([{"method": method, "seed": s, **{k: float(v[s]) for k, v in run["test"].items()}}
                          for method, run in runs.items() for s in range(settings.num_seeds)])
    return StudyResult(runs, table)


# ----------------------------------------------------------------------------- weights against planted truth


def image_preference(scheme: str, teacher_view_logits: torch.Tensor, labels: torch.Tensor, multilabel: bool = False,
                     meta_weights: torch.Tensor | None = None) -> torch.Tensor:
    """How much a weighting scheme favours modality a over b on each sample, (N,).

    * ``"importance"``: tanh(I_a) - tanh(I_b), eq. (6)'s importances (I_a: the teacher's change when
      a is dropped; eq. (6) puts tanh(I_a) on the *b-only* view's term, so this is w^b - w^a);
    * ``"correctness"``: w^a - w^b of eq. (7) (the teacher is more right on a alone than on b alone);
    * ``"meta"``: w^a - w^b of the learned weights ``meta_weights`` (N, V).

    ``teacher_view_logits`` (V, N, K) and ``labels`` as in :func:`importance_weights` /
    :func:`correctness_weights`.
    """
    if scheme == "importance":
        w = importance_weights(teacher_view_logits, multilabel)
        return w[2] - w[1]
    if scheme == "correctness":
        w = correctness_weights(teacher_view_logits, labels, multilabel)
        return w[1] - w[2]
    if scheme == "meta":
        if meta_weights is None:
            raise ConfigError("the meta scheme needs `meta_weights` (N, V), the learned weights")
        return meta_weights[:, 1] - meta_weights[:, 2]
    raise ConfigError(f"unknown scheme {scheme!r}; choose importance, correctness or meta")


def truth_correlation(truth: torch.Tensor, preference: torch.Tensor, unit: str = "data draws"):
    """Spearman correlation of a scheme's :func:`image_preference` with the planted truth (N,), with
    its Fisher-z 95% interval (Bonett-Wright standard error) as a :class:`mfh_lib.stats.Estimate`.

    Unlike :func:`mfh_lib.stats.correlation_estimate` no permutation p-value is computed: with
    thousands of samples the interval is what speaks, and 20,000 Monte Carlo permutations of
    2,000 samples take about 20 s.
    """
    from . import stats

    x, y = truth.double().cpu().numpy(), preference.double().cpu().numpy()
    r, n = stats.spearman(x, y), x.size
    if not math.isfinite(r) or n <= 3:
        return stats.Estimate(float("nan") if not math.isfinite(r) else r, -1.0, 1.0, n, unit, stats.FISHER_Z,
                              f"spearman over {n} {unit}: undefined or too few samples")
    se = math.sqrt((1 + r * r / 2) / (n - 3))
    z, crit = math.atanh(max(min(r, 1 - 1e-12), -1 + 1e-12)), 1.959963984540054
    return stats.Estimate(r, math.tanh(z - crit * se), math.tanh(z + crit * se), n, unit, stats.FISHER_Z,
                          f"spearman over {n} {unit}, Fisher-z interval", se=se)


def settings_from_profile(cfg: dict, multilabel: bool) -> tuple[TeacherSettings, StudentSettings]:
    """The chapter profile's keys (chapters/configs/07_msd.json) as typed settings; a missing key
    raises a ConfigError naming it. Multi-label tasks take ``temperature_multilabel``."""
    def get(key):
        if key not in cfg:
            raise ConfigError(f"the MSD profile lacks setting {key!r}")
        return cfg[key]

    teacher = TeacherSettings(hidden=tuple(get("teacher_hidden")), dropout=get("teacher_dropout"),
                              modality_dropout=get("modality_dropout"), num_epochs=get("teacher_epochs"),
                              lr=get("teacher_lr"), batch_size=get("teacher_batch_size"))
    student = StudentSettings(num_seeds=get("seeds"), width=get("student_hidden"), lam=get("lam"),
                              num_epochs=get("num_epochs"), batch_size=get("batch_size"), lr=get("lr"),
                              meta_lr=get("meta_lr"), feature_weights=dict(get("feature_weights")),
                              population_values=tuple(get("population_values")), meta_share=get("meta_share"),
                              temperature=get("temperature_multilabel") if multilabel else get("temperature"))
    return teacher, student
