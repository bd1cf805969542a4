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
# Beyond the paper we map the KD gain over the whole $(\gamma, \alpha)$ simplex, test "gain grows
# with $\gamma$" with a rank correlation and a bootstrap CI over seeds, show how much the results
# depend on the weighting of the KD term (the paper's eq. (1) vs the authors' code), and end with a
# panel to re-run any configuration live. Every table below is made from the **stand-in
# (synthetic, planted MVD)**: here the stand-in *is* the paper's data-generating process.

# %% tags=["parameters"]
profile = "quick"
seeds = None  # None: the profile's number of seeds (runs use seeds 0 .. seeds-1)
device = "auto"
data_dir = None  # unused: this chapter's data are generated (kept for a uniform interface)
weighting = "paper"  # or "authors_code": the KD weighting of the authors' script (see below)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from dataclasses import replace
from IPython.display import display

from mfh_lib import claims, config, plotting, stats
from mfh_lib.data.gaussian_mvd import spec_from_counts, spec_from_sizes
from mfh_lib.gaussian_kd import KDSettings, run_kd, run_kd_cached

config.set_threads(2)
cfg = config.load_profile("02_gaussian_mvd", profile, seeds=seeds)
device = config.pick_device(device)
data_dir = config.resolve_data_dir(data_dir)  # real data are never needed here
seed_list = list(range(int(cfg["seeds"])))
config.seed_everything(0)
plotting.use_book_style()
pd.set_option("display.max_colwidth", 80)

DATA_SOURCE = "stand-in (synthetic, planted MVD)"
CHAPTER = "02_gaussian_mvd"
settings = KDSettings(num_train=cfg["num_train"], num_test=cfg["num_test"], num_epochs=cfg["num_epochs"],
                      lr=cfg["lr"], rho=cfg["rho"], temperature=cfg["temperature"], weighting=weighting)
ledger = claims.Ledger(CHAPTER, profile, data_source=DATA_SOURCE)


def run(specs, settings, **kwargs):
    """All (setting, seed) runs of one experiment, trained as one batched problem (cached)."""
    return run_kd_cached(specs, seed_list, settings, namespace=CHAPTER, device=device, **kwargs)


print(f"profile={profile}: {len(seed_list)} seeds, {settings.num_epochs} epochs, "
      f"n_train={settings.num_train}, n_test={settings.num_test}, weighting={settings.weighting}, "
      f"rho={settings.rho}, T={settings.temperature}")

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


def spec_table(specs):
    return pd.DataFrame([{"d1": s.d1, "d2": s.d2, "d": s.d, "|J1|": len(s.J1), "|J2|": len(s.J2),
                          "|J1∩J2|": s.overlap, "alpha": s.alpha, "beta": s.beta, "gamma": s.gamma}
                         for s in specs]).round(2)


display(spec_table(fig2_specs))

# %% [markdown]
# ## Teacher, students and the objective
#
# Teacher and students are logistic-regression models, `nn.Linear(d, 2)` with a softmax over two
# logits as in the authors' code, trained by full-batch gradient descent (lr 0.1, 1000 epochs,
# no momentum or weight decay, PyTorch's default initialisation), on $n = 200$ training pairs;
# accuracy is measured on 1000 test pairs. Per run we train
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

# %%
fig2 = run(fig2_specs, settings, curve_every=cfg["curve_every"])
fig2_gamma = np.array([s.gamma for s in fig2_specs])
fig2_table = fig2.summary()
display(fig2_table)

# %%
def plot_sweep(x, results, xlabel, title):
    """Accuracies (mean ± 1 std over seeds) and the per-seed KD gain against the swept ratio."""
    fig, (ax_acc, ax_gain) = plt.subplots(1, 2, figsize=(11, 4))
    for values, label in ((results.teacher_acc, "teacher (x^a)"), (results.no_kd_acc, "student, no KD"),
                          (results.kd_acc, "student, KD")):
        plotting.mean_std_band(ax_acc, x, values.T.numpy(), label=label)
    ax_acc.set(xlabel=xlabel, ylabel="test accuracy (%)")
    ax_acc.legend()
    plotting.mean_std_band(ax_gain, x, results.gain.T.numpy(), label="KD gain", color="C3")
    ax_gain.axhline(0, color="black", lw=0.8)
    ax_gain.set(xlabel=xlabel, ylabel="KD student - no-KD student (points)")
    plotting.finish(fig, title)


plot_sweep(fig2_gamma, fig2, r"$\gamma$", f"Fig. 2 reproduced ({DATA_SOURCE}, {len(seed_list)} seeds)")

# %% [markdown]
# In the authors' layout, as in ours, the teacher sees 10 of the 20 decisive features in every
# setting; only *which* of them the student shares changes. Because the settings of one seed share
# the draw of $x^*$ (common random numbers), the teacher is here literally the same model across
# the sweep — "the teacher accuracy does not vary much during this process" holds exactly — while
# the no-KD student (10 of 20 decisive features, in 50 dimensions) is also the same in
# distribution. Everything that moves is the KD student.
#
# The claims. "Gain grows with $\gamma$" is tested with the Spearman rank correlation between
# $\gamma$ and the seed-mean KD gain over the six settings, with a 95% percentile-bootstrap CI
# that resamples seeds (the unit of replication; `mfh_lib.stats.spearman_over_seeds`). A
# directional claim is *reproduced* when its CI lies on the claimed side of zero, *partly* when
# the estimate has the claimed sign but the CI includes zero, *not reproduced* otherwise. A
# paper number is *reproduced* when our seed mean is within 2 points of it, *partly* when it lies
# within 2 points of our 95% CI, and *not reproduced* otherwise.

# %%
TOLERANCE = 2.0  # accuracy points allowed between a paper number and our seed mean


def trend_claim(claim_id, x, per_setting_seed, direction, what):
    """Spearman of a per-(setting, seed) statistic with x; verdict from the bootstrap CI over seeds.

    Records the per-seed correlations (each seed's own curve) in the ledger; the verdict uses the
    correlation of the seed mean and its CI.
    """
    per_seed = np.asarray(per_setting_seed, dtype=float).T  # (seeds, settings)
    rho, (lo, hi) = stats.spearman_over_seeds(x, per_seed, num_resamples=cfg["bootstrap_resamples"])
    verdict = stats.verdict_from_interval(lo, hi, direction, rho)
    per_seed_rho = [stats.spearman(x, row) for row in per_seed]
    per_seed_rho = [r for r in per_seed_rho if np.isfinite(r)]
    reason = f"Spearman({what}) of the seed mean = {rho:.2f}, 95% bootstrap CI over seeds [{lo:.2f}, {hi:.2f}]"
    ledger.record(claim_id, per_seed_rho, verdict, reason)
    return {"claim": claim_id, "Spearman": round(rho, 2), "CI low": round(lo, 2), "CI high": round(hi, 2),
            "verdict": verdict}


def difference_claim(claim_id, differences, direction, what):
    verdict, s = stats.verdict_for_difference(differences, direction)
    ledger.record(claim_id, differences, verdict, f"{what}: {s.mean:.2f} points, 95% CI [{s.ci_low:.2f}, {s.ci_high:.2f}]")
    return {"claim": claim_id, "mean": round(s.mean, 2), "CI low": round(s.ci_low, 2),
            "CI high": round(s.ci_high, 2), "verdict": verdict}


gain_at_1 = fig2.gain[-1].numpy()
paper_gain_at_1 = ledger.paper["fig2_gain_gamma1"]["paper_value"]
verdict, s = stats.verdict_for_difference(gain_at_1, +1)
if verdict == stats.REPRODUCED and abs(s.mean - paper_gain_at_1) > TOLERANCE:
    verdict = stats.PARTLY  # KD helps, but by a clearly different amount than the paper's
ledger.record("fig2_gain_gamma1", gain_at_1, verdict,
              f"KD gain at gamma = 1: {s.mean:.2f} points, 95% CI [{s.ci_low:.2f}, {s.ci_high:.2f}] (paper +{paper_gain_at_1})")
fig2_claims = pd.DataFrame([
    {"claim": "fig2_gain_gamma1", "mean": round(s.mean, 2), "CI low": round(s.ci_low, 2),
     "CI high": round(s.ci_high, 2), "verdict": verdict},
    difference_claim("fig2_kd_fails_gamma0", fig2.gain[0].numpy(), -1, "KD gain at gamma = 0"),
])
display(fig2_claims)
display(pd.DataFrame([trend_claim("fig2_gain_grows_with_gamma", fig2_gamma, fig2.gain, +1, "gamma, KD gain")]))

# %% [markdown]
# **Did 1000 epochs converge?** With 200 samples in 25-50 dimensions the training sets are close
# to linearly separable, so gradient descent on the logistic loss keeps growing the weights and
# "converged" can only mean that the *test accuracy* has stopped moving. The learning curves
# below (seed means, $\gamma = 1$ solid, $\gamma = 0$ dotted) flatten long before epoch 1000, so
# the number of epochs is not a hidden knob here.

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
epochs = fig2.curves["epochs"].numpy()
for p, style in ((len(fig2_specs) - 1, "-"), (0, ":")):
    for name, color in (("teacher", "C0"), ("no_kd", "C1"), ("kd", "C2")):
        ax.plot(epochs, fig2.curves[name][:, p].mean(-1).numpy(), style, color=color,
                label=f"{name}, gamma={fig2_gamma[p]:.2f}")
ax.set(xlabel="epoch", ylabel="test accuracy (%)")
ax.legend(ncol=2, fontsize=8)
plotting.finish(fig, "Learning curves (Fig. 2 settings, seed mean)")
late = {name: (fig2.curves[name][-1] - fig2.curves[name][len(epochs) // 2]).abs().mean().item()
        for name in ("teacher", "no_kd", "kd")}
print("mean |change in test accuracy| over the second half of training (points):",
      {k: round(v, 2) for k, v in late.items()})

# %% [markdown]
# ## Fig. 3: increasing the teacher's modality-specific share $\alpha$

# %%
fig3 = run(fig3_specs, settings)
fig3_alpha = np.array([s.alpha for s in fig3_specs])
display(fig3.summary())
plot_sweep(fig3_alpha, fig3, r"$\alpha$ ($\beta = 0$, $\gamma = 1 - \alpha$)",
           f"Fig. 3 reproduced ({DATA_SOURCE}, {len(seed_list)} seeds)")

# %%
display(pd.DataFrame([
    trend_claim("fig3_teacher_rises_with_alpha", fig3_alpha, fig3.teacher_acc, +1, "alpha, teacher acc"),
    trend_claim("fig3_student_no_benefit", fig3_alpha, fig3.kd_acc, -1, "alpha, KD-student acc"),
]))

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
# students train on a fresh labelled draw of 200 pairs, on which the teachers' soft labels are
# computed. The three students share data and initialisation; only the teacher differs.

# %%
table2_settings = replace(settings, hyperplane="ones", student_data="fresh")
table2_regular = run(table2_specs, table2_settings)
table2_general = run(table2_specs, replace(table2_settings, teacher_input="shared"))
assert torch.equal(table2_regular.no_kd_acc, table2_general.no_kd_acc)  # same data, same students


def table2_frame(regular, general, decimals=2):
    rows = []
    for p, spec in enumerate(table2_specs):
        rows.append({"gamma": round(spec.gamma, 2),
                     "regular teacher": stats.mean_std(regular.teacher_acc[p], decimals),
                     "MG teacher": stats.mean_std(general.teacher_acc[p], decimals),
                     "No-KD": stats.mean_std(regular.no_kd_acc[p], decimals),
                     "Regular-KD": stats.mean_std(regular.kd_acc[p], decimals),
                     "MG-KD": stats.mean_std(general.kd_acc[p], decimals),
                     "MG-KD − Regular-KD": stats.mean_std(general.kd_acc[p] - regular.kd_acc[p], decimals)})
    return pd.DataFrame(rows)


paper = claims.paper_claims(CHAPTER)
print(f"ours ({DATA_SOURCE}, {len(seed_list)} seeds, mean ± std):")
display(table2_frame(table2_regular, table2_general))
print("paper (MFH Tab. 2, 10 runs, means):")
display(pd.DataFrame([{"gamma": g, **{col: paper[f"tab2_g{tag}_{key}"]["paper_value"] for col, key in (
    ("regular teacher", "regular_teacher"), ("MG teacher", "mg_teacher"), ("No-KD", "no_kd"),
    ("Regular-KD", "regular_kd"), ("MG-KD", "mg_kd"), ("MG-KD − Regular-KD", "mg_kd_gt_regular_kd"))}}
    for g, tag in ((0.25, "25"), (0.5, "50"), (0.75, "75"))]))

# %%
table2_claims = []
for p, tag in enumerate(("25", "50", "75")):
    for key, values in (("regular_teacher", table2_regular.teacher_acc[p]), ("mg_teacher", table2_general.teacher_acc[p]),
                        ("no_kd", table2_regular.no_kd_acc[p]), ("regular_kd", table2_regular.kd_acc[p]),
                        ("mg_kd", table2_general.kd_acc[p])):
        claim_id = f"tab2_g{tag}_{key}"
        verdict, s = stats.verdict_for_value(values.numpy(), paper[claim_id]["paper_value"], TOLERANCE)
        ledger.record(claim_id, values.numpy(), verdict,
                      f"ours {s.mean:.2f} vs paper {paper[claim_id]['paper_value']:.2f} (tolerance {TOLERANCE} points)")
        table2_claims.append({"claim": claim_id, "mean": round(s.mean, 2), "CI low": round(s.ci_low, 2),
                              "CI high": round(s.ci_high, 2), "verdict": verdict})
    table2_claims.append(difference_claim(f"tab2_g{tag}_mg_kd_gt_regular_kd",
                                          (table2_general.kd_acc[p] - table2_regular.kd_acc[p]).numpy(), +1,
                                          "MG-KD − Regular-KD"))
display(pd.DataFrame(table2_claims))

# %% [markdown]
# ## How much does the KD weighting matter?
#
# The same Fig. 2 and Table 2 runs with the authors' script's objective, CE + 0.5 KL (their
# `KLDivLoss` 'mean' reduction), next to eq. (1) with $\rho = 0.5$. Data, initialisations and
# teachers are identical; only the KD student's loss changes.

# %%
other = "authors_code" if settings.weighting == "paper" else "paper"
fig2_other = run(fig2_specs, replace(settings, weighting=other))
table2_regular_other = run(table2_specs, replace(table2_settings, weighting=other))
table2_general_other = run(table2_specs, replace(table2_settings, weighting=other, teacher_input="shared"))
sensitivity = pd.DataFrame({
    "gamma": fig2_gamma.round(2),
    f"KD gain ({settings.weighting})": [stats.mean_std(g) for g in fig2.gain],
    f"KD gain ({other})": [stats.mean_std(g) for g in fig2_other.gain],
})
display(sensitivity)
rho_other, ci_other = stats.spearman_over_seeds(fig2_gamma, fig2_other.gain.T.numpy(),
                                                num_resamples=cfg["bootstrap_resamples"])
print(f"Spearman(gamma, KD gain) with {other} weighting: {rho_other:.2f}, "
      f"95% CI [{ci_other[0]:.2f}, {ci_other[1]:.2f}]")
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
heat_frame = pd.DataFrame({"gamma": [round(s.gamma, 2) for s in heat_specs],
                           "alpha": [round(s.alpha, 2) for s in heat_specs],
                           "KD gain": heat.gain.mean(1).numpy(), "teacher acc": heat.teacher_acc.mean(1).numpy()})
fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
for ax, column, cmap, center in ((axes[0], "KD gain", "RdBu", 0.0), (axes[1], "teacher acc", "viridis", None)):
    grid = heat_frame.pivot(index="gamma", columns="alpha", values=column).sort_index(ascending=False)
    sns.heatmap(grid, ax=ax, cmap=cmap, center=center, annot=True, fmt=".1f", annot_kws={"size": 7},
                cbar_kws={"label": column + (" (points)" if column == "KD gain" else " (%)")})
    ax.set(xlabel=r"$\alpha$ (teacher-only share)", ylabel=r"$\gamma$ (shared share)")
axes[0].set_title("KD gain, seed mean")
axes[1].set_title("teacher accuracy, seed mean")
plotting.finish(fig, f"U = d = 20, d1 = d2 = 50 ({DATA_SOURCE}, {len(seed_list)} seeds)")

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
heat_gamma = np.array([s.gamma for s in heat_specs])
heat_gain = heat.gain.T.numpy()  # (seeds, cells)
size_J1 = np.array([len(s.J1) for s in heat_specs])
lines = [np.flatnonzero(size_J1 == size) for size in sorted(set(size_J1)) if (size_J1 == size).sum() >= 3]


def within_teacher_spearman(per_seed_gain):
    mean_gain = per_seed_gain.mean(axis=0)
    return float(np.nanmean([stats.spearman(heat_gamma[cells], mean_gain[cells]) for cells in lines]))


def predictor_row(name, cells, rho, ci):
    return {"KD gain vs": name, "cells": cells, "Spearman": round(rho, 2), "CI low": round(ci[0], 2),
            "CI high": round(ci[1], 2)}


rows = []
for name, x in (("gamma, all cells", heat_gamma), ("teacher accuracy, all cells", heat.teacher_acc.mean(1).numpy())):
    rows.append(predictor_row(name, len(heat_specs),
                              *stats.spearman_over_seeds(x, heat_gain, num_resamples=cfg["bootstrap_resamples"])))
for cells in lines:
    rows.append(predictor_row(
        f"gamma at fixed |J1| = {size_J1[cells[0]]} (teacher {heat.teacher_acc[cells[0]].mean():.1f}%)", len(cells),
        *stats.spearman_over_seeds(heat_gamma[cells], heat_gain[:, cells], num_resamples=cfg["bootstrap_resamples"])))
pooled = within_teacher_spearman(heat_gain)
pooled_ci = stats.bootstrap_ci(heat_gain, within_teacher_spearman, num_resamples=cfg["bootstrap_resamples"])
rows.append(predictor_row(f"gamma at fixed teacher, pooled over {len(lines)} lines",
                          sum(len(c) for c in lines), pooled, pooled_ci))
display(pd.DataFrame(rows))
print("with the teacher held fixed, the KD gain rises with gamma:",
      stats.verdict_from_interval(*pooled_ci, direction=+1, point=pooled))

# %% [markdown]
# ## Try it yourself
#
# Pick the dimensions, the decisive index sets (their sizes and overlap), the KD weight $\rho$, the
# temperature $T$ and the training-set size $n$, then press **Run** (5 seeds, about a second per
# setting). Invalid combinations (an overlap larger than $|J_1|$, index sets that do not fit $d$,
# $d_1$ or $d_2$) print the error and how to fix it. The panel only runs when you press the
# button, so executing the notebook (papermill, CI) never waits on it.

# %% tags=["nbval-ignore-output"]
import ipywidgets as widgets

controls = {
    "d1": widgets.IntSlider(value=25, min=1, max=100, description="d1"),
    "d2": widgets.IntSlider(value=50, min=1, max=100, description="d2"),
    "d": widgets.IntSlider(value=20, min=1, max=100, description="d"),
    "size_J1": widgets.IntSlider(value=10, min=0, max=100, description="|J1|"),
    "size_J2": widgets.IntSlider(value=10, min=0, max=100, description="|J2|"),
    "overlap": widgets.IntSlider(value=10, min=0, max=100, description="overlap"),
    "rho": widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="rho"),
    "temperature": widgets.FloatLogSlider(value=1.0, base=10, min=-1, max=1, description="T"),
    "num_train": widgets.IntSlider(value=200, min=20, max=2000, step=20, description="n train"),
}
run_button = widgets.Button(description="Run", button_style="primary")
panel_output = widgets.Output()


def on_run(_):
    with panel_output:
        panel_output.clear_output()
        try:
            v = {k: c.value for k, c in controls.items()}
            spec = spec_from_sizes(v["d1"], v["d2"], v["d"], v["size_J1"], v["size_J2"], v["overlap"])
            live = run_kd([spec], range(5), replace(settings, rho=v["rho"], temperature=v["temperature"],
                                                    num_train=v["num_train"], weighting="paper"), device=device)
        except config.ConfigError as err:
            print(f"invalid setting: {err}")
            return
        display(live.summary())


run_button.on_click(on_run)
display(widgets.VBox([widgets.HBox([widgets.VBox(list(controls.values())[:5]),
                                    widgets.VBox(list(controls.values())[5:])]), run_button, panel_output]))

# %% [markdown]
# ## Claims ledger

# %%
ledger.save()
display(ledger.table())
display(pd.DataFrame(ledger.table()["verdict"].value_counts()))

# %% [markdown]
# ## What we found
#
# - **Fig. 2** reproduces: with the teacher fixed, the KD gain rises with $\gamma$, is clearly
#   negative when the modalities share no decisive feature and positive at $\gamma = 1$. Its size
#   depends on the KD weighting (sensitivity table) by about a point at $\gamma = 1$; eq. (1) gives
#   the larger gain, and the paper's +2.1 is within our 2-point tolerance.
# - **Fig. 3** reproduces: the teacher climbs from about 60% to about 90% as $\alpha$ grows while
#   the KD student does not improve (its gain shrinks towards zero). Under the appendix's literal
#   $d = U$ the teacher does not climb at all, which is why we follow the code.
# - **Table 2** reproduces in direction at every $\gamma$: the modality-general teacher is more
#   than 10 points worse and distils a better student than the regular teacher, whose distillation is
#   worth almost nothing. The absolute accuracies match the paper's to within about two points
#   (verdicts above); the MG-KD advantage is larger under eq. (1) than in the paper and about the
#   paper's size under the script's weighting.
# - **Beyond the paper**, the simplex map shows where crossmodal KD *hurts*: whenever the teacher
#   misses much of what the student can see (large $\beta$). It also qualifies "teacher accuracy
#   does not reflect KD effectiveness": over the whole simplex the teacher's accuracy rank-correlates
#   with the gain at least as strongly as $\gamma$ does, because in this family a weak teacher is
#   one with a large $\beta$. Fig. 3's dissociation is real but lives on the $\beta = 0$ edge.
#   Holding the teacher fixed, the gain rises with $\gamma$ clearly for strong teachers (the lines
#   with large $|J_1|$) and not reliably for weak ones, so the pooled within-teacher test is weaker
#   than the Fig. 2 test (see its verdict above).

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
# - **Index sets and seeds.** The index layout is a relabelling of the code's (exchangeable i.i.d.
#   coordinates). Each run's hyperplane, data and initialisations come from its own seeded streams,
#   so a run does not depend on which other runs are batched with it, and the quick profile's
#   seeds are the first seeds of the full profile. The two students of a run share their
#   initialisation (the script draws them independently), which only reduces the noise of the gain.
