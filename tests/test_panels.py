"""mfh_lib.panels: static "try it yourself" panels that work without a kernel."""
import base64
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from mfh_lib import formatting, panels  # noqa: E402


def figure_view(a, b):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [0, a, 2 * a], label=b)
    ax.set_title(f"a = {a}, {b}")
    return fig


def table_view(n, scale):
    return pd.DataFrame({"n": [n], "scale": [scale], "value": [n * (2.0 if scale == "x2" else 1.0)]})


def test_figure_panel_embeds_one_png_per_grid_point():
    before = plt.get_fignums()
    panel = panels.static_panel(figure_view, {"a": [0.5, 1.0, 2.0], "b": ["up", "down"]}, default={"a": 1.0},
                                labels={"a": "slope a"}, title="demo")
    assert plt.get_fignums() == before  # figures are closed: nothing else lands in the cell's output
    html = panel._repr_html_()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == panel.num_frames == 6
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    frames = re.findall(r'<div class="mfh-panel-frame" data-mfh-key="([\d-]+)"( hidden)?>', html)
    assert [k for k, _ in frames] == ["0-0", "0-1", "1-0", "1-1", "2-0", "2-1"]
    assert [k for k, hidden in frames if not hidden] == ["1-0"]  # the default point is the one shown first
    assert 'type="range"' in html and "<select" in html  # numbers get a slider, strings a drop-down
    assert 'value="1"' in html and "slope a" in html and "demo" in html
    assert "<script>" in html and "src=\"http" not in html and "<script src" not in html  # self-contained
    assert panel._repr_mimebundle_()["text/plain"] == "static panel: demo (6 precomputed settings over slope a × b)"


def test_panel_output_is_deterministic():
    first = panels.static_panel(figure_view, {"a": [1.0, 2.0], "b": ["up"]})
    second = panels.static_panel(figure_view, {"a": [1.0, 2.0], "b": ["up"]})
    assert first.html == second.html  # no timings, random ids or PNG timestamps: nbval can compare it
    assert not re.search(r'\bid="', first.html)


def test_table_panel_and_mixed_outputs():
    panel = panels.static_panel(table_view, {"n": [10, 20], "scale": ["x1", "x2"]})
    assert panel.html.count('<table class="mfh-table">') == 4
    assert ">40.0<" in panel.html  # n = 20, x2 through the book's formatter
    mixed = panels.static_panel(lambda k: [formatting.html_table(table_view(k, "x1")), f"k = {k}"], {"k": [1, 2]})
    assert mixed.html.count("<table") == 2 and mixed.html.count('<pre class="mfh-panel-text">') == 2


def test_figure_png_has_no_run_specific_metadata():
    fig = figure_view(1.0, "up")
    png = panels.figure_to_png(fig)
    plt.close(fig)
    assert b"Software" not in png and b"matplotlib" not in png.lower()


def test_bad_grids_are_refused():
    with pytest.raises(ValueError, match="at least one slider"):
        panels.static_panel(table_view, {})
    with pytest.raises(ValueError, match="no values"):
        panels.static_panel(table_view, {"n": [], "scale": ["x1"]})
    with pytest.raises(ValueError, match="not one of the grid"):
        panels.static_panel(table_view, {"n": [1], "scale": ["x1"]}, default={"n": 5})
    with pytest.raises(ValueError, match="max_frames"):
        panels.static_panel(table_view, {"n": list(range(30)), "scale": ["a", "b"]}, max_frames=50)


def test_live_panel_builds_widgets_over_the_same_grid():
    widgets = pytest.importorskip("ipywidgets")
    box = panels.live_panel(table_view, {"n": [10, 20], "scale": ["x1", "x2"]}, default={"n": 20})
    controls = box.children[0].children
    assert isinstance(controls[0], widgets.SelectionSlider) and controls[0].value == 20
    assert isinstance(controls[1], widgets.Dropdown)
