"""The book's build-time helpers (book/_ext/mfh_book.py) and scripts/run_chapters.py, without a build."""
import json
import pkgutil
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "book" / "_ext"))
sys.path.insert(0, str(ROOT / "scripts"))
import mfh_book  # noqa: E402
import run_chapters  # noqa: E402

import mfh_lib  # noqa: E402


def test_api_reference_covers_every_module():
    expected = {"mfh_lib"} | {m.name for m in pkgutil.walk_packages(mfh_lib.__path__, prefix="mfh_lib.")
                              if not any(p.startswith("_") for p in m.name.split(".")[1:])}
    assert set(mfh_book.library_modules()) == expected
    markdown = mfh_book.api_markdown()
    for name in expected:
        assert f".. automodule:: {name}\n" in markdown
    assert mfh_book.API_MARKER in (ROOT / "book" / "api.md").read_text()
    assert "file: api" in (ROOT / "book" / "_toc.yml").read_text()


def test_docstrings_rst_cannot_parse_are_shown_verbatim():
    lines = ["Shapes: (n, d) |J1 ∩ J2| of the spec", "", "  unexpected", "indent"]
    original = list(lines)
    mfh_book.safe_docstring(None, "function", "f", None, {}, lines)
    assert lines[0] == "::" and all(line.startswith("    ") for line in lines[2:-1])
    assert [line[4:] for line in lines[2:-1]] == original
    clean = ["A clean docstring with ``code`` and :func:`mfh_lib.stats.summarize`.", "", "- a list"]
    kept = list(clean)
    mfh_book.safe_docstring(None, "function", "f", None, {}, clean)
    assert clean == kept


def test_provenance_page_says_not_recorded_for_what_is_missing(tmp_path, monkeypatch):
    results = tmp_path / "_results"
    (results / "provenance").mkdir(parents=True)
    (tmp_path / "chapters").mkdir()
    (results / "old.json").write_text(json.dumps({"profile": "quick", "claims": [{"data_source": "stand-in", "n_seeds": 3}]}))
    (results / "new.json").write_text(json.dumps({"profile": "quick", "claims": [],
                                                  "provenance": {"device": "cpu", "data_hash": "abc123"}}))
    record = {"chapter": "new", "profile": "quick", "seeds": [0, 1, 2, 3, 4], "wall_time_s": 42.0,
              "data": {"sources": ["real RAVDESS"], "hash": None}, "versions": {"python": "3.11", "torch": "2.9.1"},
              "git": {"commit": "deadbeef", "dirty": True}, "finished": "2026-01-01T00:00:00+00:00",
              "results_sha256": "f00"}
    (results / "provenance" / "new.json").write_text(json.dumps(record))
    monkeypatch.setattr(mfh_book, "RESULTS", results)
    monkeypatch.setattr(mfh_book, "PROVENANCE", results / "provenance")
    monkeypatch.setattr(mfh_book, "BOOK", tmp_path)
    old = dict(mfh_book.provenance_rows("old"))
    assert old["profile"] == "quick" and old["data source"] == "stand-in" and "3 per claim" in old["seeds"]
    for field in ("device", "wall time", "data content hash", "library versions", "git commit", "date"):
        assert mfh_book.NOT_RECORDED in old[field]
    new = dict(mfh_book.provenance_rows("new"))
    assert new["device"] == "cpu" and new["data content hash"] == "abc123"  # the ledger's provenance dict
    assert new["seeds"] == "5 (0 to 4)" and new["wall time"] == "42 s" and new["data source"] == "real RAVDESS"
    assert new["git commit"] == "deadbeef (uncommitted changes)" and "torch 2.9.1" in new["library versions"]
    page = mfh_book.provenance_markdown()
    assert "## new" in page and "## old" in page and "{download}`provenance record (.json)" in page
    assert "not recorded" in page


def test_citation_labels_read_author_year():
    from pybtex.database import Entry, Person

    mfh_book.register_citation_style()
    from pybtex.plugin import find_plugin

    labels = find_plugin("pybtex.style.formatting", "mfh_author_year")().label_style
    def entry(*authors, year="2021"):
        e = Entry("article", fields={"year": year, "title": "T"})
        e.persons["author"] = [Person(a) for a in authors]
        return e
    assert labels.format_label(entry("Liang, Paul Pu", "Lyu, Yiwei", "Fan, Xiang")) == "Liang et al., 2021"
    assert labels.format_label(entry("Tung, Frederick", "Mori, Greg", year="2019")) == "Tung and Mori, 2019"
    assert labels.format_label(entry("Kraskov, Alexander", year="2004")) == "Kraskov, 2004"
    assert labels.format_label(entry("van den Oord, Aaron", "Li, Yazhe", "Vinyals, Oriol", year="2018")) == "van den Oord et al., 2018"
    assert labels.format_label(entry("Sch{\\\"o}lkopf, Bernhard", year="2016")) == "Schölkopf, 2016"
    twice = list(labels.format_labels([entry("Chen, A", "B, B", "C, C", year="2020")] * 2))
    assert twice == ["Chen et al., 2020a", "Chen et al., 2020b"]
    bib = (ROOT / "book" / "references.bib").read_text()
    assert "others" not in bib, "full author lists: pybtex prints 'and others' literally"


def test_injected_parameters_cell_is_hidden_and_golden_written_atomically(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("profile = 'quick'", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("profile = 'full'", metadata={"tags": ["injected-parameters"]}),
    ])
    nb.metadata["widgets"] = {"state": {}}
    run_chapters.hide_injected_parameters(run_chapters.strip_volatile(nb))
    assert nb.cells[1].metadata["tags"] == ["injected-parameters", "remove-cell"]
    assert nb.cells[0].metadata["tags"] == ["parameters"] and nb.cells[0].id == "cell-000"
    assert "widgets" not in nb.metadata
    target = tmp_path / "sub" / "x.ipynb"
    run_chapters.write_atomically(target, "hello\n")
    assert target.read_text() == "hello\n" and list(target.parent.iterdir()) == [target]  # no temp file left


def test_provenance_record_schema(tmp_path, monkeypatch):
    monkeypatch.setenv("MFH_RESULTS_DIR", str(tmp_path))
    (tmp_path / "02_gaussian_mvd.json").write_text(json.dumps(
        {"claims": [{"data_source": "stand-in (synthetic)"}], "provenance": {"data_hash": "h1"}}))
    record = run_chapters.provenance_record("02_gaussian_mvd", "quick", {"profile": "quick"},
                                            "2026-01-01T00:00:00+00:00", "2026-01-01T00:01:00+00:00", 60.04, since=0)
    assert set(record) == {"schema", "chapter", "profile", "parameters", "seeds", "device", "started", "finished",
                           "wall_time_s", "data", "results_sha256", "versions", "git", "platform", "cpu_env"}
    assert record["seeds"] == list(range(json.loads((ROOT / "chapters" / "configs" / "02_gaussian_mvd.json").read_text())["quick"]["seeds"]))
    assert record["data"]["sources"] == ["stand-in (synthetic)"] and record["data"]["hash"] == "h1"
    assert record["wall_time_s"] == 60.0 and len(record["results_sha256"]) == 64
    assert record["versions"]["torch"] and record["versions"]["python"]
    assert run_chapters.provenance_dir() == tmp_path / "provenance"
    json.dumps(record)  # serialisable
    ledger = run_chapters.provenance_record("99_claims_ledger", "quick", {}, "a", "b", 1.0, since=0)
    assert ledger["seeds"] is None and ledger["results_sha256"] is None


@pytest.mark.parametrize("chapter", ["02_gaussian_mvd", "03_theorem1"])
def test_widget_chapters_offer_a_static_panel_beside_the_live_one(chapter):
    source = (ROOT / "chapters" / f"{chapter}.py").read_text()
    # the live panel is built in the chapter or by a library function named for it
    assert "panels.static_panel(" in source and ("import ipywidgets" in source or "live_panel(" in source)
