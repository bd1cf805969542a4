"""Size the ``record`` profile of every chapter from its committed quick results, used as a pilot.

    python scripts/size_record.py [--results tests/smoke/_results] [--budget-min 60] [--write-configs]

For every testable claim (category ``paper`` or ``ours``; declared kind ``directional``,
``equivalence`` or ``value``) of the smoke tier's quick results, ``tests/smoke/_results/<chapter>.json``
(the record tier's, ``book/_results``, before ``run_chapters.py --migrate-tiers`` made the smoke
tier; a record run is no pilot), this computes, with
:func:`mfh_lib.stats.units_needed` and the pilot's per-unit standard deviation (``se * sqrt(n)``),
the replicates that would decide the claim:

* directional: detect, at 80% power and a two-sided 95% interval, the paper's effect (``paper_value``
  minus the null, on the claimed side) when the claim checks the size (``size: true``); else the
  declared ``practical`` size; else the pilot's own point estimate (distance from the null). The
  row says which target was used (the same rule the evidence engine uses for its "to resolve").
* equivalence / value: the n at which the 95% interval's half-width falls below
  ``margin - |point - centre|`` (centre: the null, or the paper's value for a value claim), i.e.
  the interval fits inside the margin if the truth is the pilot's point; where the point already
  lies outside the margin, below ``|point - centre| - margin`` (then the claim would be contradicted).

A claim whose precondition failed needs a design change, not more seeds (the precondition says
why); so does a claim whose unit of replication is not seeds (teachers, settings: a permutation
test over a fixed handful of units). Declared "not testable" claims are listed as such.

Per chapter: the seeds that decide its headline claims (the paper's testable claims), the CPU time
of the record profile *estimated from the quick run* (quick wall time x record seeds / quick seeds,
the largest ratio over the chapter's seed keys), whether it fits the budget (60 minutes per chapter
on 2 cores), and if not, the seeds that fit and what would stay inconclusive.

Writes ``bench/record_sizing.md`` and ``bench/record_sizing.json`` (never into ``book/_results``:
the claims ledger reads every JSON there). ``--write-configs`` refreshes the seed counts of the ``record``
profile in ``chapters/configs/<chapter>.json`` (its other, record-specific settings kept) or, where
there is none, adds one: the quick profile's text with only the seed-count key(s) changed, inserted
after the existing profiles, the file's own formatting kept.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mfh_lib import stats  # noqa: E402

TESTABLE_KINDS = ("directional", "equivalence", "value")
SEED_UNITS = ("seeds", "seeds and data draws")
BUDGET_MIN = 60.0
CORES = 2

# status of a claim in the sizing
DECIDED = "decided"                      # seeds_needed <= the seeds considered
INCONCLUSIVE = "inconclusive"            # sized, but needs more seeds than considered
DESIGN = "design change"                 # precondition failed, or the unit is not seeds
NOT_TESTABLE = "not testable (declared)"
UNSIZABLE = "cannot be sized"            # no spread, no target (point exactly at the null), ...

DESIGN_NOTE = "needs a design change, not more seeds"


# --- one claim -----------------------------------------------------------------------------------

def seed_keys(quick: dict) -> list[str]:
    """The seed-count keys of a profile: whole-number settings named ``seeds`` or ``*_seeds``."""
    return [k for k, v in quick.items()
            if (k == "seeds" or k.endswith("_seeds")) and isinstance(v, int) and not isinstance(v, bool)]


def unit_mapping(n: int | None, unit: str | None, quick: dict) -> tuple[str, int] | None:
    """(seed key, estimate units per seed) for an estimate over ``n`` ``unit``s, or None when its
    units are not seeds (teachers, settings) or no seed key of the quick profile explains ``n``.

    ``n`` equal to a key's value: one unit per seed (exact matches prefer ``seeds``); ``n`` a multiple
    of a key's value: several units per seed (e.g. 10 gamma settings x 5 seeds = 50 runs)."""
    if not n or unit not in SEED_UNITS:
        return None
    keys = seed_keys(quick)
    exact = [k for k in keys if quick[k] == n]
    if exact:
        return ("seeds" if "seeds" in exact else exact[0]), 1
    multiples = sorted((k for k in keys if quick[k] > 0 and n % quick[k] == 0), key=lambda k: -quick[k])
    if multiples:
        return multiples[0], n // quick[multiples[0]]
    return None


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _precondition_text(row: dict) -> str:
    declared = {p["id"]: p for p in (row.get("test") or {}).get("preconditions", [])}
    parts = []
    for pre in row.get("preconditions") or []:
        if pre.get("passed"):
            continue
        d = declared.get(pre["id"], {})
        bound = " and ".join(b for b in ((f">= {d['min']:g}" if d.get("min") is not None else ""),
                                         (f"<= {d['max']:g}" if d.get("max") is not None else "")) if b)
        parts.append(f"{pre['statement']} (measured {pre['value']:.3g}{', needs ' + bound if bound else ''})")
    return "; ".join(parts) or row.get("reason", "")


def size_claim(row: dict, quick: dict, confidence: float = stats.CONFIDENCE, power: float = stats.POWER) -> dict:
    """The sizing of one claim row of a results file, given the chapter's quick profile.

    Returns a dict with the claim's identity, its pilot numbers, ``target`` / ``target_kind`` (what
    the run must resolve), ``units_needed`` (in the estimate's units), ``seed_key`` /
    ``units_per_seed`` / ``seeds_needed`` (in the profile's seed count), ``status`` (one of
    ``DESIGN``, ``NOT_TESTABLE``, ``UNSIZABLE`` or ``"sized"``) and a ``note``."""
    test = row.get("test") or {}
    est = row.get("estimate") or {}
    kind = test.get("kind")
    out = {"claim_id": row["claim_id"], "category": row["category"], "kind": kind, "verdict": row["verdict"],
           "statement": row.get("statement", ""), "paper_value": row.get("paper_value"),
           "unit": est.get("unit") or test.get("unit"), "n": est.get("n"), "method": est.get("method"),
           "point": est.get("point"), "se": est.get("se"), "sd": None, "target": None, "target_kind": None,
           "units_needed": None, "units_for_paper_effect": None, "seed_key": None, "units_per_seed": None, "seeds_needed": None,
           "status": None, "note": ""}
    if kind == "not testable":
        out.update(status=NOT_TESTABLE, note=test.get("reason") or row.get("reason", ""))
        return out
    if row["verdict"] == "not testable":  # a testable declaration turned not testable: a failed precondition
        out.update(status=DESIGN, note=f"{DESIGN_NOTE}: precondition failed: {_precondition_text(row)}")
        return out
    if not est:
        out.update(status=UNSIZABLE, note="no estimate recorded")
        return out
    if est.get("method") == stats.PERMUTATION or est.get("unit") not in SEED_UNITS:
        note = (f"{DESIGN_NOTE}: the unit of replication is {est.get('n')} {est.get('unit')}, fixed by the design; "
                "more seeds only steady each unit's value")
        r = est.get("point")
        if _finite(r) and 0 < abs(r) < 1:
            z = stats._crit(None, confidence, power)
            needed = int(math.ceil((z / math.atanh(abs(r))) ** 2 + 3))
            out["units_needed"] = needed
            note += f"; ~{needed} {est.get('unit')} to detect a rank correlation of {r:.2f} (Fisher z, 80% power)"
        if row["verdict"] in ("reproduced", "contradicted", "direction only"):
            # already decided by its own units: more of them is not needed
            note = (f"decided at the quick run over its {est.get('n')} {est.get('unit')} (the design's units, "
                    "not seeds)")
            out.update(status=DECIDED, note=note)
            return out
        out.update(status=DESIGN, note=note)
        return out
    mapping = unit_mapping(est.get("n"), est.get("unit"), quick)
    se, n, point = est.get("se"), est.get("n"), est.get("point")
    if not (_finite(se) and _finite(point) and n and n >= 2):
        out.update(status=UNSIZABLE, note="the pilot has no finite standard error")
        return out
    sd = se * math.sqrt(n)
    out["sd"] = sd
    pv = row.get("paper_value")
    if kind == "directional":
        d, null = test.get("direction", 1), test.get("null", 0.0) or 0.0
        effect = d * (point - null)
        paper = None if pv is None else d * (pv - null)
        if test.get("size") and paper is not None and paper > 0:
            target, target_kind = paper, f"the paper's effect ({pv:g} vs null {null:g})"
        elif test.get("practical"):
            target, target_kind = float(test["practical"]), "the declared practical size"
        else:
            target, target_kind = abs(effect), "the pilot's point estimate (distance from the null)"
        needed = stats.units_needed(sd, target, confidence, power) if target > 0 else None
        outcome = ""
        if target_kind != "the paper's effect" and paper is not None and paper > 0 and not test.get("size"):
            # for the reader: what it would take to see the paper's effect, were it the truth
            out["units_for_paper_effect"] = stats.units_needed(sd, paper, confidence, power)
    else:
        centre = pv if kind == "value" else (test.get("null", 0.0) or 0.0)
        margin = test["margin"]
        distance = abs(point - centre)
        if distance < margin:
            target, target_kind = margin - distance, "CI half-width < margin - |point - centre|"
            outcome = "inside the margin (reproduced at the pilot's point)"
        else:
            target, target_kind = distance - margin, "CI half-width < |point - centre| - margin"
            outcome = "outside the margin (contradicted at the pilot's point)"
        # power 0.5 makes units_needed's criterion exactly t_{0.975, n-1} * sd / sqrt(n) <= target
        needed = stats.units_needed(sd, target, confidence, 0.5) if target > 0 else None
    out.update(target=target, target_kind=target_kind, units_needed=needed)
    if needed is None:
        out.update(status=UNSIZABLE, note="no effect to resolve (the pilot's point sits exactly on the null or "
                                          "the margin), or more than 100,000 units")
        return out
    if mapping is None:
        out.update(status=UNSIZABLE, note=f"{n} {est.get('unit')} does not match a seed key of the quick profile")
        return out
    key, per_seed = mapping
    out.update(seed_key=key, units_per_seed=per_seed, seeds_needed=int(math.ceil(needed / per_seed)), status="sized",
               note=outcome)
    if out["units_for_paper_effect"] is not None:
        paper_seeds = int(math.ceil(out["units_for_paper_effect"] / per_seed))
        out["note"] = (out["note"] + "; " if out["note"] else "") + (
            f"the paper's effect ({pv:g}) would be detected with ~{paper_seeds} seeds")
    if est.get("method") == stats.BOOTSTRAP:
        out["note"] = (out["note"] + "; " if out["note"] else "") + "bootstrap interval: se taken as a t-like se (approximate)"
    return out


# --- one chapter ---------------------------------------------------------------------------------

def size_chapter(results: dict, quick: dict, provenance: dict | None, budget_s: float = BUDGET_MIN * 60,
                 record: dict | None = None, cost_ratio: float | None = None) -> dict:
    """Size one chapter: every claim, the record seeds, the estimated time and what stays open.

    ``cost_ratio``: what one record seed costs relative to one quick seed where the record profile
    also changes other settings (more epochs, more settings swept); the quick wall time is scaled by
    it before the seeds are. Without it a record profile that differs from quick in other keys than
    the seeds (``record``) gets a warning: its estimate is then a lower bound."""
    rows = [size_claim(r, quick) for r in results["claims"]
            if r.get("category") in ("paper", "ours")]
    keys = seed_keys(quick)
    wall = (provenance or {}).get("wall_time_s")
    quick_wall = float(wall) if _finite(wall) else None
    wall = quick_wall * (cost_ratio or 1.0) if quick_wall is not None else None  # per quick-seed-equivalent
    other_changes = sorted(k for k in (record or {}) if k not in keys and record[k] != quick.get(k))
    prov_seeds = (provenance or {}).get("seeds")
    # the largest factor on every seed key the budget allows (the time scales with the largest ratio)
    factor_max = budget_s / wall if wall else None
    fit = {k: (max(quick[k], int(math.floor(quick[k] * factor_max))) if factor_max else None) for k in keys}
    headline = [r for r in rows if r["category"] == "paper" and r["status"] == "sized"]
    driven_by = "paper"
    if not headline:  # no testable paper claim (e.g. 09_own_data): our own questions are the chapter's headline
        headline = [r for r in rows if r["category"] == "ours" and r["status"] == "sized"]
        driven_by = "ours"
    # record seeds per key: the seeds that decide every headline claim of that key when they fit the
    # budget; otherwise the most seeds that fit (what stays open is listed). ``cheapest`` is the
    # alternative: the fewest seeds that decide the headline claims that can be decided in the budget.
    proposed, needed_all, cheapest = {}, {}, {}
    # Our own claims ride along where they fit the budget (they are shown in the record book too).
    others = [r for r in rows if r["status"] == "sized" and r not in headline]
    for k in keys:
        needs = [r["seeds_needed"] for r in headline if r["seed_key"] == k]
        extra = [r["seeds_needed"] for r in others if r["seed_key"] == k
                 and (fit[k] is None or r["seeds_needed"] <= fit[k])]
        needed_all[k] = max([quick[k]] + needs)
        within = [x for x in needs if fit[k] is None or x <= fit[k]]
        cheapest[k] = max([quick[k]] + within + extra)
        proposed[k] = max(needed_all[k], cheapest[k]) if (fit[k] is None or needed_all[k] <= fit[k]) else fit[k]
    ratio = max((proposed[k] / quick[k] for k in keys), default=1.0)
    ratio_all = max((needed_all[k] / quick[k] for k in keys), default=1.0)
    ratio_cheap = max((cheapest[k] / quick[k] for k in keys), default=1.0)
    est_s = wall * ratio if wall else None
    est_all_s = wall * ratio_all if wall else None
    for r in rows:
        if r["status"] == "sized":
            r["status"] = DECIDED if r["seeds_needed"] <= proposed[r["seed_key"]] else INCONCLUSIVE
    counts = {s: sum(r["status"] == s for r in rows) for s in (DECIDED, INCONCLUSIVE, DESIGN, NOT_TESTABLE, UNSIZABLE)}
    headline_counts = {s: sum(r["status"] == s for r in rows if r["category"] == "paper")
                       for s in (DECIDED, INCONCLUSIVE, DESIGN, NOT_TESTABLE, UNSIZABLE)}
    open_headline = [r for r in rows if r["category"] == driven_by and r["status"] == INCONCLUSIVE]
    warnings = []
    if results.get("profile") != "quick":
        warnings.append(f"the pilot is the {results.get('profile')!r} profile, not quick")
    if (provenance or {}).get("profile") not in (None, results.get("profile")):
        warnings.append(f"the provenance record is of the {provenance.get('profile')!r} profile")
    if isinstance(prov_seeds, list) and "seeds" in quick and len(prov_seeds) != quick["seeds"]:
        warnings.append(f"the provenance records {len(prov_seeds)} seeds, the quick config {quick['seeds']}")
    if wall is None:
        warnings.append("no wall time recorded: no time estimate")
    if other_changes and cost_ratio is None:
        warnings.append(f"the record profile also changes {', '.join(other_changes)}: the estimate scales "
                        "the seeds only, a lower bound (give --cost-ratio)")
    return {
        "chapter": results["chapter"], "quick_profile": results.get("profile"), "warnings": warnings,
        "seed_keys": keys, "quick_seeds": {k: quick[k] for k in keys},
        "provenance_seeds": len(prov_seeds) if isinstance(prov_seeds, list) else None,
        "quick_wall_time_s": quick_wall, "provenance_finished": (provenance or {}).get("finished"),
        "provenance_commit": ((provenance or {}).get("git") or {}).get("commit"),
        "headline": driven_by,
        "seeds_to_decide_headline": needed_all,
        "estimated_time_to_decide_headline_s": est_all_s,
        "max_seeds_within_budget": fit,
        "record_seeds": proposed,
        "cheapest_seeds": cheapest,
        "estimated_cheapest_time_s": wall * ratio_cheap if wall else None,
        "estimated_record_time_s": est_s,
        "estimate_label": "estimated from the quick run: quick wall time x record seeds / quick seeds "
                          "(largest ratio over the seed keys)"
                          + (f" x {cost_ratio:g} (the cost of a record seed relative to a quick seed)" if cost_ratio else ""),
        "cost_ratio": cost_ratio, "record_changes_besides_seeds": other_changes,
        "budget_s": budget_s,
        "fits_budget": None if est_s is None else est_s <= budget_s,
        "decides_all_headline_within_budget": None if est_all_s is None else est_all_s <= budget_s,
        "counts": counts, "headline_counts": headline_counts,
        "open_headline": [{"claim_id": r["claim_id"], "seeds_needed": r["seeds_needed"], "seed_key": r["seed_key"],
                           "target": r["target"], "target_kind": r["target_kind"],
                           "time_needed_s": (wall * r["seeds_needed"] / quick[r["seed_key"]]) if wall else None}
                          for r in open_headline],
        "claims": rows,
    }


def size_all(results_dir: Path, provenance_dir: Path, configs_dir: Path, budget_s: float,
             cost_ratios: dict[str, float] | None = None) -> list[dict]:
    out = []
    for path in sorted(results_dir.glob("*.json")):
        results = json.loads(path.read_text())
        chapter = results["chapter"]
        config = configs_dir / f"{chapter}.json"
        if not config.exists():
            continue
        profiles = json.loads(config.read_text())
        prov_path = provenance_dir / f"{chapter}.json"
        provenance = json.loads(prov_path.read_text()) if prov_path.exists() else None
        out.append(size_chapter(results, profiles["quick"], provenance, budget_s, record=profiles.get("record"),
                                cost_ratio=(cost_ratios or {}).get(chapter)))
    return out


# --- output --------------------------------------------------------------------------------------

def _num(x, digits=3) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return str(x)


def _minutes(s) -> str:
    if s is None:
        return "—"
    return f"{s / 60:.1f} min" if s < 6000 else f"{s / 3600:.1f} h"


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _seeds(d: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in d.items()) if len(d) > 1 else str(next(iter(d.values()), "—"))


def markdown(chapters: list[dict], *, results_dir: str, generated: str, notes: list[str] = ()) -> str:
    lines = ["# Record-profile sizing (groundwork for issue #18)", "",
             f"Generated {generated} by `scripts/size_record.py` from the quick results in `{results_dir}` "
             "(each chapter's quick run as the pilot) and their provenance records. Budget: "
             f"{chapters[0]['budget_s'] / 60:.0f} minutes per chapter on {CORES} cores." if chapters else "", "",
             "How each claim is sized (`mfh_lib.stats.units_needed`, the pilot's per-unit sd = se x sqrt(n)):", "",
             "- directional: seeds to detect, with 80% power at a two-sided 95% interval, the paper's effect where "
             "the claim checks the size, else the declared practical size, else the pilot's own point estimate "
             "(the `target` column says which);",
             "- equivalence / value: seeds at which the 95% CI half-width falls below margin - |point - centre| "
             "(the interval then fits inside the margin if the truth is the pilot's point; where the point lies "
             "outside the margin, below |point - centre| - margin, and the claim would be contradicted);",
             "- a failed precondition, or a unit that is not seeds (teachers, settings), needs a design change, not "
             "more seeds;",
             "- times are **estimated from the quick run**: quick wall time x (record seeds / quick seeds), the "
             "largest ratio over the chapter's seed keys; fixed costs (data loading, imports) make this an "
             "over-estimate for small ratios, and a pilot of 3-5 seeds gives a noisy sd (with 3 seeds the 95% "
             "range of the true sd is about 0.5x to 6x the pilot's), so the seed counts are a first sizing, "
             "to be re-checked on the record run's own spread.", ""]
    lines += [f"- {n}" for n in notes]
    if notes:
        lines.append("")
    lines += ["## Summary", "",
              "| chapter | quick seeds | quick wall time | seeds to decide all headline claims (est. time) | "
              "record seeds proposed | estimated record time | fits 60 min | fewest seeds deciding the decidable "
              "headline claims (est. time) | claims decided / still inconclusive "
              "/ design change / declared not testable | headline (paper) decided / inconclusive / design / "
              "not testable |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for c in chapters:
        k, h = c["counts"], c["headline_counts"]
        lines.append(
            f"| {c['chapter']}{' (ours)' if c['headline'] == 'ours' else ''} | {_seeds(c['quick_seeds'])} | {_minutes(c['quick_wall_time_s'])} | "
            f"{_seeds(c['seeds_to_decide_headline'])} ({_minutes(c['estimated_time_to_decide_headline_s'])}) | "
            f"{_seeds(c['record_seeds'])} | {_minutes(c['estimated_record_time_s'])} | "
            f"{'yes' if c['fits_budget'] else 'no' if c['fits_budget'] is not None else '—'} | "
            f"{_seeds(c['cheapest_seeds'])} ({_minutes(c['estimated_cheapest_time_s'])}) | "
            f"{k[DECIDED]} / {k[INCONCLUSIVE]} / {k[DESIGN]} / {k[NOT_TESTABLE]}"
            f"{' (+' + str(k[UNSIZABLE]) + ' unsizable)' if k[UNSIZABLE] else ''} | "
            f"{h[DECIDED]} / {h[INCONCLUSIVE]} / {h[DESIGN]} / {h[NOT_TESTABLE]}"
            f"{' (+' + str(h[UNSIZABLE]) + ' unsizable)' if h[UNSIZABLE] else ''} |")
    total = sum(c["estimated_record_time_s"] or 0 for c in chapters)
    if any(c["headline"] == "ours" for c in chapters):
        lines += ["", "(ours): the chapter has no testable paper claim; its own questions (category `ours`) size "
                      "its record profile instead."]
    cheap = sum(c["estimated_cheapest_time_s"] or 0 for c in chapters)
    lines += ["", "Record seeds proposed: the seeds that decide every headline claim (and every one of our own "
                  "claims that can be decided within the budget) where that fits the budget; "
                  "where it does not, the most seeds that fit (a pilot's sd is noisy, so the spare seeds are a "
                  "margin) and the claims that stay open are listed below. The column after offers the cheaper "
                  "alternative: the fewest seeds that decide the headline (and our own) claims that can be decided at "
                  "all within the budget.", "",
              f"Whole book at the proposed record seeds: {_minutes(total)}; at the fewest deciding seeds: "
              f"{_minutes(cheap)} (both estimated from the quick run).", ""]
    open_rows = [(c, o) for c in chapters for o in c["open_headline"]]
    lines += ["## Headline claims that cannot be decided within the budget", ""]
    if open_rows:
        lines += ["| chapter | claim | seeds needed | estimated time at that size | target |", "|---|---|---|---|---|"]
        for c, o in sorted(open_rows, key=lambda t: (t[0]["chapter"], t[1]["seeds_needed"])):
            lines.append(f"| {c['chapter']} | `{o['claim_id']}` | {o['seeds_needed']} ({o['seed_key']}) | "
                         f"{_minutes(o['time_needed_s'])} | {_cell(o['target_kind'])} = {_num(o['target'])} |")
    else:
        lines.append("none: every sized headline claim is decided at the proposed seeds.")
    lines.append("")
    for c in chapters:
        cost_note = f" (a record seed costs {c['cost_ratio']:g} quick seeds)" if c.get("cost_ratio") else ""
        lines += [f"## {c['chapter']}", "",
                  f"Quick: {_seeds(c['quick_seeds'])} seeds, {_minutes(c['quick_wall_time_s'])} "
                  f"(provenance finished {c['provenance_finished'] or '—'}). Record proposed: "
                  f"{_seeds(c['record_seeds'])} seeds, {_minutes(c['estimated_record_time_s'])} estimated from the "
                  f"quick run{cost_note}; at most {_seeds(c['max_seeds_within_budget'])} seeds fit the budget."
                  + "".join(f" **Warning**: {w}." for w in c["warnings"]), "",
                  "| claim | whose | kind | quick verdict | n | pilot point (se) | target | units needed | seeds needed "
                  "| at record size | note |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in c["claims"]:
            pilot = "—" if r["point"] is None else f"{_num(r['point'])} ({_num(r['se'])})"
            target = "—" if r["target"] is None else _cell(f"{r['target_kind']} = {_num(r['target'])}")
            seeds_needed = "—" if r["seeds_needed"] is None else (
                f"{r['seeds_needed']}" + (f" ({r['seed_key']})" if len(c["seed_keys"]) > 1 else "")
                + (f" [{r['units_per_seed']} units/seed]" if (r["units_per_seed"] or 1) > 1 else ""))
            note = _cell(r["note"])
            lines.append(f"| `{r['claim_id']}` | {r['category']} | {r['kind']} | {r['verdict']} | "
                         f"{_num(r['n'])} {r['unit'] or ''} | {pilot} | {target} | {_num(r['units_needed'])} | "
                         f"{seeds_needed} | {r['status']} | {note} |")
        lines.append("")
    return "\n".join(lines) + "\n"


# --- configs -------------------------------------------------------------------------------------

def _block_span(text: str, key: str) -> tuple[int, int, int] | None:
    """(start of the key's line, start of its object, end of the object) of a top-level profile."""
    m = re.search(r'^([ \t]*)"' + re.escape(key) + r'"\s*:\s*\{', text, flags=re.M)
    if not m:
        return None
    start = m.end() - 1
    depth, i, in_str = 0, start, False
    while i < len(text):
        ch = text[i]
        if in_str:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return m.start(), start, i + 1
        i += 1
    raise ValueError(f"unbalanced braces after {key!r}")


def _set_seed_keys(block: str, seeds: dict[str, int], where: str) -> str:
    for key, value in seeds.items():
        pattern = re.compile(r'("' + re.escape(key) + r'"\s*:\s*)(\d+)')
        if len(pattern.findall(block)) != 1:
            raise ValueError(f"the {where} profile's text holds {key!r} {len(pattern.findall(block))} times")
        block = pattern.sub(lambda m: m.group(1) + str(int(value)), block)
    return block


def with_record_profile(text: str, seeds: dict[str, int]) -> str:
    """The config file's text with the seed-count keys of its ``record`` profile set to ``seeds``.

    An existing ``record`` profile keeps every other key (record-specific settings such as a larger
    n are deliberate); without one, the quick profile's text is copied after the last profile with
    only the seed counts changed."""
    original = json.loads(text)
    if "record" in original:
        _, obj_start, obj_end = _block_span(text, "record")
        new = text[:obj_start] + _set_seed_keys(text[obj_start:obj_end], seeds, "record") + text[obj_end:]
        base = original["record"]
    else:
        span = _block_span(text, "quick")
        if span is None:
            raise ValueError("no quick profile")
        line_start, obj_start, obj_end = span
        indent = re.match(r"[ \t]*", text[line_start:]).group(0)
        block = _set_seed_keys(text[obj_start:obj_end], seeds, "quick")
        close = text.rstrip().rfind("}")
        new = text[:close].rstrip() + ",\n" + indent + '"record": ' + block + "\n" + text[close:]
        base = original["quick"]
    parsed = json.loads(new)
    assert {k: v for k, v in parsed.items() if k != "record"} == {k: v for k, v in original.items() if k != "record"}, \
        "the other profiles changed"
    assert parsed["record"] == {**base, **{k: int(v) for k, v in seeds.items()}}
    return new


# --- main ----------------------------------------------------------------------------------------

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    smoke = ROOT / "tests" / "smoke" / "_results"  # the quick pilots (scripts/run_chapters.py: tiers)
    p.add_argument("--results", type=Path, default=smoke if smoke.is_dir() else ROOT / "book" / "_results")
    p.add_argument("--provenance", type=Path, default=None, help="default: RESULTS/provenance")
    p.add_argument("--configs", type=Path, default=ROOT / "chapters" / "configs")
    p.add_argument("--budget-min", type=float, default=BUDGET_MIN)
    p.add_argument("--out-md", type=Path, default=ROOT / "bench" / "record_sizing.md")
    p.add_argument("--out-json", type=Path, default=ROOT / "bench" / "record_sizing.json")
    p.add_argument("--note", action="append", default=[], help="a line for the markdown's preamble")
    p.add_argument("--write-configs", action="store_true", help="add/refresh the record profile of each config")
    p.add_argument("--cost-ratio", action="append", default=[], metavar="CHAPTER=X",
                   help="a record seed of CHAPTER costs X quick seeds (its record profile also changes "
                        "epochs or the settings swept), e.g. 04_nyu_depth=6")
    args = p.parse_args(argv)
    cost_ratios = {}
    for item in args.cost_ratio:
        chapter, _, value = item.partition("=")
        try:
            cost_ratios[chapter] = float(value)
        except ValueError:
            raise SystemExit(f"--cost-ratio {item!r}: expected CHAPTER=NUMBER, e.g. 04_nyu_depth=6") from None
        if not cost_ratios[chapter] > 0:
            raise SystemExit(f"--cost-ratio {item!r}: the ratio must be positive")
    for out in (args.out_md, args.out_json):
        if out.resolve().parent == args.results.resolve():
            raise SystemExit(f"refusing to write {out} into the results folder (the ledger reads every JSON there)")
    chapters = size_all(args.results, args.provenance or args.results / "provenance", args.configs,
                        args.budget_min * 60, cost_ratios)
    generated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    try:
        shown = args.results.resolve().relative_to(ROOT)
    except ValueError:
        shown = args.results
    args.out_md.write_text(markdown(chapters, results_dir=str(shown), generated=generated, notes=args.note))
    args.out_json.write_text(json.dumps({"generated": generated, "results_dir": str(shown),
                                         "budget_min_per_chapter": args.budget_min, "cores": CORES,
                                         "chapters": chapters}, indent=1) + "\n")
    for c in chapters:
        print(f"{c['chapter']:24s} quick {_seeds(c['quick_seeds']):>22s} {_minutes(c['quick_wall_time_s']):>9s}  "
              f"record {_seeds(c['record_seeds']):>22s} {_minutes(c['estimated_record_time_s']):>9s}  "
              f"decide-all {_seeds(c['seeds_to_decide_headline'])} ({_minutes(c['estimated_time_to_decide_headline_s'])})")
        if args.write_configs:
            path = args.configs / f"{c['chapter']}.json"
            path.write_text(with_record_profile(path.read_text(), c["record_seeds"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
