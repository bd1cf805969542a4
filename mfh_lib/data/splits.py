"""Generic splits and standardisation for paired data of any origin (a user's arrays included).

* :func:`group_split`: train / val / test masks that keep every group (actor, speaker, subject)
  in exactly one split, so a model cannot recognise the person instead of the label.
* :func:`random_split`: the same over samples (no groups).
* :func:`kfold_indices`: k folds of sample indices, optionally of whole groups.
* :func:`random_halves`: one random 50:50 split of the samples per seed (MFH App. B.3's
  teacher / student halves), as (S, N // 2) index tensors.
* :func:`standardize`: z-scores every array with the *training* array's mean and std.
* :func:`dataset_from_arrays`: ``x_a, x_b, y`` (and groups) to a standardised
  :class:`~mfh_lib.data.MultimodalDataset` with a declared number of classes.

All masks are boolean numpy arrays of shape (N,); indices are int64 numpy arrays. The RAVDESS loader
keeps its own ``actor_split`` (balanced by sex, a RAVDESS convention), so its goldens are unchanged.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import torch

from ..config import ConfigError
from . import MultimodalDataset, MultimodalSplit


def _count(name: str, value: int | float, total: int) -> int:
    """A count given as an int, or as a share of ``total`` (float in (0, 1), at least 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{name} must be a count (int) or a share in (0, 1) (float), got {value!r}")
    if isinstance(value, (float, np.floating)):
        if not 0.0 < value < 1.0:
            raise ConfigError(f"{name} as a share must lie in (0, 1), got {value!r}")
        return max(1, int(round(value * total)))
    if value < 0:
        raise ConfigError(f"{name} must be >= 0, got {value!r}")
    return int(value)


def group_split(groups, *, seed: int = 0, val: int | float = 0.15, test: int | float = 0.2):
    """Boolean masks (train, val, test), each (N,), that keep every group in exactly one split.

    ``groups`` (N,) holds any hashable ids (actor, speaker, subject). ``val`` / ``test``: the number
    of groups (int) or the share of groups (float in (0, 1), rounded, at least one) held out. The
    groups are shuffled with ``numpy.random.default_rng(seed)``; test takes the first ones.
    """
    groups = np.asarray(groups)
    if groups.ndim != 1:
        raise ConfigError(f"groups must be one id per sample, shape (N,), got {groups.shape}")
    unique = np.unique(groups)
    num_test, num_val = _count("test", test, unique.size), _count("val", val, unique.size)
    if num_test + num_val >= unique.size:
        raise ConfigError(f"{num_val} val + {num_test} test groups leave none for training "
                          f"({unique.size} groups present); hold out fewer groups")
    order = np.random.default_rng(seed).permutation(unique)
    is_test = np.isin(groups, order[:num_test])
    is_val = np.isin(groups, order[num_test:num_test + num_val])
    return ~(is_test | is_val), is_val, is_test


def random_split(n: int, *, seed: int = 0, val: int | float = 0.15, test: int | float = 0.2):
    """Boolean masks (train, val, test), each (n,), over samples drawn at random (no groups).

    ``val`` / ``test``: a number of samples (int) or a share of them (float in (0, 1)).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 3:
        raise ConfigError(f"n must be a whole number of samples >= 3, got {n!r}")
    return group_split(np.arange(n), seed=seed, val=val, test=test)


def kfold_indices(n: int, num_folds: int, *, seed: int = 0, groups=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """``num_folds`` pairs (train_index, held_out_index) of int64 arrays over ``range(n)``.

    The held-out parts are disjoint and cover every sample once. With ``groups`` (n,), whole groups
    are assigned to folds (group k-fold: no group on both sides of a pair).
    """
    if isinstance(num_folds, bool) or not isinstance(num_folds, (int, np.integer)) or num_folds < 2:
        raise ConfigError(f"num_folds must be a whole number >= 2, got {num_folds!r}")
    rng = np.random.default_rng(seed)
    if groups is None:
        if num_folds > n:
            raise ConfigError(f"{num_folds} folds need at least as many samples, got {n}")
        fold_of = np.empty(n, dtype=np.int64)
        fold_of[rng.permutation(n)] = np.arange(n) % num_folds
    else:
        groups = np.asarray(groups)
        if groups.shape != (n,):
            raise ConfigError(f"groups must have shape ({n},), got {groups.shape}")
        unique, inverse = np.unique(groups, return_inverse=True)
        if num_folds > unique.size:
            raise ConfigError(f"{num_folds} folds need at least as many groups, got {unique.size}")
        group_fold = np.empty(unique.size, dtype=np.int64)
        group_fold[rng.permutation(unique.size)] = np.arange(unique.size) % num_folds
        fold_of = group_fold[inverse]
    return [(np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)) for k in range(num_folds)]


def random_halves(num_samples: int, num_members: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """One random 50:50 split of ``range(num_samples)`` per ensemble member (seed).

    Returns (first, second): (S, N // 2) int64 index tensors, disjoint per row; member i's split is
    ``torch.randperm`` under seed + i, so members are independent replications (with an odd N the
    last sample of the permutation is left out).
    """
    for name, value, low in (("num_samples", num_samples, 2), ("num_members", num_members, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ConfigError(f"{name} must be a whole number >= {low}, got {value!r}")
    order = torch.stack([torch.randperm(int(num_samples), generator=torch.Generator().manual_seed(int(seed) + i))
                         for i in range(int(num_members))])
    half = int(num_samples) // 2
    return order[:, :half], order[:, half:2 * half]


def fit_standardizer(train) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature (mean, std) of ``train`` (N, ...) over the sample axis; constant features get std 1."""
    train = np.asarray(train, dtype=np.float64)
    if train.shape[0] < 2:
        raise ConfigError(f"standardising needs at least 2 training samples, got {train.shape[0]}")
    mean, std = train.mean(0), train.std(0)
    return mean, np.where(std > 1e-8, std, 1.0)


def standardize(train, *others) -> list[np.ndarray]:
    """z-score ``train`` and every array in ``others`` (each (N_i, ...)) with the training statistics.

    Returns float64 arrays of the input shapes, ``[train, *others]``. Nothing about val / test leaks
    into the transform.
    """
    mean, std = fit_standardizer(train)
    return [(np.asarray(x, dtype=np.float64) - mean) / std for x in (train, *others)]


def dataset_from_arrays(x_a, x_b, y, *, groups=None, num_classes: int | None = None, seed: int = 0,
                        val: int | float = 0.15, test: int | float = 0.2, standardize_a: bool = True,
                        standardize_b: bool = True, modalities: Sequence[str] = ("a", "b"),
                        source: str = "user arrays") -> MultimodalDataset:
    """Paired arrays to a :class:`MultimodalDataset`: split, standardise (training statistics), check labels.

    x_a (N, D_a): the teacher's modality; x_b (N, D_b): the student's; y (N,) integer classes in
    0..num_classes-1. ``groups`` (N,): split by group (:func:`group_split`, ``val`` / ``test``
    count groups); without it, by sample (:func:`random_split`). ``num_classes``: the number of
    classes of the problem (default: the largest label + 1 over all samples); labels outside
    0..num_classes-1 are a ConfigError, a class absent from training a warning (the networks still
    get ``num_classes`` outputs).
    """
    x_a, x_b = np.asarray(x_a, dtype=np.float64), np.asarray(x_b, dtype=np.float64)
    y = np.asarray(y)
    if y.ndim != 1 or len(x_a) != len(y) or len(x_b) != len(y):
        raise ConfigError(f"x_a {x_a.shape}, x_b {x_b.shape} and y {y.shape} must have one row per sample")
    if not (np.isfinite(x_a).all() and np.isfinite(x_b).all()):
        raise ConfigError("x_a and x_b must hold finite numbers (no NaN / inf)")
    if y.dtype.kind not in "iu" and not (y.dtype.kind == "f" and np.array_equal(y, np.round(y))):
        raise ConfigError(f"y must hold integer class indices, got dtype {y.dtype}")
    y = y.astype(np.int64)
    num_classes = int(y.max()) + 1 if num_classes is None else int(num_classes)
    if y.min() < 0 or y.max() >= num_classes:
        raise ConfigError(f"labels lie in [{y.min()}, {y.max()}] but num_classes = {num_classes}: expected 0..{num_classes - 1}")
    if groups is None:
        train, is_val, is_test = random_split(len(y), seed=seed, val=val, test=test)
    else:
        train, is_val, is_test = group_split(groups, seed=seed, val=val, test=test)
    missing = sorted(set(range(num_classes)) - set(np.unique(y[train]).tolist()))
    if missing:
        warnings.warn(f"class(es) {missing} have no training sample; the networks still get {num_classes} outputs",
                      stacklevel=2)
    a_parts = standardize(x_a[train], x_a[is_val], x_a[is_test]) if standardize_a else [x_a[m] for m in (train, is_val, is_test)]
    b_parts = standardize(x_b[train], x_b[is_val], x_b[is_test]) if standardize_b else [x_b[m] for m in (train, is_val, is_test)]

    def split(i, mask):
        return MultimodalSplit(torch.as_tensor(a_parts[i], dtype=torch.float32),
                               torch.as_tensor(b_parts[i], dtype=torch.float32), torch.as_tensor(y[mask]))

    return MultimodalDataset(split(0, train), split(1, is_val), split(2, is_test), modalities=tuple(modalities),
                             num_classes=num_classes, source=source)


__all__ = ["group_split", "random_split", "kfold_indices", "random_halves", "fit_standardizer", "standardize", "dataset_from_arrays"]
