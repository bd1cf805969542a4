"""Compare two runs' verdicts per claim: a re-run (any profile, any device) against the record.

    python scripts/compare_runs.py RECORD_RESULTS RERUN_RESULTS [--out comparison.md]
           [--left record] [--right "re-run"]

Each argument is a results folder (``book/_results``, ``tests/smoke/_results``, ``DIR/_results`` of
``run_chapters.py --out DIR``) holding ``<chapter>.json`` as ``mfh_lib.claims.Ledger.save`` writes
them. The page lists, per chapter, the profile each run used and, per claim, both verdicts and both
estimates with their intervals, and says whether the verdict agrees. ``run_chapters.py --out`` writes
it as ``DIR/comparison.md``; the book's comparison page (``book/comparison.md``) is built from it.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

AGREE, CHANGED, ONLY_IN = "agrees", "changed", "only in {}"


def load_results(folder: Path) -> dict[str, dict]:
    """{chapter: results payload} of every ``*.json`` directly in ``folder`` (empty if none)."""
    out = {}
    for path in sorted(Path(folder).glob("*.json")):
        try:
            payload = json.loads(path.read_text())
        except ValueError:
            continue
        if isinstance(payload, dict) and isinstance(payload.get("claims"), list):
            out[payload.get("chapter", path.stem)] = payload
    return out


def profile_of(payload: dict | None) -> str | None:
    if payload is None:
        return None
    return (payload.get("provenance") or {}).get("profile") or payload.get("profile")


def estimate_text(row: dict | None) -> str:
    """``point [low, high] (n units)``, or what is known of it; '—' when the claim has no estimate."""
    if row is None:
        return "—"
    est = row.get("estimate") or {}
    point = est.get("point")
    if point is None:
        return "—"
    text = f"{point:.3g}"
    if est.get("ci_low") is not None and est.get("ci_high") is not None:
        text += f" [{est['ci_low']:.3g}, {est['ci_high']:.3g}]"
    if est.get("n") is not None:
        text += f" (n={est['n']})"
    return text


def compare(left: dict[str, dict], right: dict[str, dict], left_label: str = "record",
            right_label: str = "re-run") -> list[dict]:
    """One row per (chapter, claim) in either run, chapters the right run covers only (a re-run of
    a few chapters is compared on those): verdicts, estimates and whether the verdicts agree."""
    rows = []
    for chapter in sorted(right):
        ours = {r["claim_id"]: r for r in right[chapter]["claims"]}
        theirs = {r["claim_id"]: r for r in (left.get(chapter) or {}).get("claims", [])}
        for claim_id in sorted(set(ours) | set(theirs)):
            a, b = theirs.get(claim_id), ours.get(claim_id)
            if a is None:
                status = ONLY_IN.format(right_label)
            elif b is None:
                status = ONLY_IN.format(left_label)
            else:
                status = AGREE if a.get("verdict") == b.get("verdict") else CHANGED
            rows.append({"chapter": chapter, "claim_id": claim_id,
                         "category": (a or b).get("category"),
                         "left_verdict": a.get("verdict") if a else None,
                         "right_verdict": b.get("verdict") if b else None,
                         "left_estimate": estimate_text(a), "right_estimate": estimate_text(b),
                         "status": status})
    return rows


def _cell(value) -> str:
    return "—" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def comparison_markdown(left: dict[str, dict], right: dict[str, dict], left_label: str = "record",
                        right_label: str = "re-run", heading: str = "#") -> str:
    """A Markdown page (MyST-safe: plain tables) comparing ``right`` with ``left`` per claim."""
    rows = compare(left, right, left_label, right_label)
    parts = [f"{heading} Verdicts: {right_label} against {left_label}\n"]
    if not rows:
        parts.append(f"*The {right_label} holds no results to compare.*\n")
        return "\n".join(parts)
    agree = sum(r["status"] == AGREE for r in rows)
    changed = sum(r["status"] == CHANGED for r in rows)
    chapters = len({r["chapter"] for r in rows})
    parts.append(f"{len(rows)} claims and checks in {chapters} chapter{'s' if chapters > 1 else ''}: "
                 f"{agree} verdicts agree, {changed} changed, {len(rows) - agree - changed} in one run only.\n")
    for chapter in sorted({r["chapter"] for r in rows}):
        parts.append(f"{heading}# {chapter}\n")
        parts.append(f"Profiles: {left_label} {_cell(profile_of(left.get(chapter)))}, "
                     f"{right_label} {_cell(profile_of(right.get(chapter)))}.\n")
        if chapter in left and left[chapter].get("claims") == right[chapter].get("claims"):
            parts.append(f"The two runs recorded identical results (the {left_label} shows this very run).\n")
            continue
        parts.append(f"| claim | category | {left_label} verdict | {left_label} estimate [CI] | "
                     f"{right_label} verdict | {right_label} estimate [CI] | verdict |")
        parts.append("|---|---|---|---|---|---|---|")
        for r in (r for r in rows if r["chapter"] == chapter):
            parts.append("| " + " | ".join(_cell(v) for v in (
                f"`{r['claim_id']}`", r["category"], r["left_verdict"], r["left_estimate"],
                r["right_verdict"], r["right_estimate"], r["status"])) + " |")
        parts.append("")
    return "\n".join(parts) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("left", type=Path, help="the reference results folder (the record: book/_results)")
    p.add_argument("right", type=Path, help="the re-run's results folder")
    p.add_argument("--left-label", default="record")
    p.add_argument("--right-label", default="re-run")
    p.add_argument("--out", type=Path, help="write the page here (default: print it)")
    args = p.parse_args(argv)
    page = comparison_markdown(load_results(args.left), load_results(args.right), args.left_label, args.right_label)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(page)
    else:
        sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
