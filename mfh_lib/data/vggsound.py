"""VGGSound audio-visual event classification: a loader for pre-extracted clips and a stand-in.

VGGSound itself (YouTube clips, Chen et al. 2020) cannot be downloaded here. MFH App. B.4 uses a
100-class subset, audio as an STFT spectrogram (16 kHz, n_fft 1024, hop 512) for a ResNet-18/50
and 32 frames (256 x 256) for a 3D ResNet. We accept clips pre-extracted into this layout::

    $MFH_DATA_DIR/vggsound/labels.csv          header: clip_id,label,split   (split: train | test)
    $MFH_DATA_DIR/vggsound/clips/<clip_id>.npz audio  (F, T) float32 log-magnitude spectrogram
                                               frames (T_v, H, W, 3) uint8 RGB frames

(``label`` is the class name; classes are indexed in sorted order; ``val_fraction`` of the training
clips, drawn with ``seed``, become the validation split.) The loader keeps everything in memory, so
it suits down-sampled clips; at paper scale stream the same files through a ``torch.utils.data``
Dataset built on :func:`read_clip`.

:func:`make_vggsound_standin` draws tiny clips with planted structure: a *modality-general* cue
(a sound source that is both heard and seen: a class-specific frequency band in the lower half of
the spectrogram and a blob in the frames, both pulsing with the same envelope), an audio-only cue
(a class-specific band in the upper half of the spectrogram) and a video-only cue (a class-specific
static colour patch). Each cue shows the true class with probability ``cue_reliability`` and a
random one otherwise, so every cue is decisive but no cue alone is sufficient.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from ..config import ConfigError, require_subdir
from . import MultimodalDataset, MultimodalSplit, read_numpy, require_rows, validate_array
from .splits import random_split

SUBDIR = "vggsound"
STANDIN_SOURCE = "stand-in (synthetic tiny clips, planted modality-general/specific cues)"
REAL_SOURCE = "VGGSound (pre-extracted clips)"


def read_clip(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(audio (F, T) float32, frames (T_v, H, W, 3) uint8) of one clip file, validated."""
    expected = "arrays 'audio' (F, T) finite float spectrogram and 'frames' (T_v, H, W, 3) uint8 RGB"
    arrays = read_numpy(path, ["audio", "frames"], expected=expected)
    audio = validate_array("audio", arrays["audio"], file=path, shape=("F", "T"), fix=f"expected {expected}")
    frames = validate_array("frames", arrays["frames"], file=path, shape=("T_v", "H", "W", 3), integer=True,
                            low=0, high=255, fix=f"expected {expected}")
    return audio.astype(np.float32), frames


def _video_tensor(frames: np.ndarray) -> torch.Tensor:
    """(N, T, H, W, 3) uint8 -> (N, 3, T, H, W) float in [0, 1] (the layout of torchvision's r3d_18)."""
    return torch.as_tensor(frames).permute(0, 4, 1, 2, 3).float() / 255.0


def load_vggsound(data_dir: Path | str | None, *, seed: int = 0, val_fraction: float = 0.1, classes=None,
                  standin_kwargs: dict | None = None) -> MultimodalDataset:
    """VGGSound clips from the layout above (a = audio (N, 1, F, T), b = video (N, 3, T, H, W)).

    ``data_dir=None`` gives the stand-in; a data_dir without ``vggsound/`` is a ConfigError.
    ``classes`` restricts to a list of class names.
    """
    if data_dir is None:
        return load_vggsound_standin(seed=seed, **(standin_kwargs or {}))
    if not 0 <= val_fraction < 1:
        raise ConfigError(f"val_fraction must lie in [0, 1) (some clips must train), got {val_fraction}")
    root = require_subdir(Path(data_dir), SUBDIR, "labels.csv and clips/<clip_id>.npz")
    labels_csv = root / "labels.csv"
    if not labels_csv.exists():
        raise ConfigError(f"{str(labels_csv)!r} not found; write a CSV with header clip_id,label,split")
    with open(labels_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"clip_id", "label", "split"} <= set(rows[0]):
        raise ConfigError(f"{str(labels_csv)!r} needs the columns clip_id,label,split")
    if classes is not None:
        rows = [r for r in rows if r["label"] in set(classes)]
    names = sorted({r["label"] for r in rows})
    index = {name: i for i, name in enumerate(names)}
    parts = {}
    for split in ("train", "test"):
        chosen = [r for r in rows if r["split"].strip() == split]
        if not chosen:
            raise ConfigError(f"no '{split}' rows in {str(labels_csv)!r}; the split column must say train or test")
        paths = [root / "clips" / f"{r['clip_id']}.npz" for r in chosen]
        clips = [read_clip(path) for path in paths]
        for path, (audio, frames) in zip(paths, clips):
            if audio.shape != clips[0][0].shape or frames.shape != clips[0][1].shape:
                raise ConfigError(f"{str(path)!r} has audio {audio.shape} and frames {frames.shape} but "
                                  f"{str(paths[0])!r} has {clips[0][0].shape} and {clips[0][1].shape}; every clip "
                                  "must be extracted with the same spectrogram and frame sizes")
        audio = torch.as_tensor(np.stack([c[0] for c in clips]))[:, None]
        video = _video_tensor(np.stack([c[1] for c in clips]))
        parts[split] = (audio, video, torch.tensor([index[r["label"]] for r in chosen]))
    # the training clips' std standardises every spectrogram: one clip gives none
    why = f"spectrograms are standardised with its std; add train rows or lower val_fraction={val_fraction}"
    require_rows("train", len(parts["train"][2]), 2, file=labels_csv, why=why)
    train_mask, val_mask, _ = random_split(len(parts["train"][2]), seed=seed, val=val_fraction or 0, test=0)
    train_idx, val_idx = np.flatnonzero(train_mask), np.flatnonzero(val_mask)
    require_rows("train", len(train_idx), 2, file=labels_csv, why=why)
    a, b, y = parts["train"]
    mean, std = a[train_idx].mean(), a[train_idx].std()  # one scalar: spectrogram bins share a scale

    def split(xa, xb, yy):
        return MultimodalSplit((xa - mean) / std, xb, yy)

    return MultimodalDataset(split(a[train_idx], b[train_idx], y[train_idx]), split(a[val_idx], b[val_idx], y[val_idx]),
                             split(*parts["test"]), modalities=("audio (spectrogram)", "video (frames)"),
                             num_classes=len(names), source=REAL_SOURCE, ground_truth={"classes": names})


def make_vggsound_standin(*, num_clips: int, seed: int = 0, num_classes: int = 6, freq_bins: int = 32,
                          time_steps: int = 32, num_frames: int = 4, frame_size: int = 16,
                          cue_reliability: float = 0.7, noise: float = 0.5):
    """Tiny synthetic clips; returns (audio (N,1,F,T), video (N,3,T_v,H,W), y, ground_truth)."""
    if num_classes > freq_bins // 4 or 2 * num_classes > (frame_size // 4) ** 2:
        raise ConfigError(f"{num_classes} classes do not fit in {freq_bins} frequency bins / {frame_size}px frames; "
                          "lower num_classes or enlarge the clips")
    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_classes, num_clips)

    def cue():  # the class a cue shows: the true one with probability cue_reliability
        wrong = rng.integers(0, num_classes, num_clips)
        return np.where(rng.random(num_clips) < cue_reliability, y, wrong)

    general, audio_only, video_only = cue(), cue(), cue()
    half = freq_bins // 2
    band = half // num_classes
    envelope = 0.5 + 0.5 * np.abs(np.sin(np.linspace(0, np.pi, time_steps)[None] * rng.uniform(1, 4, (num_clips, 1))
                                         + rng.uniform(0, np.pi, (num_clips, 1))))  # (N, T) loudness of the source
    audio = noise * rng.normal(size=(num_clips, freq_bins, time_steps))
    rows = np.arange(num_clips)
    for offset in range(band):
        audio[rows, general * band + offset] += 2.0 * envelope              # lower half: heard source
        audio[rows, half + audio_only * band + offset] += 1.5                # upper half: audio-only sound
    video = noise * 0.5 * rng.normal(size=(num_clips, num_frames, frame_size, frame_size, 3))
    cells = frame_size // 4
    frame_env = envelope[:, np.linspace(0, time_steps - 1, num_frames).astype(int)]  # source pulses in the frames too
    for i in range(num_clips):
        r, c = divmod(int(general[i]), cells)
        video[i, :, r * 4:(r + 1) * 4, c * 4:(c + 1) * 4, 0] += frame_env[i][:, None, None]  # red blob = the source
        r, c = divmod(int(video_only[i]) + num_classes, cells)
        video[i, :, r * 4:(r + 1) * 4, c * 4:(c + 1) * 4, 2] += 1.0                         # blue patch = silent object
    ground_truth = {"general_rows": (0, half), "audio_specific_rows": (half, freq_bins),
                    "cue_general": general, "cue_audio_only": audio_only, "cue_video_only": video_only}
    audio_t = torch.as_tensor(audio, dtype=torch.float32)[:, None]
    video_t = torch.as_tensor(video, dtype=torch.float32).permute(0, 4, 1, 2, 3).contiguous()
    return audio_t, video_t, torch.as_tensor(y), ground_truth


def load_vggsound_standin(*, seed: int = 0, num_train: int = 192, num_val: int = 64, num_test: int = 96,
                          **kwargs) -> MultimodalDataset:
    """The stand-in as a MultimodalDataset (one draw, cut into train / val / test)."""
    n = num_train + num_val + num_test
    a, b, y, truth = make_vggsound_standin(num_clips=n, seed=seed, **kwargs)
    cuts = [slice(0, num_train), slice(num_train, num_train + num_val), slice(num_train + num_val, n)]
    splits = [MultimodalSplit(a[s], b[s], y[s]) for s in cuts]
    return MultimodalDataset(*splits, modalities=("audio (spectrogram)", "video (frames)"),
                             num_classes=int(kwargs.get("num_classes", 6)), source=STANDIN_SOURCE, ground_truth=truth)


def mean_average_precision(scores: torch.Tensor, labels: torch.Tensor, num_classes: int) -> float:
    """Macro mAP in percent: one-vs-rest average precision per class, averaged over classes present."""
    from sklearn.metrics import average_precision_score

    onehot = np.eye(num_classes)[labels.cpu().numpy()]
    present = onehot.sum(0) > 0
    return 100.0 * float(average_precision_score(onehot[:, present], scores.detach().cpu().numpy()[:, present],
                                                 average="macro"))
