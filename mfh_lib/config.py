"""Experiment settings as data: profiles, seeding, device and data-directory resolution.

Every chapter calls these the same way, so a reader learns them once:

    cfg = mfh_lib.config.load_profile("06_mmimdb", profile)  # or a user's .json path, or a dict
    device = mfh_lib.config.pick_device(device)
    data_dir = mfh_lib.config.resolve_data_dir(data_dir)
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import random
from numbers import Integral, Real
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

DATA_ENV_VAR = "MFH_DATA_DIR"
REPO_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A setting a user chose is invalid; the message says how to fix it."""


def check_whole(name: str, value, minimum: int = 1) -> None:
    """A setting that counts something: a whole number >= ``minimum`` (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ConfigError(f"setting {name!r} = {value!r} is invalid: expected a whole number >= {minimum}")


def check_number(name: str, value, low: float | None = None, high: float | None = None) -> None:
    """A real-valued setting: finite, within [low, high] where given (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or \
            (low is not None and value < low) or (high is not None and value > high):
        bounds = f" in [{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
        raise ConfigError(f"setting {name!r} = {value!r} is invalid: expected a finite number{bounds}")


class StudySettings:
    """What every study's frozen settings dataclass shares: construction from a dict (a chapter
    profile or a user's own) that names a missing or unknown setting, and JSON data back."""

    @classmethod
    def required(cls) -> tuple[str, ...]:
        """The names of the settings without a default."""
        return tuple(f.name for f in dataclasses.fields(cls)
                     if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any], *, extra: str = "error"):
        """Settings from a dict; a missing required key is a ConfigError naming it. ``extra="error"``:
        an unknown key is a ConfigError naming it; ``"ignore"``: keys that are not settings (a chapter
        profile's other settings) are skipped."""
        if not isinstance(mapping, Mapping):
            raise ConfigError(f"study settings must be a mapping or {cls.__name__}, got {type(mapping).__name__}")
        if extra not in ("error", "ignore"):
            raise ConfigError(f"extra must be 'error' or 'ignore', got {extra!r}")
        names = {f.name for f in dataclasses.fields(cls)}
        missing = [name for name in cls.required() if name not in mapping]
        if missing:
            raise ConfigError(f"study settings lack {missing} (required, no default: {list(cls.required())}; "
                              f"see {cls.__name__})")
        unknown = sorted(set(mapping) - names)
        if unknown and extra == "error":
            raise ConfigError(f"unknown study setting(s) {unknown}; known: {sorted(names)}")
        return cls(**{k: v for k, v in mapping.items() if k in names})

    def to_dict(self) -> dict:
        """The settings as JSON data (lists for tuples)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


def select_profile(profiles: Mapping[str, Mapping[str, Any]], name: str) -> dict:
    """Return a copy of ``profiles[name]`` or raise a ConfigError listing the valid names."""
    if not isinstance(name, str) or name not in profiles:
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
    if not isinstance(device, str):
        raise ConfigError(f"device must be a string ('auto', 'cpu' or 'cuda[:N]'), got {device!r}")
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
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        raise ConfigError(f"data_dir must be a folder path (string) or None, got {data_dir!r}")
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
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan  # not a number: fails the range check below with the same message
    if not 0.0 <= number <= 1.0:
        raise ConfigError(f"{name} must lie in [0, 1], got {value!r}")
    return number


def check_setting(name: str, value: Any, like: Any, *, minimum: float | None = None) -> Any:
    """``value`` checked against ``like`` (the profile's value of the setting), converted to its type.

    The type follows ``like``: a bool stays a bool; an int setting (seeds, sizes, epochs) takes whole
    numbers only; a float setting takes finite real numbers (ints become floats); a string stays a
    string; a list keeps its element type (checked against the profile's elements) and is not
    empty; a dict takes the profile's keys. ``minimum``: the smallest allowed number (lists: per
    element). A mismatch raises a ConfigError naming the setting, the value and what was expected.
    """
    def fail(expected: str):
        raise ConfigError(f"setting {name!r} = {value!r} is invalid: expected {expected} "
                          f"(the profile's value is {json.dumps(like)})")

    bound = "" if minimum is None else f" >= {minimum:g}"
    below = minimum is not None and isinstance(value, Real) and value < minimum
    if isinstance(like, bool):
        if not isinstance(value, bool):
            fail("true or false")
        return value
    if isinstance(like, Integral):
        if isinstance(value, bool) or not isinstance(value, Integral) or below:
            fail(f"a whole number{bound}")
        return int(value)
    if isinstance(like, Real):
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or below:
            fail(f"a finite number{bound}")
        return float(value)
    if isinstance(like, str):
        if not isinstance(value, str):
            fail("a string")
        return value
    if isinstance(like, (list, tuple)):
        if not isinstance(value, (list, tuple)) or (like and not value):
            fail(f"a non-empty list like {json.dumps(like)}")
        if not like:
            return list(value)
        # the element type: float when the profile mixes ints and floats, else that of its elements
        element = next((x for x in like if isinstance(x, float)), like[0])
        return [check_setting(f"{name}[{i}]", item, element, minimum=minimum) for i, item in enumerate(value)]
    if isinstance(like, Mapping):
        if not isinstance(value, Mapping) or set(value) - set(like):
            fail(f"a mapping with keys among {sorted(like)}")
        return {**like, **{k: check_setting(f"{name}[{k!r}]", v, like[k]) for k, v in value.items()}}
    return value


def _lower_bound(values: list) -> float | None:
    """The range a setting's profiles imply: counts >= 1 stay >= 1, non-negative numbers stay >= 0."""
    numbers = []
    for value in values:
        items = value if isinstance(value, (list, tuple)) else [value]
        numbers += [x for x in items if isinstance(x, Real) and not isinstance(x, bool)]
    if not numbers:
        return None
    if all(isinstance(x, Integral) for x in numbers) and min(numbers) >= 1:
        return 1
    return 0 if min(numbers) >= 0 else None


CONFIG_DIR = REPO_ROOT / "chapters" / "configs"


def _profiles_file(path_or_chapter: str | os.PathLike) -> Path:
    """The settings file: a path to a ``.json`` file (a user's own) or a chapter name."""
    text = os.fspath(path_or_chapter) if isinstance(path_or_chapter, (str, os.PathLike)) else None
    if text is None:
        raise ConfigError(f"load_profile takes a chapter name or a path to a .json file, got {path_or_chapter!r}")
    if text.endswith(".json") or isinstance(path_or_chapter, os.PathLike) or os.sep in text:
        path = Path(text).expanduser()
        if not path.is_file():
            raise ConfigError(f"settings file {str(path)!r} not found; expected a JSON object of profiles, "
                              'e.g. {"quick": {"seeds": 3}, "full": {"seeds": 5}}')
        return path
    path = CONFIG_DIR / f"{text}.json"
    if not path.exists():
        raise ConfigError(f"no settings file for chapter {text!r}: expected {path} "
                          "(or pass the path of your own .json file)")
    return path


def load_profile(path_or_chapter: str | os.PathLike | Mapping[str, Mapping[str, Any]], profile: str,
                 **overrides) -> dict:
    """The ``profile`` section of a settings file, with non-None overrides applied.

    ``path_or_chapter``: a chapter name (``chapters/configs/<chapter>.json``), the path of a user's
    own ``.json`` file holding ``{profile name: {setting: value}}``, or that dict itself; all are
    validated alike.
    Overrides are the chapter's own parameters (e.g. ``seeds=3``): None means "use the profile's".
    Each is checked by :func:`check_setting` against the profile's value, with the range every
    profile of the file implies (e.g. ``seeds`` >= 1 because all profiles use positive counts), so
    ``-p seeds -1`` or ``-p delta abc`` stop here with an error naming the setting.
    """
    if isinstance(path_or_chapter, Mapping):
        path = "the settings dict"
        try:
            profiles = json.loads(json.dumps(path_or_chapter))  # a deep copy that holds JSON data only
        except (TypeError, ValueError) as err:
            raise ConfigError(f"a settings dict must hold JSON data (numbers, strings, lists, dicts): {err}") from err
    else:
        path = _profiles_file(path_or_chapter)
        try:
            profiles = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ConfigError(f"{str(path)!r} is not valid JSON ({err})") from err
    if not isinstance(profiles, dict) or not all(isinstance(p, dict) for p in profiles.values()):
        raise ConfigError(f"{str(path)!r} must hold a JSON object of profiles, each an object of settings, "
                          'e.g. {"quick": {"seeds": 3}}')
    cfg = select_profile(profiles, profile)
    unknown = [k for k, v in overrides.items() if v is not None and k not in cfg]
    if unknown:
        where = str(path) if isinstance(path_or_chapter, Mapping) else repr(str(path_or_chapter))
        raise ConfigError(f"unknown setting(s) {unknown} for {where}; known: {sorted(cfg)}")
    for key, value in overrides.items():
        if value is not None:
            bound = _lower_bound([p[key] for p in profiles.values() if key in p])
            cfg[key] = check_setting(key, value, cfg[key], minimum=bound)
    return cfg


__all__ = ["DATA_ENV_VAR", "REPO_ROOT", "CONFIG_DIR", "ConfigError", "select_profile", "set_threads", "seed_everything",
           "pick_device", "resolve_data_dir", "require_subdir", "check_unit_interval", "check_setting", "load_profile",
           "check_whole", "check_number", "StudySettings"]
