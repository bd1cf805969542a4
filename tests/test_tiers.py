"""The two tiers of executed chapters (scripts/run_chapters.py) and the comparison page
(scripts/compare_runs.py), on tiny fake files: no chapter is executed."""
import json
import sys
from pathlib import Path

import nbformat
import papermill as pm
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import compare_runs  # noqa: E402
import run_chapters as rc  # noqa: E402


def _notebook(code: str) -> str:
    return nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code, execution_count=1)]))


def _page(tier: rc.Tier, chapter: str, profile: str, verdict: str = "reproduced") -> None:
    """A tier's page of ``chapter`` as run_chapters leaves it: notebook, results, provenance."""
    files = tier.files(chapter)
    for path in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    files["notebook"].write_text(_notebook(f"x = {profile!r}"))
    files["results"].write_text(json.dumps({"chapter": chapter, "profile": profile, "provenance": {"profile": profile},
                                            "claims": [{"claim_id": "c1", "category": "paper", "verdict": verdict,
                                                        "estimate": {"point": 1.0, "ci_low": 0.5, "ci_high": 1.5, "n": 3}}]}))
    files["provenance"].write_text(json.dumps({"chapter": chapter, "profile": profile}))


@pytest.fixture
def tiers(tmp_path, monkeypatch):
    record = rc.Tier("record", tmp_path / "book" / "chapters", tmp_path / "book" / "_results")
    smoke = rc.Tier("smoke", tmp_path / "tests" / "smoke", tmp_path / "tests" / "smoke" / "_results")
    monkeypatch.setattr(rc, "RECORD", record)
    monkeypatch.setattr(rc, "SMOKE", smoke)
    runs = []

    def fake_execute(name, profile, timeout, tier, stage, progress=False):
        # a run "made" in stage, reading the results of `tier` (as the real one does)
        runs.append((name, profile, tier.name))
        staged = rc.Tier(tier.name, stage, stage / "_results")
        _page(staged, name, profile if name != rc.LEDGER else rc.ledger_profile(tier.results))
        files = staged.files(name)
        if name == rc.LEDGER:  # the ledger writes no results of its own
            files.pop("results").unlink()
        return {"files": files, "seconds": 0.0}

    monkeypatch.setattr(rc, "execute", fake_execute)
    return record, smoke, runs


def test_quick_lands_in_smoke_and_in_record_only_until_a_record_run(tiers):
    record, smoke, runs = tiers
    assert rc.destinations("05_x", "quick") == [smoke, record]
    rc.run_chapter("05_x", "quick", 60)
    assert rc.page_profile(smoke, "05_x") == "quick" and rc.page_profile(record, "05_x") == "quick"
    assert record.files("05_x")["results"].read_bytes() == smoke.files("05_x")["results"].read_bytes()
    rc.run_chapter("05_x", "record", 60)
    assert rc.page_profile(record, "05_x") == "record" and rc.page_profile(smoke, "05_x") == "quick"
    published = {k: p.read_bytes() for k, p in record.files("05_x").items()}
    assert rc.destinations("05_x", "quick") == [smoke]
    rc.run_chapter("05_x", "quick", 60)  # a quick run never replaces a record page
    assert {k: p.read_bytes() for k, p in record.files("05_x").items()} == published
    assert [r[2] for r in runs] == ["smoke", "record", "smoke"]  # executed once per run, then copied


def test_ledger_runs_on_each_tiers_own_results(tiers):
    record, smoke, runs = tiers
    _page(record, "05_x", "record")
    _page(smoke, "05_x", "quick")
    rc.run_chapter(rc.LEDGER, "quick", 60)
    assert runs == [(rc.LEDGER, "quick", "smoke"), (rc.LEDGER, "quick", "record")]
    assert rc.page_profile(smoke, rc.LEDGER) == "quick" and rc.page_profile(record, rc.LEDGER) == "record"
    _page(record, "06_y", "quick")
    assert rc.ledger_profile(record.results) == "mixed: quick (1), record (1)"


def test_rerun_lands_only_in_its_own_folder(tiers, tmp_path):
    record, smoke, runs = tiers
    out = tmp_path / "my_run"
    assert rc.destinations("05_x", "full", out) == [rc.rerun_tier(out)]
    rc.run_chapter("05_x", "full", 60, rc.destinations("05_x", "full", out))
    assert rc.page_profile(rc.rerun_tier(out), "05_x") == "full"
    assert not record.notebooks.exists() and not smoke.notebooks.exists()


def test_a_failed_run_changes_no_tier(tiers, monkeypatch):
    record, smoke, _ = tiers
    _page(record, "05_x", "quick")
    before = record.files("05_x")["notebook"].read_bytes()

    def failing(*args, **kwargs):
        raise pm.PapermillExecutionError(0, 1, "source", "trace", "ValueError", "boom")

    monkeypatch.setattr(rc, "execute", failing)
    with pytest.raises(pm.PapermillExecutionError):
        rc.run_chapter("05_x", "quick", 60)
    assert record.files("05_x")["notebook"].read_bytes() == before and not smoke.notebooks.exists()


def test_migration_copies_quick_goldens_only_and_is_idempotent(tiers):
    record, smoke, _ = tiers
    _page(record, "05_x", "quick")
    _page(record, "06_y", "record")
    assert rc.migrate_tiers(record, smoke) == ["05_x"]
    assert smoke.files("05_x")["notebook"].read_bytes() == record.files("05_x")["notebook"].read_bytes()
    assert not smoke.files("06_y")["notebook"].exists()
    assert rc.migrate_tiers(record, smoke) == ["05_x"]


def test_skip_done_needs_the_profile_and_the_current_source(tiers, tmp_path, monkeypatch):
    record, _, _ = tiers
    monkeypatch.setattr(rc, "SOURCES", tmp_path / "chapters")
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "05_x.py").write_text("# %%\nx = 'record'\n")
    _page(record, "05_x", "record")
    assert rc.page_is_current(record, "05_x", "record")
    assert not rc.page_is_current(record, "05_x", "full")
    (tmp_path / "chapters" / "05_x.py").write_text("# %%\nx = 'edited'\n")
    assert not rc.page_is_current(record, "05_x", "record")


def test_one_long_run_at_a_time(tmp_path):
    with rc.exclusive_lock(tmp_path / "record.lock"):
        with pytest.raises(SystemExit, match="another run holds"):
            with rc.exclusive_lock(tmp_path / "record.lock"):
                pass
    with rc.exclusive_lock(tmp_path / "record.lock"):  # released when the first run ended
        pass


def test_comparison_page_per_claim(tmp_path):
    left, right = tmp_path / "record", tmp_path / "rerun"
    for folder, verdict, extra in ((left, "reproduced", "c_old"), (right, "inconclusive", "c_new")):
        _page(rc.Tier("t", folder, folder), "05_x", folder.name)
        payload = json.loads((folder / "05_x.json").read_text())
        payload["claims"][0]["verdict"] = verdict
        payload["claims"].append({"claim_id": extra, "category": "ours", "verdict": "reproduced"})
        (folder / "05_x.json").write_text(json.dumps(payload))
    _page(rc.Tier("t", left, left), "06_not_rerun", "record")
    rows = compare_runs.compare(compare_runs.load_results(left), compare_runs.load_results(right))
    assert [(r["claim_id"], r["status"]) for r in rows] == [
        ("c1", "changed"), ("c_new", "only in re-run"), ("c_old", "only in record")]
    assert rows[0]["left_estimate"] == "1 [0.5, 1.5] (n=3)" and rows[1]["left_estimate"] == "—"
    page = compare_runs.comparison_markdown(compare_runs.load_results(left), compare_runs.load_results(right))
    assert "3 claims and checks in 1 chapter: 0 verdicts agree, 1 changed, 2 in one run only" in page
    assert "06_not_rerun" not in page
    assert "Profiles: record record, re-run rerun." in page
    assert "| `c1` | paper | reproduced | 1 [0.5, 1.5] (n=3) | inconclusive |" in page
