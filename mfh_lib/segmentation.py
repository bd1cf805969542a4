"""The RGB-D segmentation KD study of chapter 04_nyu_depth (MFH Sec. 3 / 5.3, Tab. 1, 3 and 6).

:func:`segmentation_study` takes a :class:`~mfh_lib.data.MultimodalDataset` of paired depth (``a``,
(N, 1, H, W)) and RGB (``b``, (N, 3, H, W)) images with (N, H, W) pixel labels (``IGNORE_INDEX`` =
unlabelled) and, per seed, trains

* the teachers of :data:`TEACHERS`: an RGB network (also the No-KD student and the UM-KD teacher,
  as in Tab. 1, where the two share one number), a CEN-like and an SA-Gate-like RGB+D network
  (:class:`~mfh_lib.models.CENLikeRGBD`, :class:`~mfh_lib.models.SAGateLikeRGBD`: the same decoder,
  different weight sharing between the streams), a depth network (the regular teacher of Tab. 3)
  and a modality-general network trained Omnivore-style on RGB and depth with shared weights and
  private BatchNorm (:class:`~mfh_lib.models.ModalityGeneralSegmenter`);
* one RGB student per teacher (:data:`STUDENTS`) with MFH eq. (1) per pixel
  (:func:`mfh_lib.training.train_segmenter`). Every student starts from the No-KD network's
  initialisation and sees its batch order, so paired differences between students measure the
  teacher alone.

It returns a :class:`SegmentationStudyResult`: a tidy table with one row per seed x model (per-class
test IoU in percent) and the learning curves. Each seed's results are cached under the dataset's
content hash, the settings and the device.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from . import cache
from .controls import PixelSmoothingTeacher, pixel_mean_confidence, shuffled_labels
from .config import ConfigError, StudySettings, check_number, check_unit_interval, check_whole
from .data import MultimodalDataset
from .models import CENLikeRGBD, ModalityGeneralSegmenter, SAGateLikeRGBD, deeplabv3plus, tag_modality
from .training import confusion_counts, iou_from_confusion, segmentation_confusion, train_segmenter

IGNORE_INDEX = 255
CACHE_NAMESPACE = "segmentation_study"

# teacher -> (architecture, training views, evaluated on); views: "RGB", "D" (depth as 3 channels),
# "RGB+D" (4 channels), "RGB*"/"D*" (tagged with their modality for the modality-general network)
TEACHERS = {
    "RGB teacher": ("rgb", ("RGB",), "RGB"),
    "CEN-like RGB+D teacher": ("cen", ("RGB+D",), "RGB+D"),
    "SA-Gate-like RGB+D teacher": ("sagate", ("RGB+D",), "RGB+D"),
    "depth teacher": ("rgb", ("D",), "D"),
    "MG teacher": ("mg", ("RGB*", "D*"), "D*"),
}
# student -> (teacher, the teacher's input when it distils); the No-KD student is the RGB teacher
STUDENTS = {
    "UM-KD student": ("RGB teacher", "RGB"),
    "CM-KD student (CEN-like)": ("CEN-like RGB+D teacher", "RGB+D"),
    "CM-KD student (SA-Gate-like)": ("SA-Gate-like RGB+D teacher", "RGB+D"),
    "Regular-KD student": ("depth teacher", "D"),
    "MG-KD student": ("MG teacher", "D*"),
}
# controls (``controls=True``) beside the KD claims, all RGB students from the No-KD initialisation:
# a noise teacher (the SA-Gate-like architecture trained on label maps shuffled across scenes) and
# per-pixel label smoothing at the SA-Gate-like teacher's mean confidence. The born-again control
# (teacher = the student's own No-KD model) is the UM-KD student: the RGB teacher *is* that model.
NOISE_TEACHER = "noise teacher (SA-Gate-like, shuffled labels)"
CONTROL_STUDENTS = ("noise-teacher student", "label-smoothing student")
BORN_AGAIN = "UM-KD student"
# extra evaluations: the No-KD student (= RGB teacher) and the modality-general teacher on RGB
ALIASES = {"No-KD student": ("RGB teacher", "RGB"), "MG teacher (on RGB)": ("MG teacher", "RGB*")}


@dataclass(frozen=True)
class SegmentationStudySettings(StudySettings):
    """Settings of :func:`segmentation_study`.

    Required: ``seeds`` (S, the replication unit of every paired claim) and ``num_epochs`` (of every
    network). Optional: ``batch_size``; Adam's ``lr`` and ``weight_decay``; ``rho`` (weight of the
    cross-entropy in eq. (1); rho = 1 is no KD) and ``temperature`` of the KD term; the DeepLab V3+
    size: ``encoder_depth`` (ResNet-18 stages, >= 3), ``decoder_channels``, ``atrous_rates``.
    """

    seeds: int
    num_epochs: int
    batch_size: int = 16
    lr: float = 0.01
    weight_decay: float = 0.0
    rho: float = 0.5
    temperature: float = 1.0
    encoder_depth: int = 3
    decoder_channels: int = 32
    atrous_rates: tuple[int, ...] = (1, 2, 3)

    def __post_init__(self):
        for name, minimum in (("seeds", 1), ("num_epochs", 1), ("batch_size", 2), ("encoder_depth", 3),
                              ("decoder_channels", 1)):
            check_whole(name, getattr(self, name), minimum)
        for name, low in (("lr", 0.0), ("weight_decay", 0.0), ("temperature", 1e-6)):
            check_number(name, getattr(self, name), low)
        check_unit_interval("setting 'rho'", self.rho)
        rates = self.atrous_rates
        if isinstance(rates, (str, bytes)) or not isinstance(rates, Sequence) or not rates or \
                any(isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in rates):
            raise ConfigError(f"setting 'atrous_rates' = {rates!r} is invalid: expected a list of whole numbers >= 1")
        object.__setattr__(self, "atrous_rates", tuple(rates))

@dataclass
class SegmentationStudyResult:
    """``table``: one row per seed x model with columns seed, model, role ("teacher" / "student"),
    input (the view it is evaluated on), mIoU and one column per class (test IoU, %; nan where a
    class is neither present nor predicted). ``curves``: seed, model, epoch (1-based), loss (the
    last batch's training loss). ``class_names``: the K class columns, in label order."""

    table: pd.DataFrame
    curves: pd.DataFrame
    class_names: list[str]

    def iou(self, model: str) -> np.ndarray:
        """(S, K) per-class IoU of ``model``, seeds in order."""
        rows = self.table[self.table["model"] == model].sort_values("seed")
        if rows.empty:
            raise KeyError(f"no model {model!r}; known: {sorted(self.table['model'].unique())}")
        return rows[self.class_names].to_numpy(dtype=float)

    def miou(self, model: str, classes: Sequence[int] | None = None) -> np.ndarray:
        """(S,) mIoU of ``model`` (nan-mean over ``classes``, default all)."""
        iou = self.iou(model)
        return np.nanmean(iou if classes is None else iou[:, list(classes)], axis=1)

    def paired(self, better: str, worse: str) -> np.ndarray:
        """(S,) per-seed mIoU difference ``better - worse`` (points)."""
        return self.miou(better) - self.miou(worse)


def study_views(split, device) -> dict:
    """The inputs of every network, (N, C, H, W): RGB, D (depth as 3 channels), RGB+D (4 channels) and
    the modality-tagged RGB* / D* of the modality-general network."""
    split = split.to(device)
    depth = split.a.expand(-1, 3, -1, -1)
    return {"RGB": split.b, "D": depth, "RGB+D": torch.cat([split.b, split.a], dim=1),
            "RGB*": tag_modality(split.b, 0), "D*": tag_modality(depth, 1)}


def build_network(kind: str, in_channels: int, num_classes: int, settings: SegmentationStudySettings):
    """A network of :data:`TEACHERS`' ``kind`` ("rgb": plain DeepLab V3+, "cen", "sagate", "mg")."""
    kwargs = dict(encoder_depth=settings.encoder_depth, decoder_channels=settings.decoder_channels,
                  atrous_rates=settings.atrous_rates)
    if kind == "rgb":
        return deeplabv3plus(in_channels, num_classes, **kwargs)
    return {"cen": CENLikeRGBD, "sagate": SAGateLikeRGBD, "mg": ModalityGeneralSegmenter}[kind](num_classes, **kwargs)


def run_seed(dataset: MultimodalDataset, settings: SegmentationStudySettings, seed: int, device="cpu",
             controls: bool = False) -> dict:
    """Train every teacher and student of one seed (with ``controls``, also the noise teacher and the
    control students): {"iou": {model: (K,) list}, "loss": {model: list}}."""
    device = torch.device(device)
    train, test = study_views(dataset.train, device), study_views(dataset.test, device)
    labels, test_labels, k = dataset.train.y.to(device), dataset.test.y.to(device), dataset.num_classes
    losses, networks = {}, {}

    def trained(name, kind, views, offset, teacher=None, teacher_view=None, targets=labels):
        torch.manual_seed(1000 * seed + offset)
        model = build_network(kind, train[views[0]].shape[1], k, settings).to(device)
        teacher_input = labels if teacher_view == "labels" else None if teacher is None else train[teacher_view]
        losses[name] = train_segmenter(
            model, [train[v] for v in views], targets, teacher=teacher, teacher_input=teacher_input,
            rho=settings.rho if teacher is not None else 1.0, temperature=settings.temperature,
            ignore_index=IGNORE_INDEX, num_epochs=settings.num_epochs, batch_size=settings.batch_size,
            optimizer="adam", lr=settings.lr, weight_decay=settings.weight_decay,
            generator=torch.Generator().manual_seed(1000 * seed + offset), desc=name)
        return model

    def iou(model, view):
        confusion = segmentation_confusion(model, test[view], test_labels, k, IGNORE_INDEX)
        return iou_from_confusion(confusion)[0].cpu().tolist()

    result = {}
    for offset, (name, (kind, views, evaluated_on)) in enumerate(TEACHERS.items()):
        networks[name] = trained(name, kind, views, offset)
        result[name] = iou(networks[name], evaluated_on)
    for name, (teacher, view) in ALIASES.items():
        result[name] = result[teacher] if view == TEACHERS[teacher][2] else iou(networks[teacher], view)
    for name, (teacher, view) in STUDENTS.items():
        # offset 0: the No-KD network's initialisation and batch order, so pairs differ by the teacher only
        student = trained(name, "rgb", ("RGB",), 0, teacher=networks[teacher], teacher_view=view)
        result[name] = iou(student, "RGB")
    if controls:
        shuffled = shuffled_labels(labels, torch.Generator().manual_seed(1000 * seed + 99)).to(device)
        noise = trained(NOISE_TEACHER, "sagate", ("RGB+D",), len(TEACHERS), targets=shuffled)
        result[NOISE_TEACHER] = iou(noise, "RGB+D")
        smoothing = PixelSmoothingTeacher(k, teacher_confidence(networks["SA-Gate-like RGB+D teacher"], train["RGB+D"],
                                                                settings.temperature), settings.temperature, IGNORE_INDEX)
        for name, (teacher, view) in zip(CONTROL_STUDENTS, ((noise, "RGB+D"), (smoothing, "labels"))):
            result[name] = iou(trained(name, "rgb", ("RGB",), 0, teacher=teacher, teacher_view=view), "RGB")
    return {"iou": result, "loss": losses}


@torch.no_grad()
def teacher_confidence(model, inputs: torch.Tensor, temperature: float, batch_size: int = 64) -> float:
    """The mean top-class probability of ``model`` over every pixel of (N, C, H, W) ``inputs`` (in
    chunks): the confidence the label-smoothing control matches."""
    model.eval()
    chunks = [(pixel_mean_confidence(model(inputs[i:i + batch_size]), temperature), len(inputs[i:i + batch_size]))
              for i in range(0, len(inputs), batch_size)]
    return sum(c * n for c, n in chunks) / len(inputs)


def _role(model: str) -> str:
    return "student" if model.endswith("student") or "student (" in model else "teacher"


def _input(model: str) -> str:
    if model == NOISE_TEACHER:
        return "RGB+D"
    if model in TEACHERS:
        return TEACHERS[model][2].rstrip("*")
    if model in ALIASES:
        return ALIASES[model][1].rstrip("*")
    return "RGB"


def segmentation_study(dataset: MultimodalDataset, settings: SegmentationStudySettings | Mapping, *, device="cpu",
                       results_cache: cache.ResultsCache | None = None, class_names: Sequence[str] | None = None,
                       extra: str = "error", controls: bool = False) -> SegmentationStudyResult:
    """Run (or read from the cache) every seed of the study; see the module docstring.

    ``settings``: a :class:`SegmentationStudySettings` or a mapping (``extra`` as in ``from_dict``).
    ``results_cache``: where each seed is stored (default: the persistent cache, namespace
    ``segmentation_study``); keyed by ``dataset.content_hash``, the settings, the seed and the device
    type. ``class_names``: the K column names (default ``dataset.ground_truth["class_names"]``, else
    ``class0`` ...). ``controls``: also train the noise teacher (:data:`NOISE_TEACHER`) and the
    students of :data:`CONTROL_STUDENTS` (the born-again control is :data:`BORN_AGAIN`).
    """
    if not isinstance(settings, SegmentationStudySettings):
        settings = SegmentationStudySettings.from_dict(settings, extra=extra)
    if dataset.train.b.shape[1] != 3 or dataset.train.a.shape[1] != 1 or dataset.train.y.dim() != 3:
        raise ConfigError("segmentation_study needs a = depth (N, 1, H, W), b = RGB (N, 3, H, W), y = (N, H, W) labels; "
                          f"got a {tuple(dataset.train.a.shape)}, b {tuple(dataset.train.b.shape)}, y {tuple(dataset.train.y.shape)}")
    k = dataset.num_classes
    names = list(class_names or dataset.ground_truth.get("class_names") or [f"class{i}" for i in range(k)])
    if len(names) != k:
        raise ConfigError(f"{len(names)} class names for {k} classes")
    device = torch.device(device)
    store = results_cache if results_cache is not None else cache.ResultsCache(CACHE_NAMESPACE)
    rows, curves = [], []
    for seed in cache.progress(range(settings.seeds), desc="seeds"):
        key = {"study": "segmentation_study/v1", "data": dataset.content_hash, "settings": settings.to_dict(),
               "seed": seed, "device": device.type, **({"controls": True} if controls else {})}
        run = store.get_or_compute(key, lambda: run_seed(dataset, settings, seed, device, controls))
        for model, iou in run["iou"].items():
            iou = np.asarray(iou, dtype=float)
            mean = float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan")
            rows.append({"seed": seed, "model": model, "role": _role(model), "input": _input(model), "mIoU": mean,
                         **dict(zip(names, iou.tolist()))})
        for model, history in run["loss"].items():
            curves += [{"seed": seed, "model": model, "epoch": epoch + 1, "loss": float(loss)}
                       for epoch, loss in enumerate(history)]
    return SegmentationStudyResult(pd.DataFrame(rows), pd.DataFrame(curves), names)


def image_blind_miou(dataset: MultimodalDataset) -> dict:
    """Test mIoU (%) of two predictors that never look at an image, the chance levels of the noise
    teacher: ``majority`` (the most frequent training class at every pixel) and ``position prior``
    (at each pixel position the training class most frequent there: what a network can still learn
    from label maps shuffled across scenes, whose per-pixel class frequencies survive)."""
    k, labels, test = dataset.num_classes, dataset.train.y, dataset.test.y
    counts = torch.stack([(labels == c).sum(0) for c in range(k)])  # (K, H, W); unlabelled pixels match no class
    predictions = {"majority": counts.sum((1, 2)).argmax().expand_as(test[0]), "position prior": counts.argmax(0)}
    return {name: float(iou_from_confusion(confusion_counts(test, prediction.expand_as(test), k, IGNORE_INDEX))[1])
            for name, prediction in predictions.items()}


def competence(result: SegmentationStudyResult, teachers: Sequence[str], classes: Sequence[int] | None = None) -> dict:
    """The convergence gate: over ``teachers``, the weakest seed-mean mIoU on ``classes`` (default
    all) and the weakest seed-mean IoU of any single one of those classes (every class learnt)."""
    idx = list(range(len(result.class_names))) if classes is None else list(classes)
    means = [np.nanmean(result.iou(t)[:, idx], axis=0) for t in teachers]  # (K',) per teacher
    return {"teacher_competence": float(min(np.nanmean(m) for m in means)),
            "worst_class_iou": float(min(np.nanmin(m) for m in means))}
