"""The executed notebooks of both tiers must match their sources and be fully executed.

Two tiers (scripts/run_chapters.py): the smoke goldens (tests/smoke, quick profile), which nbval
re-runs, and the record tier (book/chapters, book/_results), which the published book renders.
nbval re-runs the smoke goldens; these checks catch what nbval cannot: a source edited without
regenerating its golden or its published page, a notebook saved with unexecuted cells or errors,
a chapter whose results never reached the claims ledger, a quick run published as something else.
"""
import json
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from papermill.translators import PythonTranslator

from mfh_lib import claims, evidence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from run_chapters import LEDGER, RECORD, RECORD_PROFILES, SMOKE, code_cells, page_profile  # noqa: E402

SOURCES = sorted((ROOT / "chapters").glob("*.py"))
TOC = (ROOT / "book" / "_toc.yml").read_text()
TIERS = {"smoke": SMOKE, "record": RECORD}
REGENERATE = {"smoke": "python scripts/run_chapters.py {name}",
              "record": "make record CHAPTERS={name} (or, until it has a record run, python scripts/run_chapters.py {name})"}


def _cases():
    return [pytest.param(tier, source, id=f"{tier}-{source.stem}") for tier in TIERS for source in SOURCES]


@pytest.mark.parametrize("tier, source", _cases())
def test_golden_matches_source(tier, source):
    page = TIERS[tier].files(source.stem)["notebook"]
    hint = REGENERATE[tier].format(name=source.stem)
    if tier == "smoke" and not page.exists() and RECORD.files(source.stem)["notebook"].exists():
        hint = "python scripts/run_chapters.py --migrate-tiers (the single-tier goldens move into tests/smoke)"
    assert page.exists(), f"no {tier} page for {source.name}: run `{hint}`"
    expected = code_cells(jupytext.read(source))
    actual = code_cells(nbformat.read(page, as_version=4))
    assert actual == expected, f"{page.relative_to(ROOT)} is stale: its code differs from {source.name}; run `{hint}`"


@pytest.mark.parametrize("tier, source", _cases())
def test_golden_fully_executed(tier, source):
    page = TIERS[tier].files(source.stem)["notebook"]
    assert page.exists(), f"no {tier} page for {source.name} (see test_golden_matches_source)"
    nb = nbformat.read(page, as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert cell.execution_count is not None, f"{tier} {source.stem}: code cell {index} was never executed"
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"{tier} {source.stem}: code cell {index} raised {errors[0].ename}"


@pytest.mark.parametrize("source", [s for s in SOURCES if s.stem != LEDGER], ids=lambda p: p.stem)
def test_tiers_hold_their_profiles(source):
    # the smoke goldens are quick runs; a record page is a record/full run, or else the smoke run itself
    # (copied until the chapter has a record run), never an older or different quick run
    name = source.stem
    assert page_profile(SMOKE, name) == "quick", f"the smoke golden of {name} is not a quick run"
    published = page_profile(RECORD, name)
    if published in RECORD_PROFILES:
        return
    assert published == "quick", f"the record tier's {name} says profile {published!r}"
    for kind, path in RECORD.files(name).items():
        smoke = SMOKE.files(name)[kind]
        assert path.exists() and smoke.exists() and path.read_bytes() == smoke.read_bytes(), (
            f"the book shows a quick run of {name} that is not its smoke golden ({kind}): "
            f"run `python scripts/run_chapters.py {name}`")


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_parameters_cell_is_readable_by_papermill(source):
    # papermill lists a chapter's parameters (`papermill --help-notebook`) only when it can parse every
    # line; an "=" inside a comment is enough to make it skip the line with a warning
    cells = [c for c in jupytext.read(source).cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{source.name} needs exactly one cell tagged 'parameters'"
    names = [line.split("=")[0].strip() for line in cells[0].source.splitlines() if line and not line.startswith("#")]
    parsed = [p.name for p in PythonTranslator.inspect(cells[0])]
    assert parsed == names, f"{source.name}: papermill reads parameters {parsed}, the cell assigns {names}"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_chapter_in_toc(source):
    assert f"chapters/{source.stem}" in TOC, f"{source.stem} is not listed in book/_toc.yml"


@pytest.mark.parametrize("tier, source", [c for c in _cases() if c.values[1].stem != LEDGER])
def test_chapter_results_reached_ledger(tier, source):
    # smoke: the session's results folder, a copy of the smoke tier's that nbval's runs rewrite (conftest.py)
    folder = claims.results_dir() if tier == "smoke" else RECORD.results
    path = folder / f"{source.stem}.json"
    assert path.exists(), f"{source.stem} wrote no results to the claims ledger ({path})"
    payload = json.loads(path.read_text())
    rows = payload["claims"]
    assert rows, f"{source.stem} recorded no claims"
    declared = claims.paper_claims(source.stem)
    assert {r["claim_id"] for r in rows} == set(declared), f"{source.stem}: results and declarations differ"
    assert payload.get("provenance", {}).get("profile"), f"{source.stem}: results carry no provenance"
    for row in rows:
        assert row["category"] == declared[row["claim_id"]]["category"]
        if row["category"] == evidence.CHECK:
            assert row["verdict"] in (evidence.PASS, evidence.FAIL)
        else:
            assert row["verdict"] in evidence.VERDICTS
            assert row["test_text"] and row["reason"], f"{source.stem}:{row['claim_id']} has no test or reason"
        assert row["data_source"], f"{source.stem}:{row['claim_id']} does not say which data made it"
