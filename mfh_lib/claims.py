"""The claims ledger: claims declared before the run, and what each chapter measured for them.

* ``mfh_lib/paper_numbers/<chapter>.json`` declares, per id, what is tested before anything runs::

      {"claim_id": {"category": "paper" | "ours" | "check", "source": "MFH Tab. 1", "setting": "...",
                    "statement": "...", "paper_value": 2.1, "paper_std": null, "unit": "pp",
                    "test": {...}}}        # the evidence engine's declaration (see mfh_lib.evidence)

  ``category`` says whose claim it is: the paper's (a source location is required), ours (a question
  the papers do not ask, labelled as ours), or a check (an identity or by-construction fact, shown
  apart and never counted as a reproduced claim; checks have no "test").
* A chapter measures an estimate and calls ``ledger.test(claim_id, estimate, preconditions=...)``
  (or ``ledger.check(check_id, passed, detail)``); the engine decides the verdict from the
  declaration. ``ledger.save()`` writes ``book/_results/<chapter>.json`` atomically. Nothing measured
  is ever typed in.
* The claims-ledger chapter reads every results file and shows paper vs ours with the verdict.
"""
from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from . import evidence, formatting, stats
from .cache import atomic_write_text
from .config import REPO_ROOT

PAPER_DIR = Path(__file__).resolve().parent / "paper_numbers"
RESULTS_ENV_VAR = "MFH_RESULTS_DIR"
# A paper claim must say where in the paper it is made.
SOURCE_LOCATION = re.compile(r"\b(Sec\.|Tab\.|Fig\.|App\.|Theorem|Lemma|Corollary|Eq\.|eq\.|Alg\.|Algorithm|text|Table|Figure)")
REQUIRED_FIELDS = ("category", "source", "setting", "statement", "paper_value", "paper_std", "unit")


def results_dir() -> Path:
    return Path(os.environ.get(RESULTS_ENV_VAR) or REPO_ROOT / "book" / "_results")


def validate_declaration(chapter: str, claim_id: str, entry: dict) -> None:
    """Raise evidence.DeclarationError naming the file, the id and the field at fault."""
    where = f"paper_numbers/{chapter}.json: {claim_id!r}"
    missing = [k for k in REQUIRED_FIELDS if k not in entry]
    if missing:
        raise evidence.DeclarationError(f"{where} lacks {missing}")
    category = entry["category"]
    if category not in evidence.CATEGORIES:
        raise evidence.DeclarationError(f"{where}: category must be one of {evidence.CATEGORIES}, got {category!r}")
    if category == evidence.PAPER and not SOURCE_LOCATION.search(entry["source"]):
        raise evidence.DeclarationError(f"{where}: a paper claim needs its location (Sec./Tab./Fig./App./Theorem ...) "
                                        f"in 'source', got {entry['source']!r}")
    if category == evidence.CHECK:
        if "test" in entry:
            raise evidence.DeclarationError(f"{where}: a check passes or fails; it has no 'test'")
        return
    if "test" not in entry:
        raise evidence.DeclarationError(f"{where}: a claim needs its 'test' declared before the run")
    test = evidence.ClaimTest.from_declaration(claim_id, entry["test"])
    if test.kind == "value" and entry["paper_value"] is None:
        raise evidence.DeclarationError(f"{where}: a 'value' test needs the paper's value")


def paper_claims(chapter: str) -> dict:
    """The validated declarations of one chapter."""
    path = PAPER_DIR / f"{chapter}.json"
    if not path.exists():
        raise FileNotFoundError(f"no paper numbers for chapter {chapter!r}: expected {path}")
    declared = json.loads(path.read_text())
    for claim_id, entry in declared.items():
        validate_declaration(chapter, claim_id, entry)
    return declared


class Ledger:
    """Collects one chapter's judged claims and checks.

    ``data_source`` says which data made the numbers ("real ..." only for real data); ``data_hash``
    is the content hash of those data (``MultimodalDataset.content_hash``), ``device`` where it ran.
    """

    def __init__(self, chapter: str, profile: str, data_source: str, *, device: str = "cpu",
                 data_hash: str | None = None):
        self.chapter = chapter
        self.profile = profile
        self.data_source = data_source
        self.provenance = {"profile": profile, "device": str(device), "data_source": data_source,
                           "data_hash": data_hash}
        self.paper = paper_claims(chapter)
        self.rows: dict[str, dict] = {}

    def _declared(self, claim_id: str, category: str | None = None) -> dict:
        if claim_id not in self.paper:
            raise KeyError(f"{claim_id!r} is not declared in paper_numbers/{self.chapter}.json; "
                           "declare it (and its test) there before the run")
        entry = self.paper[claim_id]
        if category == evidence.CHECK and entry["category"] != evidence.CHECK:
            raise ValueError(f"{claim_id!r} is declared as a {entry['category']} claim, not a check: use ledger.test")
        if category != evidence.CHECK and entry["category"] == evidence.CHECK:
            raise ValueError(f"{claim_id!r} is declared as a check: use ledger.check")
        return entry

    def _base(self, claim_id: str, entry: dict, data_source: str | None) -> dict:
        return {**{k: entry[k] for k in REQUIRED_FIELDS}, "chapter": self.chapter, "claim_id": claim_id,
                "profile": self.profile, "data_source": data_source or self.data_source}

    def test(self, claim_id: str, estimate, *, preconditions: dict | None = None, data_source: str | None = None,
             note: str = "") -> evidence.Judgement:
        """Judge ``claim_id`` by its declared test. ``estimate`` is a stats.Estimate or per-unit
        values (then a t interval over the declared unit); ``preconditions`` maps the declared
        precondition ids to measured values."""
        entry = self._declared(claim_id)
        test = evidence.ClaimTest.from_declaration(claim_id, entry["test"])
        if estimate is not None and not isinstance(estimate, stats.Estimate):
            estimate = stats.mean_estimate(estimate, unit=test.unit, what=test.statistic or claim_id)
        judgement = evidence.judge(test, estimate, paper_value=entry["paper_value"], preconditions=preconditions)
        self.rows[claim_id] = {**self._base(claim_id, entry, data_source), "test": entry["test"],
                               "test_text": test.describe(entry["paper_value"]), **judgement.to_dict(), "note": note}
        return judgement

    def check(self, check_id: str, passed: bool, detail: str, values=None, data_source: str | None = None) -> str:
        """Record a check (identity, by-construction fact, sanity bound): pass or fail, with what was measured."""
        entry = self._declared(check_id, evidence.CHECK)
        result = evidence.judge_check(bool(passed))
        values = [] if values is None else [stats.json_number(v) for v in np.asarray(values, dtype=float).reshape(-1).tolist()]
        self.rows[check_id] = {**self._base(check_id, entry, data_source), "verdict": result, "reason": detail,
                               "values": values}
        return result

    def save(self) -> None:
        """Write ``<results_dir>/<chapter>.json`` atomically. Returns nothing, so a chapter ending
        with ``ledger.save()`` shows no machine-specific path in its output."""
        missing = [k for k, v in self.paper.items() if k not in self.rows]
        if missing:
            raise ValueError(f"{self.chapter}: declared but never judged: {missing}; judge them "
                             "(ledger.test / ledger.check) or remove the declaration")
        path = results_dir() / f"{self.chapter}.json"
        payload = {"chapter": self.chapter, "profile": self.profile, "provenance": self.provenance,
                   "claims": list(self.rows.values())}
        atomic_write_text(path, json.dumps(payload, indent=1, sort_keys=True, allow_nan=False) + "\n")

    def table(self) -> pd.DataFrame:
        return ledger_frame(list(self.rows.values()))


def _fmt(value, decimals=2):
    return formatting.fmt(value, decimals)


def paper_text(row: dict) -> str:
    paper = _fmt(row.get("paper_value"))
    if not formatting.is_missing(row.get("paper_std")):
        paper += f" ± {row['paper_std']:.2f}"
    return paper


def ours_text(row: dict) -> str:
    """'point [low, high]' from the estimate, or the check's values."""
    est = row.get("estimate")
    if est:
        if est["n"] <= 1:
            return _fmt(est["point"])
        return f"{_fmt(est['point'])} [{_fmt(est['ci_low'])}, {_fmt(est['ci_high'])}]"
    values = [v for v in row.get("values", []) if v is not None]
    if not values:
        return "—"
    return _fmt(values[0]) if len(values) == 1 else f"{_fmt(min(values))} … {_fmt(max(values))}"


def ledger_frame(rows: list[dict]) -> pd.DataFrame:
    """Paper vs ours, one row per claim or check, for a chapter's own summary table."""
    records = []
    for r in rows:
        est = r.get("estimate") or {}
        records.append({
            "claim": r["claim_id"],
            "whose": r["category"],
            "paper": paper_text(r),
            "ours [95% CI]": ours_text(r),
            "n": f"{est['n']} {est['unit']}" if est else "—",
            "verdict": r["verdict"],
            "why": r["reason"],
        })
    return pd.DataFrame.from_records(records)


def load_all_results(directory: Path | None = None) -> list[dict]:
    rows = []
    for path in sorted((directory or results_dir()).glob("*.json")):
        rows.extend(json.loads(path.read_text())["claims"])
    return rows


def load_provenance(directory: Path | None = None) -> dict[str, dict]:
    """{chapter: provenance dict} from the results files (empty dict where a file has none)."""
    out = {}
    for path in sorted((directory or results_dir()).glob("*.json")):
        payload = json.loads(path.read_text())
        out[payload["chapter"]] = payload.get("provenance", {"profile": payload.get("profile")})
    return out


# --- the ledger page --------------------------------------------------------------------------

PAPERS = {"MFH": "Xue et al., The Modality Focusing Hypothesis (ICLR 2023)",
          "MSD": "Jin et al., Modality-specific Distillation (MSD)",
          "CCH": "Xie, Xu, Sanguinetti, the Cross-modal Complementarity Hypothesis (CCH)"}
_CHAPTER_PAPER = {"07": "MSD", "08": "CCH"}

def paper_of_chapter(chapter: str) -> str:
    return _CHAPTER_PAPER.get(chapter[:2], "MFH")


def _chapter_title(chapter: str) -> str:
    source = REPO_ROOT / "chapters" / f"{chapter}.py"
    if source.exists():
        for line in source.read_text().splitlines():
            if line.startswith("# # "):
                return line[4:].strip()
    return chapter


def _badge(verdict: str) -> str:
    if verdict in (evidence.PASS, evidence.FAIL):
        return formatting.check_badge(verdict == evidence.PASS, verdict)
    return formatting.verdict_badge(verdict)


def _details(row: dict) -> str:
    est = row.get("estimate") or {}
    items = [("test (declared before the run)", row.get("test_text", "")), ("why", row.get("reason", ""))]
    if est:
        items.append(("interval", f"{est['description']} ({est['n']} {est['unit']})"))
    for pre in row.get("preconditions") or []:
        items.append(("precondition", f"{pre['statement']}: measured {_fmt(pre['value'])} — "
                                      f"{'holds' if pre['passed'] else 'fails'}"))
    if row.get("mde") is not None:
        items.append(("smallest effect this run could detect", _fmt(row["mde"], 3)))
    if row.get("units_needed") is not None:
        items.append(("to resolve", f"about {row['units_needed']} {est.get('unit', 'units')} for an effect of "
                                    f"{_fmt(row.get('units_needed_for'), 3)} (80% power)"))
    items += [("data", row["data_source"]), ("profile", row["profile"]),
              ("chapter / id", f"{row['chapter']} / {row['claim_id']}")]
    if row.get("note"):
        items.append(("note", row["note"]))
    body = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(str(v))}</li>" for k, v in items if v)
    return formatting.details("details", f"<ul>{body}</ul>")


def _grouped(rows: list[dict]):
    by_group: dict[tuple, list[dict]] = {}
    for r in sorted(rows, key=lambda r: (list(PAPERS).index(paper_of_chapter(r["chapter"])), r["chapter"])):
        by_group.setdefault((paper_of_chapter(r["chapter"]), r["chapter"]), []).append(r)
    return by_group.items()


def _grouped_table(rows: list[dict], headers: list[str], render_row) -> str:
    """One table, a header row per (paper, chapter) group, ``render_row(row)`` giving each <tr>."""
    if not rows:
        return "<p>none</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    out = [f'<div class="mfh-table-wrap"><table class="mfh-table mfh-ledger"><thead><tr>{head}</tr></thead><tbody>']
    for (paper, chapter), group in _grouped(rows):
        out.append(f'<tr class="group"><th colspan="{len(headers)}">{html.escape(paper)} — '
                   f"{html.escape(_chapter_title(chapter))}</th></tr>")
        out.extend(render_row(r) for r in group)
    out.append("</tbody></table></div>")
    return "".join(out)


def _claim_row(r: dict) -> str:
    paper = paper_text(r)
    unit = f" {html.escape(r['unit'])}" if r.get("unit") and paper != "—" else ""
    # the setting under the statement: claims that share a statement (one per split, ratio, dataset) stay apart
    return (f'<tr class="{formatting.verdict_class(r["verdict"])}"><td>{html.escape(r["statement"])}'
            f'<br><small class="mfh-setting">{html.escape(r["setting"])}</small>{_details(r)}</td>'
            f'<td>{html.escape(r["source"])}</td><td class="num">{html.escape(paper)}{unit}</td>'
            f'<td class="num">{html.escape(ours_text(r))}</td><td>{_badge(r["verdict"])}</td></tr>')


def _check_row(r: dict) -> str:
    return (f"<tr><td>{html.escape(r['statement'])}<br><small class=\"mfh-setting\">{html.escape(r['setting'])}</small></td>"
            f"<td>{html.escape(r['source'])}</td>"
            f"<td>{html.escape(r['reason'])}</td><td>{_badge(r['verdict'])}</td></tr>")


def ledger_html(rows: list[dict]) -> str:
    """Per paper, then per chapter (the paper's section): a headline row per claim, details folded."""
    return _grouped_table(rows, ["claim", "source", "paper", "ours [95% CI]", "verdict"], _claim_row)


def checks_html(rows: list[dict]) -> str:
    """The checks, grouped like the claims: what was measured, pass or fail."""
    return _grouped_table(rows, ["check", "source", "what was measured", "result"], _check_row)


def counts_html(counts: pd.DataFrame) -> str:
    """The verdict counts (rows: paper x whose claim) as a small padded table."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in counts.columns)
    body = "".join(
        f"<tr><td>{html.escape(paper)}</td><td>{html.escape(category)}</td>"
        + "".join(f'<td class="num">{int(v)}</td>' for v in row) + "</tr>"
        for (paper, category), row in zip(counts.index, counts.values))
    return (f'<div class="mfh-table-wrap"><table class="mfh-table mfh-ledger"><thead><tr><th>paper</th><th>whose</th>'
            f"{head}</tr></thead><tbody>{body}</tbody></table></div>")
