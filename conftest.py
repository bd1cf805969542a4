"""Test-session settings shared by the unit tests and nbval.

At the repository root so that every pytest run gets them, `pytest --nbval book/chapters` alone included.

nbval starts each notebook's kernel with this process's environment, so the variables set here
reach the chapters too: no progress bars in outputs, and a throwaway results cache so nbval really
re-computes instead of reading what an earlier run stored, and the CPU pins that make the goldens
reproduce on any x86-64 CPU (mfh_lib.REPRODUCIBLE_CPU_ENV).
"""
import json
import os
import tempfile
from pathlib import Path

import pytest

import mfh_lib

os.environ["MFH_PROGRESS"] = "0"
mfh_lib.use_reproducible_cpu_env()  # before any test module imports torch; the kernels inherit it
os.environ.setdefault("MFH_CACHE_DIR", tempfile.mkdtemp(prefix="mfh-cache-"))
os.environ.setdefault("PYTHONHASHSEED", "0")

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "book" / "_results"


def golden_used_real_data(notebook: Path) -> bool:
    """True when the chapter's committed results were made from real data (data_source says 'real')."""
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
