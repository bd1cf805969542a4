"""A results cache so long runs can resume, plus progress reporting.

Each finished unit of work (one setting of a sweep, one trained model's metrics) is stored under a
key derived from everything that determines it. Writes are atomic (temp file + ``os.replace``), so
an interrupted run never leaves a truncated entry: re-running the chapter recomputes only the units
that were not finished.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

import torch

from .config import REPO_ROOT

T = TypeVar("T")
CACHE_ENV_VAR = "MFH_CACHE_DIR"
PROGRESS_ENV_VAR = "MFH_PROGRESS"


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV_VAR) or REPO_ROOT / ".cache" / "results")


def config_key(config: Any) -> str:
    """A stable short hash of a JSON-serialisable configuration."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are meant to be shared and committed
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


class ResultsCache:
    """``cache.get_or_compute(config, fn)`` returns ``fn()``, computing it only once per config.

    Values are anything ``torch.save`` handles (tensors, dicts of floats, state dicts).
    Set ``MFH_CACHE_DIR`` to move the cache, or pass ``enabled=False`` to always recompute.
    """

    def __init__(self, namespace: str, enabled: bool = True, root: Path | None = None):
        self.dir = (root or cache_root()) / namespace
        self.enabled = enabled

    def path(self, config: Any) -> Path:
        return self.dir / f"{config_key(config)}.pt"

    def get_or_compute(self, config: Any, compute: Callable[[], T]) -> T:
        path = self.path(config)
        if self.enabled and path.exists():
            return torch.load(path, weights_only=False)
        value = compute()
        if self.enabled:
            buffer = io.BytesIO()
            torch.save(value, buffer)
            atomic_write_bytes(path, buffer.getvalue())
        return value

    def clear(self) -> None:
        for path in self.dir.glob("*.pt"):
            path.unlink()


def progress(iterable: Iterable[T], desc: str = "", total: int | None = None) -> Iterable[T]:
    """A tqdm bar on stderr for interactive runs; silent when ``MFH_PROGRESS=0`` (goldens, CI)."""
    if os.environ.get(PROGRESS_ENV_VAR, "1") == "0":
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, file=sys.stderr, leave=False)
