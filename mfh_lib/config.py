"""Experiment settings as data: profiles, seeding, device and data-directory resolution.

Every chapter calls these the same way, so a reader learns them once:

    cfg = mfh_lib.config.select_profile(PROFILES, profile)
    device = mfh_lib.config.pick_device(device)
    data_dir = mfh_lib.config.resolve_data_dir(data_dir)
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

DATA_ENV_VAR = "MFH_DATA_DIR"
REPO_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A setting a user chose is invalid; the message says how to fix it."""


def select_profile(profiles: Mapping[str, Mapping[str, Any]], name: str) -> dict:
    """Return a copy of ``profiles[name]`` or raise a ConfigError listing the valid names."""
    if name not in profiles:
        raise ConfigError(
            f"unknown profile {name!r}; choose one of {sorted(profiles)} "
            "(set the `profile` parameter, e.g. papermill -p profile quick)"
        )
    return dict(profiles[name])


def set_threads(num_threads: int = 2) -> None:
    """Pin intra-op threads so results (and nbval goldens) do not depend on the core count."""
    torch.set_num_threads(num_threads)


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return a torch.Generator seeded the same for explicit use."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def pick_device(device: str = "auto") -> torch.device:
    """'auto' -> CUDA when available, else CPU. An explicit name is validated."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but CUDA is not available; use device='auto' or 'cpu'")
    if not (device == "cpu" or device.startswith("cuda") or device == "mps"):
        raise ConfigError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda[:N]'")
    return torch.device(device)


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The directory holding real data, or None to run on the embedded stand-ins.

    Order: the explicit parameter, then the ``MFH_DATA_DIR`` environment variable, then None.
    A named directory that does not exist is an error (silently falling back would mislabel tables).
    """
    chosen = data_dir if data_dir not in (None, "") else os.environ.get(DATA_ENV_VAR) or None
    if chosen is None:
        return None
    path = Path(chosen).expanduser().resolve()
    if not path.is_dir():
        raise ConfigError(
            f"data directory {str(path)!r} does not exist; point the `data_dir` parameter or "
            f"${DATA_ENV_VAR} at the folder that holds the datasets (see README, 'Real data'), "
            "or unset both to run on the embedded stand-ins"
        )
    return path


def require_subdir(data_dir: Path, name: str, expected: str) -> Path:
    """``data_dir/name`` or a ConfigError that says what layout was expected there."""
    sub = data_dir / name
    if not sub.exists():
        raise ConfigError(
            f"{str(sub)!r} not found; expected {expected} under {str(data_dir)!r} "
            f"(set ${DATA_ENV_VAR} to the folder that contains {name!r})"
        )
    return sub


def check_unit_interval(name: str, value: float) -> float:
    """Raise a ConfigError unless 0 <= value <= 1 (gamma, rho, shares, ...)."""
    if not 0.0 <= float(value) <= 1.0:
        raise ConfigError(f"{name} must lie in [0, 1], got {value}")
    return float(value)


CONFIG_DIR = REPO_ROOT / "chapters" / "configs"


def load_profile(chapter: str, profile: str, **overrides) -> dict:
    """The ``profile`` section of ``chapters/configs/<chapter>.json``, with non-None overrides applied.

    Overrides are the chapter's own parameters (e.g. ``seeds=3``): None means "use the profile's".
    """
    import json

    path = CONFIG_DIR / f"{chapter}.json"
    if not path.exists():
        raise ConfigError(f"no settings file for chapter {chapter!r}: expected {path}")
    cfg = select_profile(json.loads(path.read_text()), profile)
    unknown = [k for k, v in overrides.items() if v is not None and k not in cfg]
    if unknown:
        raise ConfigError(f"unknown setting(s) {unknown} for chapter {chapter!r}; known: {sorted(cfg)}")
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    return cfg
