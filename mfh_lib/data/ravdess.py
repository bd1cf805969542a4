"""RAVDESS emotion recognition: real paired features, the original file layout, and a stand-in.

Three ways to get a :class:`~mfh_lib.data.MultimodalDataset` (a = audio, the teacher's modality;
b = face, the student's; y = emotion - 1 in 0..7):

* :func:`load_ravdess` reads the paired features we ship under ``$MFH_DATA_DIR``::

      ravdess_au_mfcc/ravdess_au_mfcc.npz   mfcc (1440, 259) audio MFCC statistics,
                                            au (1440, 35) OpenFace facial action units,
                                            emotion 1..8, actor 1..24, clip_id, ...

  With ``data_dir=None`` it returns the stand-in below, with the same shapes.
* :func:`load_ravdess_original` reads the corpus as distributed by Livingstone & Russo (2018):
  ``Actor_01/03-01-05-01-02-01-01.wav`` ... (audio-only speech zips unpacked side by side), with the
  visual modality taken from per-clip OpenFace CSVs or pre-extracted frames (see its docstring).
* :func:`make_ravdess_standin` is a generator with planted *modality-general* decisive channels
  (shared by audio and face), *modality-specific* ones (one modality only) and pure-noise channels,
  so that a feature ranking (MFH Algorithm 1) can be scored against the truth.

Every split is by actor: no actor appears in two of train / val / test, so a model cannot
recognise the speaker instead of the emotion (the paper split frames at random; see the chapter).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import ConfigError, require_subdir
from . import MultimodalDataset, MultimodalSplit, read_numpy, read_wav, require_rows, validate_array, validate_rows

NUM_CLASSES = 8
NUM_ACTORS = 24
EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
FEATURES_SUBDIR = "ravdess_au_mfcc"
FEATURES_FILE = "ravdess_au_mfcc.npz"
REAL_SOURCE = "RAVDESS (real AU + MFCC features)"
STANDIN_SOURCE = "stand-in (synthetic RAVDESS-shaped, planted modality-general/specific channels)"
FILENAME_FIELDS = ("modality", "vocal_channel", "emotion", "intensity", "statement", "repetition", "actor")


# --------------------------------------------------------------------------------------- splits
def actor_split(actors: np.ndarray, seed: int, num_val_actors: int = 4, num_test_actors: int = 4):
    """Boolean masks (train, val, test) that keep every actor in exactly one split.

    Val and test each get half male (odd ids) and half female (even ids) actors when the counts
    allow, so the emotion classifier is not evaluated on one sex only.
    """
    unique = np.unique(actors)
    if num_val_actors + num_test_actors >= unique.size:
        raise ConfigError(
            f"{num_val_actors} val + {num_test_actors} test actors leave none for training "
            f"({unique.size} actors present); lower num_val_actors / num_test_actors"
        )
    rng = np.random.default_rng(seed)
    male, female = rng.permutation(unique[unique % 2 == 1]), rng.permutation(unique[unique % 2 == 0])
    # Interleave the sexes so any prefix of the order is balanced.
    order = [a for pair in zip(male, female) for a in pair]
    order += [a for a in np.concatenate([male, female]) if a not in order]
    test = np.array(order[:num_test_actors])
    val = np.array(order[num_test_actors:num_test_actors + num_val_actors])
    is_test, is_val = np.isin(actors, test), np.isin(actors, val)
    return ~(is_test | is_val), is_val, is_test


def _standardize(train: np.ndarray, *others: np.ndarray):
    """z-score every array with the *training* mean / std (constant columns keep std 1)."""
    mean, std = train.mean(0), train.std(0)
    std = np.where(std > 1e-8, std, 1.0)
    return [(x - mean) / std for x in (train, *others)]


def _dataset(a, b, y, actors, *, seed, num_val_actors, num_test_actors, standardize_b, source,
             ground_truth=None, file="the generated stand-in") -> MultimodalDataset:
    train, val, test = actor_split(actors, seed, num_val_actors, num_test_actors)
    # training statistics standardise every split: one clip gives no standard deviation
    require_rows("train", int(train.sum()), 2, file=file, why="the features are standardised with its std")
    a_tr, a_va, a_te = _standardize(a[train], a[val], a[test])
    b_tr, b_va, b_te = _standardize(b[train], b[val], b[test]) if standardize_b else (b[train], b[val], b[test])

    def split(xa, xb, mask):
        return MultimodalSplit(torch.as_tensor(xa, dtype=torch.float32), torch.as_tensor(xb, dtype=torch.float32),
                               torch.as_tensor(y[mask], dtype=torch.long))

    return MultimodalDataset(split(a_tr, b_tr, train), split(a_va, b_va, val), split(a_te, b_te, test),
                             modalities=("audio (MFCC statistics)", "face (action units)"),
                             num_classes=NUM_CLASSES, source=source, ground_truth=ground_truth or {})


# ------------------------------------------------------------------------------ shipped features
def load_ravdess(data_dir: Path | str | None, *, seed: int = 0, num_val_actors: int = 4, num_test_actors: int = 4,
                 standardize_b: bool = False, standin_kwargs: dict | None = None) -> MultimodalDataset:
    """RAVDESS paired features split by actor; ``data_dir=None`` gives the stand-in.

    a = MFCC statistics (N, 259), standardised with the training split's statistics; b = OpenFace
    action units (N, 35) as stored (intensities 0..5 and presences 0/1), standardised too when
    ``standardize_b``; y = emotion - 1. ``seed`` picks which actors are held out.
    """
    if data_dir is None:
        return load_ravdess_standin(seed=seed, num_val_actors=num_val_actors, num_test_actors=num_test_actors,
                                    standardize_b=standardize_b, **(standin_kwargs or {}))
    folder = require_subdir(Path(data_dir), FEATURES_SUBDIR, f"{FEATURES_SUBDIR}/{FEATURES_FILE}")
    path = folder / FEATURES_FILE
    if not path.exists():
        raise ConfigError(f"{str(path)!r} not found; expected the paired feature file {FEATURES_FILE} in {str(folder)!r}")
    fix = "expected mfcc (N, D_a) and au (N, D_b) finite features, emotion 1..8 and actor ids >= 1 per clip"
    raw = read_numpy(path, ["mfcc", "au", "emotion", "actor"], expected=f"arrays mfcc, au, emotion, actor ({fix})")
    a = validate_array("mfcc", raw["mfcc"], file=path, shape=("N", "D_a"), fix=fix).astype(np.float64)
    b = validate_array("au", raw["au"], file=path, shape=("N", "D_b"), fix=fix).astype(np.float64)
    y = validate_array("emotion", raw["emotion"], file=path, shape=("N",), integer=True, low=1, high=NUM_CLASSES,
                       fix=fix).astype(np.int64) - 1
    actors = validate_array("actor", raw["actor"], file=path, shape=("N",), integer=True, low=1, fix=fix).astype(np.int64)
    validate_rows(path, mfcc=a, au=b, emotion=y, actor=actors)
    return _dataset(a, b, y, actors, seed=seed, num_val_actors=num_val_actors, num_test_actors=num_test_actors,
                    standardize_b=standardize_b, source=REAL_SOURCE, file=path)


# ----------------------------------------------------------------------------- original layout
def swap_modalities(data: MultimodalDataset) -> MultimodalDataset:
    """The same clips with modalities a and b exchanged (a is always the teacher's): face -> audio."""
    def swap(split):
        return MultimodalSplit(split.b, split.a, split.y)

    return MultimodalDataset(swap(data.train), swap(data.val), swap(data.test), modalities=tuple(data.modalities[::-1]),
                             num_classes=data.num_classes, source=data.source, ground_truth=data.ground_truth)


def parse_ravdess_filename(name: str) -> dict[str, int]:
    """'03-01-05-01-02-01-12.wav' -> {'modality': 3, ..., 'emotion': 5, ..., 'actor': 12}.

    Fields: modality (01 audio-video, 02 video-only, 03 audio-only), vocal channel (01 speech,
    02 song), emotion (01..08), intensity (01 normal, 02 strong), statement (01, 02),
    repetition (01, 02), actor (01..24; odd = male).
    """
    stem = Path(name).name.split(".")[0]
    parts = stem.split("-")
    if len(parts) != 7 or not all(p.isdigit() for p in parts):
        raise ConfigError(f"{name!r} is not a RAVDESS file name (7 two-digit fields like 03-01-05-01-02-01-12.wav)")
    fields = dict(zip(FILENAME_FIELDS, map(int, parts)))
    if not 1 <= fields["emotion"] <= NUM_CLASSES:
        raise ConfigError(f"{name!r}: emotion field must be 01..08, got {parts[2]}")
    return fields


def clip_key(fields: dict[str, int]) -> str:
    """Modality-free id (vocal-emotion-intensity-statement-repetition-actor) pairing a wav with its video."""
    return "-".join(f"{fields[k]:02d}" for k in FILENAME_FIELDS[1:])


MFCC_STATISTICS = ("mean", "std", "min", "max", "q25", "median", "q75")


def mfcc_statistics(wave: np.ndarray, sample_rate: int, n_mfcc: int = 37, target_rate: int = 16000) -> np.ndarray:
    """Utterance-level MFCC statistics: the 7 statistics of MFCC_STATISTICS for each coefficient.

    37 coefficients x 7 statistics = 259 values, the size of the shipped features (whose exact
    recipe is not published; this one is ours). Resampled to 16 kHz first.
    """
    import torchaudio

    x = torch.as_tensor(wave, dtype=torch.float32)
    if sample_rate != target_rate:
        x = torchaudio.functional.resample(x, sample_rate, target_rate)
    mfcc = torchaudio.transforms.MFCC(sample_rate=target_rate, n_mfcc=n_mfcc,
                                      melkwargs={"n_fft": 1024, "hop_length": 256, "n_mels": 64})(x).double()
    q = torch.quantile(mfcc, torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64), dim=1)
    stats = [mfcc.mean(1), mfcc.std(1), mfcc.amin(1), mfcc.amax(1), q[0], q[1], q[2]]
    return torch.stack(stats, dim=1).reshape(-1).numpy()


def openface_au_features(path: Path) -> np.ndarray:
    """Mean over successfully tracked frames of OpenFace's AU columns (AUxx_r then AUxx_c), 35 values."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle, skipinitialspace=True))
    if not rows:
        raise ConfigError(f"{str(path)!r} has no frames; expected an OpenFace FeatureExtraction CSV")
    columns = [c.strip() for c in rows[0]]
    au_cols = sorted(c for c in columns if c.startswith("AU") and c.endswith("_r")) + \
        sorted(c for c in columns if c.startswith("AU") and c.endswith("_c"))
    if not au_cols:
        raise ConfigError(f"{str(path)!r} has no AUxx_r / AUxx_c columns; run OpenFace with -aus")
    rows = [{k.strip(): v for k, v in r.items()} for r in rows]
    ok = [r for r in rows if r.get("success", "1").strip() in ("1", "1.0")] or rows
    return np.array([[float(r[c]) for c in au_cols] for r in ok]).mean(0)


@dataclass
class RavdessClips:
    """What :func:`load_ravdess_original` read, before splitting (arrays aligned by clip)."""
    keys: list[str]
    audio: np.ndarray   # (N, 259) MFCC statistics
    visual: np.ndarray  # (N, 35) action units, or (N, H, W, 3) frames
    emotion: np.ndarray  # 1..8
    actor: np.ndarray


def read_ravdess_clips(root: Path | str, *, visual: str = "au", visual_dir: Path | str | None = None,
                       vocal_channel: int = 1) -> RavdessClips:
    """Read ``root/Actor_XX/*.wav`` (audio-only files, modality 03) and pair each with its visual data.

    ``visual="au"``: ``visual_dir/<key>.csv`` OpenFace output for the clip's video;
    ``visual="frames"``: ``visual_dir/<key>.npy`` one (H, W, 3) uint8 frame (or (T, H, W, 3), the
    middle frame is taken) extracted from the video, e.g. with ffmpeg. ``<key>`` is the file name
    without its first (modality) field, so ``03-01-05-...`` (audio) and ``01-01-05-...`` (video)
    share it. ``visual_dir=None`` looks in ``root/visual``.
    """
    root = Path(root)
    wavs = sorted(root.glob("Actor_[0-9][0-9]/*.wav"))
    if not wavs:
        raise ConfigError(f"no Actor_XX/*.wav under {str(root)!r}; unpack the RAVDESS Audio_Speech_Actors_01-24 zip there")
    if visual not in ("au", "frames"):
        raise ConfigError(f"visual must be 'au' (OpenFace CSVs) or 'frames' (.npy frames), got {visual!r}")
    visual_dir = Path(visual_dir) if visual_dir is not None else root / "visual"
    suffix = ".csv" if visual == "au" else ".npy"
    keys, audio, vis, emotion, actor = [], [], [], [], []
    for wav in wavs:
        fields = parse_ravdess_filename(wav.name)
        if fields["modality"] != 3 or fields["vocal_channel"] != vocal_channel:
            continue
        key = clip_key(fields)
        vpath = visual_dir / f"{key}{suffix}"
        if not vpath.exists():
            raise ConfigError(f"no visual data for {wav.name}: expected {str(vpath)!r} "
                              f"({'OpenFace CSV' if visual == 'au' else 'uint8 frame array'} named by the clip key)")
        wave, rate = read_wav(wav)
        audio.append(mfcc_statistics(wave, rate))
        if visual == "au":
            features = validate_array("action units", openface_au_features(vpath), file=vpath, shape=("D",),
                                      fix="expected finite OpenFace AU columns")
        else:
            frames = read_numpy(vpath, expected="a uint8 frame array (H, W, 3) or (T, H, W, 3)")
            features = frames[frames.shape[0] // 2] if frames.ndim == 4 else frames
            validate_array("frame", features, file=vpath, shape=("H", "W", 3), low=0, high=255,
                           fix="expected a uint8 RGB frame (H, W, 3) or frames (T, H, W, 3)")
        if vis and features.shape != vis[0].shape:
            raise ConfigError(f"{str(vpath)!r} has shape {features.shape} but earlier clips have {vis[0].shape}; "
                              "every clip's visual data must have the same shape")
        vis.append(features)
        keys.append(key)
        emotion.append(fields["emotion"])
        actor.append(fields["actor"])
    if not keys:
        raise ConfigError(f"no audio-only (03-...) files with vocal channel {vocal_channel:02d} under {str(root)!r}")
    return RavdessClips(keys, np.stack(audio), np.stack(vis), np.array(emotion), np.array(actor))


def load_ravdess_original(root: Path | str, *, seed: int = 0, visual: str = "au", visual_dir: Path | str | None = None,
                          num_val_actors: int = 4, num_test_actors: int = 4) -> MultimodalDataset:
    """The original corpus as a MultimodalDataset (see :func:`read_ravdess_clips` for the layout).

    Frames become b = (N, 3, H, W) floats in [0, 1]; action units b = (N, 35) standardised.
    """
    clips = read_ravdess_clips(root, visual=visual, visual_dir=visual_dir)
    b = clips.visual.astype(np.float64)
    if visual == "frames":
        b = b.transpose(0, 3, 1, 2) / 255.0
    return _dataset(clips.audio, b, clips.emotion - 1, clips.actor, seed=seed, num_val_actors=num_val_actors,
                    num_test_actors=num_test_actors, standardize_b=visual == "au",
                    source="RAVDESS (original files, our MFCC statistics)", file=root)


# ------------------------------------------------------------------------------------ stand-in
def make_ravdess_standin(*, seed: int = 0, clips_per_actor: int = 60, num_actors: int = NUM_ACTORS,
                         d_a: int = 259, d_b: int = 35, num_general: int = 16, num_specific_a: int = 16,
                         num_specific_b: int = 8, class_separation: float = 0.6, channel_noise: float = 0.5,
                         actor_shift: float = 0.3):
    """RAVDESS-shaped synthetic features with planted decisive channels.

    Per clip, an emotion y and three groups of decisive latent factors are drawn, each
    ``N(mu_k[y], I)`` with class means ``mu_k ~ N(0, class_separation^2)``:

    * z_g (``num_general``): copied, with independent noise, into channels of BOTH a and b:
      modality-general decisive features;
    * z_a (``num_specific_a``): into channels of a only (modality-specific to the teacher);
    * z_b (``num_specific_b``): into channels of b only.

    The remaining channels are pure noise; each actor adds a constant offset to every channel
    (speaker identity, label-irrelevant). Channel positions are shuffled; ``ground_truth`` gives them.
    Returns (a, b, y, actors, ground_truth) as numpy arrays and a dict.
    """
    if num_general + num_specific_a > d_a or num_general + num_specific_b > d_b:
        raise ConfigError(f"planted channels do not fit: need num_general + num_specific_a <= d_a ({d_a}) and "
                          f"num_general + num_specific_b <= d_b ({d_b})")
    rng = np.random.default_rng(seed)
    n = clips_per_actor * num_actors
    actors = np.repeat(np.arange(1, num_actors + 1), clips_per_actor)
    y = rng.integers(0, NUM_CLASSES, n)

    def latent(k):
        means = rng.normal(0.0, class_separation, (NUM_CLASSES, k))
        return means[y] + rng.normal(size=(n, k))

    z_g, z_a, z_b = latent(num_general), latent(num_specific_a), latent(num_specific_b)

    def modality(d, shared, own):
        x = rng.normal(size=(n, d))
        cols = rng.permutation(d)
        general_cols, own_cols = cols[:num_general], cols[num_general:num_general + own.shape[1]]
        x[:, general_cols] = shared + channel_noise * rng.normal(size=shared.shape)
        x[:, own_cols] = own + channel_noise * rng.normal(size=own.shape)
        x += actor_shift * rng.normal(size=(num_actors, d))[actors - 1]
        return x, np.sort(general_cols), np.sort(own_cols)

    a, general_a, specific_a = modality(d_a, z_g, z_a)
    b, general_b, specific_b = modality(d_b, z_g, z_b)
    ground_truth = {"general_a": general_a, "specific_a": specific_a, "general_b": general_b,
                    "specific_b": specific_b}
    return a, b, y, actors, ground_truth


def load_ravdess_standin(*, seed: int = 0, num_val_actors: int = 4, num_test_actors: int = 4,
                         standardize_b: bool = False, **kwargs) -> MultimodalDataset:
    """The stand-in as a MultimodalDataset; the generator and the actor split share ``seed``."""
    a, b, y, actors, truth = make_ravdess_standin(seed=seed, **kwargs)
    return _dataset(a, b, y, actors, seed=seed, num_val_actors=num_val_actors, num_test_actors=num_test_actors,
                    standardize_b=standardize_b, source=STANDIN_SOURCE, ground_truth=truth)
