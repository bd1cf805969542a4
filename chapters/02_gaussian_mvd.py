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
# # The Gaussian modality Venn diagram
#
# The cleanest test of the modality focusing hypothesis (MFH) is synthetic: when the data are
# generated from a known modality Venn diagram (MVD), the share $\gamma$ of label-relevant
# ("decisive") features that the two modalities have in common is a dial we can turn. This chapter
# reproduces the three Gaussian experiments of {cite}`xue2023mfh` (Sec. 4.2, Sec. 5.2, App. B.2),
# which extend the Gaussian distillation example of {cite}`lopezpaz2016unifying` to two modalities:
#
# - **Fig. 2** — as $\gamma$ grows from 0 to 1, crossmodal KD goes from hurting the student to
#   helping it ("+2.1%" at $\gamma = 1$), while the teacher's accuracy barely moves.
# - **Fig. 3** — as the teacher's modality-specific share $\alpha$ grows (so $\gamma = 1 - \alpha$
#   shrinks), the teacher gets *better* but the student does not benefit.
# - **Table 2** — a *modality-general* teacher, trained on the shared decisive features only, is
#   more than 10 points worse than the regular teacher yet distils a better student (~+2 points).
#
# Beyond the paper we run four controls beside the KD student (a noise teacher, a born-again
# teacher, label smoothing at the teacher's confidence and a teacher that is statistically a copy
# of the student), map the KD gain over the whole $(\gamma, \alpha)$ simplex, show how much the
# results depend on the weighting of the KD term (the paper's eq. (1) vs the authors' code), and end
# with a panel to re-run any configuration live. Every table below is made from the **stand-in
# (synthetic, planted MVD)**: here the stand-in *is* the paper's data-generating process, so the
# paper's sizes are comparable with ours and are tested as sizes.

# %% tags=["parameters"]
profile = "quick"
seeds = None  # None: the profile's number of seeds (runs use seeds 0 .. seeds-1)
device = "auto"
data_dir = None  # unused: this chapter's data are generated (kept for a uniform interface)
weighting = "paper"  # or "authors_code": the KD weighting of the authors' script (see below)

# %%
import numpy as np
import pandas as pd
import torch
from dataclasses import replace
from IPython.display import display

from myst_nb import glue

from mfh_lib import claims, config, panels, plotting, stats
from mfh_lib import gaussian_report as report
from mfh_lib.data.gaussian_mvd import spec_from_counts, spec_from_sizes
from mfh_lib.gaussian_kd import (CONTROL_CONDITIONS, KDSettings, gain_phase_diagram, gain_table, run_kd_cached,
                                 run_kd_controls_cached)

config.set_threads(2)
cfg = config.load_profile("02_gaussian_mvd", profile, seeds=seeds)
device = config.pick_device(device)
data_dir = config.resolve_data_dir(data_dir)  # real data are never needed here
seed_list = list(range(int(cfg["seeds"])))
# Fig. 2 with its controls and Table 2 carry the headline claims and get more seeds (a seeds
# override sets both counts)
headline_seed_list = list(range(int(cfg["headline_seeds"] if seeds is None else cfg["seeds"])))
config.seed_everything(0)
plotting.use_book_style()
pd.set_option("display.max_colwidth", 80)

DATA_SOURCE = "stand-in (synthetic, planted MVD)"
CHAPTER = "02_gaussian_mvd"
UNIT = "seeds and data draws"  # every seed redraws the hyperplane, the data and the initialisations
settings = KDSettings(num_train=cfg["num_train"], num_test=cfg["num_test"], num_epochs=cfg["num_epochs"],
                      lr=cfg["lr"], rho=cfg["rho"], temperature=cfg["temperature"], weighting=weighting,
                      score=cfg["score"])
ledger = claims.Ledger(CHAPTER, profile, DATA_SOURCE, device=str(device), data_hash=None)


def run(specs, settings, seeds=seed_list, **kwargs):
    """All (setting, seed) runs of one experiment, trained as one batched problem (cached)."""
    return run_kd_cached(specs, seeds, settings, namespace=CHAPTER, device=device, **kwargs)


def show_claims(*claim_ids):
    """The ledger rows of these claims: estimate, 95% interval, units, verdict and why."""
    display(claims.ledger_frame([ledger.rows[c] for c in claim_ids]))


for key, value in (("seeds", len(seed_list)), ("headline_seeds", len(headline_seed_list)), ("epochs", settings.num_epochs),
                   ("n_train", settings.num_train), ("n_test", settings.num_test), ("lr", settings.lr),
                   ("rho", settings.rho), ("temperature", settings.temperature)):
    glue(f"ch02_{key}", value, display=False)
print(f"profile={profile}: {len(seed_list)} seeds ({len(headline_seed_list)} for Fig. 2, its controls and Table 2), "
      f"{settings.num_epochs} epochs, n_train={settings.num_train}, scored by {settings.score} accuracy, "
      f"weighting={settings.weighting}, rho={settings.rho}, T={settings.temperature}")

# %% [markdown]
# ## The generator, eq. (27)
#
# A run draws $n$ i.i.d. triples $(x^a, x^b, y)$:
#
# $$x^* \sim \mathcal N(0, I_d),\quad y = \mathbb 1(\langle \delta, x^* \rangle > 0),\quad
#   x^a \sim \mathcal N(0, I_{d_1}),\ x^a_{J_1} \leftarrow x^*_{J_1},\quad
#   x^b \sim \mathcal N(0, I_{d_2}),\ x^b_{J_2} \leftarrow x^*_{J_2}.$$
#
# $J_1$ ($J_2$) indexes the decisive features modality $a$ ($b$) sees; $J_1 \cap J_2$ are the
# modality-general ones. With $U = |J_1 \cup J_2|$: $\gamma = |J_1 \cap J_2| / U$,
# $\alpha = 1 - |J_2|/U$ (only $a$ sees them), $\beta = 1 - |J_1|/U$, and $\alpha+\beta+\gamma = 1$.
# When $d > U$, the decisive coordinates outside $J_1 \cup J_2$ are seen by neither modality and
# act as label noise for both. $\delta \sim \mathcal N(0, I_d)$ is drawn once per run.
#
# The appendix fixes the dimensions but not the index sets; we take them from the authors' public
# code (`gauss/main.py`, `gauss/main_modify_gamma.py`; differences are listed at the end), up to a
# relabelling of coordinates, which changes nothing because all coordinates are i.i.d.:
#
# | experiment | $d_1$ | $d_2$ | $d$ | $\lvert J_1\rvert$ | $\lvert J_2\rvert$ | swept |
# |---|---|---|---|---|---|---|
# | Fig. 2 | 25 | 50 | 20 | 10 | 10 | overlap $k = 0..10$ step 2, $\gamma = k/(20-k)$ |
# | Fig. 3 | 50 | 50 | 50 | $10 + m$ | 10 (all shared) | $m = 0..40$ step 10, $\alpha = m/(m+10)$ |
# | Table 2 | 50 | 50 | $\lvert J_1\rvert$ | $m + s$ | $s$ (all shared) | $\gamma = s/(m+s) \in \{.25, .5, .75\}$ |
#
# **Fig. 3's six alpha values.** App. B.2 lists $\alpha \in [0, .5, .67, .75, .8, .83]$ but also
# says $d = U$ runs from 10 to 50 in steps of 10, which gives only five values; $\alpha = 0.83 =
# 50/60$ would need $|J_1| = 60 > d_1 = 50$ decisive columns in $x^a$. The authors' code runs the
# five values $[0, .5, .67, .75, .8]$, and so do we. The code also keeps $d = 50$ fixed (the
# decisive features the teacher does not see yet are label noise), rather than $d = U$ as the
# appendix's text says; only the code's reading lets "the teacher gradually improves since it
# receives more modality-specific decisive features" happen — under $d = U$ the teacher sees every
# decisive feature at every $\alpha$. We run both readings below.

# %%
fig2_specs = [spec_from_sizes(25, 50, 20, 10, 10, overlap) for overlap in range(0, 11, 2)]
fig3_specs = [spec_from_counts(50, 50, 50, m, 0, 10) for m in range(0, 41, 10)]
fig3_literal_specs = [spec_from_counts(50, 50, 10 + m, m, 0, 10) for m in range(0, 41, 10)]
# Table 2: (only-a, shared) counts; m = 10 as in the authors' script where it reaches the paper's
# gamma, and (15, 5) for gamma = 0.25, which m = 10 cannot give.
table2_counts = [(15, 5), (10, 10), (10, 30)]
table2_specs = [spec_from_counts(50, 50, m + s, m, 0, s) for m, s in table2_counts]
display(report.spec_table(fig2_specs))

# %% [markdown]
# ## Teacher, students and the objective
#
# Teacher and students are logistic-regression models, `nn.Linear(d, 2)` with a softmax over two
# logits as in the authors' code, trained by full-batch gradient descent (lr {glue:text}`ch02_lr`,
# {glue:text}`ch02_epochs` epochs, no momentum or weight decay, PyTorch's default initialisation), on
# $n =$ {glue:text}`ch02_n_train` training pairs (App. B.2: 200 for training, 1,000 for testing).
# Per run we train
#
# - the **teacher** on $x^a$ with cross-entropy,
# - the **no-KD student** on $x^b$ with cross-entropy,
# - the **KD student** on $x^b$ with eq. (1),
#   $\mathcal L = \rho\,\mathrm{CE}(y, f_s(x^b)) + (1-\rho)\,T^2\,\mathrm{KL}(f_t(x^a)/T \,\|\, f_s(x^b)/T)$
#   with $\rho = 0.5$, $T = 1$ ({cite}`hinton2015distilling`; `mfh_lib.losses.kd_loss`).
#
# The two students start from the same initial weights, so their per-seed difference — the **KD
# gain** — isolates the effect of distillation.
#
# **Scoring.** The authors score each model on a test draw of 1,000 pairs, whose sampling noise
# (a standard error of $\sqrt{p(1-p)/1000}$, over a point at these accuracies) is as large as the
# effects in question. For a linear rule on eq. (27)
# the accuracy on the whole distribution has a closed form: the rule's score $u = v^\top x^b + c$ and
# $z = \langle\delta, x^*\rangle$ are jointly normal with correlation $r$, and with $m = c/\lVert v\rVert$,
# $\Pr[\operatorname{sign} u = \operatorname{sign} z] = \tfrac12 + 2\,T(m, r/\sqrt{1-r^2})$ (Owen's $T$;
# $1 - \arccos(r)/\pi$ without bias; `mfh_lib.gaussian_kd.population_accuracy`, checked against Monte
# Carlo in `tests/test_gaussian_mvd.py`). Every accuracy in this chapter is this exact population
# accuracy (`score` in the config), the quantity a 1,000-point test set estimates; the learning
# curves below still use the test draw.
#
# **Which weighting.** The paper states $\rho = 0.5$; the authors' script instead minimises
# `1.0 * CE + 1.0 * KLDivLoss()`, and `KLDivLoss`'s default `'mean'` reduction averages over the
# batch *and* the two classes, so its KD term is half the per-sample KL: the script trains with
# CE + 0.5 KL (an effective $\rho = 2/3$ at 1.5 times the step size). We follow the paper's text
# (the `weighting` parameter switches to the script's) and show the sensitivity further down.
#
# **Batching.** All runs of an experiment — every setting times every seed — are trained at once:
# the $R$ weight matrices are stacked into one $(R, 2, D)$ tensor and two batched matrix-vector
# products per step (the closed-form gradient of eq. (1) for two logits) serve them all — about
# 60 times faster than a Python loop over `nn.Linear` models (`bench/bench_gaussian_kd.py`).
# Settings whose modality is narrower than $D$ are zero-padded. This is
# exact for a linear model: a zero input column adds nothing to any logit, and its weight's
# gradient (the column times the logit gradient) is zero, so padded weights never move; each run's
# real weights are initialised as `nn.Linear` of its true width would be. The modality-general
# teacher of Table 2 uses the same trick — the columns of $x^a$ outside $J_1 \cap J_2$ are zeroed,
# which is the paper's "other channels removed". `tests/test_gaussian_mvd.py` checks the batched
# runs against one-at-a-time training.

# %% [markdown]
# ## Fig. 2: increasing the modality-general share $\gamma$
#
# The Fig. 2 settings (and Table 2) carry the chapter's headline claims, so they run with
# {glue:text}`ch02_headline_seeds` seeds (the other experiments with {glue:text}`ch02_seeds`). The same
# batched call also trains the control students of the next section and a seventh setting, the
# statistically identical teacher.

# %%
# gamma = 1 with d1 = d2 = 50: the teacher modality is distributed exactly as the student's
identical_spec = spec_from_sizes(50, 50, 20, 10, 10, 10)
fig2 = run_kd_controls_cached(fig2_specs + [identical_spec], headline_seed_list, settings, namespace=CHAPTER,
                              device=device)
FIG2, IDENTICAL = slice(0, len(fig2_specs)), len(fig2_specs)  # rows of fig2: the sweep, then the copy
fig2_gamma = np.array([s.gamma for s in fig2_specs])
fig2_gain = fig2.gain("KD")[FIG2].numpy()  # (settings, seeds)
display(report.accuracy_table(fig2_specs, {"teacher": fig2.teacher_acc, "no-KD": fig2.no_kd_acc,
                                    "KD": fig2.student_acc["KD"], "KD gain": fig2.gain("KD")}))

# %%
report.plot_sweep(fig2_gamma, fig2.teacher_acc[FIG2], fig2.no_kd_acc[FIG2], fig2.student_acc["KD"][FIG2], r"$\gamma$",
           f"Fig. 2 reproduced ({DATA_SOURCE}, {len(headline_seed_list)} seeds)")

# %% [markdown]
# In the authors' layout, as in ours, the teacher sees 10 of the 20 decisive features in every
# setting; only *which* of them the student shares changes. Because the settings of one seed share
# the draw of $x^*$ (common random numbers), the teacher is here literally the same model across
# the sweep — "the teacher accuracy does not vary much during this process" holds by construction
# (the claim is tested below, but it cannot fail in this layout) — while the no-KD student (10 of
# 20 decisive features, in 50 dimensions) is also the same in distribution. Everything that moves
# is the KD student.
#
# The tests, declared before the run in `mfh_lib/paper_numbers/02_gaussian_mvd.json` (the
# evidence engine, `mfh_lib.evidence`, turns each estimate into a verdict):
#
# - the gain at $\gamma = 1$: paired KD − no-KD difference per seed, t interval over seeds; it is
#   *reproduced* when the interval lies above 0 **and** the paper's +2.1 lies inside it or within
#   {glue:text}`ch02_gain_margin` points of our mean (the generator is the paper's, so the size is
#   comparable), *direction only* when it is positive but of another size;
# - KD hurts at $\gamma = 0$: the same difference, interval below 0;
# - "gain grows with $\gamma$": the Spearman correlation between $\gamma$ and the seed-mean gain
#   over the six settings, with a percentile-bootstrap interval that resamples seeds (each seed
#   redraws hyperplane, data and initialisations, so seeds are the unit of replication);
# - "the teacher does not vary much": the per-seed range of the teacher's accuracy over the six
#   settings must lie within {glue:text}`ch02_teacher_margin` points of 0 (equivalence, TOST).

# %%
teacher_range = (fig2.teacher_acc[FIG2].amax(0) - fig2.teacher_acc[FIG2].amin(0)).numpy()
ledger.test("fig2_gain_gamma1", stats.mean_estimate(fig2_gain[-1], unit=UNIT, what="KD gain at gamma = 1"))
ledger.test("fig2_kd_fails_gamma0", stats.mean_estimate(fig2_gain[0], unit=UNIT, what="KD gain at gamma = 0"))
ledger.test("fig2_gain_grows_with_gamma", stats.correlation_over_seeds(
    fig2_gamma, fig2_gain.T, unit=UNIT, num_resamples=cfg["bootstrap_resamples"]))
ledger.test("fig2_teacher_flat", stats.mean_estimate(teacher_range, unit=UNIT, what="teacher accuracy range"),
            note="by construction in the authors' layout: the teacher sees the same columns of the same draw at every gamma")
show_claims("fig2_gain_gamma1", "fig2_kd_fails_gamma0", "fig2_gain_grows_with_gamma", "fig2_teacher_flat")
gain1 = ledger.rows["fig2_gain_gamma1"]["estimate"]
glue("ch02_gain_margin", ledger.paper["fig2_gain_gamma1"]["test"]["margin"], display=False)
glue("ch02_teacher_margin", ledger.paper["fig2_teacher_flat"]["test"]["margin"], display=False)
glue("ch02_gain1", f"{gain1['point']:+.2f}", display=False)
glue("ch02_gain1_ci", f"[{gain1['ci_low']:.2f}, {gain1['ci_high']:.2f}]", display=False)
glue("ch02_gain1_verdict", ledger.rows["fig2_gain_gamma1"]["verdict"], display=False)
glue("ch02_gain0", f"{fig2_gain[0].mean():+.2f}", display=False)

# %% [markdown]
# At $\gamma = 1$ the KD gain is {glue:text}`ch02_gain1` points, 95% CI {glue:text}`ch02_gain1_ci`
# (the paper: +2.1); verdict: *{glue:text}`ch02_gain1_verdict`*. At $\gamma = 0$ it is
# {glue:text}`ch02_gain0` points.
#
# ## Controls: is the gain crossmodal knowledge?
#
# A KD gain can come from things other than the teacher's knowledge of the student's decisive
# features. Each control replaces the soft targets of the same student (same data, same
# initialisation, same eq. (1)) by targets that carry no crossmodal knowledge
# (`mfh_lib.gaussian_kd.run_kd_controls`, built on `mfh_lib.controls`):
#
# - **noise teacher**: the teacher's architecture and initialisation trained on the teacher's draw
#   with shuffled labels — regularisation by an uninformative teacher;
# - **born-again**: the soft targets are the no-KD student's own logits — self-distillation;
# - **label smoothing** at the teacher's mean confidence on the students' training inputs — the
#   soft-label effect without any per-sample knowledge;
# - **statistically identical teacher**: at $\gamma = 1$, a teacher modality with $d_1 = d_2 = 50$,
#   distributed exactly as the student's (#14's question: how much of Fig. 2's gain comes from the
#   teacher's smaller dimension, $d_1 = 25$?).

# %%
conditions = ("KD",) + CONTROL_CONDITIONS
control_columns = {f"{name} gain": fig2.gain(name) for name in conditions}
control_table = report.accuracy_table(fig2_specs + [identical_spec], {
    "teacher": fig2.teacher_acc, "noise teacher": fig2.noise_teacher_acc, **control_columns})
control_table.insert(0, "teacher modality", [f"d1 = {s.d1}" for s in fig2_specs + [identical_spec]])
control_table["teacher confidence"] = [stats.mean_std(c, 3) for c in fig2.teacher_confidence]
display(control_table)
report.plot_controls(fig2_gamma, fig2, conditions, FIG2,
                     f"KD beside its controls on the Fig. 2 settings ({len(headline_seed_list)} seeds)")

# %%
at_one = len(fig2_specs) - 1  # gamma = 1
kd_at_one = fig2.student_acc["KD"][at_one]
for claim_id, name in (("ctrl_kd_beats_noise_teacher", "noise teacher"), ("ctrl_kd_beats_born_again", "born-again"),
                       ("ctrl_kd_beats_smoothing", "label smoothing")):
    ledger.test(claim_id, stats.mean_estimate((kd_at_one - fig2.student_acc[name][at_one]).numpy(), unit=UNIT,
                                              what=f"KD - {name} student at gamma = 1"))
identical_gain = fig2.gain("KD")[IDENTICAL].numpy()
ledger.test("ctrl_identical_teacher_gain", stats.mean_estimate(identical_gain, unit=UNIT,
                                                               what="KD gain, d1 = d2 = 50, gamma = 1"))
ledger.test("ctrl_teacher_dimension", stats.mean_estimate(fig2_gain[-1] - identical_gain, unit=UNIT,
                                                          what="gain(d1 = 25) - gain(d1 = 50) at gamma = 1"))
show_claims("ctrl_kd_beats_noise_teacher", "ctrl_kd_beats_born_again", "ctrl_kd_beats_smoothing",
            "ctrl_identical_teacher_gain", "ctrl_teacher_dimension")
for key, name in (("noise", "noise teacher"), ("born_again", "born-again"), ("smoothing", "label smoothing")):
    glue(f"ch02_ctrl_{key}_gain1", f"{fig2.gain(name)[at_one].mean():+.2f}", display=False)
glue("ch02_identical_gain", f"{identical_gain.mean():+.2f}", display=False)
glue("ch02_confidence", f"{fig2.teacher_confidence[at_one].mean():.2f}", display=False)
glue("ch02_noise_teacher_acc", f"{fig2.noise_teacher_acc[at_one].mean():.1f}", display=False)

# %% [markdown]
# At $\gamma = 1$ the controls give {glue:text}`ch02_ctrl_noise_gain1` (noise teacher, itself at
# {glue:text}`ch02_noise_teacher_acc`% accuracy), {glue:text}`ch02_ctrl_born_again_gain1`
# (born-again) and {glue:text}`ch02_ctrl_smoothing_gain1` points (label smoothing at the teacher's
# mean confidence, {glue:text}`ch02_confidence`), against {glue:text}`ch02_gain1` for KD; the
# statistically identical teacher gives {glue:text}`ch02_identical_gain`. In this linear model the
# no-KD student is asymptotically optimal (the Bayes rule on $x^b$ is linear), so a gain can only be
# variance reduction at finite $n$: a teacher that shares the student's decisive features hands it
# a less noisy version of the same rule, which shuffled labels, its own logits or uniform smoothing
# cannot do. The verdicts above say which of these differences the run resolves.
#
# ## Why the student gains: a population-level account (ours)
#
# In eq. (27), $\Pr[y = 1 \mid x^b] = \Phi(\delta_{J_2}^\top x^b / \lVert\delta_{J \setminus J_2}\rVert)$ is
# monotone in a linear score, so the Bayes rule on $x^b$ is linear and the no-KD logistic student is
# **asymptotically optimal**: its accuracy tends to the Bayes accuracy
# $1 - \arccos(\lVert\delta_{J_2}\rVert/\lVert\delta\rVert)/\pi$ as $n$ grows, and no teacher can add
# anything in the limit. A KD gain can only be **variance reduction** at finite $n$, paid for by a
# bias when the teacher's rule is not the student's.
#
# To make that quantitative we treat the student as a regression (chapter 08's linear Gaussian KD
# model, `mfh_lib.cch.LinearGaussianKD`): the KD student of eq. (1) is least squares on the mixed
# target $(y + \lambda t)/(1 + \lambda)$ with $\lambda = (1-\rho)/\rho$ (1 here), $y = \pm1$ the
# label and $t$ the teacher's calibrated prediction (the run's own trained teacher direction, scaled
# by least squares). Chapter 08's exact finite-$n$ risk splits into the bias $b(\lambda) =
# (\beta + \lambda a)/(1+\lambda)$ and a variance $s^2(\lambda)\,d_2/(n - d_2 - 1)$; we draw student
# weights around $b(\lambda)$ with that variance and score them with the exact accuracy formula
# (`mfh_lib.gaussian_kd.surrogate_accuracy`). Nothing is fitted to the measured students: the
# prediction uses only each run's hyperplane, its teacher and $n$. Binary $y$ is not Gaussian, so
# the formula is a second-moment approximation here.
#
# **Phase diagram over $(n/d_2, \gamma)$**: the Fig. 2 settings at $n \in$ {glue:text}`ch02_n_sweep`
# ({glue:text}`ch02_seeds` seeds per cell, one batched call per $n$), measured and predicted.

# %%
n_sweep = [int(n) for n in cfg["n_sweep"]]
phase_n = gain_phase_diagram(fig2_specs, seed_list, settings, n_sweep, namespace=CHAPTER, device=device)
report.plot_phase_diagrams(phase_n, "n_over_d2", r"$n / d_2$", f"Fig. 2 settings over n ({len(seed_list)} seeds)")
at_gamma1 = phase_n[phase_n["setting"] == len(fig2_specs) - 1].pivot(index="seed", columns="n", values="gain")
ledger.test("gain_shrinks_with_n", stats.mean_estimate((at_gamma1[n_sweep[0]] - at_gamma1[n_sweep[-1]]).to_numpy(),
                                                       unit=UNIT, what="gain(smallest n) - gain(largest n)"))
bayes_gap = (phase_n["bayes"] - phase_n["no_kd"]).groupby(phase_n["n"]).mean()
ledger.check("no_kd_asymptotically_optimal", bool((bayes_gap.diff().dropna() < 0).all() and bayes_gap.iloc[-1] < 1.0),
             f"Bayes accuracy on x^b minus no-KD accuracy, mean over gamma and seeds: "
             + ", ".join(f"n={n}: {g:.2f}" for n, g in bayes_gap.items()), values=bayes_gap.to_numpy())
show_claims("gain_shrinks_with_n", "no_kd_asymptotically_optimal")
glue("ch02_n_sweep", ", ".join(str(n) for n in n_sweep), display=False)
glue("ch02_gain_large_n", f"{at_gamma1[n_sweep[-1]].mean():+.2f}", display=False)
glue("ch02_bayes_gap_large_n", f"{bayes_gap.iloc[-1]:.2f}", display=False)

# %% [markdown]
# At the largest $n$ the gain at $\gamma = 1$ is {glue:text}`ch02_gain_large_n` points
# (*{glue:text}`ch02_v_gain_shrinks_with_n`* for "it shrinks") and the no-KD student is within
# {glue:text}`ch02_bayes_gap_large_n` points of the Bayes accuracy: the paper's Fig. 2 is a
# small-sample picture, as eq. (27) implies. At intermediate $\gamma$ a small gain turns into a loss
# as $n$ grows: the teacher's bias (it is not the student's Bayes rule when $\gamma < 1$) stays while
# the variance it removes shrinks; the surrogate (right) shows the same pattern.
#
# **Phase diagram over $(d_1/d_2, \gamma)$**: the teacher's dimension at $n =$ {glue:text}`ch02_n_train`
# ($d_2 = 50$, $d = 20$, $|J_1| = |J_2| = 10$; $d_1 \in$ {glue:text}`ch02_phase_d1`). A smaller $d_1$
# gives a less noisy teacher, whose targets remove more of the student's variance.

# %%
# the Fig. 2 teacher (d1 = 25) at this n is already a column of the n diagram: reuse its runs
phase_d1_specs = [spec_from_sizes(d1, 50, 20, 10, 10, overlap) for d1 in cfg["phase_d1"] if d1 != fig2_specs[0].d1
                  for overlap in range(0, 11, 2)]
phase_d1 = pd.concat([gain_phase_diagram(phase_d1_specs, seed_list, settings, [settings.num_train], namespace=CHAPTER,
                                         device=device), phase_n[phase_n["n"] == settings.num_train]], ignore_index=True)
report.plot_phase_diagrams(phase_d1, "d1_over_d2", r"$d_1 / d_2$", f"teacher dimension, n = {settings.num_train}")
glue("ch02_phase_d1", ", ".join(str(d1) for d1 in cfg["phase_d1"]), display=False)

# %% [markdown]
# **Prediction against measurement.** Left: the Fig. 2 curve ({glue:text}`ch02_headline_seeds`
# seeds) beside the surrogate's prediction for the same runs; right: every cell of both phase
# diagrams. The tests (ours, declared before the run): the Pearson correlation over cells of the
# seed-mean predicted and measured gain (bootstrap over seeds; "the surrogate predicts the gain"
# when it is positive), and at Fig. 2's $\gamma = 1$ the per-seed measured minus predicted gain,
# equivalent to 0 within {glue:text}`ch02_surrogate_margin` points.

# %%
fig2_frame = gain_table(run(fig2_specs, settings, seeds=headline_seed_list))
phases = pd.concat([phase_n.assign(diagram="n"), phase_d1.assign(diagram="d1")], ignore_index=True)
report.plot_prediction(fig2_frame, report.cell_means(phases, ("diagram", "d1", "gamma", "n")),
                       f"Surrogate prediction vs measured KD gain ({DATA_SOURCE})")
ledger.test("surrogate_predicts_gain", report.prediction_estimate(
    phases, UNIT, keys=("diagram", "d1", "gamma", "n"), num_resamples=cfg["bootstrap_resamples"]))
fig2_at_one = fig2_frame[fig2_frame["setting"] == len(fig2_specs) - 1]
ledger.test("surrogate_gain_gamma1", stats.mean_estimate((fig2_at_one["gain"] - fig2_at_one["pred_gain"]).to_numpy(),
                                                         unit=UNIT, what="measured - predicted KD gain at gamma = 1"))
show_claims("surrogate_predicts_gain", "surrogate_gain_gamma1")
glue("ch02_surrogate_margin", ledger.paper["surrogate_gain_gamma1"]["test"]["margin"], display=False)
glue("ch02_pred_gain1", f"{fig2_at_one['pred_gain'].mean():+.2f}", display=False)

# %% [markdown]
# The surrogate predicts {glue:text}`ch02_pred_gain1` points at Fig. 2's $\gamma = 1$ against the
# measured {glue:text}`ch02_gain1`: a regression student that only averages label and teacher
# prediction reproduces the sign change of Fig. 2, its shrinkage with $n$ and the teacher-dimension
# effect, so none of them needs anything beyond bias and variance of a linear rule. The surrogate's
# excess test MSE over the population student (seed means on the Fig. 2 runs) shows the trade:
# the KD student's variance is far below the no-KD student's (its mixed target is less noisy), and
# its bias, small at $\gamma = 1$ (a trained teacher is close to, not at, the student's Bayes rule),
# grows as the teacher's rule departs from the student's.

# %%
decomposition = fig2_frame.groupby("gamma")[["variance_no_kd", "variance_kd", "bias_kd"]].mean().reset_index()
display(decomposition.rename(columns={"variance_no_kd": "variance, no KD", "variance_kd": "variance, KD",
                                      "bias_kd": "bias², KD"}).round(3))

# %% [markdown]
# **Did the training converge?** With {glue:text}`ch02_n_train` samples in 25-50 dimensions the training sets are close
# to linearly separable, so gradient descent on the logistic loss keeps growing the weights and
# "converged" can only mean that the *test accuracy* has stopped moving. The learning curves
# below (seed means on the test draw, $\gamma = 1$ solid, $\gamma = 0$ dotted) flatten long before
# the last epoch, so the number of epochs is not a hidden knob here.

# %%
curve_specs = [fig2_specs[-1], fig2_specs[0]]
curve_run = run(curve_specs, replace(settings, score="test"), curve_every=cfg["curve_every"])
late = report.plot_learning_curves(curve_run, f"Learning curves (Fig. 2 settings, {len(seed_list)} seeds, test draw)")
print("mean |change in test accuracy| over the second half of training (points):", late)

# %% [markdown]
# **Hidden decisive features.** Fig. 2 fixes $d = 20$ while $|J_1 \cup J_2| = 20 - k$ shrinks with
# the overlap $k$, so the sweep also changes how many decisive features *neither* modality sees
# (from 0 at $\gamma = 0$ to 10 at $\gamma = 1$), which act as label noise for teacher and student.
# The same sweep with $d = |J_1 \cup J_2|$ removes that second dial (ours; the test is the same
# Spearman correlation as for Fig. 2).

# %%
union_specs = [spec_from_sizes(25, 50, 20 - overlap, 10, 10, overlap) for overlap in range(0, 11, 2)]
union = run(union_specs, settings)
display(pd.DataFrame({"gamma": fig2_gamma.round(2), "d": [s.d for s in union_specs],
                      "KD gain, d = 20 (Fig. 2)": [stats.mean_std(g) for g in fig2_gain],
                      "KD gain, d = |J1 ∪ J2|": [stats.mean_std(g) for g in union.gain]}))
ledger.test("fig2_union_gain_grows", stats.correlation_over_seeds(
    fig2_gamma, union.gain.T.numpy(), unit=UNIT, num_resamples=cfg["bootstrap_resamples"]))
show_claims("fig2_union_gain_grows")

# %% [markdown]
# ## Fig. 3: increasing the teacher's modality-specific share $\alpha$

# %%
fig3 = run(fig3_specs, settings)
fig3_alpha = np.array([s.alpha for s in fig3_specs])
display(fig3.summary())
report.plot_sweep(fig3_alpha, fig3.teacher_acc, fig3.no_kd_acc, fig3.kd_acc, r"$\alpha$ ($\beta = 0$, $\gamma = 1 - \alpha$)",
           f"Fig. 3 reproduced ({DATA_SOURCE}, {len(seed_list)} seeds)")

# %% [markdown]
# "The teacher gradually improves" is true by construction (it is given more decisive features),
# so it is a check, not a claim. "The student fails to benefit ... and performs slightly worse" is
# tested as a falling KD-student accuracy: the Spearman correlation of $\alpha$ with the seed-mean
# KD-student accuracy over the five settings, bootstrap interval over seeds.

# %%
teacher_trend = stats.correlation_over_seeds(fig3_alpha, fig3.teacher_acc.T.numpy(), unit=UNIT,
                                             num_resamples=cfg["bootstrap_resamples"])
ledger.check("fig3_teacher_rises_with_alpha", teacher_trend.point > 0,
             f"Spearman(alpha, seed-mean teacher accuracy) = {teacher_trend.point:.2f}; teacher "
             f"{fig3.teacher_acc[0].mean():.1f}% at alpha = 0 -> {fig3.teacher_acc[-1].mean():.1f}% at alpha = "
             f"{fig3_alpha[-1]:.2f} (by construction: it sees more decisive features)",
             values=fig3.teacher_acc.mean(1).numpy())
ledger.test("fig3_student_no_benefit", stats.correlation_over_seeds(
    fig3_alpha, fig3.kd_acc.T.numpy(), unit=UNIT, num_resamples=cfg["bootstrap_resamples"]))
show_claims("fig3_teacher_rises_with_alpha", "fig3_student_no_benefit")
glue("ch02_fig3_teacher_lo", f"{fig3.teacher_acc[0].mean():.0f}", display=False)
glue("ch02_fig3_teacher_hi", f"{fig3.teacher_acc[-1].mean():.0f}", display=False)
glue("ch02_fig3_gain_lo", f"{fig3.gain[0].mean():+.2f}", display=False)
glue("ch02_fig3_gain_hi", f"{fig3.gain[-1].mean():+.2f}", display=False)

# %% [markdown]
# The appendix's literal reading, $d = |J_1 \cup J_2|$ (no decisive feature hidden from both
# modalities): the teacher now sees *every* decisive feature at every $\alpha$, so its accuracy
# cannot rise for the reason the paper gives. The student, which sees 10 of $d$ decisive
# features, gets worse as $d$ grows with or without KD.

# %%
fig3_literal = run(fig3_literal_specs, settings)
display(fig3_literal.summary().assign(d=[s.d for s in fig3_literal_specs]))

# %% [markdown]
# ## Table 2: a modality-general teacher
#
# Two teachers see the same training draw of $x^a$: the **regular** teacher uses all 50 columns;
# the **modality-general** (MG) teacher only the $s$ columns in $J_1 \cap J_2$ (so its $\gamma$ is
# 1). As in the authors' script, $\delta = \mathbf 1$ (every decisive feature has the same weight,
# so $\gamma$ is exactly the share of the label's signal the two modalities have in common) and the
# students train on a fresh labelled draw of {glue:text}`ch02_n_train` pairs, on which the teachers'
# soft labels are computed. The three students share data and initialisation; only the teacher
# differs ({glue:text}`ch02_headline_seeds` seeds; the paper averages 10 runs).
#
# **An oracle teacher.** The MG teacher sees exactly the student's shared coordinates: in this
# layout the student's modality has no decisive feature of its own ($J_2 = J_1 \cap J_2$), so the
# MG teacher is a model on precisely the decisive columns the student holds, with every other
# column removed by hand. It transfers an *oracle feature selection* — knowledge of which of the
# student's 50 columns matter — that no teacher trained on real data is given. Table 2 shows that
# such a teacher distils better, not that a real modality-general teacher can be found.

# %%
table2_settings = replace(settings, hyperplane="ones", student_data="fresh")
table2_regular = run(table2_specs, table2_settings, seeds=headline_seed_list)
table2_general = run(table2_specs, replace(table2_settings, teacher_input="shared"), seeds=headline_seed_list)
assert torch.equal(table2_regular.no_kd_acc, table2_general.no_kd_acc)  # same data, same students
print(f"ours ({DATA_SOURCE}, {len(headline_seed_list)} seeds, mean ± std):")
display(report.table2_frame(table2_specs, table2_regular, table2_general))
print("paper (MFH Tab. 2, 10 runs, means):")
display(report.paper_table2_frame(claims.paper_claims(CHAPTER)))

# %% [markdown]
# The tests. Each absolute accuracy is a *value* claim: the paper's number must lie within
# {glue:text}`ch02_value_margin` points of ours, i.e. our 95% interval must lie inside the paper's
# value ± that margin (the generator is the paper's, so the numbers are comparable). "MG-KD beats
# Regular-KD" is the paired difference per seed (t interval), with the paper's size accepted within
# {glue:text}`ch02_mg_margin` points; "the MG teacher loses more than 10 points" (Sec. 5.2) is the
# paired teacher difference, tested against 10 with the paper's size within
# {glue:text}`ch02_loss_margin` points.

# %%
table2_ids = []
for p, tag in enumerate(("25", "50", "75")):
    for key, values in (("regular_teacher", table2_regular.teacher_acc[p]), ("mg_teacher", table2_general.teacher_acc[p]),
                        ("no_kd", table2_regular.no_kd_acc[p]), ("regular_kd", table2_regular.kd_acc[p]),
                        ("mg_kd", table2_general.kd_acc[p])):
        ledger.test(f"tab2_g{tag}_{key}", stats.mean_estimate(values.numpy(), unit=UNIT, what=f"{key} accuracy"))
    ledger.test(f"tab2_g{tag}_mg_kd_gt_regular_kd", stats.mean_estimate(
        (table2_general.kd_acc[p] - table2_regular.kd_acc[p]).numpy(), unit=UNIT, what="MG-KD - Regular-KD"))
    ledger.test(f"tab2_g{tag}_mg_teacher_loss", stats.mean_estimate(
        (table2_regular.teacher_acc[p] - table2_general.teacher_acc[p]).numpy(), unit=UNIT,
        what="regular - MG teacher"))
    table2_ids += [f"tab2_g{tag}_{key}" for key in ("regular_teacher", "mg_teacher", "no_kd", "regular_kd", "mg_kd",
                                                     "mg_kd_gt_regular_kd", "mg_teacher_loss")]
show_claims(*table2_ids)
for key, claim_id in (("value_margin", "tab2_g25_no_kd"), ("mg_margin", "tab2_g25_mg_kd_gt_regular_kd"),
                      ("loss_margin", "tab2_g25_mg_teacher_loss")):
    glue(f"ch02_{key}", ledger.paper[claim_id]["test"]["margin"], display=False)

# %% [markdown]
# ## How much does the KD weighting matter?
#
# The same Fig. 2 and Table 2 runs with the authors' script's objective, CE + 0.5 KL (their
# `KLDivLoss` 'mean' reduction), next to eq. (1) with $\rho = 0.5$. Data, initialisations and
# teachers are identical; only the KD student's loss changes.

# %%
other = "authors_code" if settings.weighting == "paper" else "paper"
fig2_other = run(fig2_specs, replace(settings, weighting=other), seeds=headline_seed_list)
table2_regular_other = run(table2_specs, replace(table2_settings, weighting=other), seeds=headline_seed_list)
table2_general_other = run(table2_specs, replace(table2_settings, weighting=other, teacher_input="shared"),
                           seeds=headline_seed_list)
sensitivity = pd.DataFrame({
    "gamma": fig2_gamma.round(2),
    f"KD gain ({settings.weighting})": [stats.mean_std(g) for g in fig2_gain],
    f"KD gain ({other})": [stats.mean_std(g) for g in fig2_other.gain],
})
display(sensitivity)
trend_other = stats.correlation_over_seeds(fig2_gamma, fig2_other.gain.T.numpy(), unit=UNIT,
                                           num_resamples=cfg["bootstrap_resamples"])
print(f"Spearman(gamma, seed-mean KD gain) with {other} weighting: {trend_other.point:.2f}, "
      f"95% bootstrap CI over seeds [{trend_other.ci_low:.2f}, {trend_other.ci_high:.2f}]")
glue("ch02_other_gain1", f"{fig2_other.gain[-1].mean():+.2f}", display=False)
glue("ch02_other_weighting", other, display=False)
# Is the script's weighting what produced the paper's +2.1? (a value test at the declared margin)
script_gain = fig2_gain[-1] if settings.weighting == "authors_code" else fig2_other.gain[-1].numpy()
ledger.test("fig2_gain_gamma1_script", stats.mean_estimate(script_gain, unit=UNIT,
                                                           what="KD gain at gamma = 1, script weighting"))
show_claims("fig2_gain_gamma1_script")
display(pd.DataFrame({
    "gamma": [round(s.gamma, 2) for s in table2_specs],
    f"MG-KD − Regular-KD ({settings.weighting})": [
        stats.mean_std(g - r) for g, r in zip(table2_general.kd_acc, table2_regular.kd_acc)],
    f"MG-KD − Regular-KD ({other})": [
        stats.mean_std(g - r) for g, r in zip(table2_general_other.kd_acc, table2_regular_other.kd_acc)],
}))

# %% [markdown]
# ## Beyond the paper: the KD gain over the whole $(\gamma, \alpha)$ simplex
#
# Fig. 2 moves along $\alpha = \beta$ and Fig. 3 along $\beta = 0$. Here we fix $U = d = 20$
# decisive features (none hidden from both modalities), $d_1 = d_2 = 50$, and sweep every split
# $(\gamma, \alpha, \beta = 1 - \gamma - \alpha)$ on a grid — all cells in one batched call.

# %%
step = int(cfg["heatmap_step"])
heat_specs = [spec_from_counts(50, 50, 20, only_a, 20 - shared - only_a, shared)
              for shared in range(0, 21, step) for only_a in range(0, 21 - shared, step)]
heat = run(heat_specs, settings)
report.plot_simplex(heat_specs, heat, f"U = d = 20, d1 = d2 = 50 ({DATA_SOURCE}, {len(seed_list)} seeds)")

# %% [markdown]
# Read along an anti-diagonal ($\gamma + \alpha$ constant, i.e. a fixed $|J_1|$): the teacher is
# the *same model* in every cell of it — it sees the same $|J_1|$ decisive columns of the same
# draw (common random numbers) — so its accuracy is identical, and only how much of what it knows
# the student can also see changes. MFH predicts that along each such line the KD gain rises with
# $\gamma$. Across the whole simplex, on the other hand, $\gamma$ and the teacher's accuracy are
# confounded: a teacher that misses what the student can see (large $\beta$) is both weak and
# harmful. The table compares both predictors over all cells, then $\gamma$ within each fixed
# teacher (lines with at least 3 cells) and pooled over those lines (the mean within-line
# Spearman; its CI resamples seeds).

# %%
predictors, pooled = report.simplex_predictors(heat_specs, heat, UNIT, num_resamples=cfg["bootstrap_resamples"])
display(predictors)
glue("ch02_heat_rho_gamma", f"{predictors['Spearman'].iloc[0]:.2f}", display=False)
glue("ch02_heat_rho_teacher", f"{predictors['Spearman'].iloc[1]:.2f}", display=False)
ledger.test("heat_gain_rises_at_fixed_teacher", pooled)
show_claims("heat_gain_rises_at_fixed_teacher")

# %% [markdown]
# ## Try it yourself
#
# **Precomputed panel** (works in the static book, no kernel): move the KD weight $\rho$ and the
# temperature $T$ to see how the accuracies and the KD gain change over $\gamma$, for the Fig. 2
# family ($|J_1| = |J_2| = 10$, $d = 20$, $d_1 = 25$, $d_2 = 50$; $\gamma$ set by the overlap).
# Every setting was run with this page's seeds and settings when the chapter executed; the y-axes
# are shared so the frames compare directly.

# %%
panel_specs = [spec_from_sizes(25, 50, 20, 10, 10, overlap) for overlap in (0, 2, 4, 6, 8, 10)]
panel_gamma = [spec.gamma for spec in panel_specs]
panel_grid = {"rho": [0.0, 0.25, 0.5, 0.75], "temperature": [1.0, 4.0]}  # small: ~10 s on 2 cores
panel_runs = {(rho, t): run(panel_specs, replace(settings, rho=rho, temperature=t))
              for rho in panel_grid["rho"] for t in panel_grid["temperature"]}
panel_view = report.precomputed_panel_view(panel_runs, panel_gamma, len(seed_list))
display(panels.static_panel(panel_view, panel_grid, labels={"rho": "KD weight ρ", "temperature": "temperature T"},
                            default={"rho": 0.5, "temperature": 1.0}))

# %% [markdown]
# **Live panel** (needs a running kernel: open this notebook in Jupyter): pick the dimensions, the
# decisive index sets (their sizes and overlap), the KD weight $\rho$, the temperature $T$ and the
# training-set size $n$, then press **Run** (5 seeds, about a second per setting). Invalid
# combinations (an overlap larger than $|J_1|$, index sets that do not fit $d$, $d_1$ or $d_2$)
# print the error and how to fix it. The panel only runs when you press the button, so executing
# the notebook (papermill, CI) never waits on it.

# %% tags=["nbval-ignore-output"]
display(report.live_panel(settings, device))

# %% [markdown]
# ## Claims ledger

# %%
ledger.save()
ledger_table = ledger.table()
display(ledger_table)
display(ledger_table.groupby(["whose", "verdict"]).size().rename("claims").reset_index())
for claim_id, row in ledger.rows.items():  # every verdict, for the prose below
    glue(f"ch02_v_{claim_id}", row["verdict"], display=False)
tab2_values = [c for c in ledger.rows if c.startswith("tab2_") and ledger.paper[c]["test"]["kind"] == "value"]
glue("ch02_tab2_values_reproduced", sum(ledger.rows[c]["verdict"] == "reproduced" for c in tab2_values), display=False)
glue("ch02_tab2_values", len(tab2_values), display=False)
missed = [c for c in tab2_values if ledger.rows[c]["verdict"] != "reproduced"]
glue("ch02_tab2_values_missed", ", ".join(f"{c} ({ledger.rows[c]['verdict']})" for c in missed) or "none", display=False)
mg_advantage = [ledger.rows[f"tab2_g{tag}_mg_kd_gt_regular_kd"]["estimate"]["point"] for tag in ("25", "50", "75")]
mg_advantage_other = [float((g - r).mean()) for g, r in zip(table2_general_other.kd_acc, table2_regular_other.kd_acc)]
glue("ch02_mg_advantage", " / ".join(f"{v:+.2f}" for v in mg_advantage), display=False)
glue("ch02_mg_advantage_other", " / ".join(f"{v:+.2f}" for v in mg_advantage_other), display=False)
glue("ch02_fig2_trend", f"{ledger.rows['fig2_gain_grows_with_gamma']['estimate']['point']:.2f}", display=False)

# %% [markdown]
# ## What we found
#
# All numbers below are from this run ({glue:text}`ch02_headline_seeds` seeds for Fig. 2, its
# controls and Table 2; {glue:text}`ch02_seeds` for the rest); the verdicts are the evidence
# engine's, from the tests declared before the run.
#
# - **Fig. 2.** The KD gain rises with $\gamma$ (Spearman of the seed-mean curve
#   {glue:text}`ch02_fig2_trend`; *{glue:text}`ch02_v_fig2_gain_grows_with_gamma`*), is negative when
#   the modalities share no decisive feature ({glue:text}`ch02_gain0` points;
#   *{glue:text}`ch02_v_fig2_kd_fails_gamma0`*) and positive at $\gamma = 1$:
#   {glue:text}`ch02_gain1` points {glue:text}`ch02_gain1_ci` against the paper's +2.1, so the size
#   check gives *{glue:text}`ch02_gain1_verdict`*. The size depends on the KD weighting: with the
#   other weighting ({glue:text}`ch02_other_weighting`) the gain at $\gamma = 1$ is
#   {glue:text}`ch02_other_gain1`, and "the authors' script weighting gives the paper's +2.1"
#   (within ±{glue:text}`ch02_gain_margin`; ours) is *{glue:text}`ch02_v_fig2_gain_gamma1_script`*:
#   the test of whether the script, not eq. (1) as printed, produced the paper's number. The flat teacher
#   (*{glue:text}`ch02_v_fig2_teacher_flat`*) holds by construction in this layout. With no decisive
#   feature hidden from both modalities ($d = |J_1 \cup J_2|$, ours), "the gain rises with $\gamma$"
#   gives *{glue:text}`ch02_v_fig2_union_gain_grows`*.
# - **Controls (ours).** At $\gamma = 1$ the KD student beats the noise-teacher
#   (*{glue:text}`ch02_v_ctrl_kd_beats_noise_teacher`*), born-again
#   (*{glue:text}`ch02_v_ctrl_kd_beats_born_again`*) and label-smoothing students
#   (*{glue:text}`ch02_v_ctrl_kd_beats_smoothing`*), the tests of whether the gain is the teacher's
#   per-sample knowledge rather than regularisation, self-distillation or soft labels. A teacher statistically identical to the
#   student still gives {glue:text}`ch02_identical_gain` points
#   (*{glue:text}`ch02_v_ctrl_identical_teacher_gain`*), and the teacher's smaller dimension adds to
#   the Fig. 2 gain (*{glue:text}`ch02_v_ctrl_teacher_dimension`*).
# - **Why (ours).** The no-KD student is asymptotically optimal (within
#   {glue:text}`ch02_bayes_gap_large_n` points of the Bayes accuracy at the largest $n$;
#   *{glue:text}`ch02_v_no_kd_asymptotically_optimal`*), so the gain is variance reduction: it
#   vanishes with $n$ and is larger for a lower-dimensional (less noisy) teacher. A regression
#   surrogate with chapter 08's exact finite-$n$ risk, fitted to nothing, predicts the phase diagrams
#   (*{glue:text}`ch02_v_surrogate_predicts_gain`*) and the gain at $\gamma = 1$
#   ({glue:text}`ch02_pred_gain1` predicted; *{glue:text}`ch02_v_surrogate_gain_gamma1`* at
#   ±{glue:text}`ch02_surrogate_margin`).
# - **Fig. 3.** The teacher climbs from {glue:text}`ch02_fig3_teacher_lo`% to
#   {glue:text}`ch02_fig3_teacher_hi`% as $\alpha$ grows (a check: it is given more decisive
#   features), while the KD student's accuracy falls (*{glue:text}`ch02_v_fig3_student_no_benefit`*)
#   and its gain moves from {glue:text}`ch02_fig3_gain_lo` to {glue:text}`ch02_fig3_gain_hi` points.
#   Under the appendix's literal $d = U$ the teacher does not climb at all, which is why we follow
#   the code.
# - **Table 2.** The modality-general teacher loses more than 10 points at $\gamma = 0.25$ and
#   $0.5$ (*{glue:text}`ch02_v_tab2_g25_mg_teacher_loss`*, *{glue:text}`ch02_v_tab2_g50_mg_teacher_loss`*);
#   at $\gamma = 0.75$, where the paper's own loss is 10.29, the test against 10 gives
#   *{glue:text}`ch02_v_tab2_g75_mg_teacher_loss`*. The MG teacher's student beats the regular
#   teacher's by {glue:text}`ch02_mg_advantage` points under eq. (1) (paper: +1.55 / +2.39 / +1.17; verdicts
#   *{glue:text}`ch02_v_tab2_g25_mg_kd_gt_regular_kd`*, *{glue:text}`ch02_v_tab2_g50_mg_kd_gt_regular_kd`*,
#   *{glue:text}`ch02_v_tab2_g75_mg_kd_gt_regular_kd`*) and {glue:text}`ch02_mg_advantage_other` under
#   the script's weighting. Of the {glue:text}`ch02_tab2_values` absolute accuracies,
#   {glue:text}`ch02_tab2_values_reproduced` are within the declared margin of the paper's; the
#   others: {glue:text}`ch02_tab2_values_missed`. The MG teacher is an oracle feature selector (see
#   Table 2), which bounds what the table can show.
# - **Beyond the paper**, the simplex map shows where crossmodal KD *hurts*: whenever the teacher
#   misses much of what the student can see (large $\beta$). Over the whole simplex the teacher's
#   accuracy rank-correlates with the gain (Spearman {glue:text}`ch02_heat_rho_teacher`; $\gamma$:
#   {glue:text}`ch02_heat_rho_gamma`), because in this family a weak teacher is one with a large
#   $\beta$: Fig. 3's dissociation of teacher accuracy and gain lives on the $\beta = 0$ edge.
#   Holding the teacher fixed, the gain rises with $\gamma$
#   (*{glue:text}`ch02_v_heat_gain_rises_at_fixed_teacher`*), clearly for strong teachers (large
#   $|J_1|$) and not reliably for weak ones.

# %% [markdown]
# ## Deviations from the paper and what they mean
#
# - **KD weighting.** We use eq. (1) as written ($\rho = 0.5$); the authors' script effectively
#   uses CE + 0.5 KL (`KLDivLoss` 'mean' over batch and classes). The sensitivity section shows
#   the size of the effect on every headline number; the qualitative conclusions do not depend on it.
# - **Fig. 3.** Five $\alpha$ values (the sixth, 0.83, needs 60 decisive columns in a 50-column
#   $x^a$) and $d = 50$ decisive features as in the code; the appendix's "$d = |J_1 \cup J_2|$"
#   reading is shown separately.
# - **Table 2.** The authors' script (as the official-code notes report) sweeps $\gamma \in
#   \{.33, .5, .6, .67, .71, .75\}$ with 10 teacher-only features; it cannot give $\gamma = 0.25$,
#   for which we use 15 teacher-only and 5 shared features. In that script the regular-KD student
#   is called with the modalities swapped (teacher fed $x^b$, student trained on $x^a$); we run
#   the intended experiment (regular teacher on $x^a$, student on $x^b$), which is why our
#   Regular-KD is not the script's. The script also trains the MG teacher on the students' draw and
#   the regular teacher on another; here both teachers see the same draw, so they differ only in
#   their input columns, as the paper's fair-comparison argument requires.
# - **Scoring and seeds.** Every accuracy is the exact population accuracy of the trained linear
#   rule, not the accuracy on a 1,000-point test draw as in the authors' code (the same quantity
#   without the test set's sampling noise); Fig. 2, its controls and Table 2 use
#   {glue:text}`ch02_headline_seeds` seeds where the paper averages 10 runs.
# - **Index sets and seeds.** The index layout is a relabelling of the code's (exchangeable i.i.d.
#   coordinates). Each run's hyperplane, data and initialisations come from its own seeded streams,
#   so a run does not depend on which other runs are batched with it, and the quick profile's
#   seeds are the first seeds of the full profile. The two students of a run share their
#   initialisation (the script draws them independently), which only reduces the noise of the gain.
