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
# # MM-IMDB: a modality-specific multimodal teacher (MFH App. B.3, Tab. 7)
#
# **The claim.** On MM-IMDB movie-genre classification (drama and comedy, multi-label), MFH
# {cite}`xue2023mfh` distils into a *text* student from three teachers of similar F1:
#
# - **UM-KD**: a unimodal teacher;
# - **Modality-specific-KD**: a multimodal (text + image) network trained, following
#   {cite}`xue2021multimodal`, on the *pseudo-labels of a unimodal image network*, so it leans on the
#   image and is more modality-specific (smaller $\gamma$);
# - **Regular-KD**: the same multimodal network trained on the labels (larger $\gamma$).
#
# Tab. 7 reports that the Regular-KD student is best (micro / macro F1 65.09 / 63.31 against
# 61.77 / 57.26 and 61.04 / 56.44) although the teachers' F1 are within one point: per the
# modality focusing hypothesis, what a teacher transfers is its *modality-general* decisive
# knowledge, not its accuracy.
#
# **Which modality is the UM-KD teacher?** Tab. 7 lists its modality as T (text), but the text of
# App. B.3 says "the unimodal teacher comes from the image modality and the modality-specific
# multimodal teacher is *also* biased towards the image modality", and that the first half of the
# training data trains "the unimodal teacher", while the pseudo-labels come from "an unimodal image
# network". A text teacher for a text student would not be crossmodal KD and, by MFH's own
# argument, would carry only student-visible knowledge, so it could not serve as the low-$\gamma$
# example the paragraph describes. We therefore read the table's "T" as a typo: **the UM-KD teacher
# is the unimodal image network**, the same network whose pseudo-labels train the
# modality-specific teacher. The table's literal reading (a text teacher) is run as an extra row,
# "UM-KD (text teacher)", so the reader can see what it would change.

# %% tags=["parameters"]
profile = "quick"
seeds = None  # None: the profile's number of seeds
device = "auto"
data_dir = None  # None: $MFH_DATA_DIR if set (needs mmimdb/multimodal_imdb.hdf5), else the stand-in
genres = ["Drama", "Comedy"]  # MFH keeps two of MM-IMDB's 23 genres (mfh_lib.data.mmimdb.GENRES)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display
from myst_nb import glue

from mfh_lib import claims, config, formatting, multilabel, plotting, stats
from mfh_lib.data import mmimdb

config.set_threads(2)
cfg = config.load_profile("06_mmimdb", profile, seeds=seeds)
device = config.pick_device(device)
data_dir = config.resolve_data_dir(data_dir)
config.seed_everything(0)
plotting.use_book_style()
num_seeds = cfg["seeds"]
data = mmimdb.load_mmimdb(data_dir, seed=0, genres=genres, standin=cfg["standin"]).to(device)
is_standin = "world" in data.ground_truth
print(data.source)
print(f"train / val / test: {len(data.train)} / {len(data.val)} / {len(data.test)};"
      f" image features {data.train.a.shape[1]}, text features {data.train.b.shape[1]}; seeds: {num_seeds}")

# Config values and planted shares the prose mentions, glued so the text cannot disagree with the code.
quick_cfg, full_cfg = config.load_profile("06_mmimdb", "quick"), config.load_profile("06_mmimdb", "full")
for key in ("batch_size", "weight_decay", "rho", "temperature"):
    glue(f"ch06_{key}", cfg[key], display=False)
glue("ch06_quick_width", quick_cfg["hidden_text"], display=False)
glue("ch06_full_width_text", full_cfg["hidden_text"], display=False)
glue("ch06_full_width_image", full_cfg["hidden_image"], display=False)
glue("ch06_quick_lr", f"{quick_cfg['lr']:g}", display=False)
glue("ch06_full_lr", f"{full_cfg['lr']:g}", display=False)
planted = data.ground_truth["shares"] if is_standin else None
for group in ("general", "text", "image"):
    glue(f"ch06_share_{group}", 100 * planted[group] if planted else float("nan"), display=False)
glue("ch06_text_evidence", 100 * (planted["general"] + planted["text"]) if planted else float("nan"), display=False)
glue("ch06_image_evidence", 100 * (planted["general"] + planted["image"]) if planted else float("nan"), display=False)

# %% [markdown]
# ## Data
#
# The real experiment uses the `multimodal_imdb.hdf5` features of Arevalo et al.
# {cite}`arevalo2017gated` as MultiBench {cite}`liang2021multibench` distributes them: the mean
# word2vec embedding of the plot (300-d, the student's modality) and VGG-16 features of the poster
# (4096-d), with the official split (15,552 / 2,608 / 7,799 rows).
# `mfh_lib.data.mmimdb.load_mmimdb` reads it from `$MFH_DATA_DIR/mmimdb/`. MM-IMDB cannot be
# obtained on this machine, so unless that file is present the chapter runs on an **offline
# stand-in** with the same interface and a known ground truth:
#
# - three groups of latent factors, each N(0, I): **general** (rendered into both modalities),
#   **text-only** and **image-only**;
# - each genre's score splits its variance {glue:text}`ch06_share_general:.0f` /
#   {glue:text}`ch06_share_text:.0f` / {glue:text}`ch06_share_image:.0f` % between the general,
#   text-only and image-only groups, and a genre is present when its score plus logistic label noise
#   exceeds a threshold set for MM-IMDB's prevalence (the positive rates are in the table below);
# - text features are a dense random projection of (general, text-only) factors plus noise
#   (word2vec-like); image features are a rectified projection of (general, image-only) factors
#   with more noise (VGG-like, non-negative). Text therefore sees {glue:text}`ch06_text_evidence:.0f` %
#   of the genre evidence and the image {glue:text}`ch06_image_evidence:.0f` %, through noisier features: text is the dominant modality, as on MM-IMDB (MSD Fig. 3).
#
# Because the factors are known, the stand-in can answer what the real data cannot: how much of
# each teacher's decision rests on evidence the text student can also see.

# %%
label_rates = pd.DataFrame(
    {split: getattr(data, split).y.double().mean(0).cpu().numpy() * 100 for split in ("train", "val", "test")},
    index=list(genres),
).round(1)
label_rates.index.name = "positive rate (%)"
display(formatting.html_table(label_rates, index=True, digits=1))

# %% [markdown]
# ## Setup
#
# Following App. B.3: the training split is randomly halved; the first half trains the teachers,
# the second half trains the text student with $\rho$ = {glue:text}`ch06_rho` (distillation only, no labels). Each seed
# draws its own halving, initialisation and batch order, and all seeds train at once as one
# vectorised ensemble (`mfh_lib.training.Ensemble`). The whole study is one library call,
# {py:func}`mfh_lib.multilabel.f1_matched_kd_study`, which returns one row per seed, teacher and
# teacher selection; the same call runs it on any multi-label paired dataset.
#
# - **Networks** (MultiBench): unimodal = MLP encoder + MLP head;
#   multimodal = late fusion of a text and an image MLP encoder with an MLP head. Both multimodal
#   teachers have identical architecture. The quick profile shrinks the widths (see the config).
# - **Training**: AdamW, weight decay {glue:text}`ch06_weight_decay`, batch {glue:text}`ch06_batch_size`,
#   binary cross-entropy per genre; predictions
#   threshold the sigmoid at 0.5; micro and macro F1 as in Arevalo et al.
# - **Modality-specific teacher** {cite}`xue2021multimodal`: the image network (early-stopped on
#   validation macro F1) labels the teachers' half; its hard pseudo-labels (sigmoid > 0.5) replace
#   the genre labels when training the multimodal network.
# - **Teachers of similar F1**: the paper picks teachers "that have similar performance on test
#   data". We record every teacher after every epoch and, per seed, take each teacher at the epoch
#   whose validation micro F1 is closest to the weakest teacher's best, so the
#   teachers are matched on validation data and reported on test data.
# - **Multi-label KD**: each genre is an independent sigmoid, so the KD term is the per-genre binary
#   KL divergence $\mathrm{KL}(\mathrm{Ber}(\sigma(t/T))\,\|\,\mathrm{Ber}(\sigma(s/T)))$ averaged
#   over genres and samples (`mfh_lib.losses.multilabel_kd_divergence`, T = {glue:text}`ch06_temperature`).
# - **Students** are early-stopped on validation macro F1 (MultiBench's rule); a text network
#   trained on the labels of the same half ("No-KD") is shown for reference.

# %%
# The study's settings are the profile's, less the stand-in's size (a property of the data).
settings = multilabel.F1MatchedKDSettings.from_dict({k: v for k, v in cfg.items() if k != "standin"})
study = multilabel.f1_matched_kd_study(data, settings)
TEACHERS, MAIN_TEACHERS = list(multilabel.TEACHERS), [multilabel.UM_KD, multilabel.MODALITY_SPECIFIC, multilabel.REGULAR]
STUDENTS = [multilabel.NO_KD, *TEACHERS]
MATCHED, BEST = multilabel.MATCHED, multilabel.BEST_EPOCH


def seed_summary(conditions, columns, selection=MATCHED, decimals=2):
    """'mean ± std' over seeds per condition (rows) and tidy-table column (``columns``: name -> shown)."""
    return pd.DataFrame({name: {shown: stats.mean_std(study.values(name, column, selection), decimals)
                                for column, shown in columns.items()} for name in conditions}).T


F1 = {"micro_f1": "micro F1", "macro_f1": "macro F1"}
TEACHER_F1 = {f"teacher_{k}": ("teacher", v) for k, v in F1.items()}
STUDENT_F1 = {f"student_{k}": ("student (text)", v) for k, v in F1.items()}

# %% [markdown]
# ## Teachers
#
# The image network is trained first, because its pseudo-labels are the modality-specific
# teacher's targets. The study is cached by the data's content hash and the settings, so a re-run
# with unchanged data and settings reads its results back.

# %%
print("image-network pseudo-labels agree with the true labels on", stats.mean_std(study.pseudo_label_agreement, 1),
      "% of the teachers' (genre, movie) pairs")

# %% [markdown]
# Matching: per seed, the target is the weakest teacher's best validation F1; every teacher is
# taken at the epoch closest to it.

# %%
teacher_table = seed_summary(TEACHERS, {"teacher_val_micro_f1": "val micro F1", "teacher_micro_f1": "micro F1",
                                        "teacher_macro_f1": "macro F1"})
teacher_table.insert(0, "epoch (mean)", [f"{study.values(name, 'teacher_epoch').mean():.1f}" for name in TEACHERS])
teacher_table.insert(0, "modality", ["I" if name == multilabel.UM_KD else "T" if "text" in name else "T+I" for name in TEACHERS])
teacher_table.index.name = f"teacher, F1 (%; test unless marked val), {num_seeds} seeds"
display(formatting.html_table(teacher_table, index=True))

# %% [markdown]
# ### How modality-general is each teacher? (stand-in ground truth)
#
# MFH's $\gamma$ is the share of a teacher's decisive knowledge that the student's modality also
# carries. On the stand-in we can measure it directly: shuffle one planted factor group across the
# validation movies, re-render both modalities, and record how much the teacher's predicted genre
# probabilities move (mean absolute change). A group's *reliance share* is its change over the sum
# of the three. The text student can see the general and text-only factors, so
# $\hat\gamma$ = share(general) + share(text-only); the image-only share is knowledge a text student
# cannot reproduce. This is the ground-truth counterpart of the permutation ranking of MFH's
# Algorithm 1.

# %%
gamma_hat = {name: study.values(name, "gamma_hat") for name in TEACHERS} if is_standin else {}
if is_standin:
    reliance_table = seed_summary(TEACHERS, {**{f"share_{g}": f"{g} share" for g in mmimdb.FACTOR_GROUPS},
                                             "gamma_hat": "γ̂ = general + text"}, decimals=3)
    reliance_table.loc["planted in the labels"] = [f"{planted[g]:.3f}" for g in mmimdb.FACTOR_GROUPS] + [
        f"{planted['general'] + planted['text']:.3f}"]
    reliance_table.index.name = "teacher reliance on planted factors (stand-in)"
    display(formatting.html_table(reliance_table, index=True))
else:
    print("real data: no planted factors, so the teachers' gamma cannot be measured directly")

# %% [markdown]
# ## Students

# %%
tab7 = seed_summary(STUDENTS, {**TEACHER_F1, **STUDENT_F1})
tab7.loc[multilabel.NO_KD, list(TEACHER_F1.values())] = "—"  # trained on labels: no teacher
tab7.columns = pd.MultiIndex.from_tuples(tab7.columns)
tab7.index.name = f"{'stand-in' if is_standin else 'MM-IMDB'}, test F1 (%), mean ± std over {num_seeds} seeds"
display(formatting.html_table(tab7, index=True))

# %% [markdown]
# The paper's Tab. 7 for comparison (typed once in `mfh_lib/paper_numbers/06_mmimdb.json`):

# %%
paper = claims.paper_claims("06_mmimdb")
paper_tab7 = pd.DataFrame({
    name: {("teacher", "micro F1"): paper[f"{key}_teacher_micro"]["paper_value"],
           ("teacher", "macro F1"): paper[f"{key}_teacher_macro"]["paper_value"],
           ("student (text)", "micro F1"): paper[f"{key}_student_micro"]["paper_value"],
           ("student (text)", "macro F1"): paper[f"{key}_student_macro"]["paper_value"]}
    for name, key in (("UM-KD", "um"), ("Modality-specific-KD", "ms"), ("Regular-KD", "reg"))
}).T
paper_tab7.index.name = "MFH Tab. 7 (MM-IMDB, one run)"
display(formatting.html_table(paper_tab7, index=True, digits=2))

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
order = [multilabel.NO_KD, multilabel.UM_KD, multilabel.MODALITY_SPECIFIC, multilabel.REGULAR, multilabel.TEXT_TEACHER]
for ax, (column, metric) in zip(axes, F1.items()):
    for x, name in enumerate(order):
        values = study.values(name, f"student_{column}")
        ax.scatter(np.full(values.size, x), values, color="0.6", s=14, zorder=2)
        ax.errorbar(x, values.mean(), yerr=values.std(ddof=1), fmt="o", color=f"C{x}", capsize=4, zorder=3)
    ax.set_xticks(range(len(order)), [n.replace(" (", "\n(") for n in order], rotation=20, fontsize=8)
    ax.set_title(f"text student, test {metric}")
axes[0].set_ylabel("F1 (%)")
plotting.finish(fig, f"Students of F1-matched teachers ({'stand-in' if is_standin else 'MM-IMDB'}; dots = seeds)")

# %% [markdown]
# ### Control: teachers at their best epoch instead of F1-matched
#
# Matching holds the multimodal teachers back. As a control, every teacher is instead taken at its
# best validation epoch (macro F1, as for the students) and the students are distilled again. The
# teachers' F1 now differ, so this control cannot isolate $\gamma$; it shows how much of the
# picture above comes from stopping the teachers early.

# %%
control_columns = {**TEACHER_F1, **STUDENT_F1}
control = seed_summary(TEACHERS, control_columns, selection=BEST)
if is_standin:
    control[("teacher", "γ̂")] = seed_summary(TEACHERS, {"gamma_hat": "γ̂"}, selection=BEST, decimals=3)["γ̂"]
control.columns = pd.MultiIndex.from_tuples(control.columns)
control.index.name = f"best-epoch teachers ({'stand-in' if is_standin else 'MM-IMDB'}), test F1 (%), {num_seeds} seeds"
display(formatting.html_table(control, index=True))

# %% [markdown]
# ## Verdicts
#
# Each claim is judged on per-seed paired differences (the same seed shares the data halving and
# the student's initialisation across teachers), with 95% t intervals, by the test declared with the
# claim in `mfh_lib/paper_numbers/06_mmimdb.json` before the run (`mfh_lib.evidence`):
#
# - *Teachers have similar F1* (App. B.3 selects them so): the largest pairwise gap in test micro F1
#   among the three teachers, an equivalence test: reproduced when its interval lies inside
#   ±{glue:text}`ch06_match_margin:.0f` F1 points.
# - *The Regular-KD student beats the Modality-specific-KD and the UM-KD students*: directional,
#   reproduced when the interval of the paired difference lies above zero. These comparisons mean
#   something only between teachers of similar F1, so they carry the precondition "teachers matched
#   within {glue:text}`ch06_match_margin:.0f` F1 points" (seed mean; Tab. 7's gap is 1.00): where the
#   matching failed they are *not testable*, and the number is still shown. The stand-in's F1 scale
#   is not MM-IMDB's, so the paper's sizes are shown, not tested.
# - *The pseudo-label teacher is more modality-specific*: its $\hat\gamma$ is below the regular
#   teacher's (stand-in only: real data have no planted factors).

# %%
ledger = claims.Ledger("06_mmimdb", profile, data_source=data.source, device=str(device), data_hash=data.content_hash)
teacher_micro = np.stack([study.values(name, "teacher_micro_f1") for name in MAIN_TEACHERS])  # (3, S)
gap = teacher_micro.max(0) - teacher_micro.min(0)
val_micro = np.stack([study.values(name, "teacher_val_micro_f1") for name in MAIN_TEACHERS])
val_gap = val_micro.max(0) - val_micro.min(0)  # what the matching equalises (validation data)
ledger.test("teachers_similar_f1", gap)
matched = {"teachers_matched": float(gap.mean())}

for other, key in ((multilabel.MODALITY_SPECIFIC, "ms"), (multilabel.UM_KD, "um")):
    for metric in ("micro", "macro"):
        column = f"student_{metric}_f1"
        difference = study.values(multilabel.REGULAR, column) - study.values(other, column)
        ledger.test(f"reg_minus_{key}_student_{metric}", difference, preconditions=matched)

if is_standin:
    ledger.test("reg_gamma_gt_ms_gamma", gamma_hat[multilabel.REGULAR] - gamma_hat[multilabel.MODALITY_SPECIFIC],
                preconditions={"planted_factors": 1})
else:
    ledger.test("reg_gamma_gt_ms_gamma", None, preconditions={"planted_factors": 0})

# Tab. 7's absolute F1 values: shown beside ours, not testable on a stand-in.
for name, key in zip(MAIN_TEACHERS, ("um", "ms", "reg")):
    for metric in ("micro", "macro"):
        for role in ("teacher", "student"):
            ledger.test(f"{key}_{role}_{metric}", stats.mean_estimate(study.values(name, f"{role}_{metric}_f1"),
                                                                      what=f"{name} {role} {metric} F1"))
ledger.save()
display(formatting.html_table(ledger.table(), caption=f"Claims of MFH App. B.3 / Tab. 7 on {data.source}"))

glue("ch06_match_margin", paper["teachers_similar_f1"]["test"]["margin"], display=False)
glue("ch06_teacher_gap", round(float(gap.mean()), 3), display=False)
glue("ch06_teacher_val_gap", round(float(val_gap.mean()), 3), display=False)
for claim_id in ("teachers_similar_f1", "reg_minus_ms_student_micro", "reg_minus_um_student_micro", "reg_gamma_gt_ms_gamma"):
    glue(f"ch06_verdict_{claim_id}", ledger.rows[claim_id]["verdict"], display=False)

# %% [markdown]
# ## Discussion
#
# The numbers the discussion refers to, computed from the runs above:

# %%
def seed_mean(name, column, selection=MATCHED):
    return float(study.values(name, column, selection).mean()) if name in TEACHERS or "student" in column else float("nan")


discussion = pd.DataFrame({
    name: {"teacher epoch (mean)": seed_mean(name, "teacher_epoch"), "teacher γ̂": seed_mean(name, "gamma_hat"),
           "student micro F1": seed_mean(name, "student_micro_f1"), "student macro F1": seed_mean(name, "student_macro_f1"),
           "student - teacher, micro F1": seed_mean(name, "student_micro_f1") - seed_mean(name, "teacher_micro_f1"),
           "student of the best-epoch teacher, micro F1": seed_mean(name, "student_micro_f1", BEST) if name in TEACHERS
           else float("nan")}
    for name in STUDENTS
}).T
discussion.index.name = "teacher of the text student"
display(formatting.html_table(discussion, index=True, digits=2, caption=f"Seed means, {data.source}"))
GLUED = {  # glue key -> (row, column) of the table above, for the prose below
    "ch06_um_gamma": ("UM-KD", "teacher γ̂"), "ch06_ms_gamma": ("Modality-specific-KD", "teacher γ̂"),
    "ch06_reg_gamma": ("Regular-KD", "teacher γ̂"), "ch06_text_gamma": ("UM-KD (text teacher)", "teacher γ̂"),
    "ch06_um_micro": ("UM-KD", "student micro F1"), "ch06_ms_micro": ("Modality-specific-KD", "student micro F1"),
    "ch06_reg_micro": ("Regular-KD", "student micro F1"), "ch06_nokd_micro": ("No-KD (labels)", "student micro F1"),
    "ch06_text_transfer": ("UM-KD (text teacher)", "student - teacher, micro F1"),
    "ch06_reg_transfer": ("Regular-KD", "student - teacher, micro F1"),
    "ch06_reg_epoch": ("Regular-KD", "teacher epoch (mean)"),
    "ch06_reg_best_micro": ("Regular-KD", "student of the best-epoch teacher, micro F1"),
    "ch06_ms_best_micro": ("Modality-specific-KD", "student of the best-epoch teacher, micro F1"),
    "ch06_um_best_micro": ("UM-KD", "student of the best-epoch teacher, micro F1"),
}
for key, (row, column) in GLUED.items():
    glue(key, round(float(discussion.loc[row, column]), 3), display=False)

# %% [markdown]
# **What the stand-in shows.** The mechanism App. B.3 relies on is measurable here: trained on an
# image network's pseudo-labels, the multimodal teacher leans on image-only evidence, so its
# $\hat\gamma$ (the share of its decision that a text student can see) is
# {glue:text}`ch06_ms_gamma:.2f` against {glue:text}`ch06_reg_gamma:.2f` for the regular multimodal
# teacher and {glue:text}`ch06_um_gamma:.2f` for the image teacher (claim:
# {glue:text}`ch06_verdict_reg_gamma_gt_ms_gamma`). The students' micro F1 are
# {glue:text}`ch06_um_micro:.1f` (UM-KD), {glue:text}`ch06_ms_micro:.1f` (Modality-specific-KD) and
# {glue:text}`ch06_reg_micro:.1f` (Regular-KD); a teacher whose knowledge is all text-visible (the
# "UM-KD (text teacher)" row, $\hat\gamma$ = {glue:text}`ch06_text_gamma:.2f`) has a student that
# ends {glue:text}`ch06_text_transfer:+.1f` micro-F1 points from its teacher, against
# {glue:text}`ch06_reg_transfer:+.1f` for the regular multimodal teacher. Whether the student
# differences clear the seed noise, and whether the teachers were matched closely enough for the
# comparison to mean what the paper means, is what the verdict table says: the teachers' largest
# gap is {glue:text}`ch06_teacher_gap:.2f` F1 points (claim "teachers similar":
# {glue:text}`ch06_verdict_teachers_similar_f1`; Regular-KD over Modality-specific-KD, micro F1:
# {glue:text}`ch06_verdict_reg_minus_ms_student_micro`; over UM-KD:
# {glue:text}`ch06_verdict_reg_minus_um_student_micro`). Macro F1 over two genres is dominated by the
# minority genre (comedy) and by how the student's sigmoid is calibrated around 0.5, so its paired
# differences are noisier than micro F1's.
#
# **Resolution of "UM-KD".** We took the UM-KD teacher to be the unimodal *image* network (App.
# B.3's text) rather than a text network (the table's "T"). The extra row is the test of this
# reading: a text teacher passes its knowledge to a text student almost losslessly (compare the
# "student - teacher" column of the table above), so with a text teacher UM-KD would not be the
# low-$\gamma$ example App. B.3 describes.
#
# **Matching teachers costs teacher quality.** A multimodal network sees everything the image
# network sees, so matching its F1 to the image teacher's means stopping it early: the matched
# regular teacher is taken after {glue:text}`ch06_reg_epoch:.1f` epochs on average, an immature
# network whose minority-genre predictions are not yet calibrated, and its student inherits that
# (compare the macro-F1 column). Epoch granularity also limits how close the match can be, which
# is what the "teachers have similar F1" claim measures. On the validation movies the matching
# sees, the three teachers' largest gap averages {glue:text}`ch06_teacher_val_gap:.2f` micro-F1
# points; on the test movies it is {glue:text}`ch06_teacher_gap:.2f`. Two things keep the gap
# above zero: a teacher can only be taken after a whole epoch, and early in training a fusion
# network can move by more than the margin in one epoch (where the validation gap is about as large as
# the test gap, this is the main cause); and the range of three noisy F1 values is positive even
# for equally good teachers. The precondition of the student claims is decided on the test gap,
# the paper's criterion ("similar performance on test data"), so where it fails the student
# comparisons are reported as not testable rather than read as evidence. The paper reports one run per teacher,
# its three teachers within 1.00 micro-F1 point (61.01-62.01); they must have been held back in a
# similar way, since its best student beats its teacher (65.09 against 61.01).
#
# The best-epoch control separates the two effects: trained to its best epoch, the regular
# multimodal teacher's student reaches {glue:text}`ch06_reg_best_micro:.1f` micro F1 (a text
# network trained on labels: {glue:text}`ch06_nokd_micro:.1f`), the image-leaning teachers'
# students {glue:text}`ch06_ms_best_micro:.1f` and {glue:text}`ch06_um_best_micro:.1f`. There the
# ranking mixes teacher quality with $\gamma$, the confound the paper's F1 matching removes at the
# price of immature teachers.
#
# **No-KD reference.** Tab. 7 has no student trained on labels. Here, with
# $\rho$ = {glue:text}`ch06_rho` and F1-matched teachers, compare the crossmodal students with the
# text network trained on the same half's labels ({glue:text}`ch06_nokd_micro:.1f` micro F1): App.
# B.3 compares teachers with one another, and nothing in it shows that crossmodal KD helps on
# MM-IMDB in absolute terms.
#
# **Deviations from the paper.** The stand-in replaces MM-IMDB (not obtainable here; the loader
# reads the real `multimodal_imdb.hdf5` when it is present, and every table names the data that
# made it). The quick profile narrows MultiBench's networks ({glue:text}`ch06_quick_width` units
# instead of {glue:text}`ch06_full_width_text` / {glue:text}`ch06_full_width_image`), uses a larger
# learning rate ({glue:text}`ch06_quick_lr` instead of {glue:text}`ch06_full_lr`) and fewer epochs;
# the full profile restores the paper's sizes. Teachers are matched on validation F1 rather than on
# test F1, the pseudo-labels are hard (the paper does not say), each seed draws its own 50:50 split,
# and results are means over seeds instead of one run.
