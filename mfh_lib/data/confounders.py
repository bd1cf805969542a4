"""A stand-in with unimodal confounders, built as Hateful Memes was (Kiela et al. 2020).

Every example pairs an *image* concept with a *text* concept, each rendered as a noisy feature
vector. Concepts are either *charged* (they carry a polarity, 0 or 1) or *neutral*. Three kinds of
example are planted, in the proportions ``shares``:

* ``"image"``: a charged image with a neutral text; the label is the image's polarity;
* ``"text"``: a neutral image with a charged text; the label is the text's polarity;
* ``"multimodal"``: both charged; the label is polarity(image) XOR polarity(text), so the same image
  with a different text flips the label (Hateful Memes' benign confounders), and neither modality
  alone says anything about the label.

The planted per-example importance of each modality is known: (image, text) = (1, 0), (0, 1) and
(1, 1) for the three kinds. ``ground_truth`` holds, per split, ``kind`` (0 image, 1 text,
2 multimodal), ``importance`` (N, 2) and the concept ids, so a weighting scheme can be scored
against the truth (:func:`importance_contrast`).

Concepts live in a low-dimensional latent space (``latent_dim``) and are mapped into the feature
space by a random linear map, so a concept's polarity is not a linear function of the features:
reading it takes hidden units, and a wide teacher beats a narrow student by capacity.
"""
from __future__ import annotations

import numpy as np
import torch

from ..config import ConfigError
from . import MultimodalDataset, MultimodalSplit, random_split

KINDS = ("image", "text", "multimodal")
PLANTED_IMPORTANCE = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # (kind, modality): image, text


def label_of(kind: torch.Tensor, image_polarity: torch.Tensor, text_polarity: torch.Tensor) -> torch.Tensor:
    """The planted rule: the image's polarity, the text's, or their XOR, by kind (0, 1, 2)."""
    return torch.where(kind == 0, image_polarity, torch.where(kind == 1, text_polarity, image_polarity ^ text_polarity))


def importance_contrast(importance: torch.Tensor) -> torch.Tensor:
    """Planted importance of the image minus that of the text, (N, 2) -> (N,): +1, -1 or 0."""
    return importance[..., 0] - importance[..., 1]


def make_confounder_standin(*, seed: int = 0, num_train: int = 1500, num_val: int = 400, num_test: int = 600,
                            shares=(0.3, 0.3, 0.4), num_charged: int = 24, num_neutral: int = 12,
                            latent_dim: int = 6, image_features: int = 64, text_features: int = 48,
                            noise: float = 0.5) -> MultimodalDataset:
    """The confounder stand-in as a :class:`MultimodalDataset` (a = image, b = text, 2 classes).

    ``shares``: proportions of image-decided, text-decided and multimodal examples (sum 1).
    ``num_charged`` / ``num_neutral``: concepts per modality (charged ones split evenly between the
    polarities). ``latent_dim``: dimension of the concept space; ``noise``: the observation noise
    (standard deviation, per latent coordinate) added to each concept before the feature map.
    """
    shares = tuple(float(s) for s in shares)
    if len(shares) != 3 or min(shares) < 0 or abs(sum(shares) - 1) > 1e-6:
        raise ConfigError(f"shares must be three non-negative numbers (image, text, multimodal) summing to 1, got {shares}")
    if num_charged < 2 or num_neutral < 1:
        raise ConfigError(f"need >= 2 charged and >= 1 neutral concepts, got {num_charged} and {num_neutral}")
    gen = torch.Generator().manual_seed(int(seed))
    n = num_train + num_val + num_test
    concepts = {m: torch.randn(num_charged + num_neutral, latent_dim, generator=gen) for m in ("image", "text")}
    projection = {"image": torch.randn(latent_dim, image_features, generator=gen) / latent_dim**0.5,
                  "text": torch.randn(latent_dim, text_features, generator=gen) / latent_dim**0.5}
    polarity = {m: torch.randperm(num_charged, generator=gen) % 2 for m in ("image", "text")}  # balanced

    kind = torch.multinomial(torch.tensor(shares), n, replacement=True, generator=gen)
    charged = {m: torch.randint(0, num_charged, (n,), generator=gen) for m in ("image", "text")}
    neutral = {m: num_charged + torch.randint(0, num_neutral, (n,), generator=gen) for m in ("image", "text")}
    concept = {"image": torch.where(kind == 1, neutral["image"], charged["image"]),
               "text": torch.where(kind == 0, neutral["text"], charged["text"])}
    pol = {m: torch.where(concept[m] < num_charged, polarity[m][concept[m].clamp_max(num_charged - 1)], 0)
           for m in ("image", "text")}
    y = label_of(kind, pol["image"], pol["text"])
    features = {m: (concepts[m][concept[m]] + noise * torch.randn(n, latent_dim, generator=gen)) @ projection[m]
                for m in ("image", "text")}
    importance = PLANTED_IMPORTANCE[kind]

    masks = random_split(n, seed=int(seed), val=num_val, test=num_test)
    splits, truth = {}, {"shares": dict(zip(KINDS, shares)), "polarity": polarity, "num_charged": num_charged}
    for name, mask in zip(("train", "val", "test"), masks):
        idx = torch.from_numpy(np.flatnonzero(mask))
        splits[name] = MultimodalSplit(features["image"][idx], features["text"][idx], y[idx])
        truth[name] = {"kind": kind[idx], "importance": importance[idx], "image_concept": concept["image"][idx],
                       "text_concept": concept["text"][idx]}
    source = (f"stand-in (synthetic, unimodal confounders as in Hateful Memes: {round(100 * shares[0])}% image-decided, "
              f"{round(100 * shares[1])}% text-decided, {round(100 * shares[2])}% decided by both, XOR)")
    return MultimodalDataset(splits["train"], splits["val"], splits["test"], ("image", "text"), 2, source,
                             ground_truth=truth)
