"""Claim declarations say where the paper makes each claim, and their labels agree with their settings.

The validation in ``claims.paper_claims`` already refuses a paper claim without a source location;
these tests add what an id promises: ``tab8_...`` is about Tab. 8, ``..._rn50_...`` about ResNet-50,
``..._rho05_...`` about rho = 0.5, ``..._r25`` about r = 25%, ``..._g75_...`` about gamma = 0.75,
and an entry of ours says so in its source.
"""
import re

import pytest

from mfh_lib import claims, evidence

DECLARATIONS = [(path.stem, claim_id, entry) for path in sorted(claims.PAPER_DIR.glob("*.json"))
                for claim_id, entry in claims.paper_claims(path.stem).items()]


def _ids(item):
    return f"{item[0][:2]}:{item[1]}"


def promised(claim_id: str) -> list[tuple[str, str, str]]:
    """(field, regex, what) pairs an id promises."""
    out = []
    for number in re.findall(r"(?:^|_)tab(\d+)", claim_id):
        out.append(("source", rf"Tab(?:le)?\.?\s*(?:\d+\s*/\s*)*{number}\b|Tab\.\s*\d+\s*/\s*{number}\b", f"Tab. {number}"))
    for number in re.findall(r"(?:^|_)fig(\d+)", claim_id):
        out.append(("source", rf"Fig(?:ure)?\.?\s*(?:\d+\s*/\s*)*{number}\b", f"Fig. {number}"))
    for depth in re.findall(r"(?:^|_)rn(18|50)(?:_|$)", claim_id):
        out.append(("setting", rf"(?:RN|ResNet)-?{depth}\b", f"ResNet-{depth}"))
    if re.search(r"(?:^|_)rho05(?:_|$)|rho0\.5", claim_id):
        out.append(("setting", r"rho\s*=\s*0\.5|ρ\s*=\s*0\.5", "rho = 0.5"))
    for ratio in re.findall(r"(?:^|_)r(25|50|75)(?:_|$)", claim_id):
        out.append(("setting", rf"\br\s*=\s*{ratio}\s*%|\br\s*=\s*0\.{ratio}|{ratio}\s*%", f"r = {ratio}%"))
    for gamma in re.findall(r"(?:^|_)g(25|50|75)(?:_|$)", claim_id):
        out.append(("setting", rf"gamma\s*=\s*0\.{gamma}|γ\s*=\s*0\.{gamma}", f"gamma = 0.{gamma}"))
    return out


@pytest.mark.parametrize("item", DECLARATIONS, ids=_ids)
def test_label_agrees_with_setting(item):
    chapter, claim_id, entry = item
    for field, pattern, what in promised(claim_id):
        assert re.search(pattern, entry[field]), (
            f"paper_numbers/{chapter}.json: {claim_id!r} promises {what} but its {field} says {entry[field]!r}")


@pytest.mark.parametrize("item", DECLARATIONS, ids=_ids)
def test_whose_claim_is_labelled(item):
    chapter, claim_id, entry = item
    if entry["category"] == evidence.OURS:
        assert "ours" in entry["source"].lower(), (
            f"paper_numbers/{chapter}.json: {claim_id!r} is our question; its source must say so (e.g. 'ours (...)')")
    if entry["category"] == evidence.PAPER:
        assert "ours" not in entry["source"].lower().split("(")[0], (
            f"paper_numbers/{chapter}.json: {claim_id!r} is marked as the paper's but its source starts with 'ours'")


def test_the_label_checker_fires():
    assert promised("tab4_vgg_rn50_av_regular") == [
        ("source", r"Tab(?:le)?\.?\s*(?:\d+\s*/\s*)*4\b|Tab\.\s*\d+\s*/\s*4\b", "Tab. 4"),
        ("setting", r"(?:RN|ResNet)-?50\b", "ResNet-50")]
    chapter, claim_id, entry = "x", "tab9_rho05_general", {"source": "MFH Tab. 9", "setting": "RN-18, rho=0"}
    with pytest.raises(AssertionError, match="rho = 0.5"):
        test_label_agrees_with_setting((chapter, claim_id, entry))
