"""One module per dataset: a loader for the original on-disk format and an offline stand-in.

Every loader returns a :class:`MultimodalDataset`, so chapters that work across datasets (MSD,
CCH) treat them alike. Modality ``a`` is the teacher's (or the one with the richer signal) and
``b`` the student's, matching the MFH paper's x^a / x^b notation.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class MultimodalSplit:
    a: torch.Tensor  # modality a, (N, ...)
    b: torch.Tensor  # modality b, (N, ...)
    y: torch.Tensor  # (N,) class indices, or (N, K) multi-hot for multi-label tasks

    def __len__(self) -> int:
        return self.y.shape[0]

    def to(self, device) -> "MultimodalSplit":
        return MultimodalSplit(self.a.to(device), self.b.to(device), self.y.to(device))


@dataclass
class MultimodalDataset:
    train: MultimodalSplit
    val: MultimodalSplit
    test: MultimodalSplit
    modalities: tuple[str, str]  # human names of (a, b), e.g. ("image", "audio")
    num_classes: int
    source: str  # which data made it: e.g. "RAVDESS (real features)" or "stand-in (synthetic, planted MVD)"
    multilabel: bool = False
    ground_truth: dict = field(default_factory=dict)  # stand-ins: planted modality-general/specific factors

    def to(self, device) -> "MultimodalDataset":
        return MultimodalDataset(self.train.to(device), self.val.to(device), self.test.to(device),
                                 self.modalities, self.num_classes, self.source, self.multilabel, self.ground_truth)
