"""AV-MNIST loaders (open AV-MNIST from MNIST + FSDD, MultiBench .npy, stand-in) and the chapter's networks.

Every loader is tested on tiny fixtures written here in the original on-disk formats.
"""
import gzip

import numpy as np
import pytest
import torch
from scipy.io import wavfile
from torch import nn

from mfh_lib.config import ConfigError
from mfh_lib.data import avmnist
from mfh_lib.models import AudioCNN, ImageAudioLateFusion, LeNet5


def write_idx(path, array, gz):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    opener = gzip.open if gz else open
    with opener(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def digit_images(labels, rng):
    """28x28 uint8 'digits': a class-dependent bar plus noise, so PCA has something to keep."""
    images = rng.integers(0, 40, (len(labels), 28, 28))
    for i, y in enumerate(labels):
        images[i, 2 + 2 * y: 6 + 2 * y, 4:24] = 255
    return images.astype(np.uint8)


def write_mnist_idx(folder, rng, gz=True, num_train=120, num_test=40):
    folder.mkdir(parents=True)
    arrays = {}
    for split, n in (("train", num_train), ("t10k", num_test)):
        labels = np.arange(n) % 10
        images = digit_images(labels, rng)
        suffix = ".gz" if gz else ""
        write_idx(folder / f"{split}-images-idx3-ubyte{suffix}", images, gz)
        write_idx(folder / f"{split}-labels-idx1-ubyte{suffix}", labels, gz)
        arrays[split] = (images, labels)
    return arrays


def write_fsdd(folder, speakers=("george", "jackson", "theo"), takes=2):
    recordings = folder / "recordings"
    recordings.mkdir(parents=True)
    t = np.arange(3000) / avmnist.SAMPLE_RATE
    for speaker_index, speaker in enumerate(speakers):
        for digit in range(10):
            for take in range(takes):
                tone = 0.3 * np.sin(2 * np.pi * (300 + 150 * digit + 20 * speaker_index) * t)
                wavfile.write(recordings / f"{digit}_{speaker}_{take}.wav", avmnist.SAMPLE_RATE, (tone * 32767).astype(np.int16))
    (recordings / "README.txt").write_text("not a recording")  # other files are ignored


@pytest.fixture
def open_dir(tmp_path):
    write_mnist_idx(tmp_path / "mnist", np.random.default_rng(0))
    write_fsdd(tmp_path / "fsdd")
    return tmp_path


SMALL = dict(num_train=30, num_val=10, num_test=20, n_mels=16, num_frames=12, cache=False)


def test_idx_reader_gz_and_raw_match_npz(tmp_path):
    rng = np.random.default_rng(1)
    arrays = write_mnist_idx(tmp_path / "gz", rng, gz=True)
    raw_dir = tmp_path / "raw"
    raw_dir.mkdir()
    for split in ("train", "t10k"):
        write_idx(raw_dir / f"{split}-images-idx3-ubyte", arrays[split][0], gz=False)
        write_idx(raw_dir / f"{split}-labels-idx1-ubyte", arrays[split][1], gz=False)
    npz_dir = tmp_path / "npz"
    npz_dir.mkdir()
    np.savez(npz_dir / "mnist.npz", x_train=arrays["train"][0], y_train=arrays["train"][1],
             x_test=arrays["t10k"][0], y_test=arrays["t10k"][1])
    from_gz, from_raw, from_npz = (avmnist.read_mnist(d) for d in (tmp_path / "gz", raw_dir, npz_dir))
    for key in avmnist.MNIST_IDX:
        np.testing.assert_array_equal(from_gz[key], from_raw[key])
        np.testing.assert_array_equal(from_gz[key], from_npz[key])
    assert from_gz["x_train"].shape == (120, 28, 28) and from_gz["y_test"].shape == (40,)


def test_idx_reader_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad-idx3-ubyte"
    bad.write_bytes(b"\x00\x00\x0d\x01" + (3).to_bytes(4, "big") + b"abc")
    with pytest.raises(ConfigError, match="idx"):
        avmnist.read_idx(bad)
    truncated = tmp_path / "short-idx1-ubyte"
    truncated.write_bytes(b"\x00\x00\x08\x01" + (10).to_bytes(4, "big") + b"abc")
    with pytest.raises(ConfigError, match="truncated"):
        avmnist.read_idx(truncated)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="mnist.npz"):
        avmnist.read_mnist(tmp_path / "empty")


def test_pca_energy_filter_keeps_the_requested_energy():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20000, 4)) * np.sqrt([4.0, 3.0, 2.0, 1.0])  # energies .4 .3 .2 .1
    for removed, expected_k in ((0.0, 4), (0.5, 2), (0.6, 1), (0.75, 1), (0.25, 3)):
        mean, components, k = avmnist.pca_energy_filter(x, removed)
        assert k == expected_k and components.shape == (k, 4)
    mean, components, k = avmnist.pca_energy_filter(x, 0.5)
    filtered = avmnist.apply_pca_filter(x[:, None, :], mean, components)[:, 0]
    kept_energy = ((filtered - mean) ** 2).sum() / ((x - mean) ** 2).sum()
    assert kept_energy == pytest.approx(0.7, abs=0.02)
    with pytest.raises(ConfigError):
        avmnist.pca_energy_filter(x, 1.5)


def test_open_avmnist_from_mnist_and_fsdd(open_dir):
    data = avmnist.load_avmnist(open_dir, seed=3, test_speakers=("theo",), **SMALL)
    assert data.source == avmnist.SOURCE_OPEN and "real" in data.source
    assert data.modalities == ("image", "audio") and data.num_classes == 10
    for split, n in ((data.train, 30), (data.val, 10), (data.test, 20)):
        assert split.a.shape == (n, 1, 28, 28) and split.a.dtype == torch.float32
        assert split.b.shape == (n, 1, 16, 12) and split.b.dtype == torch.float32
        assert split.y.shape == (n,) and split.y.dtype == torch.int64
        assert torch.isfinite(split.b).all()
    assert data.ground_truth["test_speakers"] == ["theo"]
    assert "theo" not in data.ground_truth["train_speakers"] + data.ground_truth["val_speakers"]
    # Standardised with the training pairs' statistics.
    assert float(data.train.b.mean()) == pytest.approx(0.0, abs=1e-4)
    assert float(data.train.b.std()) == pytest.approx(1.0, abs=1e-2)
    # The pairing is by class: audio of one digit (a pure tone per digit in the fixture) has its
    # spectral peak in the same band whatever the image, so the peak band predicts the label.
    peak = data.train.b.mean(dim=-1)[:, 0].argmax(dim=-1)
    for digit in data.train.y.unique():
        assert peak[data.train.y == digit].unique().numel() <= 2
    again = avmnist.load_avmnist(open_dir, seed=3, test_speakers=("theo",), **SMALL)
    assert torch.equal(again.train.b, data.train.b) and torch.equal(again.test.a, data.test.a)


def test_open_avmnist_is_cached(open_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("MFH_CACHE_DIR", str(tmp_path / "cache"))
    settings = {**SMALL, "cache": True}
    first = avmnist.load_avmnist(open_dir, seed=1, **settings)
    assert len(list((tmp_path / "cache" / "avmnist_data").glob("*.pt"))) == 1
    second = avmnist.load_avmnist(open_dir, seed=1, **settings)
    assert torch.equal(first.train.b, second.train.b)


def test_open_avmnist_bad_inputs(open_dir, tmp_path):
    with pytest.raises(ConfigError, match="test_speakers"):
        avmnist.load_avmnist(open_dir, test_speakers=("nobody",), **SMALL)
    with pytest.raises(ConfigError, match="layout"):
        avmnist.load_avmnist(open_dir, layout="tidigits", **SMALL)
    with pytest.raises(ConfigError, match="fsdd"):
        (tmp_path / "only_mnist").mkdir()
        write_mnist_idx(tmp_path / "only_mnist" / "mnist", np.random.default_rng(0))
        avmnist.load_avmnist(tmp_path / "only_mnist", **SMALL)
    with pytest.raises(ConfigError, match="num_train"):
        avmnist.load_avmnist(open_dir, **{**SMALL, "num_train": 0})


def test_multibench_layout(tmp_path):
    folder = tmp_path / "avmnist"
    (folder / "image").mkdir(parents=True)
    (folder / "audio").mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 120), ("test", 24)):
        np.save(folder / "image" / f"{split}_data.npy", rng.integers(0, 256, (n, 784)).astype(np.uint8))
        np.save(folder / "audio" / f"{split}_data.npy", rng.integers(0, 256, (n, 112, 112)).astype(np.uint8))
        np.save(folder / f"{split}_labels.npy", np.arange(n) % 10)
    data = avmnist.load_avmnist(tmp_path, num_train=50, num_val=5, num_test=100, seed=0, cache=False)
    assert data.source == avmnist.SOURCE_MULTIBENCH
    # MultiBench's split: the last 1/12 of the training file (5,000 of 60,000) is validation.
    assert (len(data.train), len(data.val), len(data.test)) == (50, 5, 24)
    assert data.train.a.shape == (50, 1, 28, 28) and data.test.b.shape == (24, 1, 112, 112)
    assert float(data.train.a.mean()) == pytest.approx(0.0, abs=1e-4)
    (folder / "test_labels.npy").unlink()
    with pytest.raises(ConfigError, match="test_labels.npy"):
        avmnist.load_avmnist(tmp_path, cache=False)


def test_missing_folders_name_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="mnist"):
        avmnist.load_avmnist(tmp_path, **SMALL)
    with pytest.raises(ConfigError, match="data directory"):
        avmnist.load_avmnist(None, layout="open", **SMALL)


def test_synthetic_speech_differs_by_digit_and_speaker():
    waves, digits, speakers = avmnist.synthetic_fsdd(num_speakers=2, per_digit=1, seed=0)
    assert len(waves) == 20 and sorted(set(speakers)) == ["spk0", "spk1"]
    assert all(w.dtype == np.float32 and np.isfinite(w).all() and 0.2 < np.abs(w).max() <= 1 for w in waves)
    spectra = [np.abs(np.fft.rfft(avmnist.fit_clip(w, 4000))) for w in waves]
    assert not np.allclose(spectra[0], spectra[1])  # digits 0 and 1 of speaker 0 differ


def test_coloured_noise_has_the_requested_slope():
    noise = avmnist.coloured_noise((64, 4096), torch.tensor([0.0] * 32 + [2.0] * 32), torch.Generator().manual_seed(0))
    assert torch.allclose(noise.std(dim=1), torch.ones(64), atol=1e-4)
    power = torch.fft.rfft(noise, dim=1).abs().pow(2)
    low, high = power[:, 10:100].mean(dim=1), power[:, 1000:2000].mean(dim=1)
    assert (low[:32] / high[:32]).mean() < 2 and (low[32:] / high[32:]).mean() > 100


def test_networks_match_appendix_b1():
    def conv_count(module):
        return sum(isinstance(m, nn.Conv2d) for m in module.modules())

    spectrograms, images = torch.randn(5, 1, 24, 24), torch.randn(5, 1, 28, 28)
    teacher, student = AudioCNN(6, 8), AudioCNN(3, 8)
    fusion = ImageAudioLateFusion(audio_layers=5, width=8)
    assert conv_count(teacher) == 6 and conv_count(student) == 3
    assert conv_count(fusion.audio_branch) == 5 and conv_count(fusion.image_branch) == 2
    assert teacher(spectrograms).shape == (5, 10) and student(spectrograms).shape == (5, 10)
    assert fusion(images, spectrograms).shape == (5, 10)
    assert LeNet5()(images).shape == (5, 10) and LeNet5(num_classes=None)(images).shape == (5, 84)
    assert AudioCNN(3, 8, num_classes=None)(torch.randn(2, 1, 40, 40)).shape == (2, 9 * 32)
    assert not any(isinstance(m, nn.GroupNorm) for m in AudioCNN(6, 8, norm=False).modules())


def test_no_utterance_is_shared_between_train_and_validation(open_dir):
    data = avmnist.load_avmnist(open_dir, seed=2, test_speakers=("theo",), **SMALL)
    gt = data.ground_truth
    train, val, seen = (set(gt[f"{s}_recordings"]) for s in ("train", "val", "test_seen"))
    assert train and val and seen
    assert not train & val and not train & seen and not val & seen
    assert not set(gt["test_recordings"]) & (train | val | seen)  # the held-out speaker is heard only in test
    assert gt["test_speakers"] == ["theo"] and gt["test_seen_speakers"] != ["theo"]
    # The seen-speaker test pairs share the held-out-speaker test images and labels, not the audio.
    assert torch.equal(gt["test_seen"].a, data.test.a) and torch.equal(gt["test_seen"].y, data.test.y)
    assert not torch.equal(gt["test_seen"].b, data.test.b)


def test_split_utterances_is_disjoint_per_digit_and_rejects_bad_shares():
    rng = np.random.default_rng(0)
    digits = np.repeat(np.arange(10), 20)
    recordings = np.arange(200)
    train, val, test = avmnist.split_utterances(recordings, digits, 0.15, rng)
    assert len(train) + len(val) + len(test) == 200 and len(set(train) | set(val) | set(test)) == 200
    for pool, per_digit in ((val, 3), (test, 3), (train, 14)):
        assert np.bincount(digits[pool], minlength=10).tolist() == [per_digit] * 10
    with pytest.raises(ConfigError, match="held_out_utterances"):
        avmnist.split_utterances(recordings, digits, 0.5, rng)
    with pytest.raises(ConfigError, match="too few"):
        avmnist.split_utterances(np.arange(2), np.zeros(2, dtype=int), 0.15, rng)


class TinyFusion(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 3)

    def forward(self, a, b):
        return self.fc(torch.cat([a, b], dim=1))


def tiny_split(n, generator):
    y = torch.arange(n) % 3
    a = torch.randn(n, 4, generator=generator) + y[:, None].float()
    b = torch.randn(n, 4, generator=generator) + 0.5 * y[:, None].float()
    return type("Split", (), {"a": a, "b": b, "y": y})()


def test_kd_study_runs_every_condition_paired_and_cached(tmp_path):
    from mfh_lib import cache, training

    generator = torch.Generator().manual_seed(0)
    splits = {"train": tiny_split(60, generator), "val": tiny_split(30, generator), "test": tiny_split(30, generator)}
    teachers = {"UM": (lambda: nn.Linear(4, 3), lambda s: (s.b,)), "CM": (TinyFusion, lambda s: (s.a, s.b))}
    student = (lambda: nn.Linear(4, 3), lambda s: (s.b,))
    settings = dict(rhos=[0.0, 0.5], seeds=3, teacher_epochs=3, student_epochs=3, batch_size=10, lr=0.05,
                    control_rho=0.5, noise_teacher="UM", born_again=True, smoothing_teacher="UM", cross_fit=["UM"],
                    num_folds=2)
    results_cache = cache.ResultsCache("kd_study_test", root=tmp_path)
    study = training.kd_study(teachers, student, splits, settings, results_cache=results_cache, key={"test": 1})
    expected = {("No-KD", 1.0), ("UM-KD", 0.0), ("CM-KD", 0.0), ("UM-KD", 0.5), ("CM-KD", 0.5), ("noise teacher", 0.5),
                ("born-again", 0.5), ("label smoothing", 0.5), ("cross-fitted UM-KD", 0.5)}
    assert set(study["students"]) == expected
    assert set(study["teachers"]) == {"UM", "CM", "noise teacher"}
    for run in [*study["teachers"].values(), *study["students"].values()]:
        assert set(run["acc"]) == {"test"} and run["acc"]["test"].shape == (3,)
        assert ((run["acc"]["test"] >= 0) & (run["acc"]["test"] <= 100)).all()
    assert study["teachers"]["UM"]["confidence"].shape == (3,)
    # The CM teacher sees both inputs and beats the audio-only teacher on this easy problem.
    assert study["teachers"]["CM"]["acc"]["test"].mean() > study["teachers"]["noise teacher"]["acc"]["test"].mean()
    # Every unit is cached: a second call trains nothing and returns the same numbers.
    original = training.fit_best_epoch
    try:
        training.fit_best_epoch = lambda *a, **k: (_ for _ in ()).throw(AssertionError("retrained a cached unit"))
        again = training.kd_study(teachers, student, splits, settings, results_cache=results_cache, key={"test": 1})
    finally:
        training.fit_best_epoch = original
    for condition in expected:
        assert torch.equal(again["students"][condition]["acc"]["test"], study["students"][condition]["acc"]["test"])


def test_fit_best_epoch_keeps_each_members_best_validation_epoch():
    from mfh_lib import training

    generator = torch.Generator().manual_seed(1)
    train, val = tiny_split(60, generator), tiny_split(30, generator)
    per_member_labels = torch.stack([train.y, train.y.flip(0)])  # member 1 learns nonsense labels
    ensemble = training.fit_best_epoch(lambda: nn.Linear(4, 3), (train.b,), per_member_labels, (val.b,), val.y,
                                       num_members=2, num_epochs=4, batch_size=10, lr=0.05, seed=0)
    acc = training.member_accuracy(training.predict_ensemble(ensemble, val.b, shared=True), val.y)
    assert acc.shape == (2,) and acc[0] > acc[1]
    # Same seed: same initial weights and batch order, so the same result.
    again = training.fit_best_epoch(lambda: nn.Linear(4, 3), (train.b,), per_member_labels, (val.b,), val.y,
                                    num_members=2, num_epochs=4, batch_size=10, lr=0.05, seed=0)
    assert all(torch.equal(ensemble.params[k], again.params[k]) for k in ensemble.params)


def test_fit_best_epoch_loss_is_kd_loss_per_member(monkeypatch):
    """The vectorised eq. (1) inside fit_best_epoch equals losses.kd_loss member by member."""
    from mfh_lib import training
    from mfh_lib.losses import kd_loss

    captured = {}
    original = training.train_ensemble

    def capture(ensemble, tensors, loss_fn, **kwargs):
        captured["loss_fn"], captured["ensemble"] = loss_fn, ensemble
        return original(ensemble, tensors, loss_fn, **{**kwargs, "num_epochs": 0})

    monkeypatch.setattr(training, "train_ensemble", capture)
    generator = torch.Generator().manual_seed(2)
    train = tiny_split(12, generator)
    teacher_logits = torch.randn(2, 12, 3, generator=generator)
    training.fit_best_epoch(lambda: nn.Linear(4, 3), (train.b,), train.y, (train.b,), train.y, num_members=2,
                            num_epochs=1, batch_size=12, rho=0.3, teacher_logits=teacher_logits, temperature=2.0)
    ensemble = captured["ensemble"]
    losses = captured["loss_fn"](ensemble, train.b.expand(2, 12, 4), train.y.expand(2, 12), teacher_logits)
    logits = ensemble(train.b, shared=True)
    expected = torch.stack([kd_loss(logits[i], teacher_logits[i], train.y, 0.3, 2.0) for i in range(2)])
    assert torch.allclose(losses, expected, atol=1e-6)


def test_noisy_spectrograms_are_bit_identical_across_calls_and_restore_threads():
    clips = np.random.default_rng(0).standard_normal((64, 6000)).astype(np.float32)
    threads = torch.get_num_threads()
    first, second = (avmnist.noisy_spectrograms(clips, np.random.default_rng(5), snr_db=(0.0, 10.0), n_mels=16,
                                                num_frames=12) for _ in range(2))
    assert np.array_equal(first, second) and torch.get_num_threads() == threads
