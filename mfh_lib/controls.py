"""Control conditions for KD experiments: is a student's gain crossmodal knowledge at all?

Each control replaces the teacher's soft targets on the student's training set by targets that
carry no (or no new) crossmodal information. Every KD trainer in the book distils from a tensor of
teacher logits on the training set, so a control is one extra row of logits:

* **noise teacher**: the same teacher architecture trained on shuffled labels
  (:func:`shuffled_labels`) or fed noise with the inputs' per-feature mean and spread
  (:func:`noise_like`). A gain it also gives is regularisation, not knowledge.
* **born-again**: the teacher is the student's own no-KD model (its logits on the student's
  training inputs). A gain it also gives is self-distillation.
* **label smoothing** with the teacher's average confidence (:func:`smoothing_logits`,
  :func:`mean_confidence`): the soft-label effect without any per-sample knowledge.
* **cross-fitted teacher logits** (:func:`cross_fit`): out-of-fold predictions, so a teacher that
  memorised its training set does not just hand the labels on.

:data:`CONTROLS` names them for tables and the ledger.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

CONTROLS = {
    "noise teacher": "same teacher architecture trained on shuffled labels (or fed noise)",
    "born-again": "teacher = the student's own no-KD model",
    "label smoothing": "uniform smoothing at the teacher's average confidence, no per-sample knowledge",
    "cross-fitted": "teacher logits predicted out of fold: no memorised training labels",
}


def shuffled_labels(y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Labels permuted across samples: class frequencies kept, every input-label link broken."""
    return y[torch.randperm(len(y), generator=generator)]


def noise_like(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Gaussian noise with ``x``'s per-feature mean and standard deviation (sample axis 0)."""
    mean = x.mean(0, keepdim=True)
    std = x.std(0, keepdim=True) if len(x) > 1 else torch.ones_like(mean)
    return mean + std * torch.randn(x.shape, generator=generator, dtype=x.dtype)


def mean_confidence(teacher_logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Average top-class probability of softmax(logits / T) over samples (class axis last): the
    confidence a label-smoothing control should match. Shape: the logits' leading axes."""
    return torch.softmax(teacher_logits / temperature, dim=-1).amax(-1).mean(-1)


def smoothing_logits(y: torch.Tensor, num_classes: int, confidence, temperature: float = 1.0) -> torch.Tensor:
    """Logits whose softmax at ``temperature`` puts ``confidence`` on the true class and the rest
    uniformly on the others (label smoothing as a teacher).

    ``confidence`` is a float or a (S,) tensor (one per seed); the result is (N, K) or (S, N, K).
    Logits = T * log p, so that the KD loss, which softens by T, sees exactly p.
    """
    if num_classes < 2:
        raise ValueError("label smoothing needs at least two classes")
    c = torch.as_tensor(confidence, dtype=torch.float32)
    if ((c <= 1 / num_classes) | (c >= 1)).any():
        raise ValueError(f"confidence must lie in (1/K, 1) = ({1 / num_classes:.3f}, 1), got {c.tolist()}")
    c = c.reshape(-1, 1, 1) if c.dim() == 1 else c
    one_hot = torch.nn.functional.one_hot(y.long(), num_classes).float()
    p = c * one_hot + (1 - c) / (num_classes - 1) * (1 - one_hot)
    return temperature * p.log()


def fold_indices(n: int, num_folds: int, generator: torch.Generator) -> list[torch.Tensor]:
    """``num_folds`` disjoint index sets covering range(n), in random order."""
    if not 2 <= num_folds <= n:
        raise ValueError(f"num_folds must lie in [2, {n}], got {num_folds}")
    return list(torch.randperm(n, generator=generator).tensor_split(num_folds))


def cross_fit(fit_predict: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], n: int, num_folds: int,
              generator: torch.Generator) -> torch.Tensor:
    """Out-of-fold predictions: for each fold, ``fit_predict(train_index, predict_index)`` trains a
    teacher on the other folds and returns its outputs on ``predict_index`` with the sample axis
    at -2 (e.g. (S, m, K) for S seeds), so every training sample gets a prediction from a teacher
    that never saw it. Returns (..., n, K) in the original sample order."""
    folds = fold_indices(n, num_folds, generator)
    pieces = []
    for k, held_out in enumerate(folds):
        train_index = torch.cat([f for j, f in enumerate(folds) if j != k])
        pieces.append(fit_predict(train_index, held_out))
    order = torch.cat(folds)
    out = torch.cat(pieces, dim=-2)
    return out[..., torch.argsort(order), :]


# --- per-pixel versions (segmentation: per-pixel classification, class axis 1) ---
def pixel_mean_confidence(logits: torch.Tensor, temperature: float = 1.0) -> float:
    """Average top-class probability of softmax(logits / T) over every pixel of (N, K, H, W) logits."""
    return float(torch.softmax(logits / temperature, dim=1).amax(1).mean())


def pixel_smoothing_logits(y: torch.Tensor, num_classes: int, confidence: float, temperature: float = 1.0,
                           ignore_index: int | None = None) -> torch.Tensor:
    """(N, K, H, W) logits of label smoothing per pixel for (N, H, W) labels: ``confidence`` on the
    true class, the rest uniform on the others (as :func:`smoothing_logits`); pixels labelled
    ``ignore_index`` get the uniform distribution (no label, so no knowledge to smooth)."""
    ignored = torch.zeros_like(y, dtype=torch.bool) if ignore_index is None else y == ignore_index
    logits = smoothing_logits(torch.where(ignored, torch.zeros_like(y), y), num_classes, confidence, temperature)
    logits = logits.movedim(-1, 1)
    return torch.where(ignored.unsqueeze(1), torch.full_like(logits, -temperature * math.log(num_classes)),
                       logits)


class PixelSmoothingTeacher(torch.nn.Module):
    """A "teacher" whose input is the (B, H, W) label map and whose output is
    :func:`pixel_smoothing_logits`: label smoothing as a control in any trainer that distils from
    ``teacher(teacher_input[idx])``."""

    def __init__(self, num_classes: int, confidence: float, temperature: float = 1.0, ignore_index: int | None = None):
        super().__init__()
        self.num_classes, self.confidence, self.temperature, self.ignore_index = num_classes, confidence, temperature, ignore_index

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return pixel_smoothing_logits(y, self.num_classes, self.confidence, self.temperature, self.ignore_index)


__all__ = ["CONTROLS", "shuffled_labels", "noise_like", "mean_confidence", "smoothing_logits", "fold_indices",
           "cross_fit", "pixel_mean_confidence", "pixel_smoothing_logits", "PixelSmoothingTeacher"]
