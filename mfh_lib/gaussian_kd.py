"""Crossmodal KD on the Gaussian modality Venn diagram (MFH Sec. 4.2, 5.2, App. B.2), batched.

One *run* is one (setting, seed) pair: draw data from MFH eq. (27) (:mod:`mfh_lib.data.gaussian_mvd`),
train a logistic-regression teacher on x^a, a no-KD student on x^b (labels only) and a KD student
on x^b with MFH eq. (1) (:func:`mfh_lib.losses.kd_loss`), and score all three on a test draw (or,
with ``score="population"``, by their exact accuracy on the data distribution).

Every run of a call is trained at once, as one batched tensor problem: the R = settings x seeds
weight matrices are stacked into (R, 2, D) and full-batch gradient descent updates them together,
with the closed-form gradient of eq. (1) (:func:`train_linear_batched`: two batched
matrix-vector products per step, ~60x faster than a loop over nn.Linear models; see
bench/bench_gaussian_kd.py).
Runs whose modality has fewer than D columns are zero-padded. That is exact for a linear model:
a zero input column adds nothing to any logit, and its weight's gradient is (input column)^T x
(logit gradient) = 0, so the padded weights never move and never matter; each run's real weights
start from the nn.Linear(d, 2) initialisation of its own width d (uniform in +-1/sqrt(d)). The
same trick gives the modality-general teacher of Table 2: the columns of x^a outside J1 ∩ J2 are
zeroed, which is the paper's "other channels removed" with no change of shapes.

Public API (shapes: P settings, S seeds, K = 2 classes, Da / Db = the widest x^a / x^b of the call):

* :class:`KDSettings` – training and data options (validated; bad values raise ConfigError).
* :func:`run_kd` – ``run_kd(specs, seeds, settings) -> KDResults``.
* :class:`KDResults` – accuracies (P, S) in percent, test logits (P, S, num_test, K), trained
  weights (P, S, K, Da|Db) and biases (P, S, K), plus :meth:`KDResults.summary` (a DataFrame).
* :func:`draw_run_data` – the exact (unpadded) data of one run, to compute criteria on features.
* :func:`population_accuracy` – the exact accuracy of a linear rule on eq. (27) (no test set);
  ``KDSettings(score="population")`` scores every model with it.
* :func:`run_kd_controls` – the KD student beside control students (noise teacher, born-again,
  label smoothing at the teacher's confidence; :mod:`mfh_lib.controls`) on the same data and
  initialisations -> :class:`ControlResults`.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from scipy import special

from . import controls, stats
from .config import ConfigError, check_unit_interval
from .data.gaussian_mvd import MVDSpec, draw_hyperplane, sample_mvd

NUM_CLASSES = 2
CODE_VERSION = 2  # bump when a change alters results, so cached runs are recomputed
HYPERPLANE_POOL = 500  # the authors draw 500 normals per run and truncate: settings share delta's prefix
WEIGHTINGS = ("paper", "authors_code")
HYPERPLANES = ("normal", "ones")
TEACHER_INPUTS = ("all", "shared")
STUDENT_DATA = ("same", "fresh")
SCORES = ("test", "population")
# Independent random streams of one run (see _generator): a run's draws depend only on its seed.
_STREAMS = {"hyperplane": 0, "train": 1, "test": 2, "student_train": 3, "teacher_init": 4, "student_init": 5,
            "noise_labels": 6}
# The control conditions of run_kd_controls, in table order (the KD student itself comes first).
CONTROL_CONDITIONS = ("noise teacher", "born-again", "label smoothing")


@dataclass(frozen=True)
class KDSettings:
    """How every run of a call is trained and on what data.

    weighting: "paper" = eq. (1), rho * CE + (1 - rho) * T^2 KL; "authors_code" = the authors'
        script, 1.0 * CE + 1.0 * KLDivLoss(reduction='mean'), i.e. CE + 0.5 * KL (their 'mean'
        also averages over the 2 classes, halving the KL); rho is then unused.
    hyperplane: "normal" = delta ~ N(0, I_d) per run (App. B.2); "ones" = delta = 1 (the authors'
        Table 2 script, where every decisive feature carries the same weight, so gamma is exactly
        the share of label-relevant variance the two modalities have in common).
    teacher_input: "all" = regular teacher on every column of x^a; "shared" = modality-general
        teacher on the columns J1 ∩ J2 only (Table 2).
    student_data: "same" = students train on the teacher's training draw (Fig. 2/3 script);
        "fresh" = students train on an independent labelled draw of the same size (Table 2 script).
    score: "test" = accuracy on num_test test pairs (the authors' protocol); "population" = the
        exact accuracy on the data distribution (:func:`population_accuracy`), no test-set noise.
        Logits are always those of the test draw.
    """

    num_train: int = 200
    num_test: int = 1000
    num_epochs: int = 1000
    lr: float = 0.1
    rho: float = 0.5
    temperature: float = 1.0
    weighting: str = "paper"
    hyperplane: str = "normal"
    teacher_input: str = "all"
    student_data: str = "same"
    score: str = "test"

    def __post_init__(self):
        check_unit_interval("rho", self.rho)
        if not self.temperature > 0:
            raise ConfigError(f"temperature must be > 0, got {self.temperature}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")
        for name in ("num_train", "num_test", "num_epochs"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be a positive integer, got {getattr(self, name)}")
        for name, allowed in (("weighting", WEIGHTINGS), ("hyperplane", HYPERPLANES),
                              ("teacher_input", TEACHER_INPUTS), ("student_data", STUDENT_DATA),
                              ("score", SCORES)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")

    def kd_weights(self) -> tuple[float, float]:
        """(weight of CE, weight of the T^2-scaled KL) in the KD student's objective."""
        if self.weighting == "authors_code":
            return 1.0, 0.5
        return self.rho, 1.0 - self.rho


@dataclass
class KDResults:
    """Outcome of :func:`run_kd`; tensors are on the CPU, axis 0 = setting, axis 1 = seed.

    teacher_acc, no_kd_acc, kd_acc: (P, S) test accuracy in percent.
    teacher_logits: (P, S, num_test, 2) teacher logits on the test x^a.
    no_kd_logits, kd_logits: (P, S, num_test, 2) student logits on the test x^b.
    test_y: (P, S, num_test) int64 test labels.
    teacher_weight: (P, S, 2, Da), teacher_bias: (P, S, 2); columns beyond a setting's d1 (and,
        for the modality-general teacher, outside J1 ∩ J2) are exactly zero.
    no_kd_weight, kd_weight: (P, S, 2, Db); no_kd_bias, kd_bias: (P, S, 2).
    curves: {"epochs": (C,), "teacher"/"no_kd"/"kd": (C, P, S) test accuracy} when
        ``run_kd(..., curve_every=k)`` asked for learning curves, else empty.
    """

    specs: tuple[MVDSpec, ...]
    seeds: tuple[int, ...]
    settings: KDSettings
    teacher_acc: torch.Tensor
    no_kd_acc: torch.Tensor
    kd_acc: torch.Tensor
    teacher_logits: torch.Tensor
    no_kd_logits: torch.Tensor
    kd_logits: torch.Tensor
    test_y: torch.Tensor
    teacher_weight: torch.Tensor
    teacher_bias: torch.Tensor
    no_kd_weight: torch.Tensor
    no_kd_bias: torch.Tensor
    kd_weight: torch.Tensor
    kd_bias: torch.Tensor
    curves: dict = field(default_factory=dict)

    @property
    def gain(self) -> torch.Tensor:
        """(P, S) KD gain in accuracy points: KD student minus no-KD student (paired by seed)."""
        return self.kd_acc - self.no_kd_acc

    def summary(self, decimals: int = 2) -> pd.DataFrame:
        """One row per setting: alpha, beta, gamma and 'mean ± std' over seeds of every accuracy."""
        rows = []
        for p, spec in enumerate(self.specs):
            rows.append({
                "|J1|": len(spec.J1), "|J2|": len(spec.J2), "overlap": spec.overlap,
                "alpha": round(spec.alpha, 2), "beta": round(spec.beta, 2), "gamma": round(spec.gamma, 2),
                "teacher": stats.mean_std(self.teacher_acc[p], decimals),
                "no-KD": stats.mean_std(self.no_kd_acc[p], decimals),
                "KD": stats.mean_std(self.kd_acc[p], decimals),
                "KD gain": stats.mean_std(self.gain[p], decimals),
            })
        return pd.DataFrame(rows)


def _generator(seed: int, stream: str) -> torch.Generator:
    """A generator for one named random stream of run ``seed`` (independent of every other run)."""
    state = np.random.SeedSequence([int(seed), _STREAMS[stream]]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def _hyperplane(spec: MVDSpec, seed: int, kind: str) -> torch.Tensor:
    """(1, d) separating hyperplane delta of run ``seed``."""
    if kind == "ones":
        return torch.ones(1, spec.d)
    pool = draw_hyperplane(max(HYPERPLANE_POOL, spec.d), 1, _generator(seed, "hyperplane"))
    return pool[:, :spec.d]


def draw_run_data(spec: MVDSpec, seed: int, settings: KDSettings = KDSettings()) -> dict[str, torch.Tensor]:
    """The data of run (spec, seed), unpadded; exactly what :func:`run_kd` trains and tests on.

    Returns x_a_train (n, d1), x_b_train (n, d2), y_train (n,) for the teacher; x_a_student
    (n, d1), x_b_student (n, d2), y_student (n,) for the students (the same tensors as the teacher's
    unless ``settings.student_data == "fresh"``); x_a_test (m, d1), x_b_test (m, d2), y_test (m,);
    delta (d,). n = settings.num_train, m = settings.num_test.
    """
    delta = _hyperplane(spec, seed, settings.hyperplane)
    data = {"delta": delta[0]}
    for split, n, stream in (("train", settings.num_train, "train"), ("test", settings.num_test, "test")):
        x_a, x_b, y = sample_mvd(spec, n, delta, _generator(seed, stream))
        data.update({f"x_a_{split}": x_a[0], f"x_b_{split}": x_b[0], f"y_{split}": y[0]})
    if settings.student_data == "fresh":
        x_a, x_b, y = sample_mvd(spec, settings.num_train, delta, _generator(seed, "student_train"))
        data.update({"x_a_student": x_a[0], "x_b_student": x_b[0], "y_student": y[0]})
    else:
        data.update({"x_a_student": data["x_a_train"], "x_b_student": data["x_b_train"], "y_student": data["y_train"]})
    return data


def _pad_columns(x: torch.Tensor, width: int) -> torch.Tensor:
    return torch.nn.functional.pad(x, (0, width - x.shape[-1]))


def _linear_init(column_mask: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """nn.Linear(d, 2)'s default initialisation (weight and bias uniform in +-1/sqrt(d)), d = the
    number of real columns, scattered into a (2, D) weight that is zero on the padded columns."""
    d = int(column_mask.sum())
    bound = 1.0 / d**0.5
    weight = torch.zeros(NUM_CLASSES, column_mask.numel())
    weight[:, column_mask] = (torch.rand(NUM_CLASSES, d, generator=generator) * 2 - 1) * bound
    bias = (torch.rand(NUM_CLASSES, generator=generator) * 2 - 1) * bound
    return weight, bias


def batched_logits(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """(R, n, D) inputs, (R, K, D) weights, (R, K) biases -> (R, n, K) logits of R linear models."""
    return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))


@contextmanager
def cpu_threads(num_threads: int | None):
    """Temporarily use ``num_threads`` intra-op threads (None: leave as is).

    The kernels here are tiny (R x n x D per step); on a shared CPU, thread synchronisation
    costs more than it saves (measured ~10x slower with 2 threads under load), and one thread also
    makes every number independent of the core count.
    """
    if num_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def train_linear_batched(
    x: torch.Tensor,
    y: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    *,
    num_epochs: int,
    lr: float,
    ce_weight: float = 1.0,
    kd_weight: float = 0.0,
    teacher_logits: torch.Tensor | None = None,
    temperature: float = 1.0,
    on_epoch_end=None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Full-batch gradient descent on R independent 2-class linear classifiers at once.

    x: (R, n, D), y: (R, n) in {0, 1}, weight: (R, 2, D), bias: (R, 2) initial values,
    teacher_logits: (R, n, 2) or None. Run r minimises, over its own n samples,

        ce_weight * CE(y, s) + kd_weight * T^2 KL(softmax(t/T) || softmax(s/T)),

    i.e. ``(ce_weight + kd_weight) * mfh_lib.losses.kd_loss(s, t, y, rho=ce_weight / (ce_weight +
    kd_weight), temperature=T)``; eq. (1) is ce_weight = rho, kd_weight = 1 - rho. This is plain
    SGD on ``nn.Linear(D, 2)`` with that loss, computed in closed form: the loss's gradient with
    respect to the logits of sample i is (ce_weight (p_i - onehot(y_i)) + kd_weight T (p_i^T -
    q_i^T)) / n, whose two class components are opposite. So the sum of the two weight rows never
    moves and their difference v follows GD with step 2 * lr on the logistic (sigmoid) loss of
    u = v.x + c. One (R, 1, D) x (R, D, n) product per step serves every run; each run's update
    uses only its own samples, so these are R separate trainings (tests compare with a loop over
    nn.Linear + kd_loss + torch.optim.SGD). Returns the trained (weight, bias) of the 2-logit models.
    ``on_epoch_end(epoch, weight, bias)`` runs after each update (learning curves).
    """
    if weight.shape[1] != NUM_CLASSES:
        raise ValueError(f"train_linear_batched handles 2-class models, got weight of shape {tuple(weight.shape)}")
    n = x.shape[1]
    x_t = x.transpose(1, 2).contiguous()  # (R, D, n): the layout that makes the forward product fast
    y = y.to(x.dtype).unsqueeze(1)  # (R, 1, n)
    if kd_weight and teacher_logits is None:
        raise ValueError("teacher_logits are required when kd_weight > 0")
    if kd_weight:
        teacher_prob = torch.sigmoid((teacher_logits[..., 1] - teacher_logits[..., 0]) / temperature).unsqueeze(1)
    start_v = (weight[:, 1] - weight[:, 0]).unsqueeze(1)  # (R, 1, D)
    start_c = (bias[:, 1] - bias[:, 0]).reshape(-1, 1, 1)  # (R, 1, 1)
    v, c = start_v.clone(), start_c.clone()

    def two_logit_params():
        # Rows move by -+ half the change of their difference; their sum stays at its start.
        dv, dc = (v - start_v).squeeze(1) / 2, (c - start_c).reshape(-1, 1) / 2
        return weight + torch.stack([-dv, dv], dim=1), bias + torch.cat([-dc, dc], dim=1)

    for epoch in range(num_epochs):
        u = torch.baddbmm(c, v, x_t)  # (R, 1, n): logit of class 1 minus logit of class 0
        grad_u = ce_weight * (torch.sigmoid(u) - y)
        if kd_weight:
            grad_u = grad_u + kd_weight * temperature * (torch.sigmoid(u / temperature) - teacher_prob)
        step = (2 * lr / n) * grad_u
        v -= torch.bmm(step, x)
        c -= step.sum(-1, keepdim=True)
        if on_epoch_end is not None:
            on_epoch_end(epoch, *two_logit_params())
    return two_logit_params()


def _accuracy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (logits.argmax(-1) == y).float().mean(-1) * 100


def population_accuracy(weight: torch.Tensor, bias: torch.Tensor, signal: torch.Tensor,
                        delta_norm: torch.Tensor) -> torch.Tensor:
    """Exact accuracy (%) on eq. (27) of R two-logit linear rules, with no test set.

    weight (R, 2, D), bias (R, 2): the models, on a modality whose columns are independent N(0, 1)
    (column j equals x*_j when it is decisive); signal (R, D): delta_j on the model's decisive
    columns, 0 elsewhere; delta_norm (R,): ||delta||. The rule predicts 1 when u = v.x + c > 0
    (v, c the differences of the two rows); the label is 1 when z = <delta, x*> > 0. (u, z) is
    bivariate normal with correlation r = v.signal / (||v|| ||delta||), and with m = c / ||v||

        P(correct) = Phi2(m, 0; r) + Phi2(-m, 0; r) = 1/2 + 2 T(m, r / sqrt(1 - r^2)),

    T being Owen's T function (so 1 - arccos(r) / pi at c = 0). A rule with v = 0 is a constant
    guess: half the labels on average (each label has probability 1/2).
    """
    v = (weight[:, 1] - weight[:, 0]).double()
    c = (bias[:, 1] - bias[:, 0]).double()
    v_norm = v.norm(dim=-1)
    r = (v * signal.double()).sum(-1) / (v_norm * delta_norm.double()).clamp_min(1e-300)
    r = r.clamp(-1 + 1e-15, 1 - 1e-15)
    m = c / v_norm.clamp_min(1e-300)
    acc = 0.5 + 2 * special.owens_t(m.cpu().numpy(), (r / torch.sqrt(1 - r * r)).cpu().numpy())
    acc = torch.as_tensor(acc, dtype=torch.float32)
    return torch.where(v_norm.cpu() > 0, acc, torch.full_like(acc, 0.5)) * 100


def _score(settings: KDSettings, test_logits, weight, bias, batch, modality: str) -> torch.Tensor:
    """(R,) accuracy in percent of R models on modality "a" or "b", as settings.score asks."""
    if settings.score == "population":
        return population_accuracy(weight, bias, batch[f"signal_{modality}"], batch["delta_norm"])
    return _accuracy(test_logits, batch["y_test"]).cpu()


def _stack_runs(specs, seeds, settings):
    """Draw every run's data and initial weights and stack them (padded) along one run axis."""
    width_a = max(s.d1 for s in specs)
    width_b = max(s.d2 for s in specs)
    keys = ("x_a_train", "y_train", "x_a_student", "x_b_student", "y_student", "x_a_test", "x_b_test", "y_test")
    batch = {k: [] for k in keys + ("teacher_w", "teacher_b", "student_w", "student_b", "signal_a", "signal_b",
                                    "delta_norm")}
    for spec in specs:
        teacher_mask = torch.zeros(width_a, dtype=torch.bool)
        teacher_cols = list(spec.shared_columns) if settings.teacher_input == "shared" else list(range(spec.d1))
        teacher_mask[teacher_cols] = True
        student_mask = torch.zeros(width_b, dtype=torch.bool)
        student_mask[: spec.d2] = True
        for seed in seeds:
            data = draw_run_data(spec, seed, settings)
            # for population_accuracy: delta on each modality's decisive columns
            for name, columns, width in (("signal_a", spec.J1, width_a), ("signal_b", spec.J2, width_b)):
                signal = torch.zeros(width)
                signal[list(columns)] = data["delta"][list(columns)]
                batch[name].append(signal)
            batch["delta_norm"].append(data["delta"].norm())
            for k in keys:
                value = data[k]
                if k.startswith("x_a"):
                    value = _pad_columns(value, width_a) * teacher_mask  # zeroed = removed (exact)
                elif k.startswith("x_b"):
                    value = _pad_columns(value, width_b)
                batch[k].append(value)
            w, b = _linear_init(teacher_mask, _generator(seed, "teacher_init"))
            batch["teacher_w"].append(w), batch["teacher_b"].append(b)
            # The no-KD and the KD student start from the same weights: their difference is KD alone.
            w, b = _linear_init(student_mask, _generator(seed, "student_init"))
            batch["student_w"].append(w), batch["student_b"].append(b)
    return {k: torch.stack(v) for k, v in batch.items()}


def run_kd(
    specs: Sequence[MVDSpec],
    seeds: Sequence[int],
    settings: KDSettings = KDSettings(),
    device: str | torch.device = "cpu",
    curve_every: int | None = None,
    num_threads: int | None = 1,
) -> KDResults:
    """Teacher, no-KD student and KD student for every (spec, seed) run, all trained at once.

    specs: P settings (may differ in d1, d2, d, J1, J2); seeds: S integers. Run (p, s) depends only
    on (specs[p], seeds[s], settings), not on which other runs share the call. Settings that share
    a seed share the hyperplane's leading coordinates and, for equal d, the draw of x* (common
    random numbers, so differences between settings are less noisy). ``curve_every=k`` also
    records every model's test accuracy each k epochs (results.curves). On the CPU training uses
    ``num_threads`` threads (see :func:`cpu_threads`). Returns :class:`KDResults`.
    """
    specs, seeds = tuple(specs), tuple(int(s) for s in seeds)
    if not specs or not seeds:
        raise ConfigError("run_kd needs at least one spec and one seed")
    if settings.teacher_input == "shared":
        empty = [s for s in specs if s.overlap == 0]
        if empty:
            raise ConfigError(f"a modality-general teacher needs J1 ∩ J2 non-empty; {len(empty)} spec(s) have overlap 0")
    device = torch.device(device)
    batch = {k: v.to(device) for k, v in _stack_runs(specs, seeds, settings).items()}
    common = dict(num_epochs=settings.num_epochs, lr=settings.lr, temperature=settings.temperature)

    curves: dict = {}
    checkpoints = set(range(curve_every - 1, settings.num_epochs, curve_every)) if curve_every else set()

    def recorder(name, x_test):
        def record(epoch, weight, bias):
            if epoch in checkpoints:
                with torch.no_grad():
                    acc = _accuracy(batched_logits(x_test, weight, bias), batch["y_test"])
                curves.setdefault(name, []).append(acc.cpu())
        return record if checkpoints else None

    ce_weight, kd_weight = settings.kd_weights()
    with cpu_threads(num_threads if device.type == "cpu" else None):
        teacher_w, teacher_b = train_linear_batched(
            batch["x_a_train"], batch["y_train"], batch["teacher_w"], batch["teacher_b"],
            on_epoch_end=recorder("teacher", batch["x_a_test"]), **common)
        no_kd_w, no_kd_b = train_linear_batched(
            batch["x_b_student"], batch["y_student"], batch["student_w"], batch["student_b"],
            on_epoch_end=recorder("no_kd", batch["x_b_test"]), **common)
        with torch.no_grad():
            soft_targets = batched_logits(batch["x_a_student"], teacher_w, teacher_b)
        kd_w, kd_b = train_linear_batched(
            batch["x_b_student"], batch["y_student"], batch["student_w"], batch["student_b"],
            ce_weight=ce_weight, kd_weight=kd_weight, teacher_logits=soft_targets,
            on_epoch_end=recorder("kd", batch["x_b_test"]), **common)

    P, S = len(specs), len(seeds)

    def per_run(t: torch.Tensor) -> torch.Tensor:
        return t.detach().cpu().reshape(P, S, *t.shape[1:])

    with torch.no_grad():
        logits = {
            "teacher": batched_logits(batch["x_a_test"], teacher_w, teacher_b),
            "no_kd": batched_logits(batch["x_b_test"], no_kd_w, no_kd_b),
            "kd": batched_logits(batch["x_b_test"], kd_w, kd_b),
        }
    if checkpoints:
        curves = {"epochs": torch.tensor(sorted(checkpoints)) + 1,
                  **{k: torch.stack(v).reshape(len(v), P, S) for k, v in curves.items()}}
    return KDResults(
        specs=specs, seeds=seeds, settings=settings,
        teacher_acc=per_run(_score(settings, logits["teacher"], teacher_w, teacher_b, batch, "a")),
        no_kd_acc=per_run(_score(settings, logits["no_kd"], no_kd_w, no_kd_b, batch, "b")),
        kd_acc=per_run(_score(settings, logits["kd"], kd_w, kd_b, batch, "b")),
        teacher_logits=per_run(logits["teacher"]), no_kd_logits=per_run(logits["no_kd"]),
        kd_logits=per_run(logits["kd"]), test_y=per_run(batch["y_test"]),
        teacher_weight=per_run(teacher_w), teacher_bias=per_run(teacher_b),
        no_kd_weight=per_run(no_kd_w), no_kd_bias=per_run(no_kd_b),
        kd_weight=per_run(kd_w), kd_bias=per_run(kd_b), curves=curves,
    )


@dataclass
class ControlResults:
    """Outcome of :func:`run_kd_controls`; tensors on the CPU, axis 0 = setting, axis 1 = seed.

    teacher_acc, noise_teacher_acc, no_kd_acc: (P, S) accuracy in percent (as settings.score asks).
    student_acc: {condition: (P, S)} for "KD" and every name in CONTROL_CONDITIONS; every student
        starts from the no-KD student's initial weights and trains on the same draw with eq. (1),
        only its soft targets differ.
    teacher_confidence: (P, S) the regular teacher's mean top-class probability at temperature T
        on the students' training inputs: the confidence the label-smoothing control is given.
    """

    specs: tuple[MVDSpec, ...]
    seeds: tuple[int, ...]
    settings: KDSettings
    teacher_acc: torch.Tensor
    noise_teacher_acc: torch.Tensor
    no_kd_acc: torch.Tensor
    student_acc: dict
    teacher_confidence: torch.Tensor

    def gain(self, condition: str = "KD") -> torch.Tensor:
        """(P, S) accuracy points: the condition's student minus the no-KD student (paired by seed)."""
        return self.student_acc[condition] - self.no_kd_acc


def run_kd_controls(
    specs: Sequence[MVDSpec],
    seeds: Sequence[int],
    settings: KDSettings = KDSettings(),
    device: str | torch.device = "cpu",
    num_threads: int | None = 1,
) -> ControlResults:
    """The KD student of :func:`run_kd` beside three control students, on the same runs.

    Per run, four students distil (eq. (1), the same weighting, data and initialisation) from

    * "KD": the regular teacher's logits on the students' x^a (exactly run_kd's KD student);
    * "noise teacher": a teacher of the same architecture and initialisation trained on the
      teacher's draw with its labels shuffled (:func:`mfh_lib.controls.shuffled_labels`);
    * "born-again": the no-KD student's own logits on its training inputs x^b;
    * "label smoothing": :func:`mfh_lib.controls.smoothing_logits` at the regular teacher's mean
      confidence on those inputs (per run), i.e. soft labels with no per-sample knowledge.

    All four students of every run train in one batched call. Returns :class:`ControlResults`.
    """
    specs, seeds = tuple(specs), tuple(int(s) for s in seeds)
    if not specs or not seeds:
        raise ConfigError("run_kd_controls needs at least one spec and one seed")
    device = torch.device(device)
    batch = {k: v.to(device) for k, v in _stack_runs(specs, seeds, settings).items()}
    common = dict(num_epochs=settings.num_epochs, lr=settings.lr, temperature=settings.temperature)
    run_seeds = [seed for _ in specs for seed in seeds]
    shuffled = torch.stack([controls.shuffled_labels(y, _generator(seed, "noise_labels"))
                            for y, seed in zip(batch["y_train"].cpu(), run_seeds)]).to(device)
    ce_weight, kd_weight = settings.kd_weights()
    R = len(run_seeds)
    with cpu_threads(num_threads if device.type == "cpu" else None):
        # the regular and the noise teacher (same init, shuffled labels) train as one batch
        teachers_w, teachers_b = train_linear_batched(
            batch["x_a_train"].repeat(2, 1, 1), torch.cat([batch["y_train"], shuffled]),
            batch["teacher_w"].repeat(2, 1, 1), batch["teacher_b"].repeat(2, 1), **common)
        no_kd_w, no_kd_b = train_linear_batched(
            batch["x_b_student"], batch["y_student"], batch["student_w"], batch["student_b"], **common)
        with torch.no_grad():
            teacher_targets = batched_logits(batch["x_a_student"], teachers_w[:R], teachers_b[:R])
            confidence = controls.mean_confidence(teacher_targets, settings.temperature)
            # smoothing needs a confidence strictly inside (1/2, 1): a saturated teacher is clipped
            smoothing = controls.smoothing_logits(batch["y_student"].cpu(), NUM_CLASSES,
                                                  confidence.clamp(0.5 + 1e-4, 1 - 1e-4).cpu(),
                                                  settings.temperature).to(device)
            targets = torch.cat([
                teacher_targets,
                batched_logits(batch["x_a_student"], teachers_w[R:], teachers_b[R:]),
                batched_logits(batch["x_b_student"], no_kd_w, no_kd_b),
                smoothing,
            ])
        conditions = ("KD",) + CONTROL_CONDITIONS
        k = len(conditions)
        students_w, students_b = train_linear_batched(
            batch["x_b_student"].repeat(k, 1, 1), batch["y_student"].repeat(k, 1),
            batch["student_w"].repeat(k, 1, 1), batch["student_b"].repeat(k, 1),
            ce_weight=ce_weight, kd_weight=kd_weight, teacher_logits=targets, **common)

    P, S = len(specs), len(seeds)

    def per_run(t: torch.Tensor) -> torch.Tensor:
        return t.detach().cpu().reshape(P, S)

    def score(weight, bias, modality):
        x_test = batch["x_a_test"] if modality == "a" else batch["x_b_test"]
        with torch.no_grad():
            logits = batched_logits(x_test, weight, bias)
        return per_run(_score(settings, logits, weight, bias, batch, modality))

    return ControlResults(
        specs=specs, seeds=seeds, settings=settings,
        teacher_acc=score(teachers_w[:R], teachers_b[:R], "a"),
        noise_teacher_acc=score(teachers_w[R:], teachers_b[R:], "a"),
        no_kd_acc=score(no_kd_w, no_kd_b, "b"),
        student_acc={name: score(students_w[i * R:(i + 1) * R], students_b[i * R:(i + 1) * R], "b")
                     for i, name in enumerate(conditions)},
        teacher_confidence=per_run(confidence),
    )


def run_kd_controls_cached(specs: Sequence[MVDSpec], seeds: Sequence[int], settings: KDSettings = KDSettings(),
                           namespace: str = "gaussian_kd", **kwargs) -> ControlResults:
    """:func:`run_kd_controls` through a :class:`mfh_lib.cache.ResultsCache` (kwargs: device, num_threads)."""
    from .cache import ResultsCache

    key = {**cache_key(specs, seeds, settings), "controls": list(CONTROL_CONDITIONS)}
    return ResultsCache(namespace).get_or_compute(key, lambda: run_kd_controls(specs, seeds, settings, **kwargs))


def cache_key(specs: Sequence[MVDSpec], seeds: Sequence[int], settings: KDSettings) -> dict:
    """A JSON-able description of a :func:`run_kd` call, for :class:`mfh_lib.cache.ResultsCache`."""
    return {"code_version": CODE_VERSION, "specs": [asdict(s) for s in specs], "seeds": [int(s) for s in seeds],
            "settings": asdict(settings)}


def run_kd_cached(specs: Sequence[MVDSpec], seeds: Sequence[int], settings: KDSettings = KDSettings(),
                  namespace: str = "gaussian_kd", **kwargs) -> KDResults:
    """:func:`run_kd` through a :class:`mfh_lib.cache.ResultsCache`: an interrupted chapter resumes.

    kwargs go to run_kd (device, curve_every, num_threads); curve_every is part of the key.
    """
    from .cache import ResultsCache

    key = {**cache_key(specs, seeds, settings), "curve_every": kwargs.get("curve_every")}
    return ResultsCache(namespace).get_or_compute(key, lambda: run_kd(specs, seeds, settings, **kwargs))


# --- The population-level account: a regression surrogate with the exact finite-n risk ----------

def _label_covariance(spec: MVDSpec, delta: torch.Tensor) -> torch.Tensor:
    """(d,) Cov(x*_j, y) for the +-1 label y = sign(<delta, x*>): sqrt(2/pi) delta_j / ||delta||."""
    delta = delta.to(torch.float64)
    return (2 / np.pi) ** 0.5 * delta / delta.norm()


def surrogate_model(spec: MVDSpec, delta: torch.Tensor, teacher_direction: torch.Tensor | None = None):
    """The run's student problem as a linear regression, :class:`mfh_lib.cch.LinearGaussianKD`.

    Variables (x^b [d2], y, t): x^b ~ N(0, I) as in eq. (27); y = the +-1 label (regressed on, not
    thresholded); t = the teacher's calibrated prediction c * v'x^a, v = ``teacher_direction`` (d1,)
    (for a 2-logit model weight[1] - weight[0]; None = the oracle delta_J1), c the least-squares
    coefficient of y on v'x^a. Only x^a's columns in J1 ∩ J2 are shared with x^b, so
    Cov(x^b_j, t) = c v_j there and 0 elsewhere. (x^b, y, t) is not jointly Gaussian (y is binary):
    the finite-n risk of chapter 08's formula is then a second-moment approximation.
    """
    from .cch import LinearGaussianKD

    delta = torch.as_tensor(delta, dtype=torch.float64)
    label_cov = _label_covariance(spec, delta)
    if teacher_direction is None:
        v = torch.zeros(spec.d1, dtype=torch.float64)
        v[list(spec.J1)] = delta[list(spec.J1)]
    else:
        v = torch.as_tensor(teacher_direction, dtype=torch.float64)[:spec.d1]
    J1, J2, shared = list(spec.J1), list(spec.J2), list(spec.shared_columns)
    var_u = (v**2).sum()
    if not var_u > 0:
        raise ConfigError("the teacher direction is zero: a constant teacher has no prediction to distil")
    cov_uy = (v[J1] * label_cov[J1]).sum()
    c = cov_uy / var_u
    d2 = spec.d2
    cov = torch.zeros(d2 + 2, d2 + 2, dtype=torch.float64)
    cov[:d2, :d2] = torch.eye(d2, dtype=torch.float64)
    cov[J2, d2] = cov[d2, J2] = label_cov[J2]
    cov[shared, d2 + 1] = cov[d2 + 1, shared] = c * v[shared]
    cov[d2, d2] = 1.0
    cov[d2 + 1, d2 + 1] = cov[d2, d2 + 1] = cov[d2 + 1, d2] = c * cov_uy  # Var(t) = Cov(y, t) for a calibrated t
    return LinearGaussianKD(cov)


def kd_lambda(settings: KDSettings) -> float:
    """The surrogate's teacher weight lambda = (KL weight) / (CE weight) of the KD objective.

    CE and KL have gradients (p - y) and (p - q) of the same scale at T = 1, so the KD student of
    eq. (1) is the regression student on |y - Xw|^2 + lambda |t - Xw|^2 with lambda = (1 - rho)/rho.
    """
    ce_weight, kd_weight = settings.kd_weights()
    if ce_weight <= 0:
        raise ConfigError("the surrogate needs a CE term (rho > 0): at rho = 0 the student ignores the labels")
    return kd_weight / ce_weight


def surrogate_accuracy(spec: MVDSpec, delta: torch.Tensor, n: int, lam: float,
                       teacher_direction: torch.Tensor | None = None, num_draws: int = 400,
                       seed: int = 0) -> float:
    """Predicted population accuracy (%) of the regression student w(lambda) fitted on n pairs.

    Chapter 08's exact finite-n risk splits into bias and variance: E w(lambda) = b(lambda) =
    (beta + lambda a)/(1 + lambda) and, since x^b ~ N(0, I), E[(X'X)^-1] = I/(n - d2 - 1), so the
    fitted weights scatter around b(lambda) with variance s^2(lambda)/(n - d2 - 1) per coordinate
    (s^2 the mixed target's residual variance: ``risk(lam, n) - risk(lam)`` = d2 times it). The
    accuracy of a rule w on x^b is 1 - arccos(r)/pi, r = w'delta_J2 / (|w| |delta|) (no bias);
    it is averaged over ``num_draws`` Gaussian draws of w (seeded). lambda = 0 is the no-KD student.
    """
    return _surrogate_accuracy(surrogate_model(spec, delta, teacher_direction), spec, delta, n, lam, num_draws, seed)


def _surrogate_accuracy(model, spec: MVDSpec, delta, n: int, lam: float, num_draws: int, seed: int) -> float:
    d2 = spec.d2
    per_coordinate = float(model.risk(lam, n) - model.risk(lam)) / d2
    b = (model.beta + lam * model.a) / (1 + lam)
    generator = torch.Generator().manual_seed(int(seed))
    w = b + per_coordinate**0.5 * torch.randn(num_draws, d2, generator=generator, dtype=torch.float64)
    delta = torch.as_tensor(delta, dtype=torch.float64)
    signal = torch.zeros(d2, dtype=torch.float64)
    signal[list(spec.J2)] = delta[list(spec.J2)]
    r = (w @ signal) / (w.norm(dim=-1) * delta.norm())
    # numpy: torch's arccos on a few hundred float64 values costs milliseconds of thread start-up
    return float((1 - np.arccos(r.clamp(-1, 1).numpy()) / np.pi).mean() * 100)


def surrogate_excess_risk(model, n: int, lam: float) -> dict[str, float]:
    """Excess test MSE over the population student of the surrogate's no-KD and KD students.

    From chapter 08's exact risk R(lambda, n) = sigma_y^2 + (lambda/(1+lambda))^2 |a - beta|^2 +
    d/(n-d-1) s^2(lambda): variance_no_kd (lambda = 0 has no bias), bias_kd and variance_kd. KD
    helps when it removes more variance than the bias it adds.
    """
    population = float(model.risk(0.0))
    return {"variance_no_kd": float(model.risk(0.0, n)) - population,
            "bias_kd": float(model.risk(lam)) - population,
            "variance_kd": float(model.risk(lam, n) - model.risk(lam))}


def bayes_accuracy(spec: MVDSpec, delta: torch.Tensor) -> float:
    """The best accuracy (%) any rule on x^b reaches: 1 - arccos(|delta_J2| / |delta|)/pi.

    P(y = 1 | x^b) = Phi(delta_J2'x^b / |delta outside J2|) is monotone in a linear score, so the
    Bayes rule on x^b is linear: the no-KD logistic student is asymptotically optimal.
    """
    delta = torch.as_tensor(delta, dtype=torch.float64)
    r = delta[list(spec.J2)].norm() / delta.norm()
    return float(1 - np.arccos(float(r.clamp(-1, 1))) / np.pi) * 100


def gain_table(results: KDResults, predict: bool = True, num_draws: int = 400) -> pd.DataFrame:
    """Tidy per-run table of a :func:`run_kd` call: one row per (setting, seed).

    Columns: setting (index into results.specs), seed, d1, d2, d, n, gamma, alpha, n_over_d2,
    d1_over_d2, teacher, no_kd, kd, gain (measured population or test accuracy, %), bayes (the
    Bayes accuracy on x^b) and, with ``predict``, pred_no_kd, pred_kd, pred_gain: the surrogate's
    predictions (:func:`surrogate_accuracy`) with the run's own hyperplane and trained teacher, and
    its excess-MSE decomposition variance_no_kd, bias_kd, variance_kd (:func:`surrogate_excess_risk`).
    """
    settings = results.settings
    lam = kd_lambda(settings) if predict else None
    n = settings.num_train
    rows = []
    for p, spec in enumerate(results.specs):
        for s, seed in enumerate(results.seeds):
            delta = _hyperplane(spec, seed, settings.hyperplane)[0]
            row = {"setting": p, "seed": seed, "d1": spec.d1, "d2": spec.d2, "d": spec.d, "n": n,
                   "gamma": spec.gamma, "alpha": spec.alpha, "n_over_d2": n / spec.d2, "d1_over_d2": spec.d1 / spec.d2,
                   "teacher": float(results.teacher_acc[p, s]), "no_kd": float(results.no_kd_acc[p, s]),
                   "kd": float(results.kd_acc[p, s]), "gain": float(results.gain[p, s]),
                   "bayes": bayes_accuracy(spec, delta)}
            if predict:
                weight = results.teacher_weight[p, s]
                direction = weight[1] - weight[0]
                if settings.teacher_input == "shared":
                    raise ConfigError("the surrogate models the regular teacher (teacher_input='all')")
                model = surrogate_model(spec, delta, direction)
                no_kd = _surrogate_accuracy(model, spec, delta, n, 0.0, num_draws, seed)
                kd = _surrogate_accuracy(model, spec, delta, n, lam, num_draws, seed)
                row.update(pred_no_kd=no_kd, pred_kd=kd, pred_gain=kd - no_kd, **surrogate_excess_risk(model, n, lam))
            rows.append(row)
    return pd.DataFrame(rows)


def gain_phase_diagram(specs: Sequence[MVDSpec], seeds: Sequence[int], settings: KDSettings,
                       num_train: Sequence[int], namespace: str = "gaussian_kd", predict: bool = True,
                       **kwargs) -> pd.DataFrame:
    """Teacher / no-KD / KD accuracies and the surrogate's prediction over specs x training sizes.

    One batched :func:`run_kd_cached` call per training size (every spec and seed at once; a run
    depends only on its spec, seed and settings, so the cells equal the corresponding runs of any
    other call). Returns the concatenated :func:`gain_table` rows (P x S x len(num_train) rows).
    kwargs go to run_kd (device, num_threads).
    """
    if not num_train:
        raise ConfigError("gain_phase_diagram needs at least one training-set size")
    frames = []
    for n in num_train:
        run = run_kd_cached(specs, seeds, replace(settings, num_train=int(n)), namespace=namespace, **kwargs)
        frames.append(gain_table(run, predict=predict))
    return pd.concat(frames, ignore_index=True)
