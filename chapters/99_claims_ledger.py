# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Claims ledger
#
# Every claim the chapters test, paper beside ours, grouped by paper and by the chapter that
# reproduces its section. What each claim's test is — the statistic, its direction or margin, the
# unit of replication, the interval, the preconditions — was declared before any run, beside the
# paper's numbers in `mfh_lib/paper_numbers/*.json`; the chapters measured and the evidence engine
# (`mfh_lib.evidence`) decided. Nothing in the "ours" column is typed in: it was written by the
# chapters when they ran (`book/_results/*.json`).
#
# - **reproduced**: the 95% interval excludes "no effect" on the claimed side and, where the paper's
#   size is comparable, agrees with it (or an equivalence/value claim lies inside its declared margin);
# - **direction only**: significant in the claimed direction, but the size disagrees with the paper's;
# - **inconclusive**: the interval contains both no effect and the claimed effect — not enough data.
#   The details give the smallest effect this run could have detected and the replicates that would
#   resolve the claim;
# - **contradicted**: the interval lies on the other side of the null, outside an equivalence margin,
#   or (where declared) excludes every effect of practical size;
# - **not testable**: the reason is given; a failed precondition (the teacher does not beat the
#   student, say) makes a claim not testable automatically.
#
# The paper's claims, our own questions (labelled *ours*), and the checks (identities and
# by-construction facts that pass or fail and are never counted as reproduced claims) are kept apart.
# Absolute numbers measured on a stand-in or on substitute data are not comparable with the
# paper's; such rows are "not testable" and the relations are tested instead.

# %% tags=["parameters"]
results_dir = None  # None: book/_results (or $MFH_RESULTS_DIR)

# %% tags=["hide-input"]
from pathlib import Path

import pandas as pd
from IPython.display import HTML, display

from mfh_lib import claims, evidence

results_path = Path(results_dir) if results_dir else claims.results_dir()
rows = claims.load_all_results(results_path)
if not rows:
    raise FileNotFoundError(f"no chapter results in {results_path}; run the chapters first (make notebooks)")
ledger = pd.DataFrame(rows)
ledger["paper"] = ledger["chapter"].map(claims.paper_of_chapter)
claim_rows = ledger[ledger["category"] != evidence.CHECK]
check_rows = ledger[ledger["category"] == evidence.CHECK]


def rows_of(category: str) -> list[dict]:
    """The rows as the chapters wrote them (a DataFrame would turn absent fields into NaN)."""
    return [r for r in rows if r["category"] == category]

# %% [markdown]
# ## Summary
#
# Verdicts of the papers' claims and of our questions, per paper; the checks apart.

# %% tags=["hide-input", "full-width"]
counts = pd.crosstab([claim_rows["paper"], claim_rows["category"]], claim_rows["verdict"])
counts = counts.reindex(columns=[v for v in evidence.VERDICTS if v in counts.columns])
counts["all"] = counts.sum(axis=1)
display(HTML(claims.counts_html(counts)))
check_counts = check_rows["verdict"].value_counts().reindex([evidence.PASS, evidence.FAIL], fill_value=0)
print(f"checks: {check_counts[evidence.PASS]} pass, {check_counts[evidence.FAIL]} fail")
print("profiles:", "; ".join(f"{c}: {p}" for c, p in ledger.groupby("chapter")["profile"].first().items()))

# %% [markdown]
# ## The papers' claims
#
# One headline row per claim: the claim in words, the paper's number, ours with its 95% interval,
# the verdict. Open a row for the declared test, the interval method and unit, the preconditions
# and, for an inconclusive claim, what it would take.

# %% tags=["hide-input", "full-width"]
display(HTML(claims.ledger_html(rows_of(evidence.PAPER))))

# %% [markdown]
# ## Our questions
#
# Questions the papers do not ask (controls, mechanisms, extensions), labelled as ours.

# %% tags=["hide-input", "full-width"]
display(HTML(claims.ledger_html(rows_of(evidence.OURS))))

# %% [markdown]
# ## Checks
#
# Mathematical identities, by-construction facts and sanity bounds: they pass or fail; none of them
# is a reproduced claim.

# %% tags=["hide-input", "full-width"]
display(HTML(claims.checks_html(rows_of(evidence.CHECK))))
