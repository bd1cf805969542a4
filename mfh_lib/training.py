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
from typing import Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from .cache import progress


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
        target = labels[start:start + batch_size]
        valid = target != ignore_index
        confusion += torch.bincount(target[valid] * num_classes + pred[valid], minlength=num_classes * num_classes)
    return confusion.view(num_classes, num_classes)


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
