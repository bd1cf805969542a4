#!/usr/bin/env python
"""Mutation testing of the science modules with mutmut (issue #20); run by ``make mutation``.

Copies the library, the tests and the mutmut settings (``setup.cfg``, section ``[mutmut]``) into a
work folder (default ``.cache/mutation``, git-ignored) so mutmut's ``mutants/`` tree never lands in
the checkout, runs mutmut there one module at a time and prints, per module, how many mutants the
unit tests kill. Per mutant mutmut runs only the unit tests that call the mutated function.

    python scripts/mutation_report.py                     # every module of setup.cfg
    python scripts/mutation_report.py losses msd          # some of them
    python scripts/mutation_report.py --survivors out.md  # also write each survivor's diff

The score is (killed + timeout) / mutants: a mutant whose tests run past mutmut's time limit made
the code hang, which a test run would notice; 'no tests' and 'survived' count against it.
Threads are pinned to 1 (forked test processes after a multi-threaded torch import can hang).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = {
    "losses": "mfh_lib.losses",
    "stats": "mfh_lib.stats",
    "evidence": "mfh_lib.evidence",
    "ranking": "mfh_lib.ranking",
    "msd": "mfh_lib.msd",
    "theory": "mfh_lib.theory",
    "gaussian_kd": "mfh_lib.gaussian_kd",
    "gaussian_mvd": "mfh_lib.data.gaussian_mvd",
    "training": "mfh_lib.training",
}
COPY = ["mfh_lib", "tests", "conftest.py", "setup.cfg", "pyproject.toml", "chapters/configs"]
KILLED = {"killed", "timeout"}


def mutmut_bin() -> str:
    local = Path(sys.executable).with_name("mutmut")
    return str(local) if local.exists() else "mutmut"


def prepare(workdir: Path, fresh: bool, keep_sources: bool = False) -> None:
    """Copy what the tests need; drop mutmut's copies of the tests so new tests are seen.

    ``keep_sources`` refreshes the tests and setup.cfg (the test selection) only: the mutants (and earlier results) stay those of the
    sources copied before, even if the checkout's sources have changed since."""
    if fresh and workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        if keep_sources and name in ("mfh_lib", "pyproject.toml"):
            continue  # (setup.cfg is refreshed: it lists the tests mutmut runs, new ones included)
        src, dst = ROOT / name, workdir / name
        if dst.is_dir():
            shutil.rmtree(dst)
        elif dst.exists():
            dst.unlink()
        dst.parent.mkdir(parents=True, exist_ok=True)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(src, dst, ignore=ignore) if src.is_dir() else shutil.copy2(src, dst)
    for name in ("tests", "conftest.py", "chapters"):  # mutmut copies these once; refresh them
        stale = workdir / "mutants" / name
        if stale.is_dir():
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()


def deselect(setup_cfg: Path, node_ids: list[str]) -> None:
    """Append ``--deselect NODEID`` to the copied setup.cfg's pytest_add_cli_args."""
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(setup_cfg)
    extra = "".join(f"\n--deselect\n{node}" for node in node_ids)
    cfg["mutmut"]["pytest_add_cli_args"] = cfg["mutmut"].get("pytest_add_cli_args", "") + extra
    with open(setup_cfg, "w") as f:
        cfg.write(f)


def results(workdir: Path, env: dict) -> dict[str, str]:
    out = subprocess.run([mutmut_bin(), "results", "--all", "true"], cwd=workdir, env=env,
                         capture_output=True, text=True).stdout
    status = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+): (.+)$", line)
        if m:
            status[m.group(1)] = m.group(2).strip()
    return status


def module_of(mutant: str) -> str | None:
    for name, dotted in sorted(MODULES.items(), key=lambda kv: -len(kv[1])):
        if mutant.startswith(dotted + ".x"):
            return name
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("modules", nargs="*", help=f"modules to mutate, of {', '.join(MODULES)} (default: all)")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".cache" / "mutation")
    parser.add_argument("--max-children", type=int, default=1, help="parallel mutants (default 1: shared CPUs)")
    parser.add_argument("--fresh", action="store_true", help="forget earlier results (recompute everything)")
    parser.add_argument("--survivors", type=Path, help="write every surviving mutant's diff to this file")
    parser.add_argument("--json", type=Path, help="write the per-module counts and times as JSON")
    parser.add_argument("--sample", type=int, metavar="N",
                        help="test a random sample of N mutants per module (a score estimate when time is short)")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample")
    parser.add_argument("--rerun-survivors", action="store_true",
                        help="re-run only the mutants (of the sample) that survived an earlier run, with the "
                             "current tests against the sources of that run")
    parser.add_argument("--restat", action="store_true",
                        help="with --rerun-survivors: map tests to functions afresh (after editing tests)")
    parser.add_argument("--deselect", action="append", default=[], metavar="NODEID",
                        help="leave out a failing test (pytest --deselect), e.g. one that other work broke")
    args = parser.parse_args()
    unknown = set(args.modules) - set(MODULES)
    if unknown:
        parser.error(f"unknown modules {sorted(unknown)}; choose from {list(MODULES)}")
    modules = args.modules or list(MODULES)

    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MFH_PROGRESS": "0",
           "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    prepare(args.workdir, args.fresh, keep_sources=args.rerun_survivors)
    if args.deselect:
        deselect(args.workdir / "setup.cfg", args.deselect)
    times, sampled = {}, {}
    for name in modules:
        if not (ROOT / (MODULES[name].replace(".", "/") + ".py")).exists():
            print(f"skip {name}: no such module")
            continue
        start = time.monotonic()
        targets = [f"{MODULES[name]}.*"]
        if args.sample:
            if not (args.workdir / "mutants").exists():  # mutmut creates the mutants on its first run
                subprocess.run([mutmut_bin(), "run", "--max-children", str(args.max_children), "no.such.mutant"],
                               cwd=args.workdir, env=env, capture_output=True, text=True)
            names = sorted(m for m in results(args.workdir, env) if module_of(m) == name)
            targets = sorted(random.Random(args.seed).sample(names, min(args.sample, len(names))))
            sampled[name] = set(targets)
        if args.rerun_survivors:  # after adding tests: only what survived last time
            current = results(args.workdir, env)
            pool = sampled.get(name) or {m for m in current if module_of(m) == name}
            targets = sorted(m for m in pool if current.get(m) not in KILLED | {"not checked"})
            if not targets:
                print(f"   {name}: no survivors to re-run", flush=True)
                continue
            if args.restat and (args.workdir / "mutants" / "mutmut-stats.json").exists():
                (args.workdir / "mutants" / "mutmut-stats.json").unlink()  # re-map tests to functions
                args.restat = False
        count = len(targets) if (args.sample or args.rerun_survivors) else "all"
        print(f"== mutmut run {MODULES[name]}.* ({count} mutants)", flush=True)
        proc = subprocess.run([mutmut_bin(), "run", "--max-children", str(args.max_children), *targets],
                              cwd=args.workdir, env=env, capture_output=True, text=True)
        times[name] = time.monotonic() - start
        done = Counter(v for k, v in results(args.workdir, env).items()
                       if module_of(k) == name and (not args.sample or k in sampled[name]))
        print(f"   {name}: {dict(done)} in {times[name]:.0f} s", flush=True)
        if proc.returncode != 0:
            print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
            print(f"mutmut failed on {name} (exit {proc.returncode})")
            return proc.returncode

    status = results(args.workdir, env)
    rows, survivors = {}, []
    for mutant, state in status.items():
        name = module_of(mutant)
        if name in modules and (name not in sampled or mutant in sampled[name]):
            rows.setdefault(name, Counter())[state] += 1
            if state not in KILLED and state != "not checked":
                survivors.append(mutant)
    print("\n| module | mutants | killed | timeout | survived | no tests | score | time (s) |")
    print("|---|---|---|---|---|---|---|---|")
    total = Counter()
    for name in modules:
        c = rows.get(name, Counter())
        n = sum(c.values())
        total.update(c)
        score = (c["killed"] + c["timeout"]) / n if n else float("nan")
        t = f"{times[name]:.0f}" if name in times else "-"
        print(f"| {name} | {n} | {c['killed']} | {c['timeout']} | {c['survived']} | {c['no tests']} | {score:.1%} | {t} |")
    n = sum(total.values())
    if n:
        score = (total["killed"] + total["timeout"]) / n
        print(f"| **all** | {n} | {total['killed']} | {total['timeout']} | {total['survived']} | {total['no tests']} "
              f"| {score:.1%} | {sum(times.values()):.0f} |")
    other = {k: v for k, v in total.items() if k not in ("killed", "timeout", "survived", "no tests")}
    if other:
        print(f"other states: {dict(other)}")
    if args.json:
        args.json.write_text(json.dumps({"counts": {k: dict(v) for k, v in rows.items()}, "times_s": times,
                                         "survivors": sorted(survivors)}, indent=1))
    if args.survivors:
        with open(args.survivors, "w") as f:
            for mutant in sorted(survivors):
                diff = subprocess.run([mutmut_bin(), "show", mutant], cwd=args.workdir, env=env,
                                      capture_output=True, text=True).stdout
                f.write(f"## {mutant} ({status[mutant]})\n```diff\n{diff.strip()}\n```\n\n")
        print(f"{len(survivors)} survivors written to {args.survivors}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
