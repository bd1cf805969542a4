"""The HTML book builds from the committed notebooks with warnings as errors (as `make html`).

The build itself is the session fixture ``book_html`` (conftest.py), shared with the browser test.
"""


def test_book_builds(book_html):
    assert (book_html / "intro.html").exists()
    assert (book_html / "chapters" / "99_claims_ledger.html").exists()
