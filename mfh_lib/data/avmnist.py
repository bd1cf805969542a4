"""AV-MNIST (Vielzeuf et al., 2018): digit images paired by class with spoken digits.

The original dataset pairs MNIST images with 75% of their PCA energy removed and TIDIGITS
spectrograms with natural noise injected. TIDIGITS is licensed (LDC) and cannot be downloaded,
so :func:`load_avmnist` reads, in this order of preference, from ``data_dir``:

1. ``avmnist/`` — the MultiBench ``.npy`` layout of the original dataset, for users who have it::

       avmnist/image/train_data.npy   (N, 784)  uint8 or float, 0..255
       avmnist/image/test_data.npy
       avmnist/audio/train_data.npy   (N, 112, 112) spectrograms, 0..255
       avmnist/audio/test_data.npy
       avmnist/train_labels.npy       (N,)
       avmnist/test_labels.npy

   MultiBench's split is train 0:55000, validation 55000:60000, test = the 10,000 test pairs.

2. "open AV-MNIST", built here from public data with the same recipe:

       mnist/mnist.npz                       (x_train, y_train, x_test, y_test), or the original
       mnist/train-images-idx3-ubyte[.gz]    idx files (train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
                                             t10k-labels-idx1-ubyte), gzipped or not
       fsdd/recordings/{digit}_{speaker}_{index}.wav   (a clone of the Free Spoken Digit Dataset)

   * images: MNIST with the leading principal components kept until they hold 25% of the
     training set's pixel variance (PCA "energy"), i.e. 75% of the energy removed;
   * audio: FSDD recordings (8 kHz) cropped/padded to ``clip_seconds``, coloured noise
     (1/f^beta, beta ~ U[0, 2], white to brown; the original used natural recordings, which we do not
     have) injected at a random SNR, then a log-mel spectrogram with ``n_mels`` bands and ``num_frames``
     frames (torchaudio);
   * pairs: every image gets a random recording of the same digit, with a fresh noise draw, so the
     two modalities share only the label — as in the original, which paired by class at random;
   * speakers: the FSDD speakers in ``test_speakers`` are held out: their recordings only appear in
     test pairs (MultiBench also holds out one speaker). Train and validation pairs use the others.
   * utterances: the other speakers' recordings are split, per digit, into disjoint pools: a
     ``held_out_utterances`` share for validation, the same share for a *seen-speaker* test split,
     the rest for training. No recording heard in training is in a validation or test pair, so
     "best validation epoch" selects on unheard utterances. The seen-speaker test pairs (same images
     as the held-out-speaker test pairs, other audio) are ``ground_truth["test_seen"]``, an
     in-distribution test split beside the cross-speaker one.

Without a data directory, :func:`load_avmnist` returns an embedded stand-in: scikit-learn's bundled
8x8 digits (1,797 images, upsampled to 28x28, same PCA energy removal) paired with synthetic
spoken digits — harmonic vowel segments with digit-specific formant tracks and fricative noise
bursts, rendered by synthetic speakers (pitch, vocal-tract scale, speaking rate), then noised and
turned into spectrograms exactly like the real recordings.

The built arrays are cached (:class:`mfh_lib.cache.ResultsCache`, namespace ``avmnist_data``, keyed by
the bytes of every file read and the settings), so only the first call pays for the spectrograms.
"""
from __future__ import annotations

import functools
import gzip
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..cache import ResultsCache
from ..config import ConfigError, check_unit_interval, require_subdir
from . import (MultimodalDataset, MultimodalSplit, content_digest, file_digest, read_numpy, read_wav as read_mono_wav,
               validate_array, validate_rows)
from .splits import group_split

SAMPLE_RATE = 8000
FSDD_SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
WAV_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")
MNIST_IDX = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
SOURCE_OPEN = "open AV-MNIST: MNIST + FSDD (real)"
SOURCE_MULTIBENCH = "AV-MNIST (MultiBench .npy, original)"
SOURCE_STANDIN = "stand-in (sklearn 8x8 digits + synthetic spoken digits)"
HELD_OUT, SEEN = "held-out speaker", "seen speakers"  # the names of the two test splits


# ----------------------------------------------------------------------------- readers
def read_idx(path: Path) -> np.ndarray:
    """Read one MNIST idx file (``.gz`` or raw): magic (0, 0, dtype 0x08, ndim), big-endian dims, data."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ConfigError(f"{str(path)!r} is not an unsigned-byte MNIST idx file; re-download it from the MNIST site")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ConfigError(f"{str(path)!r} is truncated: header says {dims}, found {data.size} bytes")
    return data.reshape(dims)


def mnist_files(mnist_dir: Path) -> dict[str, Path]:
    """Where each MNIST array is read from: ``mnist.npz`` for all four, else the four idx files."""
    npz = mnist_dir / "mnist.npz"
    if npz.exists():
        return {key: npz for key in MNIST_IDX}
    files = {}
    for key, stem in MNIST_IDX.items():
        # Some mirrors name the files t10k-images.idx3-ubyte; accept both separators.
        candidates = [mnist_dir / f"{name}{ext}" for name in (stem, stem.replace("-idx", ".idx")) for ext in ("", ".gz")]
        found = next((c for c in candidates if c.exists()), None)
        if found is None:
            raise ConfigError(
                f"no MNIST in {str(mnist_dir)!r}: expected mnist.npz (x_train, y_train, x_test, y_test) or the "
                f"original idx files ({', '.join(MNIST_IDX.values())}, optionally .gz)"
            )
        files[key] = found
    return files


def read_mnist(mnist_dir: Path) -> dict[str, np.ndarray]:
    """MNIST from ``mnist.npz`` or the four original idx files (gzipped or not), validated."""
    files = mnist_files(mnist_dir)
    fix = "expected MNIST: images (N, 28, 28) with values 0..255 and labels 0..9 covering every digit"
    if files["x_train"].suffix == ".npz":
        arrays = read_numpy(files["x_train"], list(MNIST_IDX), expected=f"x_train, y_train, x_test, y_test ({fix})")
    else:
        arrays = {key: read_idx(path) for key, path in files.items()}
    for split in ("train", "test"):
        x, y = f"x_{split}", f"y_{split}"
        validate_array(x, arrays[x], file=files[x], shape=("N", 28, 28), low=0, high=255, fix=fix)
        labels = validate_array(y, arrays[y], file=files[y], shape=("N",), integer=True, low=0, high=9, fix=fix)
        validate_rows(files[x] if files[x] == files[y] else mnist_dir, **{x: arrays[x], y: arrays[y]})
        missing = sorted(set(range(10)) - set(np.unique(labels).astype(int).tolist()))
        if missing:
            raise ConfigError(f"{str(files[y])!r}: field {y!r} has no sample of digit(s) {missing}; {fix}")
    return arrays


def read_wav(path: Path) -> np.ndarray:
    """A mono FSDD recording as float32 in [-1, 1]; a rate other than 8 kHz is a ConfigError."""
    data, rate = read_mono_wav(path)
    if rate != SAMPLE_RATE:
        raise ConfigError(f"{str(path)!r} has sample rate {rate}; FSDD recordings are {SAMPLE_RATE} Hz")
    return data


def fsdd_files(fsdd_dir: Path) -> list[Path]:
    """The FSDD recordings ``fsdd_dir/recordings/{digit}_{speaker}_{index}.wav``, sorted by name."""
    recordings = require_subdir(fsdd_dir, "recordings", "the Free Spoken Digit Dataset's recordings/ folder of {digit}_{speaker}_{index}.wav")
    files = sorted(p for p in recordings.iterdir() if WAV_NAME.match(p.name))
    if not files:
        raise ConfigError(f"no {{digit}}_{{speaker}}_{{index}}.wav files in {str(recordings)!r}; clone the FSDD repository there")
    return files


def read_fsdd(fsdd_dir: Path) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """FSDD recordings (sorted by file name), their digits and their speakers."""
    files = fsdd_files(fsdd_dir)
    parts = [WAV_NAME.match(p.name).groups() for p in files]
    digits = np.array([int(d) for d, _, _ in parts], dtype=np.int64)
    speakers = np.array([s for _, s, _ in parts])
    return [read_wav(p) for p in files], digits, speakers


@functools.lru_cache(maxsize=1)
def read_sources(mnist_dir: Path, fsdd_dir: Path, digest: str):
    """MNIST and FSDD, read once per process for the data draws of one study (``digest``: the
    files' content, so edited files are read again)."""
    return read_mnist(mnist_dir), read_fsdd(fsdd_dir)


# ----------------------------------------------------------------------------- transforms
def pca_energy_filter(train_images: np.ndarray, energy_removed: float,
                      num_components: int | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Mean and the leading principal directions that keep (1 - energy_removed) of the pixel variance.

    Returns (mean (D,), components (k, D), k). The kept energy is the fraction of the summed
    eigenvalues of the training images' covariance; k is the smallest count reaching it.
    ``num_components`` (e.g. 196, as MultiBench's build is described) fixes k instead.
    """
    check_unit_interval("energy_removed", energy_removed)
    if num_components is not None and not 1 <= int(num_components) <= train_images[0].size:
        raise ConfigError(f"pca_components must lie in [1, {train_images[0].size}], got {num_components}")
    x = train_images.reshape(len(train_images), -1).astype(np.float64)
    mean = x.mean(axis=0)
    cov = np.cov(x - mean, rowvar=False)
    eigvals, eigvecs = np.linalg.eigh(cov)
    order = np.argsort(eigvals)[::-1]
    eigvals, eigvecs = eigvals[order], eigvecs[:, order]
    # Fix the sign of each direction so the projection does not depend on the LAPACK build.
    eigvecs *= np.sign(eigvecs[np.abs(eigvecs).argmax(axis=0), np.arange(eigvecs.shape[1])])
    kept = np.cumsum(eigvals) / eigvals.sum()
    k = int(np.searchsorted(kept, 1.0 - energy_removed - 1e-12) + 1) if num_components is None else int(num_components)
    return mean, eigvecs[:, :k].T, k


def energy_kept(train_images: np.ndarray, mean: np.ndarray, components: np.ndarray) -> float:
    """Share of the images' pixel variance that their projection onto ``components`` (k, D) keeps."""
    x = train_images.reshape(len(train_images), -1).astype(np.float64) - mean
    return float(((x @ components.T) ** 2).sum() / (x ** 2).sum())


def apply_pca_filter(images: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    """Project onto the kept principal directions and reconstruct (N, 28, 28) float32."""
    shape = images.shape
    x = images.reshape(len(images), -1).astype(np.float64) - mean
    return ((x @ components.T) @ components + mean).reshape(shape).astype(np.float32)


def fit_clip(waveform: np.ndarray, length: int) -> np.ndarray:
    """Centre-crop or zero-pad (symmetrically) to ``length`` samples."""
    n = len(waveform)
    if n >= length:
        start = (n - length) // 2
        return waveform[start:start + length]
    left = (length - n) // 2
    return np.pad(waveform, (left, length - n - left))


def coloured_noise(shape: tuple[int, int], beta: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Rows of unit-RMS noise with power spectrum ~ 1/f^beta (beta 0 white, 1 pink, 2 brown)."""
    num, length = shape
    spectrum = torch.fft.rfft(torch.randn(shape, generator=generator), dim=1)
    freqs = torch.fft.rfftfreq(length)
    freqs[0] = freqs[1]  # avoid dividing by zero at DC
    noise = torch.fft.irfft(spectrum * freqs[None, :] ** (-beta[:, None] / 2), n=length, dim=1)
    return noise / noise.std(dim=1, keepdim=True)


def noisy_spectrograms(clips: np.ndarray, rng: np.random.Generator, *, snr_db: tuple[float, float], n_mels: int,
                       num_frames: int, chunk: int = 2048) -> np.ndarray:
    """Inject coloured noise at a random SNR into each clip and return log-mel spectrograms (N, 1, F, T)."""
    import torchaudio

    length = clips.shape[1]
    n_fft = 256  # 32 ms windows at 8 kHz
    hop = max(1, length // num_frames)
    mel = torchaudio.transforms.MelSpectrogram(sample_rate=SAMPLE_RATE, n_fft=n_fft, hop_length=hop,
                                               n_mels=n_mels, f_min=50.0, f_max=SAMPLE_RATE / 2)
    out = np.empty((len(clips), 1, n_mels, num_frames), dtype=np.float32)
    generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
    # One thread: multi-threaded FFTs sum in a varying order, and spectrograms that differ in the
    # last bits change the data's content hash and, through training, every result.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _fill_spectrograms(out, clips, rng, generator, mel, snr_db, num_frames, chunk)
    finally:
        torch.set_num_threads(threads)
    return out


def _fill_spectrograms(out, clips, rng, generator, mel, snr_db, num_frames, chunk) -> None:
    for start in range(0, len(clips), chunk):
        part = torch.from_numpy(clips[start:start + chunk])
        num = len(part)
        beta = torch.from_numpy(rng.uniform(0.0, 2.0, num)).float()
        snr = torch.from_numpy(rng.uniform(snr_db[0], snr_db[1], num)).float()
        signal_rms = part.pow(2).mean(dim=1).sqrt() + 1e-8
        noise = coloured_noise(tuple(part.shape), beta, generator) * (signal_rms / 10 ** (snr / 20))[:, None]
        with torch.no_grad():
            power = mel(part + noise)[..., :num_frames]
        out[start:start + num, 0] = torch.log(power + 1e-6).numpy()


# ----------------------------------------------------------------------------- synthetic speech (stand-in)
# Each digit is a sequence of segments: ("v", F1, F2, F3) a voiced vowel-like segment with formants in Hz,
# or ("f", centre) a fricative noise burst around a centre frequency; the last number is the relative duration.
# Formants loosely follow the digits' English vowels so that classes differ the way real words do.
DIGIT_SEGMENTS = {
    0: [("f", 3500, 0.25), ("v", 400, 2000, 2600, 0.35), ("v", 500, 1000, 2400, 0.4)],   # z-ee-ro
    1: [("v", 600, 1200, 2500, 0.6), ("v", 300, 1600, 2500, 0.4)],                      # w-uh-n
    2: [("f", 2500, 0.15), ("v", 320, 900, 2300, 0.85)],                                # t-oo
    3: [("f", 1800, 0.25), ("v", 500, 1400, 1700, 0.2), ("v", 280, 2250, 2900, 0.55)],   # th-r-ee
    4: [("f", 1400, 0.25), ("v", 500, 850, 2500, 0.75)],                                # f-o-r
    5: [("f", 1400, 0.2), ("v", 750, 1300, 2500, 0.45), ("v", 350, 2100, 2700, 0.35)],   # f-ai-v
    6: [("f", 4200, 0.3), ("v", 400, 1950, 2600, 0.4), ("f", 3600, 0.3)],                # s-i-ks
    7: [("f", 4200, 0.25), ("v", 550, 1750, 2500, 0.3), ("v", 450, 1500, 2500, 0.45)],   # s-e-ven
    8: [("v", 450, 2000, 2600, 0.8), ("f", 2600, 0.2)],                                 # ei-t
    9: [("v", 300, 1500, 2400, 0.2), ("v", 750, 1300, 2500, 0.4), ("v", 350, 1900, 2600, 0.4)],  # n-ai-n
}


def synthesize_digit(digit: int, pitch: float, formant_scale: float, duration: float, rng: np.random.Generator,
                     accent: np.ndarray | None = None) -> np.ndarray:
    """A synthetic utterance of ``digit`` (float32 at 8 kHz): harmonics shaped by formants, plus fricatives.

    ``accent`` (segments, 4): the speaker's multiplicative deviations of each segment's three
    formants (or fricative centre) and of its duration weight; None = the textbook pronunciation.
    """
    segments = DIGIT_SEGMENTS[digit]
    accent = np.ones((len(segments), 4)) if accent is None else accent
    weights = np.array([s[-1] for s in segments]) * accent[:, 3] * rng.uniform(0.8, 1.2, len(segments))
    lengths = np.maximum((weights / weights.sum() * duration * SAMPLE_RATE).astype(int), 64)
    pieces = []
    phase = 0.0
    for (kind, *params), n, deviation in zip(segments, lengths, accent):
        t = np.arange(n) / SAMPLE_RATE
        if kind == "v":
            formants = np.array(params[:3]) * deviation[:3] * formant_scale * rng.uniform(0.9, 1.1, 3)
            f0 = pitch * rng.uniform(0.95, 1.05) * (1 - 0.1 * t / max(t[-1], 1e-3))  # slightly falling pitch
            inst_phase = phase + 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
            phase = inst_phase[-1]
            harmonics = np.arange(1, int(SAMPLE_RATE / 2 / pitch))
            gain = np.exp(-((harmonics[:, None] * pitch - formants[None, :]) ** 2) / (2 * 120.0**2)).sum(axis=1)
            gain *= 1.0 / harmonics  # glottal source roll-off
            wave = (gain[:, None] * np.sin(harmonics[:, None] * inst_phase[None, :])).sum(axis=0)
            wave /= np.abs(wave).max() + 1e-8
        else:
            centre = params[0] * deviation[0] * formant_scale
            spectrum = np.fft.rfft(rng.standard_normal(n))
            freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
            spectrum *= np.exp(-((freqs - centre) ** 2) / (2 * (0.2 * centre) ** 2))
            wave = np.fft.irfft(spectrum, n=n)
            wave = 0.4 * wave / (np.abs(wave).max() + 1e-8)
        envelope = np.sin(np.pi * np.linspace(0, 1, n)) ** 0.5  # smooth on/offsets
        pieces.append(wave * envelope)
    return (0.5 * np.concatenate(pieces)).astype(np.float32)


def synthetic_fsdd(num_speakers: int, per_digit: int, seed: int, accent_spread: float = 0.2) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """A synthetic FSDD: ``num_speakers`` speakers x 10 digits x ``per_digit`` takes, named spk0, spk1, ...

    Each speaker has a pitch, a vocal-tract scale, a speaking rate and an accent: per digit and
    segment, formant and duration deviations of up to ``accent_spread``. Accents are what make a
    held-out speaker harder than the training speakers, as in real speech.
    """
    rng = np.random.default_rng(seed)
    waves, digits, speakers = [], [], []
    for s in range(num_speakers):
        pitch, scale, rate = rng.uniform(90, 240), rng.uniform(0.85, 1.2), rng.uniform(0.35, 0.6)
        accents = {d: rng.uniform(1 - accent_spread, 1 + accent_spread, (len(seg), 4)) for d, seg in DIGIT_SEGMENTS.items()}
        for digit in range(10):
            for _ in range(per_digit):
                waves.append(synthesize_digit(digit, pitch * rng.uniform(0.95, 1.05), scale,
                                              rate * rng.uniform(0.85, 1.15), rng, accents[digit]))
                digits.append(digit)
                speakers.append(f"spk{s}")
    return waves, np.array(digits, dtype=np.int64), np.array(speakers)


def standin_images(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits upsampled to 28x28 in [0, 255], split 80/20 into train/test pools."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.from_numpy(digits.images.astype(np.float32) / 16.0)[:, None]
    images = F.interpolate(F.pad(images, (1, 1, 1, 1)), size=(28, 28), mode="bilinear", align_corners=False)
    images = (images[:, 0].clamp(0, 1) * 255).numpy()
    order = np.random.default_rng(seed).permutation(len(images))
    cut = int(0.8 * len(images))
    train, test = order[:cut], order[cut:]
    return images[train], digits.target[train].astype(np.int64), images[test], digits.target[test].astype(np.int64)


# ----------------------------------------------------------------------------- assembly
def pair_by_class(image_labels: np.ndarray, audio_labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each image, a random recording index of the same class (recordings are reused across pairs)."""
    out = np.empty(len(image_labels), dtype=np.int64)
    for digit in np.unique(image_labels):
        pool = np.flatnonzero(audio_labels == digit)
        if pool.size == 0:
            raise ConfigError(f"no recording of digit {digit} in this split; check test_speakers and the FSDD folder")
        rows = np.flatnonzero(image_labels == digit)
        out[rows] = pool[rng.integers(0, pool.size, rows.size)]
    return out


def draw(n: int, pool_size: int, rng: np.random.Generator) -> np.ndarray:
    """n indices into a pool: without replacement when the pool is large enough."""
    return rng.choice(pool_size, size=n, replace=n > pool_size)


def split_utterances(recordings: np.ndarray, digits: np.ndarray, share: float,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Disjoint (train, val, test) pools of the recording indices ``recordings``, per digit: a
    ``share`` of each digit's recordings (at least one) for validation, as many for test, the rest
    (at least one) for training."""
    if not 0 < share < 0.5:
        raise ConfigError(f"held_out_utterances must lie in (0, 0.5), got {share}")
    pools = ([], [], [])
    for digit in np.unique(digits[recordings]):
        own = recordings[digits[recordings] == digit]
        k = max(1, int(round(share * len(own))))
        if len(own) < 2 * k + 1:
            raise ConfigError(f"digit {digit} has {len(own)} recordings of the training speakers: too few for "
                              "disjoint train / validation / test utterances")
        # every recording is its own group: group_split keeps each in exactly one pool
        masks = group_split(own, seed=int(rng.integers(2**31)), val=k, test=k)
        for pool, mask in zip(pools, masks):
            pool.append(own[mask])
    return tuple(np.sort(np.concatenate(p)) for p in pools)


def build_pairs(images_train, labels_train, images_test, labels_test, waves, wave_digits, wave_speakers, *,
                num_train, num_val, num_test, seed, test_speakers, energy_removed, snr_db, n_mels, num_frames,
                clip_seconds, held_out_utterances, pca_components=None) -> dict:
    """The arrays of (open or stand-in) AV-MNIST: PCA-filtered images, noisy spectrograms, labels,
    and per pair the speaker and the index of the recording used (``recording``)."""
    rng = np.random.default_rng(seed)
    clip = int(clip_seconds * SAMPLE_RATE)
    clips = np.stack([fit_clip(w, clip) for w in waves])
    is_test_speaker = np.isin(wave_speakers, list(test_speakers))
    if not is_test_speaker.any() or is_test_speaker.all():
        raise ConfigError(f"test_speakers={list(test_speakers)} must name some but not all speakers; found {sorted(set(wave_speakers))}")
    fit_rows = draw(num_train + num_val, len(images_train), rng)
    test_rows = draw(num_test, len(images_test), rng)
    # PCA is fitted on the training and validation images in use (all 60,000 at full scale).
    fit_images = images_train[np.unique(fit_rows)] / 255.0
    mean, components, k = pca_energy_filter(fit_images, energy_removed, pca_components)
    train_audio, val_audio, seen_test_audio = split_utterances(np.flatnonzero(~is_test_speaker), wave_digits,
                                                               held_out_utterances, rng)
    arrays = {"pca_components": k, "pca_energy_kept": energy_kept(fit_images, mean, components)}
    for name, image_pool, label_pool, rows, audio_pool in (
        ("train", images_train, labels_train, fit_rows[:num_train], train_audio),
        ("val", images_train, labels_train, fit_rows[num_train:], val_audio),
        ("test", images_test, labels_test, test_rows, np.flatnonzero(is_test_speaker)),
        # the same test images, paired with unheard utterances of the training speakers
        ("test_seen", images_test, labels_test, test_rows, seen_test_audio),
    ):
        labels = label_pool[rows]
        audio_rows = audio_pool[pair_by_class(labels, wave_digits[audio_pool], rng)]
        arrays[name] = {
            "a": apply_pca_filter(image_pool[rows] / 255.0, mean, components)[:, None],
            "b": noisy_spectrograms(clips[audio_rows], rng, snr_db=snr_db, n_mels=n_mels, num_frames=num_frames),
            "y": labels.astype(np.int64),
            "speaker": wave_speakers[audio_rows],
            "recording": audio_rows,
        }
    return arrays


def standardise(arrays: dict) -> dict:
    """Zero-mean unit-variance per modality with the training pairs' statistics (one scalar each)."""
    splits = [s for s in ("train", "val", "test", "test_seen") if s in arrays]
    for key in ("a", "b"):
        mu, sd = arrays["train"][key].mean(), arrays["train"][key].std() + 1e-8
        for split in splits:
            arrays[split][key] = ((arrays[split][key] - mu) / sd).astype(np.float32)
    return arrays


def to_split(arrays: dict) -> MultimodalSplit:
    return MultimodalSplit(torch.from_numpy(arrays["a"]), torch.from_numpy(arrays["b"]), torch.from_numpy(arrays["y"]).long())


def to_dataset(arrays: dict, source: str, ground_truth: dict) -> MultimodalDataset:
    splits = [to_split(arrays[s]) for s in ("train", "val", "test")]
    return MultimodalDataset(*splits, modalities=("image", "audio"), num_classes=10, source=source, ground_truth=ground_truth)


def load_multibench(avmnist_dir: Path, *, num_train: int | None, num_val: int | None, num_test: int | None,
                    seed: int) -> dict:
    """The MultiBench ``.npy`` files: train 0:55000 / val 55000:60000 split as MultiBench does, then subsets."""
    files = {f"{m}_{s}": avmnist_dir / m / f"{s}_data.npy" for m in ("image", "audio") for s in ("train", "test")}
    files.update({f"labels_{s}": avmnist_dir / f"{s}_labels.npy" for s in ("train", "test")})
    missing = [str(p.relative_to(avmnist_dir)) for p in files.values() if not p.exists()]
    if missing:
        raise ConfigError(f"{str(avmnist_dir)!r} lacks {missing}; expected MultiBench's AV-MNIST layout "
                          "image/{train,test}_data.npy, audio/{train,test}_data.npy, {train,test}_labels.npy")
    fix = "expected MultiBench's AV-MNIST: images (N, 784), spectrograms (N, F, T), both 0..255, labels 0..9"
    data = {key: read_numpy(path, expected=fix) for key, path in files.items()}
    for split in ("train", "test"):
        image, audio, labels = f"image_{split}", f"audio_{split}", f"labels_{split}"
        image_shape = ("N", 784) if data[image].ndim == 2 else ("N", 28, 28)
        validate_array("images", data[image], file=files[image], shape=image_shape, low=0, high=255, fix=fix)
        validate_array("spectrograms", data[audio], file=files[audio], shape=("N", "F", "T"), low=0, high=255, fix=fix)
        validate_array("labels", data[labels], file=files[labels], shape=("N",), integer=True, low=0, high=9, fix=fix)
        validate_rows(avmnist_dir, **{str(files[k].relative_to(avmnist_dir)): data[k] for k in (image, audio, labels)})
    num_val_full = max(1, len(data["labels_train"]) * 5000 // 60000)
    cut = len(data["labels_train"]) - num_val_full
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, split, lo, hi, n in (("train", "train", 0, cut, num_train), ("val", "train", cut, None, num_val),
                                   ("test", "test", 0, None, num_test)):
        labels = data[f"labels_{split}"][lo:hi]
        rows = np.arange(len(labels)) if n is None or n >= len(labels) else np.sort(rng.choice(len(labels), n, replace=False))
        image = data[f"image_{split}"][lo:hi][rows].reshape(len(rows), 1, 28, 28).astype(np.float32) / 255.0
        audio = data[f"audio_{split}"][lo:hi][rows].astype(np.float32)
        audio = audio.reshape(len(rows), 1, *audio.shape[-2:]) / 255.0
        arrays[name] = {"a": image, "b": audio, "y": labels[rows].astype(np.int64)}
    return arrays


def load_avmnist(
    data_dir: Path | str | None,
    *,
    num_train: int = 50000,
    num_val: int = 5000,
    num_test: int = 10000,
    seed: int = 0,
    layout: str = "auto",
    test_speakers: tuple[str, ...] = ("theo",),
    energy_removed: float = 0.75,
    snr_db: tuple[float, float] = (0.0, 10.0),
    n_mels: int = 32,
    num_frames: int = 32,
    clip_seconds: float = 0.75,
    held_out_utterances: float = 0.15,
    pca_components: int | None = None,
    cache: bool = True,
) -> MultimodalDataset:
    """AV-MNIST as a :class:`MultimodalDataset`: ``a`` = image (N, 1, 28, 28), ``b`` = audio (N, 1, F, T), ``y`` (N,).

    ``layout``: "auto" (MultiBench files if ``data_dir/avmnist`` exists, else open AV-MNIST from
    ``mnist/`` + ``fsdd/``), "multibench", "open", or "standin"; ``data_dir=None`` means the stand-in.
    Both modalities are standardised with the training pairs' mean and std. ``seed`` fixes which
    images are used, the pairing and the noise. ``ground_truth`` reports the PCA components kept and
    the speakers of each split (open / stand-in builds), the recordings each split uses
    (``{split}_recordings``, disjoint between train, val and the seen-speaker test) and the
    seen-speaker test split ``test_seen``; ``held_out_utterances`` is the share of the training
    speakers' recordings kept out of training for validation (and as much for ``test_seen``).
    Sizes default to the paper's 50,000 / 5,000 / 10,000 pairs (App. B.1). ``pca_components``
    keeps that many principal components instead of removing ``energy_removed`` of the energy.
    """
    if layout not in ("auto", "multibench", "open", "standin"):
        raise ConfigError(f"unknown AV-MNIST layout {layout!r}; use 'auto', 'multibench', 'open' or 'standin'")
    for name, value in (("num_train", num_train), ("num_val", num_val), ("num_test", num_test)):
        if int(value) < 1:
            raise ConfigError(f"{name} must be a positive number of pairs, got {value}")
    if data_dir is None and layout in ("multibench", "open"):
        raise ConfigError(f"layout={layout!r} needs a data directory: set data_dir or $MFH_DATA_DIR")
    data_dir = None if data_dir is None or layout == "standin" else Path(data_dir)
    if data_dir is not None and layout == "auto":
        layout = "multibench" if (data_dir / "avmnist").is_dir() else "open"
    if data_dir is None:
        layout = "standin"
    if layout == "multibench":
        arrays = load_multibench(require_subdir(data_dir, "avmnist", "MultiBench's AV-MNIST .npy folder"),
                                 num_train=num_train, num_val=num_val, num_test=num_test, seed=seed)
        return to_dataset(standardise(arrays), SOURCE_MULTIBENCH, {})

    settings = dict(num_train=int(num_train), num_val=int(num_val), num_test=int(num_test), seed=int(seed),
                    energy_removed=float(energy_removed), snr_db=tuple(float(s) for s in snr_db), n_mels=int(n_mels),
                    num_frames=int(num_frames), clip_seconds=float(clip_seconds),
                    held_out_utterances=float(held_out_utterances),
                    pca_components=None if pca_components is None else int(pca_components))
    if layout == "open":
        mnist_dir = require_subdir(data_dir, "mnist", "mnist.npz or the original MNIST idx files")
        fsdd_dir = require_subdir(data_dir, "fsdd", "a clone of the Free Spoken Digit Dataset (fsdd/recordings/*.wav)")
        # The key is the content of every file read (not the folder's name), so edited data are rebuilt.
        inputs = sorted(set(mnist_files(mnist_dir).values())) + fsdd_files(fsdd_dir)
        key = {"layout": "open", "version": 6, "files": file_digest(inputs, root=data_dir),
               "test_speakers": sorted(test_speakers), **settings}

        def build():
            mnist, (waves, digits, speakers) = read_sources(mnist_dir, fsdd_dir, key["files"])
            return build_pairs(mnist["x_train"], mnist["y_train"].astype(np.int64), mnist["x_test"],
                               mnist["y_test"].astype(np.int64), waves, digits, speakers,
                               test_speakers=tuple(test_speakers), **settings)
        source = SOURCE_OPEN
    else:
        key = {"layout": "standin", "version": 5, **settings}

        def build():
            images_train, labels_train, images_test, labels_test = standin_images(seed)
            # 6 synthetic speakers like FSDD; the last one is held out for test.
            waves, digits, speakers = synthetic_fsdd(num_speakers=6, per_digit=15, seed=seed + 1)
            return build_pairs(images_train, labels_train, images_test, labels_test, waves, digits, speakers,
                               test_speakers=("spk5",), **settings)
        source = SOURCE_STANDIN
    arrays = ResultsCache("avmnist_data", enabled=cache).get_or_compute(key, build)
    arrays = standardise(arrays)
    splits = ("train", "val", "test", "test_seen")
    ground_truth = {"pca_components_kept": arrays["pca_components"], "pca_energy_kept": arrays["pca_energy_kept"],
                    **{f"{s}_speakers": sorted(set(arrays[s]["speaker"].tolist())) for s in splits},
                    **{f"{s}_recordings": sorted(set(arrays[s]["recording"].tolist())) for s in splits},
                    "test_seen": to_split(arrays["test_seen"])}
    return to_dataset(arrays, source, ground_truth)


def load_avmnist_draws(data_dir: Path | str | None, seeds: Sequence[int], **settings) -> list[MultimodalDataset]:
    """One :func:`load_avmnist` data draw per seed (``seed=s``: its images, utterance pools, pairing
    and noise), so that seeds replicate the data as well as the training (``settings``: as for
    :func:`load_avmnist`)."""
    return [load_avmnist(data_dir, seed=int(s), **settings) for s in seeds]


def stack_draws(draws: Sequence[MultimodalDataset]) -> tuple[dict[str, MultimodalSplit], str]:
    """The splits of S equally sized data draws stacked on a leading member axis, for
    ``training.kd_study(..., member_data=True)``: {"train", "val", "held-out speaker", and, where the
    draws have one, "seen speakers"} -> MultimodalSplit with a (S, N, 1, 28, 28), b (S, N, 1, F, T),
    y (S, N); and the content hash of all draws together (the cache key of a study on them)."""
    def stack(splits):
        return MultimodalSplit(*(torch.stack([getattr(s, f) for s in splits]) for f in ("a", "b", "y")))

    stacked = {"train": stack([d.train for d in draws]), "val": stack([d.val for d in draws]),
               HELD_OUT: stack([d.test for d in draws])}
    if all("test_seen" in d.ground_truth for d in draws):
        stacked[SEEN] = stack([d.ground_truth["test_seen"] for d in draws])
    return stacked, content_digest(*(d.content_hash for d in draws))


def recording_overlap(data: MultimodalDataset) -> tuple[int, list[str]]:
    """How the open / stand-in splits could leak: the number of recordings shared between train,
    validation and the seen-speaker test (0 by construction), and the held-out speakers heard in
    training or validation (none)."""
    gt = data.ground_truth
    pools = [set(gt.get(f"{s}_recordings", [])) for s in ("train", "val", "test_seen")]
    shared = len(pools[0] & pools[1]) + len(pools[0] & pools[2]) + len(pools[1] & pools[2])
    heard = set(gt.get("train_speakers", [])) | set(gt.get("val_speakers", []))
    return shared, sorted(set(gt.get("test_speakers", [])) & heard)


def describe_splits(data: MultimodalDataset):
    """One row per split (train, val, each test split): pairs, image and audio shapes, the number of
    distinct recordings and the speakers heard (a pandas DataFrame indexed by split)."""
    import pandas as pd

    gt = data.ground_truth
    splits = {"train": ("train", data.train), "val": ("val", data.val), f"test ({HELD_OUT})": ("test", data.test)}
    if "test_seen" in gt:
        splits[f"test ({SEEN})"] = ("test_seen", gt["test_seen"])
    return pd.DataFrame(
        {"pairs": [len(s) for _, s in splits.values()],
         "image": [tuple(s.a.shape[1:]) for _, s in splits.values()],
         "audio": [tuple(s.b.shape[1:]) for _, s in splits.values()],
         "recordings": [len(gt.get(f"{k}_recordings", [])) or "—" for k, _ in splits.values()],
         "speakers": [", ".join(gt.get(f"{k}_speakers", ["(MultiBench split)"])) for k, _ in splits.values()]},
        index=pd.Index(list(splits), name=data.source))
