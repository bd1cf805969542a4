"""Sphinx extension of the MFH book (loaded by ``_config.yml``: ``sphinx: local_extensions``).

What it does, all at build time from files in the repository (nothing typed by hand):

- **API reference**: the line ``<!-- mfh-api-modules -->`` in ``api.md`` becomes an overview table
  (autosummary) and one section per module of ``mfh_lib`` (found by walking the package, so a new module appears by itself), each an
  ``automodule`` with all members. Anchors are the objects' dotted paths
  (``api.html#mfh_lib.stats.summarize``). A docstring that plain reStructuredText cannot parse
  cleanly is shown verbatim (a literal block) instead of failing the ``-W`` build.
- **Provenance**: the line ``<!-- mfh-provenance -->`` in ``provenance.md`` becomes one table per
  chapter from ``_results/<chapter>.json`` (its ``provenance`` dict, when the ledger wrote one) and
  ``_results/provenance/<chapter>.json`` (written by ``scripts/run_chapters.py``); what neither
  records reads "not recorded". Both pages are re-read on every build.
- **Bench table**: the line ``<!-- mfh-bench -->`` in ``provenance.md`` becomes a table of wall
  times per chapter and profile on this project's 2-core CPUs: measured where a provenance record
  holds that profile's run (the smoke tier's quick run, the record tier's record/full run),
  estimated from the quick pilot where ``bench/record_sizing.json`` (scripts/size_record.py) sizes
  the record profile, each labelled which.
- **Comparison**: the line ``<!-- mfh-comparison -->`` in ``comparison.md`` becomes the verdicts of
  the published (record-tier) results beside the smoke tier's, per claim, and beside each committed
  re-run under ``_reruns/<label>/_results`` (e.g. a GPU run of a full profile), by
  ``scripts/compare_runs.py``.
- **Downloads**: every chapter's results JSON is copied to ``_results/`` in the HTML output and
  added to the page's download menu next to the theme's ``.ipynb``.
- **Notebook cells**: the parameters cell papermill injects (tag ``injected-parameters``) is removed
  (a note lists the injected values when they differ from the author's defaults), and a live
  ipywidgets output, blank without a kernel, becomes a note saying so.
- **Citations**: a pybtex style ``mfh_author_year`` whose labels read "Xue et al., 2023".
- MathJax is included on every page (search results and page contents hold maths too), from the
  vendored copy; sphinx-thebe's scripts (a CDN bundle, unused: no launch buttons) are dropped.
"""
from __future__ import annotations

import importlib
import io
import json
import pkgutil
import re
import shutil
from collections import Counter
from pathlib import Path

from docutils import nodes

BOOK = Path(__file__).resolve().parent.parent
RESULTS = BOOK / "_results"  # the record tier (scripts/run_chapters.py)
PROVENANCE = RESULTS / "provenance"
SMOKE_RESULTS = BOOK.parent / "tests" / "smoke" / "_results"  # the smoke tier: quick runs, nbval's goldens
RERUNS = BOOK / "_reruns"  # committed re-runs (<label>/_results), compared with the record
SIZING = BOOK.parent / "bench" / "record_sizing.json"
API_MARKER = "<!-- mfh-api-modules -->"
PROVENANCE_MARKER = "<!-- mfh-provenance -->"
BENCH_MARKER = "<!-- mfh-bench -->"
COMPARISON_MARKER = "<!-- mfh-comparison -->"
RECORD_PROFILES = ("record", "full")
NOT_RECORDED = "not recorded"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
LIVE_PANEL_NOTE = ("Live panel (ipywidgets): it needs a running kernel, so it is empty in this static page. "
                   "Open the notebook in Jupyter to use it; the precomputed panel above works here.")


# --- API reference -------------------------------------------------------------------------------

def library_modules(package: str = "mfh_lib") -> list[str]:
    """Every importable module of ``package``, sorted, the package itself first."""
    root = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(root.__path__, prefix=package + "."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        names.append(info.name)
    return [names[0]] + sorted(names[1:])


def api_markdown() -> str:
    modules = library_modules()
    overview = "\n".join(f"   {name}" for name in modules)
    parts = [f"## Modules\n\n```{{eval-rst}}\n.. autosummary::\n\n{overview}\n```\n"]
    for name in modules:
        # autodoc emits reStructuredText, so the directive runs inside eval-rst
        parts.append(f"## `{name}`\n\n```{{eval-rst}}\n.. automodule:: {name}\n   :members:\n"
                     "   :undoc-members:\n   :show-inheritance:\n   :member-order: bysource\n```\n")
    return "\n".join(parts)


_SPHINX_ROLE = re.compile(r":(?:[a-zA-Z0-9_-]+:)?[a-zA-Z0-9_-]+:`([^`]*)`")


def _rst_problems(text: str) -> str:
    """Warnings plain docutils reports for ``text`` (Sphinx roles neutralised first)."""
    from docutils.core import publish_doctree

    stream = io.StringIO()
    probe = _SPHINX_ROLE.sub(lambda m: "``" + m.group(1).replace("`", "") + "``", text)
    try:
        publish_doctree(probe, settings_overrides={"report_level": 2, "halt_level": 5, "warning_stream": stream,
                                                   "file_insertion_enabled": False, "raw_enabled": False})
    except Exception as err:  # anything docutils chokes on
        return str(err)
    return stream.getvalue()


def safe_docstring(app, what, name, obj, options, lines):
    """Show a docstring verbatim when reStructuredText would mangle it (or warn and fail -W)."""
    text = "\n".join(lines)
    if not text.strip() or not _rst_problems(text):
        return
    lines[:] = ["::", ""] + ["    " + line for line in text.splitlines()] + [""]


# --- provenance ----------------------------------------------------------------------------------

def _load_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def chapter_names() -> list[str]:
    names = {p.stem for p in RESULTS.glob("*.json")} | {p.stem for p in PROVENANCE.glob("*.json")}
    names |= {p.stem for p in (BOOK / "chapters").glob("*.ipynb")}
    return sorted(names)


def _value(*candidates):
    for value in candidates:
        if value is None or value == "" or value == [] or value == {}:
            continue
        return value
    return None


def _show(value) -> str:
    if value is None:
        return f"*{NOT_RECORDED}*"
    if isinstance(value, float):
        return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, int) for v in value) and list(value) == list(range(value[0], value[0] + len(value))):
            return f"{len(value)} ({value[0]} to {value[-1]})" if len(value) > 1 else str(value[0])
        return ", ".join(_escape(str(v)) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{_escape(str(k))} {_escape(str(v))}" for k, v in value.items())
    return _escape(str(value))


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def provenance_rows(chapter: str) -> list[tuple[str, str]]:
    results = _load_json(RESULTS / f"{chapter}.json")
    ledger = results.get("provenance") or {}
    record = _load_json(PROVENANCE / f"{chapter}.json")
    claims = results.get("claims") or []
    sources = sorted({row.get("data_source") for row in claims if row.get("data_source")})
    data = record.get("data") or {}
    versions = _value(record.get("versions"), ledger.get("versions"))
    git = record.get("git") or {}
    commit = _value(git.get("commit"), ledger.get("git_commit"), ledger.get("commit"))
    if commit and git.get("dirty"):
        commit = f"{commit} (uncommitted changes)"
    seeds = _value(record.get("seeds"), ledger.get("seeds"))
    if seeds is None:
        counts = sorted({row.get("n_seeds") for row in claims if isinstance(row.get("n_seeds"), int)})
        seeds = f"{', '.join(map(str, counts))} per claim (from the results)" if counts else None
    rows = [
        ("profile", _value(ledger.get("profile"), record.get("profile"), results.get("profile"))),
        ("seeds", seeds),
        ("device", _value(ledger.get("device"), record.get("device"))),
        ("wall time", _value(record.get("wall_time_s"), ledger.get("wall_time_s"))),
        ("data source", _value(ledger.get("data_source"), data.get("sources"), sources)),
        ("data content hash", _value(ledger.get("data_hash"), data.get("hash"))),
        ("results file SHA-256", record.get("results_sha256")),
        ("library versions", versions),
        ("git commit", commit),
        ("date", _value(record.get("finished"), ledger.get("date"))),
    ]
    return [(name, _show(value)) for name, value in rows]


def provenance_markdown() -> str:
    parts = []
    for chapter in chapter_names():
        notebook = BOOK / "chapters" / f"{chapter}.ipynb"
        parts.append(f"### {chapter}\n")
        links = []
        if notebook.exists():
            links.append(f"[the chapter](chapters/{chapter}.ipynb)")
            links.append(f"{{download}}`notebook (.ipynb) <chapters/{chapter}.ipynb>`")
        if (RESULTS / f"{chapter}.json").exists():
            links.append(f"{{download}}`results (.json) <_results/{chapter}.json>`")
        if (PROVENANCE / f"{chapter}.json").exists():
            links.append(f"{{download}}`provenance record (.json) <_results/provenance/{chapter}.json>`")
        if links:
            parts.append(" · ".join(links) + "\n")
        parts.append("| record | value |\n|---|---|")
        for name, value in provenance_rows(chapter):
            parts.append(f"| {name} | {value} |")
        parts.append("")
    if not parts:
        parts.append(f"*No chapter has been executed yet: {NOT_RECORDED}.*")
    return "\n".join(parts) + "\n"


# --- bench table ---------------------------------------------------------------------------------

def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 600:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def bench_rows() -> list[dict]:
    """Per chapter: the published page's profile, and each profile's wall time with its label
    (measured: a provenance record of that profile; estimated: bench/record_sizing.json)."""
    sizing = {c["chapter"]: c for c in _load_json(SIZING).get("chapters", [])}
    rows = []
    for chapter in chapter_names():
        published = _load_json(PROVENANCE / f"{chapter}.json")
        smoke = _load_json(SMOKE_RESULTS / "provenance" / f"{chapter}.json")
        row = {"chapter": chapter, "published": published.get("profile"), "gpu": None}
        quick = smoke if smoke.get("profile") == "quick" else published if published.get("profile") == "quick" else {}
        row["quick"] = (quick.get("wall_time_s"), "measured") if quick.get("wall_time_s") is not None else (None, None)
        estimate = sizing.get(chapter, {}).get("estimated_record_time_s")
        row["record"] = (estimate, "estimated") if estimate is not None else (None, None)
        row["full"] = (None, None)
        if published.get("profile") in RECORD_PROFILES and published.get("wall_time_s") is not None:
            if str(published.get("device") or "").startswith("cuda"):
                row["gpu"] = (published["wall_time_s"], f"measured, {published['profile']}, {published['device']}")
            else:
                row[published["profile"]] = (published["wall_time_s"], "measured")
        rows.append(row)
    return rows


def bench_markdown() -> str:
    rows = [r for r in bench_rows() if r["chapter"] != "99_claims_ledger" or r["quick"][0] is not None]
    if not rows:
        return f"*No chapter has been executed yet: {NOT_RECORDED}.*\n"
    def cell(value):
        seconds, label = value
        return "—" if seconds is None else f"{_duration(seconds)} ({label})"
    lines = ["| chapter | published profile | quick | record | full | GPU |", "|---|---|---|---|---|---|"]
    for r in rows:
        gpu = cell(r["gpu"]) if r["gpu"] else "—"
        lines.append(f"| {r['chapter']} | {_show(r['published'])} | {cell(r['quick'])} | {cell(r['record'])} | "
                     f"{cell(r['full'])} | {gpu} |")
    lines.append("\n— : neither measured nor estimated.")
    return "\n".join(lines) + "\n"


# --- comparison ----------------------------------------------------------------------------------

def _compare_runs():
    import sys

    scripts = str(BOOK.parent / "scripts")
    if scripts not in sys.path:
        sys.path.insert(0, scripts)
    import compare_runs

    return compare_runs


def comparison_page_markdown() -> str:
    compare = _compare_runs()
    record = compare.load_results(RESULTS)
    parts = [compare.comparison_markdown(record, compare.load_results(SMOKE_RESULTS), "record", "smoke (quick)",
                                         heading="##")]
    for folder in sorted(p for p in RERUNS.glob("*/_results") if p.is_dir()):
        parts.append(compare.comparison_markdown(record, compare.load_results(folder), "record",
                                                 f"re-run {folder.parent.name}", heading="##"))
    return "\n".join(parts)


# --- hooks ---------------------------------------------------------------------------------------

GENERATED_DOCS = {"api": [(API_MARKER, api_markdown)],
                  "provenance": [(BENCH_MARKER, bench_markdown), (PROVENANCE_MARKER, provenance_markdown)],
                  "comparison": [(COMPARISON_MARKER, comparison_page_markdown)]}


def fill_generated(app, docname, source):
    for marker, make in GENERATED_DOCS.get(docname, []):
        if marker in source[0]:
            source[0] = source[0].replace(marker, make())


def always_reread(app, env, added, changed, removed):
    return [d for d in GENERATED_DOCS if d in env.found_docs and d not in added | changed]


def _cell_tags(node) -> list:
    return list((node.get("cell_metadata") or {}).get("tags", []))


def _assignments(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")}


def tidy_notebook_cells(app, doctree):
    """Remove papermill's injected parameters cell; replace blank live-widget outputs by a note."""
    cells = [n for n in doctree.findall(nodes.container) if n.get("nb_element") == "cell_code"]
    author = next((c for c in cells if "parameters" in _cell_tags(c)), None)
    for cell in cells:
        if "injected-parameters" in _cell_tags(cell):
            injected = "".join(n.astext() for n in cell.findall(nodes.literal_block))
            authored = "".join(n.astext() for n in author.findall(nodes.literal_block)) if author else ""
            changed = sorted(_assignments(injected) - _assignments(authored))
            if changed and author is not None:
                note = nodes.container(classes=["mfh-injected-note"])
                para = nodes.paragraph(text="This page was executed with these parameters (injected by papermill): ")
                para += nodes.literal(text="; ".join(changed))
                note += para
                author.parent.insert(author.parent.index(author) + 1, note)
            cell.parent.remove(cell)
    for raw in list(doctree.findall(nodes.raw)):
        if WIDGET_VIEW in raw.astext():
            note = nodes.paragraph(text=LIVE_PANEL_NOTE, classes=["mfh-live-panel-note"])
            raw.replace_self(note)


def add_results_download(app, pagename, templatename, context, doctree):
    chapter = pagename.split("/")[-1]
    if not pagename.startswith("chapters/") or not (RESULTS / f"{chapter}.json").exists():
        return
    for button in context.get("header_buttons", []):
        if button.get("label") == "download-buttons":
            button["buttons"].insert(1, {
                "type": "link",
                "url": context["pathto"](f"_results/{chapter}.json", 1),
                "text": ".json",
                "tooltip": "Download this chapter's results (JSON)",
                "icon": "fas fa-table",
                "label": "download-results-button",
            })


def drop_thebe(app, pagename, templatename, context, doctree):
    """Jupyter Book always loads sphinx-thebe, whose inline config is added twice (a JavaScript
    SyntaxError on every page) and names a CDN bundle; the book has no launch buttons, so drop it."""
    def keep(script) -> bool:
        name = str(getattr(script, "filename", script) or "")
        body = str(getattr(script, "attributes", {}).get("body", "")) if hasattr(script, "attributes") else ""
        return "sphinx-thebe" not in name and "THEBE_JS_URL" not in body
    if "script_files" in context:
        context["script_files"] = [s for s in context["script_files"] if keep(s)]
    if "css_files" in context:
        context["css_files"] = [c for c in context["css_files"] if "sphinx-thebe" not in str(getattr(c, "filename", c))]


def copy_results(app, exc):
    if exc is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_results"
    (target / "provenance").mkdir(parents=True, exist_ok=True)
    for path in RESULTS.glob("*.json"):
        shutil.copyfile(path, target / path.name)
    for path in PROVENANCE.glob("*.json"):
        shutil.copyfile(path, target / "provenance" / path.name)


# --- citations -----------------------------------------------------------------------------------

def register_citation_style() -> None:
    from pybtex.plugin import register_plugin
    from pybtex.richtext import Text
    from pybtex.style.formatting.unsrt import Style as UnsrtStyle
    from pybtex.style.labels import BaseLabelStyle

    def plain(latex: str) -> str:
        return Text.from_latex(latex).render_as("text")

    class AuthorYearLabels(BaseLabelStyle):
        """Labels "Xue et al., 2023", "Lopez-Paz and Bottou ..." ; a repeated label gets a, b, ..."""

        def format_label(self, entry) -> str:
            persons = entry.persons.get("author") or entry.persons.get("editor") or []
            names = [plain(" ".join(p.prelast_names + p.last_names)) for p in persons]
            if not names:
                who = plain(entry.fields.get("title", entry.key)).split(":")[0]
            elif len(names) == 1:
                who = names[0]
            elif len(names) == 2:
                who = f"{names[0]} and {names[1]}"
            else:
                who = f"{names[0]} et al."
            return f"{who}, {entry.fields.get('year', 'n.d.')}"

        def format_labels(self, sorted_entries):
            labels = [self.format_label(e) for e in sorted_entries]
            counts, seen = Counter(labels), Counter()
            for label in labels:
                if counts[label] > 1:
                    seen[label] += 1
                    yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
                else:
                    yield label

    class AuthorYearStyle(UnsrtStyle):
        default_label_style = AuthorYearLabels
        default_sorting_style = "author_year_title"

    register_plugin("pybtex.style.formatting", "mfh_author_year", AuthorYearStyle, force=True)


def use_offline_mathjax(app, config):
    """sphinx-mathjax-offline points Sphinx at its CHTML build, whose web fonts Chromium refuses to
    load from file:// pages; the SVG build needs no fonts, so maths renders from a folder too."""
    config.mathjax_path = config.mfh_mathjax_path


def setup(app):
    app.add_config_value("mfh_mathjax_path", "mathjax/tex-svg.js", "html")
    app.connect("config-inited", use_offline_mathjax, priority=900)
    app.setup_extension("sphinx.ext.autodoc")
    app.setup_extension("sphinx.ext.viewcode")
    register_citation_style()
    app.set_html_assets_policy("always")  # MathJax on every page: search results and tables of contents
    app.connect("source-read", fill_generated)
    app.connect("env-get-outdated", always_reread)
    app.connect("doctree-read", tidy_notebook_cells)
    app.connect("autodoc-process-docstring", safe_docstring)
    app.connect("html-page-context", add_results_download, priority=502)
    app.connect("html-page-context", drop_thebe, priority=900)
    app.connect("build-finished", copy_results)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":  # `python book/_ext/mfh_book.py bench`: the bench table, e.g. for the README
    import sys

    print(bench_markdown() if sys.argv[1:] == ["bench"] else "usage: python book/_ext/mfh_book.py bench")
