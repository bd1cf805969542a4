"""A gamma dial on class-paired data (chapter 01, issue #13): MFH's gamma set by the pairing.

MFH (Sec. 4.1-4.2) calls gamma the share of the decisive features that both modalities carry, and
predicts that crossmodal KD helps more as gamma grows. In a class-paired dataset such as AV-MNIST
(modality ``b`` of pair i is a random recording of the digit ``y[i]`` shown in modality ``a``), the
label is decided by the image and the decisive information shared with the audio is the digit
itself. :func:`dial_pairs` keeps that shared on a share gamma of the pairs and, on the others,
shuffles modality ``b`` among them, so there the spoken digit is independent of the label and the
image teacher's decisive information is image-specific. An image teacher is then the same network
at every gamma (its inputs and labels do not change), which holds the teacher's accuracy fixed
while gamma moves, as MFH's Fig. 2 does.

:func:`gamma_dial_study` runs :func:`mfh_lib.training.kd_study` once per gamma on the dialled data
(No-KD, KD from the teacher, and the noise-teacher control, paired by seed) and returns a tidy table.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import pandas as pd
import torch

from .config import ConfigError, StudySettings, check_unit_interval
from .data import MultimodalSplit, content_digest

DIAL_VERSION = 1  # part of every cache key: bump when dial_pairs changes what it draws


def dial_pairs(split: MultimodalSplit, gamma: float, generator: torch.Generator) -> tuple[MultimodalSplit, torch.Tensor]:
    """Re-pair modality ``b`` of one split (N pairs, no member axis) so that a share ``gamma`` of the
    pairs keeps its own ``b`` and the ``b`` of the other pairs is permuted among them.

    Which pairs keep their ``b`` is the first ``round(gamma * N)`` of a random order drawn first from
    ``generator``, so with equally seeded generators the kept pairs of a smaller gamma are among those
    of a larger one (paired comparisons across gamma). ``a`` and ``y`` are returned untouched.
    Returns the new split and ``source`` (N,): pair i now holds the ``b`` of original pair
    ``source[i]`` (so in class-paired data its ``b`` is of class ``y[source[i]]``).
    """
    check_unit_interval("gamma", gamma)
    n = len(split)
    order = torch.randperm(n, generator=generator)
    num_kept = int(round(gamma * n))
    rest = order[num_kept:]
    source = torch.arange(n)
    source[rest] = rest[torch.randperm(len(rest), generator=generator)]
    return MultimodalSplit(split.a, split.b[source.to(split.b.device)], split.y), source


def dial_splits(splits: Mapping[str, MultimodalSplit], gamma: float, seed: int = 0
                ) -> tuple[dict[str, MultimodalSplit], pd.DataFrame]:
    """:func:`dial_pairs` on every split of stacked data draws ((S, N, ...) tensors, member s on its
    own draw), member s and split k with a generator seeded by (seed, s, k) only, so the kept pairs
    are nested across gamma. Returns the dialled splits and one row per draw and split: the share of
    pairs that kept their ``b`` ("kept") and the share whose ``b`` is of the label's class
    ("b of the label's class": gamma plus, on the rest, chance agreement)."""
    out, rows = {}, []
    for k, (name, split) in enumerate(splits.items()):
        parts = []
        for s in range(split.y.shape[0]):
            generator = torch.Generator().manual_seed(1_000_003 * int(seed) + 1009 * s + k)
            member = MultimodalSplit(split.a[s], split.b[s], split.y[s])
            dialled, source = dial_pairs(member, gamma, generator)
            parts.append(dialled)
            y = split.y[s].cpu()
            rows.append({"gamma": float(gamma), "draw": s, "split": name, "pairs": len(source),
                         "kept": float((source == torch.arange(len(source))).float().mean()),
                         "b of the label's class": float((y[source] == y).float().mean())})
        out[name] = MultimodalSplit(*(torch.stack([getattr(p, f) for p in parts]) for f in ("a", "b", "y")))
    return out, pd.DataFrame(rows)


@dataclass(frozen=True)
class GammaDialSettings(StudySettings):
    """Settings of :func:`gamma_dial_study`: the ``gammas`` (distinct, in [0, 1]), the eq. (1) weight
    ``rho`` of the KD and noise-teacher students, ``dial_seed`` (which pairs keep their ``b``), and
    the :class:`mfh_lib.training.KDStudySettings` fields ``seeds``, ``teacher_epochs``,
    ``student_epochs``, ``batch_size``, ``optimizer``, ``lr``, ``temperature``."""

    gammas: tuple[float, ...]
    seeds: int
    teacher_epochs: int
    student_epochs: int
    batch_size: int
    rho: float = 0.5
    optimizer: str = "adam"
    lr: float = 1e-3
    temperature: float = 1.0
    dial_seed: int = 0

    def __post_init__(self):
        if isinstance(self.gammas, (str, bytes)) or not isinstance(self.gammas, Sequence) or len(self.gammas) < 2:
            raise ConfigError(f"setting 'gammas' = {self.gammas!r} is invalid: expected a list of at least two values")
        object.__setattr__(self, "gammas", tuple(float(g) for g in self.gammas))
        for gamma in self.gammas:
            check_unit_interval("setting 'gammas' (each gamma)", gamma)
        if len(set(self.gammas)) != len(self.gammas):
            raise ConfigError(f"setting 'gammas' = {list(self.gammas)} repeats a value")
        self.kd_settings()  # validates the shared fields

    def kd_settings(self):
        from .training import KDStudySettings

        return KDStudySettings(seeds=self.seeds, teacher_epochs=self.teacher_epochs, student_epochs=self.student_epochs,
                               batch_size=self.batch_size, rhos=(self.rho,), optimizer=self.optimizer, lr=self.lr,
                               temperature=self.temperature, control_rho=self.rho, noise_teacher="teacher")


@dataclass
class GammaDialResult:
    """``accuracy``: one row per gamma x seed x model x test split, columns gamma, seed, model
    ("teacher", "noise teacher", "No-KD", "KD", "noise-teacher KD"), split, acc (%).
    ``pairing``: :func:`dial_splits`' rows for every gamma."""

    accuracy: pd.DataFrame
    pairing: pd.DataFrame

    def per_seed(self, model: str, split: str) -> pd.DataFrame:
        """(gamma x seed) table of one model's accuracy on one split."""
        rows = self.accuracy[(self.accuracy["model"] == model) & (self.accuracy["split"] == split)]
        return rows.pivot(index="gamma", columns="seed", values="acc").sort_index()


def gamma_dial_study(teacher: tuple[Callable, Callable], student: tuple[Callable, Callable],
                     splits: Mapping[str, MultimodalSplit], settings: GammaDialSettings | Mapping[str, Any], *,
                     results_cache=None, key: dict | None = None, device="cpu") -> GammaDialResult:
    """Crossmodal KD at every gamma of ``settings.gammas`` on stacked data draws ``splits``
    ({"train", "val", <test splits>}: (S, N, ...) tensors, member s on draw s, modality ``b`` paired
    by class), paired by seed: the teacher ((make_model, inputs), reading modality ``a`` only), the
    noise teacher (its architecture on shuffled labels), and the students (make_model, inputs) No-KD,
    KD and noise-teacher KD at ``rho``.

    The teacher and the noise teacher see only what the dial leaves untouched, so they are trained
    once and cached under the content of their inputs and labels; the students are cached per gamma
    under the dialled data's content. Returns a :class:`GammaDialResult`.
    """
    from .training import kd_study

    if not isinstance(settings, GammaDialSettings):
        settings = GammaDialSettings.from_dict(settings)
    make_teacher, teacher_inputs = teacher
    teacher_data = content_digest(*(x for split in splits.values() for x in (*teacher_inputs(split), split.y)))
    base = {**(key or {}), "dial_version": DIAL_VERSION, **settings.to_dict()}
    shared = {run: {**base, "gammas": None, "teacher data": teacher_data} for run in ("teacher/teacher", "noise teacher/teacher")}
    names = {"teacher": "teacher", "noise teacher": "noise teacher"}
    students = {("No-KD", 1.0): "No-KD", ("teacher-KD", settings.rho): "KD", ("noise teacher", settings.rho): "noise-teacher KD"}
    rows, pairing = [], []
    for gamma in settings.gammas:
        dialled, table = dial_splits(splits, gamma, settings.dial_seed)
        pairing.append(table)
        study = kd_study({"teacher": (make_teacher, teacher_inputs)}, student,
                         {name: split.to(device) for name, split in dialled.items()}, settings.kd_settings(),
                         member_data=True, results_cache=results_cache, device=device, shared_runs=shared,
                         key={**base, "gamma": gamma, "data": content_digest(*(t for s in dialled.values() for t in (s.a, s.b, s.y)))})
        runs = {**{names[t]: r for t, r in study["teachers"].items()}, **{students[c]: r for c, r in study["students"].items()}}
        rows += [{"gamma": gamma, "seed": seed, "model": model, "split": split, "acc": float(acc[seed])}
                 for model, run in runs.items() for split, acc in run["acc"].items() for seed in range(len(acc))]
    return GammaDialResult(pd.DataFrame(rows), pd.concat(pairing, ignore_index=True))
