"""One module per dataset: a loader for the original on-disk format and an offline stand-in.

Every loader returns a :class:`MultimodalDataset`, so chapters that work across datasets (MSD,
CCH) treat them alike. Modality ``a`` is the teacher's (or the one with the richer signal) and
``b`` the student's, matching the MFH paper's x^a / x^b notation.

Loaders check what they read with :func:`validate_array` (shape, dtype, finiteness, value range)
before computing anything, so malformed files fail with an error naming the file and the field
instead of producing numbers that would be labelled real. ``MultimodalDataset.content_hash``
identifies the data themselves, for cache keys (a data *label* would let changed data hit).
"""
from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass, field, fields, is_dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from ..config import ConfigError


# ------------------------------------------------------------------------------- content hashing
def _update_digest(h, obj) -> None:
    """Feed ``obj`` into ``h`` unambiguously: every item is tagged with its type, shape and length."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().data)  # raw bytes: any dtype, bf16 included
    elif isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            _update_digest(h, obj.tolist())
            return
        h.update(f"A{obj.dtype.str}{obj.shape}".encode())
        h.update(np.ascontiguousarray(obj).data)
    elif isinstance(obj, dict):
        h.update(f"D{len(obj)}".encode())
        for key in sorted(obj, key=repr):
            _update_digest(h, key)
            _update_digest(h, obj[key])
    elif isinstance(obj, (list, tuple)):
        h.update(f"L{len(obj)}".encode())
        for item in obj:
            _update_digest(h, item)
    elif is_dataclass(obj) and not isinstance(obj, type):
        _update_digest(h, {f.name: getattr(obj, f.name) for f in fields(obj)})
    elif obj is None or isinstance(obj, (bool, int, float, str, np.generic)):
        text = repr(obj.item() if isinstance(obj, np.generic) else obj)
        h.update(f"S{type(obj).__name__}{len(text)}:{text}".encode())
    else:
        raise TypeError(f"cannot hash a {type(obj).__name__} as data content")


def content_digest(*objects) -> str:
    """sha256 (hex) of tensors, arrays, scalars, strings and containers of them, dtypes and shapes included."""
    h = hashlib.sha256()
    for obj in objects:
        _update_digest(h, obj)
    return h.hexdigest()


def file_digest(paths: Iterable[Path], root: Path | None = None) -> str:
    """sha256 (hex) of files' names (relative to ``root``) and bytes, in the given order."""
    h = hashlib.sha256()
    for path in paths:
        name = str(path.relative_to(root)) if root is not None else path.name
        data = Path(path).read_bytes()
        h.update(f"F{len(name)}:{name}{len(data)}:".encode())
        h.update(data)
    return h.hexdigest()


# ---------------------------------------------------------------------------------- validation
def _shape_text(shape: Sequence) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def validate_array(name: str, array, *, file, shape: Sequence | None = None, integer: bool = False,
                   finite: bool = True, low: float | None = None, high: float | None = None,
                   fix: str = "") -> np.ndarray:
    """Check one array read from ``file`` and return it as numpy (a view for CPU tensors).

    ``shape``: expected sizes per axis; a str entry (e.g. "N") accepts any size and names it in the
    message. ``integer``: the values must be whole numbers (an integer dtype, or floats that are
    whole). ``finite``: no NaN / inf. ``low`` / ``high``: inclusive bounds of the values. A failed
    check raises a ConfigError naming the file, the field, what was found and what was expected;
    ``fix`` is appended to say how to repair the file.
    """
    values = array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)
    where = f"{str(file)!r}: field {name!r}"
    hint = f"; {fix}" if fix else ""
    if shape is not None:
        fits = values.ndim == len(shape) and all(isinstance(want, str) or got == want
                                                 for got, want in zip(values.shape, shape))
        if not fits:
            raise ConfigError(f"{where} has shape {_shape_text(values.shape)}; expected {_shape_text(shape)}{hint}")
    if values.dtype.kind not in "biuf":
        raise ConfigError(f"{where} has dtype {values.dtype}; expected numbers{hint}")
    if values.size == 0:
        return values
    if finite and values.dtype.kind == "f" and not np.isfinite(values).all():
        bad = int((~np.isfinite(values)).sum())
        raise ConfigError(f"{where} holds {bad} NaN/inf value(s) of {values.size}; expected finite numbers{hint}")
    if integer and values.dtype.kind == "f" and not np.array_equal(values, np.round(values)):
        raise ConfigError(f"{where} holds non-integer values (e.g. {values[values != np.round(values)][0]}); "
                          f"expected integer codes{hint}")
    if (low is not None and values.min() < low) or (high is not None and values.max() > high):
        bounds = f"[{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
        raise ConfigError(f"{where} has values in [{values.min()}, {values.max()}]; expected values in {bounds}{hint}")
    return values


def validate_rows(file, **arrays) -> int:
    """The common first-axis length of ``arrays`` (name=array) read from ``file``, or a ConfigError."""
    lengths = {name: len(values) for name, values in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ConfigError(f"{str(file)!r}: fields {lengths} have different numbers of rows; expected one row per "
                          "sample in every field")
    return next(iter(lengths.values()))


def require_rows(split: str, count: int, minimum: int, *, file, why: str) -> None:
    """A ConfigError unless a split has at least ``minimum`` samples (e.g. 2 for a standard deviation)."""
    if count < minimum:
        raise ConfigError(f"{str(file)!r}: the {split} split has {count} sample(s); expected at least {minimum} "
                          f"({why})")


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Mono float32 waveform in [-1, 1] and its sample rate (scipy reader: no audio backend needed).

    Unreadable or empty files and non-finite samples are ConfigErrors naming the file.
    """
    from scipy.io import wavfile

    try:
        rate, data = wavfile.read(path)
    except (ValueError, OSError, EOFError) as err:
        raise ConfigError(f"cannot read {str(path)!r} as a wav file ({err}); replace it with the original "
                          "PCM recording") from err
    if np.issubdtype(data.dtype, np.integer):
        data = data.astype(np.float32) / np.iinfo(data.dtype).max
    data = data.astype(np.float32)
    data = data.mean(axis=1) if data.ndim == 2 else data
    if data.size == 0:
        raise ConfigError(f"{str(path)!r} holds no samples; replace it with the original recording")
    validate_array("samples", data, file=path, fix="replace it with the original recording")
    return data, int(rate)


def read_numpy(path: Path, keys: Sequence[str] | None = None, *, expected: str):
    """The array of a ``.npy`` file (``keys=None``) or the named arrays of a ``.npz`` archive, read now.

    Pickled (object) arrays are refused; an unreadable file or a missing key is a ConfigError that
    names the file and says what it should hold (``expected``).
    """
    try:
        if keys is None:
            return np.load(path)
        with np.load(path) as archive:
            missing = [key for key in keys if key not in archive.files]
            if missing:
                raise ConfigError(f"{str(path)!r} lacks arrays {missing}; expected {expected}")
            return {key: archive[key] for key in keys}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise ConfigError(f"cannot read {str(path)!r} as numeric numpy data ({err}); expected {expected}") from err


def open_hdf5(path: Path, expected: str):
    """``h5py.File(path, "r")``, with a ConfigError saying what file was expected when it is not HDF5."""
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise ConfigError(f"cannot read {str(path)!r} as HDF5 ({err}); expected {expected}") from err


# ------------------------------------------------------------------------------------ datasets
@dataclass
class MultimodalSplit:
    a: torch.Tensor  # modality a, (N, ...)
    b: torch.Tensor  # modality b, (N, ...)
    y: torch.Tensor  # (N,) class indices, or (N, K) multi-hot for multi-label tasks

    def __len__(self) -> int:
        return self.y.shape[0]

    def to(self, device) -> "MultimodalSplit":
        return MultimodalSplit(self.a.to(device), self.b.to(device), self.y.to(device))


@dataclass
class MultimodalDataset:
    train: MultimodalSplit
    val: MultimodalSplit
    test: MultimodalSplit
    modalities: tuple[str, str]  # human names of (a, b), e.g. ("image", "audio")
    num_classes: int
    source: str  # which data made it: e.g. "RAVDESS (real features)" or "stand-in (synthetic, planted MVD)"
    multilabel: bool = False
    ground_truth: dict = field(default_factory=dict)  # stand-ins: planted modality-general/specific factors

    @cached_property
    def content_hash(self) -> str:
        """sha256 of every array (bytes, dtype, shape) and attribute: the identity of the data for cache keys.

        Computed once per object (in place edits of its tensors afterwards are not seen); a
        ``dataclasses.replace`` copy computes its own.
        """
        return content_digest(*(getattr(self, f.name) for f in fields(self)))

    def to(self, device) -> "MultimodalDataset":
        moved = MultimodalDataset(self.train.to(device), self.val.to(device), self.test.to(device),
                                  self.modalities, self.num_classes, self.source, self.multilabel, self.ground_truth)
        if "content_hash" in self.__dict__:  # same content: no need to hash it again (from the GPU)
            moved.__dict__["content_hash"] = self.__dict__["content_hash"]
        return moved


# ------------------------------------------------------------------- generic splits (any dataset)
from .splits import (dataset_from_arrays, fit_standardizer, group_split, kfold_indices,  # noqa: E402
                     random_halves, random_split, standardize)

__all__ = ["MultimodalSplit", "MultimodalDataset", "content_digest", "file_digest", "validate_array",
           "validate_rows", "require_rows", "read_wav", "read_numpy", "open_hdf5", "group_split",
           "random_split", "kfold_indices", "random_halves", "fit_standardizer", "standardize", "dataset_from_arrays"]
