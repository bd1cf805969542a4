"""Execute chapters (py:percent sources) with papermill into the notebooks the book renders.

    python scripts/run_chapters.py [--profile quick|full] [CHAPTER ...]

Each ``chapters/NAME.py`` becomes ``book/chapters/NAME.ipynb``, executed with the chosen profile
injected as a papermill parameter. What changes from run to run although the results do not is
stripped: papermill's per-cell timings, start/end times and paths, random cell ids (renumbered
``cell-000``, ...) and live widget state (a reader's kernel regenerates it). The outputs themselves
are recomputed, so a re-run reproduces a golden only as far as the chapter's outputs do (nbval
checks that, with the sanitising rules of ``tests/nbval_sanitize.cfg``); it is not guaranteed to
be byte-identical.

For the rendered book, the cell papermill injects (tag ``injected-parameters``) is tagged
``remove-cell``: the author's parameters cell is the one a reader sees (the book notes injected
values that differ from it, and the provenance page records the profile).

The golden is written atomically (a temporary file in the same folder, then a rename), and only
when the chapter succeeded: a chapter that fails keeps its previous golden and the script exits
non-zero.

Each executed chapter also gets a provenance record, ``book/_results/provenance/NAME.json`` (in a
sub-folder, so the claims ledger, which reads ``book/_results/*.json``, never mistakes it for a
chapter's results). The book's provenance page is generated from these records; schema
(``"schema": 1``; a value that could not be determined is ``null``)::

    chapter, profile, parameters          what was run (parameters = papermill's injected values)
    seeds                                 the profile's seeds, [0, ..., n-1] (chapters/configs/NAME.json)
    device                                "cpu" or "cuda (GPU name)", as the chapters' device="auto" picks it
    started, finished, wall_time_s        UTC ISO 8601 times and seconds of the papermill run
    data: {sources, hash, data_dir_given} the results' data sources; their content hash when the
                                          results JSON records one (its "provenance" dict); whether
                                          MFH_DATA_DIR named a data folder (its path is not recorded)
    results_sha256                        SHA-256 of book/_results/NAME.json after the run (null if none)
    versions: {python, torch, ...}        interpreter and library versions of this environment
    git: {commit, dirty}                  HEAD and whether tracked files had uncommitted changes
    platform: {system, machine, cpu}      where it ran
    cpu_env                               the CPU kernel pins in force (mfh_lib.REPRODUCIBLE_CPU_ENV)
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jupytext
import nbformat
import papermill as pm

import mfh_lib

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "chapters"
CONFIGS = SOURCES / "configs"
GOLDENS = ROOT / "book" / "chapters"
PROFILES = ("quick", "full")
SCHEMA = 1
VERSIONED = ("torch", "torchvision", "torchaudio", "numpy", "scipy", "pandas", "scikit-learn", "matplotlib",
             "papermill", "nbformat", "jupyter-book", "mfh_lib")


def chapter_names() -> list[str]:
    return sorted(p.stem for p in SOURCES.glob("*.py"))


def results_dir() -> Path:
    from mfh_lib import claims

    return claims.results_dir()


def provenance_dir() -> Path:
    return results_dir() / "provenance"


def strip_volatile(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop what changes from run to run although the results do not (timings, random cell ids)."""
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index:03d}"
        cell.metadata.pop("execution", None)
        papermill_meta = cell.metadata.get("papermill")
        if papermill_meta is not None:
            for key in ("start_time", "end_time", "duration", "status", "exception"):
                papermill_meta.pop(key, None)
    meta = nb.metadata.get("papermill", {})
    for key in ("start_time", "end_time", "duration", "input_path", "output_path", "environment_variables", "version"):
        meta.pop(key, None)
    nb.metadata.pop("widgets", None)  # live widget state is regenerated when a reader runs the cell
    return nb


def hide_injected_parameters(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Tag papermill's injected parameters cell ``remove-cell`` so the book shows it once."""
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
    return nb


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename, so a
    reader (the book build, nbval, git) never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- provenance ----------------------------------------------------------------------------------

def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _cpu_name() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _device() -> str | None:
    """The device a chapter's ``device="auto"`` picks in this environment."""
    try:
        import torch
    except ImportError:
        return None
    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    return "cpu"


def _profile_seeds(name: str, profile: str) -> list[int] | None:
    try:
        seeds = json.loads((CONFIGS / f"{name}.json").read_text())[profile].get("seeds")
    except (OSError, ValueError, KeyError, AttributeError):
        return None
    if isinstance(seeds, bool):
        return None
    if isinstance(seeds, int):
        return list(range(seeds))
    if isinstance(seeds, list) and all(isinstance(s, int) for s in seeds):
        return seeds
    return None


def _results_facts(name: str, since: float) -> tuple[list[str], str | None, str | None]:
    """(data sources, data content hash, SHA-256 of the results file) of a chapter's fresh results."""
    path = results_dir() / f"{name}.json"
    if not path.exists() or path.stat().st_mtime < since:
        return [], None, None
    raw = path.read_bytes()
    try:
        payload = json.loads(raw)
    except ValueError:
        return [], None, hashlib.sha256(raw).hexdigest()
    recorded = payload.get("provenance") or {}
    sources = recorded.get("data_source")
    if isinstance(sources, str):
        sources = [sources]
    if not sources:
        sources = sorted({row.get("data_source") for row in payload.get("claims", []) if row.get("data_source")})
    return list(sources), recorded.get("data_hash"), hashlib.sha256(raw).hexdigest()


def provenance_record(name: str, profile: str, parameters: dict, started: str, finished: str,
                      wall_time_s: float, since: float) -> dict:
    sources, data_hash, results_sha = _results_facts(name, since)
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "schema": SCHEMA,
        "chapter": name,
        "profile": profile,
        "parameters": parameters,
        "seeds": _profile_seeds(name, profile),
        "device": _device(),
        "started": started,
        "finished": finished,
        "wall_time_s": round(wall_time_s, 1),
        "data": {"sources": sources, "hash": data_hash, "data_dir_given": bool(os.environ.get("MFH_DATA_DIR"))},
        "results_sha256": results_sha,
        "versions": _versions(),
        "git": {"commit": _git("rev-parse", "HEAD"), "dirty": None if status is None else bool(status)},
        "platform": {"system": platform.platform(), "machine": platform.machine(), "cpu": _cpu_name()},
        "cpu_env": {key: os.environ.get(key) for key in mfh_lib.REPRODUCIBLE_CPU_ENV},
    }


# --- running -------------------------------------------------------------------------------------

def run_chapter(name: str, profile: str, timeout: int) -> float:
    source = SOURCES / f"{name}.py"
    if not source.exists():
        raise SystemExit(f"no chapter source {source}; available: {', '.join(chapter_names())}")
    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    GOLDENS.mkdir(parents=True, exist_ok=True)
    target = GOLDENS / f"{name}.ipynb"
    started, since = _now(), time.time()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        unexecuted = Path(tmp) / f"{name}.ipynb"
        executed = Path(tmp) / f"{name}.out.ipynb"
        nbformat.write(notebook, unexecuted)
        # Inject the profile only where the chapter declares it (the ledger has none).
        declared = pm.inspect_notebook(str(unexecuted))
        parameters = {"profile": profile} if "profile" in declared else {}
        pm.execute_notebook(
            str(unexecuted), str(executed), parameters=parameters, kernel_name="python3",
            cwd=str(GOLDENS), progress_bar=False, execution_timeout=timeout,
        )
        result = hide_injected_parameters(strip_volatile(nbformat.read(executed, as_version=4)))
        text = nbformat.writes(result)
        write_atomically(target, text if text.endswith("\n") else text + "\n")  # as nbformat.write
    seconds = time.perf_counter() - start
    record = provenance_record(name, profile, parameters, started, _now(), seconds, since)
    write_atomically(provenance_dir() / f"{name}.json", json.dumps(record, indent=1, sort_keys=True) + "\n")
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("chapters", nargs="*", help="chapter names (default: all)")
    parser.add_argument("--profile", default=os.environ.get("PROFILE", "quick"), choices=PROFILES)
    parser.add_argument("--timeout", type=int, default=3600, help="per-cell timeout in seconds")
    args = parser.parse_args(argv)
    os.environ.setdefault("MFH_PROGRESS", "0")  # progress bars would land in the notebooks' outputs
    mfh_lib.use_reproducible_cpu_env()  # the kernels inherit it: goldens that reproduce on any x86-64 CPU
    names = args.chapters or chapter_names()
    # The ledger summarises every other chapter's results, so it always runs last.
    names = sorted(names, key=lambda n: n.endswith("claims_ledger"))
    failed = []
    for name in names:
        print(f"[{args.profile}] {name} ...", flush=True)
        try:
            seconds = run_chapter(name, args.profile, args.timeout)
        except pm.PapermillExecutionError as err:
            print(f"  FAILED: {err.ename}: {err.evalue}", flush=True)
            failed.append(name)
            continue
        print(f"  done in {seconds:.0f} s", flush=True)
    if failed:
        print(f"failed chapters: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
