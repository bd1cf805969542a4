"""Distillation losses.

``kd_loss`` is MFH eq. (1): L = rho * L_task + (1 - rho) * L_kd, where L_task is the cross
entropy with the labels and L_kd the KL divergence KL(teacher || student) between the softened
predictions. Following Hinton et al. the KL term is computed at temperature T and multiplied by
T^2 so its gradient scale does not depend on T. The class axis is dim 1, so the same function is
the pixel-wise KD of segmentation ((N, K, H, W) logits): the KL is summed over classes and averaged
over every other axis (samples and pixels), i.e. 'batchmean' per pixel.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .config import check_unit_interval


def kd_divergence(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """T^2 * mean over samples (and pixels) of KL(softmax(t/T) || softmax(s/T))."""
    log_p_student = F.log_softmax(student_logits / temperature, dim=1)
    log_p_teacher = F.log_softmax(teacher_logits / temperature, dim=1)
    kl = (log_p_teacher.exp() * (log_p_teacher - log_p_student)).sum(dim=1)
    return kl.mean() * temperature**2


def kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor | None,
    labels: torch.Tensor | None,
    rho: float = 0.5,
    temperature: float = 1.0,
    ignore_index: int = -100,
) -> torch.Tensor:
    """MFH eq. (1). ``rho=1`` is plain supervised training; ``rho=0`` is pure distillation.

    ``labels`` may be None only when rho == 0 and ``teacher_logits`` only when rho == 1.
    """
    check_unit_interval("rho", rho)
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    loss = student_logits.new_zeros(())
    if rho > 0:
        if labels is None:
            raise ValueError("labels are required when rho > 0")
        loss = loss + rho * F.cross_entropy(student_logits, labels, ignore_index=ignore_index)
    if rho < 1:
        if teacher_logits is None:
            raise ValueError("teacher_logits are required when rho < 1")
        loss = loss + (1 - rho) * kd_divergence(student_logits, teacher_logits.detach(), temperature)
    return loss


# --- feature-based KD baselines (MSD chapter, Tab. 1/2: FitNet, RKD, SP) ---
# Each takes student and teacher features with the samples on axis -2 and the feature dimension last,
# (..., B, D), so a leading member axis (seed-vectorised ensembles) needs no vmap. Each returns one
# loss per leading index, shape (...).


def fitnet_loss(student_hint: torch.Tensor, teacher_features: torch.Tensor) -> torch.Tensor:
    """FitNet hint loss (Romero et al. 2015): mean squared error between the student's features,
    mapped to the teacher's width by a learnable regressor (part of the student), and the teacher's."""
    return (student_hint - teacher_features.detach()).pow(2).mean(dim=(-2, -1))


def _pairwise_distances(features: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    squared = features.pow(2).sum(-1)
    gram = features @ features.transpose(-1, -2)
    dist2 = (squared.unsqueeze(-1) + squared.unsqueeze(-2) - 2 * gram).clamp_min(eps)
    # the diagonal is exactly zero; eps only keeps sqrt differentiable there
    eye = torch.eye(features.shape[-2], dtype=torch.bool, device=features.device)
    return dist2.sqrt().masked_fill(eye, 0.0)


def rkd_loss(student_features: torch.Tensor, teacher_features: torch.Tensor,
             distance_weight: float = 25.0, angle_weight: float = 50.0) -> torch.Tensor:
    """Relational KD (Park et al. 2019): Huber loss between the teacher's and the student's pairwise
    distances (each normalised by its mean off-diagonal distance) and between the cosines of the
    angles of all sample triplets. Weights 25 and 50 are the paper's defaults."""
    teacher_features = teacher_features.detach()
    b = student_features.shape[-2]
    off_diagonal = b * (b - 1)

    def normalised_distances(f):
        d = _pairwise_distances(f)
        return d / (d.sum(dim=(-2, -1), keepdim=True) / off_diagonal).clamp_min(1e-12)

    distance = F.smooth_l1_loss(normalised_distances(student_features), normalised_distances(teacher_features),
                                reduction="none").mean(dim=(-2, -1))

    def angles(f):
        # e[i, j] = unit vector from sample i to sample j; (e e^T)[i, j, k] = cos of the angle at i
        e = F.normalize(f.unsqueeze(-3) - f.unsqueeze(-2), dim=-1)
        return e @ e.transpose(-1, -2)

    angle = F.smooth_l1_loss(angles(student_features), angles(teacher_features), reduction="none").mean(dim=(-3, -2, -1))
    return distance_weight * distance + angle_weight * angle


def sp_loss(student_features: torch.Tensor, teacher_features: torch.Tensor) -> torch.Tensor:
    """Similarity-preserving KD (Tung & Mori 2019): squared Frobenius distance between the row-
    normalised batch similarity matrices G = F F^T of teacher and student, divided by B^2."""
    def similarity(f):
        return F.normalize(f @ f.transpose(-1, -2), dim=-1)

    b = student_features.shape[-2]
    return (similarity(student_features) - similarity(teacher_features.detach())).pow(2).sum(dim=(-2, -1)) / b**2


# --- multi-label KD (MM-IMDB chapter) ---
def multilabel_kd_divergence(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Multi-label KD: per-label binary KL(Bernoulli(sigmoid(t/T)) || Bernoulli(sigmoid(s/T))), times T^2.

    ``(N, K)`` logits of K independent sigmoid labels. A sigmoid label is a 2-class softmax over the
    logits (0, z), so this is :func:`kd_divergence` on those pairs: averaged over samples and labels.
    """
    zeros = torch.zeros_like(student_logits)
    return kd_divergence(torch.stack([zeros, student_logits], 1), torch.stack([zeros, teacher_logits], 1), temperature)
