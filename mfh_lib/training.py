"""Training loops, vectorised over seeds.

An :class:`Ensemble` holds S independently initialised copies of one architecture as stacked
parameters (``torch.func.stack_module_state``) and runs them with ``torch.func.vmap`` over
``functional_call``: one batched forward/backward trains all S members at once. Because member
losses are summed before ``backward`` and the optimisers used here (SGD, Adam, AdamW) act
element-wise, each member follows exactly the trajectory it would follow if trained alone.

Models with BatchNorm must not update running statistics under vmap: build them with
``track_running_stats=False`` (batch statistics in train and eval) or train them in a loop.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from .cache import progress
from .config import ConfigError, StudySettings, check_number, check_unit_interval, check_whole


class Ensemble:
    """S members of ``make_model()``; member i is initialised after ``torch.manual_seed(seed + i)``."""

    def __init__(self, make_model: Callable[[], nn.Module], num_members: int, seed: int = 0, device="cpu"):
        members = []
        for i in range(num_members):
            torch.manual_seed(seed + i)
            members.append(make_model().to(device))
        params, buffers = stack_module_state(members)
        self.params = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
        self.buffers = buffers
        self.base = copy.deepcopy(members[0]).to("meta")
        self.num_members = num_members
        self.training = True

    def _call_one(self, params, buffers, *inputs):
        return functional_call(self.base, (params, buffers), inputs)

    def __call__(self, *inputs: torch.Tensor, shared: bool = False) -> torch.Tensor:
        """Member-wise forward. Inputs have a leading member axis (S, ...) unless ``shared``."""
        self.base.train(self.training)
        in_dims = (0, 0) + tuple(None if shared else 0 for _ in inputs)
        return vmap(self._call_one, in_dims=in_dims, randomness="different")(self.params, self.buffers, *inputs)

    def parameters(self) -> list[torch.Tensor]:
        return list(self.params.values())

    def train(self, mode: bool = True) -> "Ensemble":
        self.training = mode
        return self

    def eval(self) -> "Ensemble":
        return self.train(False)

    def member_state_dict(self, i: int) -> dict:
        """Member i's weights as an ordinary state dict (load into ``make_model()``)."""
        state = {k: v[i].detach().clone() for k, v in self.params.items()}
        state.update({k: v[i].clone() for k, v in self.buffers.items()})
        return state


def make_optimizer(params, name: str = "sgd", lr: float = 0.1, momentum: float = 0.0, weight_decay: float = 0.0):
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; use 'sgd', 'adam' or 'adamw'")


def member_batches(tensors: Sequence[torch.Tensor], shared: Sequence[bool], num_members: int,
                   batch_size: int | None, generator: torch.Generator | None):
    """Yield tuples of (S, B, ...) batches; every member draws its own shuffle.

    ``shared[j]`` says tensor j has no member axis (the same data for every member).
    ``batch_size=None`` is full-batch (no shuffling).
    """
    n = tensors[0].shape[1 - int(shared[0])]
    device = tensors[0].device
    if batch_size is None or batch_size >= n:
        yield tuple(t.expand(num_members, *t.shape) if s else t for t, s in zip(tensors, shared))
        return
    order = torch.stack([torch.randperm(n, generator=generator) for _ in range(num_members)]).to(device)
    rows = torch.arange(num_members, device=device)[:, None]
    for start in range(0, n, batch_size):
        idx = order[:, start:start + batch_size]
        yield tuple(t[idx] if s else t[rows, idx] for t, s in zip(tensors, shared))


def train_ensemble(
    ensemble: Ensemble,
    tensors: Sequence[torch.Tensor],
    loss_fn: Callable[..., torch.Tensor],
    *,
    shared: Sequence[bool] | None = None,
    num_epochs: int,
    batch_size: int | None = None,
    optimizer: str = "sgd",
    lr: float = 0.1,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    generator: torch.Generator | None = None,
    desc: str = "train",
    on_epoch_end: Callable[[int], None] | None = None,
) -> list[float]:
    """Train every member; ``loss_fn(ensemble, *batch)`` returns the (S,) per-member losses.

    Returns the mean member loss of the last batch of each epoch (for learning curves).
    """
    shared = shared if shared is not None else [False] * len(tensors)
    opt = make_optimizer(ensemble.parameters(), optimizer, lr, momentum, weight_decay)
    ensemble.train()
    history = []
    for epoch in progress(range(num_epochs), desc=desc):
        for batch in member_batches(tensors, shared, ensemble.num_members, batch_size, generator):
            losses = loss_fn(ensemble, *batch)
            opt.zero_grad(set_to_none=True)
            losses.sum().backward()
            opt.step()
        history.append(float(losses.detach().mean()))
        if on_epoch_end is not None:
            on_epoch_end(epoch)
    ensemble.eval()
    return history


@torch.no_grad()
def predict_ensemble(ensemble: Ensemble, *inputs: torch.Tensor, shared: bool = False, batch_size: int = 4096) -> torch.Tensor:
    """Member-wise outputs (S, N, ...) in eval mode, in chunks along the sample axis."""
    was_training = ensemble.training
    ensemble.eval()
    axis = 0 if shared else 1
    n = inputs[0].shape[axis]
    chunks = [
        ensemble(*(x.narrow(axis, start, min(batch_size, n - start)) for x in inputs), shared=shared)
        for start in range(0, n, batch_size)
    ]
    ensemble.train(was_training)
    return torch.cat(chunks, dim=1)


def member_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(S,) accuracy in percent; ``labels`` is (N,) shared or (S, N) per member."""
    return (logits.argmax(-1) == labels).float().mean(-1) * 100


# --- multi-label metrics (MM-IMDB chapter) ---
def member_f1(logits: torch.Tensor, labels: torch.Tensor, threshold: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(micro F1, macro F1) in percent, each (S,), for (S, N, K) multi-label logits.

    A label is predicted when its logit exceeds ``threshold`` (0 = sigmoid probability 0.5).
    ``labels`` is (N, K) shared or (S, N, K) per member. Micro F1 pools true/false positives over
    labels; macro F1 averages per-label F1, counting a label with no positives and no predictions
    as 0 (scikit-learn's ``zero_division=0``).
    """
    predicted = (logits > threshold).float()
    labels = labels.float().expand_as(predicted)
    tp = (predicted * labels).sum(-2)
    fp = (predicted * (1 - labels)).sum(-2)
    fn = ((1 - predicted) * labels).sum(-2)
    micro = 2 * tp.sum(-1) / (2 * tp.sum(-1) + fp.sum(-1) + fn.sum(-1)).clamp_min(1)
    macro = (2 * tp / (2 * tp + fp + fn).clamp_min(1)).mean(-1)
    return micro * 100, macro * 100


# --- semantic segmentation with pixel-wise KD (chapter 04_nyu_depth) ---
def train_segmenter(
    model: nn.Module,
    views: Sequence[torch.Tensor],
    labels: torch.Tensor,
    *,
    teacher: nn.Module | None = None,
    teacher_input: torch.Tensor | None = None,
    rho: float = 1.0,
    temperature: float = 1.0,
    ignore_index: int = -100,
    num_epochs: int,
    batch_size: int,
    optimizer: str = "adam",
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    generator: torch.Generator | None = None,
    desc: str = "train",
) -> list[float]:
    """Train one segmentation network on (N, C, H, W) inputs and (N, H, W) labels with MFH eq. (1)
    applied per pixel; returns the last batch loss of every epoch.

    ``views`` lists one or more inputs of the same scenes with the same channel count. A batch holds
    each drawn scene once per view, so two views (RGB, depth rendered as 3 channels) train one network
    on both modalities with shared weights, as Omnivore does. With a ``teacher`` (kept in eval mode,
    fed ``teacher_input``) the loss is rho * CE + (1 - rho) * KL over every pixel, unlabelled ones too.
    The last incomplete batch of an epoch is dropped: BatchNorm in the ASPP pooling branch needs > 1 sample.
    """
    from .losses import kd_loss

    opt = make_optimizer(model.parameters(), optimizer, lr, weight_decay=weight_decay)
    if teacher is not None:
        teacher.eval()  # no dropout, running BatchNorm statistics: the teacher's test-time predictions
    n = labels.shape[0]
    if n < batch_size:  # every batch would be dropped: no step would ever be taken
        raise ConfigError(f"train_segmenter: {n} training scenes for batch_size {batch_size}; "
                          "use more scenes (num_train) or a smaller batch_size")
    history = []
    for _ in progress(range(num_epochs), desc=desc):
        model.train()
        order = torch.randperm(n, generator=generator).to(labels.device)
        for start in range(0, n - batch_size + 1, batch_size):
            idx = order[start:start + batch_size]
            inputs = torch.cat([view[idx] for view in views])
            targets = labels[idx].repeat(len(views), 1, 1)
            teacher_logits = None
            if teacher is not None:
                with torch.no_grad():
                    teacher_logits = teacher(teacher_input[idx]).repeat(len(views), 1, 1, 1)
            loss = kd_loss(model(inputs), teacher_logits, targets, rho=rho, temperature=temperature,
                           ignore_index=ignore_index)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        history.append(float(loss.detach()))
    model.eval()
    return history


@torch.no_grad()
def segmentation_confusion(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, num_classes: int,
                           ignore_index: int = -100, batch_size: int = 64) -> torch.Tensor:
    """(K, K) confusion counts [true, predicted] over labelled pixels, in chunks so a whole test
    set's logits never sit in memory at once."""
    model.eval()
    confusion = torch.zeros(num_classes * num_classes, dtype=torch.long, device=labels.device)
    for start in range(0, inputs.shape[0], batch_size):
        pred = model(inputs[start:start + batch_size]).argmax(1)
        confusion += confusion_counts(labels[start:start + batch_size], pred, num_classes, ignore_index).flatten()
    return confusion.view(num_classes, num_classes)


def confusion_counts(target: torch.Tensor, pred: torch.Tensor, num_classes: int, ignore_index: int = -100) -> torch.Tensor:
    """(K, K) confusion counts [true, predicted] of same-shaped label and prediction maps, over the
    pixels whose label is not ``ignore_index``."""
    valid = target != ignore_index
    pairs = target[valid] * num_classes + pred[valid]
    return torch.bincount(pairs, minlength=num_classes * num_classes).view(num_classes, num_classes)


def iou_from_confusion(confusion: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-class IoU (..., K) in percent (nan where a class is neither present nor predicted) and the
    mIoU (...): the mean over classes with a non-empty union, as in the usual NYU protocol."""
    confusion = confusion.double()
    intersection = confusion.diagonal(dim1=-2, dim2=-1)
    union = confusion.sum(-1) + confusion.sum(-2) - intersection
    iou = torch.where(union > 0, intersection / union.clamp_min(1), torch.full_like(union, float("nan"))) * 100
    return iou, iou.nanmean(-1)


# --- per-epoch recording (MM-IMDB chapter) ---
def train_recording(ensemble: Ensemble, tensors: Sequence[torch.Tensor], loss_fn: Callable[..., torch.Tensor],
                    record: Callable[[], dict], **train_kwargs) -> dict:
    """:func:`train_ensemble`, calling ``record()`` (a dict of tensors, e.g. member logits on the
    validation and test sets) after every epoch; returns {name: (num_epochs, ...) stacked tensors}.

    Early stopping and snapshot selection then become indexing: pick each member's epoch afterwards.
    """
    records: list[dict] = []
    train_ensemble(ensemble, tensors, loss_fn, on_epoch_end=lambda epoch: records.append(record()), **train_kwargs)
    return {name: torch.stack([r[name] for r in records]) for name in records[0]}


# --- KD studies with controls (AV-MNIST chapter) ---
def fit_best_epoch(make_model: Callable[[], nn.Module], train_inputs: Sequence[torch.Tensor], train_labels: torch.Tensor,
                   val_inputs: Sequence[torch.Tensor], val_labels: torch.Tensor, *, num_members: int, num_epochs: int,
                   batch_size: int, optimizer: str = "adam", lr: float = 1e-3, rho: float = 1.0,
                   teacher_logits: torch.Tensor | None = None, temperature: float = 1.0, seed: int = 0,
                   device="cpu", member_data: bool = False) -> Ensemble:
    """Train ``num_members`` seeds of ``make_model`` with MFH eq. (1), keeping for every member the
    weights of its best validation epoch.

    ``train_inputs`` / ``val_inputs``: the model's inputs, (N, ...) tensors shared by every member,
    or with ``member_data`` (S, N, ...): member i trains and is validated on its own data draw (then
    ``val_labels`` is (S, N) too).
    ``train_labels``: (N,) shared, or (S, N) one row per member (a shuffled-label noise teacher).
    ``teacher_logits``: (S, N, K), member i distils member i; ``rho = 1`` is supervised training.
    Member i starts from ``torch.manual_seed(seed + i)``; batch orders come from a generator seeded
    with ``seed``, so two calls with the same ``seed`` share initial weights and batch order.
    """
    from .config import check_unit_interval

    check_unit_interval("rho", rho)
    if rho < 1 and teacher_logits is None:
        raise ValueError("teacher_logits are required when rho < 1")
    ensemble = Ensemble(make_model, num_members, seed=seed, device=device)
    num_inputs = len(train_inputs)
    tensors = [*train_inputs, train_labels] + ([] if teacher_logits is None else [teacher_logits])
    shared = [not member_data] * num_inputs + [train_labels.dim() == 1] + ([] if teacher_logits is None else [False])

    def loss_fn(model, *batch):
        """MFH eq. (1) per member (losses.kd_loss, computed for all members at once)."""
        logits = model(*batch[:num_inputs])
        members, size = logits.shape[:2]
        loss = logits.new_zeros(members)
        if rho > 0:
            ce = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch[num_inputs].flatten(), reduction="none")
            loss = loss + rho * ce.view(members, size).mean(1)
        if rho < 1:  # losses.kd_divergence, one value per member
            log_student = torch.log_softmax(logits / temperature, dim=-1)
            log_teacher = torch.log_softmax(batch[num_inputs + 1].detach() / temperature, dim=-1)
            kl = (log_teacher.exp() * (log_teacher - log_student)).sum(-1).mean(1) * temperature**2
            loss = loss + (1 - rho) * kl
        return loss

    best_acc = torch.full((num_members,), -1.0, device=device)
    best_params = {k: v.detach().clone() for k, v in ensemble.params.items()}

    def keep_best(epoch):
        acc = member_accuracy(predict_ensemble(ensemble, *val_inputs, shared=not member_data), val_labels)
        improved = acc > best_acc
        for k, v in ensemble.params.items():
            best_params[k][improved] = v.detach()[improved]
        best_acc.copy_(torch.where(improved, acc, best_acc))

    train_ensemble(ensemble, tensors, loss_fn, shared=shared, num_epochs=num_epochs, batch_size=batch_size,
                   optimizer=optimizer, lr=lr, generator=torch.Generator().manual_seed(seed), on_epoch_end=keep_best)
    ensemble.params = best_params
    return ensemble


@dataclass(frozen=True)
class KDStudySettings(StudySettings):
    """Settings of :func:`kd_study`.

    Required: ``seeds`` (S, the members of every ensemble: one per seed), ``teacher_epochs``,
    ``student_epochs``, ``batch_size``. Optional: ``rhos`` (eq. (1)'s cross-entropy weights of the
    KD students), ``optimizer`` ("sgd", "adam" or "adamw"), ``lr``, ``temperature``; the controls at
    ``control_rho`` (None: no controls): ``noise_teacher`` / ``smoothing_teacher`` (teacher names),
    ``born_again``, ``cross_fit`` (teacher names) with ``num_folds`` folds.
    """

    seeds: int
    teacher_epochs: int
    student_epochs: int
    batch_size: int
    rhos: tuple[float, ...] = (0.0, 0.5)
    optimizer: str = "adam"
    lr: float = 1e-3
    temperature: float = 1.0
    control_rho: float | None = None
    noise_teacher: str | None = None
    smoothing_teacher: str | None = None
    born_again: bool = False
    cross_fit: tuple[str, ...] = ()
    num_folds: int = 2

    def __post_init__(self):
        for name in ("seeds", "teacher_epochs", "student_epochs", "batch_size"):
            check_whole(name, getattr(self, name))
        check_whole("num_folds", self.num_folds, 2)
        if self.optimizer not in ("sgd", "adam", "adamw"):
            raise ConfigError(f"setting 'optimizer' = {self.optimizer!r} is invalid: expected 'sgd', 'adam' or 'adamw'")
        check_number("lr", self.lr, 0)
        check_number("temperature", self.temperature, 1e-6)
        for name in ("rhos", "cross_fit"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
                raise ConfigError(f"setting {name!r} = {value!r} is invalid: expected a list")
            object.__setattr__(self, name, tuple(value))
        for rho in self.rhos:
            check_unit_interval("setting 'rhos' (each rho)", rho)
        if self.control_rho is not None:
            check_unit_interval("setting 'control_rho'", self.control_rho)
        controls_named = [name for name in ("noise_teacher", "smoothing_teacher") if getattr(self, name) is not None]
        if (controls_named or self.born_again or self.cross_fit) and self.control_rho is None:
            raise ConfigError("the controls (noise_teacher, smoothing_teacher, born_again, cross_fit) run at "
                              "control_rho: set setting 'control_rho'")


def kd_study(teachers: dict, student: tuple, splits: dict, settings: KDStudySettings | Mapping[str, Any], *,
             baselines: dict | None = None, member_data: bool = False, distil: bool = True,
             results_cache=None, key: dict | None = None, shared_runs: Mapping[str, dict] | None = None,
             device="cpu") -> dict:
    """Teachers, KD students and control students of one crossmodal-KD experiment, paired by seed.

    ``settings``: a :class:`KDStudySettings` or a mapping of its fields (a missing or unknown
    setting is a ConfigError naming it).

    ``teachers``: {name: (make_model, inputs)}, ``student``: (make_model, inputs), where ``inputs(split)``
    returns the model's input tensors of a split. ``splits``: {"train": ..., "val": ..., <test splits>}
    (objects with ``.y`` and whatever ``inputs`` reads); every model is selected at its best
    validation epoch and evaluated on every other split. ``member_data``: every split's tensors
    carry a leading member axis, (S, N, ...) and ``y`` (S, N): seed i trains, is selected and is
    evaluated on its own data draw i (seeds that re-draw the data). ``baselines``: {name: (make_model,
    inputs)} trained and evaluated like the teachers (e.g. an image-only network) but not distilled.
    ``distil=False`` trains the teachers and baselines only (a sweep over teacher inputs).

    Students (seed i of each shares initial weights and batch order): "No-KD" (rho = 1), "<teacher>-KD"
    at every rho of ``rhos``, and, at ``control_rho``, the controls of :mod:`mfh_lib.controls`:

    * ``noise_teacher`` (a teacher name): that architecture trained on labels shuffled per seed,
      condition "noise teacher";
    * ``born_again``: the No-KD student's own logits as teacher, condition "born-again";
    * ``smoothing_teacher`` (a teacher name): label smoothing at that teacher's mean confidence on the
      training pairs, condition "label smoothing";
    * ``cross_fit`` (teacher names): out-of-fold logits of that teacher (``num_folds`` folds, each fold
      predicted by a teacher trained on the others), condition "cross-fitted <teacher>-KD".

    Every trained unit is cached in ``results_cache`` under ``{**key, "run": ...}`` so a re-run only
    trains what is missing. ``shared_runs`` ({run: cache key}, e.g. "teacher/<name>") caches those
    runs under their own key instead: a unit whose inputs are the same in several calls (a teacher in
    a sweep that changes only the student's modality) is trained once; the key must then name the
    content of everything that unit reads. Returns {"teachers": {name: {"acc": {split: (S,)}, "confidence": (S,)}},
    "baselines": {name: {"acc": {split: (S,)}}}, "students": {(condition, rho): {"acc": {split: (S,)}}}}
    with accuracies in percent (CPU tensors).
    """
    from . import controls

    if not isinstance(settings, KDStudySettings):
        settings = KDStudySettings.from_dict(settings)
    for name in (settings.noise_teacher, settings.smoothing_teacher, *settings.cross_fit):
        if name is not None and name not in teachers:
            raise ConfigError(f"a control names teacher {name!r}; the teachers are {sorted(teachers)}")
    num_members, teacher_epochs, student_epochs = settings.seeds, settings.teacher_epochs, settings.student_epochs
    rhos, control_rho, temperature, num_folds = settings.rhos, settings.control_rho, settings.temperature, settings.num_folds
    noise_teacher, smoothing_teacher = settings.noise_teacher, settings.smoothing_teacher
    born_again, cross_fit = settings.born_again, settings.cross_fit
    train, val = splits["train"], splits["val"]
    evaluated = {name: split for name, split in splits.items() if name not in ("train", "val")}
    if member_data and train.y.shape[0] != num_members:
        raise ValueError(f"member_data: the splits hold {train.y.shape[0]} data draws for {num_members} members")
    fit_settings = dict(num_members=num_members, batch_size=settings.batch_size, optimizer=settings.optimizer,
                        lr=settings.lr, temperature=temperature, device=device, member_data=member_data)
    sample_axis = 1 if member_data else 0

    def cached(run: str, compute: Callable[[], dict]) -> dict:
        if results_cache is None:
            return compute()
        return results_cache.get_or_compute({**(shared_runs or {}).get(run, key or {}), "run": run}, compute)

    def evaluate(ensemble, inputs, keep_logits: bool = True) -> dict:
        """Accuracy on every evaluated split and (for teachers) the logits on the training pairs."""
        out = {f"acc/{name}": member_accuracy(predict_ensemble(ensemble, *inputs(split), shared=not member_data),
                                             split.y).cpu()
               for name, split in evaluated.items()}
        if keep_logits:
            out["train_logits"] = predict_ensemble(ensemble, *inputs(train), shared=not member_data).cpu()
        return out

    def fit(make_model, inputs, num_epochs, seed, labels=None, **kwargs):
        return fit_best_epoch(make_model, inputs(train), train.y if labels is None else labels, inputs(val), val.y,
                              num_epochs=num_epochs, seed=seed, **fit_settings, **kwargs)

    teacher_runs = {}
    for index, (name, (make_model, inputs)) in enumerate(progress(list(teachers.items()), desc="teachers")):
        teacher_runs[name] = cached(f"teacher/{name}", lambda: evaluate(
            fit(make_model, inputs, teacher_epochs, seed=1000 * (index + 1)), inputs))
    baseline_runs = {}
    for index, (name, (make_model, inputs)) in enumerate((baselines or {}).items()):
        baseline_runs[name] = cached(f"baseline/{name}", lambda: evaluate(
            fit(make_model, inputs, teacher_epochs, seed=50_000 + 1000 * index), inputs, keep_logits=False))
    if noise_teacher is not None:
        make_model, inputs = teachers[noise_teacher]
        generator = torch.Generator().manual_seed(7)
        label_rows = train.y.cpu() if member_data else train.y.cpu().expand(num_members, -1)
        shuffled = torch.stack([controls.shuffled_labels(row, generator) for row in label_rows]).to(train.y.device)
        teacher_runs["noise teacher"] = cached(f"noise teacher/{noise_teacher}", lambda: evaluate(
            fit(make_model, inputs, teacher_epochs, seed=1000 * (len(teachers) + 1), labels=shuffled), inputs))

    make_student, student_inputs = student

    def student_run(condition: str, rho: float, logits: Callable[[], torch.Tensor | None]) -> dict:
        def compute():
            target = logits()
            ensemble = fit(make_student, student_inputs, student_epochs, seed=0, rho=rho,
                           teacher_logits=None if target is None else target.to(device))
            # the No-KD student's training logits are the born-again teacher
            return evaluate(ensemble, student_inputs, keep_logits=condition == "No-KD")
        return cached(f"student/{condition}/{rho:g}", compute)

    student_runs = {("No-KD", 1.0): student_run("No-KD", 1.0, lambda: None)} if distil else {}
    for rho in rhos if distil else ():
        for name in teachers:
            student_runs[(f"{name}-KD", float(rho))] = student_run(f"{name}-KD", float(rho), lambda: teacher_runs[name]["train_logits"])
    if control_rho is not None and distil:
        rho = float(control_rho)
        if noise_teacher is not None:
            student_runs[("noise teacher", rho)] = student_run("noise teacher", rho, lambda: teacher_runs["noise teacher"]["train_logits"])
        if born_again:
            student_runs[("born-again", rho)] = student_run("born-again", rho, lambda: student_runs[("No-KD", 1.0)]["train_logits"])
        if smoothing_teacher is not None:
            smoothing_logits = teacher_runs[smoothing_teacher]["train_logits"]
            confidence = controls.mean_confidence(smoothing_logits, temperature)
            # the networks' output width is the number of classes (a class absent from training still has a logit)
            student_runs[("label smoothing", rho)] = student_run(
                "label smoothing", rho,
                lambda: controls.smoothing_logits(train.y.cpu(), smoothing_logits.shape[-1], confidence, temperature))
        for name in cross_fit:
            make_model, inputs = teachers[name]

            def rows(x, index):  # the samples ``index`` of x (along the member-data sample axis)
                return x.index_select(sample_axis, index.to(x.device))

            def out_of_fold(train_index, held_out, make_model=make_model, inputs=inputs):
                ensemble = fit_best_epoch(make_model, [rows(x, train_index) for x in inputs(train)],
                                          rows(train.y, train_index), inputs(val), val.y,
                                          num_epochs=teacher_epochs, seed=1000 * (list(teachers).index(name) + 1),
                                          **fit_settings)
                return predict_ensemble(ensemble, *(rows(x, held_out) for x in inputs(train)),
                                        shared=not member_data).cpu()

            def logits(out_of_fold=out_of_fold):
                return controls.cross_fit(out_of_fold, train.y.shape[sample_axis], num_folds,
                                          torch.Generator().manual_seed(11))
            student_runs[(f"cross-fitted {name}-KD", rho)] = student_run(f"cross-fitted {name}-KD", rho, logits)

    def accuracies(run: dict) -> dict:
        return {k.split("/", 1)[1]: v for k, v in run.items() if k.startswith("acc/")}

    return {
        "teachers": {name: {"acc": accuracies(run),
                            "confidence": controls.mean_confidence(run["train_logits"], temperature)}
                     for name, run in teacher_runs.items()},
        "baselines": {name: {"acc": accuracies(run)} for name, run in baseline_runs.items()},
        "students": {condition: {"acc": accuracies(run)} for condition, run in student_runs.items()},
    }
