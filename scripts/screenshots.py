"""Screenshots of a few key pages of the built book, for the README (headless Chromium, offline).

    python scripts/screenshots.py [--html book/_build/html] [--out book/_static/screenshots]

Build the book first (``make html``). Uses the same driver as ``tests/test_browser.py``
(``scripts/headless_chromium.py``: Debian's chromium, no network). Each PNG is a 1280 x 800 view,
quantised to a small palette so it stays small (about 100 kB).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import headless_chromium as hc  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

# (output name, page, CSS selector to scroll into view or None, caption)
SHOTS = (
    ("intro", "intro.html", None, "the book's first page"),
    ("theorem1_maths", "chapters/03_theorem1.html", None, "Theorem 1, maths typeset offline"),
    ("gaussian_panel", "chapters/02_gaussian_mvd.html", ".mfh-panel", "a precomputed 'try it yourself' panel"),
    ("theorem1_panel", "chapters/03_theorem1.html", ".mfh-panel", "a precomputed panel with a table"),
    ("claims_ledger", "chapters/99_claims_ledger.html", None, "the claims ledger"),
    ("provenance", "provenance.html", None, "the generated provenance page"),
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--html", type=Path, default=ROOT / "book" / "_build" / "html", help="the built book")
    parser.add_argument("--out", type=Path, default=ROOT / "book" / "_static" / "screenshots")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=800)
    args = parser.parse_args(argv)
    args.html = args.html.resolve()  # file:// URIs need an absolute path
    if not (args.html / "intro.html").exists():
        print(f"no built book in {args.html}: run `make html` first", file=sys.stderr)
        return 2
    if hc.find_chromium() is None:
        print("Chromium is not installed: `make chromium` (root) or `apt-get install -y chromium`", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with hc.Chromium(width=args.width, height=args.height) as browser:
        page = browser.new_page()
        page.send("Emulation.setDeviceMetricsOverride", {"width": args.width, "height": args.height,
                                                         "deviceScaleFactor": 1, "mobile": False})
        for name, url, selector, caption in SHOTS:
            path = args.html / url
            if not path.exists():
                print(f"skip {name}: {url} was not built")
                continue
            page.open(path.as_uri())
            if selector:
                found = page.evaluate(f"(function () {{ var e = document.querySelector({selector!r}); "
                                      "if (!e) { return false; } e.scrollIntoView({block: 'start'}); "
                                      "window.scrollBy(0, -80); return true; })()")
                if not found:
                    print(f"skip {name}: {url} has no {selector}")
                    continue
                time.sleep(0.3)
            if page.external_requests():
                print(f"warning: {url} requested {page.external_requests()}", file=sys.stderr)
            target = args.out / f"{name}.png"
            page.screenshot(target, width=args.width, height=args.height)
            print(f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}: {caption} "
                  f"({target.stat().st_size // 1024} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
