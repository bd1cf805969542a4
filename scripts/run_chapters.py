"""Execute chapters (py:percent sources) with papermill into the book's two tiers.

    python scripts/run_chapters.py [--profile quick|record|full] [CHAPTER ...]
    python scripts/run_chapters.py --profile record --out DIR [CHAPTER ...]   # a re-run of your own
    python scripts/run_chapters.py --profile record --skip-done --lock [CHAPTER ...]  # `make record`
    python scripts/run_chapters.py --migrate-tiers                               # once, see below

**Tiers.** Two sets of executed notebooks and results that never overwrite each other:

=========  =====================================  ==================================================
tier       files                                  made by / read by
=========  =====================================  ==================================================
record     ``book/chapters/NAME.ipynb``,          ``--profile record`` or ``full``; what the
           ``book/_results/NAME.json``,           published book renders (``make book`` executes
           ``book/_results/provenance/NAME.json``  nothing)
smoke      ``tests/smoke/NAME.ipynb``,            ``--profile quick``; the nbval goldens that
           ``tests/smoke/_results/NAME.json``,     ``make test`` (CI) re-executes
           ``tests/smoke/_results/provenance/``
re-run     ``DIR/NAME.ipynb``, ``DIR/_results/``,  ``--out DIR`` at any profile; ``DIR/comparison.md``
           ``DIR/comparison.md``                  compares its verdicts with the record's per claim
=========  =====================================  ==================================================

A quick run lands in the smoke tier and, while the chapter has no record run yet (its record-tier
provenance does not say ``record`` or ``full``), is also copied into the record tier, so the book
renders the smoke run until the record exists (its provenance then says ``profile: quick``). A
quick run never replaces a record or full page. The chapters need no change: the tier's results
folder reaches them through ``MFH_RESULTS_DIR`` (mfh_lib.claims.RESULTS_ENV_VAR). The claims ledger
(``99_claims_ledger``) summarises the results of its own tier, so it is executed once per tier it
lands in (seconds), never copied; after a record or full chapter lands, the record tier's ledger is
re-executed too, so each finished record chapter leaves a complete set of files to commit.

**Atomic.** A chapter runs in a private staging folder (its results folder seeded with a copy of the
tier's, which the ledger reads); only when it succeeded are its notebook, results and provenance
moved into the tier, each file by a temporary file and a rename. A failing chapter leaves every
tier as it was and the script exits non-zero.

**Long runs** (``make record``): chapters run one at a time; ``--skip-done`` skips a chapter whose
record page already comes from this profile and the current source, so a stopped run resumes where
it stopped, and a chapter cut off midway resumes from the content-keyed results cache
(``.cache/results``: its finished studies are not recomputed). ``--lock`` refuses to start while
another long run holds ``.cache/record.lock``; ``--progress`` prints papermill's cell progress.

**Migration** (run once, by the lead, when this layout lands): ``--migrate-tiers`` copies each
chapter whose record tier holds a quick-profile page (the old single-tier goldens) into the smoke
tier, where nbval now looks. Idempotent; it never touches the record tier.

Volatile metadata is stripped from every notebook: papermill's per-cell timings, start/end times and
paths, random cell ids (renumbered ``cell-000``, ...) and live widget state (a reader's kernel
regenerates it). The outputs themselves are recomputed, so a re-run reproduces a golden only as far
as the chapter's outputs do (nbval checks that, with the sanitising rules of
``tests/nbval_sanitize.cfg``). The cell papermill injects (tag ``injected-parameters``) is tagged
``remove-cell``: the author's parameters cell is the one a reader sees.

Each executed chapter gets a provenance record, ``<tier results>/provenance/NAME.json`` (in a
sub-folder, so the claims ledger, which reads ``<tier results>/*.json``, never mistakes it for a
chapter's results). The book's provenance page is generated from these records; schema
(``"schema": 1``; a value that could not be determined is ``null``)::

    chapter, profile, parameters          what was run (parameters = papermill's injected values;
                                          the ledger's profile names the profiles of its inputs)
    seeds                                 the profile's seeds, [0, ..., n-1] (chapters/configs/NAME.json)
    device                                "cpu" or "cuda (GPU name)", as the chapters' device="auto" picks it
    started, finished, wall_time_s        UTC ISO 8601 times and seconds of the papermill run
    data: {sources, hash, data_dir_given} the results' data sources; their content hash when the
                                          results JSON records one (its "provenance" dict); whether
                                          MFH_DATA_DIR named a data folder (its path is not recorded)
    results_sha256                        SHA-256 of the chapter's results JSON after the run (null if none)
    versions: {python, torch, ...}        interpreter and library versions of this environment
    git: {commit, dirty}                  HEAD and whether tracked files had uncommitted changes
    platform: {system, machine, cpu}      where it ran
    cpu_env                               the CPU kernel pins in force (mfh_lib.REPRODUCIBLE_CPU_ENV)
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat
import papermill as pm

import mfh_lib

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "chapters"
CONFIGS = SOURCES / "configs"
PROFILES = ("quick", "record", "full")
RECORD_PROFILES = ("record", "full")  # the profiles a published (record-tier) page may come from
LEDGER = "99_claims_ledger"
LOCK = ROOT / ".cache" / "record.lock"
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


# --- tiers ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tier:
    """A set of executed notebooks and the results folder their chapters (and ledger) read and write."""

    name: str
    notebooks: Path
    results: Path

    @property
    def provenance(self) -> Path:
        return self.results / "provenance"

    def files(self, chapter: str) -> dict[str, Path]:
        """Where a chapter's notebook, results and provenance record live in this tier."""
        return {"notebook": self.notebooks / f"{chapter}.ipynb", "results": self.results / f"{chapter}.json",
                "provenance": self.provenance / f"{chapter}.json"}


RECORD = Tier("record", ROOT / "book" / "chapters", ROOT / "book" / "_results")
SMOKE = Tier("smoke", ROOT / "tests" / "smoke", ROOT / "tests" / "smoke" / "_results")


def rerun_tier(out: Path) -> Tier:
    out = Path(out).resolve()
    return Tier("re-run", out, out / "_results")


def page_profile(tier: Tier, chapter: str) -> str | None:
    """The profile a tier's page of ``chapter`` was made with: its provenance record's, else its
    results' (older pages have no record); None when the tier has no page of it."""
    files = tier.files(chapter)
    if not files["notebook"].exists():
        return None
    for path, keys in ((files["provenance"], ("profile",)), (files["results"], ("provenance", "profile"))):
        try:
            value = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str):
            return value
    return "unknown"


def has_record_run(chapter: str, tier: Tier | None = None) -> bool:
    return page_profile(tier or RECORD, chapter) in RECORD_PROFILES


def destinations(chapter: str, profile: str, out: Path | None = None) -> list[Tier]:
    """The tiers a run of ``chapter`` at ``profile`` lands in, the tier it executes in first.

    ``--out``: only there. quick: the smoke tier, and the record tier while that has no record or
    full run of the chapter. record / full: the record tier only (the smoke goldens stay quick).
    The ledger at quick lands in both (executed on each tier's results).
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    record, smoke = RECORD, SMOKE
    if out is not None:
        return [rerun_tier(out)]
    if chapter == LEDGER:  # each tier's ledger is executed on that tier's results, so it is never stale
        return [record] if profile in RECORD_PROFILES else [smoke, record]
    if profile in RECORD_PROFILES:
        return [record]
    return [smoke] if has_record_run(chapter, record) else [smoke, record]


def code_cells(nb) -> list[str]:
    """The code a reader sees (papermill's injected cell left out), to compare a page with its source."""
    return [c.source.strip() for c in nb.cells
            if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]


def page_is_current(tier: Tier, chapter: str, profile: str) -> bool:
    """True when the tier's page of ``chapter`` comes from ``profile`` and the chapter's current source."""
    if page_profile(tier, chapter) != profile:
        return False
    page = nbformat.read(tier.files(chapter)["notebook"], as_version=4)
    return code_cells(page) == code_cells(jupytext.read(SOURCES / f"{chapter}.py"))


def ledger_profile(results: Path) -> str:
    """The ledger has no profile of its own: it names the profiles of the results it summarises
    ("quick", or "mixed: quick (8), record (1)" with the number of chapters of each)."""
    counts: dict[str, int] = {}
    for path in sorted(results.glob("*.json")):
        try:
            payload = json.loads(path.read_text())
        except ValueError:
            payload = {}
        profile = (payload.get("provenance") or {}).get("profile") or payload.get("profile") or "unknown"
        counts[profile] = counts.get(profile, 0) + 1
    if len(counts) == 1:
        return next(iter(counts))
    return "mixed: " + ", ".join(f"{p} ({n})" for p, n in sorted(counts.items())) if counts else "none"


@contextlib.contextmanager
def results_env(folder: Path):
    """Point the chapters (mfh_lib.claims.results_dir) at ``folder`` while the block runs."""
    from mfh_lib.claims import RESULTS_ENV_VAR

    before = os.environ.get(RESULTS_ENV_VAR)
    os.environ[RESULTS_ENV_VAR] = str(folder)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(RESULTS_ENV_VAR, None)
        else:
            os.environ[RESULTS_ENV_VAR] = before


def install(staged: dict[str, Path], tier: Tier, chapter: str) -> None:
    """Copy a finished run's files into ``tier``, each atomically (results and provenance only
    where the run made them: the ledger writes no results)."""
    for kind, target in tier.files(chapter).items():
        source = staged.get(kind)
        if source is not None and source.exists():
            write_atomically(target, source.read_text())


# --- running -------------------------------------------------------------------------------------

def execute(name: str, profile: str, timeout: int | None, tier: Tier, stage: Path, progress: bool = False) -> dict:
    """Execute ``chapters/NAME.py`` at ``profile`` into ``stage`` (a private folder), reading and
    writing results in a copy of ``tier``'s; returns the staged files (see :meth:`Tier.files`) and
    the wall time. Nothing in any tier changes here."""
    source = SOURCES / f"{name}.py"
    if not source.exists():
        raise SystemExit(f"no chapter source {source}; available: {', '.join(chapter_names())}")
    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    staged = Tier(tier.name, stage, stage / "_results")
    staged.provenance.mkdir(parents=True, exist_ok=True)
    for path in tier.results.glob("*.json"):  # the ledger summarises the tier's results
        if path.stem != name:
            shutil.copyfile(path, staged.results / path.name)
    tier.notebooks.mkdir(parents=True, exist_ok=True)
    unexecuted, executed = stage / f"{name}.source.ipynb", stage / f"{name}.out.ipynb"
    nbformat.write(notebook, unexecuted)
    # Inject the profile only where the chapter declares it (the ledger has none).
    declared = pm.inspect_notebook(str(unexecuted))
    parameters = {"profile": profile} if "profile" in declared else {}
    run_profile = profile if parameters else ledger_profile(staged.results)
    started, since = _now(), time.time()
    start = time.perf_counter()
    with results_env(staged.results):
        pm.execute_notebook(
            str(unexecuted), str(executed), parameters=parameters, kernel_name="python3",
            cwd=str(tier.notebooks), progress_bar=progress, execution_timeout=timeout,
        )
        seconds = time.perf_counter() - start
        record = provenance_record(name, run_profile, parameters, started, _now(), seconds, since)
    result = hide_injected_parameters(strip_volatile(nbformat.read(executed, as_version=4)))
    text = nbformat.writes(result)
    files = staged.files(name)
    files["notebook"].write_text(text if text.endswith("\n") else text + "\n")  # as nbformat.write
    files["provenance"].write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    if not files["results"].exists() or files["results"].stat().st_mtime < since:
        files.pop("results")  # the chapter wrote none this run (the ledger)
    return {"files": files, "seconds": seconds}


def run_chapter(name: str, profile: str, timeout: int | None, tiers: list[Tier] | None = None,
                progress: bool = False) -> float:
    """Run one chapter and land it in ``tiers`` (default: :func:`destinations`); returns seconds.

    The first tier executes it; the others get a copy of the same files, except the ledger, which
    is executed again against each tier's own results."""
    tiers = tiers if tiers is not None else destinations(name, profile)
    seconds = 0.0
    with tempfile.TemporaryDirectory(prefix=f"mfh-run-{name}-") as tmp:
        first = None
        for index, tier in enumerate(tiers):
            if first is None or name == LEDGER:
                first = execute(name, profile, timeout, tier, Path(tmp) / str(index), progress)
                seconds += first["seconds"]
            install(first["files"], tier, name)
            print(f"  -> {tier.name} tier: {_shown(tier.files(name)['notebook'])}", flush=True)
    return seconds


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def migrate_tiers(record: Tier | None = None, smoke: Tier | None = None) -> list[str]:
    """Copy every chapter whose record-tier page is a quick run (the single-tier goldens) into the
    smoke tier, where nbval looks; returns the chapters copied. Never changes the record tier."""
    record, smoke = record or RECORD, smoke or SMOKE
    moved = []
    for notebook in sorted(record.notebooks.glob("*.ipynb")):
        chapter = notebook.stem
        if has_record_run(chapter, record) or (chapter == LEDGER and not _all_quick(record)):
            continue  # a record page is no smoke golden; nor is a ledger of record results
        files = {kind: path for kind, path in record.files(chapter).items() if path.exists()}
        install(files, smoke, chapter)
        moved.append(chapter)
    return moved


def _all_quick(tier: Tier) -> bool:
    return all(not has_record_run(p.stem, tier) for p in tier.notebooks.glob("*.ipynb"))


def write_comparison(out: Path, record: Tier | None = None) -> Path:
    """``OUT/comparison.md``: the re-run's verdicts beside the record tier's, per claim."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import compare_runs

    rerun = rerun_tier(out)
    page = compare_runs.comparison_markdown(
        compare_runs.load_results((record or RECORD).results), compare_runs.load_results(rerun.results),
        left_label="record", right_label="re-run")
    target = rerun.notebooks / "comparison.md"
    write_atomically(target, page)
    return target


@contextlib.contextmanager
def exclusive_lock(path: Path = LOCK):
    """Refuse to start a second long run while one holds ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise SystemExit(f"another run holds {path} (a `make record` in progress?); not starting")
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("chapters", nargs="*", help="chapter names (default: all)")
    parser.add_argument("--profile", default=os.environ.get("PROFILE", "quick"), choices=PROFILES)
    # a record or full cell may run for hours on a busy CPU, and an interrupted one resumes from the
    # cache anyway: no timeout there by default; quick (CI-sized) cells get an hour
    parser.add_argument("--timeout", type=int, default=None,
                        help="per-cell timeout in seconds (default: 3600 for quick, none for record/full)")
    parser.add_argument("--out", type=Path, help="re-run into this folder (any profile) and compare with the record")
    parser.add_argument("--skip-done", action="store_true",
                        help="skip chapters whose page in the target tier already comes from this profile and source")
    parser.add_argument("--lock", action="store_true", help=f"hold {LOCK.relative_to(ROOT)} (one long run at a time)")
    parser.add_argument("--progress", action="store_true", help="papermill's cell progress bar (on stderr)")
    parser.add_argument("--migrate-tiers", action="store_true",
                        help="copy the single-tier quick goldens of book/chapters into the smoke tier, then exit")
    args = parser.parse_args(argv)
    if args.timeout is None:
        args.timeout = 3600 if args.profile == "quick" else None
    if args.migrate_tiers:
        moved = migrate_tiers()
        print(f"smoke tier ({SMOKE.notebooks.relative_to(ROOT)}): copied {len(moved)} chapters: {', '.join(moved)}")
        return 0
    os.environ.setdefault("MFH_PROGRESS", "0")  # progress bars would land in the notebooks' outputs
    mfh_lib.use_reproducible_cpu_env()  # the kernels inherit it: goldens that reproduce on any x86-64 CPU
    names = args.chapters or chapter_names()
    # The ledger summarises every other chapter's results, so it always runs last.
    names = sorted(names, key=lambda n: n == LEDGER)
    with exclusive_lock() if args.lock else contextlib.nullcontext():
        failed = run_all(names, args)
    if args.out is not None:
        print(f"comparison with the record: {write_comparison(args.out)}", flush=True)
    if failed:
        print(f"failed chapters: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def run_all(names: list[str], args) -> list[str]:
    failed = []
    for name in names:
        tiers = destinations(name, args.profile, args.out)
        if args.skip_done and name != LEDGER and page_is_current(tiers[0], name, args.profile):
            print(f"[{args.profile}] {name}: {tiers[0].name} tier already holds this profile's run of "
                  "the current source; skipped", flush=True)
            continue
        print(f"[{args.profile}] {name} ... ({_now()})", flush=True)
        try:
            seconds = run_chapter(name, args.profile, args.timeout, tiers, args.progress)
        except pm.PapermillExecutionError as err:
            print(f"  FAILED: {err.ename}: {err.evalue}", flush=True)
            failed.append(name)
            continue
        print(f"  done in {seconds:.0f} s ({_now()})", flush=True)
        if name != LEDGER and tiers == [RECORD]:  # not a --out re-run
            # keep the published ledger in step with each record chapter (seconds), so every
            # finished chapter leaves a consistent set of files to commit
            try:
                run_chapter(LEDGER, args.profile, args.timeout, [RECORD])
            except pm.PapermillExecutionError as err:
                print(f"  FAILED to refresh the record ledger: {err.ename}: {err.evalue}", flush=True)
                failed.append(LEDGER)
            print(f"  ready to commit: git add {' '.join(_commit_paths(name))}", flush=True)
    return failed


def _commit_paths(name: str) -> list[str]:
    paths = [*RECORD.files(name).values(), *RECORD.files(LEDGER).values()]
    return [str(p.relative_to(ROOT)) for p in paths if p.exists()]


if __name__ == "__main__":
    sys.exit(main())
