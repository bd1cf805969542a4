"""mfh_lib.formatting: the book's one number formatter and HTML table."""
import math

import numpy as np
import pandas as pd
import pytest
import torch

from mfh_lib import formatting as f
from mfh_lib import stats


@pytest.mark.parametrize("value", [None, float("nan"), np.nan, pd.NA, pd.NaT, np.float32("nan")])
def test_missing_values_are_a_dash(value):
    assert f.fmt(value) == "—"
    assert f.fmt(value, 2) == "—"
    assert f.pm(value, 1.0) == "—"


@pytest.mark.parametrize("value,digits", [(-0.0, 2), (-0.001, 2), (-0.004, 2), (-1e-9, 3), (-0.04, 1)])
def test_no_negative_zero(value, digits):
    text = f.fmt(value, digits)
    assert not text.startswith("-") and float(text) == 0


def test_fixed_decimals_and_significant_figures():
    assert f.fmt(70.8712, 2) == "70.87"
    assert f.fmt(3, 2) == "3.00"
    assert f.fmt(200) == "200" and f.fmt(np.int64(10)) == "10"  # integers stay integers
    assert f.fmt(0.1) == "0.100"
    assert f.fmt(70.8712) == "70.9"
    assert f.fmt(9.9996) == "10.0"  # rounding up does not add a significant figure
    assert f.fmt(12345.6) == "12346"  # the integer part is never rounded away
    assert f.fmt(0.000123456) == "0.000123"
    assert f.fmt(1.5e-7) == "1.50e-07" and f.fmt(3e8, sig=2) == "3.0e+08"
    assert f.fmt(0.0) == "0"
    assert f.fmt(torch.tensor(0.25)) == "0.250" and f.fmt(np.float32(0.5), 1) == "0.5"
    assert f.fmt(float("inf")) == "∞" and f.fmt(-math.inf) == "-∞"
    assert f.fmt(True) == "yes" and f.fmt("text") == "text"
    assert f.fmt(0.5, signed=True) == "+0.500" and f.fmt(-0.001, 2, signed=True) == "0.00"
    assert f.fmt(0.123, percent=True) == "12.3%"


def test_mean_pm_std_never_wraps():
    text = f.pm(70.871, 5.234)
    assert text == "70.87\u00a0±\u00a05.23"
    assert " " not in text  # only non-breaking spaces: a table cell cannot wrap as "70.87 ±" / "5.23"
    assert f.pm(1.0, None) == "1.00"
    assert f.pm(-0.001, 0.2) == "0.00\u00a0±\u00a00.20"
    assert f.pm(18.5, 1.1, None, sig=2) == "18.5\u00a0±\u00a01.1"
    assert f.pm(3.2e-12, 7e-12, None, sig=2) == "3.2e-12\u00a0±\u00a07.0e-12"
    assert f.mean_std([1.0, 2.0, 3.0]) == "2.00\u00a0±\u00a01.00"
    assert f.mean_std([float("nan")]) == "—"
    assert f.interval(0.1, 0.25) == "[0.10,\u00a00.25]" and f.interval(None, 1) == "—"


def test_html_table_is_padded_html_without_object_reprs():
    frame = pd.DataFrame({"n": [200, 50], "d": [10, 2], "rho": [0.1, None], "name": ["a<b", "c"],
                          "gain": [f.pm(1.234, 0.5), None]})
    table = f.html_table(frame, {"rho": 2}, caption="runs")
    bundle = table._repr_mimebundle_()
    html, text = bundle["text/html"], bundle["text/plain"]
    assert html.startswith(f'<div class="{f.TABLE_WRAP_CLASS}"><table class="{f.TABLE_CLASS}">')
    assert "<caption>runs</caption>" in html
    assert '<td class="num">200</td>' in html and '<td class="num">0.10</td>' in html
    assert '<td class="num">—</td>' in html  # the missing rho
    assert "a&lt;b" in html  # text is escaped
    assert "Styler" not in text and "0x" not in text and "object at" not in text
    assert "200" in text and "—" in text and "None" not in html + text and "nan" not in (html + text).lower()
    assert repr(table) == text


def test_html_table_badges_rows_and_details():
    frame = pd.DataFrame({"claim": ["c1", "c2"], "verdict": ["reproduced", "direction only"],
                          "why": ["because <b>x</b>", None]})
    frame["badge"] = [f.verdict_badge(v) for v in frame["verdict"]]
    table = f.html_table(frame, html_columns=["badge"], details="why",
                         row_classes=lambda row: f.verdict_class(row["verdict"]))
    assert '<span class="mfh-verdict verdict-reproduced">reproduced</span>' in table.html
    assert '<tr class="verdict-direction-only">' in table.html
    assert table.html.count("<details") == 1 and "because <b>x</b>" in table.html  # details hold HTML
    assert "<th>why</th>" not in table.html  # the folded column is not also a column
    assert "<span" not in table.text  # plain text strips the badges' markup


def test_verdict_and_check_classes():
    expected = {"reproduced": "verdict-reproduced", "direction only": "verdict-direction-only",
                "inconclusive": "verdict-inconclusive", "contradicted": "verdict-contradicted",
                "not testable": "verdict-not-testable"}
    for verdict, css in expected.items():
        assert f.verdict_class(verdict) == css
        assert css in f.verdict_badge(verdict)
    assert f.verdict_class("Something Else!") == "verdict-something-else"
    assert 'class="mfh-check check-pass"' in f.check_badge(True, "CI excludes 0")
    assert 'class="mfh-check check-fail"' in f.check_badge(False)
    folded = f.details("why", "<i>long</i>")
    assert folded.startswith('<details class="mfh-details"><summary>why</summary>') and "<i>long</i>" in folded
    assert " open" in f.details("s", "b", open=True) and "&lt;i&gt;" in f.details("s", "<i>", escape_body=True)


def test_css_defines_every_class_the_helpers_emit():
    from pathlib import Path

    css = (Path(__file__).resolve().parent.parent / "book" / "_static" / "mfh.css").read_text()
    for name in [*f.VERDICT_CLASSES.values(), *f.CHECK_CLASSES.values(), f.TABLE_CLASS, f.TABLE_WRAP_CLASS,
                 "mfh-verdict", "mfh-details", "mfh-panel"]:
        assert f".{name}" in css, f"book/_static/mfh.css does not style .{name}"


def test_api_links_use_the_objects_dotted_path():
    assert f.api_target(stats.summarize) == "mfh_lib.stats.summarize"
    assert f.api_target(stats.Summary) == "mfh_lib.stats.Summary"
    assert f.api_target(stats) == "mfh_lib.stats"
    assert f.api_url(stats.summarize) == "../api.html#mfh_lib.stats.summarize"
    assert f.api_url(stats.summarize, depth=0) == "api.html#mfh_lib.stats.summarize"
    link = f.api_link(stats.summarize)
    assert 'href="../api.html#mfh_lib.stats.summarize"' in link._repr_html_()
    assert link._repr_mimebundle_()["text/plain"] == "mfh_lib.stats.summarize"
    assert f.api_role(stats.summarize) == "{py:func}`mfh_lib.stats.summarize`"
    assert f.api_role(stats.Summary) == "{py:class}`mfh_lib.stats.Summary`"
    assert f.api_role(stats) == "{py:mod}`mfh_lib.stats`"
    line = f.api_links([stats.summarize, stats.mean_std])
    assert line._repr_html_().count("<a ") == 2 and "mfh_lib.stats.mean_std" in repr(line)
