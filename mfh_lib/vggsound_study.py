"""MFH App. B.4 on VGGSound-shaped clips: Algorithm 1 on a ResNet audio teacher, video students.

One seed of :func:`vggsound_study` trains the paper's pair jointly with eq. (28) (Dist = L1, the
authors' VGGSound choice): a torchvision ResNet with a 1-channel stem on the spectrogram (audio,
modality a) and the 3D ResNet ``r3d_18`` on the frames (video, modality b), AdamW + StepLR as the
authors' code (:func:`mfh_lib.ranking.fit_module`). Algorithm 1 then ranks the teacher's pooled
feature; the regular / modality-specific / random / modality-general teachers (nullified at
``ratio``) are distilled into video students for every rho, modality-general students along
``sweep_ratios`` give Fig. 5's curve, and Grad-CAM maps of the regular and modality-general teachers
give our audio analogue of Fig. 4. BatchNorm keeps running statistics, so seeds run in a loop
rather than in an Ensemble.

Why the ranking can invert on an under-trained pair: when the video network's logits hardly vary
across clips, Dist(f_a(X~a), f_b(X^b)) is the distance of the audio logits to a near-constant, and
shuffling a channel the teacher relies on pulls its logits towards their average, i.e. *closer*;
``logit_spread`` and ``share_closer`` measure this per seed.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch

from . import models
from .cache import ResultsCache
from .config import ConfigError, check_unit_interval, check_whole
from .data.vggsound import mean_average_precision
from .ranking import (JointPair, distance, distill_module, fit_module, joint_loss, nullify, nullify_keep_mask,
                      permutation_distances, predict_module, salience_from_distances)

TEACHER_KINDS = ("regular", "specific", "random", "general")


@dataclass(frozen=True)
class VggStudySettings:
    """Settings of :func:`vggsound_study`.

    ``seeds`` (required): seeds S, each its own joint pair, teachers and students. ``depth``: ResNet
    depth of the audio teacher (18 or 50); ``epochs``, ``batch_size``, ``lr``: AdamW training of the
    pair and of every student; ``ratio``: r of the nullified teachers; ``sweep_ratios``: the r of
    the modality-general students of Fig. 5; ``num_permutations``: M; ``rhos``: the rho of the
    students; ``student_kinds``: the teachers (of ``TEACHER_KINDS``) that get students.
    """

    seeds: int
    depth: int = 18
    epochs: int = 2
    batch_size: int = 16
    lr: float = 1e-3
    ratio: float = 0.5
    sweep_ratios: tuple[float, ...] = (0.5, 0.875)
    num_permutations: int = 5
    rhos: tuple[float, ...] = (0.0,)
    student_kinds: tuple[str, ...] = ("regular", "specific", "general")

    def __post_init__(self):
        for name in ("seeds", "epochs", "batch_size", "num_permutations"):
            check_whole(name, getattr(self, name))
        if self.depth not in (18, 50):
            raise ConfigError(f"setting 'depth' = {self.depth!r} is invalid: expected 18 or 50")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ConfigError(f"setting 'lr' = {self.lr!r} is invalid: expected a number > 0")
        for name in ("sweep_ratios", "rhos", "student_kinds"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        check_unit_interval("setting 'ratio'", self.ratio)
        for value in self.sweep_ratios:
            check_unit_interval("setting 'sweep_ratios' (each r)", value)
        for value in self.rhos:
            check_unit_interval("setting 'rhos' (each rho)", value)
        unknown = sorted(set(self.student_kinds) - set(TEACHER_KINDS))
        if unknown:
            raise ConfigError(f"setting 'student_kinds' holds {unknown}; known: {TEACHER_KINDS}")

    @classmethod
    def from_profile(cls, profile: Mapping[str, Any]) -> "VggStudySettings":
        """From a chapter profile: ``seeds`` and the ``vgg_*`` keys (``vgg_epochs`` -> ``epochs``, ...)."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k[len("vgg_"):]: v for k, v in profile.items() if k.startswith("vgg_") and k[len("vgg_"):] in names}
        if "seeds" not in profile:
            raise ConfigError("the profile lacks 'seeds' (required by VggStudySettings)")
        return cls(seeds=profile["seeds"], **values)


def audio_gradcam(teacher, keep, fill, spectrograms, device="cpu") -> torch.Tensor:
    """(N, F, T) Grad-CAM of the predicted class at ResNet layer2 (stride 8: the pooled layer4 map of
    a tiny spectrogram is 1 x 1), through the teacher's nullified pooled feature. ``keep``, ``fill``: (d,)."""
    net = teacher.features
    stem_to_layer2 = torch.nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2)
    rest = torch.nn.Sequential(net.layer3, net.layer4, net.avgpool, torch.nn.Flatten())
    maps = stem_to_layer2(spectrograms.to(device)).detach().requires_grad_(True)
    pooled = nullify(rest(maps)[None], keep.to(device)[None], fill.to(device)[None])[0]
    logits = teacher.head(pooled)
    score = logits.gather(1, logits.argmax(-1, keepdim=True)).sum()
    (grads,) = torch.autograd.grad(score, maps)
    cam = (grads.mean((2, 3), keepdim=True) * maps).sum(1).clamp_min(0).detach()
    return torch.nn.functional.interpolate(cam[:, None], size=spectrograms.shape[-2:], mode="bilinear")[:, 0].cpu()


def _one_seed(data, cfg: VggStudySettings, seed: int, device) -> dict:
    K = data.num_classes
    fit = dict(num_epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, device=device)
    score = lambda logits, labels: mean_average_precision(logits.softmax(-1), labels, K)
    torch.manual_seed(seed)
    pair = JointPair(models.audio_resnet(K, cfg.depth), models.video_r3d(K))

    def joint(model, a, b, y, _index):
        la, lb = model(a, b)
        return joint_loss(la[None], lb[None], y[None], dist="l1")[0]

    fit_module(pair, (data.train.a, data.train.b), data.train.y, joint, seed=seed, **fit)
    teacher = pair.net_a
    train_h = predict_module(teacher.features, data.train.a, device=device)[None]
    test_h = predict_module(teacher.features, data.test.a, device=device)[None]
    reference = predict_module(pair.net_b, data.train.b, device=device)[None]
    head = lambda z: teacher.head(z[0].to(device)).detach().cpu()[None]
    distances = permutation_distances(head, train_h, reference, num_permutations=cfg.num_permutations, dist="l1",
                                      generator=torch.Generator().manual_seed(seed))
    salience = salience_from_distances(distances)
    unpermuted = distance(head(train_h), reference, "l1")
    fill = train_h.mean(1)
    general_rows = data.ground_truth.get("general_rows", (0, data.train.a.shape[2] // 2))
    out = {"teacher_map": {}, "student_map": {}, "sweep_map": {}, "cam_share": {}, "example_cam": {},
           "logit_spread": {"audio teacher": float(head(train_h)[0].std(0).mean()),
                            "video network": float(reference[0].std(0).mean())},
           "share_closer": float((distances.mean(1) < unpermuted[:, None]).float().mean())}

    def teacher_logits(keep):
        with torch.no_grad():
            return head(nullify(train_h, keep, fill))[0], score(head(nullify(test_h, keep, fill))[0], data.test.y)

    def student(t_train, rho):
        return distill_module(lambda: models.video_r3d(K), data.train.b, data.train.y, t_train,
                              (data.val.b, data.val.y), (data.test.b, data.test.y), score, rho=rho,
                              seed=1000 + seed, **fit)

    for kind in TEACHER_KINDS:
        keep = torch.ones_like(salience) if kind == "regular" else nullify_keep_mask(
            salience, cfg.ratio, kind, torch.Generator().manual_seed(seed))
        t_train, out["teacher_map"][kind] = teacher_logits(keep)
        for rho in cfg.rhos if kind in cfg.student_kinds else ():
            out["student_map"][(kind, rho)] = student(t_train, rho)
        if kind in ("regular", "general"):
            cam = audio_gradcam(teacher, keep[0], fill[0], data.test.a, device)
            lo, hi = general_rows
            out["cam_share"][kind] = float((cam[:, lo:hi].sum((1, 2)) / cam.sum((1, 2)).clamp_min(1e-12)).mean())
            out["example_cam"][kind] = cam[0]
    for r in cfg.sweep_ratios:  # Fig. 5: modality-general students along r (rho = 0)
        if np.isclose(r, cfg.ratio) and ("general", 0.0) in out["student_map"]:
            out["sweep_map"][r] = out["student_map"][("general", 0.0)]
            continue
        t_train, _ = teacher_logits(nullify_keep_mask(salience, r, "general"))
        out["sweep_map"][r] = student(t_train, 0.0)
    return out


def vggsound_study(data, settings: VggStudySettings, *, device="cpu", use_cache: bool = True) -> list[dict]:
    """Algorithm 1 + nullified teachers + video students on a VGGSound-shaped MultimodalDataset.

    ``data``: a = (N, 1, F, T) spectrograms, b = (N, 3, T', H, W) frames, ``num_classes`` K,
    optional ``ground_truth["general_rows"]`` (the spectrogram rows of the modality-general cue,
    default the lower half). Returns one dict per seed: ``teacher_map`` {kind: test mAP (%)},
    ``student_map`` {(kind, rho): video student test mAP at its best-validation epoch},
    ``sweep_map`` {r: MG student mAP}, ``cam_share`` {"regular"/"general": Grad-CAM share on the
    modality-general rows}, ``example_cam`` {kind: (F, T) map of the first test clip},
    ``logit_spread`` (mean per-class std of the logits over training clips, audio teacher and video
    network) and ``share_closer`` (the share of channels whose permutation lowers Dist). Cached per
    seed by the data's content hash and the settings.
    """
    if not isinstance(settings, VggStudySettings):
        raise ConfigError(f"settings must be VggStudySettings, got {type(settings).__name__}")
    cache = ResultsCache("vggsound_study", enabled=use_cache)
    key = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(settings).items()}
    return [cache.get_or_compute({"data": data.content_hash, "seed": s, **key},
                                 lambda s=s: _one_seed(data, settings, s, device)) for s in range(settings.seeds)]


__all__ = ["TEACHER_KINDS", "VggStudySettings", "audio_gradcam", "vggsound_study"]
