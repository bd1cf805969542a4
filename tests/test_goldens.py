"""The committed executed notebooks (goldens) must match their sources and be fully executed.

nbval re-runs the goldens; these checks catch what nbval cannot: a source edited without
regenerating its golden, a golden saved with unexecuted cells or errors, a chapter whose results
never reached the claims ledger.
"""
import json
from pathlib import Path

import jupytext
import nbformat
import pytest
from papermill.translators import PythonTranslator

from mfh_lib import claims, evidence

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "chapters").glob("*.py"))
GOLDENS = ROOT / "book" / "chapters"
TOC = (ROOT / "book" / "_toc.yml").read_text()


def code_cells(nb):
    return [c.source.strip() for c in nb.cells
            if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_golden_matches_source(source):
    golden = GOLDENS / f"{source.stem}.ipynb"
    assert golden.exists(), f"no golden for {source.name}: run `python scripts/run_chapters.py {source.stem}`"
    expected = code_cells(jupytext.read(source))
    actual = code_cells(nbformat.read(golden, as_version=4))
    assert actual == expected, (
        f"{golden.name} is stale: its code differs from {source.name}; "
        f"regenerate it with `python scripts/run_chapters.py {source.stem}`")


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_golden_fully_executed(source):
    nb = nbformat.read(GOLDENS / f"{source.stem}.ipynb", as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert cell.execution_count is not None, f"{source.stem}: code cell {index} was never executed"
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"{source.stem}: code cell {index} raised {errors[0].ename}"


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


@pytest.mark.parametrize("source", [s for s in SOURCES if not s.stem.endswith("claims_ledger")], ids=lambda p: p.stem)
def test_chapter_results_reached_ledger(source):
    path = claims.results_dir() / f"{source.stem}.json"
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
