# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Modality-specific distillation (MSD)
#
# Jin et al. ("Modality-specific Distillation", arXiv 2101.01881 v1) distil a large multimodal
# teacher into a small multimodal student. Their observation: conventional knowledge distillation
# (KD) matches the teacher's output on the *full* input only, so the student may still disagree
# with the teacher when one modality is missing or misleading. MSD adds one distillation term per
# modality, feeding each modality *alone* to teacher and student (eq. (5)), and weights the terms:
#
# * **population** weighting: one constant weight per term, chosen on the validation set;
# * **instance** weighting by the *importance* of a modality (eq. (6): how much the teacher's
#   prediction moves when the other modality is dropped) or by the *correctness* of the teacher on
#   each modality (eq. (7): inverse cross entropy);
# * **meta-learned** weights (Algorithm 1): a Meta-Weight-Net reads the teacher's three predictions
#   and is trained online so that a one-step look-ahead of the student lowers its validation loss.
#
# The paper's claims we test, in its words: existing KD approaches improve the small model on all
# datasets, MSD improves it substantially and outperforms all the KD approaches, meta-learned weights
# are the best weighting and closest to the teacher on all three datasets, and population weighting
# beats instance weighting on MM-IMDB (Tab. 1, Sec. 4.3); MSD improves FitNet, RKD and SP when added
# on top (Tab. 2); with MSD training progresses faster (Fig. 4); "our MSD approach" agrees more with
# the teacher when a modality is swapped (Fig. 5) and has outputs closest to the teacher's (Fig. 6, 7);
# the score rises with the student's size, KD's gain over the small model is marginal and MSD beats KD
# at every size (Fig. 8). Every one of them needs a teacher that knows more than the student: the
# engine checks that first.

# %% tags=["parameters"]
profile = "quick"
seeds = None
device = "auto"
data_dir = None
num_epochs = None

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from dataclasses import replace

from myst_nb import glue

from mfh_lib import cache, claims, config, evidence, formatting, msd, plotting, stats
from mfh_lib.data.avmnist import load_avmnist
from mfh_lib.data.confounders import KINDS, importance_contrast, make_confounder_standin
from mfh_lib.data.mmimdb import GENRES, load_mmimdb
from mfh_lib.data.ravdess import load_ravdess

cfg = config.load_profile("07_msd", profile, seeds=seeds, num_epochs=num_epochs)
# One intra-op thread: the networks are tiny, so a second thread only adds synchronisation (8x slower
# on a loaded 2-core CPU, measured); a pinned count keeps results independent of the machine.
config.set_threads(cfg["threads"])
device = config.pick_device(device)
data_dir = config.resolve_data_dir(data_dir)
config.seed_everything(0)
plotting.use_book_style()
results_cache = cache.ResultsCache("07_msd")
num_seeds = cfg["seeds"]
print(f"profile={profile}, seeds={num_seeds}, student epochs={cfg['num_epochs']}, device={device.type}")
# Config values the prose mentions, glued so the text cannot disagree with the code.
glue("ch07_teacher_width", cfg["teacher_hidden"][0], display=False)
glue("ch07_student_width", cfg["student_hidden"], display=False)
glue("ch07_width_ratio", cfg["teacher_hidden"][0] // cfg["student_hidden"], display=False)
glue("ch07_modality_dropout", cfg["modality_dropout"], display=False)
glue("ch07_lam", cfg["lam"], display=False)
glue("ch07_seeds", num_seeds, display=False)
glue("ch07_meta_hidden", msd.StudentRecipe().meta_hidden, display=False)
glue("ch07_meta_weight_decay", msd.StudentRecipe().meta_weight_decay, display=False)

# %% [markdown]
# ## Setup
#
# **Views and masking.** Every sample is fed in three views: *multimodal* (a, b), *a only* (a, 0)
# and *b only* (0, b). A modality is dropped by zeroing its input; all inputs are z-scored with
# training statistics first, so a dropped modality sits at its training mean. Teacher and student
# see exactly the same views.
#
# **Models.** Teacher and student are late-fusion networks (`msd.LateFusionNet`): an MLP encoder
# per modality on the *flattened* input (for AV-MNIST the 28×28 image and the 32×32 log-mel
# spectrogram are flattened, no CNN), concatenation, an MLP fusion layer, a linear head. The teacher
# is {glue:text}`ch07_width_ratio`× wider than the student ({glue:text}`ch07_teacher_width` vs
# {glue:text}`ch07_student_width` units per layer in this profile). The paper's teacher (VisualBERT)
# handles a missing modality natively; an MLP would meet an all-mean input for the first time at
# distillation, so our teacher is trained with *modality dropout* (each sample loses one modality
# with probability {glue:text}`ch07_modality_dropout` each) and its unimodal predictions are informative.
#
# **Losses.** Student loss = λ·CE + (1−λ)·L_distill with λ = {glue:text}`ch07_lam` (the paper uses
# 0.5 on two of its three datasets), L_distill = τ² Σ_views mean_i w_i^v KL(t(x_i^v; τ) ‖ s(x_i^v; τ)) (eq. (5)).
# KD is the multimodal term alone. FitNet, RKD and SP add their feature loss (on the fusion layer's
# output; FitNet through a learned linear regressor) to KD; "X + MSD" replaces the KD term of X by
# meta-weighted MSD, so X vs X + MSD isolates MSD. Multi-label tasks use per-label sigmoids, the
# Bernoulli KL summed over labels, and τ = 1 (the paper's MM-IMDB value).
#
# **Meta-learner.** Meta-Weight-Net recipe: MLP (one hidden ReLU layer of {glue:text}`ch07_meta_hidden`)
# + sigmoid on the concatenated teacher probabilities of the three views → (w, w^a, w^b). Each step
# (Algorithm 1): a virtual step of the student, built with `torch.func.functional_call` and
# `create_graph=True`; the virtual student's cross entropy on a validation batch (the meta data)
# updates the meta-net (Adam); the real student step uses the updated weights. The virtual step is a
# differentiable copy of the student's *real* optimiser step: Adam, from the optimiser's current
# moments and step count (`msd.lookahead_params`; a unit test checks that, with the weights held
# fixed, it equals `torch.optim.Adam`'s next step). A plain SGD look-ahead at Adam's learning rate,
# which we used before, gives the meta-net the gradient of a step the student never takes. Buffers
# are cloned for the look-ahead (the BatchNorm pitfall; our models have no BatchNorm).
#
# **Seeds.** All students of one method (and, for population weighting, all grid settings) train
# at once as one `torch.func.vmap` ensemble, including the meta-learner's look-ahead. Seed s fixes
# a student's initialisation, batch order and meta batches for *every* method, so differences
# between methods are paired per seed. One teacher per dataset is shared by all students, as in the
# paper (its 5 repetitions re-train the student only).

# %%
def load(name):
    if name == "ravdess":
        dataset = load_ravdess(data_dir, seed=0)
    elif name == "avmnist":
        num_train, num_val, num_test = cfg["avmnist_sizes"]
        dataset = load_avmnist(data_dir, num_train=num_train, num_val=num_val, num_test=num_test, seed=0)
    elif name == "mmimdb":
        num_train, num_val, num_test = cfg["mmimdb_sizes"]
        dataset = load_mmimdb(data_dir, seed=0, genres=GENRES, standin={
            "num_train": num_train, "num_val": num_val, "num_test": num_test, "prevalence": cfg["mmimdb_prevalence"]})
    else:
        num_train, num_val, num_test = cfg["confounder_sizes"]
        dataset = make_confounder_standin(seed=0, num_train=num_train, num_val=num_val, num_test=num_test,
                                          noise=cfg["confounder_noise"])
    return msd.standardize(dataset).to(device)


DATASET_NAMES = {"ravdess": "RAVDESS", "avmnist": "AV-MNIST", "mmimdb": "MM-IMDB", "confounders": "Confounders"}
datasets = {name: load(name) for name in cfg["datasets"]}
formatting.html_table(pd.DataFrame([
    {"dataset": DATASET_NAMES[name], "data": ds.source, "a": ds.modalities[0], "b": ds.modalities[1],
     "task": f"{ds.num_classes} labels (multi-label)" if ds.multilabel else f"{ds.num_classes} classes",
     "train / val / test": f"{len(ds.train)} / {len(ds.val)} / {len(ds.test)}"}
    for name, ds in datasets.items()
]))

# %%
glue("ch07_ravdess_clips", sum(len(getattr(datasets["ravdess"], split)) for split in ("train", "val", "test")), display=False)
for group, share in datasets["mmimdb"].ground_truth["shares"].items():
    glue(f"ch07_share_{group}", round(100 * share), display=False)
glue("ch07_prevalence_max", round(100 * max(cfg["mmimdb_prevalence"]), 1), display=False)
glue("ch07_prevalence_min", round(100 * min(cfg["mmimdb_prevalence"]), 1), display=False)
for kind, share in datasets["confounders"].ground_truth["shares"].items():
    glue(f"ch07_conf_share_{kind}", round(100 * share), display=False)
glue("ch07_meta_share", round(100 * cfg["meta_share"]), display=False)

# %% [markdown]
# RAVDESS (real OpenFace action units + MFCC statistics of the {glue:text}`ch07_ravdess_clips` speech
# clips, split by actor) and open AV-MNIST (real MNIST images with 75% of the PCA energy removed,
# paired by class with real spoken digits from FSDD plus noise) are real data. MM-IMDB could not be
# obtained here: its stand-in is synthetic, with the paper's 23 genres and text as the dominant
# modality, as the paper reports for MM-IMDB (its Fig. 3): each genre's score is planted as
# {glue:text}`ch07_share_general`% shared evidence, {glue:text}`ch07_share_text`% text-only and
# {glue:text}`ch07_share_image`% image-only (shares of its variance), and the image is the noisier
# view. Each genre keeps its MM-IMDB prevalence (from Arevalo et al.'s genre counts: from
# {glue:text}`ch07_prevalence_max`% for drama down to {glue:text}`ch07_prevalence_min`% for film-noir),
# so the rare genres that drive macro F1 are there.
#
# **The confounder stand-in** (`mfh_lib.data.confounders`) is built to have MSD's problem, the way
# Hateful-Memes was built: each example pairs an image concept with a text concept (noisy features
# of a low-dimensional concept code), a concept is *charged* (polarity 0 or 1) or *neutral*, and
# {glue:text}`ch07_conf_share_image`% of the examples are decided by the image alone (neutral
# text), {glue:text}`ch07_conf_share_text`% by the text alone, and
# {glue:text}`ch07_conf_share_multimodal`% by both: their label is the XOR of the two polarities,
# so the same image with a different text flips the label and neither modality alone says anything
# about it. Each example's modality importance is therefore known, (1, 0), (0, 1) or (1, 1), and the
# importance, correctness and meta-learned weights can be scored against it. It stands in for
# Hateful-Memes: its Tab. 1/2 claims and the analyses of Fig. 4-8 are tested on it.
#
# The paper's own datasets (Hateful-Memes, MM-IMDB, SNLI-VE) and its pretrained transformers are not
# available, so absolute numbers are not comparable ("not testable" in the ledger); the claims are
# about *differences* between methods, which is what we test.
#
# **Meta data.** The paper uses its validation set both as the meta data of Algorithm 1 and to
# pick hyperparameters, so the meta-learned student sees labels (through the meta-gradient) that
# the others do not, and the weights are picked on the labels they were learned from. We hold out
# {glue:text}`ch07_meta_share`% of each validation set (at random) as meta data; the rest selects the
# population weights and scores every student's validation metric.

# %%
teacher_settings = msd.settings_from_profile(cfg, multilabel=False)[0]  # one recipe for every teacher
student_settings = {name: msd.settings_from_profile(cfg, ds.multilabel)[1] for name, ds in datasets.items()}
teachers = {name: msd.teacher_study(ds, teacher_settings, device=device, cache=results_cache)
            for name, ds in cache.progress(datasets.items(), desc="teachers")}
# every Tab. 1/2 method where Tab. 2 is tested; the Tab. 1 subset of the config elsewhere
methods_for = {name: list(msd.METHODS) if name in cfg["tab2_datasets"] else cfg["tab1_methods_other"] for name in datasets}
studies = {name: msd.student_study(ds, teachers[name], methods_for[name], student_settings[name],
                                   teacher_settings=teacher_settings, cache=results_cache) for name, ds in datasets.items()}
results = {name: study.runs for name, study in studies.items()}

# %% [markdown]
# ## The teacher's modality-specific behaviour
#
# The paper motivates instance weighting with its Fig. 3: the teacher's predictions on each single
# modality, per sample. The table gives our teachers' test metric per view (the mean eq. (6)/(7)
# weights they induce are shown with the learned weights below).

# %%
def teacher_table():
    rows = []
    for name, dataset in datasets.items():
        out = teachers[name].outputs
        metric = msd.primary_metric(dataset.multilabel)
        row = {"dataset": DATASET_NAMES[name], "metric": metric}
        for v, view in enumerate(msd.VIEWS):
            row[f"teacher, {view}"] = msd.metrics(out["test"].logits[v][None], dataset.test.y, dataset.multilabel)[metric].item()
        rows.append(row)
    return pd.DataFrame(rows)


formatting.html_table(teacher_table(), digits=2)

# %% [markdown]
# ## Table 1: main results
#
# Test metric (%), mean ± std over seeds; the teacher is a single model. Population weights were
# picked by the seed-mean validation metric on the grid (1, w^a, w^b) with w^a, w^b from the config.

# %%
TAB1_METHODS = ["small model", "KD", "FitNet", "RKD", "SP", "MSD (population)", "MSD (importance)",
                "MSD (correctness)", "MSD (meta)"]


def teacher_metrics(name):
    dataset = datasets[name]
    return msd.metrics(teachers[name].outputs["test"].logits[0][None], dataset.test.y, dataset.multilabel)


def table1():
    columns = {}
    for name in datasets:
        for metric, value in teacher_metrics(name).items():
            column = f"{DATASET_NAMES[name]} {metric}"
            columns[column] = {"Teacher": formatting.fmt(value.item(), 2)}
            for method in TAB1_METHODS:
                if method in results[name]:
                    columns[column][method] = formatting.mean_std(results[name][method]["test"][metric].numpy())
    return pd.DataFrame(columns).reindex(["Teacher", *TAB1_METHODS]).fillna(formatting.DASH).rename_axis("method")


formatting.html_table(table1(), index=True, caption=f"Tab. 1 on our data: test metric (%), {num_seeds} seeds, mean ± std")

# %%
formatting.html_table(pd.DataFrame(
    [{"dataset": DATASET_NAMES[name], "population weights chosen (w, w^a, w^b)":
      ", ".join(formatting.fmt(w, 2) for w in results[name]["MSD (population)"]["population"].tolist())}
     for name in datasets]))

# %% [markdown]
# ### The precondition: a teacher that knows more than the student
#
# Distillation can only pass on what the teacher knows beyond the student. In the paper the teacher
# (VisualBERT) is far ahead of the small model (TinyBERT without distillation): 65.28 vs 60.83 on
# Hateful-Memes ACC, 59.92 vs 38.78 on MM-IMDB macro F1, 77.57 vs 72.30 on SNLI-VE (Tab. 1). Every
# claim about a distilled student is therefore declared, before the run, with the precondition
# "the teacher beats the small model by at least {glue:text}`ch07_min_gap:.0f` points on this metric",
# measured on the claim's own dataset and metric. Where it fails the evidence engine does not judge
# the claim at all: its verdict is "not testable: precondition failed (...)", whatever the
# difference between two students happens to be. The gap itself is the Tab. 1 relation
# "teacher > small model", tested like any other claim.
#
# Every other verdict comes from the paired per-seed difference (seed s fixes the student's
# initialisation, batch order and meta batches for every method) and its 95% t interval over seeds:
# *reproduced* when the interval lies on the paper's side of zero; *contradicted* when it lies on the
# other side; *inconclusive* when it contains zero, with the effect this many seeds could detect.
# Our data are not the paper's, so no claim asks for the paper's size, only its direction. Where the
# paper claims no direction, there is no paper claim: Tab. 1 lists instance vs population weighting
# on Hateful-Memes and SNLI-VE, but the text claims population > instance weighting on MM-IMDB only,
# so on RAVDESS, AV-MNIST and the confounder stand-in that comparison is *our* question (and SNLI-VE's gaps, -0.30 and -0.12,
# sit inside its own ± 0.48-0.54 std).

# %%
# claim suffix -> (dataset, metric): the MM-IMDB stand-in carries Tab. 1's two F1 columns
METRIC_OF = {"ravdess": ("ravdess", "accuracy"), "avmnist": ("avmnist", "accuracy"),
             "mmimdb": ("mmimdb", "macro F1"), "mmimdb_micro": ("mmimdb", "micro F1"),
             "confounders": ("confounders", "accuracy")}


def scores(key, method):
    name, metric = METRIC_OF[key]
    return results[name][method]["test"][metric].numpy()


def teacher_score(key):
    name, metric = METRIC_OF[key]
    return teacher_metrics(name)[metric].item()


teacher_gap = {key: teacher_score(key) - scores(key, "small model").mean() for key in METRIC_OF}
ledger = claims.Ledger("07_msd", profile, data_source=", ".join(ds.source for ds in datasets.values()),
                       device=str(device), data_hash=";".join(ds.content_hash for ds in datasets.values()))
paper = claims.paper_claims("07_msd")
min_gap = paper["msd_gt_kd_ravdess"]["test"]["preconditions"][0]["min"]
glue("ch07_min_gap", float(min_gap), display=False)
for key, gap in teacher_gap.items():
    glue(f"ch07_gap_{key}", round(float(gap), 2), display=False)


def judge(claim_id, values, key):
    """The engine's verdict on per-seed values; the teacher gap of ``key``'s dataset and metric is
    the precondition (ignored by the claims that declare none)."""
    ledger.test(claim_id, stats.mean_estimate(values, unit="seeds", what=paper[claim_id]["test"]["statistic"]),
                preconditions={"teacher_gap": teacher_gap[key]})


def show(claim_ids, caption):
    return formatting.html_table(claims.ledger_frame([ledger.rows[c] for c in claim_ids]), caption=caption)


formatting.html_table(pd.DataFrame([
    {"dataset, metric": f"{DATASET_NAMES[name]} {metric}", "teacher": teacher_score(key),
     "small model": formatting.mean_std(scores(key, "small model")), "teacher - small model": teacher_gap[key],
     f"precondition (>= {formatting.fmt(min_gap, 0)})": "holds" if teacher_gap[key] >= min_gap else "fails"}
    for key, (name, metric) in METRIC_OF.items()]), digits=2)

# %%
glue("ch07_gap_holds", int(sum(gap >= min_gap for gap in teacher_gap.values())), display=False)
tab1_ids = []
for key, (name, _) in METRIC_OF.items():
    small, kd, meta = scores(key, "small model"), scores(key, "KD"), scores(key, "MSD (meta)")
    judge(f"teacher_gt_small_{key}", teacher_score(key) - small, key)
    judge(f"kd_gt_small_{key}", kd - small, key)
    for base in ("FitNet", "RKD", "SP"):
        if f"{base.lower()}_gt_small_{key}" in paper:
            judge(f"{base.lower()}_gt_small_{key}", scores(key, base) - small, key)
    judge(f"msd_gt_small_{key}", meta - small, key)
    judge(f"msd_gt_kd_{key}", meta - kd, key)
    judge(f"meta_vs_population_{key}", meta - scores(key, "MSD (population)"), key)
    # the strongest other Tab. 1 student by its seed mean: choosing it on the test set favours the
    # rival, so the comparison errs against the claim
    rivals = [m for m in TAB1_METHODS if m in results[name] and m != "MSD (meta)"]
    strongest = max(rivals, key=lambda m: scores(key, m).mean())
    judge(f"meta_closest_to_teacher_{key}", meta - scores(key, strongest), key)
    for short, method in (("imp", "MSD (importance)"), ("cor", "MSD (correctness)")):
        judge(f"{short}_vs_population_{key}", scores(key, method) - scores(key, "MSD (population)"), key)
    tab1_ids += [c for c in paper if c.endswith(f"_{key}") and c in ledger.rows and not c.startswith("msd_on_")]
for claim_id, entry in paper.items():  # declared not testable (absolute numbers, metrics not run): judged as such
    if entry.get("test", {}).get("kind") == "not testable":
        ledger.test(claim_id, None)
show(tab1_ids, "Tab. 1 claims: paired per-seed differences (pp), 95% t intervals over seeds")

# %% [markdown]
# The precondition holds on {glue:text}`ch07_gap_holds` of the five dataset-metric pairs. Where it
# fails, the two students being compared learn from a teacher that is no better than either of
# them, and no difference between them can speak for or against MSD.

# %% [markdown]
# ### The learned weights
#
# What the meta-learner learned: the distribution, over training samples and seeds, of its weight on
# each view's distillation term at the end of training, beside the fixed eq. (6)/(7) weights.

# %%
weight_rows, weight_records = [], []
for name, dataset in datasets.items():
    learned = results[name]["MSD (meta)"]["meta_weights"]  # (seeds, N, V)
    instance = {"importance": msd.importance_weights(teachers[name].outputs["train"].logits, dataset.multilabel),
                "correctness": msd.correctness_weights(teachers[name].outputs["train"].logits, dataset.train.y,
                                                       dataset.multilabel)}
    for v, view in enumerate(msd.VIEWS):
        w = learned[..., v].reshape(-1)
        weight_records.append(pd.DataFrame({"dataset": DATASET_NAMES[name], "view": view, "w": w.numpy()}))
        q10, q50, q90 = torch.quantile(w, torch.tensor([0.1, 0.5, 0.9])).tolist()
        weight_rows.append({"dataset": DATASET_NAMES[name], "view": view, "meta: mean": w.mean().item(),
                            "meta: 10% / 50% / 90% quantile": " / ".join(formatting.fmt(q, 3) for q in (q10, q50, q90)),
                            "meta: seed means": ", ".join(formatting.fmt(x, 3) for x in learned[..., v].mean(1).tolist()),
                            "importance: mean": instance["importance"][v].mean().item(),
                            "correctness: mean": instance["correctness"][v].mean().item()})
fig, ax = plt.subplots(figsize=(8, 3.4))
sns.boxplot(pd.concat(weight_records), x="dataset", y="w", hue="view", showfliers=False, ax=ax)
ax.set(ylabel="meta-learned weight", xlabel="", ylim=(0, 1))
ax.legend(fontsize=8)
plotting.finish(fig)
all_weights = torch.cat([results[name]["MSD (meta)"]["meta_weights"].reshape(-1) for name in datasets])
ledger.check("meta_weights_in_unit_interval", bool(((all_weights > 0) & (all_weights < 1)).all()),
             "every learned weight of every dataset, seed and training sample lies strictly inside (0, 1)",
             [all_weights.min().item(), all_weights.max().item()])
formatting.html_table(pd.DataFrame(weight_rows), digits=3)

# %% [markdown]
# Over training: the training-set mean of each learned weight after every epoch (mean over seeds).

# %%
fig, axes = plt.subplots(1, len(datasets), figsize=(3.2 * len(datasets), 3), sharey=True)
for ax, name in zip(axes, datasets):
    curve = results[name]["MSD (meta)"]["meta_weight_curve"].mean(0)  # (epochs, V)
    for v, view in enumerate(msd.VIEWS):
        ax.plot(np.arange(1, curve.shape[0] + 1), curve[:, v].numpy(), label=view)
    ax.set(title=DATASET_NAMES[name], xlabel="epoch", ylim=(0, 1))
axes[0].set_ylabel("mean learned weight")
axes[0].legend(fontsize=8)
plotting.finish(fig)

# %% [markdown]
# ### The weights against the planted truth (confounder stand-in)
#
# On the confounder stand-in every training example's modality importance is known. Each scheme's
# *image preference* (eq. (6): tanh of the image's importance minus the text's; eq. (7) and the
# meta-net: the weight of the image-alone view minus that of the text-alone view) is correlated with
# the planted image-minus-text importance (+1 image-decided, -1 text-decided, 0 decided by both):
# a Spearman correlation over the training examples with its Fisher-z 95% interval. These are our
# questions: the paper motivates the weights by modality importance but has no truth to score them
# against.

# %%
conf = datasets["confounders"]
truth = importance_contrast(conf.ground_truth["train"]["importance"])
conf_logits = teachers["confounders"].outputs["train"].logits
preference = {scheme: msd.image_preference(scheme, conf_logits, conf.train.y,
                                           meta_weights=results["confounders"]["MSD (meta)"]["meta_weights"].mean(0))
              for scheme in ("importance", "correctness", "meta")}
for scheme, pref in preference.items():
    ledger.test(f"{scheme}_recovers_truth_confounders", msd.truth_correlation(truth, pref),
                preconditions={"teacher_gap": teacher_gap["confounders"]})
kind_of = conf.ground_truth["train"]["kind"]
formatting.html_table(pd.DataFrame([{"scheme": scheme, **{f"mean preference, {kind}-decided": pref[kind_of == k].mean().item()
                                                          for k, kind in enumerate(KINDS)}}
                                    for scheme, pref in preference.items()]), digits=3)

# %%
show([f"{scheme}_recovers_truth_confounders" for scheme in preference], "Weights vs planted importance (Spearman)")

# %% [markdown]
# ## Table 2: MSD on top of feature-based KD
#
# FitNet, RKD and SP each with and without MSD (meta-learned weights), on the confounder stand-in
# (for Hateful-Memes ACC) and the MM-IMDB stand-in (for its macro and micro F1); the difference is
# paired per seed.
# The KD row is Tab. 1's MSD (meta) vs KD.

# %%
tab2, tab2_ids = [], []
for key, (name, metric) in METRIC_OF.items():
    if name not in cfg["tab2_datasets"]:
        continue
    for base in ("FitNet", "RKD", "SP"):
        claim_id = f"msd_on_{base.lower()}_{key}"
        judge(claim_id, scores(key, f"{base} + MSD") - scores(key, base), key)
        tab2_ids.append(claim_id)
        tab2.append({"dataset, metric": f"{DATASET_NAMES[name]} {metric}", "method": base,
                     "X": formatting.mean_std(scores(key, base)), "X + MSD": formatting.mean_std(scores(key, f"{base} + MSD")),
                     "verdict": ledger.rows[claim_id]["verdict"]})
display(formatting.html_table(pd.DataFrame(tab2), caption=f"Tab. 2 on our data: test metric (%), {num_seeds} seeds"))
show(tab2_ids, "Tab. 2 claims: paired per-seed differences (pp), 95% t intervals over seeds")

# %% [markdown]
# ## Figure 4: learning curves (confounder stand-in)
#
# Test accuracy after every epoch (mean ± std over seeds). The paper's claim is that with MSD
# training progresses faster than with KD; we test it on the accuracy after a quarter of the epochs.

# %%
curve_methods = ["KD", "MSD (population)", "MSD (importance)", "MSD (correctness)", "MSD (meta)"]
fig, ax = plt.subplots(figsize=(7, 4))
epochs = np.arange(1, cfg["num_epochs"] + 1)
for method in curve_methods:
    plotting.mean_std_band(ax, epochs, results["confounders"][method]["curve"].numpy(), label=method, marker=None)
ax.set(xlabel="epoch", ylabel="test accuracy (%)", title="Confounder stand-in")
ax.legend(fontsize=8)
plotting.finish(fig)

early = max(1, cfg["num_epochs"] // 4) - 1
judge("early_msd_gt_kd_confounders", (results["confounders"]["MSD (meta)"]["curve"][:, early]
                                      - results["confounders"]["KD"]["curve"][:, early]).numpy(), "confounders")
show(["early_msd_gt_kd_confounders"], f"Fig. 4 claim: accuracy after epoch {early + 1}")

# %% [markdown]
# ## Figure 5: teacher-student consistency
#
# Each test sample gets one modality (a fair coin picks which) from another random test sample. No
# label exists for these pairs; the teacher's prediction is the reference, and the consistency ratio
# is the share of probes on which the student predicts the teacher's label (per label for the
# multi-label stand-in). The paper shows "our MSD approach" against the small model with and
# without KD without saying which weighting; we use the meta-learned weights, its method of choice
# elsewhere.

# %%
consistency_methods = ["small model", "KD", "MSD (population)", "MSD (meta)"]


def consistency_of(name, method):
    return msd.consistency_ratio(results[name][method]["probe_logits"], teachers[name].probe_logits,
                                 datasets[name].multilabel).numpy()


consistency = pd.DataFrame([{"dataset": DATASET_NAMES[name], "method": method, "consistency (%)": float(r)}
                            for name in datasets for method in consistency_methods for r in consistency_of(name, method)])
fig, ax = plt.subplots(figsize=(7, 3.5))
sns.barplot(consistency, x="dataset", y="consistency (%)", hue="method", errorbar="sd", ax=ax)
ax.set_ylim(consistency["consistency (%)"].min() - 10, 100)
ax.legend(fontsize=8, loc="lower right")
plotting.finish(fig)

msd_consistency = consistency_of("confounders", "MSD (meta)")
judge("consistency_msd_gt_kd_confounders", msd_consistency - consistency_of("confounders", "KD"), "confounders")
judge("consistency_msd_gt_small_confounders", msd_consistency - consistency_of("confounders", "small model"), "confounders")
show(["consistency_msd_gt_kd_confounders", "consistency_msd_gt_small_confounders"], "Fig. 5 claims (confounder stand-in, pp)")

# %% [markdown]
# ## Figure 6: output densities per view (confounder stand-in)
#
# The density of the probability each model assigns to the true class on the test set, given the
# multimodal input and each modality alone (all seeds pooled). The paper shows that KD leaves a gap
# to the teacher on the unimodal views and MSD closes it; the figure states no statistic, so its
# claim is tested in its quantitative form, Fig. 7's KL divergence.

# %%
density_methods = ["small model", "KD", "MSD (meta)"]
teacher_views = teachers["confounders"].outputs["test"].logits.cpu()
y_test = conf.test.y.cpu()


def true_class_probability(view_logits):
    return torch.softmax(view_logits, -1).gather(-1, y_test.expand(*view_logits.shape[:-1])[..., None])[..., 0]


fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), sharey=True)
for v, (ax, view) in enumerate(zip(axes, msd.VIEWS)):
    sns.kdeplot(true_class_probability(teacher_views[v]).numpy(), ax=ax, label="Teacher", color="black", clip=(0, 1))
    for method in density_methods:
        p = true_class_probability(results["confounders"][method]["view_logits"][:, v]).reshape(-1)
        sns.kdeplot(p.numpy(), ax=ax, label=method, clip=(0, 1))
    ax.set(title=view, xlabel="p(true class)")
axes[0].legend(fontsize=8)
plotting.finish(fig, "Confounder stand-in, test set")

# %% [markdown]
# ## Figure 7: KL divergence to the teacher (confounder stand-in)
#
# Mean KL(teacher ‖ model) on the test set at temperature 1, per view. The paper: "our MSD approach
# shows the smallest KL divergence from the teacher" (again without naming the weighting; we use
# the meta-learned one). We test it against KD and against the closest of the models without MSD.

# %%
kl_methods = ["small model", "KD", "FitNet", "RKD", "SP", "MSD (population)", "MSD (importance)",
              "MSD (correctness)", "MSD (meta)"]
kl = {method: msd.kl_to_teacher(results["confounders"][method]["view_logits"], teacher_views, False).numpy()
      for method in kl_methods}
kl_frame = pd.DataFrame([{"method": m, "view": view, "KL": float(k[s, v])}
                         for m, k in kl.items() for s in range(num_seeds) for v, view in enumerate(msd.VIEWS)])
fig, ax = plt.subplots(figsize=(9, 3.6))
sns.barplot(kl_frame, x="method", y="KL", hue="view", errorbar="sd", ax=ax)
ax.tick_params(axis="x", rotation=30)
ax.set(ylabel="KL(teacher || model)", xlabel="")
plotting.finish(fig)

view_mean_kl = {method: k.mean(1) for method, k in kl.items()}
closest = min(["small model", "KD", "FitNet", "RKD", "SP"], key=lambda m: view_mean_kl[m].mean())
judge("kl_msd_lt_kd_confounders", view_mean_kl["MSD (meta)"] - view_mean_kl["KD"], "confounders")
judge("kl_msd_smallest_confounders", view_mean_kl["MSD (meta)"] - view_mean_kl[closest], "confounders")
show(["kl_msd_lt_kd_confounders", "kl_msd_smallest_confounders"], f"Fig. 7 claims (nats; closest model without MSD: {closest})")

# %% [markdown]
# ## Figure 8: student size (confounder stand-in)
#
# The paper varies the number of student layers; our students are one-layer-per-stage MLPs, so we
# vary their width (encoder and fusion units) instead. The teacher is fixed. Three claims: the score
# rises with the student's size (tested on the small model, largest vs smallest width), KD's gain
# over the small model is marginal (an equivalence test: the mean gain over widths lies within
# ± {glue:text}`ch07_marginal_margin:.1f` points, a margin we declared before the run since the paper
# gives no number), and MSD beats KD at every size (the mean over widths of the paired difference).

# %%
size_methods = ["small model", "KD", "MSD (meta)"]
sweep = {width: results["confounders"] if width == cfg["student_hidden"] else msd.student_study(
    conf, teachers["confounders"], size_methods, replace(student_settings["confounders"], width=width),
    teacher_settings=teacher_settings, cache=results_cache).runs for width in cfg["size_sweep"]}
fig, ax = plt.subplots(figsize=(6, 3.8))
per_width = {method: np.stack([sweep[w][method]["test"]["accuracy"].numpy() for w in cfg["size_sweep"]], axis=1)
             for method in size_methods}  # (seeds, widths)
for method in size_methods:
    plotting.mean_std_band(ax, cfg["size_sweep"], per_width[method], label=method)
ax.set(xscale="log", xlabel="student width (units per layer)", ylabel="test accuracy (%)")
ax.set_xticks(cfg["size_sweep"], [str(w) for w in cfg["size_sweep"]])
ax.legend(fontsize=8)
plotting.finish(fig, "Confounder stand-in, accuracy vs student size")

glue("ch07_marginal_margin", float(paper["fig8_kd_marginal_confounders"]["test"]["margin"]), display=False)
widest, narrowest = int(np.argmax(cfg["size_sweep"])), int(np.argmin(cfg["size_sweep"]))
judge("fig8_size_improves_confounders", per_width["small model"][:, widest] - per_width["small model"][:, narrowest],
      "confounders")
judge("fig8_kd_marginal_confounders", (per_width["KD"] - per_width["small model"]).mean(1), "confounders")
judge("size_msd_gt_kd_confounders", (per_width["MSD (meta)"] - per_width["KD"]).mean(1), "confounders")
show(["fig8_size_improves_confounders", "fig8_kd_marginal_confounders", "size_msd_gt_kd_confounders"], "Fig. 8 claims (pp)")

# %% [markdown]
# ## Claims ledger
#
# Every claim of this chapter with its verdict (the checks apart, at the end), and the counts.

# %%
ledger.save()
ledger_table = ledger.table()
counts = ledger_table[ledger_table["whose"] != evidence.CHECK].groupby(["whose", "verdict"]).size().rename("claims")
display(formatting.html_table(counts.reset_index(), caption="Claims by whose claim and verdict"))
formatting.html_table(ledger_table.sort_values("whose", key=lambda w: w.map({"paper": 0, "ours": 1, "check": 2}), kind="stable"),
                      caption="Claims ledger, MSD chapter")

# %% [markdown]
# ## Discussion and deviations
#
# * **The precondition decides which claims can be judged.** Teacher minus small model: RAVDESS
#   accuracy {glue:text}`ch07_gap_ravdess:+.2f`, AV-MNIST accuracy {glue:text}`ch07_gap_avmnist:+.2f`,
#   MM-IMDB stand-in macro F1 {glue:text}`ch07_gap_mmimdb:+.2f` and micro F1
#   {glue:text}`ch07_gap_mmimdb_micro:+.2f`, confounder stand-in accuracy
#   {glue:text}`ch07_gap_confounders:+.2f` points. Where the gap is below the declared margin (the
#   precondition table says where), the wide teacher knows little more than the narrow student at
#   these sizes (on the small real datasets the data, not the capacity, limit both), and the claims
#   are "not testable: precondition failed" rather than "not reproduced". The gap also depends on
#   how long the student trains: with the quick profile's few epochs the small model is further from
#   convergence than the teacher, so a gap that holds here need not hold in the record run. The confounder
#   stand-in is built so that capacity matters: a concept's polarity is a non-linear function of its
#   features, and the XOR examples need both encoders and a fusion layer that can combine them.
# * **Data.** None of the paper's datasets could be used. RAVDESS and open AV-MNIST are real
#   multimodal data, but small, with classes that are (AV-MNIST) or largely are (RAVDESS) decided
#   by either modality; MM-IMDB and the confounder set are synthetic stand-ins with planted
#   structure. The verdicts therefore say whether the *mechanisms* (per-modality distillation terms
#   and their weighting) help on these data, not whether the paper's numbers hold on Hateful-Memes,
#   MM-IMDB or SNLI-VE.
# * **Models.** Late-fusion MLPs on features instead of VisualBERT → TinyBERT; a teacher trained
#   with modality dropout so its unimodal predictions mean something (the paper's transformer
#   handles missing regions or tokens natively). Fig. 8 varies width, not depth.
# * **Masking.** Dropping a modality = zeroing its standardised input (the training mean).
# * **Optimisation.** Adam at a constant learning rate instead of AdamW with warm-up and linear decay;
#   the look-ahead of Algorithm 1 is the student's own Adam step (differentiable); the meta-net uses
#   Adam with weight decay {glue:text}`ch07_meta_weight_decay:g`.
# * **Meta data.** Unlike the paper, the meta data are a held-out part of the validation set, disjoint
#   from the part that selects population weights and scores validation metrics (see Setup).
# * **Baselines.** FitNet, RKD and SP are trained together with KD (λ·CE + (1−λ)·KD + β·L_feature,
#   β from the config, not tuned), so "X + MSD" differs from X only in the distillation term.
# * **Scale.** The quick profile trains few epochs with {glue:text}`ch07_seeds` seeds; its confidence
#   intervals are wide, so "inconclusive" is the expected verdict for small effects. The full profile
#   uses 5 seeds (as the paper), more epochs, the full AV-MNIST and stand-in sizes and every method on
#   every dataset.
