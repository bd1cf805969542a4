"""The HTML book builds from the committed notebooks with warnings as errors (as `make html`)."""
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_book_builds(tmp_path):
    jb = Path(sys.executable).parent / "jupyter-book"
    command = [str(jb if jb.exists() else shutil.which("jupyter-book")), "build", str(ROOT / "book"),
               "--path-output", str(tmp_path), "-W", "-n", "--keep-going"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    html = tmp_path / "_build" / "html"
    assert (html / "intro.html").exists()
    assert (html / "chapters" / "99_claims_ledger.html").exists()
