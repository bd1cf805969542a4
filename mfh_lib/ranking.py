"""MFH Algorithm 1: rank feature channels by their modality-general decisive information.

Step 1 trains a network on modality a and one on modality b *jointly* with eq. (28),

    L = Dist(f_a(X^a), f_b(X^b)) + CE(Y, f_a(X^a)) + CE(Y, f_b(X^b)),

so the two output spaces align on what both modalities can predict. Steps 2-8 permute one channel
of X^a at a time (M times) and average Dist(f_a(X~^a), f_b(X^b)): a channel whose shuffling breaks
the alignment carries modality-general decisive information. Step 9 divides by the maximum.

The channels may be the input features (X^a itself) or a hidden layer's features (Algorithm 1,
note 2): we write every network as ``head(features(x))`` and permute the output of ``features``
(the identity for input-level ranking). All M x d permutations are evaluated as batched tensors,
chunked to bound memory, for S seeds at once (an Ensemble's members, or S = 1).

Teachers of different gamma (MFH Sec. 5.4) then come from nullifying r% of the channels: the least
salient (modality-general teacher), the most salient (modality-specific) or random ones. A
nullified channel is replaced by its training-set mean (zero for standardised inputs), as in the
authors' RAVDESS code, which used the batch mean.
"""
from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap

from . import controls, models
from .cache import ResultsCache, progress
from .config import ConfigError, StudySettings, check_number, check_unit_interval, check_whole
from .losses import kd_loss
from .training import Ensemble, member_accuracy, predict_ensemble, train_ensemble

DISTANCES = ("mse", "l1")
NULLIFY_MODES = ("general", "specific", "random")
NETWORKS_A = ("mlp", "audio_cnn")


class JointPair(nn.Module):
    """The two unimodal networks of Algorithm 1, step 1: ``forward(xa, xb) -> (logits_a, logits_b)``."""

    def __init__(self, net_a: nn.Module, net_b: nn.Module):
        super().__init__()
        self.net_a, self.net_b = net_a, net_b

    def forward(self, xa: torch.Tensor, xb: torch.Tensor):
        return self.net_a(xa), self.net_b(xb)


def distance(logits_a: torch.Tensor, logits_b: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """Dist of eq. (28), averaged over the last two axes (samples, classes): shape = leading axes."""
    if kind == "mse":
        return (logits_a - logits_b).pow(2).mean((-2, -1))
    if kind == "l1":
        return (logits_a - logits_b).abs().mean((-2, -1))
    raise ConfigError(f"unknown distance {kind!r}; use one of {DISTANCES}")


def member_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(S,) mean cross entropy of each member: logits (S, B, K), labels (S, B)."""
    ce = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="none")
    return ce.view(labels.shape).mean(-1)


def joint_loss(logits_a, logits_b, labels, dist: str = "mse") -> torch.Tensor:
    """Eq. (28) per member: Dist + CE(a) + CE(b), each (S,)."""
    return distance(logits_a, logits_b, dist) + member_cross_entropy(logits_a, labels) + \
        member_cross_entropy(logits_b, labels)


def train_joint(make_net_a: Callable[[], nn.Module], make_net_b: Callable[[], nn.Module], xa, xb, y, *,
                num_seeds: int, seed: int, num_epochs: int, batch_size: int | None, lr: float,
                momentum: float = 0.9, optimizer: str = "sgd", weight_decay: float = 0.0, dist: str = "mse",
                device="cpu", desc: str = "Alg. 1 step 1") -> Ensemble:
    """Algorithm 1, step 1, for ``num_seeds`` seeds at once (an Ensemble of JointPair)."""
    pairs = Ensemble(lambda: JointPair(make_net_a(), make_net_b()), num_seeds, seed=seed, device=device)
    generator = torch.Generator().manual_seed(seed)

    def loss_fn(ens, xa_batch, xb_batch, y_batch):
        logits_a, logits_b = ens(xa_batch, xb_batch)
        return joint_loss(logits_a, logits_b, y_batch, dist)

    train_ensemble(pairs, [xa.to(device), xb.to(device), y.to(device)], loss_fn, shared=[True, True, True],
                   num_epochs=num_epochs, batch_size=batch_size, optimizer=optimizer, lr=lr, momentum=momentum,
                   weight_decay=weight_decay, generator=generator, desc=desc)
    return pairs


def member_part(ensemble: Ensemble, path: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Member-wise call of one submodule of an Ensemble's model, e.g. ``"net_a.features"``.

    Returns ``f(x)`` mapping (S, N, ...) to (S, N, ...) in eval mode. ``path=""`` is the whole model.
    """
    module = ensemble.base.get_submodule(path) if path else ensemble.base
    prefix = f"{path}." if path else ""
    params = {k[len(prefix):]: v for k, v in ensemble.params.items() if k.startswith(prefix)}
    buffers = {k[len(prefix):]: v for k, v in ensemble.buffers.items() if k.startswith(prefix)}

    def call_one(p, b, x):
        return functional_call(module, (p, b), (x,))

    def call(x: torch.Tensor) -> torch.Tensor:
        module.eval()
        return vmap(call_one)(params, buffers, x)

    return call


@torch.no_grad()
def permutation_distances(head: Callable[[torch.Tensor], torch.Tensor], features: torch.Tensor,
                          reference_logits: torch.Tensor, *, num_permutations: int, dist: str = "mse",
                          generator: torch.Generator | None = None, max_elements: int = 2**24) -> torch.Tensor:
    """Algorithm 1, steps 2-8, before averaging: Dist after permuting channel i, for every (m, i).

    ``features`` (S, n, d) are X^a (or a hidden layer's output) for S seeds, ``reference_logits``
    (S, n, C) are f_b(X^b), and ``head`` maps (S, N, d) features to (S, N, C) logits. Returns
    (S, M, d). Each (m, i) gets its own permutation of the n rows; all pairs are evaluated as one
    batched tensor per chunk of at most ``max_elements`` feature values.
    """
    if num_permutations < 1:
        raise ConfigError(f"num_permutations (M) must be >= 1, got {num_permutations}")
    S, n, d = features.shape
    pairs_i = torch.arange(d).repeat(num_permutations)  # (M*d,): pair k = (m, i) permutes column i
    chunk = max(1, max_elements // (S * n * d))
    out = torch.empty(S, num_permutations * d, device=features.device)
    reference = reference_logits[:, None]  # (S, 1, n, C)
    for start in range(0, pairs_i.numel(), chunk):
        cols = pairs_i[start:start + chunk].to(features.device)
        K = cols.numel()
        # drawn pair-major, so the permutations do not depend on the chunk size
        perm = torch.rand(K, S, n, generator=generator).argsort(-1).transpose(0, 1).to(features.device)  # (S, K, n)
        column_values = features[:, :, cols].transpose(1, 2)  # (S, K, n): channel i_k of every row
        shuffled = column_values.gather(-1, perm)
        is_permuted = F.one_hot(cols, d).bool()[None, :, None, :]  # (1, K, 1, d)
        permuted = torch.where(is_permuted, shuffled[..., None], features[:, None])  # (S, K, n, d)
        logits = head(permuted.reshape(S, K * n, d)).reshape(S, K, n, -1)
        out[:, start:start + K] = distance(logits, reference, dist)
    return out.view(S, num_permutations, d)


def salience_from_distances(distances: torch.Tensor, normalize: str = "max") -> torch.Tensor:
    """Steps 6-9: average over the M permutations, then scale to [0, 1].

    ``normalize="max"`` divides by the maximum (Algorithm 1 as written); ``"minmax"`` also
    subtracts the minimum (the authors' code). The ranking is the same either way.
    """
    p = distances.mean(-2)
    if normalize == "max":
        return p / p.amax(-1, keepdim=True)
    if normalize == "minmax":
        low = p.amin(-1, keepdim=True)
        return (p - low) / (p.amax(-1, keepdim=True) - low).clamp_min(1e-12)
    raise ConfigError(f"unknown normalisation {normalize!r}; use 'max' or 'minmax'")


def permutation_salience(head, features, reference_logits, *, num_permutations: int, dist: str = "mse",
                         generator: torch.Generator | None = None, normalize: str = "max") -> torch.Tensor:
    """Algorithm 1, steps 2-9: the (S, d) salience vectors p in [0, 1]."""
    distances = permutation_distances(head, features, reference_logits, num_permutations=num_permutations,
                                      dist=dist, generator=generator)
    return salience_from_distances(distances, normalize)


def nullify_keep_mask(salience: torch.Tensor, ratio: float, mode: str,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """(S, d) float mask, 0 on the round(ratio * d) channels to nullify, 1 elsewhere.

    mode "general": nullify the least salient channels (a modality-general teacher);
    "specific": the most salient (modality-specific teacher); "random": a random subset.
    Ties are broken by channel index (stable sort), so the mask is deterministic.
    """
    check_unit_interval("r (nullifying ratio)", ratio)
    if mode not in NULLIFY_MODES:
        raise ConfigError(f"unknown nullifying mode {mode!r}; use one of {NULLIFY_MODES}")
    S, d = salience.shape
    k = int(round(ratio * d))
    if mode == "random":
        order = torch.rand(S, d, generator=generator).argsort(-1).to(salience.device)
    else:
        order = torch.argsort(salience, dim=-1, descending=mode == "specific", stable=True)
    keep = torch.ones(S, d, device=salience.device)
    keep.scatter_(1, order[:, :k], 0.0)
    return keep


def nullify(features: torch.Tensor, keep: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
    """Replace nullified channels by ``fill`` (S, d): features (S, N, d), keep (S, d)."""
    return features * keep[:, None] + fill[:, None] * (1 - keep[:, None])


def accuracy_matched_keep_mask(head: Callable[[torch.Tensor], torch.Tensor], features: torch.Tensor,
                               labels: torch.Tensor, fill: torch.Tensor, target_acc: torch.Tensor,
                               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A random nullified set whose damage matches a target accuracy: (S, d) keep mask, (S,) accuracy.

    Per member, the channels are nullified in one random order, one more at a time (k = 0 .. d),
    and the k whose accuracy of ``head(nullify(features, ...))`` on ``labels`` (S, N, d) features,
    (N,) labels) lies closest to ``target_acc`` (S,) (in %) is kept; ties go to the smaller k. With
    the target set to a modality-general teacher's accuracy at ratio r, the result is a random
    teacher damaged as much as that teacher, so MG vs random is not confounded by the accuracy lost.
    """
    S, _, d = features.shape
    ranks = torch.rand(S, d, generator=generator).argsort(-1).argsort(-1).to(features.device)
    labels = labels.to(features.device)
    with torch.no_grad():
        accs = torch.stack([member_accuracy(head(nullify(features, (ranks >= k).float(), fill)), labels).cpu()
                            for k in range(d + 1)], 1)
    best = (accs - target_acc.cpu()[:, None]).abs().argmin(1)  # first minimum: the fewest channels
    return (ranks >= best.to(ranks.device)[:, None]).float(), accs.gather(1, best[:, None])[:, 0]


def precision_at_k(salience: torch.Tensor, true_channels, k: int | None = None) -> torch.Tensor:
    """(S,) share of the k most salient channels that are truly modality-general (k = #true)."""
    true = torch.as_tensor(true_channels, dtype=torch.long)
    k = true.numel() if k is None else k
    top = torch.argsort(salience, dim=-1, descending=True, stable=True)[:, :k]
    return torch.isin(top.cpu(), true).float().mean(-1)


def distill_students(make_student: Callable[[], nn.Module], train_b: torch.Tensor, train_y: torch.Tensor,
                     teacher_logits: torch.Tensor | None, val, test, *, rho: float, num_epochs: int,
                     batch_size: int | None, lr: float, momentum: float = 0.9, optimizer: str = "sgd",
                     weight_decay: float = 0.0, temperature: float = 1.0, seed: int = 0, num_members: int | None = None,
                     num_init: int | None = None, return_train_logits: bool = False, device="cpu",
                     desc: str = "students") -> dict[str, torch.Tensor]:
    """Train one student per row of ``teacher_logits`` (S, N, C) with MFH eq. (1), all at once.

    ``teacher_logits=None`` (with rho = 1) trains ``num_members`` students without KD. ``val`` and
    ``test`` are (b, y) pairs. As in the authors' code the reported accuracy is the test accuracy at
    the epoch of best validation accuracy (per member). With ``num_init`` (the number of seeds),
    member j starts from the initialisation of seed j % num_init, so students of different teachers
    but the same seed differ only by their teacher and batch order. Returns {"test_acc", "val_acc"} of shape (S,),
    and with ``return_train_logits`` also "train_logits" (S, N, C): each member's logits on ``train_b`` at its
    best-validation epoch (the teacher of a born-again control).
    """
    S = teacher_logits.shape[0] if teacher_logits is not None else num_members
    students = Ensemble(make_student, num_init or S, seed=seed, device=device)
    if num_init is not None:  # member j starts from seed j % num_init: paired comparisons across teachers
        if S % num_init:
            raise ConfigError(f"{S} students cannot share {num_init} initialisations evenly")
        students.params = {k: v.detach().repeat(S // num_init, *[1] * (v.dim() - 1)).requires_grad_(True)
                           for k, v in students.params.items()}
        students.buffers = {k: v.repeat(S // num_init, *[1] * (v.dim() - 1)) for k, v in students.buffers.items()}
        students.num_members = S
    generator = torch.Generator().manual_seed(seed)
    tensors = [train_b.to(device), train_y.to(device)]
    shared = [True, True]
    if teacher_logits is not None:
        tensors.append(teacher_logits.to(device))
        shared.append(False)

    def loss_fn(ens, b_batch, y_batch, t_batch=None):
        logits = ens(b_batch)
        if t_batch is None:
            return member_cross_entropy(logits, y_batch)
        return vmap(lambda s, t, y: kd_loss(s, t, y, rho=rho, temperature=temperature))(logits, t_batch, y_batch)

    best_val = torch.full((S,), -1.0)
    test_at_best = torch.zeros(S)
    train_at_best = None
    val_b, val_y = val[0].to(device), val[1].to(device)
    test_b, test_y = test[0].to(device), test[1].to(device)

    def track(_epoch):
        nonlocal train_at_best
        val_acc = member_accuracy(predict_ensemble(students, val_b, shared=True), val_y).cpu()
        test_acc = member_accuracy(predict_ensemble(students, test_b, shared=True), test_y).cpu()
        better = val_acc > best_val
        best_val[better] = val_acc[better]
        test_at_best[better] = test_acc[better]
        if return_train_logits:
            logits = predict_ensemble(students, tensors[0], shared=True).detach().cpu()
            train_at_best = logits if train_at_best is None else torch.where(better[:, None, None], logits, train_at_best)

    train_ensemble(students, tensors, loss_fn, shared=shared, num_epochs=num_epochs, batch_size=batch_size,
                   optimizer=optimizer, lr=lr, momentum=momentum, weight_decay=weight_decay, generator=generator,
                   desc=desc, on_epoch_end=track)
    out = {"test_acc": test_at_best, "val_acc": best_val}
    if return_train_logits:
        out["train_logits"] = train_at_best
    return out


def _check_rank_path(make_a: Callable[[], nn.Module], rank_path: str | None) -> tuple[str, str]:
    """(features path, head path) inside a JointPair for ranking net a's channels.

    ``rank_path=None``: ``net_a.features`` / ``net_a.head`` when net a has both submodules (a
    :class:`~mfh_lib.models.FeatureHead`), else the input features (the whole net a is the head).
    An explicit path must name a submodule of net a, and net a must have a ``head``.
    """
    with torch.random.fork_rng(devices=[]):  # building a probe network must not move the global RNG
        probe = make_a()
    submodules = dict(probe.named_modules())
    split = "features" in submodules and "head" in submodules
    if rank_path is None:
        return ("net_a.features", "net_a.head") if split else ("", "net_a")
    inner = rank_path[len("net_a."):] if rank_path.startswith("net_a.") else None
    if not split or inner not in submodules:
        raise ConfigError(
            f"rank_path {rank_path!r} needs net a to be written head(features(x)): a network with `features` "
            f"and `head` submodules (models.FeatureHead, e.g. models.ranked_mlp), and the path to name one of "
            f"its submodules; got a {type(probe).__name__}. Wrap it as models.FeatureHead(features, head), or "
            "pass rank_path=None to rank its input features")
    return rank_path, "net_a.head"


def _stack(x: torch.Tensor, num_seeds: int, device) -> torch.Tensor:
    """(S, N, ...) view of one (N, ...) input for every member of an Ensemble."""
    return x.to(device).expand(num_seeds, *x.shape)


def rank_channels(data, make_a: Callable[[], nn.Module], make_b: Callable[[], nn.Module], *, num_seeds: int,
                  num_epochs: int, num_permutations: int, batch_size: int | None, lr: float, momentum: float = 0.9,
                  weight_decay: float = 0.0, seed: int = 0, rank_path: str | None = "net_a.features", device="cpu",
                  optimizer: str = "sgd"):
    """Algorithm 1 for ``num_seeds`` seeds on a MultimodalDataset (``data.train`` has a, b, y).

    ``rank_path``: the submodule of the JointPair whose output channels are ranked; the default
    ``"net_a.features"`` needs net a to be a :class:`~mfh_lib.models.FeatureHead` (``features`` and
    ``head`` submodules). ``None`` ranks ``net_a.features`` when it exists and otherwise the input
    features of any network (e.g. ``models.MLP``); a path the network lacks is a ConfigError saying
    what is needed. Returns (pairs, features, head, train_features, distances): the jointly trained
    Ensemble, the member-wise ``features`` and ``head`` of net a, the (S, N, d) ranked training
    features and the (S, M, d) permutation distances on the CPU.
    """
    features_path, head_path = _check_rank_path(make_a, rank_path)
    pairs = train_joint(make_a, make_b, data.train.a, data.train.b, data.train.y, num_seeds=num_seeds, seed=seed,
                        num_epochs=num_epochs, batch_size=batch_size, lr=lr, momentum=momentum,
                        weight_decay=weight_decay, optimizer=optimizer, device=device)
    features = member_part(pairs, features_path) if features_path else (lambda x: x)
    head = member_part(pairs, head_path)
    net_b = member_part(pairs, "net_b")
    with torch.no_grad():
        train_features = features(_stack(data.train.a, num_seeds, device))
        reference = net_b(_stack(data.train.b, num_seeds, device))
    distances = permutation_distances(head, train_features, reference, num_permutations=num_permutations,
                                      generator=torch.Generator().manual_seed(seed))
    return pairs, features, head, train_features, distances.cpu()


@dataclass(frozen=True)
class NullifiedStudySettings(StudySettings):
    """Settings of :func:`nullified_teacher_study` (MFH Sec. 5.4 with the evidence engine's controls).

    Required (no default: they set the size of the run):

    * ``seeds``: number of seeds S. Every seed trains its own joint pair (Algorithm 1, step 1), its
      own teachers and students, all vectorised as one Ensemble; the per-seed results are the
      replication unit of every claim.
    * ``joint_epochs``: epochs of Algorithm 1, step 1 (the joint training of eq. (28)); also the
      epochs of each cross-fitted teacher.
    * ``student_epochs``: epochs of every student (KD students, no-KD students and controls).

    Optional (defaults are the authors' RAVDESS settings, MFH App. B.3, at the quick profile's M):

    * ``hidden_a`` / ``hidden_b``: hidden widths of the MLPs on modality a (teacher) and b
      (student); Algorithm 1 ranks the last hidden layer of the network on a.
    * ``batch_size`` (None: full batch), ``lr``, ``momentum``, ``weight_decay``: SGD settings of
      every training.
    * ``rho``: weight of the cross-entropy term in eq. (1) (rho = 0: the student learns from the
      teacher only; rho = 1: no KD).
    * ``temperature``: softmax temperature of the KD term.
    * ``num_permutations``: M, the permutations per channel in Algorithm 1, steps 2-8.
    * ``ratios``: the nullifying ratios r in [0, 1] of the modality-general / -specific / random teachers.
    * ``m_values``: values of M for the "general (vs M)" teachers (each <= ``num_permutations``;
      may be empty).
    * ``m_ratio``: the r of those teachers.
    * ``matched_ratios``: the r at which a "random (matched)" teacher is added: a random channel set
      grown until the teacher's validation accuracy matches the modality-general teacher's at that
      r (:func:`accuracy_matched_keep_mask`); empty (the default) adds none.
    * ``cross_fit_folds``: folds of the cross-fitted control teacher (>= 2).
    * ``num_classes``: number of classes K of the problem; None takes the dataset's
      ``num_classes`` attribute (a class absent from training still gets its logit).
    * ``optimizer``: "sgd" (the authors' RAVDESS code) or "adamw", for every training of the study.
    * ``net_a``: the network on modality a (the teacher's): "mlp" (``hidden_a``) on (N, D) features,
      or "audio_cnn" (:func:`mfh_lib.audio_models.audio_cnn_teacher` with ``cnn_widths``,
      ``cnn_hidden``, ``cnn_pool``) on (N, C, F, T) maps; Algorithm 1 ranks its last hidden layer.
    """

    seeds: int
    joint_epochs: int
    student_epochs: int
    hidden_a: tuple[int, ...] = (256, 128)
    hidden_b: tuple[int, ...] = (128, 128)
    batch_size: int | None = 64
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    rho: float = 0.0
    temperature: float = 1.0
    num_permutations: int = 10
    ratios: tuple[float, ...] = (0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875)
    m_values: tuple[int, ...] = (1, 2, 5, 10)
    m_ratio: float = 0.5
    matched_ratios: tuple[float, ...] = ()
    cross_fit_folds: int = 3
    num_classes: int | None = None
    optimizer: str = "sgd"
    net_a: str = "mlp"
    cnn_widths: tuple[int, ...] = (4, 8, 16)
    cnn_hidden: tuple[int, ...] = (128, 64)
    cnn_pool: tuple[int, ...] = (5, 8)

    def __post_init__(self):
        for name in ("seeds", "joint_epochs", "student_epochs", "num_permutations"):
            check_whole(name, getattr(self, name))
        check_whole("cross_fit_folds", self.cross_fit_folds, 2)
        for name, minimum in (("batch_size", 1), ("num_classes", 2)):  # None: the whole set / from the labels
            if getattr(self, name) is not None:
                check_whole(name, getattr(self, name), minimum)
        if self.optimizer not in ("sgd", "adamw"):
            raise ConfigError(f"setting 'optimizer' = {self.optimizer!r} is invalid: expected 'sgd' or 'adamw'")
        if self.net_a not in NETWORKS_A:
            raise ConfigError(f"setting 'net_a' = {self.net_a!r} is invalid: expected one of {NETWORKS_A}")
        for name in ("hidden_a", "hidden_b", "ratios", "m_values", "matched_ratios", "cnn_widths", "cnn_hidden",
                     "cnn_pool"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
                raise ConfigError(f"setting {name!r} = {value!r} is invalid: expected a list")
            object.__setattr__(self, name, tuple(value))
        if not self.hidden_a or not self.hidden_b:
            raise ConfigError("settings 'hidden_a' and 'hidden_b' need at least one hidden layer (Algorithm 1 ranks it)")
        if (len(self.cnn_widths), len(self.cnn_hidden), len(self.cnn_pool)) != (3, 2, 2):
            raise ConfigError("settings 'cnn_widths' (3 conv widths), 'cnn_hidden' (2 FC widths) and 'cnn_pool' "
                              f"(2 sizes) are invalid: got {self.cnn_widths}, {self.cnn_hidden}, {self.cnn_pool}")
        for name in ("hidden_a", "hidden_b", "cnn_widths", "cnn_hidden", "cnn_pool"):
            for width in getattr(self, name):
                check_whole(name, width)
        for r in self.ratios:
            check_unit_interval("setting 'ratios' (each r)", r)
        for r in self.matched_ratios:
            check_unit_interval("setting 'matched_ratios' (each r)", r)
        for m in self.m_values:
            check_whole("m_values", m)
            if m > self.num_permutations:
                raise ConfigError(f"setting 'm_values' holds M = {m} > num_permutations = {self.num_permutations}")
        check_number("lr", self.lr, 0)
        check_number("momentum", self.momentum, 0, 1)
        check_number("weight_decay", self.weight_decay, 0)
        check_number("temperature", self.temperature, 1e-6)
        check_unit_interval("setting 'rho'", self.rho)
        check_unit_interval("setting 'm_ratio'", self.m_ratio)


def _study_settings(settings) -> tuple[NullifiedStudySettings, dict]:
    """(typed settings, cache-key settings). A mapping keys the cache by its own content, as before
    the typed settings existed, so chapter caches stay valid; a settings object by its fields."""
    if isinstance(settings, NullifiedStudySettings):
        return settings, settings.to_dict()
    typed = NullifiedStudySettings.from_dict(settings, extra="ignore")
    return typed, dict(settings)


def study_num_classes(data, settings: NullifiedStudySettings | None = None) -> int:
    """The number of classes K a study's networks output: ``settings.num_classes``, else the
    dataset's ``num_classes`` attribute, else (with a warning) the largest label + 1 over every
    split. Labels outside 0..K-1 are a ConfigError; a class absent from training a warning."""
    labels = [split.y for split in (data.train, data.val, data.test)]
    largest = max(int(y.max()) for y in labels if len(y))
    k = getattr(settings, "num_classes", None) or getattr(data, "num_classes", None)
    if k is None:
        k = largest + 1
        warnings.warn(f"the dataset has no num_classes attribute: using the largest label + 1 = {k}; "
                      "pass num_classes to be sure", stacklevel=3)
    k = int(k)
    if largest >= k or min(int(y.min()) for y in labels if len(y)) < 0:
        raise ConfigError(f"labels reach {largest} but num_classes = {k}: labels must lie in 0..{k - 1}")
    absent = sorted(set(range(k)) - set(torch.unique(data.train.y).tolist()))
    if absent:
        warnings.warn(f"class(es) {absent} have no training sample; the networks still output {k} logits",
                      stacklevel=3)
    return k


def nullified_teacher_study(data, cfg: NullifiedStudySettings | Mapping[str, Any], *, device="cpu",
                            use_cache: bool = True) -> dict:
    """MFH Sec. 5.4 on one dataset: teachers of different gamma from Algorithm 1, their students, and controls.

    ``cfg``: a :class:`NullifiedStudySettings`, or a mapping with its keys (``seeds``,
    ``joint_epochs``, ``student_epochs`` required; other keys of a chapter profile are ignored).
    Ranks the penultimate layer of the network on modality a (hidden_a, hidden_b, joint_epochs,
    num_permutations), derives the regular teacher (r = 0), the modality-general / -specific / random
    teachers for every r in ``ratios`` and modality-general ones at ``m_ratio`` for every M in
    ``m_values``, and distils each into an MLP on modality b with eq. (1) (rho, temperature,
    student_epochs, batch_size, lr, momentum, weight_decay). The networks output
    :func:`study_num_classes` logits (the dataset's ``num_classes``), not ``train.y.max() + 1``. Students of one seed share their initialisation, so differences
    between teachers are paired. Returns the teacher list (kind, r, M), the (T, S) student and teacher
    test accuracies, the (S,) no-KD accuracies, the (S, d) salience, the (S, d)
    ``teacher_alone_salience`` (the same permutations scored against the teacher's own logits:
    permutation importance without the other modality, Algorithm 1's control), and the teachers'
    test logits (T, S, N_test, K), from which other chapters compute information criteria. With
    ``matched_ratios``, "random (matched)" teachers (after all others, so the earlier teachers keep
    their indices) nullify a random set grown until the teacher's validation accuracy matches the
    modality-general teacher's at that r; ``"matched_random"`` holds, per (ratio, seed), that
    ``target_val_acc``, the reached ``val_acc`` and the ``nullified_share`` of channels.
    ``net_a`` / ``optimizer`` choose the teacher's network (an MLP, or the audio CNN on MFCC maps)
    and the optimiser of every training.

    Beside the regular teacher it distils four control teachers (:mod:`mfh_lib.controls`), each into a
    student of the same initialisation per seed: "noise teacher" (the regular teacher's head fed
    Gaussian noise with its training features' per-channel mean and spread), "born-again" (the no-KD
    student's own logits at its best-validation epoch), "label smoothing" (at the regular teacher's
    mean training-set confidence) and "cross-fitted" (the regular teacher's logits predicted out of
    fold: ``cross_fit_folds`` joint trainings of Algorithm 1, step 1, each on the other folds).
    ``"controls"`` maps each name to the (S,) student accuracies; ``"control_teachers"`` to the
    teacher's (S,) "train_acc" and "confidence" on the training set (what a student distils) and,
    where the teacher predicts test inputs, "test_acc". ``"regular_train"`` holds the same two for
    the regular teacher.

    The result is cached per (data content hash, settings), so every chapter that needs it shares
    one run; a mapping keys the cache by its whole content (as before the typed settings), a
    settings object by its fields.
    """
    settings, key = _study_settings(cfg)
    cache = ResultsCache("nullified_teacher_study", enabled=use_cache)
    return cache.get_or_compute({"data": data.content_hash, **key},
                                lambda: _nullified_teacher_study(data, settings, device))


def _cross_fitted_logits(data, make_a, make_b, cfg: NullifiedStudySettings | Mapping, train_kwargs: dict, device):
    """Out-of-fold training logits (S, N, K) of the jointly trained net a, and the (S, N_test, K)
    test logits averaged over the fold teachers. ``cfg``: the settings (or a mapping with seeds,
    joint_epochs and cross_fit_folds)."""
    if isinstance(cfg, Mapping):
        cfg = NullifiedStudySettings(student_epochs=1, **{k: cfg[k] for k in ("seeds", "joint_epochs", "cross_fit_folds")})
    S = cfg.seeds
    test_logits = []

    def fit_predict(train_index, held_out):
        pairs = train_joint(make_a, make_b, data.train.a[train_index], data.train.b[train_index],
                            data.train.y[train_index], num_seeds=S, seed=0, num_epochs=cfg.joint_epochs,
                            desc="cross-fitted teacher", **train_kwargs)
        net_a = member_part(pairs, "net_a")
        with torch.no_grad():
            test_logits.append(net_a(_stack(data.test.a, S, device)).cpu())
            return net_a(_stack(data.train.a[held_out], S, device)).cpu()

    out_of_fold = controls.cross_fit(fit_predict, len(data.train), cfg.cross_fit_folds,
                                     torch.Generator().manual_seed(7))
    return out_of_fold, torch.stack(test_logits).mean(0)


def network_a(data, cfg: NullifiedStudySettings, num_classes: int) -> Callable[[], nn.Module]:
    """Factory of the study's network on modality a (``cfg.net_a``), written head(features(x))."""
    if cfg.net_a == "audio_cnn":
        from .audio_models import audio_cnn_teacher

        if data.train.a.dim() != 4:
            raise ConfigError(f"net_a 'audio_cnn' needs (N, C, F, T) maps on modality a, got shape "
                              f"{tuple(data.train.a.shape)}")
        return lambda: audio_cnn_teacher(num_classes, in_channels=data.train.a.shape[1], widths=cfg.cnn_widths,
                                         hidden=cfg.cnn_hidden, pool_grid=tuple(cfg.cnn_pool))
    if data.train.a.dim() != 2:
        raise ConfigError(f"net_a 'mlp' needs (N, D) features on modality a, got shape {tuple(data.train.a.shape)}; "
                          "use net_a='audio_cnn' for maps")
    return lambda: models.ranked_mlp(data.train.a.shape[1], cfg.hidden_a, num_classes)


def _nullified_teacher_study(data, cfg: NullifiedStudySettings, device) -> dict:
    S = cfg.seeds
    num_classes = study_num_classes(data, cfg)
    make_a = network_a(data, cfg, num_classes)
    make_b = lambda: models.ranked_mlp(data.train.b.shape[1], cfg.hidden_b, num_classes)
    train_kwargs = dict(batch_size=cfg.batch_size, lr=cfg.lr, momentum=cfg.momentum,
                        weight_decay=cfg.weight_decay, optimizer=cfg.optimizer, device=device)
    _, features, head, train_h, distances = rank_channels(
        data, make_a, make_b, num_seeds=S, num_epochs=cfg.joint_epochs,
        num_permutations=cfg.num_permutations, **train_kwargs)
    salience = salience_from_distances(distances)
    with torch.no_grad():  # Algorithm 1's control: permutation importance of the teacher alone
        own_logits = head(train_h)
    teacher_alone = permutation_distances(head, train_h, own_logits, num_permutations=cfg.num_permutations,
                                          generator=torch.Generator().manual_seed(1))
    fill = train_h.mean(1)
    test_h = features(_stack(data.test.a, S, device)).detach()
    teachers = [("regular", 0.0, cfg.num_permutations, torch.ones_like(salience))]
    for mode in NULLIFY_MODES:
        for r in cfg.ratios:
            generator = torch.Generator().manual_seed(int(1000 * r))
            teachers.append((mode, r, cfg.num_permutations, nullify_keep_mask(salience, r, mode, generator)))
    for m in cfg.m_values:
        p_m = salience_from_distances(distances[:, :m])
        teachers.append(("general (vs M)", cfg.m_ratio, m, nullify_keep_mask(p_m, cfg.m_ratio, "general")))
    matched = {"target_val_acc": [], "val_acc": [], "nullified_share": []}
    if cfg.matched_ratios:  # random teachers damaged as much as the MG teacher (on the validation set)
        val_h = features(_stack(data.val.a, S, device)).detach()
        for r in cfg.matched_ratios:
            with torch.no_grad():
                mg_keep = nullify_keep_mask(salience, r, "general").to(device)
                target = member_accuracy(head(nullify(val_h, mg_keep, fill)), data.val.y.to(device)).cpu()
            keep, val_acc = accuracy_matched_keep_mask(head, val_h, data.val.y, fill, target,
                                                       torch.Generator().manual_seed(5000 + int(1000 * r)))
            teachers.append(("random (matched)", r, cfg.num_permutations, keep))
            for name, value in zip(matched, (target, val_acc, 1 - keep.cpu().mean(1))):
                matched[name].append(value)
    with torch.no_grad():
        teacher_logits = torch.cat([head(nullify(train_h, keep.to(device), fill)) for *_, keep in teachers])
        test_logits = torch.stack([head(nullify(test_h, keep.to(device), fill)) for *_, keep in teachers]).cpu()
    teacher_acc = member_accuracy(test_logits.flatten(0, 1), data.test.y.expand(len(teachers) * S, -1))
    val, test = (data.val.b, data.val.y), (data.test.b, data.test.y)
    student_kwargs = dict(num_epochs=cfg.student_epochs, seed=100, **train_kwargs)
    no_kd = distill_students(make_b, data.train.b, data.train.y, None, val, test, rho=1.0, num_members=S,
                             return_train_logits=True, **student_kwargs)

    # Control teachers: logits on the training set with no (or no new) crossmodal knowledge.
    regular_train = teacher_logits[:S].cpu()
    generator = torch.Generator().manual_seed(11)
    with torch.no_grad():
        noise_train = head(torch.stack([controls.noise_like(h, generator) for h in train_h.cpu()]).to(device)).cpu()
        noise_test = head(torch.stack([controls.noise_like(h, generator) for h in test_h.cpu()]).to(device)).cpu()
    confidence = controls.mean_confidence(regular_train)
    cross_train, cross_test = _cross_fitted_logits(data, make_a, make_b, cfg, train_kwargs, device)
    control_logits = {
        "noise teacher": (noise_train, noise_test),
        "born-again": (no_kd["train_logits"], None),
        "label smoothing": (controls.smoothing_logits(data.train.y, num_classes, confidence), None),
        "cross-fitted": (cross_train, cross_test),
    }
    all_train = torch.cat([teacher_logits.cpu()] + [train for train, _ in control_logits.values()])
    students = distill_students(make_b, data.train.b, data.train.y, all_train, val, test, rho=cfg.rho,
                                temperature=cfg.temperature, num_init=S, **student_kwargs)["test_acc"]
    T = len(teachers)
    train_y = data.train.y.expand(S, -1)

    def describe(train_logits, test_set_logits):
        out = {"train_acc": member_accuracy(train_logits, train_y), "confidence": controls.mean_confidence(train_logits)}
        if test_set_logits is not None:
            out["test_acc"] = member_accuracy(test_set_logits, data.test.y)
        return out

    control_names = list(control_logits)
    return {"teachers": [t[:3] for t in teachers], "student_acc": students[:T * S].view(T, S),
            "teacher_acc": teacher_acc.view(T, S), "no_kd": no_kd["test_acc"], "salience": salience,
            "teacher_alone_salience": salience_from_distances(teacher_alone).cpu(),
            "teacher_test_logits": test_logits,
            "controls": {name: students[(T + i) * S:(T + i + 1) * S] for i, name in enumerate(control_names)},
            "control_teachers": {name: describe(*control_logits[name]) for name in control_names},
            "regular_train": describe(regular_train, None),
            "matched_random": {"ratios": list(cfg.matched_ratios),
                               **{k: torch.stack(v) if v else torch.zeros(0, S) for k, v in matched.items()}}}


def study_runs(result: dict) -> "Any":
    """A :func:`nullified_teacher_study` result as a tidy table, one row per (teacher, seed).

    Columns: ``teacher`` (kind: "regular", "general", "specific", "random", "general (vs M)", or a
    control name), ``family`` ("teacher" or "control"), ``r``, ``M`` (NaN for controls), ``seed``,
    ``student`` (test accuracy, %), ``teacher_acc`` (the teacher's test accuracy, %; NaN where it
    predicts no test input), ``no_kd`` (the no-KD student of the same seed, %).
    """
    import pandas as pd

    no_kd = result["no_kd"].numpy()
    rows = [{"teacher": kind, "family": "teacher", "r": r, "M": m, "seed": s, "student": float(result["student_acc"][i, s]),
             "teacher_acc": float(result["teacher_acc"][i, s]), "no_kd": float(no_kd[s])}
            for i, (kind, r, m) in enumerate(result["teachers"]) for s in range(len(no_kd))]
    for name, acc in result["controls"].items():
        test = result["control_teachers"][name].get("test_acc")
        test = result["no_kd"] if test is None and name == "born-again" else test
        rows += [{"teacher": name, "family": "control", "r": float("nan"), "M": float("nan"), "seed": s,
                  "student": float(acc[s]), "teacher_acc": float(test[s]) if test is not None else float("nan"),
                  "no_kd": float(no_kd[s])} for s in range(len(no_kd))]
    return pd.DataFrame(rows)


def seed_values(runs, teacher: str, r: float | None = None, column: str = "student", **where) -> np.ndarray:
    """(S,) ``column`` of one teacher (or control) of a :func:`study_runs` table, in seed order.

    ``r``: the teacher's nullifying ratio (None: any); ``where``: other columns selected by value
    (e.g. ``protocol="actor"`` in a table that concatenates several studies).
    """
    sel = runs[runs.teacher == teacher]
    for name, value in where.items():
        sel = sel[sel[name] == value]
    sel = sel if r is None else sel[np.isclose(sel.r, r)]
    return sel.sort_values("seed")[column].to_numpy()


def curve_coefficient(r_values, values, degree: int = 1) -> np.ndarray:
    """(S,) leading least-squares coefficient of each seed's curve ``values`` (S, R) over ``r_values``
    (R,), in units of 10 points of r: the slope (pp per 10 pp of r) for degree 1, the curvature for 2."""
    return np.polyfit(10 * np.asarray(r_values, dtype=float), np.asarray(values, dtype=float).T, degree)[0]


def slope_over_ratios(runs, teacher: str, ratios, column: str = "student", **where) -> np.ndarray:
    """(S,) per-seed least-squares slope of one teacher's ``column`` over ``ratios`` (pp per 10 pp of
    r) in a :func:`study_runs` table; ``where`` as in :func:`seed_values`. The unit of Tab. 8's
    interaction of slopes: slope(MS) - slope(MG) per seed."""
    values = np.stack([seed_values(runs, teacher, r, column, **where) for r in ratios], 1)
    return curve_coefficient(ratios, values, 1)


# ------------------------------------------------------------ Algorithm 1 on planted input channels
@dataclass(frozen=True)
class InputRankingSettings:
    """Settings of :func:`input_ranking_study`.

    ``seeds`` (required); ``hidden``: hidden widths of both MLPs; ``epochs``: epochs of the joint
    training (step 1) and of the students; ``num_permutations``: M; ``ratio``: r of the nullified
    input channels of the end-to-end run (rank -> nullify -> distil); ``rho``: rho of its students;
    ``batch_size``, ``lr``, ``momentum``, ``weight_decay``: SGD settings.
    """

    seeds: int
    hidden: tuple[int, ...] = (32,)
    epochs: int = 25
    num_permutations: int = 10
    ratio: float = 0.5
    rho: float = 0.0
    batch_size: int = 64
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4

    def __post_init__(self):
        for name in ("seeds", "epochs", "num_permutations", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"setting {name!r} = {value!r} is invalid: expected a whole number >= 1")
        object.__setattr__(self, "hidden", tuple(self.hidden))
        if not self.hidden or any(not isinstance(h, int) or h < 1 for h in self.hidden):
            raise ConfigError(f"setting 'hidden' = {self.hidden!r} is invalid: expected widths >= 1")
        check_unit_interval("setting 'ratio'", self.ratio)
        check_unit_interval("setting 'rho'", self.rho)


def input_ranking_study(data, settings: InputRankingSettings, *, device="cpu", use_cache: bool = True) -> dict:
    """Algorithm 1 on the *input* channels of modality a, then rank -> nullify -> distil, for S seeds.

    ``data``: a MultimodalDataset with (N, D_a) / (N, D_b) features (e.g. the planted-truth stand-in).
    Returns ``n`` (training clips), ``distances`` (S, M, D_a) permutation distances (the salience for
    every M' <= M is a prefix mean, :func:`salience_from_distances`), ``teacher_alone`` (S, M, D_a):
    the same permutations scored against the teacher's own unpermuted logits (permutation importance
    of the teacher alone, Dist(f_a(X~a), f_a(X^a))), and for the end-to-end run at ``ratio``:
    ``keep`` {mode: (S, D_a) mask}, ``teacher_acc`` / ``student_acc`` {mode or "regular": (S,) test
    accuracy (%)}, ``no_kd`` (S,). Students of one seed share their initialisation. Cached by the
    data's content hash and the settings.
    """
    if not isinstance(settings, InputRankingSettings):
        raise ConfigError(f"settings must be InputRankingSettings, got {type(settings).__name__}")
    cache = ResultsCache("input_ranking_study", enabled=use_cache)
    key = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(settings).items()}
    return cache.get_or_compute({"data": data.content_hash, **key}, lambda: _input_ranking_study(data, settings, device))


def _input_ranking_study(data, cfg: InputRankingSettings, device) -> dict:
    S, k = cfg.seeds, study_num_classes(data)
    make_a = lambda: models.ranked_mlp(data.train.a.shape[1], cfg.hidden, k, rank_layer="input")
    make_b = lambda: models.ranked_mlp(data.train.b.shape[1], cfg.hidden, k, rank_layer="input")
    sgd = dict(batch_size=cfg.batch_size, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, device=device)
    _, features, head, train_h, distances = rank_channels(data, make_a, make_b, num_seeds=S, num_epochs=cfg.epochs,
                                                          num_permutations=cfg.num_permutations, **sgd)
    with torch.no_grad():
        own = head(train_h)
    teacher_alone = permutation_distances(head, train_h, own, num_permutations=cfg.num_permutations,
                                          generator=torch.Generator().manual_seed(1)).cpu()
    salience = salience_from_distances(distances).to(device)
    fill, test_h = train_h.mean(1), features(_stack(data.test.a, S, device))
    keeps = {"regular": torch.ones_like(salience)}
    keeps.update({mode: nullify_keep_mask(salience, cfg.ratio, mode, torch.Generator().manual_seed(3))
                  for mode in NULLIFY_MODES})
    with torch.no_grad():
        train_logits = torch.cat([head(nullify(train_h, keep, fill)) for keep in keeps.values()])
        test_acc = [member_accuracy(head(nullify(test_h, keep, fill)).cpu(), data.test.y) for keep in keeps.values()]
    val, test = (data.val.b, data.val.y), (data.test.b, data.test.y)
    students = distill_students(make_b, data.train.b, data.train.y, train_logits, val, test, rho=cfg.rho,
                                num_epochs=cfg.epochs, seed=100, num_init=S, **sgd)["test_acc"].view(len(keeps), S)
    no_kd = distill_students(make_b, data.train.b, data.train.y, None, val, test, rho=1.0, num_members=S,
                             num_epochs=cfg.epochs, seed=100, **sgd)["test_acc"]
    return {"n": len(data.train), "distances": distances, "teacher_alone": teacher_alone,
            "keep": {mode: keep.cpu() for mode, keep in keeps.items()},
            "teacher_acc": dict(zip(keeps, test_acc)), "student_acc": dict(zip(keeps, students)), "no_kd": no_kd}


# ------------------------------------------------------------------ a user's own paired data
def teacher_label(kind: str, r: float, m: int) -> str:
    """A teacher's row name in a diagnosis table: "regular", "general r=50%", "general r=50%, M=2"."""
    if kind == "regular":
        return "regular"
    if kind == "general (vs M)":
        return f"general r={100 * r:g}%, M={m}"
    return f"{kind} r={100 * r:g}%"


@dataclass
class PairDiagnosis:
    """What :func:`diagnose_pair` found. ``table`` is tidy, one row per (condition, seed):

    * ``condition``: "no KD", a teacher (:func:`teacher_label`) or a control name;
      ``family``: "no KD", "teacher" or "control"; ``mode``, ``r``, ``M``: the teacher's recipe
      (NaN for others); ``seed``: 0..S-1 (the replication unit: students of one seed share their
      initialisation, so differences between conditions of one seed are paired).
    * ``teacher_acc``: the teacher's test accuracy (%; NaN where it predicts no test input),
      ``student_acc``: the student's test accuracy (%) at its best-validation epoch, ``gain``:
      student_acc minus the no-KD student of the same seed (accuracy points).
    * teachers only: ``i_teacher_student``, ``i_student_label``, ``cch_gap`` (nats) and
      ``mfh_shared`` (R^2), from :func:`mfh_lib.cch.criteria_from_features` on the test split.

    ``data`` is the split and standardised dataset, ``study`` the raw output of
    :func:`nullified_teacher_study`, ``settings`` the typed settings it ran with.
    """

    table: Any
    data: Any
    study: dict
    settings: NullifiedStudySettings

    def values(self, condition: str, column: str = "student_acc"):
        """(S,) numpy values of ``column`` for one condition, ordered by seed."""
        rows = self.table[self.table.condition == condition].sort_values("seed")
        if rows.empty:
            raise KeyError(f"no condition {condition!r}; conditions: {list(dict.fromkeys(self.table.condition))}")
        return rows[column].to_numpy(dtype=float)

    def paired(self, condition: str, baseline: str, column: str = "student_acc"):
        """(S,) per-seed differences ``condition - baseline`` of ``column`` (paired by seed)."""
        return self.values(condition, column) - self.values(baseline, column)

    def summary(self):
        """One row per condition: the seed means (and the std of the student's gain), in table order."""
        numeric = ["teacher_acc", "student_acc", "gain", "i_teacher_student", "i_student_label", "cch_gap", "mfh_shared"]
        grouped = self.table.groupby("condition", sort=False)
        out = grouped[["family"]].first().join(grouped[numeric].mean())
        out["gain_std"] = grouped["gain"].std(ddof=1)
        out["seeds"] = grouped["seed"].count()
        return out.reset_index()


def diagnose_dataset(data, settings: NullifiedStudySettings | Mapping[str, Any], *, estimator: str = "gaussian",
                     device="cpu", use_cache: bool = True) -> PairDiagnosis:
    """:func:`nullified_teacher_study` and the CCH / MFH criteria on a MultimodalDataset, as a tidy table."""
    import numpy as np
    import pandas as pd

    from . import cch

    typed, _ = _study_settings(settings)
    study = nullified_teacher_study(data, settings, device=device, use_cache=use_cache)
    T, S = study["student_acc"].shape
    k = study_num_classes(data, typed)
    criteria = cch.criteria_from_features(study["teacher_test_logits"], data.test.b.expand(T, S, -1, -1),
                                          data.test.y.expand(T, S, -1), num_classes=k, estimator=estimator)
    no_kd = study["no_kd"].numpy()
    rows = [{"condition": "no KD", "family": "no KD", "seed": s, "student_acc": no_kd[s], "gain": 0.0}
            for s in range(S)]
    for t, (kind, r, m) in enumerate(study["teachers"]):
        for s in range(S):
            rows.append({"condition": teacher_label(kind, r, m), "family": "teacher", "mode": kind, "r": r, "M": m,
                         "seed": s, "teacher_acc": float(study["teacher_acc"][t, s]),
                         "student_acc": float(study["student_acc"][t, s]),
                         "gain": float(study["student_acc"][t, s]) - no_kd[s],
                         **{name: float(criteria[name][t, s]) for name in
                            ("i_teacher_student", "i_student_label", "cch_gap", "mfh_shared")}})
    for name, acc in study["controls"].items():
        teacher_test = study["control_teachers"][name].get("test_acc")
        for s in range(S):
            rows.append({"condition": name, "family": "control", "seed": s,
                         "teacher_acc": float(teacher_test[s]) if teacher_test is not None else np.nan,
                         "student_acc": float(acc[s]), "gain": float(acc[s]) - no_kd[s]})
    columns = ["condition", "family", "mode", "r", "M", "seed", "teacher_acc", "student_acc", "gain",
               "i_teacher_student", "i_student_label", "cch_gap", "mfh_shared"]
    table = pd.DataFrame(rows).reindex(columns=columns)
    return PairDiagnosis(table=table, data=data, study=study, settings=typed)


def diagnose_pair(x_a, x_b, y, groups=None, *, settings: NullifiedStudySettings | Mapping[str, Any],
                  num_classes: int | None = None, split_seed: int = 0, val: int | float = 0.15,
                  test: int | float = 0.2, modalities: Sequence[str] = ("a", "b"), source: str = "user arrays",
                  estimator: str = "gaussian", device="cpu", use_cache: bool = True) -> PairDiagnosis:
    """Diagnose a user's paired data in one call: split, Algorithm 1, teachers, KD, controls, criteria.

    x_a (N, D_a): the teacher's modality; x_b (N, D_b): the student's; y (N,) classes in
    0..num_classes-1; ``groups`` (N,) optional ids (actor, speaker, subject) kept within one split
    (:func:`mfh_lib.data.group_split`; ``val`` / ``test`` then count groups), else a random split.
    Both modalities are standardised with training statistics. ``num_classes`` (default:
    ``settings.num_classes``, else the largest label + 1) fixes the logits of every network, so a
    class absent from training is still predicted. ``settings``: :class:`NullifiedStudySettings`
    (or a mapping of its keys). Returns a :class:`PairDiagnosis` whose ``table`` has one row per
    (condition, seed): no KD, the regular teacher, the modality-general / -specific / random
    teachers of Algorithm 1, and the controls (noise teacher, born-again, label smoothing,
    cross-fitted), each with its student's accuracy and gain, the teachers with the CCH and MFH
    criteria. The study is cached by the data's content hash and the settings.
    """
    from .data import dataset_from_arrays

    typed, _ = _study_settings(settings)
    data = dataset_from_arrays(x_a, x_b, y, groups=groups, num_classes=num_classes or typed.num_classes,
                               seed=split_seed, val=val, test=test, modalities=modalities, source=source)
    return diagnose_dataset(data, settings, estimator=estimator, device=device, use_cache=use_cache)


def _module_batches(n: int, batch_size: int, generator: torch.Generator):
    order = torch.randperm(n, generator=generator)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def fit_module(model: nn.Module, inputs, y, loss_fn, *, num_epochs: int, batch_size: int, lr: float,
               weight_decay: float = 1e-5, step_size: int = 25, seed: int = 0, device="cpu",
               on_epoch_end: Callable[[int], None] | None = None, desc: str = "train") -> nn.Module:
    """One network (BatchNorm allowed) trained as in the authors' VGGSound code: AdamW, StepLR(0.1).

    ``inputs`` is a tuple of tensors indexed along the sample axis; ``loss_fn(model, *batch, y_batch,
    index)`` returns a scalar (``index`` picks per-sample extras such as teacher logits).
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model.to(device)
    # fused: one pass over the weights per step (the ResNets' 44M weights make the update memory-bound)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, fused=True)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=step_size, gamma=0.1)
    for epoch in progress(range(num_epochs), desc=desc):
        model.train()
        for index in _module_batches(len(y), batch_size, generator):
            loss = loss_fn(model, *(x[index].to(device) for x in inputs), y[index].to(device), index)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
        if on_epoch_end is not None:
            model.eval()
            on_epoch_end(epoch)
    return model.eval()


@torch.no_grad()
def predict_module(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch_size: int = 64,
                   device="cpu") -> torch.Tensor:
    """Outputs of ``model`` on ``x`` in chunks, on the CPU."""
    return torch.cat([model(x[i:i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)])


def distill_module(make_student: Callable[[], nn.Module], train_b, train_y, teacher_logits, val, test, score_fn, *,
                   rho: float, temperature: float = 1.0, seed: int = 0, device="cpu", **fit_kwargs) -> float:
    """Train one student with eq. (1) (``teacher_logits=None``: no KD, rho must be 1); return the test
    score (``score_fn(logits, labels)``, higher is better) at the epoch of best validation score."""
    torch.manual_seed(seed)  # the initialisation depends on the seed only, not on earlier draws
    student = make_student().to(device)
    best = {"val": -float("inf"), "test": float("nan")}

    def loss_fn(model, b, y, index):
        teacher = None if teacher_logits is None else teacher_logits[index].to(device)
        return kd_loss(model(b), teacher, y, rho=rho, temperature=temperature)

    def track(_epoch):
        val_score = score_fn(predict_module(student, val[0], device=device), val[1])
        if val_score > best["val"]:
            best.update(val=val_score, test=score_fn(predict_module(student, test[0], device=device), test[1]))

    fit_module(student, (train_b,), train_y, loss_fn, seed=seed, device=device, on_epoch_end=track, **fit_kwargs)
    return best["test"]


__all__ = ["DISTANCES", "NULLIFY_MODES", "JointPair", "distance", "member_cross_entropy", "joint_loss", "train_joint",
           "member_part", "permutation_distances", "salience_from_distances", "permutation_salience",
           "nullify_keep_mask", "nullify", "accuracy_matched_keep_mask", "precision_at_k", "seed_values",
           "curve_coefficient", "slope_over_ratios", "distill_students", "rank_channels",
           "NullifiedStudySettings", "study_num_classes", "NETWORKS_A", "network_a", "InputRankingSettings",
           "input_ranking_study", "study_runs", "nullified_teacher_study", "teacher_label", "PairDiagnosis",
           "diagnose_dataset", "diagnose_pair", "fit_module", "predict_module", "distill_module", "progress"]
