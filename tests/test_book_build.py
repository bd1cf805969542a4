"""The HTML book builds from the committed record tier with warnings as errors (as `make book`).

The build itself is the session fixture ``book_html`` (conftest.py), shared with the browser test.
"""


def test_book_builds(book_html):
    assert (book_html / "intro.html").exists()
    assert (book_html / "chapters" / "99_claims_ledger.html").exists()


def test_provenance_and_comparison_pages_are_generated(book_html):
    provenance = (book_html / "provenance.html").read_text()
    assert "mfh-bench" not in provenance and "published profile" in provenance  # the bench table
    comparison = (book_html / "comparison.html").read_text()
    assert "mfh-comparison" not in comparison and "against record" in comparison
