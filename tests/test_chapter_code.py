"""Chapters declare studies; the machinery lives in mfh_lib (issue #11).

A chapter's code cells may call one library function per study, build tables and figures, and
judge claims. They may not train: no optimiser, no backward pass, no epoch loop, no hand-rolled
results-cache loop (``get_or_compute`` belongs to the study functions, which key the cache by the
data's content). A reader who asks "how was the student trained?" follows one link into mfh_lib;
a user who wants the same study on their own data calls the same function.
"""
import re
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "chapters").glob("[0-9]*.py"))

FORBIDDEN = {
    "an optimiser": re.compile(r"\btorch\.optim\b|\boptim\.(SGD|Adam|AdamW|RMSprop)\b|\bmake_optimizer\("),
    "a backward pass": re.compile(r"\.backward\(|torch\.autograd\.grad\("),
    "an optimiser step": re.compile(r"\.zero_grad\(|\boptimizer\.step\(|\bopt\.step\("),
    "an epoch loop": re.compile(r"^\s*for\s+\w*epoch\w*\s+in\b", re.M),
    "a hand-rolled cache loop": re.compile(r"\.get_or_compute\("),
    "a training function": re.compile(r"^\s*def\s+(fit|train)\w*\s*\(", re.M),
}
# lines of code (not comments, not blank): per cell, and in all the chapter's code cells together
MAX_CELL_LINES = 60
MAX_CODE_LINES = 300


def code_cells(path: Path) -> list[str]:
    notebook = jupytext.read(path)
    cells = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    # comments may name optimisers (the chapter explains how the library trains)
    return ["\n".join(line for line in cell.splitlines() if not line.lstrip().startswith("#")) for cell in cells]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_chapter_does_not_train(path):
    found = [f"{what}: {match.group(0).strip()!r}" for cell in code_cells(path)
             for what, pattern in FORBIDDEN.items() for match in pattern.finditer(cell)]
    assert not found, (f"{path.name} contains training machinery ({'; '.join(found)}); "
                       "move it into mfh_lib (a study function) and call that from the chapter")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_chapter_code_stays_short(path):
    per_cell = [sum(1 for line in cell.splitlines() if line.strip()) for cell in code_cells(path)]
    assert max(per_cell) <= MAX_CELL_LINES, (f"{path.name} has a code cell of {max(per_cell)} lines "
                                             f"(at most {MAX_CELL_LINES}): split it or move code into mfh_lib")
    assert sum(per_cell) <= MAX_CODE_LINES, (f"{path.name} has {sum(per_cell)} lines of code "
                                             f"(at most {MAX_CODE_LINES}): move machinery into mfh_lib")
