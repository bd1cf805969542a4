"""Test-session settings shared by the unit tests and nbval.

At the repository root so that every pytest run gets them, `pytest --nbval book/chapters` alone included.

nbval re-executes the smoke tier (tests/smoke/*.ipynb, quick profile; scripts/run_chapters.py
explains the two tiers). It starts each notebook's kernel with this process's environment, so the
variables set here reach the chapters too: no progress bars in outputs; a throwaway results cache so
nbval really re-computes instead of reading what an earlier run stored; a throwaway copy of the
smoke tier's results (tests/smoke/_results; the record tier's, book/_results, for a chapter the smoke
tier lacks, which happens only before `run_chapters.py --migrate-tiers`), so re-executed chapters
(and the ledger chapter that reads them) never rewrite tracked results; and the CPU pins that make
the goldens reproduce on any x86-64 CPU (mfh_lib.REPRODUCIBLE_CPU_ENV).
Folders this session created are removed when it ends; folders named by the caller
(MFH_CACHE_DIR, MFH_RESULTS_DIR) are left alone. nbval applies tests/nbval_sanitize.cfg unless
another sanitizer file is named.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import mfh_lib

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "book" / "_results"  # the record tier's results
SMOKE_RESULTS = ROOT / "tests" / "smoke" / "_results"  # the smoke tier's, which nbval's chapters reproduce
SANITIZE_CFG = ROOT / "tests" / "nbval_sanitize.cfg"
_SESSION_DIRS = []  # temp folders made here, removed at the end of the session


def _session_dir(variable: str, prefix: str, copy_of: Path | tuple[Path, ...] = ()) -> None:
    """Point ``variable`` at a fresh temp folder (a copy of the ``copy_of`` folder or folders, later
    ones overwriting earlier ones) unless the caller set it."""
    if os.environ.get(variable):
        return
    folder = tempfile.mkdtemp(prefix=prefix)
    for source in (copy_of,) if isinstance(copy_of, Path) else copy_of:
        if source.is_dir():
            shutil.copytree(source, folder, dirs_exist_ok=True)
    _SESSION_DIRS.append(folder)
    os.environ[variable] = folder


os.environ["MFH_PROGRESS"] = "0"
mfh_lib.use_reproducible_cpu_env()  # before any test module imports torch; the kernels inherit it
_session_dir("MFH_CACHE_DIR", "mfh-cache-")
_session_dir("MFH_RESULTS_DIR", "mfh-results-", copy_of=(RESULTS, SMOKE_RESULTS))
os.environ.setdefault("PYTHONHASHSEED", "0")


def pytest_configure(config):
    # nbval: Styler ids, memory addresses and timings differ between runs; sanitize them by default
    option = config.option
    nbval_on = getattr(option, "nbval", False) or getattr(option, "nbval_lax", False)
    named = getattr(option, "nbval_sanitize_with", None) or getattr(option, "sanitize_with", None)
    if nbval_on and not named:
        option.nbval_sanitize_with = str(SANITIZE_CFG)


def pytest_unconfigure(config):
    for folder in _SESSION_DIRS:
        shutil.rmtree(folder, ignore_errors=True)


def golden_used_real_data(notebook: Path) -> bool:
    """True when the chapter's committed results were made from real data (data_source says 'real'):
    the results of the notebook's own tier (``<folder>/_results``), else the record tier's."""
    results = notebook.parent / "_results" / f"{notebook.stem}.json"
    if not results.exists():
        results = RESULTS / f"{notebook.stem}.json"
    if not results.exists():
        return False
    rows = json.loads(results.read_text())["claims"]
    return any("real" in row["data_source"].lower() for row in rows)


def pytest_collection_modifyitems(config, items):
    if os.environ.get("MFH_DATA_DIR"):
        return
    for item in items:
        path = Path(str(item.fspath))
        if path.suffix == ".ipynb" and golden_used_real_data(path):
            item.add_marker(pytest.mark.skip(
                reason=f"{path.name}'s golden was made from real data: set MFH_DATA_DIR to the data folder "
                "(see README) to check it"))


@pytest.fixture(scope="session")
def book_html(tmp_path_factory) -> Path:
    """The HTML book built once per session from the committed record tier (as `make book`, warnings as
    errors), or an existing build named by ``MFH_BOOK_HTML``; shared by the build and browser tests."""
    given = os.environ.get("MFH_BOOK_HTML")
    if given:
        html = Path(given)
        assert (html / "intro.html").exists(), f"MFH_BOOK_HTML={given} holds no built book"
        return html
    out = tmp_path_factory.mktemp("book")
    jb = Path(sys.executable).parent / "jupyter-book"
    command = [str(jb if jb.exists() else shutil.which("jupyter-book")), "build", str(ROOT / "book"),
               "--path-output", str(out), "-W", "-n", "--keep-going"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return out / "_build" / "html"
