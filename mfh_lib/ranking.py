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

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, vmap

from . import controls, models
from .cache import ResultsCache, progress
from .config import ConfigError, check_unit_interval
from .losses import kd_loss
from .training import Ensemble, member_accuracy, predict_ensemble, train_ensemble

DISTANCES = ("mse", "l1")
NULLIFY_MODES = ("general", "specific", "random")


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
    pairs_m = torch.arange(num_permutations).repeat_interleave(d)  # (M*d,) pair k -> (m, i)
    pairs_i = torch.arange(d).repeat(num_permutations)
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


def rank_channels(data, make_a: Callable[[], nn.Module], make_b: Callable[[], nn.Module], *, num_seeds: int,
                  num_epochs: int, num_permutations: int, batch_size: int | None, lr: float, momentum: float = 0.9,
                  weight_decay: float = 0.0, seed: int = 0, rank_path: str = "net_a.features", device="cpu"):
    """Algorithm 1 for ``num_seeds`` seeds on a MultimodalDataset (``data.train`` has a, b, y).

    Returns (pairs, features, head, train_features, distances): the jointly trained Ensemble, the
    member-wise ``features`` and ``head`` of net a, the (S, N, d) ranked training features and the
    (S, M, d) permutation distances on the CPU.
    """
    pairs = train_joint(make_a, make_b, data.train.a, data.train.b, data.train.y, num_seeds=num_seeds, seed=seed,
                        num_epochs=num_epochs, batch_size=batch_size, lr=lr, momentum=momentum,
                        weight_decay=weight_decay, device=device)
    features = member_part(pairs, rank_path)
    head = member_part(pairs, "net_a.head")
    net_b = member_part(pairs, "net_b")
    with torch.no_grad():
        train_features = features(data.train.a.to(device).expand(num_seeds, -1, -1))
        reference = net_b(data.train.b.to(device).expand(num_seeds, -1, -1))
    distances = permutation_distances(head, train_features, reference, num_permutations=num_permutations,
                                      generator=torch.Generator().manual_seed(seed))
    return pairs, features, head, train_features, distances.cpu()


def nullified_teacher_study(data, cfg: dict, *, device="cpu", use_cache: bool = True) -> dict:
    """MFH Sec. 5.4 on one dataset: teachers of different gamma from Algorithm 1, their students, and controls.

    Ranks the penultimate layer of an MLP on modality a (``cfg``: hidden_a, hidden_b, joint_epochs,
    num_permutations), derives the regular teacher (r = 0), the modality-general / -specific / random
    teachers for every r in ``cfg["ratios"]`` and modality-general ones at ``m_ratio`` for every M in
    ``m_values``, and distils each into an MLP on modality b with eq. (1) (rho, student_epochs, batch_size,
    lr, momentum, weight_decay). Students of one seed share their initialisation, so differences
    between teachers are paired. Returns the teacher list (kind, r, M), the (T, S) student and teacher
    test accuracies, the (S,) no-KD accuracies, the (S, d) salience, and the teachers' test logits
    (T, S, N_test, K), from which other chapters compute information criteria.

    Beside the regular teacher it distils four control teachers (:mod:`mfh_lib.controls`), each into a
    student of the same initialisation per seed: "noise teacher" (the regular teacher's head fed
    Gaussian noise with its training features' per-channel mean and spread), "born-again" (the no-KD
    student's own logits at its best-validation epoch), "label smoothing" (at the regular teacher's
    mean training-set confidence) and "cross-fitted" (the regular teacher's logits predicted out of
    fold: ``cfg["cross_fit_folds"]`` joint trainings of Algorithm 1, step 1, each on the other folds).
    ``"controls"`` maps each name to the (S,) student accuracies; ``"control_teachers"`` to the
    teacher's (S,) "train_acc" and "confidence" on the training set (what a student distils) and,
    where the teacher predicts test inputs, "test_acc". ``"regular_train"`` holds the same two for
    the regular teacher.

    The result is cached per (data content hash, cfg), so every chapter that needs it shares one run.
    """
    cache = ResultsCache("nullified_teacher_study", enabled=use_cache)
    return cache.get_or_compute({"data": data.content_hash, **cfg}, lambda: _nullified_teacher_study(data, cfg, device))


def _cross_fitted_logits(data, make_a, make_b, cfg: dict, train_kwargs: dict, device):
    """Out-of-fold training logits (S, N, K) of the jointly trained net a, and the (S, N_test, K)
    test logits averaged over the fold teachers."""
    S = cfg["seeds"]
    test_logits = []

    def fit_predict(train_index, held_out):
        pairs = train_joint(make_a, make_b, data.train.a[train_index], data.train.b[train_index],
                            data.train.y[train_index], num_seeds=S, seed=0, num_epochs=cfg["joint_epochs"],
                            desc="cross-fitted teacher", **train_kwargs)
        net_a = member_part(pairs, "net_a")
        with torch.no_grad():
            test_logits.append(net_a(data.test.a.to(device).expand(S, -1, -1)).cpu())
            return net_a(data.train.a[held_out].to(device).expand(S, -1, -1)).cpu()

    out_of_fold = controls.cross_fit(fit_predict, len(data.train), cfg["cross_fit_folds"],
                                     torch.Generator().manual_seed(7))
    return out_of_fold, torch.stack(test_logits).mean(0)


def _nullified_teacher_study(data, cfg: dict, device) -> dict:
    S = cfg["seeds"]
    num_classes = int(data.train.y.max()) + 1
    make_a = lambda: models.ranked_mlp(data.train.a.shape[1], cfg["hidden_a"], num_classes)
    make_b = lambda: models.ranked_mlp(data.train.b.shape[1], cfg["hidden_b"], num_classes)
    train_kwargs = dict(batch_size=cfg["batch_size"], lr=cfg["lr"], momentum=cfg["momentum"],
                        weight_decay=cfg["weight_decay"], device=device)
    _, features, head, train_h, distances = rank_channels(
        data, make_a, make_b, num_seeds=S, num_epochs=cfg["joint_epochs"],
        num_permutations=cfg["num_permutations"], **train_kwargs)
    salience = salience_from_distances(distances)
    fill = train_h.mean(1)
    test_h = features(data.test.a.to(device).expand(S, -1, -1)).detach()
    teachers = [("regular", 0.0, cfg["num_permutations"], torch.ones_like(salience))]
    for mode in NULLIFY_MODES:
        for r in cfg["ratios"]:
            generator = torch.Generator().manual_seed(int(1000 * r))
            teachers.append((mode, r, cfg["num_permutations"], nullify_keep_mask(salience, r, mode, generator)))
    for m in cfg["m_values"]:
        p_m = salience_from_distances(distances[:, :m])
        teachers.append(("general (vs M)", cfg["m_ratio"], m, nullify_keep_mask(p_m, cfg["m_ratio"], "general")))
    with torch.no_grad():
        teacher_logits = torch.cat([head(nullify(train_h, keep.to(device), fill)) for *_, keep in teachers])
        test_logits = torch.stack([head(nullify(test_h, keep.to(device), fill)) for *_, keep in teachers]).cpu()
    teacher_acc = member_accuracy(test_logits.flatten(0, 1), data.test.y.expand(len(teachers) * S, -1))
    val, test = (data.val.b, data.val.y), (data.test.b, data.test.y)
    student_kwargs = dict(num_epochs=cfg["student_epochs"], seed=100, **train_kwargs)
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
    students = distill_students(make_b, data.train.b, data.train.y, all_train, val, test, rho=cfg["rho"],
                                num_init=S, **student_kwargs)["test_acc"]
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
            "teacher_test_logits": test_logits,
            "controls": {name: students[(T + i) * S:(T + i + 1) * S] for i, name in enumerate(control_names)},
            "control_teachers": {name: describe(*control_logits[name]) for name in control_names},
            "regular_train": describe(regular_train, None)}


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
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
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


__all__ = ["JointPair", "distance", "joint_loss", "train_joint", "member_part", "permutation_distances",
           "salience_from_distances", "permutation_salience", "nullify_keep_mask", "nullify", "precision_at_k",
           "distill_students", "progress"]
