"""Multi-label crossmodal KD from teachers matched on F1 (MFH App. B.3, Tab. 7; chapter 06_mmimdb).

One call, :func:`f1_matched_kd_study`, runs the whole MM-IMDB experiment of MFH App. B.3 on any
multi-label :class:`~mfh_lib.data.MultimodalDataset` (modality ``a`` the teacher's, e.g. the
poster; ``b`` the student's, e.g. the plot):

1. Every seed halves the training split at random (:func:`mfh_lib.data.splits.random_halves`): the
   first half trains the teachers, the second the students.
2. Four teachers, each trained with binary cross-entropy per label and recorded after every epoch:
   ``UM-KD`` (a network on modality a), ``UM-KD (text teacher)`` (a network on modality b, the
   literal reading of Tab. 7), ``Modality-specific-KD`` (a late-fusion network trained on the hard
   pseudo-labels of the UM-KD network at its best validation epoch, following Xue et al. 2021) and
   ``Regular-KD`` (the same late-fusion network, same initialisation, trained on the labels).
3. Teachers of similar F1: per seed, the target is the weakest teacher's best validation micro
   F1, and every teacher is taken at the epoch whose validation micro F1 is closest to it
   (selection ``"F1-matched"``). The control selection ``"best epoch"`` takes every teacher at
   its best validation macro F1 instead.
4. A student on modality b per teacher and selection, distilled on the second half with MFH eq. (1)
   for sigmoid labels (``rho`` x BCE + (1 - ``rho``) x per-label binary KL at ``temperature``,
   :func:`mfh_lib.losses.multilabel_kd_divergence`), early-stopped on validation macro F1; and a
   ``No-KD (labels)`` student trained on the second half's labels. All students of a seed share
   their initialisation, so differences between teachers are paired by seed.
5. On a stand-in with planted factors (``data.ground_truth["world"]``, see
   :mod:`mfh_lib.data.mmimdb`), each teacher's reliance on the planted general / text-only /
   image-only factors: the mean absolute change of its validation probabilities when one group is
   shuffled, as shares; gamma-hat = share(general) + share(b-only) is the share of its decision
   the student's modality can see.

All seeds train at once as one vectorised :class:`mfh_lib.training.Ensemble`; the result is cached
by the data's content hash and the settings.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Mapping

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from . import losses, models, training
from .cache import ResultsCache
from .config import ConfigError, StudySettings, check_number, check_unit_interval, check_whole
from .data.splits import random_halves

#: Teacher names, in the order of MFH Tab. 7 plus the literal-reading text teacher.
UM_KD, TEXT_TEACHER, MODALITY_SPECIFIC, REGULAR = "UM-KD", "UM-KD (text teacher)", "Modality-specific-KD", "Regular-KD"
TEACHERS = (UM_KD, TEXT_TEACHER, MODALITY_SPECIFIC, REGULAR)
#: The student trained on labels (no teacher).
NO_KD = "No-KD (labels)"
#: Teacher selections: matched on validation micro F1 (the paper's), or each at its best epoch (control).
MATCHED, BEST_EPOCH = "F1-matched", "best epoch"
#: Planted factor groups of a stand-in (mfh_lib.data.mmimdb.FACTOR_GROUPS): shared, b-only, a-only.
FACTOR_GROUPS = ("general", "text", "image")
# Seeds of the ensembles' initialisations: both late-fusion teachers share one, all students another.
_SEEDS = {UM_KD: 100, TEXT_TEACHER: 200, MODALITY_SPECIFIC: 300, REGULAR: 300, "student": 1000, "halves": 0}
# Bumped when the result's columns change, so a cache entry of the old layout is not returned.
_RESULT_FORMAT = 2


@dataclass(frozen=True)
class F1MatchedKDSettings(StudySettings):
    """Settings of :func:`f1_matched_kd_study` (defaults: none for the run's size, MultiBench's otherwise).

    Required (no default: they set the size of the run):

    * ``seeds``: number of seeds S (each its own halving, initialisations and batch orders).
    * ``teacher_epochs``: epochs of every teacher (all are recorded; matching picks one per seed).
    * ``student_epochs``: epochs of every student (early-stopped on validation macro F1).

    Optional:

    * ``hidden_text`` / ``hidden_image``: hidden width of the MLP encoder on modality b / a
      (MultiBench: 512 / 1024).
    * ``embed_dim``: width of every encoder's output and of the heads' hidden layer (MultiBench: 512).
    * ``batch_size``, ``lr``, ``weight_decay``: AdamW settings of every training.
    * ``temperature``: temperature T of the per-label binary KL.
    * ``rho``: weight of the BCE term in eq. (1) (0: the student learns from its teacher only, App. B.3).
    """

    seeds: int
    teacher_epochs: int
    student_epochs: int
    hidden_text: int = 512
    hidden_image: int = 1024
    embed_dim: int = 512
    batch_size: int = 128
    lr: float = 1e-4
    weight_decay: float = 0.01
    temperature: float = 1.0
    rho: float = 0.0

    def __post_init__(self):
        for name in ("seeds", "teacher_epochs", "student_epochs", "hidden_text", "hidden_image", "embed_dim", "batch_size"):
            check_whole(name, getattr(self, name))
        for name, low in (("lr", 0.0), ("weight_decay", 0.0), ("temperature", 1e-6)):
            check_number(name, getattr(self, name), low)
        check_unit_interval("setting 'rho'", self.rho)

@dataclass
class F1MatchedKDStudy:
    """What :func:`f1_matched_kd_study` returns.

    ``table``: one row per (selection, condition, seed), S seeds. Columns: ``selection``
    (:data:`MATCHED` or :data:`BEST_EPOCH`), ``condition`` (a teacher of :data:`TEACHERS`, or
    :data:`NO_KD` in the matched selection), ``seed`` (0..S-1), ``teacher_epoch`` (1-based epoch
    the teacher was taken at), ``teacher_val_micro_f1`` (its validation micro F1, the quantity the
    matching equalises), ``teacher_micro_f1`` / ``teacher_macro_f1`` and ``student_micro_f1`` /
    ``student_macro_f1`` (test F1 in %), ``share_general`` / ``share_text`` / ``share_image``
    and ``gamma_hat`` (the teacher's reliance shares on planted factors; NaN without them, and
    teacher columns are NaN for No-KD).
    ``pseudo_label_agreement``: (S,) % of the teachers' (label, sample) pairs where the UM-KD
    network's pseudo-labels equal the true labels.
    """

    table: pd.DataFrame
    pseudo_label_agreement: np.ndarray

    def values(self, condition: str, column: str, selection: str = MATCHED) -> np.ndarray:
        """(S,) per-seed values of ``column`` for one condition, in seed order."""
        rows = self.table[(self.table.selection == selection) & (self.table.condition == condition)]
        if rows.empty:
            raise KeyError(f"no condition {condition!r} in selection {selection!r}; "
                           f"have {sorted(self.table[self.table.selection == selection].condition.unique())}")
        return rows.sort_values("seed")[column].to_numpy()


def f1_matched_kd_study(data, settings: F1MatchedKDSettings | Mapping[str, Any], *, device=None,
                        use_cache: bool = True) -> F1MatchedKDStudy:
    """MFH App. B.3 on a multi-label dataset: F1-matched teachers of different gamma and their students.

    ``data``: a multi-label :class:`~mfh_lib.data.MultimodalDataset`: ``a`` (N, D_a) the teachers'
    extra modality, ``b`` (N, D_b) the student's, ``y`` (N, K) 0/1 floats; the networks output
    ``data.num_classes`` logits. ``settings``: :class:`F1MatchedKDSettings` or a mapping of its
    fields. ``device``: where to train (None: where the data are). See the module docstring for
    the procedure; returns a :class:`F1MatchedKDStudy` (a tidy per-seed table). Cached per
    (data content hash, settings, device type): changed data never return old numbers.
    """
    if not isinstance(settings, F1MatchedKDSettings):
        settings = F1MatchedKDSettings.from_dict(settings)
    if not getattr(data, "multilabel", False) or data.train.y.dim() != 2:
        raise ConfigError("f1_matched_kd_study needs a multi-label dataset: y of shape (N, K) with 0/1 entries "
                          "and multilabel=True")
    if data.train.y.shape[1] != data.num_classes:
        raise ConfigError(f"labels have {data.train.y.shape[1]} columns but num_classes = {data.num_classes}")
    device = data.train.a.device if device is None else torch.device(device)
    data = data.to(device)
    key = {"data": data.content_hash, "settings": settings.to_dict(), "device": device.type, "format": _RESULT_FORMAT}
    cache = ResultsCache("f1_matched_kd_study", enabled=use_cache)
    return cache.get_or_compute(key, lambda: _Run(data, settings, device).study())


class _Run:
    """The trainings of one study; ``study()`` runs them in order."""

    def __init__(self, data, settings: F1MatchedKDSettings, device):
        self.data, self.cfg, self.device = data, settings, device
        self.num_seeds = settings.seeds
        self.member = torch.arange(self.num_seeds, device=device)[:, None]
        halves = random_halves(len(data.train), self.num_seeds, seed=_SEEDS["halves"])
        self.teacher_half, self.student_half = (h.to(device) for h in halves)
        self.planted = "world" in data.ground_truth

    def make_network(self, kind: str):
        cfg, k = self.cfg, self.data.num_classes
        dim_a, dim_b = self.data.train.a.shape[1], self.data.train.b.shape[1]
        if kind == "fusion":
            return lambda: models.LateFusion(dim_a, dim_b, cfg.hidden_image, cfg.hidden_text, cfg.embed_dim, cfg.embed_dim, k)
        in_features, hidden = (dim_a, cfg.hidden_image) if kind == "a" else (dim_b, cfg.hidden_text)
        return lambda: models.multibench_unimodal(in_features, hidden, cfg.embed_dim, k)

    @staticmethod
    def inputs(kind: str, a, b) -> tuple:
        return {"a": (a,), "b": (b,), "fusion": (a, b)}[kind]

    def fit(self, kind, rows, targets, loss, num_epochs, seed, teacher=False) -> dict:
        """Train one ensemble on the training rows ``rows`` (S, n); {name: (epochs, S, ...)} logits per epoch.

        ``targets``: (N, K) labels shared by every member or (S, N, K) per-member targets;
        ``loss``: "bce" (labels or pseudo-labels) or "kd" (targets are teacher logits). A ``teacher``
        also records its logits on each member's two halves and, with planted factors, on the
        validation inputs with one factor group shuffled.
        """
        from .data.mmimdb import permuted_factor_inputs

        data, cfg, member = self.data, self.cfg, self.member
        ensemble = training.Ensemble(self.make_network(kind), self.num_seeds, seed=seed, device=self.device)
        member_sets = {"teacher_half": self.teacher_half, "student_half": self.student_half} if teacher else {}
        shuffled = permuted_factor_inputs(data, "val", seed=seed) if self.planted and teacher else {}

        def loss_fn(ens, idx):
            logits = ens(*self.inputs(kind, data.train.a[idx], data.train.b[idx]))
            target = targets[idx] if targets.dim() == 2 else targets[member, idx]
            if loss == "bce":
                return F.binary_cross_entropy_with_logits(logits, target, reduction="none").mean((1, 2))
            # MFH eq. (1) with sigmoid labels: rho * BCE(labels) + (1 - rho) * per-label binary KL.
            kd = torch.vmap(partial(losses.multilabel_kd_divergence, temperature=cfg.temperature))(logits, target)
            bce = F.binary_cross_entropy_with_logits(logits, data.train.y[idx], reduction="none").mean((1, 2))
            return cfg.rho * bce + (1 - cfg.rho) * kd

        def predict(a, b, shared=True):
            return training.predict_ensemble(ensemble, *self.inputs(kind, a, b), shared=shared).cpu()

        def record():
            logits = {name: predict(split.a, split.b) for name, split in (("val", data.val), ("test", data.test))}
            logits |= {name: predict(data.train.a[idx], data.train.b[idx], shared=False) for name, idx in member_sets.items()}
            logits |= {f"val_{group}_shuffled": predict(a, b) for group, (a, b) in shuffled.items()}
            return logits

        return training.train_recording(
            ensemble, [rows], loss_fn, record, num_epochs=num_epochs, batch_size=cfg.batch_size, optimizer="adamw",
            lr=cfg.lr, weight_decay=cfg.weight_decay, generator=torch.Generator().manual_seed(seed), desc=kind)

    # --- selecting epochs ---------------------------------------------------------------------
    def f1_curves(self, history, split):
        """(micro, macro) F1, each (epochs, S), of recorded logits on ``split``."""
        return training.member_f1(history[split], getattr(self.data, split).y.cpu())

    def at_epochs(self, history, epochs):
        """Each member's recorded tensors at its own epoch ``epochs`` (S,): {name: (S, ...)}."""
        return {name: value[epochs, torch.arange(self.num_seeds)] for name, value in history.items()}

    def best_epochs(self, history):
        return self.f1_curves(history, "val")[1].argmax(0)

    def on_training_rows(self, half_logits, half):
        """(S, N, K) tensor holding each member's values at its own rows ``half`` (zeros elsewhere)."""
        full = torch.zeros(self.num_seeds, len(self.data.train), self.data.num_classes, device=self.device)
        full[self.member, half] = half_logits.to(self.device)
        return full

    # --- the study ----------------------------------------------------------------------------
    def train_teachers(self) -> tuple[dict, torch.Tensor]:
        labels, half, epochs = self.data.train.y, self.teacher_half, self.cfg.teacher_epochs
        image = self.fit("a", half, labels, "bce", epochs, seed=_SEEDS[UM_KD], teacher=True)
        best = self.at_epochs(image, self.best_epochs(image))
        pseudo_labels = self.on_training_rows((best["teacher_half"] > 0).float(), half)
        agreement = (pseudo_labels[self.member, half] == labels[half]).float().mean((1, 2)).cpu() * 100
        runs = {UM_KD: image,
                TEXT_TEACHER: self.fit("b", half, labels, "bce", epochs, seed=_SEEDS[TEXT_TEACHER], teacher=True),
                MODALITY_SPECIFIC: self.fit("fusion", half, pseudo_labels, "bce", epochs, seed=_SEEDS[MODALITY_SPECIFIC],
                                            teacher=True),
                REGULAR: self.fit("fusion", half, labels, "bce", epochs, seed=_SEEDS[REGULAR], teacher=True)}
        return runs, agreement

    def matched_epochs(self, runs: dict) -> dict:
        """Per teacher, (S,) epochs whose validation micro F1 is closest to the weakest teacher's best."""
        val_micro = {name: self.f1_curves(h, "val")[0] for name, h in runs.items()}
        target = torch.stack([v.max(0).values for v in val_micro.values()]).min(0).values
        return {name: (v - target).abs().argmin(0) for name, v in val_micro.items()}

    def train_students(self, teachers: dict, with_no_kd: bool) -> dict:
        """{condition: (S, N_test, K)} test logits of the students, each at its best validation epoch."""
        half, epochs, seed = self.student_half, self.cfg.student_epochs, _SEEDS["student"]
        runs = {NO_KD: self.fit("b", half, self.data.train.y, "bce", epochs, seed=seed)} if with_no_kd else {}
        for name, teacher in teachers.items():
            # every student starts from the same initialisation: differences are the teachers'
            runs[name] = self.fit("b", half, self.on_training_rows(teacher["student_half"], half), "kd", epochs, seed=seed)
        return {name: self.at_epochs(h, self.best_epochs(h))["test"] for name, h in runs.items()}

    def reliance_shares(self, teacher) -> torch.Tensor:
        """(S, 3) shares of the teacher's validation-probability change when each factor group is shuffled."""
        base = torch.sigmoid(teacher["val"])
        change = torch.stack([(torch.sigmoid(teacher[f"val_{g}_shuffled"]) - base).abs().mean((1, 2))
                              for g in FACTOR_GROUPS], 1)
        return change / change.sum(1, keepdim=True)

    def rows(self, selection, teachers, epochs, students) -> list[pd.DataFrame]:
        """One (S,)-row frame per student; float32 columns, as the tensors they come from."""
        test_y, nan = self.data.test.y.cpu(), torch.full((self.num_seeds,), float("nan"))
        frames = []
        for name, logits in students.items():
            s_micro, s_macro = training.member_f1(logits, test_y)
            t_micro, t_macro = training.member_f1(teachers[name]["test"], test_y) if name in teachers else (nan, nan)
            t_val = training.member_f1(teachers[name]["val"], self.data.val.y.cpu())[0] if name in teachers else nan
            shares = self.reliance_shares(teachers[name]) if name in teachers and self.planted else nan[:, None].expand(-1, 3)
            columns = {"teacher_epoch": epochs[name].float() + 1 if name in epochs else nan,
                       "teacher_val_micro_f1": t_val, "teacher_micro_f1": t_micro, "teacher_macro_f1": t_macro,
                       "student_micro_f1": s_micro, "student_macro_f1": s_macro,
                       **{f"share_{g}": shares[:, i] for i, g in enumerate(FACTOR_GROUPS)},
                       "gamma_hat": shares[:, 0] + shares[:, 1]}
            frames.append(pd.DataFrame({"selection": selection, "condition": name, "seed": np.arange(self.num_seeds),
                                        **{k: v.cpu().numpy().astype(np.float32) for k, v in columns.items()}}))
        return frames

    def study(self) -> F1MatchedKDStudy:
        runs, agreement = self.train_teachers()
        matched_epochs = self.matched_epochs(runs)
        best_epochs = {name: self.best_epochs(h) for name, h in runs.items()}
        rows = []
        for selection, epochs, with_no_kd in ((MATCHED, matched_epochs, True), (BEST_EPOCH, best_epochs, False)):
            teachers = {name: self.at_epochs(h, epochs[name]) for name, h in runs.items()}
            rows += self.rows(selection, teachers, epochs, self.train_students(teachers, with_no_kd))
        return F1MatchedKDStudy(pd.concat(rows, ignore_index=True), agreement.numpy())


__all__ = ["UM_KD", "TEXT_TEACHER", "MODALITY_SPECIFIC", "REGULAR", "TEACHERS", "NO_KD", "MATCHED", "BEST_EPOCH",
           "FACTOR_GROUPS", "F1MatchedKDSettings", "F1MatchedKDStudy", "f1_matched_kd_study"]
