"""One number formatter and one HTML table for the whole book.

Numbers: :func:`fmt` (fixed decimals or significant figures, "—" for a missing value, never
"-0.00") and :func:`pm` ("m ± s" joined by non-breaking spaces, so a table cell never wraps as
"70.87 ±" / "5.23").

Tables: :func:`html_table` turns a :class:`pandas.DataFrame` into a padded HTML table with the
book's CSS class (``mfh-table``, styled by ``book/_static/mfh.css``) inside a box that scrolls
horizontally on its own, so a wide table never widens the page. The object it returns displays as
that HTML in the book and in Jupyter, and as a plain-text table elsewhere (no object repr such as
``<pandas.io.formats.style.Styler at 0x...>`` in the outputs).

Ledger helpers: :func:`verdict_badge` and :func:`verdict_class` (CSS classes ``verdict-reproduced``,
``verdict-direction-only``, ``verdict-inconclusive``, ``verdict-contradicted``,
``verdict-not-testable``), :func:`check_badge` (``check-pass`` / ``check-fail``) and
:func:`details` (a ``<details>`` fold; :func:`html_table` can fold one per row).

Source links: :func:`api_link` links an output to a function's entry in the book's API reference
(page ``api.html``, anchor = the object's dotted path, e.g. ``api.html#mfh_lib.stats.summarize``);
:func:`api_role` gives the MyST role for a markdown cell, which Sphinx checks at build time.
"""
from __future__ import annotations

import html
import math
import numbers
import re
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

DASH = "—"
NBSP = "\u00a0"
PLUS_MINUS = f"{NBSP}±{NBSP}"
TABLE_CLASS = "mfh-table"
TABLE_WRAP_CLASS = "mfh-table-wrap"
DEFAULT_SIG = 3

VERDICT_CLASSES = {
    "reproduced": "verdict-reproduced",
    "direction only": "verdict-direction-only",
    "inconclusive": "verdict-inconclusive",
    "contradicted": "verdict-contradicted",
    "not testable": "verdict-not-testable",
}
CHECK_CLASSES = {True: "check-pass", False: "check-fail"}

API_PAGE = "api.html"

_NEGATIVE_ZERO = re.compile(r"^-(0(\.0*)?)(e[+-]?\d+)?(%?)$")


# --- numbers -------------------------------------------------------------------------------------

def is_missing(value: Any) -> bool:
    """True for ``None``, NaN, ``pd.NA`` and ``NaT`` (what a table shows as "—")."""
    if value is None:
        return True
    if isinstance(value, (str, bytes)):
        return False
    try:
        result = pd.isna(value)
    except (TypeError, ValueError):
        return False
    return bool(result) if np.ndim(result) == 0 else False


def _decimals_for_sig(value: float, sig: int) -> int:
    if value == 0:
        return max(sig - 1, 0)
    return max(sig - 1 - int(math.floor(math.log10(abs(value)))), 0)


def _strip_negative_zero(text: str) -> str:
    match = _NEGATIVE_ZERO.match(text)
    return text[1:] if match else text


def fmt(value: Any, digits: int | None = None, *, sig: int | None = None, signed: bool = False,
        percent: bool = False, missing: str = DASH) -> str:
    """Format one number for a table or a sentence.

    ``digits``: fixed number of decimals; otherwise ``sig`` significant figures (default 3, the
    integer part is never rounded away: 12345.6 -> "12346"). Integers print as integers unless
    ``digits`` is given. Magnitudes below 1e-4 or from 1e6 on use scientific notation ("1.23e-05").
    ``None``/NaN give ``missing`` ("—"); a value that rounds to zero never prints as "-0.00";
    ``signed`` adds "+" to positive numbers; ``percent`` multiplies by 100 and appends "%".
    Strings pass through unchanged; booleans print as "yes"/"no".
    """
    if is_missing(value):
        return missing
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if hasattr(value, "item") and np.ndim(value) == 0:  # numpy / torch scalars
        value = value.item()
    if not isinstance(value, numbers.Number):
        return str(value)
    if isinstance(value, complex):
        return str(value)
    suffix = ""
    if percent:
        value, suffix = value * 100, "%"
    if isinstance(value, numbers.Integral) and digits is None:
        text = f"{int(value):d}"
    else:
        value = float(value)
        if math.isinf(value):
            text = "∞" if value > 0 else "-∞"
        elif digits is not None:
            text = f"{value:.{int(digits)}f}"
        else:
            sig = DEFAULT_SIG if sig is None else int(sig)
            magnitude = abs(value)
            if magnitude == 0:
                text = "0"
            elif magnitude < 1e-4 or magnitude >= 1e6:
                text = f"{value:.{max(sig - 1, 0)}e}"
            else:
                text = f"{value:.{_decimals_for_sig(value, sig)}f}"
                # rounding may add a digit (9.995 -> 10.00); re-round once at the new magnitude
                rounded = float(text)
                if rounded != 0 and _decimals_for_sig(rounded, sig) < _decimals_for_sig(value, sig):
                    text = f"{rounded:.{_decimals_for_sig(rounded, sig)}f}"
        text = _strip_negative_zero(text)
    if signed and not text.startswith("-") and text not in ("0", "∞") and float(
            text.replace("∞", "inf")) != 0:
        text = "+" + text
    return text + suffix


def pm(mean: Any, std: Any, digits: int | None = 2, *, sig: int | None = None, signed: bool = False) -> str:
    """"m ± s" with the same decimals on both sides and non-breaking spaces around "±".

    A missing ``std`` gives the mean alone, a missing ``mean`` gives "—". With ``digits=None``,
    the decimals follow ``sig`` significant figures of the standard deviation.
    """
    if is_missing(mean):
        return DASH
    if digits is None:
        sig = DEFAULT_SIG if sig is None else sig
        spread = abs(float(std)) if not is_missing(std) and float(std) != 0 else abs(float(mean))
        if spread != 0 and (spread < 1e-4 or spread >= 1e6):  # tiny or huge: scientific on both sides
            left = fmt(mean, sig=sig, signed=signed)
            return left if is_missing(std) else f"{left}{PLUS_MINUS}{fmt(abs(float(std)), sig=sig)}"
        digits = _decimals_for_sig(spread, sig) if spread else 2
    left = fmt(mean, digits, signed=signed)
    if is_missing(std):
        return left
    return f"{left}{PLUS_MINUS}{fmt(abs(float(std)), digits)}"


def mean_std(values: Iterable[float], digits: int = 2, *, signed: bool = False) -> str:
    """"m ± s" of ``values`` (sample standard deviation, ddof = 1; 0 for a single value)."""
    array = np.asarray(list(values) if not hasattr(values, "__array__") else values, dtype=float).ravel()
    array = array[~np.isnan(array)]
    if array.size == 0:
        return DASH
    std = float(array.std(ddof=1)) if array.size > 1 else 0.0
    return pm(float(array.mean()), std, digits, signed=signed)


def interval(low: Any, high: Any, digits: int | None = 2, *, sig: int | None = None) -> str:
    """"[low, high]" (a confidence interval) with one formatter; "—" when either end is missing."""
    if is_missing(low) or is_missing(high):
        return DASH
    return f"[{fmt(low, digits, sig=sig)},{NBSP}{fmt(high, digits, sig=sig)}]"


Formatter = Callable[[Any], str] | int | str | None


def _formatter(spec: Formatter, digits: int | None, sig: int | None) -> Callable[[Any], str]:
    if callable(spec):
        return lambda v: DASH if is_missing(v) else str(spec(v))
    if isinstance(spec, int) and not isinstance(spec, bool):
        return lambda v: fmt(v, spec)
    if isinstance(spec, str):
        if spec.startswith("sig:"):
            n = int(spec[4:])
            return lambda v: fmt(v, sig=n)
        if spec == "text":
            return lambda v: DASH if is_missing(v) else str(v)
        if spec == "percent":
            return lambda v: fmt(v, 1, percent=True)
        if spec == "signed":
            return lambda v: fmt(v, digits, sig=sig, signed=True)
        return lambda v: DASH if is_missing(v) else format(v, spec.strip("{:}"))
    return lambda v: fmt(v, digits, sig=sig)


def format_frame(frame: pd.DataFrame, formats: Mapping[str, Formatter] | None = None, *,
                 digits: int | None = None, sig: int | None = None) -> pd.DataFrame:
    """Every cell of ``frame`` as a string, through :func:`fmt` unless ``formats`` names a column.

    ``formats`` maps a column to decimals (int), ``"sig:N"``, ``"signed"``, ``"percent"``,
    ``"text"``, a format spec such as ``".3g"``, or a callable.
    """
    formats = dict(formats or {})
    out = {}
    for column in frame.columns:
        render = _formatter(formats.get(column), digits, sig)
        out[column] = [render(v) for v in frame[column].tolist()]
    result = pd.DataFrame(out, index=frame.index)
    result.columns = frame.columns
    return result


# --- HTML tables ---------------------------------------------------------------------------------

def _is_number(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, (numbers.Number, np.number)) or is_missing(value)


def _strip_tags(text: Any) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", str(text)))


def _column_label(column: Any) -> str:
    if isinstance(column, tuple):
        return " / ".join(str(c) for c in column if str(c))
    return str(column)


class HTML:
    """Ready HTML that displays as itself in the book and Jupyter, with a plain-text fallback."""

    def __init__(self, html_text: str, text: str | None = None):
        self.html = html_text
        self.text = text if text is not None else _strip_tags(html_text)

    def _repr_html_(self) -> str:
        return self.html

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": self.html, "text/plain": self.text}

    def __repr__(self) -> str:
        return self.text


class HTMLTable(HTML):
    """A rendered table: HTML for the book and Jupyter, plain text for everything else."""


def html_table(frame: pd.DataFrame, formats: Mapping[str, Formatter] | None = None, *,
               digits: int | None = None, sig: int | None = None, index: bool = False,
               caption: str | None = None, html_columns: Sequence[str] = (),
               nowrap_columns: Sequence[str] = (), details: str | Callable[[Mapping], str] | None = None,
               details_summary: str = "details", row_classes: Callable[[Mapping], str] | None = None,
               css_class: str | None = None) -> HTMLTable:
    """``frame`` as a padded HTML table with the book's CSS class, in a horizontally scrolling box.

    ``formats``/``digits``/``sig`` as in :func:`format_frame`. Numeric columns are right-aligned and
    never wrap; columns in ``nowrap_columns`` do not wrap either; text columns wrap. Columns in
    ``html_columns`` hold ready HTML (e.g. :func:`verdict_badge`) and are not escaped.
    ``details`` (a column name, or a function of the row) folds extra HTML under each row in a
    ``<details>`` element spanning the table (that column is then not shown as a column);
    ``row_classes`` gives each row extra CSS classes (e.g. ``verdict_class(row["verdict"])``).
    """
    frame = frame.reset_index() if index else frame
    html_columns = set(html_columns)
    nowrap = set(nowrap_columns)
    shown = [c for c in frame.columns if not (isinstance(details, str) and c == details)]
    formatted = format_frame(frame[shown], formats, digits=digits, sig=sig)
    numeric = {c for c in shown if c not in html_columns
               and all(_is_number(v) for v in frame[c].tolist())
               and not all(is_missing(v) for v in frame[c].tolist())}
    classes = " ".join(filter(None, [TABLE_CLASS, css_class]))
    parts = [f'<div class="{TABLE_WRAP_CLASS}"><table class="{classes}">']
    if caption:
        parts.append(f"<caption>{html.escape(caption)}</caption>")
    parts.append("<thead><tr>")
    for c in shown:
        cls = ' class="num"' if c in numeric else ""
        parts.append(f"<th{cls}>{html.escape(_column_label(c))}</th>")
    parts.append("</tr></thead><tbody>")
    records = frame.to_dict("records")
    for position, record in enumerate(records):
        extra = row_classes(record) if row_classes else ""
        parts.append(f'<tr class="{html.escape(extra)}">' if extra else "<tr>")
        for c in shown:
            cell = formatted[c].iloc[position]
            text = str(record[c]) if c in html_columns and not is_missing(record[c]) else html.escape(cell)
            cell_classes = (["num"] if c in numeric else []) + (["nowrap"] if c in nowrap else [])
            cls = f' class="{" ".join(cell_classes)}"' if cell_classes else ""
            parts.append(f"<td{cls}>{text}</td>")
        parts.append("</tr>")
        if details is not None:
            body = record.get(details) if isinstance(details, str) else details(record)
            if not is_missing(body) and str(body):
                parts.append(f'<tr class="mfh-details-row"><td colspan="{len(shown)}">'
                             f"{_details_html(details_summary, str(body), escape_summary=True)}</td></tr>")
    parts.append("</tbody></table></div>")
    plain = formatted.copy()
    for c in shown:
        if c in html_columns:
            plain[c] = [_strip_tags(v) if not is_missing(v) else DASH for v in frame[c].tolist()]
    plain.columns = [_column_label(c) for c in shown]
    text = plain.to_string(index=False) if len(plain) else "(empty table: " + ", ".join(plain.columns) + ")"
    if caption:
        text = f"{caption}\n{text}"
    return HTMLTable("".join(parts), text)


# --- ledger helpers ------------------------------------------------------------------------------

def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")


def verdict_class(verdict: str) -> str:
    """The CSS class of a verdict: ``"direction only"`` -> ``"verdict-direction-only"``."""
    return VERDICT_CLASSES.get(str(verdict).lower(), "verdict-" + _slug(verdict))


def verdict_badge(verdict: str, text: str | None = None) -> str:
    """A coloured badge (``<span class="mfh-verdict verdict-...">``) for a verdict."""
    label = verdict if text is None else text
    return f'<span class="mfh-verdict {verdict_class(verdict)}">{html.escape(str(label))}</span>'


def check_badge(passed: bool, text: str | None = None) -> str:
    """"✓ text" / "✗ text" with class ``check-pass`` / ``check-fail``."""
    mark = "✓" if passed else "✗"
    label = mark if text is None else f"{mark}{NBSP}{text}"
    return f'<span class="mfh-check {CHECK_CLASSES[bool(passed)]}">{html.escape(label)}</span>'


def _details_html(summary: str, body: str, *, open: bool = False, escape_summary: bool = True,
                  css_class: str = "mfh-details") -> str:
    head = html.escape(summary) if escape_summary else summary
    flag = " open" if open else ""
    return f'<details class="{css_class}"{flag}><summary>{head}</summary><div class="mfh-details-body">{body}</div></details>'


def details(summary: str, body: str, *, open: bool = False, escape_summary: bool = True,
            escape_body: bool = False, css_class: str = "mfh-details") -> str:
    """A folded block: ``<details class="mfh-details"><summary>summary</summary>body</details>``.

    ``body`` is HTML unless ``escape_body``; works without JavaScript.
    """
    text = html.escape(body) if escape_body else body
    return _details_html(summary, text, open=open, escape_summary=escape_summary, css_class=css_class)


# --- links to the API reference ------------------------------------------------------------------

def api_target(obj: Any) -> str:
    """The dotted path that names ``obj`` in the API reference (its HTML anchor), e.g.
    ``mfh_lib.stats.summarize`` or ``mfh_lib.gaussian_kd.KDResults.summary``. A string passes through."""
    if isinstance(obj, str):
        return obj
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    target = getattr(obj, "__wrapped__", obj)
    module = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    if module is None or qualname is None:
        raise TypeError(f"cannot name {obj!r} in the API reference")
    return f"{module}.{qualname}"


def api_url(obj: Any, depth: int = 1) -> str:
    """Relative URL of ``obj``'s API entry from a page ``depth`` folders below the book root
    (chapters live in ``chapters/``, hence 1): ``../api.html#mfh_lib.stats.summarize``."""
    return "../" * depth + f"{API_PAGE}#{api_target(obj)}"


def api_link(obj: Any, text: str | None = None, depth: int = 1) -> HTML:
    """A link from an output to ``obj``'s entry in the API reference (see :func:`api_url`).

    ``display(api_link(stats.summarize))`` shows ``mfh_lib.stats.summarize`` as code, linked.
    """
    target = api_target(obj)
    label = html.escape(text if text is not None else target)
    link = (f'<a class="reference internal mfh-api-link" href="{html.escape(api_url(target, depth))}">'
            f'<code class="xref py py-obj docutils literal notranslate">{label}</code></a>')
    return HTML(link, text if text is not None else target)


def api_links(objects: Iterable[Any], depth: int = 1, label: str = "Code that did the work:") -> HTML:
    """One line of :func:`api_link` links, e.g. for a chapter's "how it was run" section."""
    links = [api_link(o, depth=depth) for o in objects]
    head = f'<span class="mfh-api-links-label">{html.escape(label)}</span> ' if label else ""
    body = ", ".join(link.html for link in links)
    return HTML(f'<p class="mfh-api-links">{head}{body}</p>',
                (label + " " if label else "") + ", ".join(link.text for link in links))


def api_role(obj: Any) -> str:
    """The MyST role for a markdown cell, ``{py:func}`mfh_lib.stats.summarize```; Sphinx resolves
    and checks it at build time (``-n``), so a renamed function fails the build."""
    if isinstance(obj, str):
        kind = "obj"
    elif isinstance(obj, types.ModuleType):
        kind = "mod"
    elif isinstance(obj, type):
        kind = "class"
    elif "." in getattr(obj, "__qualname__", ""):
        kind = "meth"
    else:
        kind = "func"
    return f"{{py:{kind}}}`{api_target(obj)}`"
