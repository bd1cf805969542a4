"""The built book as a reader sees it: headless Chromium, no network.

The book is built from the committed notebooks (as `make html`; or set ``MFH_BOOK_HTML`` to an
existing ``_build/html`` to reuse one) and every page of the table of contents is opened from disk
(``file://``, the README's way of reading it) in Debian's Chromium, with every request to anything
but the machine itself sent to a proxy that does not exist. Checked on each page:

- no request leaves the machine, and the HTML names no external script or stylesheet;
- the maths is typeset: every formula became a MathJax element (``mjx-container``), none is a
  MathJax error, and no raw TeX delimiter is left in the text outside code;
- every static "try it yourself" panel shows an image or a table, also after moving its sliders,
  and the chapters that build one have one;
- nothing widens the page (no horizontal page scroll at 1280 px), and no script error.

Chromium comes from ``make chromium`` (a prerequisite of ``make test``: ``apt-get install
chromium`` when it is missing and we are root). Where it cannot be installed the module is skipped,
and says why.
"""
from __future__ import annotations

import re
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import headless_chromium as hc  # noqa: E402

CHROMIUM = hc.find_chromium()
if CHROMIUM is None:
    pytest.skip("Chromium is not installed and could not be installed here (`make chromium` needs root and "
                "apt-get: `apt-get install -y chromium`); the real-browser checks of the book are skipped",
                allow_module_level=True)

pytestmark = pytest.mark.slow

TOC_PAGES = re.findall(r"^\s*(?:root|- file):\s*(\S+)", (ROOT / "book" / "_toc.yml").read_text(), flags=re.M)
PANEL_CHAPTERS = sorted(p.stem for p in (ROOT / "chapters").glob("*.py") if "static_panel(" in p.read_text())
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.I)


@pytest.fixture(scope="module")
def page():
    with hc.Chromium(CHROMIUM) as browser:
        yield browser.new_page()


# --- static checks of the HTML ------------------------------------------------------------------

class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag in ("script", "img", "iframe", "audio", "video", "source", "embed") and attrs.get("src"):
            self.refs.append((tag, attrs.get("rel") or "", attrs["src"]))
        if tag == "link" and attrs.get("href"):
            self.refs.append((tag, attrs.get("rel") or "", attrs["href"]))
        if tag == "a" and attrs.get("href"):
            self.refs.append((tag, "", attrs["href"]))


def _parse(path: Path) -> _Refs:
    parser = _Refs()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return parser


def test_html_references_no_external_script_or_stylesheet(book_html):
    offenders = []
    for path in sorted(book_html.rglob("*.html")):
        for tag, rel, url in _parse(path).refs:
            if tag != "a" and EXTERNAL.match(url) and rel not in ("canonical",):
                offenders.append(f"{path.relative_to(book_html)}: <{tag}> {url}")
    for path in sorted((book_html / "_static").rglob("*.css")):
        for url in re.findall(r"(?:url\(\s*['\"]?|@import\s+['\"])((?:https?:)?//[^'\")\s]+)", path.read_text(errors="replace")):
            offenders.append(f"{path.relative_to(book_html)}: {url}")
    assert not offenders, "external resources:\n" + "\n".join(offenders[:30])


def test_chapter_downloads_and_api_links_resolve(book_html):
    api_ids = _parse(book_html / "api.html").ids
    problems = []
    for path in sorted((book_html / "chapters").glob("*.html")):
        refs = _parse(path)
        hrefs = [url for tag, _, url in refs.refs if tag == "a"]
        notebook = [u for u in hrefs if u.endswith(f"{path.stem}.ipynb")]
        if not notebook:
            problems.append(f"{path.name}: no .ipynb download")
        results = [u for u in hrefs if u.endswith(f"_results/{path.stem}.json")]
        if (ROOT / "book" / "_results" / f"{path.stem}.json").exists() and not results:
            problems.append(f"{path.name}: no results .json download")
        for url in notebook + results:
            if not (path.parent / url.split("#")[0]).resolve().exists():
                problems.append(f"{path.name}: download {url} is missing from the build")
        for url in hrefs:
            if "api.html#" in url and url.split("#", 1)[1] not in api_ids:
                problems.append(f"{path.name}: {url} names no entry of the API reference")
    assert (book_html / "provenance.html").exists()
    assert not problems, "\n".join(problems)


# --- in the browser ------------------------------------------------------------------------------

RAW_TEX = r"""(function () {
  var copy = document.querySelector('main') ? document.querySelector('main').cloneNode(true) : document.body.cloneNode(true);
  copy.querySelectorAll('pre, code, script, style, textarea, mjx-container, .highlight, .sig').forEach(function (e) { e.remove(); });
  var text = copy.textContent;
  var found = text.match(/.{0,30}(\\\(|\\\[|\$\$).{0,30}/g);
  return found ? found.slice(0, 5) : [];
})()"""

MATHS = r"""(function () {
  var math = document.querySelectorAll('main .math');
  var untypeset = Array.prototype.filter.call(math, function (m) { return !m.querySelector('mjx-container'); });
  return {math: math.length, typeset: document.querySelectorAll('mjx-container').length,
          untypeset: untypeset.slice(0, 3).map(function (m) { return m.textContent.slice(0, 60); }),
          errors: document.querySelectorAll('mjx-merror, [data-mjx-error]').length};
})()"""

# The article column must not scroll sideways and code / printed output must wrap; only wide
# tables and panels may scroll, inside their own box.
OVERFLOW = r"""(function () {
  var out = [];
  var article = document.querySelector('.bd-article-container');
  if (article) {
    var right = article.getBoundingClientRect().right;
    var contained = function (e) {  // inside its own scroll box, or a cell tagged full-width (the theme's margin)
      for (var a = e.parentElement; a && a !== article; a = a.parentElement) {
        if (a.classList.contains('tag_full-width') || a.classList.contains('full-width')) { return true; }
        if (['auto', 'scroll', 'hidden'].indexOf(getComputedStyle(a).overflowX) >= 0) { return true; }
      }
      return e.classList.contains('tag_full-width');
    };
    article.querySelectorAll('*').forEach(function (e) {
      var box = e.getBoundingClientRect();
      if (box.width === 0 || box.right <= right + 1 || contained(e)) { return; }
      var parent = e.parentElement, parentBox = parent.getBoundingClientRect();
      if (parent !== article && parentBox.right > right + 1 && !contained(parent)) { return; }  // report the outermost
      out.push(e.tagName.toLowerCase() + '.' + e.className + ' ends ' + Math.round(box.right - right) + ' px past the column');
    });
  }
  document.querySelectorAll('main pre').forEach(function (pre) {
    if (pre.closest('.mfh-table-wrap, .mfh-panel')) { return; }
    if (pre.scrollWidth > pre.clientWidth + 1) {
      out.push('pre ' + pre.scrollWidth + '>' + pre.clientWidth + ': ' + pre.textContent.slice(0, 60));
    }
  });
  return out.slice(0, 5);
})()"""

PANEL_STATE = r"""(function () {
  return Array.prototype.map.call(document.querySelectorAll('.mfh-panel'), function (panel) {
    var visible = Array.prototype.filter.call(panel.querySelectorAll('.mfh-panel-frame'), function (f) { return !f.hidden; });
    var frame = visible[0];
    var images = frame ? Array.prototype.filter.call(frame.querySelectorAll('img'), function (i) { return i.complete && i.naturalWidth > 0 && i.getBoundingClientRect().width > 0; }) : [];
    var rows = frame ? frame.querySelectorAll('table tbody tr').length : 0;
    var controls = panel.querySelectorAll('[data-mfh-dim]');
    return {visible: visible.length, key: frame ? frame.getAttribute('data-mfh-key') : null, images: images.length, rows: rows,
            controls: controls.length, enabled: Array.prototype.every.call(controls, function (c) { return !c.disabled; })};
  });
})()"""

MOVE_SLIDERS = r"""(function () {
  document.querySelectorAll('.mfh-panel [data-mfh-dim]').forEach(function (c) {
    c.value = c.tagName === 'SELECT' ? String(c.options.length - 1) : c.max;
    c.dispatchEvent(new Event('input', {bubbles: true}));
    c.dispatchEvent(new Event('change', {bubbles: true}));
  });
  return true;
})()"""


def _check_panels(page, label):
    states = page.evaluate(PANEL_STATE)
    for i, state in enumerate(states):
        assert state["visible"] == 1, f"{label}: panel {i} shows {state['visible']} frames"
        assert state["images"] or state["rows"], f"{label}: panel {i} shows neither an image nor a table: {state}"
        assert state["enabled"], f"{label}: panel {i}'s controls were not enabled (its script did not run)"
    return states


@pytest.mark.parametrize("name", TOC_PAGES)
def test_page_reads_offline(book_html, page, name):
    path = book_html / f"{name}.html"
    assert path.exists(), f"{name} was not built"
    page.open(path.as_uri())
    assert not page.external_requests(), f"{name} requested: {page.external_requests()}"
    maths = page.evaluate(MATHS)
    assert not maths["untypeset"], f"{name}: formulas not typeset by MathJax: {maths['untypeset']}"
    assert maths["errors"] == 0, f"{name}: {maths['errors']} MathJax errors"
    if maths["math"]:
        assert maths["typeset"] >= maths["math"], f"{name}: {maths}"
    raw = page.evaluate(RAW_TEX)
    assert not raw, f"{name}: raw TeX left in the text: {raw}"
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1] + 1, f"{name}: the page is {width[0]} px wide in a {width[1]} px window"
    cut = page.evaluate(OVERFLOW)
    assert not cut, f"{name}: content runs past the right edge of its column: {cut}"
    assert not page.errors, f"{name}: script errors: {page.errors[:3]}"
    _check_panels(page, name)


@pytest.mark.parametrize("chapter", PANEL_CHAPTERS)
def test_static_panels_work_without_a_kernel(book_html, page, chapter):
    page.open((book_html / "chapters" / f"{chapter}.html").as_uri())
    before = _check_panels(page, chapter)
    assert before, f"chapters/{chapter}.py builds a static panel, but the page shows none (is the golden stale?)"
    page.evaluate(MOVE_SLIDERS)
    time.sleep(0.3)
    after = _check_panels(page, chapter + " after moving the sliders")
    for b, a in zip(before, after):
        if b["controls"]:
            assert a["key"] != b["key"], f"{chapter}: moving the sliders did not change the panel's output"
    assert not page.external_requests()


def test_search_results_show_typeset_maths(book_html, page):
    # the search page fetches result excerpts, which Chromium allows over http only: serve the book locally
    with hc.serve(book_html) as base:
        page.open(base + "search.html?q=gamma")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = page.evaluate("(document.getElementById('search-results') || {}).textContent || ''")
            if "Search finished" in text or "found" in text.lower():
                break
            time.sleep(0.5)
        time.sleep(2)  # excerpts arrive one by one; the book's script typesets each batch
        raw = page.evaluate(RAW_TEX.replace("document.querySelector('main')", "document.getElementById('search-results')"))
        external = page.external_requests(allowed_origin=base)
    assert "found" in text.lower(), f"search did not finish: {text[:200]!r}"
    assert not raw, f"raw TeX in search results: {raw}"
    assert not external, f"the search page requested {external}"
