"""RAVDESS loaders: shipped features, the original Actor_XX/*.wav layout (fixtures), the stand-in."""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see chapter 05's note

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.io import wavfile

from mfh_lib.config import ConfigError
from mfh_lib.data import ravdess

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_parse_file_names():
    fields = ravdess.parse_ravdess_filename("Actor_12/03-01-05-02-01-02-12.wav")
    assert fields == {"modality": 3, "vocal_channel": 1, "emotion": 5, "intensity": 2, "statement": 1,
                      "repetition": 2, "actor": 12}
    assert ravdess.clip_key(fields) == "01-05-02-01-02-12"
    for bad in ("03-01-05-02-01-12.wav", "03-01-09-02-01-02-12.wav", "03-01-xx-02-01-02-12.wav"):
        with pytest.raises(ConfigError):
            ravdess.parse_ravdess_filename(bad)


def test_actor_split_is_disjoint_and_balanced():
    actors = np.repeat(np.arange(1, 25), 3)
    train, val, test = ravdess.actor_split(actors, seed=0)
    assert not (train & val).any() and not (train & test).any() and not (val & test).any()
    assert (train | val | test).all()
    for mask in (val, test):
        held = np.unique(actors[mask])
        assert len(held) == 4 and (held % 2).sum() == 2  # two male (odd), two female
    assert not np.array_equal(ravdess.actor_split(actors, seed=1)[2], test)
    with pytest.raises(ConfigError):
        ravdess.actor_split(actors, seed=0, num_val_actors=12, num_test_actors=12)


def test_standin_shapes_and_planted_channels():
    ds = ravdess.load_ravdess(None, seed=0)
    assert ds.train.a.shape[1:] == (259,) and ds.train.b.shape[1:] == (35,)
    assert len(ds.train) + len(ds.val) + len(ds.test) == 1440 and ds.num_classes == 8
    truth = ds.ground_truth
    assert len(truth["general_a"]) == 16 and not set(truth["general_a"]) & set(truth["specific_a"])
    assert torch.allclose(ds.train.a.mean(0), torch.zeros(259), atol=1e-5)
    assert "stand-in" in ds.source
    # A planted general channel of a correlates with its copy in b; noise channels do not.
    a = ds.train.a[:, truth["general_a"][0]]
    corr = max(abs(np.corrcoef(a, ds.train.b[:, j])[0, 1]) for j in truth["general_b"])
    assert corr > 0.5


@pytest.mark.skipif(not (SHARED / "ravdess_au_mfcc").exists(), reason="shared RAVDESS features not present")
def test_real_features_load_split_by_actor():
    ds = ravdess.load_ravdess(SHARED, seed=0)
    assert ds.source == ravdess.REAL_SOURCE
    assert ds.train.a.shape[1] == 259 and ds.train.b.shape[1] == 35
    assert len(ds.train) == 960 and len(ds.val) == 240 and len(ds.test) == 240  # 60 clips per actor
    assert int(ds.train.y.min()) == 0 and int(ds.train.y.max()) == 7
    assert torch.allclose(ds.train.a.mean(0), torch.zeros(259), atol=1e-4)


def test_missing_folder_names_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="ravdess_au_mfcc"):
        ravdess.load_ravdess(tmp_path, seed=0)


def write_fixture(root: Path, num_actors=4, with_frames=False):
    """Tiny corpus in the original layout: Actor_XX/03-01-EE-01-SS-01-XX.wav + OpenFace CSVs / frames."""
    rng = np.random.default_rng(0)
    visual = root / "visual"
    visual.mkdir(parents=True)
    au_names = [f"AU{i:02d}" for i in (1, 2, 4)]
    for actor in range(1, num_actors + 1):
        folder = root / f"Actor_{actor:02d}"
        folder.mkdir()
        for emotion in (1, 5):
            for statement in (1, 2):
                fields = dict(modality=3, vocal_channel=1, emotion=emotion, intensity=1, statement=statement,
                              repetition=1, actor=actor)
                name = "-".join(f"{fields[k]:02d}" for k in ravdess.FILENAME_FIELDS)
                t = np.arange(4000) / 8000
                wave = 0.3 * np.sin(2 * np.pi * (200 + 100 * emotion) * t) + 0.01 * rng.normal(size=t.size)
                wavfile.write(folder / f"{name}.wav", 8000, (wave * 32767).astype(np.int16))
                key = ravdess.clip_key(fields)
                header = ["frame", " success"] + [f" {a}_r" for a in au_names] + [f" {a}_c" for a in au_names]
                lines = [",".join(header)]
                for frame in range(3):
                    values = [frame + 1, 1] + list(rng.uniform(0, 5, 3).round(2)) + [1, 0, 1]
                    lines.append(",".join(str(v) for v in values))
                lines.append(",".join(["4", "0"] + ["99"] * 6))  # a failed frame: ignored
                (visual / f"{key}.csv").write_text("\n".join(lines) + "\n")
                if with_frames:
                    np.save(visual / f"{key}.npy", rng.integers(0, 255, (3, 8, 10, 3), dtype=np.uint8))
    (root / "Actor_01" / "01-01-01-01-01-01-01.mp4").write_bytes(b"")  # videos are ignored


def test_original_layout_with_openface_csvs(tmp_path):
    write_fixture(tmp_path)
    clips = ravdess.read_ravdess_clips(tmp_path)
    assert len(clips.keys) == 16 and clips.audio.shape == (16, 259) and clips.visual.shape == (16, 6)
    assert np.all(clips.visual[:, 3:] == [1, 0, 1]) and clips.visual[:, :3].max() <= 5  # failed frame skipped
    ds = ravdess.load_ravdess_original(tmp_path, seed=0, num_val_actors=1, num_test_actors=1)
    assert len(ds.train) == 8 and len(ds.val) == 4 and len(ds.test) == 4
    assert set(ds.train.y.tolist()) == {0, 4}


def test_original_layout_with_frames_and_errors(tmp_path):
    write_fixture(tmp_path, with_frames=True)
    ds = ravdess.load_ravdess_original(tmp_path, seed=0, visual="frames", num_val_actors=1, num_test_actors=1)
    assert ds.train.b.shape[1:] == (3, 8, 10) and float(ds.train.b.max()) <= 1.0
    with pytest.raises(ConfigError, match="visual"):
        ravdess.read_ravdess_clips(tmp_path, visual="video")
    (tmp_path / "visual" / "01-01-01-01-01-01.csv").unlink()
    with pytest.raises(ConfigError, match="no visual data"):
        ravdess.read_ravdess_clips(tmp_path)
    with pytest.raises(ConfigError, match="Actor_XX"):
        ravdess.read_ravdess_clips(tmp_path / "empty")
