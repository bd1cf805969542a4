"""The MFH paper's RAVDESS audio teacher family: a 3-layer 2D CNN + 3 fully connected layers.

MFH App. B.4: "the teacher and student architecture are 3-layer CNNs followed by 3 fully-connected
layers" (following Xue et al., 2021). The authors' code (``ravdess/utils/model.py``, see
``mfh_official_code_notes.md``) builds the audio teacher on (1, 40, 256) MFCC maps as conv 7x7
1->32, ReLU, max-pool 2; conv 5x5 32->64, ReLU, max-pool 2; conv 5x5 64->128, ReLU; adaptive max-pool
to 7x14; fc 12544->1024, ReLU, fc 1024->128, ReLU, fc 128->8. :func:`audio_cnn_teacher` builds that
network by default ("same" padding: the code notes do not give the padding) and smaller members of
the family through ``widths`` / ``hidden`` / ``pool_grid`` (the full-size net has 13M weights, most in
fc1, slow on a 2-core CPU).

No BatchNorm (nor any running statistics), so seeds stack in :class:`mfh_lib.training.Ensemble`
under ``torch.func.vmap``. The network is a :class:`mfh_lib.models.FeatureHead` split after the
128-d fc2 ReLU, the layer whose channels the authors' Algorithm 1 ranks ("place 5"), so
:mod:`mfh_lib.ranking` can rank and nullify it.
"""
from __future__ import annotations

from typing import Sequence

from torch import nn

from .models import FeatureHead


def audio_cnn_teacher(num_classes: int = 8, *, in_channels: int = 1, widths: Sequence[int] = (32, 64, 128),
                      kernels: Sequence[int] = (7, 5, 5), pool_grid: tuple[int, int] = (7, 14),
                      hidden: Sequence[int] = (1024, 128), dropout: float = 0.0) -> FeatureHead:
    """3 conv layers (max-pool 2 after the first two) + adaptive max-pool + 3 FC layers, as FeatureHead.

    ``features`` = convs .. last hidden FC + ReLU (``hidden[-1]`` channels, ranked by Algorithm 1);
    ``head`` = the last linear layer. ``dropout`` (default none, as the authors) acts after each
    hidden FC layer. Input (N, in_channels, F, T) with F, T >= 4 (two 2x2 pools).
    """
    if len(widths) != 3 or len(kernels) != 3 or len(hidden) != 2:
        raise ValueError("the family has 3 conv layers (widths, kernels of length 3) and 3 FC layers "
                         "(hidden of length 2)")
    layers: list[nn.Module] = []
    channels = in_channels
    for i, (width, kernel) in enumerate(zip(widths, kernels)):
        layers += [nn.Conv2d(channels, width, kernel, padding=kernel // 2), nn.ReLU()]
        if i < 2:
            layers.append(nn.MaxPool2d(2))
        channels = width
    layers += [nn.AdaptiveMaxPool2d(tuple(pool_grid)), nn.Flatten()]
    width = channels * pool_grid[0] * pool_grid[1]
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    return FeatureHead(nn.Sequential(*layers), nn.Linear(width, num_classes))
