"""Network architectures used across chapters (no pretrained weights anywhere: nothing downloads)."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class LinearClassifier(nn.Module):
    """Multinomial logistic regression: one linear layer producing K logits."""

    def __init__(self, in_features: int, num_classes: int = 2):
        super().__init__()
        self.linear = nn.Linear(in_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class MLP(nn.Module):
    """Fully connected ReLU network ``in -> hidden[0] -> ... -> out``."""

    def __init__(self, in_features: int, hidden: Sequence[int], out_features: int, dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, out_features))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
