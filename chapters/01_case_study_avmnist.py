# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Case study: is a multimodal teacher a better teacher? (AV-MNIST)
#
# The MFH paper opens ({cite}`xue2023mfh`, Sec. 3, Tab. 1; App. B.1, Tab. 5) with a counterexample
# to a common intuition. To improve an **audio** student on AV-MNIST {cite}`vielzeuf2018centralnet`
# one can distil from
#
# - a **unimodal** audio teacher (*UM-KD*), or
# - a **crossmodal** audio-visual teacher that also sees the image (*CM-KD*).
#
# The multimodal teacher is far more accurate (91.61% vs 84.57%, **+7.04**), yet its student is
# slightly *worse* (69.73% vs 70.10% at $\rho = 0.5$, **−0.37**; 69.46% vs 69.86% at $\rho = 0$).
# The student loss is MFH eq. (1), $\mathcal{L} = \rho\,\mathcal{L}_{task} + (1-\rho)\,\mathcal{L}_{kd}$,
# with the KL term between the student's prediction on the audio and the teacher's prediction on
# its own input(s). The paper's explanation (App. B.1): AV-MNIST pairs an image with a *random*
# recording of the same digit, so the two modalities share little beyond the label — little
# *modality-general decisive* information, which is what MFH says crossmodal KD transfers.
#
# This chapter re-runs the experiment with the paper's networks and protocol on data we can
# obtain, and tests, on differences paired by seed:
#
# 1. the crossmodal teacher is more accurate than the unimodal one;
# 2. the crossmodal teacher's student is *not* better than the unimodal teacher's student, and the
#    teacher's advantage does not carry over to the student;
# 3. (ours) whether the KD gains are crossmodal *knowledge* at all: each KD student is compared with
#    students of control teachers that carry no knowledge of the inputs.

# %% tags=["parameters"]
profile = "quick"
seeds = None  # None: the number of seeds of the profile (members use seeds 0 .. seeds-1)
device = "auto"
data_dir = None  # None: $MFH_DATA_DIR, else the embedded stand-in
num_train = None  # number of training pairs, None means as in the profile (full: 50000 as in the paper)
temperature = None  # KD temperature, None means as in the profile (1, as in the code of the authors)

# %%
import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import display
from myst_nb import glue

from mfh_lib import avmnist_report, cache, claims, config, formatting, gamma_dial, plotting, stats, training
from mfh_lib.data.avmnist import HELD_OUT, SEEN, describe_splits, load_avmnist_draws, recording_overlap, stack_draws
from mfh_lib.models import AudioCNN, ImageAudioLateFusion, LeNet5

CHAPTER = "01_case_study_avmnist"
config.set_threads(2)
cfg = config.load_profile(CHAPTER, profile, seeds=seeds, num_train=num_train, temperature=temperature)
full_cfg = config.load_profile(CHAPTER, "full")
device = config.pick_device(device)
data_dir = config.resolve_data_dir(data_dir)
num_seeds = int(cfg["seeds"])
for rho in cfg["rhos"]:
    config.check_unit_interval("rho", rho)
config.seed_everything(0)
plotting.use_book_style()
for key in ("num_train", "num_val", "num_test", "teacher_epochs", "student_epochs", "control_rho", "n_mels", "num_frames",
            "multibench_components"):
    glue(f"ch01_{key}", cfg[key], display=False)
glue("ch01_seeds", num_seeds, display=False)
glue("ch01_held_out_share", round(100 * cfg["held_out_utterances"]), display=False)
glue("ch01_energy_removed", round(100 * cfg["energy_removed"]), display=False)
sweep_words = [f"{100 * e:g}% of the energy removed" for e in cfg["energy_sweep"]]
sweep_words += [f"{cfg['multibench_components']} components kept"] if cfg["multibench_components"] else []
glue("ch01_sweep_settings", "; ".join(sweep_words) or "none in this profile", display=False)
for key in ("num_train", "num_val", "num_test", "seeds"):
    glue(f"ch01_full_{key}", f"{full_cfg[key]:,}", display=False)
glue("ch01_full_folds", full_cfg["num_folds"], display=False)
glue("ch01_gammas", ", ".join(f"{g:g}" for g in sorted(cfg["gammas"])), display=False)
glue("ch01_gamma_pca_components", cfg["gamma_pca_components"], display=False)

# %% [markdown]
# ## Data: open AV-MNIST
#
# The original AV-MNIST cannot be rebuilt: its audio comes from TIDIGITS, which is licensed and not
# downloadable. We rebuild it with the same recipe from public data (`mfh_lib.data.avmnist`):
#
# - **image** ($x^a$): MNIST digits projected onto the leading principal components that keep the
#   rest of the pixel variance once {glue:text}`ch01_energy_removed`% of the PCA energy is removed,
#   as in the paper — only a handful of components survive (printed below), so the image alone is
#   a weak cue;
# - **audio** ($x^b$): a recording of the same digit from the Free Spoken Digit Dataset
#   {cite}`jackson2018fsdd` (6 speakers x 50 takes per digit, 8 kHz), with coloured noise
#   (white to brown, random SNR) injected where the original used natural noise, turned into a
#   log-mel spectrogram (torchaudio);
# - **pairing**: each image gets a *random* recording of its class with a fresh noise draw, as in
#   the original — the two modalities share only the label;
# - **speakers and utterances**: one FSDD speaker is held out; only the *held-out-speaker* test
#   pairs use their recordings (MultiBench {cite}`liang2021multibench` holds out a speaker the same
#   way). The other speakers' recordings are split, per digit, into disjoint pools:
#   {glue:text}`ch01_held_out_share`% for validation, as many for a *seen-speaker* test split, the
#   rest for training. No utterance heard in training is in a validation or test pair, so the best
#   validation epoch is chosen on unheard utterances. The two test splits share their images and
#   differ only in the audio: the seen-speaker split is in-distribution, as a random split of a
#   corpus with many speakers would be; the held-out-speaker split adds speaker shift.
#
# **Every seed is its own data draw** (data seed = seed): seed $s$ draws its own images, its own
# train / validation / seen-speaker-test pools of utterances, its own pairing and its own noise, and
# trains its networks from its own initial weights. The unit of replication is therefore
# *seeds and data draws*: the intervals below cover the data as well as training randomness (the
# table shows the first draw; every draw has the same sizes).
#
# Users who have MultiBench's `avmnist/` `.npy` files get the original dataset instead (put them
# under the data directory; it has no seen-speaker split). Without a data directory the chapter
# runs on an embedded stand-in (scikit-learn's 8x8 digits and synthetic spoken digits with planted
# per-speaker accents) and every table says so.

# %%
data_settings = dict(num_train=cfg["num_train"], num_val=cfg["num_val"], num_test=cfg["num_test"],
                     test_speakers=tuple(cfg["test_speakers"]), snr_db=tuple(cfg["snr_db"]), n_mels=cfg["n_mels"],
                     num_frames=cfg["num_frames"], held_out_utterances=cfg["held_out_utterances"])
draw_seeds = [cfg["data_seed"] + s for s in range(num_seeds)]  # seed s trains on data draw s
draws = load_avmnist_draws(data_dir, draw_seeds, energy_removed=cfg["energy_removed"], **data_settings)
data, source = draws[0], draws[0].source
splits, data_hash = stack_draws(draws)  # (seeds, pairs, ...) tensors: member s sees only draw s
test_splits = [name for name in (HELD_OUT, SEEN) if name in splits]
print(f"data: {source}; {num_seeds} data draws, the first shown")
print(f"PCA components kept for the images: {data.ground_truth.get('pca_components_kept', 'n/a (pre-built files)')}")
display(formatting.html_table(describe_splits(data), index=True))

# %%
avmnist_report.plot_pairs(data, source)

# %% [markdown]
# ## Networks, training and controls
#
# As in App. B.1: a **6-layer CNN audio teacher**, a **3-layer CNN audio student**, and a
# **late-fusion multimodal teacher** whose image branch is LeNet-5 and whose audio branch is a
# 5-layer CNN, their features concatenated and passed to fully connected layers
# (`mfh_lib.models.AudioCNN`, `LeNet5`, `ImageAudioLateFusion`). The audio CNNs are
# conv3x3 + GroupNorm + ReLU blocks with three max-pools, pooled to a 3x3 grid and flattened (so the
# classifier still knows *which* frequencies carry energy). We use **GroupNorm instead of BatchNorm**:
# BatchNorm's running statistics cannot be updated when seeds are stacked with `torch.func.vmap`,
# and GroupNorm's per-sample statistics make evaluation independent of the batch. LeNet-5 is the
# classic one, without normalisation. Beside them (ours) an **image-only** LeNet-5, trained and
# evaluated like the teachers but never distilled, says how much the filtered image knows alone.
#
# All seeds of one model are trained at once (`mfh_lib.training.kd_study`, stacked parameters under
# vmap, each seed on its own data draw) with Adam, keeping per seed the weights of the best
# validation epoch. Seed $s$ of each student is distilled from seed $s$ of its teacher, and every
# student condition shares the data draw, the initial weights and the batch order of seed $s$: the
# comparisons below are **paired** by seed.
#
# Beside No-KD, UM-KD and CM-KD at both values of $\rho$, four **control** students (ours, at
# $\rho =$ {glue:text}`ch01_control_rho`, the setting of Tab. 1) ask whether a KD gain is knowledge
# about the inputs (`mfh_lib.controls`):
#
# - **noise teacher**: the UM teacher's architecture trained on labels shuffled per seed — soft
#   targets with a teacher's shape and no knowledge of the inputs;
# - **born-again**: the No-KD student's own logits as teacher (self-distillation);
# - **label smoothing** at the UM teacher's mean confidence on the training pairs: the soft-label
#   effect without any per-sample knowledge;
# - **cross-fitted** UM / CM teacher logits: each training pair is labelled by a teacher trained on
#   the other folds, so a teacher that memorised its training pairs cannot just hand the labels on.
#   It costs one teacher per fold, so only the full profile runs it ({glue:text}`ch01_full_folds`
#   folds); in the quick profile its two claims are *not testable* by a stated precondition.

# %%
def make_teacher_um():
    return AudioCNN(6, cfg["width"], num_classes=data.num_classes, norm=cfg["group_norm"])


def make_teacher_cm():
    return ImageAudioLateFusion(audio_layers=5, width=cfg["width"], num_classes=data.num_classes, norm=cfg["group_norm"])


def make_student():
    return AudioCNN(3, cfg["width"], num_classes=data.num_classes, norm=cfg["group_norm"])


def audio(split):
    return (split.b,)


def image_and_audio(split):
    return (split.a, split.b)


def image(split):
    return (split.a,)


def num_parameters(make_model):
    return sum(p.numel() for p in make_model().parameters())


display(formatting.html_table(pd.DataFrame(
    {"input": ["audio", "image + audio", "audio", "image"],
     "parameters": [num_parameters(f) for f in (make_teacher_um, make_teacher_cm, make_student, LeNet5)]},
    index=pd.Index(["UM teacher (6-layer CNN)", "CM teacher (LeNet-5 + 5-layer CNN, late fusion)", "student (3-layer CNN)",
                    "image only (LeNet-5, not distilled)"], name="network"),
), index=True))

# %%
# the image sweep and the gamma dial below, not this study
SWEEP_KEYS = ("energy_sweep", "multibench_components", "sweep_students", "gammas", "gamma_pca_components")


def study_on(draw_splits, draw_hash, teachers, distil=True, **conditions):
    """One kd_study on stacked data draws (member s on draw s), cached by the draws' content."""
    kd_settings = training.KDStudySettings(
        seeds=num_seeds, teacher_epochs=cfg["teacher_epochs"], student_epochs=cfg["student_epochs"],
        batch_size=cfg["batch_size"], optimizer=cfg["optimizer"], lr=cfg["lr"], temperature=cfg["temperature"],
        **conditions)
    return training.kd_study(
        teachers, (make_student, audio), {name: s.to(device) for name, s in draw_splits.items()}, kd_settings,
        member_data=True, distil=distil, baselines={"image only": (LeNet5, image)},
        results_cache=cache.ResultsCache(CHAPTER), device=device,
        key={"chapter": CHAPTER, "data": draw_hash, "seeds": num_seeds,
             **{k: v for k, v in cfg.items() if k not in ("seeds", *SWEEP_KEYS)}})


study = study_on(splits, data_hash, {"UM": (make_teacher_um, audio), "CM": (make_teacher_cm, image_and_audio)},
                 rhos=cfg["rhos"], control_rho=cfg["control_rho"], noise_teacher="UM", born_again=True,
                 smoothing_teacher="UM", cross_fit=cfg["cross_fit_teachers"], num_folds=cfg["num_folds"])
teachers, students = {**study["teachers"], **study["baselines"]}, study["students"]
rho_zero, rho_half = (float(r) for r in cfg["rhos"])
control_rho = float(cfg["control_rho"])
glue("ch01_smoothing_confidence", round(100 * float(teachers["UM"]["confidence"].mean()), 1), display=False)

# %% [markdown]
# ### Teachers
#
# Test accuracy (%, mean ± std over seeds and data draws) on both test splits, and the mean confidence (top-class
# probability) on the training pairs the students distil. The label-smoothing control puts the
# UM teacher's mean confidence, {glue:text}`ch01_smoothing_confidence`%, on the true class.

# %%
teacher_rows = {"UM teacher": ("UM", "A"), "CM teacher": ("CM", "I+A"), "noise teacher (UM arch., shuffled labels)": ("noise teacher", "A"),
                "image only (not a teacher)": ("image only", "I")}
display(formatting.html_table(pd.DataFrame(
    {"modality": [mod for _, mod in teacher_rows.values()],
     **{f"test acc ({split})": [formatting.mean_std(teachers[t]["acc"][split]) for t, _ in teacher_rows.values()]
        for split in test_splits},
     "confidence on train (%)": [formatting.mean_std(100 * teachers[t]["confidence"]) if "confidence" in teachers[t]
                                 else formatting.DASH for t, _ in teacher_rows.values()]},
    index=pd.Index(list(teacher_rows), name=f"{source}, {num_seeds} seeds"),
), index=True))

# %% [markdown]
# ## Results: Table 5 on open AV-MNIST, with controls
#
# Student test accuracy (%, mean ± std over seeds) on the held-out-speaker split; the paper's
# numbers (TIDIGITS-based AV-MNIST, 10 runs) are in the right-hand columns. Controls are run at
# one $\rho$ only.

# %%
paper = claims.paper_claims(CHAPTER)


def paper_cell(claim_id):
    entry = paper[claim_id]
    return formatting.pm(entry["paper_value"], entry["paper_std"])


def student_acc(condition, rho, split=HELD_OUT):
    return students[(condition, float(rho))]["acc"][split]


def cell(condition, rho, split=HELD_OUT):
    """mean ± std of a student condition, '—' where it was not run at this rho."""
    if condition == "No-KD":
        rho = 1.0
    return formatting.mean_std(student_acc(condition, rho, split)) if (condition, float(rho)) in students else formatting.DASH


conditions = ["No-KD", "UM-KD", "CM-KD", "noise teacher", "born-again", "label smoothing",
              *[f"cross-fitted {t}-KD" for t in cfg["cross_fit_teachers"]]]
teacher_of = {"UM-KD": "UM", "CM-KD": "CM", "noise teacher": "noise teacher"}
paper_rows = {"No-KD": ("student_nokd", "student_nokd"), "UM-KD": ("student_umkd_rho0", "student_umkd_rho0.5"),
              "CM-KD": ("student_cmkd_rho0", "student_cmkd_rho0.5")}


def results_table(split, with_paper):
    table = {
        "teacher acc": [formatting.mean_std(teachers[teacher_of[c]]["acc"][split]) if c in teacher_of else formatting.DASH
                        for c in conditions],
        f"student rho={rho_zero:g}": [cell(c, rho_zero, split) for c in conditions],
        f"student rho={rho_half:g}": [cell(c, rho_half, split) for c in conditions],
    }
    if with_paper:
        table["paper teacher"] = [paper_cell({"UM-KD": "teacher_um_acc", "CM-KD": "teacher_cm_acc"}[c])
                                  if c in ("UM-KD", "CM-KD") else formatting.DASH for c in conditions]
        table["paper rho=0"] = [paper_cell(paper_rows[c][0]) if c in paper_rows else formatting.DASH for c in conditions]
        table["paper rho=0.5"] = [paper_cell(paper_rows[c][1]) if c in paper_rows else formatting.DASH for c in conditions]
    return pd.DataFrame(table, index=pd.Index(conditions, name=f"{source}, {split} test, {num_seeds} seeds"))


display(formatting.html_table(results_table(HELD_OUT, with_paper=True), index=True))

# %% [markdown]
# The same students on the seen-speaker test split (unheard utterances of the training speakers):

# %%
if SEEN in test_splits:
    display(formatting.html_table(results_table(SEEN, with_paper=False), index=True))
else:
    print(f"{source} has no seen-speaker test split")

# %% [markdown]
# The claims are about *differences*, so we test them on differences paired by seed (same data
# draw, same student initialisation and batch order within a seed), with 95% Student-t intervals over
# the seeds and data draws. "Student gain minus teacher gain" is the difference of differences
# (CM-KD − UM-KD student) − (CM − UM teacher): how much of the teacher's advantage reaches the student.

# %%
def teacher_acc(name, split=HELD_OUT):
    return teachers[name]["acc"][split]


def teacher_gap(split):
    return teacher_acc("CM", split) - teacher_acc("UM", split)


differences = {
    f"CM teacher - UM teacher ({HELD_OUT})": teacher_gap(HELD_OUT),
    **({f"CM teacher - UM teacher ({SEEN})": teacher_gap(SEEN)} if SEEN in test_splits else {}),
    **{f"CM-KD - UM-KD (rho={rho:g})": student_acc("CM-KD", rho) - student_acc("UM-KD", rho) for rho in (rho_zero, rho_half)},
    **({f"CM-KD - UM-KD (rho={rho_half:g}, {SEEN})": student_acc("CM-KD", rho_half, SEEN) - student_acc("UM-KD", rho_half, SEEN)}
       if SEEN in test_splits else {}),
    **{f"student gain - teacher gain (rho={rho:g}{', ' + split if split == SEEN else ''})":
       student_acc("CM-KD", rho, split) - student_acc("UM-KD", rho, split) - teacher_gap(split)
       for split in test_splits for rho in (rho_zero, rho_half)},
    **{f"{t}-KD - No-KD (rho={rho:g})": student_acc(f"{t}-KD", rho) - student_acc("No-KD", 1.0)
       for t in ("UM", "CM") for rho in (rho_zero, rho_half)},
    **{f"{c} - No-KD (rho={control_rho:g})": student_acc(c, control_rho) - student_acc("No-KD", 1.0) for c in conditions[3:]},
}


difference_title = f"difference (pp), {HELD_OUT} unless named, {source}"
display(formatting.html_table(avmnist_report.difference_rows(differences, difference_title), index=True))

# %%
avmnist_report.plot_differences(differences, source)

# %% [markdown]
# ## How strong is the image? A sweep of the PCA energy removed (ours)
#
# The "much more accurate teacher" of the premise owes its advantage to the image, and how much the
# image tells depends on how much of it the PCA filter leaves. Removing
# {glue:text}`ch01_energy_removed`% of the *energy* keeps only the few components printed above;
# MultiBench's build is described as keeping {glue:text}`ch01_multibench_components` *components*,
# which leaves the digits almost intact. We rebuild the same data draws with other image filters
# ({glue:text}`ch01_sweep_settings`; the record and full profiles sweep more of the energy removed,
# `energy_sweep` in the config): the audio, the pairing and the noise are
# those of the main study (a check below confirms it), so every setting's CM teacher is compared
# with the same UM teacher, paired by seed. The image-only LeNet-5 says what the image alone knows.
# Where the profile distils in the sweep too (`sweep_students`; not in the quick profile), the last
# column is the CM-KD − UM-KD student difference at $\rho =$ {glue:text}`ch01_control_rho`.

# %%
settings = {f"{100 * e:g}% energy removed": {"energy_removed": e} for e in cfg["energy_sweep"]}
if cfg["multibench_components"]:
    settings[f"{cfg['multibench_components']} components (MultiBench-like)"] = {"pca_components": cfg["multibench_components"]}
sweep = {f"{100 * cfg['energy_removed']:g}% energy removed": (study, data, True)}
for label, image_setting in settings.items():
    sweep_draws = load_avmnist_draws(data_dir, draw_seeds, **{"energy_removed": cfg["energy_removed"], **image_setting},
                                     **data_settings)
    sweep_splits, sweep_hash = stack_draws(sweep_draws)
    same_audio = all(torch.equal(sweep_splits[k].b, splits[k].b) for k in splits)
    sweep[label] = (study_on(sweep_splits, sweep_hash, {"CM": (make_teacher_cm, image_and_audio)}, rhos=[control_rho],
                             distil=cfg["sweep_students"]), sweep_draws[0], same_audio)
sweep = dict(sorted(sweep.items(), key=lambda item: item[1][1].ground_truth.get("pca_energy_kept", 0)))


def sweep_gap(label, split=HELD_OUT):
    return sweep[label][0]["teachers"]["CM"]["acc"][split] - teacher_acc("UM", split)


def sweep_student_gap(label):
    runs = sweep[label][0]["students"]
    return runs[("CM-KD", control_rho)]["acc"][HELD_OUT] - student_acc("UM-KD", control_rho) if runs else None


display(formatting.html_table(pd.DataFrame(
    {"PCA components": [d.ground_truth.get("pca_components_kept", "n/a") for _, d, _ in sweep.values()],
     "energy kept (%)": [formatting.fmt(100 * d.ground_truth.get("pca_energy_kept", float("nan")), 1) for _, d, _ in sweep.values()],
     "image only": [formatting.mean_std(r["baselines"]["image only"]["acc"][HELD_OUT]) for r, _, _ in sweep.values()],
     "CM teacher": [formatting.mean_std(r["teachers"]["CM"]["acc"][HELD_OUT]) for r, _, _ in sweep.values()],
     **{f"CM - UM teacher ({split})": [formatting.mean_std(sweep_gap(label, split)) for label in sweep] for split in test_splits},
     "CM-KD - UM-KD student": [formatting.DASH if sweep_student_gap(label) is None
                               else formatting.mean_std(sweep_student_gap(label)) for label in sweep]},
    index=pd.Index(list(sweep), name=f"{source}, {HELD_OUT} test unless named, {num_seeds} seeds"),
), index=True))

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.6))
kept = [100 * d.ground_truth.get("pca_energy_kept", float("nan")) for _, d, _ in sweep.values()]
for split in test_splits:
    ax.plot(kept, [float(sweep_gap(label, split).mean()) for label in sweep], marker="o", label=f"CM - UM teacher ({split})")
ax.plot(kept, [float(r["baselines"]["image only"]["acc"][HELD_OUT].mean()) - float(teacher_acc("UM").mean())
               for r, _, _ in sweep.values()], marker="s", ls="--", label="image only - UM teacher")
ax.axhline(0, color="grey", lw=1)
ax.set_xlabel("image energy kept by the PCA filter (%)")
ax.set_ylabel("accuracy difference (pp)")
ax.legend(fontsize=8)
plotting.finish(fig, f"The teacher advantage follows the image's strength ({source})")

# %% [markdown]
# ## MFH's explanation on real images and audio: a gamma dial (ours)
#
# The case study is a counterexample; MFH's *explanation* (Sec. 4.2) is that crossmodal KD hands
# the student only the teacher's *modality-general* decisive information, so that "with larger
# $\gamma$, the student network is expected to perform better", where $\gamma$ is the share of the
# decisive features both modalities carry (Sec. 4.1). App. B.1 blames AV-MNIST's random
# same-class pairing for a small $\gamma$, but nothing in the dataset lets one turn $\gamma$. We
# build a dial into the pairing (`mfh_lib.gamma_dial`), on the same real images and recordings:
#
# - **The label is the image's digit** and the **teacher is an image-only LeNet-5** on images that
#   keep {glue:text}`ch01_gamma_pca_components` PCA components (the MultiBench-like images of the
#   sweep, so the teacher knows the digit well). The student is the audio CNN above.
# - **On a share $\gamma$ of the pairs the recording stays with its image**: it speaks the image's
#   digit, so the teacher's decisive information is also in the student's input (in MVD terms,
#   eq. (2), the digit is $z^0$). **On the other pairs the recordings are shuffled among them**: the
#   spoken digit is independent of the label, and all the teacher decides on is image-specific
#   ($z^{sa}$); the spoken digit is then a modality-specific feature of the audio that decides
#   nothing. The share of the teacher's decisive information that the student's modality also
#   carries is therefore $\gamma$ — MFH's ratio $d_0 / (d_0 + d_{sa} + d_{sb})$ with pairs in place of
#   feature dimensions ($d_{sb} = 0$: the label is the image's).
# - **The teacher is held fixed.** Its input and labels do not change with $\gamma$, so it is the
#   same network at every $\gamma$ (trained once; a check below confirms it): the dial moves
#   $\gamma$ at constant teacher accuracy, as MFH's Fig. 2 and Sec. 4.3 ask ("similar performance of
#   the two teachers ... the only difference lies in the amount of modality-general decisive features").
# - Every split (train, validation, both test splits) is dialled alike, so the student is tested
#   on the distribution it learns from, as in Fig. 2; the pairs kept at a smaller $\gamma$ are among
#   those kept at a larger one. Per $\gamma$ ({glue:text}`ch01_gammas`) and seed, paired (same data
#   draw, same student initialisation and batch order): the No-KD student, the KD student and the
#   noise-teacher student (a LeNet-5 trained on shuffled labels) at $\rho =$ {glue:text}`ch01_control_rho`.
#
# Read the result knowing that no audio model can beat about $\gamma + (1-\gamma)/10$ on the dialled
# test pairs, so a KD gain confined to the kept pairs grows in proportion to $\gamma$ whatever its
# size per pair. That is MFH's claim (the teacher helps only where the modalities share the label),
# so the slope is what the dial tests; the noise-teacher control separates knowledge from
# soft-target regularisation.

# %%
gamma_draws = load_avmnist_draws(data_dir, draw_seeds, energy_removed=cfg["energy_removed"],
                                 pca_components=cfg["gamma_pca_components"], **data_settings)
gamma_splits, gamma_hash = stack_draws(gamma_draws)
dial = gamma_dial.gamma_dial_study(
    (LeNet5, image), (make_student, audio), gamma_splits,
    gamma_dial.GammaDialSettings(gammas=cfg["gammas"], seeds=num_seeds, teacher_epochs=cfg["teacher_epochs"],
                                 student_epochs=cfg["student_epochs"], batch_size=cfg["batch_size"], rho=control_rho,
                                 optimizer=cfg["optimizer"], lr=cfg["lr"], temperature=cfg["temperature"]),
    results_cache=cache.ResultsCache(CHAPTER), device=device,
    key={"chapter": CHAPTER, "study": "gamma dial", "data": gamma_hash, "width": cfg["width"], "group_norm": cfg["group_norm"]})
gammas = sorted(float(g) for g in cfg["gammas"])
dial_split = SEEN if SEEN in test_splits else HELD_OUT  # in-distribution, as in Fig. 2


def dial_acc(model):
    return dial.per_seed(model, dial_split).to_numpy()  # (gammas, seeds)


gamma_diffs = {"KD - No-KD": dial_acc("KD") - dial_acc("No-KD"), "KD - noise-teacher KD": dial_acc("KD") - dial_acc("noise-teacher KD")}
train_pairs = dial.pairing[dial.pairing["split"] == "train"].groupby("gamma")["b of the label's class"].mean()
display(formatting.html_table(avmnist_report.gamma_table(
    gammas, {m: dial_acc(m) for m in ("teacher", "No-KD", "KD", "noise-teacher KD")}, gamma_diffs, train_pairs.loc[gammas],
    f"gamma ({source}, {dial_split} test, {num_seeds} seeds)"), index=True))
avmnist_report.plot_gamma_gains(gammas, gamma_diffs, f"KD gain against gamma ({source}, {dial_split} test)")

# %% [markdown]
# ## Verdicts
#
# Each claim's test is declared in `mfh_lib/paper_numbers/01_case_study_avmnist.json` before the
# run and judged by the evidence engine (`mfh_lib.evidence`):
#
# - *CM teacher > UM teacher*: directional, on each test split.
# - *The CM-KD student is not better than the UM-KD student*: a **non-superiority** test — the 95%
#   interval of CM-KD − UM-KD must lie below +{glue:text}`ch01_margin` pp (an advantage smaller than
#   that is no "better student"); a CM-KD advantage whose whole interval lies above the margin
#   contradicts the claim. The paper's sentence is that a *much* more accurate teacher gives no
#   better student, so it is testable only when the teacher really is much better: the precondition
#   is a CM − UM teacher gap of at least {glue:text}`ch01_gap_min` pp on the same split, else the
#   claim is *not testable (precondition failed)*.
# - *The teacher's advantage does not carry over* — the claim as the paper means it: the difference of
#   differences (CM-KD − UM-KD student) − (CM − UM teacher) < 0, at both $\rho$ on the held-out
#   speaker and at $\rho = 0.5$ on seen speakers, each with the same precondition on its split.
# - *UM-KD > No-KD* (implicit in Tab. 5): directional, with the precondition that the UM teacher
#   beats the No-KD student by at least {glue:text}`ch01_student_gap_min` pp (in the paper:
#   84.57 vs 68.36); a teacher no better than the student has nothing to teach. Our data differ
#   from the paper's, so no size is compared for any relation; absolute accuracies are recorded as
#   *not testable*.
# - Ours: each KD student beats each control student (directional, paired by seed); the CM − UM
#   teacher gap is larger with MultiBench-like images than with {glue:text}`ch01_energy_removed`% of
#   the energy removed (directional, paired by seed: the same audio in both).
#
# - The gamma dial: MFH's prediction (Sec. 4.2, Fig. 2) that the KD gain over No-KD grows with
#   $\gamma$, judged on the per-seed least-squares slope of KD − No-KD over the $\gamma$ values
#   (directional: slope > 0) and on the endpoints (the gain at the largest minus the gain at the
#   smallest $\gamma$). With two values, or three equally spaced ones, the two statistics coincide
#   (the least-squares slope ignores the midpoint), so the quick profile dials only the endpoints
#   and the record profile adds the values between; ours: the
#   same two tests for KD − noise-teacher KD. No margin: the null is
#   a zero slope / zero difference. Precondition: at the largest $\gamma$ the image teacher beats
#   the No-KD student by at least {glue:text}`ch01_student_gap_min` pp, else there is nothing to transfer.
#
# The unit of every interval is *seeds and data draws*: seed $s$ is one data draw and one training run.
#
# A 95% interval that contains both zero and the claimed effect is *inconclusive*, with the effect
# this run could detect and the seeds it would take; the quick profile's few seeds are a smoke test.

# %%
ledger = claims.Ledger(CHAPTER, profile, data_source=source, device=str(device), data_hash=data.content_hash)
student_margin = paper["cmkd_le_umkd_rho0.5"]["test"]["null"]
gap_min = paper["cmkd_le_umkd_rho0.5"]["test"]["preconditions"][0]["min"]
glue("ch01_margin", student_margin, display=False)
glue("ch01_gap_min", gap_min, display=False)
glue("ch01_student_gap_min", paper["umkd_gain_rho0.5"]["test"]["preconditions"][0]["min"], display=False)

# Checks (pass / fail, never counted as claims): the control and the data split do what they should.
noise_acc = teacher_acc("noise teacher")
chance = 100 / data.num_classes
ledger.check("check_noise_teacher_at_chance", bool(((noise_acc - chance).abs() <= 5).all()),
             f"noise-teacher test accuracy {formatting.mean_std(noise_acc)} % per seed, chance {chance:g} %", noise_acc)
overlaps = [recording_overlap(draw) for draw in draws]
heard = sorted({speaker for _, speakers in overlaps for speaker in speakers})
ledger.check("check_no_shared_utterances", not any(n for n, _ in overlaps) and not heard,
             f"recordings shared between train / val / seen-speaker test per data draw: {[n for n, _ in overlaps]}; "
             f"held-out speakers heard in train or val: {heard or 'none'}", [n for n, _ in overlaps])
ledger.check("check_sweep_same_audio", all(same for _, _, same in sweep.values()),
             f"every image setting of the sweep pairs the same audio as the main study: "
             f"{all(same for _, _, same in sweep.values())}", [float(same) for _, _, same in sweep.values()])


def gap_at(split):
    return {"teacher_gap": float(teacher_gap(split).mean())}


absolute = {
    "teacher_um_acc": teacher_acc("UM"), "teacher_cm_acc": teacher_acc("CM"), "student_nokd": student_acc("No-KD", 1.0),
    **{f"student_{t.lower()}kd_rho{rho:g}": student_acc(f"{t}-KD", rho) for t in ("UM", "CM") for rho in (rho_zero, rho_half)},
}
for claim_id, values in absolute.items():
    ledger.test(claim_id, values)

ledger.test("cm_teacher_gt_um_teacher", teacher_gap(HELD_OUT))
ledger.test("cmkd_le_umkd_rho0.5", student_acc("CM-KD", rho_half) - student_acc("UM-KD", rho_half), preconditions=gap_at(HELD_OUT))
ledger.test("cmkd_le_umkd_rho0", student_acc("CM-KD", rho_zero) - student_acc("UM-KD", rho_zero), preconditions=gap_at(HELD_OUT))
ledger.test("teacher_gain_not_transferred_rho0.5", differences[f"student gain - teacher gain (rho={rho_half:g})"],
            preconditions=gap_at(HELD_OUT))
ledger.test("teacher_gain_not_transferred_rho0", differences[f"student gain - teacher gain (rho={rho_zero:g})"],
            preconditions=gap_at(HELD_OUT))
# MultiBench's files have no seen-speaker split: those two claims are then not testable (precondition).
has_seen = {"seen_split": float(SEEN in test_splits)}
seen = SEEN in test_splits
ledger.test("cm_teacher_gt_um_teacher_seen", teacher_gap(SEEN) if seen else None, preconditions=has_seen)
ledger.test("cmkd_le_umkd_rho0.5_seen",
            student_acc("CM-KD", rho_half, SEEN) - student_acc("UM-KD", rho_half, SEEN) if seen else None,
            preconditions={**has_seen, **(gap_at(SEEN) if seen else {"teacher_gap": 0.0})})
ledger.test("teacher_gain_not_transferred_rho0.5_seen",
            differences[f"student gain - teacher gain (rho={rho_half:g}, {SEEN})"] if seen else None,
            preconditions={**has_seen, **(gap_at(SEEN) if seen else {"teacher_gap": 0.0})})
multibench = next((label for label in sweep if "MultiBench" in label), None)
main_setting = f"{100 * cfg['energy_removed']:g}% energy removed"
ledger.test("teacher_gap_larger_with_multibench_images",
            sweep_gap(multibench) - sweep_gap(main_setting) if multibench else None,
            preconditions={"multibench_setting": float(multibench is not None)})
# KD can only help if the teacher knows more than the student does alone (the paper's gap: 16 pp).
um_over_student = {"teacher_student_gap": float((teacher_acc("UM") - student_acc("No-KD", 1.0)).mean())}
for rho in (rho_zero, rho_half):
    ledger.test(f"umkd_gain_rho{rho:g}", student_acc("UM-KD", rho) - student_acc("No-KD", 1.0), preconditions=um_over_student)
for kd in ("UM", "CM"):
    for control, short in (("noise teacher", "noise_teacher"), ("born-again", "born_again"), ("label smoothing", "label_smoothing")):
        ledger.test(f"{kd.lower()}kd_beats_{short}", student_acc(f"{kd}-KD", control_rho) - student_acc(control, control_rho))
    cross_fitted = kd in cfg["cross_fit_teachers"]  # the quick profile skips this control (a teacher per fold)
    ledger.test(f"crossfit_{kd.lower()}kd_gain",
                student_acc(f"cross-fitted {kd}-KD", control_rho) - student_acc("No-KD", 1.0) if cross_fitted else None,
                preconditions={"cross_fitted": float(cross_fitted)})


# %%
# The gamma dial: slopes over gamma per seed (the unit: seeds and data draws) and the endpoints.
gamma_pre = {"teacher_student_gap": float((dial_acc("teacher")[-1] - dial_acc("No-KD")[-1]).mean())}
for claim, diff in (("kd_gain", gamma_diffs["KD - No-KD"]), ("kd_over_noise", gamma_diffs["KD - noise-teacher KD"])):
    ledger.test(f"gamma_{claim}_slope", stats.per_seed_slope(gammas, diff), preconditions=gamma_pre)
    ledger.test(f"gamma_{claim}_endpoints", diff[-1] - diff[0], preconditions=gamma_pre)
extra_kept = dial.pairing["kept"] * dial.pairing["pairs"] - (dial.pairing["gamma"] * dial.pairing["pairs"]).round()
ledger.check("check_gamma_share", bool(extra_kept.between(0, 10).all()),
             f"pairs that keep their own audio beyond round(gamma x pairs), over every gamma, split and draw: "
             f"{int(extra_kept.min())} to {int(extra_kept.max())} (the shuffle's fixed points)", extra_kept.to_numpy())
teacher_spread = dial_acc("teacher").max(axis=0) - dial_acc("teacher").min(axis=0)
ledger.check("check_gamma_teacher_fixed", bool((teacher_spread == 0).all()),
             f"largest change of the teacher's test accuracy across gamma, per seed: {teacher_spread.max():g} pp", teacher_spread)

# %% [markdown]
# ## The claims ledger for this chapter

# %%
ledger.save()
ledger_table = ledger.table()
display(formatting.html_table(ledger_table))
display(formatting.html_table(ledger_table.groupby(["whose", "verdict"]).size().rename("claims").reset_index()))
for claim_id, row in ledger.rows.items():  # every verdict and estimate, for the prose below
    glue(f"ch01_v_{claim_id}", row["verdict"], display=False)
    if row.get("estimate"):
        est = row["estimate"]
        glue(f"ch01_e_{claim_id}", f"{est['point']:+.2f} [{est['ci_low']:+.2f}, {est['ci_high']:+.2f}]", display=False)
for split, tag in ((HELD_OUT, "held_out"), (SEEN, "seen")):
    if split in test_splits:
        glue(f"ch01_teacher_gap_{tag}", f"{float(teacher_gap(split).mean()):+.2f}", display=False)
glue("ch01_noise_teacher_acc", formatting.mean_std(noise_acc), display=False)
glue("ch01_image_only_acc", formatting.mean_std(teacher_acc("image only")), display=False)
glue("ch01_gamma_teacher_acc", formatting.mean_std(dial_acc("teacher")[0]), display=False)
glue("ch01_dial_split", dial_split, display=False)

# %% [markdown]
# ## What we found
#
# All numbers are from this run ({glue:text}`ch01_seeds` seeds, each its own data draw, of
# {glue:text}`ch01_num_train` training pairs); the verdicts are the evidence engine's.
#
# - **The teacher gap on each test split.** CM teacher minus UM teacher:
#   {glue:text}`ch01_teacher_gap_held_out` pp on the held-out speaker
#   (*{glue:text}`ch01_v_cm_teacher_gt_um_teacher`*) and {glue:text}`ch01_teacher_gap_seen` pp on
#   unheard utterances of the training speakers (*{glue:text}`ch01_v_cm_teacher_gt_um_teacher_seen`*).
#   Whatever the held-out-speaker gap has in excess of the seen-speaker gap is speaker shift, which
#   the image (untouched by it) compensates for: part of the "much more accurate teacher" premise is
#   then a property of the test split, not of the modalities.
# - **Is the CM-KD student better?** At $\rho = 0.5$ the paired difference CM-KD − UM-KD is
#   {glue:text}`ch01_e_cmkd_le_umkd_rho0.5` pp on the held-out speaker
#   (*{glue:text}`ch01_v_cmkd_le_umkd_rho0.5`*) and {glue:text}`ch01_e_cmkd_le_umkd_rho0.5_seen` pp on
#   seen speakers (*{glue:text}`ch01_v_cmkd_le_umkd_rho0.5_seen`*); at $\rho = 0$ it is
#   {glue:text}`ch01_e_cmkd_le_umkd_rho0` pp (*{glue:text}`ch01_v_cmkd_le_umkd_rho0`*). Student gain
#   minus teacher gain: {glue:text}`ch01_e_teacher_gain_not_transferred_rho0.5` pp
#   (*{glue:text}`ch01_v_teacher_gain_not_transferred_rho0.5`*) on the held-out speaker,
#   {glue:text}`ch01_e_teacher_gain_not_transferred_rho0` pp at $\rho = 0$
#   (*{glue:text}`ch01_v_teacher_gain_not_transferred_rho0`*), and
#   {glue:text}`ch01_e_teacher_gain_not_transferred_rho0.5_seen` pp on seen speakers
#   (*{glue:text}`ch01_v_teacher_gain_not_transferred_rho0.5_seen`*). The non-superiority margin,
#   +{glue:text}`ch01_margin` pp, and the {glue:text}`ch01_gap_min` pp precondition were declared
#   before the run.
# - **Image strength (ours).** The image-only LeNet-5 reaches {glue:text}`ch01_image_only_acc`% at
#   {glue:text}`ch01_energy_removed`% of the energy removed; with MultiBench-like images the CM − UM
#   teacher gap changes by {glue:text}`ch01_e_teacher_gap_larger_with_multibench_images` pp
#   (*{glue:text}`ch01_v_teacher_gap_larger_with_multibench_images`*): the size of the "much better
#   teacher" is set by the image filter, a choice of the dataset's recipe, not by the modalities.
# - **Unimodal KD vs No-KD:** {glue:text}`ch01_e_umkd_gain_rho0.5` pp at $\rho = 0.5$
#   (*{glue:text}`ch01_v_umkd_gain_rho0.5`*), {glue:text}`ch01_e_umkd_gain_rho0` pp at $\rho = 0$
#   (*{glue:text}`ch01_v_umkd_gain_rho0`*).
# - **Controls (ours).** The noise teacher's test accuracy is {glue:text}`ch01_noise_teacher_acc`% (chance: 10%).
#   UM-KD minus the control students: noise teacher {glue:text}`ch01_e_umkd_beats_noise_teacher`
#   (*{glue:text}`ch01_v_umkd_beats_noise_teacher`*), born-again {glue:text}`ch01_e_umkd_beats_born_again`
#   (*{glue:text}`ch01_v_umkd_beats_born_again`*), label smoothing
#   {glue:text}`ch01_e_umkd_beats_label_smoothing` (*{glue:text}`ch01_v_umkd_beats_label_smoothing`*);
#   CM-KD minus the same: {glue:text}`ch01_e_cmkd_beats_noise_teacher`
#   (*{glue:text}`ch01_v_cmkd_beats_noise_teacher`*), {glue:text}`ch01_e_cmkd_beats_born_again`
#   (*{glue:text}`ch01_v_cmkd_beats_born_again`*), {glue:text}`ch01_e_cmkd_beats_label_smoothing`
#   (*{glue:text}`ch01_v_cmkd_beats_label_smoothing`*). A KD gain that a knowledge-free control also
#   gives is regularisation or soft labels, not crossmodal knowledge; the paper has no controls.
# - **The gamma dial: MFH's explanation.** With the teacher fixed (an image-only LeNet-5 at
#   {glue:text}`ch01_gamma_teacher_acc`% on the {glue:text}`ch01_dial_split` test pairs at every
#   $\gamma$), the slope of KD − No-KD over $\gamma$ is {glue:text}`ch01_e_gamma_kd_gain_slope` pp per
#   unit $\gamma$ (*{glue:text}`ch01_v_gamma_kd_gain_slope`*) and the endpoint difference is
#   {glue:text}`ch01_e_gamma_kd_gain_endpoints` pp (*{glue:text}`ch01_v_gamma_kd_gain_endpoints`*);
#   against the noise-teacher student: slope {glue:text}`ch01_e_gamma_kd_over_noise_slope`
#   (*{glue:text}`ch01_v_gamma_kd_over_noise_slope`*), endpoints
#   {glue:text}`ch01_e_gamma_kd_over_noise_endpoints` (*{glue:text}`ch01_v_gamma_kd_over_noise_endpoints`*).
#   A positive slope with the teacher's accuracy held fixed is the pattern MFH predicts; a flat one
#   says that, on these data, what the image teacher hands on does not depend on how much of its
#   decisive information the audio shares.
#
# ## Discussion and deviations from the paper
#
# - **Data.** TIDIGITS is not available, so the audio is FSDD: 6 speakers instead of TIDIGITS'
#   hundreds. We report two test splits because the two readings of "the test set" give different
#   teacher gaps (above). The noise is synthetic coloured noise, not natural recordings. The images
#   follow the paper's wording — {glue:text}`ch01_energy_removed`% of the PCA *energy* (variance)
#   removed, which leaves only the few leading components printed above; for the quick profile the
#   PCA is fitted on the images in use rather than all 60,000. MultiBench's build of the dataset is
#   described as keeping 196 of 784 components (75% of the *components* removed), which leaves
#   the images almost intact; the sweep above shows what that choice does to the teacher gap.
# - **Scale.** The quick profile (the golden notebook) uses {glue:text}`ch01_num_train` /
#   {glue:text}`ch01_num_val` / {glue:text}`ch01_num_test` pairs, {glue:text}`ch01_n_mels` x {glue:text}`ch01_num_frames` spectrograms, narrow networks,
#   {glue:text}`ch01_teacher_epochs` epochs and {glue:text}`ch01_seeds` seeds so that it runs on a
#   2-core CPU; the `full` profile uses the paper's {glue:text}`ch01_full_num_train` /
#   {glue:text}`ch01_full_num_val` / {glue:text}`ch01_full_num_test` pairs (App. B.1: 50,000 / 5,000 /
#   10,000), {glue:text}`ch01_full_seeds` seeds and longer training, and is meant for a GPU. With few
#   seeds the t-intervals are wide and *inconclusive* is the honest verdict for the student
#   comparisons; the ledger rows say how many seeds would resolve each. The paper's own student gaps
#   (−0.37 and −0.40 points, with stds of about 0.5 to 1.1 over 10 runs) are themselves within noise.
# - **Unstated details** (optimizer, epochs, temperature, spectrogram size, widths, the margin and
#   precondition of the non-superiority test) are ours and live in
#   `chapters/configs/01_case_study_avmnist.json` and the claim declarations; the networks' depths
#   follow App. B.1 exactly.
# - **What the case study does and does not show.** It is an existence proof that teacher accuracy
#   does not predict student accuracy in crossmodal KD. Why — the MFH answer, that the
#   audio-visual teacher's extra accuracy comes from image-specific information the audio student
#   cannot mimic — is tested above on the same images and recordings with the gamma dial, and on
#   data where the modality-general share is known by construction in the next chapters. The dial
#   sets $\gamma$ through the pairing, not through features inside one pair: it is the closest
#   real-data analogue of Fig. 2 we can build, not the paper's own construction (the paper turns
#   $\gamma$ only on synthetic Gaussian data).
