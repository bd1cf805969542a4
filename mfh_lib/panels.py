"""Static "try it yourself" panels: precomputed outputs behind sliders, no kernel needed.

A live ``ipywidgets`` panel needs a running kernel, so in the static HTML book it is blank. A
static panel evaluates a function once per point of a small grid of slider values while the
chapter executes, and emits self-contained HTML: one slider (or drop-down) per parameter and the
precomputed output of every grid point (matplotlib figures as embedded PNG, tables as HTML).
A few lines of inline JavaScript, without any external script, show the output that matches the
sliders; without JavaScript the default point's output is shown and the sliders stay disabled.
For example::

    panel = static_panel(view, {"rho": [0.0, 0.5, 1.0], "temperature": [1.0, 4.0]},
                         labels={"rho": "KD weight ρ", "temperature": "T"}, default={"rho": 0.5})
    display(panel)

``view(rho=..., temperature=...)`` returns a matplotlib figure, a pandas DataFrame, an
:class:`~mfh_lib.formatting.HTMLTable`, anything with ``_repr_html_``, a string (shown as
preformatted text), or a list/tuple of these (shown one below the other).

The output is deterministic (no timings, no random element ids, PNGs without a software/date
stamp), so nbval can compare it like any other output. :func:`live_panel` builds the equivalent
live ipywidgets panel over the same grid for a reader with a kernel.
"""
from __future__ import annotations

import base64
import html
import io
import itertools
import json
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from mfh_lib import formatting

PANEL_CLASS = "mfh-panel"
MAX_FRAMES = 400

# The same snippet follows every panel; it wires up every panel not yet wired, so it is idempotent.
_SCRIPT = """<script>(function () {
  var each = function (list, f) { Array.prototype.forEach.call(list, f); };
  each(document.querySelectorAll(".mfh-panel:not([data-mfh-ready])"), function (panel) {
    panel.setAttribute("data-mfh-ready", "1");
    var controls = panel.querySelectorAll("[data-mfh-dim]");
    var frames = panel.querySelectorAll(".mfh-panel-frame");
    var update = function () {
      var key = Array.prototype.map.call(controls, function (c) {
        var labels = JSON.parse(c.getAttribute("data-mfh-labels"));
        var shown = c.parentNode.querySelector(".mfh-panel-value");
        if (shown) { shown.textContent = labels[+c.value]; }
        return c.value;
      }).join("-");
      each(frames, function (f) { f.hidden = f.getAttribute("data-mfh-key") !== key; });
    };
    each(controls, function (c) {
      c.disabled = false;
      c.addEventListener("input", update);
      c.addEventListener("change", update);
    });
    update();
  });
})();</script>"""


def figure_to_png(fig, dpi: int = 80, colors: int | None = 128) -> bytes:
    """PNG bytes of a matplotlib figure, without the metadata that would differ between runs.

    ``colors``: quantise to a palette of that many colours (median cut, no dithering: deterministic),
    which makes a plot about four times smaller with no visible change; ``None`` keeps full colour.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    if colors is None:
        return buffer.getvalue()
    from PIL import Image

    image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    image = image.quantize(colors=int(colors), method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _is_figure(result: Any) -> bool:
    return type(result).__name__ in ("Figure", "SubFigure") and hasattr(result, "savefig")


def render_output(result: Any, *, dpi: int = 80, alt: str = "", colors: int | None = 128) -> str:
    """The HTML fragment one grid point shows (see the module docstring for what ``result`` may be)."""
    if isinstance(result, (list, tuple)):
        return "".join(render_output(part, dpi=dpi, alt=alt, colors=colors) for part in result)
    if result is None:
        return f'<p class="mfh-panel-empty">{formatting.DASH}</p>'
    if _is_figure(result):
        import matplotlib.pyplot as plt

        data = base64.b64encode(figure_to_png(result, dpi=dpi, colors=colors)).decode("ascii")
        plt.close(result)
        return f'<img class="mfh-panel-image" src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'
    if isinstance(result, pd.DataFrame):
        return formatting.html_table(result).html
    if isinstance(result, formatting.HTMLTable):
        return result.html
    if hasattr(result, "_repr_html_"):
        return result._repr_html_()
    return f'<pre class="mfh-panel-text">{html.escape(str(result))}</pre>'


def _value_label(value: Any, value_format: Callable[[Any], str] | str | None) -> str:
    if callable(value_format):
        return str(value_format(value))
    if isinstance(value_format, str):
        return format(value, value_format)
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, numbers.Integral)):
        return f"{float(value):g}"  # slider positions: 0.5, 1, 1e-05 (the value as typed, not padded)
    return formatting.fmt(value) if isinstance(value, numbers.Number) else str(value)


class StaticPanel(formatting.HTMLTable):
    """A precomputed panel: HTML with sliders for the book and Jupyter, a one-line text otherwise."""

    def __init__(self, html_text: str, text: str, num_frames: int):
        super().__init__(html_text, text)
        self.num_frames = num_frames


def static_panel(func: Callable[..., Any], grid: Mapping[str, Sequence[Any]], *, title: str | None = None,
                 labels: Mapping[str, str] | None = None,
                 value_formats: Mapping[str, Callable[[Any], str] | str] | None = None,
                 default: Mapping[str, Any] | None = None, dpi: int = 80, colors: int | None = 128,
                 note: str | None = None, max_frames: int = MAX_FRAMES) -> StaticPanel:
    """Evaluate ``func(**point)`` at every point of ``grid`` and return the static panel.

    ``grid`` maps each keyword of ``func`` to the values its slider offers (in slider order);
    numeric values get a range slider, other values a drop-down. ``labels`` name the sliders,
    ``value_formats`` print their values (default: :func:`mfh_lib.formatting.fmt`), ``default``
    picks the point shown first (default: each slider's first value). ``dpi`` and ``colors`` size
    the PNG of a figure (see :func:`figure_to_png`). ``note`` replaces the line
    under the panel that says how many settings were precomputed.
    Figures that ``func`` creates are closed after rendering, so nothing else lands in the cell's output.
    """
    import matplotlib.pyplot as plt

    names = list(grid)
    if not names:
        raise ValueError("a panel needs at least one slider")
    values = {name: list(grid[name]) for name in names}
    for name, options in values.items():
        if not options:
            raise ValueError(f"slider {name!r} has no values")
    num_frames = 1
    for options in values.values():
        num_frames *= len(options)
    if num_frames > max_frames:
        raise ValueError(f"{num_frames} grid points is more than max_frames={max_frames}: use fewer values")
    labels = dict(labels or {})
    value_formats = dict(value_formats or {})
    default = dict(default or {})
    unknown = set(default) - set(names)
    if unknown:
        raise ValueError(f"default names sliders that are not in the grid: {sorted(unknown)}")
    start = []
    for name in names:
        if name in default:
            if default[name] not in values[name]:
                raise ValueError(f"default {name}={default[name]!r} is not one of the grid's values {values[name]}")
            start.append(values[name].index(default[name]))
        else:
            start.append(0)
    value_labels = {name: [_value_label(v, value_formats.get(name)) for v in values[name]] for name in names}

    parts = [f'<div class="{PANEL_CLASS}">']
    if title:
        parts.append(f'<div class="mfh-panel-title">{html.escape(title)}</div>')
    parts.append('<div class="mfh-panel-controls">')
    for dim, name in enumerate(names):
        label = html.escape(labels.get(name, name))
        options = value_labels[name]
        data = html.escape(json.dumps(options, ensure_ascii=False), quote=True)
        numeric = all(isinstance(v, numbers.Number) and not isinstance(v, bool) for v in values[name])
        parts.append(f'<label class="mfh-panel-control"><span class="mfh-panel-label">{label}</span>')
        if numeric:
            parts.append(f'<input type="range" class="mfh-panel-slider" min="0" max="{len(options) - 1}" step="1" '
                         f'value="{start[dim]}" data-mfh-dim="{dim}" data-mfh-labels="{data}" '
                         f'aria-label="{label}" disabled>')
            parts.append(f'<output class="mfh-panel-value">{html.escape(options[start[dim]])}</output>')
        else:
            parts.append(f'<select class="mfh-panel-select" data-mfh-dim="{dim}" data-mfh-labels="{data}" '
                         f'aria-label="{label}" disabled>')
            for index, option in enumerate(options):
                selected = " selected" if index == start[dim] else ""
                parts.append(f'<option value="{index}"{selected}>{html.escape(option)}</option>')
            parts.append("</select>")
        parts.append("</label>")
    parts.append('</div><div class="mfh-panel-frames">')
    for index in itertools.product(*(range(len(values[name])) for name in names)):
        point = {name: values[name][i] for name, i in zip(names, index)}
        alt = ", ".join(f"{labels.get(name, name)} = {value_labels[name][i]}" for name, i in zip(names, index))
        before = set(plt.get_fignums())
        content = render_output(func(**point), dpi=dpi, alt=alt, colors=colors)
        for number in set(plt.get_fignums()) - before:  # figures func made but did not return
            plt.close(number)
        key = "-".join(str(i) for i in index)
        hidden = "" if list(index) == start else " hidden"
        parts.append(f'<div class="mfh-panel-frame" data-mfh-key="{key}"{hidden}>{content}</div>')
    parts.append("</div>")
    dims = " × ".join(labels.get(name, name) for name in names)
    line = note if note is not None else (
        f"Precomputed for {num_frames} settings ({dims}) when this chapter ran; "
        "move the sliders to switch between them. Other values need the live panel (a running kernel).")
    parts.append(f'<div class="mfh-panel-note">{html.escape(line)}</div>')
    parts.append(_SCRIPT)
    parts.append("</div>")
    text = f"static panel{': ' + title if title else ''} ({num_frames} precomputed settings over {dims})"
    return StaticPanel("".join(parts), text, num_frames)


def _show(result: Any) -> None:
    from IPython.display import display

    if isinstance(result, (list, tuple)):
        for part in result:
            _show(part)
    elif _is_figure(result):
        display(result)
        import matplotlib.pyplot as plt

        plt.close(result)
    elif isinstance(result, pd.DataFrame):
        display(formatting.html_table(result))
    elif result is not None:
        display(result)


def live_panel(func: Callable[..., Any], grid: Mapping[str, Sequence[Any]], *,
               labels: Mapping[str, str] | None = None, default: Mapping[str, Any] | None = None):
    """The live counterpart of :func:`static_panel` for a reader with a kernel: ipywidgets
    selection sliders (drop-downs for non-numbers) over the same grid, re-running ``func`` on change."""
    import ipywidgets as widgets

    labels = dict(labels or {})
    default = dict(default or {})
    controls = {}
    for name, options in grid.items():
        options = list(options)
        pairs = [(_value_label(v, None), v) for v in options]
        value = default.get(name, options[0])
        description = labels.get(name, name)
        if all(isinstance(v, numbers.Number) and not isinstance(v, bool) for v in options):
            controls[name] = widgets.SelectionSlider(options=pairs, value=value, description=description,
                                                     continuous_update=False)
        else:
            controls[name] = widgets.Dropdown(options=pairs, value=value, description=description)
    output = widgets.interactive_output(lambda **point: _show(func(**point)), controls)
    return widgets.VBox([widgets.HBox(list(controls.values())), output])
