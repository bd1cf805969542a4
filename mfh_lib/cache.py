"""A results cache so long runs can resume, plus progress reporting.

Each finished unit of work (one setting of a sweep, one trained model's metrics) is stored under a
key derived from everything that determines it: the settings, and the content hash of the data
(``MultimodalDataset.content_hash``), never a data label, so changed data miss and identical data hit.

* Safe to load: an entry is a ``torch.save`` file holding only tensors and a JSON description of
  the value's structure, read back with ``torch.load(weights_only=True)``, so a planted or
  tampered file cannot run code (it fails to load and is recomputed).
* Atomic: writes go to a temp file and ``os.replace``, so an interrupted run never leaves a
  truncated entry and a rerun recomputes only the units that were not finished.
* Robust: an unreadable entry (truncated, foreign, from an older format) is reported with its path
  as a :class:`CacheWarning`, recomputed and replaced.
* Concurrent runs compute each unit once: the computing process holds an exclusive ``flock`` on
  the entry's lock file, a second process waits for it and then reads the stored result. The
  kernel drops the lock when a process dies, so a killed run never leaves a stale lock.
"""
from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import importlib
import io
import json
import os
import sys
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

import numpy as np
import torch

from .config import REPO_ROOT

T = TypeVar("T")
CACHE_ENV_VAR = "MFH_CACHE_DIR"
PROGRESS_ENV_VAR = "MFH_PROGRESS"
# Part of every key: bump it when the stored layout changes, so older entries miss instead of misreading.
CACHE_FORMAT = 2


class CacheWarning(UserWarning):
    """A cache entry could not be read and is being recomputed."""


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV_VAR) or REPO_ROOT / ".cache" / "results")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (torch.device, torch.dtype)):
        return str(value)
    # str() of other objects can elide content (large tensors) or hold memory addresses: refuse them
    raise TypeError(f"cache keys take JSON data (numbers, strings, lists, dicts), not {type(value).__name__}: "
                    f"{value!r:.80}; put its content hash or its settings in the key instead")


def config_key(config: Any) -> str:
    """A stable short hash of a JSON-serialisable configuration."""
    blob = json.dumps(config, sort_keys=True, default=_json_default).encode()
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


# --------------------------------------------------------------------------- safe value encoding
# A value becomes a JSON tree plus a list of tensors. Tree nodes are JSON scalars or one-key objects
# naming the type, so decoding rebuilds exactly the types that were stored (tuple vs list, numpy vs
# torch, dataclasses of mfh_lib) and nothing else.

def _encode(value: Any, tensors: list, where: str) -> Any:
    if value is None or isinstance(value, (bool, str)) or type(value) in (int, float):
        return value
    if isinstance(value, torch.Tensor):
        tensors.append(value.detach())
        return {"tensor": len(tensors) - 1}
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biufc":
            tensors.append(torch.from_numpy(np.array(value, copy=True)))  # a copy: writable, contiguous
            return {"ndarray": len(tensors) - 1}
        if value.dtype.kind in "US":
            return {"ndarray_text": value.tolist(), "dtype": value.dtype.str}
        if value.dtype.kind == "O":
            return {"ndarray_object": _encode(value.ravel().tolist(), tensors, where), "shape": list(value.shape)}
        raise TypeError(f"cannot cache {where}: numpy dtype {value.dtype} (store numbers, strings or objects)")
    if isinstance(value, np.generic):
        return {"numpy": value.item(), "dtype": value.dtype.str}
    if type(value) is list:
        return {"list": [_encode(v, tensors, f"{where}[{i}]") for i, v in enumerate(value)]}
    if type(value) is tuple:
        return {"tuple": [_encode(v, tensors, f"{where}[{i}]") for i, v in enumerate(value)]}
    if type(value) is torch.Size:
        return {"size": list(value)}
    if type(value) is dict:
        return {"dict": [[_encode(k, tensors, f"{where} key"), _encode(v, tensors, f"{where}[{k!r}]")]
                         for k, v in value.items()]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        if not cls.__module__.startswith("mfh_lib"):
            raise TypeError(f"cannot cache {where}: dataclass {cls.__qualname__} is not defined in mfh_lib")
        return {"dataclass": f"{cls.__module__}:{cls.__qualname__}",
                "fields": {f.name: _encode(getattr(value, f.name), tensors, f"{where}.{f.name}")
                           for f in dataclasses.fields(value)}}
    import pandas as pd

    if type(value) is pd.DataFrame:
        return {"dataframe": _encode({
            "columns": _index_parts(value.columns, f"{where}.columns"),
            "index": _index_parts(value.index, f"{where}.index"),
            "data": [_column_parts(value.iloc[:, i], f"{where}[{i}]") for i in range(value.shape[1])],
            "attrs": dict(value.attrs)}, tensors, where)}
    raise TypeError(f"cannot cache {where} of type {type(value).__name__}; store tensors, numpy arrays, numbers, "
                    "strings, lists / tuples / dicts of them, DataFrames or mfh_lib dataclasses")


def _column_parts(values, where: str) -> dict:
    """A pandas column or flat index as plain data: a numpy array, or strings with their dtype."""
    import pandas as pd

    dtype = values.dtype
    if isinstance(dtype, np.dtype):
        return {"numpy": values.to_numpy()}
    if isinstance(dtype, pd.StringDtype):
        return {"strings": [None if pd.isna(v) else str(v) for v in values], "storage": dtype.storage,
                "na_is_nan": dtype.na_value is not pd.NA}
    raise TypeError(f"cannot cache {where}: pandas dtype {dtype} (use numbers or strings)")


def _column_from_parts(parts: dict):
    import pandas as pd

    if "numpy" in parts:
        return parts["numpy"]
    dtype = pd.StringDtype(parts["storage"], na_value=np.nan if parts["na_is_nan"] else pd.NA)
    return pd.array(parts["strings"], dtype=dtype)


def _index_parts(index, where: str) -> dict:
    import pandas as pd

    if type(index) is pd.RangeIndex:
        return {"range": (index.start, index.stop, index.step), "name": index.name}
    if isinstance(index, pd.MultiIndex):
        return {"tuples": list(index), "names": list(index.names)}
    return {"values": _column_parts(index, where), "name": index.name}


def _index_from_parts(parts: dict):
    import pandas as pd

    if "range" in parts:
        return pd.RangeIndex(*parts["range"], name=parts["name"])
    if "tuples" in parts:
        return pd.MultiIndex.from_tuples(parts["tuples"], names=parts["names"])
    values = _column_from_parts(parts["values"])
    return pd.Index(values, dtype=values.dtype, name=parts["name"])


def _dataclass_type(name: str) -> type:
    module, _, qualname = name.partition(":")
    if not (module == "mfh_lib" or module.startswith("mfh_lib.")):
        raise ValueError(f"refusing to rebuild {name}: only mfh_lib dataclasses are cached")
    cls = importlib.import_module(module)
    for part in qualname.split("."):
        cls = getattr(cls, part)
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise ValueError(f"{name} is not a dataclass")
    return cls


def _decode(node: Any, tensors: list) -> Any:
    if not isinstance(node, dict):
        return node
    (tag, body), *rest = node.items()
    if tag == "tensor":
        return tensors[body]
    if tag == "ndarray":
        return tensors[body].numpy()
    if tag == "ndarray_text":
        return np.array(body, dtype=node["dtype"])
    if tag == "ndarray_object":
        items = _decode(body, tensors)
        out = np.empty(len(items), dtype=object)
        for i, item in enumerate(items):  # one by one: numpy would unpack tuple items into a new axis
            out[i] = item
        return out.reshape(node["shape"])
    if tag == "numpy":
        return np.dtype(node["dtype"]).type(body)
    if tag == "list":
        return [_decode(v, tensors) for v in body]
    if tag == "tuple":
        return tuple(_decode(v, tensors) for v in body)
    if tag == "size":
        return torch.Size(body)
    if tag == "dict":
        return {_decode(k, tensors): _decode(v, tensors) for k, v in body}
    if tag == "dataclass":
        cls = _dataclass_type(body)
        values = {name: _decode(v, tensors) for name, v in node["fields"].items()}
        init = {f.name for f in dataclasses.fields(cls) if f.init}
        obj = cls(**{k: v for k, v in values.items() if k in init})
        for name in values.keys() - init:
            object.__setattr__(obj, name, values[name])
        return obj
    if tag == "dataframe":
        import pandas as pd

        parts = _decode(body, tensors)
        index = _index_from_parts(parts["index"])
        columns = [_column_from_parts(c) for c in parts["data"]]
        # explicit dtypes: pandas would otherwise re-infer object columns of strings as str
        frame = pd.DataFrame({i: pd.Series(c, index=index, dtype=c.dtype) for i, c in enumerate(columns)}, index=index)
        frame.columns = _index_from_parts(parts["columns"])
        frame.attrs.update(parts["attrs"])
        return frame
    raise ValueError(f"unknown node {tag!r} in a cache entry")


def encode_value(value: Any) -> bytes:
    """The bytes of a cache entry for ``value`` (a TypeError names any part that cannot be stored)."""
    tensors: list = []
    tree = json.dumps(_encode(value, tensors, "value"))
    buffer = io.BytesIO()
    torch.save({"format": CACHE_FORMAT, "tree": tree, "tensors": tensors}, buffer)
    return buffer.getvalue()


def decode_file(path: Path) -> Any:
    """The value stored in ``path``; loading executes no code from the file (``weights_only=True``)."""
    entry = torch.load(path, weights_only=True)
    if not isinstance(entry, dict) or entry.get("format") != CACHE_FORMAT:
        raise ValueError(f"not a format-{CACHE_FORMAT} cache entry")
    return _decode(json.loads(entry["tree"]), entry["tensors"])


# --------------------------------------------------------------------------------------- cache
_MISSING = object()


def _identity(path: Path) -> tuple | None:
    """Which file ``path`` is now (inode, size, mtime), or None when there is none."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


class ResultsCache:
    """``cache.get_or_compute(config, fn)`` returns ``fn()``, computing it only once per config.

    Values are tensors, numpy arrays, numbers, strings, lists / tuples / dicts of them, DataFrames
    and mfh_lib dataclasses (see :func:`encode_value`). Set ``MFH_CACHE_DIR`` to move the cache, or
    pass ``enabled=False`` to always recompute.
    """

    def __init__(self, namespace: str, enabled: bool = True, root: Path | None = None):
        self.namespace = namespace
        self.dir = (root or cache_root()) / namespace
        self.enabled = enabled

    def path(self, config: Any) -> Path:
        return self.dir / f"{config_key({'format': CACHE_FORMAT, 'namespace': self.namespace, 'config': config})}.pt"

    @contextmanager
    def _claim(self, path: Path):
        """Hold the exclusive lock of one entry; the lock file goes once the entry is stored."""
        self.dir.mkdir(parents=True, exist_ok=True)
        lock = path.with_name(f".{path.stem}.lock")
        with open(lock, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # waits while another process computes this entry
            try:
                yield
                # The entry is stored: waiters on this (now nameless) lock re-read and find it, newcomers hit it.
                lock.unlink(missing_ok=True)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _read(self, path: Path) -> Any:
        if not path.exists():
            return _MISSING
        try:
            return decode_file(path)
        except Exception as err:  # truncated, foreign or tampered: whatever it is, it is not a result
            warnings.warn(f"results cache entry {path} is unreadable ({type(err).__name__}: {err}); "
                          "recomputing it", CacheWarning, stacklevel=3)
            return _MISSING

    def get_or_compute(self, config: Any, compute: Callable[[], T]) -> T:
        if not self.enabled:
            return compute()
        path = self.path(config)
        seen = _identity(path)
        value = self._read(path)
        if value is not _MISSING:
            return value
        with self._claim(path):
            # another process may have stored the entry while we waited; an unchanged bad file stays bad
            if _identity(path) != seen:
                value = self._read(path)
            if value is _MISSING:
                value = compute()
                atomic_write_bytes(path, encode_value(value))
        return value

    def clear(self) -> None:
        for pattern in ("*.pt", ".*.lock"):
            for path in self.dir.glob(pattern):
                path.unlink()


def progress(iterable: Iterable[T], desc: str = "", total: int | None = None) -> Iterable[T]:
    """A tqdm bar on stderr for interactive runs; silent when ``MFH_PROGRESS=0`` (goldens, CI)."""
    if os.environ.get(PROGRESS_ENV_VAR, "1") == "0":
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, file=sys.stderr, leave=False)
