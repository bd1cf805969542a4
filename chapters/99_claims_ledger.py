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
# Every claim the chapters test, with the paper's number beside ours. The paper's numbers come
# from `mfh_lib/paper_numbers/*.json` (typed once from the papers); everything in the "ours"
# columns was written by the chapters when they ran (`book/_results/*.json`): nothing here is typed
# in. A verdict is computed in its chapter from per-seed statistics:
#
# - **reproduced**: the claimed effect is there and its 95% CI excludes the opposite;
# - **partly**: the effect has the claimed sign but the CI includes no effect (or only some
#   settings reproduce);
# - **not reproduced**: the effect is absent or reversed;
# - **not testable**: the experiment cannot be run faithfully here (the "why" column says what is missing).
#
# Absolute numbers made on a stand-in or on substitute data (the "data" column) are not comparable
# with the paper's; such rows are judged on the direction of the claim, not on the value.

# %% tags=["parameters"]
results_dir = None  # None: book/_results (or $MFH_RESULTS_DIR)

# %% tags=["hide-input"]
from pathlib import Path

import pandas as pd
from IPython.display import HTML, Markdown, display

from mfh_lib import claims

results_path = Path(results_dir) if results_dir else claims.results_dir()
rows = claims.load_all_results(results_path)
if not rows:
    raise FileNotFoundError(f"no chapter results in {results_path}; run the chapters first (make notebooks)")
pd.set_option("display.max_colwidth", None)

# %% [markdown]
# ## Summary

# %% tags=["hide-input"]
ledger = pd.DataFrame(rows)
summary = pd.crosstab(ledger["chapter"], ledger["verdict"], margins=True, margins_name="all")
display(summary)
profiles = ledger.groupby("chapter")["profile"].agg(lambda p: ", ".join(sorted(set(p))))
print("profiles used:", "; ".join(f"{c}: {p}" for c, p in profiles.items()))

# %% [markdown]
# ## Claims by chapter

# %% tags=["hide-input", "full-width"]
for chapter, chapter_rows in ledger.groupby("chapter", sort=True):
    display(Markdown(f"**{chapter}**"))
    display(HTML(claims.ledger_frame(chapter_rows.to_dict("records")).to_html(index=False)))
