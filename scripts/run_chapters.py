"""Execute chapters (py:percent sources) with papermill into the notebooks the book renders.

    python scripts/run_chapters.py [--profile quick|full] [CHAPTER ...]

Each ``chapters/NAME.py`` becomes ``book/chapters/NAME.ipynb``, executed with the chosen profile
injected as a papermill parameter. Per-cell timing metadata that papermill records is stripped so a
re-run with the same results leaves the golden byte-identical. A chapter that fails keeps its
previous golden (the new notebook is written only on success) and the script exits non-zero.
"""
from __future__ import annotations

import argparse
import os
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
GOLDENS = ROOT / "book" / "chapters"
PROFILES = ("quick", "full")


def chapter_names() -> list[str]:
    return sorted(p.stem for p in SOURCES.glob("*.py"))


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


def run_chapter(name: str, profile: str, timeout: int) -> float:
    source = SOURCES / f"{name}.py"
    if not source.exists():
        raise SystemExit(f"no chapter source {source}; available: {', '.join(chapter_names())}")
    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    GOLDENS.mkdir(parents=True, exist_ok=True)
    target = GOLDENS / f"{name}.ipynb"
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
        result = strip_volatile(nbformat.read(executed, as_version=4))
        nbformat.write(result, target)
    return time.perf_counter() - start


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
