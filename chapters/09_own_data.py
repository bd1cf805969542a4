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
# # Diagnose your own paired data
#
# The earlier chapters re-run the papers' experiments. This one shows how to ask the same
# questions of **your own** paired data: two modalities measured on the same samples, `X_a`
# (the teacher's modality), `X_b` (the student's), labels `y` and, where samples come from
# people, a group id per sample so that no person is in both training and test data.
# One library call, `ranking.diagnose_pair`, does everything MFH {cite}`xue2023mfh` and the
# evidence engine ask for:
#
# 1. a split by group and standardisation with training statistics (`mfh_lib.data.group_split`,
#    `standardize`);
# 2. MFH's Algorithm 1: a joint training of both unimodal networks with eq. (28) and a
#    permutation ranking of the teacher's penultimate channels by their modality-general
#    decisive information;
# 3. teachers: the regular one and, for each nullifying ratio $r$, a modality-general, a
#    modality-specific and a random one (Sec. 5.4);
# 4. KD with eq. (1) into a student on `X_b` for every teacher, beside a no-KD student and four
#    controls: a noise teacher, born-again self-distillation, label smoothing at the teacher's
#    confidence and cross-fitted teacher logits;
# 5. the CCH criterion {cite}`xie2025cch` and the MFH-side shared share for every teacher
#    (`cch.criteria_from_features`, see the CCH chapter).
#
# It returns a tidy table with one row per condition and seed, which the evidence engine judges
# directly. The chapter's code is what a user writes: load arrays, one call, a table, a figure,
# the verdicts. The claims here are ours (questions about this pair, not the papers' claims).
#
# **The demonstration pair:** RAVDESS {cite}`livingstone2018ravdess` clips, audio MFCC statistics
# (each coefficient's mean and std over the clip, computed from the raw audio by
# `mfh_lib.data.ravdess_audio.paired_arrays`) as the teacher's modality and facial action units as the student's, emotions as labels, actors
# as groups, read as plain arrays from `$MFH_DATA_DIR` (without it, the RAVDESS-shaped stand-in of
# the Algorithm 1 chapter, with the same shapes; the output says which).

# %% tags=["parameters"]
profile = "quick"
seeds = None  # None: the profile's number of seeds
device = "auto"
data_dir = None  # folder with ravdess_speech/ and ravdess_au_mfcc/; None: $MFH_DATA_DIR, else the stand-in

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display
from myst_nb import glue

from mfh_lib import claims, config, formatting, plotting, ranking
from mfh_lib.data import group_split, ravdess_audio
from mfh_lib.data.ravdess import STANDIN_SOURCE, make_ravdess_standin

CHAPTER = "09_own_data"
config.set_threads(2)
cfg = config.load_profile(CHAPTER, profile, seeds=seeds)
device = config.pick_device(device)
data_dir = config.resolve_data_dir(data_dir)
plotting.use_book_style()
# The study's settings are typed: a missing or misspelt key stops here with its name.
settings = ranking.NullifiedStudySettings.from_dict({**cfg["study"], "seeds": cfg["seeds"]})
for key in ("seeds", "joint_epochs", "student_epochs", "num_permutations", "cross_fit_folds"):
    glue(f"ch09_{key}", getattr(settings, key), display=False)
glue("ch09_rho", f"{settings.rho:g}", display=False)
glue("ch09_ratios", ", ".join(f"{100 * r:g}" for r in settings.ratios), display=False)
glue("ch09_val_groups", cfg["val_groups"], display=False)
glue("ch09_test_groups", cfg["test_groups"], display=False)

# %% [markdown]
# ## Your arrays
#
# Nothing below depends on RAVDESS: any `x_a` (N, D_a), `x_b` (N, D_b), integer `y` (N,) and
# optional `groups` (N,) will do. The number of classes is passed explicitly, so a class that
# happens to be missing from the training actors still gets its logit (the library warns).

# %%
if data_dir is not None:
    x_a, x_b, y, groups = ravdess_audio.paired_arrays(data_dir)  # MFCC clip statistics from the raw audio
    source = ravdess_audio.SOURCE
else:
    x_a, x_b, y, groups, _ = make_ravdess_standin(seed=0)
    source = STANDIN_SOURCE
print(f"data: {source}; x_a {x_a.shape} (audio MFCC statistics), x_b {x_b.shape} (face action units), "
      f"{len(np.unique(y))} classes, {len(np.unique(groups))} actors")

# %% [markdown]
# ## One call
#
# `val` and `test` count groups: {glue:text}`ch09_val_groups` actors for validation (the epoch
# each student keeps) and {glue:text}`ch09_test_groups` for test. This run trains
# {glue:text}`ch09_seeds` seeds, {glue:text}`ch09_joint_epochs` epochs of Algorithm 1's joint
# training and {glue:text}`ch09_student_epochs` student epochs, ranks with
# $M =$ {glue:text}`ch09_num_permutations` permutations per channel, nullifies
# $r =$ {glue:text}`ch09_ratios`% of the channels, and distils with
# $\rho =$ {glue:text}`ch09_rho`. The result is cached by the data's
# content hash and the settings.

# %%
diagnosis = ranking.diagnose_pair(x_a, x_b, y, groups, settings=settings, num_classes=8, split_seed=cfg["split_seed"],
                                  val=cfg["val_groups"], test=cfg["test_groups"], source=source,
                                  modalities=("audio (MFCC statistics)", "face (action units)"), device=device)
data = diagnosis.data
print(f"data: {data.source}; {len(data.train)} / {len(data.val)} / {len(data.test)} clips "
      f"(train / val / test), {settings.seeds} seeds")
formatting.html_table(diagnosis.table.head(3), digits=1)  # the tidy table: one row per condition and seed

# %% [markdown]
# ## What the diagnosis says
#
# Seed means per condition: the teacher's test accuracy (where it predicts test inputs), the
# student's test accuracy and its gain over the no-KD student of the same seed (mean ± std over
# seeds), and for the teachers the CCH gap $I(T;S) - I(S;Y)$ (nats) and `mfh_shared`, the share
# of the teacher's label signal that a linear map of the face features reproduces.

# %%
summary = diagnosis.summary()
gain_text = [formatting.pm(m, s, 1, signed=True) for m, s in zip(summary.gain, summary.gain_std)]
shown = pd.DataFrame({"condition": summary.condition, "kind": summary.family, "teacher acc (%)": summary.teacher_acc,
                      "student acc (%)": summary.student_acc, "gain (pp)": gain_text, "CCH gap": summary.cch_gap,
                      "mfh_shared": summary.mfh_shared})
print(f"data: {data.source}; chance = 12.5%")
formatting.html_table(shown, {"teacher acc (%)": 1, "student acc (%)": 1, "CCH gap": 3, "mfh_shared": 3})

# %%
fig, ax = plt.subplots(figsize=(9, 3.8))
conditions = list(summary.condition[summary.family != "no KD"])
for i, condition in enumerate(conditions):
    gains = diagnosis.values(condition, "gain")
    ax.scatter(np.full(gains.size, i), gains, color="grey", s=14, zorder=3)
    ax.errorbar(i, gains.mean(), yerr=gains.std(ddof=1), fmt="o", color="C0", capsize=4)
ax.axhline(0, color="black", lw=0.8)
ax.set_xticks(range(len(conditions)), conditions, rotation=30, ha="right")
ax.set_ylabel("student gain over no KD (pp)")
plotting.finish(fig, f"{'RAVDESS' if data_dir else 'stand-in'}: face student's gain per teacher and control "
                     "(dots: seeds; bars: mean ± std)")

# %% [markdown]
# ## Verdicts
#
# Each claim is a paired per-seed difference (students of one seed share their initialisation),
# judged by its 95% t interval over seeds as declared in `paper_numbers/09_own_data.json` before
# the run. The split is a check: no actor may be in two splits.

# %%
ledger = claims.Ledger(CHAPTER, profile, data.source, device=str(device), data_hash=data.content_hash)
train, val, test = group_split(groups, seed=cfg["split_seed"], val=cfg["val_groups"], test=cfg["test_groups"])
actor_sets = [set(np.asarray(groups)[mask].tolist()) for mask in (train, val, test)]
shared_actors = len(actor_sets[0] & actor_sets[1]) + len(actor_sets[0] & actor_sets[2]) + len(actor_sets[1] & actor_sets[2])
ledger.check("own_group_split_disjoint", shared_actors == 0 and int(train.sum() + val.sum() + test.sum()) == len(y),
             f"{shared_actors} actors shared; {len(y)} clips in {int(train.sum() + val.sum() + test.sum())} split slots",
             [shared_actors])
general, specific = (ranking.teacher_label(mode, settings.ratios[len(settings.ratios) // 2], settings.num_permutations)
                     for mode in ("general", "specific"))
for claim_id, (condition, baseline) in {"own_kd_beats_noise_teacher": ("regular", "noise teacher"),
                                        "own_kd_beats_born_again": ("regular", "born-again"),
                                        "own_kd_beats_no_kd": ("regular", "no KD"),
                                        "own_general_beats_specific": (general, specific)}.items():
    ledger.test(claim_id, diagnosis.paired(condition, baseline))
ledger.save()
for claim_id, row in ledger.rows.items():
    glue(f"ch09_v_{claim_id}", row["verdict"], display=False)
regular = summary.set_index("condition").loc["regular"]
glue("ch09_regular_teacher_acc", f"{regular.teacher_acc:.1f}", display=False)
glue("ch09_no_kd_acc", f"{diagnosis.values('no KD').mean():.1f}", display=False)
glue("ch09_regular_gain", f"{regular.gain:+.1f}", display=False)
glue("ch09_noise_diff", f"{diagnosis.paired('regular', 'noise teacher').mean():+.1f}", display=False)
display(ledger.table())

# %% [markdown]
# On this pair the regular audio teacher reaches {glue:text}`ch09_regular_teacher_acc`% of the
# test clips and the face student alone {glue:text}`ch09_no_kd_acc`%; KD changes the student by
# {glue:text}`ch09_regular_gain` points (seed mean). Against the noise teacher the regular
# teacher's student differs by {glue:text}`ch09_noise_diff` points
# (*{glue:text}`ch09_v_own_kd_beats_noise_teacher`*); against born-again self-distillation:
# *{glue:text}`ch09_v_own_kd_beats_born_again`*; against no KD:
# *{glue:text}`ch09_v_own_kd_beats_no_kd`*; modality-general against modality-specific teacher:
# *{glue:text}`ch09_v_own_general_beats_specific`*. With few seeds an interval across zero is
# *inconclusive*, not a negative result: the ledger gives the minimal detectable effect and the
# seeds that would resolve it.
#
# **Reading the diagnosis for your data.** If the regular teacher's student does not beat the
# noise teacher's, the teacher's logits carry no more than a regulariser would; if it does not
# beat born-again, the gain is self-distillation, not crossmodal knowledge. Sec. 5.4's question
# (does a modality-general teacher help more than a modality-specific one?) is the comparison of
# the two nullified teachers, and the CCH gap and `mfh_shared` columns say how much of each
# teacher the student's modality can see.
#
# ## Deviations
#
# * The networks are the MLPs of the Algorithm 1 chapter at smaller widths in the quick profile;
#   the profile's settings are in `chapters/configs/09_own_data.json` and the full profile uses the
#   authors' widths.
# * The split here keeps whole actors apart but, unlike the RAVDESS loader, does not balance the
#   sexes of held-out actors: `group_split` knows nothing about the data.
