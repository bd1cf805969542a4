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


# --- MM-IMDB (chapter 06_mmimdb) ---
def multibench_unimodal(in_features: int, hidden: int, embed_dim: int, num_outputs: int, head_hidden: int | None = None) -> nn.Sequential:
    """MultiBench's unimodal MM-IMDB network: encoder MLP(in, hidden, embed) then head MLP(embed, head_hidden, K).

    MultiBench uses text MLP(300, 512, 512) and image MLP(4096, 1024, 512), each with head MLP(512, 512, 23).
    """
    head_hidden = embed_dim if head_hidden is None else head_hidden
    return nn.Sequential(MLP(in_features, [hidden], embed_dim), MLP(embed_dim, [head_hidden], num_outputs))


class LateFusion(nn.Module):
    """MultiBench's late fusion: per-modality MLP encoders, concatenated embeddings, MLP head.

    ``forward(a, b)`` takes the two modalities in the MultimodalDataset's (a, b) order.
    """

    def __init__(self, in_a: int, in_b: int, hidden_a: int, hidden_b: int, embed_dim: int, head_hidden: int, num_outputs: int):
        super().__init__()
        self.encoder_a = MLP(in_a, [hidden_a], embed_dim)
        self.encoder_b = MLP(in_b, [hidden_b], embed_dim)
        self.head = MLP(2 * embed_dim, [head_hidden], num_outputs)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.encoder_a(a), self.encoder_b(b)], dim=-1))


# --- feature ranking (MFH Alg. 1, RAVDESS / VGGSound) ---
class FeatureHead(nn.Module):
    """``head(features(x))``: a network split at the layer whose channels Algorithm 1 ranks.

    ``features`` may be ``nn.Identity()`` (rank the input channels) or the layers up to a hidden
    representation (rank its channels); ``head`` maps those channels to logits.
    """

    def __init__(self, features: nn.Module, head: nn.Module):
        super().__init__()
        self.features, self.head = features, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def ranked_mlp(in_features: int, hidden: Sequence[int], out_features: int, rank_layer: str = "hidden",
               dropout: float = 0.0) -> FeatureHead:
    """An MLP as FeatureHead: ``rank_layer="hidden"`` splits after the last hidden ReLU (the
    authors' RAVDESS nets rank their 128-d penultimate layer), ``"input"`` keeps the whole MLP as head."""
    if rank_layer == "input":
        return FeatureHead(nn.Identity(), MLP(in_features, hidden, out_features, dropout))
    if rank_layer != "hidden" or not hidden:
        raise ValueError("rank_layer must be 'input' or 'hidden' (the latter needs at least one hidden layer)")
    body = MLP(in_features, hidden[:-1], hidden[-1], dropout).net
    return FeatureHead(nn.Sequential(*body, nn.ReLU()), nn.Linear(hidden[-1], out_features))


def audio_resnet(num_classes: int, depth: int = 18) -> FeatureHead:
    """MFH App. B.4 audio network: torchvision ResNet-18/50 (no pretrained weights) on 1-channel
    spectrograms; ``features`` ends at the global-average-pooled 512-d (2048-d) vector, ``head`` is fc."""
    from torchvision.models import resnet18, resnet50

    if depth not in (18, 50):
        raise ValueError(f"depth must be 18 or 50, got {depth}")
    net = (resnet18 if depth == 18 else resnet50)(weights=None, num_classes=num_classes)
    net.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    head, net.fc = net.fc, nn.Identity()
    return FeatureHead(net, head)


def video_r3d(num_classes: int) -> FeatureHead:
    """MFH App. B.4 video network: torchvision's 3D ResNet-18 (r3d_18, no pretrained weights) on
    (3, T, H, W) clips; ``features`` ends at the pooled 512-d vector, ``head`` is fc."""
    from torchvision.models.video import r3d_18

    net = r3d_18(weights=None, num_classes=num_classes)
    head, net.fc = net.fc, nn.Identity()
    return FeatureHead(net, head)


# --- NYU Depth V2 segmentation (chapter 04_nyu_depth) ---
def batchnorm_to_groupnorm(module: nn.Module, max_groups: int = 8) -> nn.Module:
    """Replace every BatchNorm2d by a GroupNorm (in place): per-sample statistics, so seeds can be
    stacked with torch.func.vmap and eval does not depend on running averages of tiny batches."""
    import math

    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, name, nn.GroupNorm(math.gcd(child.num_features, max_groups), child.num_features))
        else:
            batchnorm_to_groupnorm(child, max_groups)
    return module


def deeplabv3plus(in_channels: int, num_classes: int, encoder: str = "resnet18", encoder_depth: int = 3,
                  decoder_channels: int = 32, atrous_rates: Sequence[int] = (1, 2, 3), group_norm: bool = False) -> nn.Module:
    """DeepLabV3+ (segmentation_models_pytorch) from scratch (encoder_weights=None: nothing downloads).

    ``encoder_depth`` < 5 truncates the ResNet (depth 3 stops at stride 8); the ASPP rates are given
    in feature-map pixels, so small images need small rates (the paper's (12, 24, 36) suit 512 px).
    """
    import segmentation_models_pytorch as smp

    net = smp.DeepLabV3Plus(encoder_name=encoder, encoder_depth=encoder_depth, encoder_weights=None,
                            decoder_channels=decoder_channels, decoder_atrous_rates=tuple(atrous_rates),
                            in_channels=in_channels, classes=num_classes)
    for stage in range(max(encoder_depth, 2), 5):  # smp keeps the unused ResNet stages: drop their weights
        if hasattr(net.encoder, f"layer{stage}"):
            setattr(net.encoder, f"layer{stage}", nn.Identity())
    return batchnorm_to_groupnorm(net) if group_norm else net


# --- AV-MNIST (chapter 01_case_study_avmnist) ---
class AudioCNN(nn.Module):
    """A plain CNN on (N, 1, F, T) spectrograms: ``num_layers`` conv3x3 -> [GroupNorm] -> ReLU blocks.

    Three 2x2 max-pools are spread over the depth and the width doubles after each, so the 3-layer
    student, the 5-layer fusion branch and the 6-layer teacher (MFH App. B.1) see the same
    resolutions. The last feature map is average-pooled to a 3x3 grid and flattened — keeping
    *where* in frequency and time the energy is, which global pooling would throw away — then a
    linear layer (omitted when ``num_classes`` is None: the network returns its ``out_features``
    features). Optional GroupNorm (not BatchNorm) keeps each sample's output independent of the
    batch, so seeds stack under torch.func.vmap.
    """

    def __init__(self, num_layers: int, width: int = 16, num_classes: int | None = 10, norm: bool = True):
        super().__init__()
        pool_after = {round(num_layers * k / 3) for k in (1, 2, 3)}
        layers: list[nn.Module] = []
        in_channels, channels = 1, width
        for i in range(1, num_layers + 1):
            layers.append(nn.Conv2d(in_channels, channels, 3, padding=1))
            if norm:
                layers.append(nn.GroupNorm(min(4, channels), channels))
            layers.append(nn.ReLU())
            in_channels = channels
            if i in pool_after:
                layers.append(nn.MaxPool2d(2))
                channels = min(2 * channels, 4 * width)
        layers += [nn.AdaptiveAvgPool2d(3), nn.Flatten()]
        self.out_features = 9 * in_channels
        if num_classes is not None:
            layers.append(nn.Linear(self.out_features, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al.) on (N, 1, 28, 28): conv5x5(6) -> pool -> conv5x5(16) -> pool -> 120 -> 84 [-> K]."""

    def __init__(self, num_classes: int | None = 10):
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        ]
        self.out_features = 84
        if num_classes is not None:
            layers.append(nn.Linear(84, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ImageAudioLateFusion(nn.Module):
    """MFH's AV-MNIST multimodal teacher: LeNet-5 image branch and a 5-layer CNN audio branch, their
    features concatenated and passed to fully connected layers. ``forward(image, audio)``."""

    def __init__(self, audio_layers: int = 5, width: int = 16, hidden: int = 64, num_classes: int = 10, norm: bool = True):
        super().__init__()
        self.image_branch = LeNet5(num_classes=None)
        self.audio_branch = AudioCNN(audio_layers, width, num_classes=None, norm=norm)
        self.head = MLP(self.image_branch.out_features + self.audio_branch.out_features, [hidden], num_classes)

    def forward(self, image: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.image_branch(image), self.audio_branch(audio)], dim=-1))


# --- RGB-D teachers of different weight sharing (chapter 04_nyu_depth, MFH Tab. 3 / 6) ---
class ModalitySwitch:
    """Which modality's BatchNorm every :class:`ModalityBatchNorm` of one network uses (0, 1, ...)."""

    def __init__(self):
        self.index = 0


class ModalityBatchNorm(nn.Module):
    """One private copy of a BatchNorm layer per modality, picked by a shared :class:`ModalitySwitch`:
    the convolutions around it are shared, the normalisation statistics and affine terms are not."""

    def __init__(self, norm: nn.Module, num_modalities: int, switch: ModalitySwitch):
        super().__init__()
        import copy

        self.norms = nn.ModuleList(copy.deepcopy(norm) for _ in range(num_modalities))
        self.switch = switch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norms[self.switch.index](x)


def private_batchnorm(module: nn.Module, num_modalities: int, switch: ModalitySwitch) -> nn.Module:
    """Replace every BatchNorm2d of ``module`` (in place) by a :class:`ModalityBatchNorm`."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, name, ModalityBatchNorm(child, num_modalities, switch))
        else:
            private_batchnorm(child, num_modalities, switch)
    return module


def split_rgbd(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 4, H, W) RGB-then-depth input -> RGB (N, 3, H, W) and depth repeated to 3 channels."""
    return x[:, :3], x[:, 3:4].expand(-1, 3, -1, -1)


class CENLikeRGBD(nn.Module):
    """CEN-like RGB+D segmenter (Wang et al. 2020, as MFH Tab. 6 uses it): **one** DeepLab V3+ encoder
    whose convolutions are shared by RGB and depth, with **private BatchNorm** per modality; the two
    streams' features are fused level by level (mean; CEN exchanges channels instead) and decoded by
    one decoder. ``forward(x)``: x (N, 4, H, W) RGB then depth -> logits (N, K, H, W)."""

    def __init__(self, num_classes: int, **deeplab_kwargs):
        super().__init__()
        self.switch = ModalitySwitch()
        self.net = deeplabv3plus(3, num_classes, **deeplab_kwargs)
        private_batchnorm(self.net.encoder, 2, self.switch)

    def encode(self, x: torch.Tensor, modality: int) -> list[torch.Tensor]:
        """Multi-level features of one stream (modality 0 = RGB, 1 = depth as 3 channels)."""
        self.switch.index = modality
        return self.net.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rgb, depth = split_rgbd(x)
        fused = [(a + b) / 2 for a, b in zip(self.encode(rgb, 0), self.encode(depth, 1))]
        return self.net.segmentation_head(self.net.decoder(fused))


class SAGateLikeRGBD(nn.Module):
    """SA-Gate-like RGB+D segmenter (Chen et al. 2020): **two** DeepLab V3+ encoders with separate
    weights, fused at every level by a learnt gate g = sigmoid(conv1x1([f_rgb, f_depth])) as
    g * f_rgb + (1 - g) * f_depth, then one decoder. No encoder weight is shared between the streams.
    ``forward(x)``: x (N, 4, H, W) RGB then depth -> logits (N, K, H, W)."""

    def __init__(self, num_classes: int, **deeplab_kwargs):
        super().__init__()
        self.net = deeplabv3plus(3, num_classes, **deeplab_kwargs)
        self.depth_encoder = deeplabv3plus(3, num_classes, **deeplab_kwargs).encoder
        self.gates = nn.ModuleList(nn.Conv2d(2 * c, c, 1) for c in self.net.encoder.out_channels)

    def encode(self, x: torch.Tensor, modality: int) -> list[torch.Tensor]:
        return (self.net.encoder if modality == 0 else self.depth_encoder)(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rgb, depth = split_rgbd(x)
        fused = []
        for gate, a, b in zip(self.gates, self.encode(rgb, 0), self.encode(depth, 1)):
            g = torch.sigmoid(gate(torch.cat([a, b], dim=1)))
            fused.append(g * a + (1 - g) * b)
        return self.net.segmentation_head(self.net.decoder(fused))


def tag_modality(x: torch.Tensor, modality: int) -> torch.Tensor:
    """Append a constant channel holding the modality index: (N, C, H, W) -> (N, C + 1, H, W)."""
    return torch.cat([x, torch.full_like(x[:, :1], float(modality))], dim=1)


class ModalityGeneralSegmenter(nn.Module):
    """Omnivore-style modality-general segmenter (MFH Sec. 5.3): one DeepLab V3+ whose every weight is
    shared by RGB and depth (3 channels each) with private BatchNorm per modality. ``forward(x)``
    takes :func:`tag_modality` inputs (N, 4, H, W): each sample's last channel says its modality,
    so one batch may mix RGB and depth scenes; every modality's sub-batch runs with its own
    BatchNorm. Returns logits (N, K, H, W)."""

    def __init__(self, num_classes: int, num_modalities: int = 2, **deeplab_kwargs):
        super().__init__()
        self.switch = ModalitySwitch()
        self.net = private_batchnorm(deeplabv3plus(3, num_classes, **deeplab_kwargs), num_modalities, self.switch)
        self.num_modalities = num_modalities

    def encode(self, x: torch.Tensor, modality: int) -> list[torch.Tensor]:
        self.switch.index = modality
        return self.net.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tags = x[:, -1, 0, 0].round().long()
        out = None
        for modality in range(self.num_modalities):
            rows = (tags == modality).nonzero().flatten()
            if rows.numel() == 0:
                continue
            self.switch.index = modality
            logits = self.net(x[rows, :-1])
            out = logits.new_empty(x.shape[0], *logits.shape[1:]) if out is None else out
            out[rows] = logits
        return out
