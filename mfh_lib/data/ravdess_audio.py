"""RAVDESS from the raw audio: the MFH paper's audio features, paired with the face action units.

The MFH paper (App. B.4) feeds its RAVDESS audio teacher MFCC maps made after "Kaiser best"
resampling. This module makes them from the corpus as distributed by Livingstone & Russo (2018)::

    <audio root>/Actor_01/03-01-05-01-02-01-01.wav     (the original 48 kHz 16-bit PCM)
    <audio root>/Actor_01/03-01-05-01-02-01-01.flac    (or the same samples stored as FLAC)

and pairs every clip with its OpenFace action units in ``ravdess_au_mfcc/ravdess_au_mfcc.npz``
(whose ``clip_id`` is the audio-video file code, modality field ``01``; the pairing key drops the
modality field, :func:`mfh_lib.data.ravdess.clip_key`).

Pipeline per clip (:class:`AudioFeatureSettings`; every step is part of the cache key):

1. **Read** with soundfile (libsndfile: wav and flac alike; ``torchaudio.load`` needs TorchCodec in
   torchaudio 2.9). The sample rate must be 48 kHz; stereo files (5 of the 1,440) are downmixed by
   averaging the channels. Samples must be finite.
2. **Resample** 48 kHz -> 22,050 Hz (librosa's default rate) with ``torchaudio.transforms.Resample``,
   ``resampling_method="sinc_interp_kaiser"``, ``lowpass_filter_width=64``,
   ``rolloff=0.9475937167399596``, ``beta=14.769656459379492``: resampy's ``kaiser_best`` filter
   as documented in resampy <= 0.2.2 ("64 zero-crossings, a Kaiser window with
   beta=14.769656459379492, and a roll-off frequency of Nyquist * 0.9475937167399596"), which
   librosa < 0.10 used by default (``res_type="kaiser_best"``); the same values torchaudio's
   Kaiser-window PR and its resampling tutorial use to match librosa. Note: resampy 0.3.0
   (June 2022) re-derived ``kaiser_best`` (50 zero-crossings, beta 12.9846, roll-off 0.917347;
   available here as ``RESAMPLERS["kaiser_best_resampy03"]``), and librosa 0.10 (Feb. 2023) made
   soxr its default. The authors published no preprocessing code, so which one they ran is unknown;
   the two differ in where the anti-aliasing filter rolls off (10.4 vs 10.1 kHz of the 11.025 kHz
   Nyquist), which touches only the top one or two of the 128 mel bands.
3. **Fix the length**: zero-pad (digital silence) or crop the 22,050 Hz waveform at its end to
   ``(num_frames - 1) * hop_length`` samples, so every map has exactly ``num_frames`` frames
   (``center=True``). Default 256 frames x hop 512 = 5.94 s: the longest RAVDESS speech clip is
   5.27 s, so nothing is cropped, and 40 x 256 is the input size the authors' network implies
   (their code has no preprocessing; see ``mfh_official_code_notes.md``).
4. **MFCC maps** with ``torchaudio.transforms.MFCC``: 40 coefficients, DCT-II ortho, log-mel power
   in dB with top_db 80 (relative to each clip's peak), from a 128-band Slaney mel filterbank
   (Slaney-normalised) over a 2,048-point STFT, hop 512 (93 ms window, 23 ms hop): librosa's
   ``feature.mfcc`` defaults, the common RAVDESS recipe. Result: (40, 256) float32 per clip.

Checked once against the reference implementations (resampy 0.2.2 ``kaiser_best`` and librosa
0.9.2 ``feature.mfcc``, in a separate environment, on two real clips, one of them stereo): the
resampled waveforms agree to an rms difference of 0.07% of the signal's rms (ours is one sample
longer), the MFCC maps to at most 0.08 in values spanning about -900..200 (median 0.0002).

The whole feature array is stored in a :class:`mfh_lib.cache.ResultsCache` keyed by
:func:`mfh_lib.data.file_digest` of the audio files (names and bytes) and the settings, so a second
load hashes the files and reads one entry instead of decoding, resampling and transforming.

:func:`load_ravdess_audio_face` returns a :class:`~mfh_lib.data.MultimodalDataset`: a = MFCC maps
(N, 1, 40, 256) standardised per coefficient with training statistics, b = action units (N, 35),
y = emotion - 1, split by actor (``split="actor"``, the book's speaker-independent split from
:func:`mfh_lib.data.ravdess.actor_split`) or over clips at random (``split="random"``, the paper's
protocol: the same actor, sentence and emotion appear in train and test).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..cache import ResultsCache
from ..config import ConfigError, require_subdir
from . import MultimodalDataset, MultimodalSplit, file_digest, read_numpy, require_rows, validate_array
from .ravdess import FEATURES_FILE, FEATURES_SUBDIR, NUM_CLASSES, actor_split, clip_key, parse_ravdess_filename
from .splits import random_split, standardize

AUDIO_SUBDIR = "ravdess_speech"
AUDIO_SUFFIXES = (".wav", ".flac")
ORIGINAL_RATE = 48000
SOURCE = "RAVDESS (raw audio: Kaiser-best 22.05 kHz MFCC maps; real OpenFace AUs)"
CACHE_NAMESPACE = "ravdess_audio_features"
FEATURE_VERSION = 1  # bump when the pipeline's code changes what it computes

RESAMPLERS = {
    # resampy <= 0.2.2 kaiser_best (librosa < 0.10 default); torchaudio's tutorial uses these values
    "kaiser_best": {"resampling_method": "sinc_interp_kaiser", "lowpass_filter_width": 64,
                    "rolloff": 0.9475937167399596, "beta": 14.769656459379492},
    # resampy >= 0.3.0 kaiser_best (re-derived by parameter search)
    "kaiser_best_resampy03": {"resampling_method": "sinc_interp_kaiser", "lowpass_filter_width": 50,
                              "rolloff": 0.917347, "beta": 12.9846},
}


@dataclass(frozen=True)
class AudioFeatureSettings:
    """How the MFCC maps are made (see the module docstring); all fields go into the cache key."""
    expected_rate: int | None = ORIGINAL_RATE  # None: accept any input rate (and resample from it)
    target_rate: int = 22050
    resampler: str = "kaiser_best"  # a key of RESAMPLERS
    n_mfcc: int = 40
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    num_frames: int = 256
    top_db: float = 80.0
    pad_mode: str = "constant"  # STFT edge padding (librosa >= 0.10 default)

    def __post_init__(self):
        if self.resampler not in RESAMPLERS:
            raise ConfigError(f"unknown resampler {self.resampler!r}; choose one of {sorted(RESAMPLERS)}")
        if self.num_frames < 1 or self.n_mfcc < 1 or self.n_mfcc > self.n_mels:
            raise ConfigError(f"need num_frames >= 1 and 1 <= n_mfcc <= n_mels, got {self.num_frames}, "
                              f"{self.n_mfcc}, {self.n_mels}")

    @property
    def num_samples(self) -> int:
        """Waveform length at ``target_rate`` that gives exactly ``num_frames`` centred frames."""
        return (self.num_frames - 1) * self.hop_length

    def key(self) -> dict:
        import torchaudio

        return {**dataclasses.asdict(self), "resampler_params": RESAMPLERS[self.resampler],
                "version": FEATURE_VERSION, "torchaudio": torchaudio.__version__}


@dataclass
class RavdessAudioClips:
    """What :func:`read_ravdess_audio` computed, aligned by clip (sorted by file path)."""
    keys: list[str]        # modality-free clip codes, e.g. "01-05-01-02-01-01"
    files: list[str]       # paths relative to the audio root
    mfcc: np.ndarray       # (N, n_mfcc, num_frames) float32
    duration: np.ndarray   # (N,) seconds of audio before padding / cropping
    emotion: np.ndarray    # (N,) 1..8
    actor: np.ndarray      # (N,) 1..24


# ------------------------------------------------------------------------------------- reading
def list_audio_files(root: Path | str, *, vocal_channel: int = 1) -> list[tuple[Path, dict]]:
    """``(path, parsed file code)`` of the audio-only (modality 03) clips of ``vocal_channel``
    (01 speech, 02 song) under ``root/Actor_XX/``, sorted by path; nothing is decoded.

    A file whose actor field disagrees with its ``Actor_XX`` folder, or a clip present both as
    ``.wav`` and ``.flac``, is a ConfigError naming it.
    """
    root = Path(root)
    paths = sorted(p for p in root.glob("Actor_[0-9][0-9]/*") if p.suffix.lower() in AUDIO_SUFFIXES)
    if not paths:
        raise ConfigError(f"no Actor_XX/*.wav or *.flac under {str(root)!r}; unpack the RAVDESS "
                          "Audio_Speech_Actors_01-24 zip there")
    seen: dict[str, Path] = {}
    clips = []
    for path in paths:
        fields = parse_ravdess_filename(path.name)
        if fields["modality"] != 3 or fields["vocal_channel"] != vocal_channel:
            continue
        if int(path.parent.name[-2:]) != fields["actor"]:
            raise ConfigError(f"{str(path)!r} names actor {fields['actor']:02d} but lies in {path.parent.name}; "
                              "restore the original layout")
        key = clip_key(fields)
        if key in seen:
            raise ConfigError(f"clip {key} is present twice: {str(seen[key])!r} and {str(path)!r}; keep one of them")
        seen[key] = path
        clips.append((path, fields))
    if not clips:
        raise ConfigError(f"no audio-only (03-{vocal_channel:02d}-...) files under {str(root)!r}")
    return clips


def read_audio(path: Path, expected_rate: int | None = ORIGINAL_RATE) -> tuple[np.ndarray, int]:
    """Mono float32 samples in [-1, 1] (channels averaged) and the sample rate, via soundfile.

    Unreadable or empty files, a rate other than ``expected_rate`` and non-finite samples are
    ConfigErrors naming the file.
    """
    import soundfile

    try:
        data, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, OSError, EOFError, ValueError) as err:  # LibsndfileError is a RuntimeError
        raise ConfigError(f"cannot read {str(path)!r} as audio ({err}); replace it with the original "
                          "RAVDESS recording (wav or flac)") from err
    if expected_rate is not None and rate != expected_rate:
        raise ConfigError(f"{str(path)!r} has a sample rate of {rate} Hz; expected {expected_rate} Hz (the "
                          "original RAVDESS rate): replace it with the original recording")
    if data.size == 0:
        raise ConfigError(f"{str(path)!r} holds no samples; replace it with the original recording")
    validate_array("samples", data, file=path, fix="replace it with the original recording")
    return data.mean(axis=1), int(rate)


class _FeatureMaker:
    """Resample -> fix length -> MFCC, with the resampling kernels and the MFCC filterbank built once."""

    def __init__(self, settings: AudioFeatureSettings):
        import torchaudio

        self.settings = settings
        self._resamplers: dict[int, torch.nn.Module] = {}
        self.mfcc = torchaudio.transforms.MFCC(
            sample_rate=settings.target_rate, n_mfcc=settings.n_mfcc, dct_type=2, norm="ortho", log_mels=False,
            melkwargs={"n_fft": settings.n_fft, "hop_length": settings.hop_length, "n_mels": settings.n_mels,
                       "center": True, "pad_mode": settings.pad_mode, "power": 2.0, "mel_scale": "slaney",
                       "norm": "slaney"})
        self.mfcc.amplitude_to_DB.top_db = settings.top_db

    def resample(self, wave: np.ndarray, rate: int) -> torch.Tensor:
        import torchaudio

        x = torch.as_tensor(wave, dtype=torch.float32)
        if rate == self.settings.target_rate:
            return x
        if rate not in self._resamplers:
            self._resamplers[rate] = torchaudio.transforms.Resample(
                rate, self.settings.target_rate, **RESAMPLERS[self.settings.resampler])
        return self._resamplers[rate](x)

    def fix_length(self, x: torch.Tensor) -> torch.Tensor:
        n = self.settings.num_samples
        return x[:n] if x.shape[0] >= n else torch.nn.functional.pad(x, (0, n - x.shape[0]))

    @torch.no_grad()
    def maps(self, waves: torch.Tensor) -> torch.Tensor:
        """(B, L) fixed-length waveforms -> (B, n_mfcc, num_frames); each clip's top_db uses its own peak."""
        return self.mfcc(waves[:, None, :])[:, 0]  # (B, 1, L): amplitude_to_DB takes the max per item


def _compute_features(clips: Sequence[tuple[Path, dict]], root: Path, settings: AudioFeatureSettings,
                      batch_size: int = 64) -> dict:
    maker = _FeatureMaker(settings)
    maps, durations, pending = [], [], []
    with torch.no_grad():
        for i, (path, _) in enumerate(clips):
            wave, rate = read_audio(path, settings.expected_rate)
            durations.append(wave.shape[0] / rate)
            pending.append(maker.fix_length(maker.resample(wave, rate)))
            if len(pending) == batch_size or i == len(clips) - 1:
                maps.append(maker.maps(torch.stack(pending)))
                pending = []
    mfcc = torch.cat(maps).numpy().astype(np.float32)
    for (path, _), clip_maps in zip(clips, mfcc):
        validate_array("MFCC map", clip_maps, file=path, fix="the computed features are not finite")
    return {"files": [str(p.relative_to(root)) for p, _ in clips], "mfcc": mfcc,
            "duration": np.asarray(durations, dtype=np.float64)}


def read_ravdess_audio(root: Path | str, *, settings: AudioFeatureSettings | None = None,
                       cache: ResultsCache | None = None, vocal_channel: int = 1) -> RavdessAudioClips:
    """MFCC maps of every audio-only clip under ``root/Actor_XX/`` (see the module docstring).

    ``cache``: where the features are kept (default ``ResultsCache("ravdess_audio_features")``;
    ``ResultsCache(..., enabled=False)`` recomputes). The key is the digest of the files' names and
    bytes plus ``settings.key()``, so an edited, added or removed clip, or other settings, miss.
    """
    root = Path(root)
    settings = settings or AudioFeatureSettings()
    cache = cache if cache is not None else ResultsCache(CACHE_NAMESPACE)
    clips = list_audio_files(root, vocal_channel=vocal_channel)
    key = {"audio": file_digest([p for p, _ in clips], root), "settings": settings.key(),
           "vocal_channel": vocal_channel}
    value = cache.get_or_compute(key, lambda: _compute_features(clips, root, settings))
    return RavdessAudioClips(keys=[clip_key(f) for _, f in clips], files=list(value["files"]),
                             mfcc=np.asarray(value["mfcc"]), duration=np.asarray(value["duration"]),
                             emotion=np.array([f["emotion"] for _, f in clips]),
                             actor=np.array([f["actor"] for _, f in clips]))


# ------------------------------------------------------------------------------------- pairing
def _names(keys: Sequence[str], limit: int = 10) -> str:
    keys = sorted(keys)
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def read_au_features(path: Path) -> tuple[list[str], np.ndarray, dict[str, np.ndarray]]:
    """(clip keys, AU features (N, 35), {"emotion", "actor"} when stored) from the paired npz.

    ``clip_id`` holds the audio-video file codes (``01-01-05-...``); the keys drop the modality field.
    """
    fix = "expected clip_id (N,) RAVDESS file codes and au (N, D) finite features"
    raw = read_numpy(path, ["clip_id", "au"], expected=f"arrays clip_id and au ({fix})")
    ids = raw["clip_id"]
    if ids.ndim != 1 or ids.dtype.kind not in "US":
        raise ConfigError(f"{str(path)!r}: field 'clip_id' has dtype {ids.dtype} and shape {ids.shape}; {fix}")
    au = validate_array("au", raw["au"], file=path, shape=(ids.shape[0], "D"), fix=fix).astype(np.float64)
    keys = [clip_key(parse_ravdess_filename(str(i))) for i in ids]
    duplicates = sorted({k for k in keys if keys.count(k) > 1}) if len(set(keys)) < len(keys) else []
    if duplicates:
        raise ConfigError(f"{str(path)!r} holds clips {_names(duplicates)} more than once; expected one row per clip")
    extra = {}
    with np.load(path) as archive:
        for name in ("emotion", "actor"):
            if name in archive.files:
                extra[name] = validate_array(name, archive[name], file=path, shape=(ids.shape[0],), integer=True,
                                             fix=fix)
    return keys, au, extra


def pair_audio_face(clips: RavdessAudioClips, au_path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(mfcc maps, AUs, emotion 1..8, actor, keys) aligned by clip code, in the audio's order.

    A clip present on one side only is a ConfigError naming it; so is a stored emotion or actor
    that disagrees with the file code.
    """
    au_keys, au, extra = read_au_features(au_path)
    where = {k: i for i, k in enumerate(au_keys)}
    audio_only = sorted(set(clips.keys) - set(where))
    face_only = sorted(set(where) - set(clips.keys))
    if audio_only or face_only:
        parts = []
        if audio_only:
            parts.append(f"{len(audio_only)} audio clip(s) have no AU row in {str(au_path)!r}: {_names(audio_only)}")
        if face_only:
            parts.append(f"{len(face_only)} AU row(s) have no audio file: {_names(face_only)}")
        raise ConfigError("; ".join(parts) + " (keys are the RAVDESS file codes without the modality field); "
                          "supply the missing files or use matching copies")
    rows = np.array([where[k] for k in clips.keys])
    for name, ours in (("emotion", clips.emotion), ("actor", clips.actor)):
        if name in extra:
            bad = [k for k, a, b in zip(clips.keys, ours, extra[name][rows]) if a != b]
            if bad:
                raise ConfigError(f"{str(au_path)!r}: field {name!r} disagrees with the file code for clips "
                                  f"{_names(bad)}; the AU file and the audio are not the same corpus")
    return clips.mfcc, au[rows], clips.emotion, clips.actor, list(clips.keys)


# ----------------------------------------------------------------------------- feature forms
AUDIO_FORMS = ("maps", "statistics")
DIRECTIONS = ("audio->face", "face->audio")


def _standardize_maps(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """z-score (N, C, T) maps per coefficient C with the training clips' mean / std over clips and frames."""
    c, t = train.shape[1:]
    flat = [x.transpose(0, 2, 1).reshape(-1, c) for x in (train, *others)]
    return [z.reshape(-1, t, c).transpose(0, 2, 1) for z in standardize(*flat)]


def pool_time(maps: np.ndarray, factor: int) -> np.ndarray:
    """(N, C, T) -> (N, C, T // factor): the mean over ``factor`` consecutive frames (a CPU-sized map)."""
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ConfigError(f"time_pool must be a whole number >= 1, got {factor!r}")
    n, c, t = maps.shape
    if t < factor:
        raise ConfigError(f"time_pool {factor} exceeds the {t} frames of the maps")
    return maps[:, :, :t - t % factor].reshape(n, c, t // factor, factor).mean(-1)


def map_statistics(maps: np.ndarray) -> np.ndarray:
    """(N, C, T) maps -> (N, 2C) clip statistics: each coefficient's mean, then its std, over frames."""
    return np.concatenate([maps.mean(-1), maps.std(-1)], axis=1)


def paired_arrays(data_dir: Path | str, *, audio_form: str = "statistics", time_pool: int = 1,
                  settings: AudioFeatureSettings | None = None, cache: ResultsCache | None = None):
    """Unsplit paired arrays from ``data_dir`` (raw audio + AU file), for a user's own split or study.

    Returns (x_audio, x_face, y, actors): x_audio (N, 2 n_mfcc) MFCC clip statistics
    (``audio_form="statistics"``, :func:`map_statistics`) or (N, n_mfcc, T) maps (``"maps"``),
    x_face (N, 35) action units, y (N,) emotion - 1, actors (N,) actor ids; nothing standardised.
    """
    if audio_form not in AUDIO_FORMS:
        raise ConfigError(f"audio_form must be one of {AUDIO_FORMS}, got {audio_form!r}")
    audio_dir = require_subdir(Path(data_dir), AUDIO_SUBDIR, "the RAVDESS speech audio (Actor_XX/03-01-*.wav or .flac)")
    au_file = require_subdir(Path(data_dir), FEATURES_SUBDIR, f"{FEATURES_SUBDIR}/{FEATURES_FILE}") / FEATURES_FILE
    a, b, emotion, actors, _ = pair_audio_face(read_ravdess_audio(audio_dir, settings=settings, cache=cache), au_file)
    a = pool_time(a.astype(np.float64), time_pool)
    return (map_statistics(a) if audio_form == "statistics" else a), b, emotion - 1, actors


def load_ravdess_audio_face(data_dir: Path | str | None = None, *, split: str = "actor", seed: int = 0,
                            audio_dir: Path | str | None = None, au_file: Path | str | None = None,
                            num_val_actors: int = 4, num_test_actors: int = 4,
                            val_fraction: float = 4 / 24, test_fraction: float = 4 / 24,
                            standardize_b: bool = True, settings: AudioFeatureSettings | None = None,
                            cache: ResultsCache | None = None, time_pool: int = 1, audio_form: str = "maps",
                            direction: str = "audio->face") -> MultimodalDataset:
    """RAVDESS MFCC maps (a, the teacher's modality) and action units (b) as a MultimodalDataset.

    Reads ``data_dir/ravdess_speech/`` (or ``audio_dir``) and ``data_dir/ravdess_au_mfcc/
    ravdess_au_mfcc.npz`` (or ``au_file``). ``split="actor"``: whole actors held out
    (:func:`~mfh_lib.data.ravdess.actor_split`, ``num_val_actors`` / ``num_test_actors``, balanced by
    sex); ``split="random"``: clips at random (:func:`mfh_lib.data.random_split`, ``val_fraction`` /
    ``test_fraction``). ``seed`` picks the held-out actors or clips. The audio is
    ``audio_form="maps"``: (N, 1, n_mfcc, num_frames // time_pool) MFCC maps (``time_pool`` > 1
    averages consecutive frames, :func:`pool_time`), standardised per coefficient with training
    statistics; or ``"statistics"``: (N, 2 n_mfcc) per-clip mean and std of each coefficient over
    the (pooled) frames, standardised per column. Face: (N, 35) AUs, standardised with training
    statistics when ``standardize_b``. ``direction="audio->face"`` (the paper's): a = audio (the
    teacher's modality), b = face; ``"face->audio"``: a = face, b = audio. y = emotion - 1.
    """
    if audio_form not in AUDIO_FORMS:
        raise ConfigError(f"audio_form must be one of {AUDIO_FORMS}, got {audio_form!r}")
    if direction not in DIRECTIONS:
        raise ConfigError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    if data_dir is None and (audio_dir is None or au_file is None):
        raise ConfigError("load_ravdess_audio_face needs data_dir (holding ravdess_speech/ and ravdess_au_mfcc/) "
                          "or both audio_dir and au_file")
    if audio_dir is None:
        audio_dir = require_subdir(Path(data_dir), AUDIO_SUBDIR, "the RAVDESS speech audio (Actor_XX/03-01-*.wav or .flac)")
    if au_file is None:
        au_file = require_subdir(Path(data_dir), FEATURES_SUBDIR, f"{FEATURES_SUBDIR}/{FEATURES_FILE}") / FEATURES_FILE
    au_file = Path(au_file)
    if not au_file.exists():
        raise ConfigError(f"{str(au_file)!r} not found; expected the paired AU feature file {FEATURES_FILE}")
    clips = read_ravdess_audio(audio_dir, settings=settings, cache=cache)
    a, b, emotion, actors, _ = pair_audio_face(clips, au_file)
    if split == "actor":
        train, val, test = actor_split(actors, seed, num_val_actors, num_test_actors)
    elif split == "random":
        train, val, test = random_split(len(emotion), seed=seed, val=val_fraction, test=test_fraction)
    else:
        raise ConfigError(f"split must be 'actor' (speaker-independent) or 'random' (the paper's), got {split!r}")
    require_rows("train", int(train.sum()), 2, file=audio_dir, why="the features are standardised with its std")
    a = pool_time(a.astype(np.float64), time_pool)
    masks = (train, val, test)
    if audio_form == "maps":
        audio = [z[:, None] for z in _standardize_maps(*(a[m] for m in masks))]
        audio_name = f"audio (MFCC maps {a.shape[1]}x{a.shape[2]})"
    else:
        audio = standardize(*(map_statistics(a[m]) for m in masks))
        audio_name = f"audio (clip statistics of {a.shape[1]} MFCCs)"
    face = standardize(*(b[m] for m in masks)) if standardize_b else [b[m] for m in masks]
    y = emotion - 1
    if direction == "face->audio":
        parts, modalities = list(zip(face, audio)), ("face (action units)", audio_name)
    else:
        parts, modalities = list(zip(audio, face)), (audio_name, "face (action units)")

    def part(xa, xb, mask):
        return MultimodalSplit(torch.as_tensor(xa, dtype=torch.float32), torch.as_tensor(xb, dtype=torch.float32),
                               torch.as_tensor(y[mask], dtype=torch.long))

    return MultimodalDataset(*(part(xa, xb, m) for (xa, xb), m in zip(parts, masks)), modalities=modalities,
                             num_classes=NUM_CLASSES, source=f"{SOURCE}; {split} split; {direction}")
