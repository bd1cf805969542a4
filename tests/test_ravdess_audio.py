"""RAVDESS raw-audio loader (fixtures in the original Actor_XX layout, wav and flac) and the CNN teacher."""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see chapter 05's note

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mfh_lib import training
from mfh_lib.audio_models import audio_cnn_teacher
from mfh_lib.cache import ResultsCache
from mfh_lib.config import ConfigError
from mfh_lib.data import ravdess_audio as ra

sf = pytest.importorskip("soundfile")

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
RATE = 48000
# small maps keep the fixtures fast; the pipeline is the same as the default's
SMALL = ra.AudioFeatureSettings(n_mfcc=13, n_mels=40, n_fft=512, hop_length=256, num_frames=48)


def _code(emotion, actor, rep=1, statement=1, intensity=1, modality=3):
    return f"{modality:02d}-01-{emotion:02d}-{intensity:02d}-{statement:02d}-{rep:02d}-{actor:02d}"


def _tone(seconds, freq, channels=1, rate=RATE):
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * freq * t) * np.hanning(t.size)
    return np.stack([wave, 0.5 * wave], 1) if channels == 2 else wave


def _write_corpus(root: Path, actors=(1, 2, 3, 4), emotions=(1, 2, 3)):
    """A tiny corpus: per actor and emotion one clip, alternately wav / flac, actor 1's clips stereo;
    and the paired AU npz (clip ids with modality 01, as the shipped file)."""
    ids, au, emo, act = [], [], [], []
    for actor in actors:
        folder = root / "ravdess_speech" / f"Actor_{actor:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        for emotion in emotions:
            suffix = ".flac" if (actor + emotion) % 2 else ".wav"
            wave = _tone(0.25 + 0.05 * emotion, 200 * emotion + 10 * actor, channels=2 if actor == 1 else 1)
            sf.write(folder / f"{_code(emotion, actor)}{suffix}", wave, RATE, subtype="PCM_16")
            ids.append(_code(emotion, actor, modality=1))
            au.append(np.full(35, emotion + 0.1 * actor))
            emo.append(emotion)
            act.append(actor)
    (root / "ravdess_au_mfcc").mkdir(exist_ok=True)
    np.savez(root / "ravdess_au_mfcc" / "ravdess_au_mfcc.npz", clip_id=np.array(ids), au=np.array(au, np.float32),
             emotion=np.array(emo), actor=np.array(act))
    return root


@pytest.fixture
def corpus(tmp_path):
    return _write_corpus(tmp_path / "data")


@pytest.fixture
def cache(tmp_path):
    return ResultsCache("ravdess_audio_test", root=tmp_path / "cache")


def test_resampler_is_librosa_kaiser_best():
    params = ra.RESAMPLERS["kaiser_best"]
    assert params == {"resampling_method": "sinc_interp_kaiser", "lowpass_filter_width": 64,
                      "rolloff": 0.9475937167399596, "beta": 14.769656459379492}
    assert ra.AudioFeatureSettings().target_rate == 22050 and ra.AudioFeatureSettings().n_mfcc == 40
    # a 1 kHz tone keeps its frequency and level through 48 kHz -> 22.05 kHz
    maker = ra._FeatureMaker(ra.AudioFeatureSettings())
    y = maker.resample(np.sin(2 * np.pi * 1000 * np.arange(RATE) / RATE).astype(np.float32), RATE).numpy()
    assert y.shape == (22050,)
    spectrum = np.abs(np.fft.rfft(y[2000:-2000]))
    peak = spectrum.argmax() * 22050 / (len(y) - 4000)
    assert abs(peak - 1000) < 2 and abs(y[2000:-2000].std() - 2 ** -0.5) < 0.01


def test_reads_wav_flac_mono_stereo_and_pairs(corpus, cache):
    clips = ra.read_ravdess_audio(corpus / "ravdess_speech", settings=SMALL, cache=cache)
    assert len(clips.keys) == 12 and clips.mfcc.shape == (12, 13, 48) and clips.mfcc.dtype == np.float32
    assert {Path(f).suffix for f in clips.files} == {".wav", ".flac"}
    assert np.isfinite(clips.mfcc).all() and np.allclose(clips.duration, [0.25 + 0.05 * e for e in (1, 2, 3)] * 4)
    # stereo is the mean of the channels: a (w, w/2) file gives the maps of the mono 0.75 w
    stereo = corpus / "ravdess_speech" / "Actor_01"
    mono_path = stereo / "mono.flac"
    wave = _tone(0.3, 210, channels=2)
    sf.write(mono_path, wave.mean(1), RATE, subtype="PCM_16")
    assert np.allclose(ra.read_audio(mono_path)[0], ra.read_audio(next(stereo.glob(f"{_code(1, 1)}.*")))[0], atol=1e-4)
    mono_path.unlink()
    mfcc, au, emotion, actor, keys = ra.pair_audio_face(clips, corpus / "ravdess_au_mfcc" / "ravdess_au_mfcc.npz")
    assert keys[0] == "01-01-01-01-01-01" and np.allclose(au[:, 0], emotion + 0.1 * actor)


def test_cache_is_keyed_by_content(corpus, cache, monkeypatch):
    root = corpus / "ravdess_speech"
    first = ra.read_ravdess_audio(root, settings=SMALL, cache=cache)
    calls = []
    real = ra._compute_features
    monkeypatch.setattr(ra, "_compute_features", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = ra.read_ravdess_audio(root, settings=SMALL, cache=cache)
    assert not calls and np.array_equal(first.mfcc, again.mfcc)
    path = next(root.glob("Actor_02/*.wav"))
    sf.write(path, _tone(0.3, 555), RATE, subtype="PCM_16")  # same name, new content: a miss
    changed = ra.read_ravdess_audio(root, settings=SMALL, cache=cache)
    assert calls == [1] and not np.array_equal(first.mfcc, changed.mfcc)
    ra.read_ravdess_audio(root, settings=ra.AudioFeatureSettings(**{**SMALL.__dict__, "n_mfcc": 12}), cache=cache)
    assert calls == [1, 1]  # other settings: a miss


def test_dataset_splits(corpus, cache):
    for split in ("actor", "random"):
        ds = ra.load_ravdess_audio_face(corpus, split=split, seed=0, num_val_actors=1, num_test_actors=1,
                                        val_fraction=0.25, test_fraction=0.25, settings=SMALL, cache=cache)
        assert ds.train.a.shape[1:] == (1, 13, 48) and ds.train.b.shape[1:] == (35,) and ds.num_classes == 8
        assert len(ds.train) + len(ds.val) + len(ds.test) == 12 and split in ds.source
        assert torch.allclose(ds.train.a.mean((0, 3)), torch.zeros(1, 13), atol=1e-4)
        assert set(ds.train.y.tolist()) <= {0, 1, 2}
    ds = ra.load_ravdess_audio_face(corpus, split="actor", seed=0, num_val_actors=1, num_test_actors=1,
                                    settings=SMALL, cache=cache)
    assert len(ds.test) == 3 and len(ds.val) == 3  # one actor's clips each
    with pytest.raises(ConfigError, match="split must be"):
        ra.load_ravdess_audio_face(corpus, split="frames", settings=SMALL, cache=cache)


def test_missing_clip_on_either_side_is_named(corpus, cache):
    path = next((corpus / "ravdess_speech" / "Actor_03").glob(f"{_code(2, 3)}.*"))
    path.unlink()
    with pytest.raises(ConfigError, match=r"1 AU row\(s\) have no audio file: 01-02-01-01-01-03"):
        ra.load_ravdess_audio_face(corpus, settings=SMALL, cache=cache, num_val_actors=1, num_test_actors=1)
    extra = corpus / "ravdess_speech" / "Actor_04" / f"{_code(8, 4)}.wav"
    sf.write(extra, _tone(0.3, 300), RATE, subtype="PCM_16")
    with pytest.raises(ConfigError, match=r"1 audio clip\(s\) have no AU row .*01-08-01-01-01-04"):
        ra.load_ravdess_audio_face(corpus, settings=SMALL, cache=cache, num_val_actors=1, num_test_actors=1)


def test_bad_files_are_named(corpus, cache):
    root = corpus / "ravdess_speech"
    wrong_rate = root / "Actor_02" / f"{_code(5, 2)}.wav"
    sf.write(wrong_rate, _tone(0.3, 300, rate=44100), 44100, subtype="PCM_16")
    with pytest.raises(ConfigError, match=r"03-01-05-01-01-01-02\.wav'.* 44100 Hz; expected 48000 Hz"):
        ra.read_ravdess_audio(root, settings=SMALL, cache=cache)
    wrong_rate.unlink()
    corrupt = root / "Actor_03" / f"{_code(6, 3)}.flac"
    corrupt.write_bytes(b"fLaC" + os.urandom(64))
    with pytest.raises(ConfigError, match=r"cannot read .*03-01-06-01-01-01-03\.flac"):
        ra.read_ravdess_audio(root, settings=SMALL, cache=cache)
    corrupt.unlink()
    nan = root / "Actor_03" / f"{_code(6, 3)}.wav"
    sf.write(nan, np.full(4800, np.nan, np.float32), RATE, subtype="FLOAT")
    with pytest.raises(ConfigError, match=r"03-01-06-01-01-01-03\.wav'.*NaN/inf"):
        ra.read_ravdess_audio(root, settings=SMALL, cache=cache)
    nan.unlink()
    existing = next((root / "Actor_04").glob(f"{_code(1, 4)}.*"))
    twice = existing.with_suffix(".wav" if existing.suffix == ".flac" else ".flac")
    sf.write(twice, _tone(0.3, 300), RATE)
    with pytest.raises(ConfigError, match="present twice"):
        ra.read_ravdess_audio(root, settings=SMALL, cache=cache)
    twice.unlink()
    moved = root / "Actor_04" / f"{_code(7, 3)}.wav"
    sf.write(moved, _tone(0.3, 300), RATE)
    with pytest.raises(ConfigError, match="names actor 03 but lies in Actor_04"):
        ra.read_ravdess_audio(root, settings=SMALL, cache=cache)


def test_au_file_must_agree_with_codes(corpus, cache):
    npz = corpus / "ravdess_au_mfcc" / "ravdess_au_mfcc.npz"
    with np.load(npz) as z:
        data = dict(z)
    data["emotion"] = data["emotion"].copy()
    data["emotion"][0] = 8
    np.savez(npz, **data)
    with pytest.raises(ConfigError, match="'emotion' disagrees with the file code for clips 01-01-01-01-01-01"):
        ra.load_ravdess_audio_face(corpus, settings=SMALL, cache=cache, num_val_actors=1, num_test_actors=1)


def test_cnn_teacher_vectorises_over_seeds():
    make = lambda: audio_cnn_teacher(8, widths=(4, 8, 8), hidden=(32, 16), pool_grid=(3, 6))
    net = make()
    assert net(torch.randn(2, 1, 40, 256)).shape == (2, 8) and net.features(torch.randn(2, 1, 40, 256)).shape == (2, 16)
    full = audio_cnn_teacher(8)  # the authors' sizes: 12544 -> 1024 -> 128 -> 8
    assert full.features[-4].in_features == 12544 and full.head.in_features == 128
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in full.modules())
    x, y = torch.randn(16, 1, 13, 48), torch.randint(0, 8, (16,))
    ens = training.Ensemble(make, 3, seed=0)
    before = training.predict_ensemble(ens, x, shared=True)
    training.train_ensemble(ens, [x, y], lambda e, xb, yb: torch.vmap(F.cross_entropy)(e(xb), yb),
                            shared=[True, True], num_epochs=1, batch_size=8, optimizer="adam", lr=1e-3,
                            generator=torch.Generator().manual_seed(0))
    logits = training.predict_ensemble(ens, x, shared=True)
    assert logits.shape == (3, 16, 8) and not torch.allclose(before, logits)
    assert not torch.allclose(logits[0], logits[1])  # members start from different seeds
    # a member's weights load into a plain network that computes the member's outputs
    alone = make()
    alone.load_state_dict(ens.member_state_dict(1))
    assert torch.allclose(alone.eval()(x), logits[1], atol=1e-5)


@pytest.mark.skipif(not (SHARED / "ravdess_speech").exists() or not (SHARED / "ravdess_au_mfcc").exists(),
                    reason="shared RAVDESS audio / AU features not present")
def test_real_folder_pairs_all_clips():
    """The shared copy: 1,440 speech clips pair one-to-one with the AU rows (names only), and a few decode."""
    root = SHARED / "ravdess_speech"
    files = ra.list_audio_files(root)
    assert len(files) == 1440
    au_keys, au, extra = ra.read_au_features(SHARED / "ravdess_au_mfcc" / "ravdess_au_mfcc.npz")
    assert sorted(au_keys) == sorted(ra.clip_key(f) for _, f in files) and au.shape == (1440, 35)
    where = {k: i for i, k in enumerate(au_keys)}
    for path, fields in files:
        row = where[ra.clip_key(fields)]
        assert extra["emotion"][row] == fields["emotion"] and extra["actor"][row] == fields["actor"]
    stereo = root / "Actor_01" / "03-01-02-01-01-02-01.flac"  # one of the 5 stereo originals
    for path in (files[0][0], stereo):
        wave, rate = ra.read_audio(path)
        assert rate == 48000 and wave.ndim == 1 and 2.5 < wave.size / rate < 5.5
    assert sf.info(stereo).channels == 2


def test_directions_and_audio_forms(corpus, cache):
    kwargs = dict(split="actor", seed=0, num_val_actors=1, num_test_actors=1, settings=SMALL, cache=cache)
    maps = ra.load_ravdess_audio_face(corpus, time_pool=4, **kwargs)
    assert maps.train.a.shape[1:] == (1, 13, 12) and "audio->face" in maps.source
    flipped = ra.load_ravdess_audio_face(corpus, audio_form="statistics", direction="face->audio", **kwargs)
    assert flipped.train.a.shape[1:] == (35,) and flipped.train.b.shape[1:] == (26,)
    assert flipped.modalities[0].startswith("face") and torch.equal(flipped.train.y, maps.train.y)
    assert torch.allclose(flipped.train.b.mean(0), torch.zeros(26), atol=1e-4)
    stats = ra.map_statistics(np.arange(12.0).reshape(1, 2, 6))
    assert np.allclose(stats, [[2.5, 8.5, np.arange(6).std(), np.arange(6).std()]])
    assert ra.pool_time(np.arange(7.0).reshape(1, 1, 7), 2).tolist() == [[[0.5, 2.5, 4.5]]]
    for bad, match in ((dict(audio_form="mean"), "audio_form"), (dict(direction="a->b"), "direction"),
                       (dict(time_pool=0), "time_pool")):
        with pytest.raises(ConfigError, match=match):
            ra.load_ravdess_audio_face(corpus, **{**kwargs, **bad})
