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
