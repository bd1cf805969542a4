"""The claims ledger: the papers' numbers as data, and what each chapter measured for them.

* ``mfh_lib/paper_numbers/<chapter>.json`` holds the papers' numbers and claims, typed once from
  the papers: ``{claim_id: {"source", "setting", "statement", "paper_value", "paper_std", "unit"}}``.
  ``paper_value`` may be null for a qualitative claim ("gain grows with gamma").
* A chapter measures and calls ``ledger.record(claim_id, values, verdict, reason)``; ``ledger.save()``
  writes ``book/_results/<chapter>.json`` atomically. Nothing measured is ever typed in.
* The claims-ledger chapter reads every results file and shows paper vs ours with a verdict.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd

from . import stats
from .cache import atomic_write_text
from .config import REPO_ROOT

PAPER_DIR = Path(__file__).resolve().parent / "paper_numbers"
RESULTS_ENV_VAR = "MFH_RESULTS_DIR"


def results_dir() -> Path:
    return Path(os.environ.get(RESULTS_ENV_VAR) or REPO_ROOT / "book" / "_results")


def paper_claims(chapter: str) -> dict:
    path = PAPER_DIR / f"{chapter}.json"
    if not path.exists():
        raise FileNotFoundError(f"no paper numbers for chapter {chapter!r}: expected {path}")
    return json.loads(path.read_text())


class Ledger:
    """Collects one chapter's measured claims. ``data_source`` says which data made the numbers."""

    def __init__(self, chapter: str, profile: str, data_source: str):
        self.chapter = chapter
        self.profile = profile
        self.data_source = data_source
        self.paper = paper_claims(chapter)
        self.rows: dict[str, dict] = {}

    def record(self, claim_id: str, values, verdict: str, reason: str = "", data_source: str | None = None) -> dict:
        """Record per-seed ``values`` (or a single value) for ``claim_id`` with a verdict and why."""
        if claim_id not in self.paper:
            raise KeyError(f"{claim_id!r} is not in paper_numbers/{self.chapter}.json; add the paper's number there first")
        if verdict not in stats.VERDICTS:
            raise ValueError(f"verdict must be one of {stats.VERDICTS}, got {verdict!r}")
        s = stats.summarize(values)
        row = {
            **self.paper[claim_id],
            "chapter": self.chapter,
            "claim_id": claim_id,
            "ours_mean": round(s.mean, 4),
            "ours_std": round(s.std, 4),
            "ours_ci": [round(s.ci_low, 4), round(s.ci_high, 4)],
            "n_seeds": s.n,
            "profile": self.profile,
            "data_source": data_source or self.data_source,
            "verdict": verdict,
            "reason": reason,
        }
        self.rows[claim_id] = row
        return row

    def save(self) -> None:
        """Write ``<results_dir>/<chapter>.json`` atomically. Returns nothing, so a chapter ending
        with ``ledger.save()`` shows no machine-specific path in its output."""
        path = results_dir() / f"{self.chapter}.json"
        payload = {"chapter": self.chapter, "profile": self.profile, "claims": list(self.rows.values())}
        atomic_write_text(path, json.dumps(payload, indent=1, sort_keys=True) + "\n")

    def table(self) -> pd.DataFrame:
        return ledger_frame(list(self.rows.values()))


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _fmt(value, decimals=2):
    return "—" if _missing(value) else f"{value:.{decimals}f}"


def ledger_frame(rows: list[dict]) -> pd.DataFrame:
    """Paper vs ours, one row per claim, formatted for display."""
    records = []
    for r in rows:
        paper = _fmt(r.get("paper_value"))
        if not _missing(r.get("paper_std")):
            paper += f" ± {r['paper_std']:.2f}"
        records.append(
            {
                "claim": f"{r['source']}: {r['setting']}",
                "paper": paper,
                "ours (mean ± std)": f"{_fmt(r['ours_mean'])} ± {_fmt(r['ours_std'])}",
                "95% CI": f"[{_fmt(r['ours_ci'][0])}, {_fmt(r['ours_ci'][1])}]",
                "seeds": r["n_seeds"],
                "profile": r["profile"],
                "data": r["data_source"],
                "verdict": r["verdict"],
                "why": r["reason"],
            }
        )
    return pd.DataFrame.from_records(records)


def load_all_results(directory: Path | None = None) -> list[dict]:
    rows = []
    for path in sorted((directory or results_dir()).glob("*.json")):
        rows.extend(json.loads(path.read_text())["claims"])
    return rows
