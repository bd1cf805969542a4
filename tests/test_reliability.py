"""Issue #17, one test (or a few) per item: content-keyed cache, validated loaders, validated
parameters, corrupt and planted cache entries, concurrent runs, the nbval sanitizer default and the
redirected results folder. Every fixture is written here, into tmp_path."""
import dataclasses
import multiprocessing
import os
import pickle
import signal
import time
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
import torch
from scipy.io import wavfile

import conftest
from mfh_lib import cache, claims, config
from mfh_lib.config import ConfigError
from mfh_lib.data import MultimodalDataset, MultimodalSplit, avmnist, mmimdb, nyuv2, ravdess, vggsound
from mfh_lib.data.gaussian_mvd import MVDSpec
from test_avmnist import digit_images, write_fsdd
from test_mmimdb import SMALL_SPLIT, write_fixture as write_mmimdb
from test_nyuv2 import write_fixture as write_nyuv2
from test_vggsound import write_fixture as write_vggsound

ROOT = Path(__file__).resolve().parent.parent


def tiny_dataset(shift: float = 0.0) -> MultimodalDataset:
    split = MultimodalSplit(torch.arange(6.0).reshape(3, 2) + shift, torch.ones(3, 1), torch.tensor([0, 1, 0]))
    return MultimodalDataset(split, split, split, ("a", "b"), 2, source="stand-in (test)")


def write_mnist_npz(folder: Path, *, size: int = 28, labels=None, n: int = 40) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    y = np.arange(n) % 10 if labels is None else labels
    x = digit_images(y, rng)[:, :size, :size]
    path = folder / "mnist.npz"
    np.savez(path, x_train=x, y_train=y, x_test=x, y_test=y)
    return path


# --- 1. cache keys identify the data ---------------------------------------------------------------

def test_content_hash_identifies_the_data():
    first, same, changed = tiny_dataset(), tiny_dataset(), tiny_dataset(shift=1e-3)
    assert first.content_hash == same.content_hash != changed.content_hash
    assert len(first.content_hash) == 64
    assert first.to("cpu").content_hash == first.content_hash
    relabelled = dataclasses.replace(first, num_classes=3)
    assert relabelled.content_hash != first.content_hash  # a replace() copy hashes its own content
    as_float64 = dataclasses.replace(first, train=MultimodalSplit(first.train.a.double(), first.train.b, first.train.y))
    assert as_float64.content_hash != first.content_hash  # dtype is part of the content


def test_changed_data_miss_the_cache_identical_data_hit(tmp_path):
    store, calls = cache.ResultsCache("demo", root=tmp_path), []

    def unit(data):
        return store.get_or_compute({"data": data.content_hash, "lr": 0.1},
                                    lambda: calls.append(1) or {"mean": data.train.a.mean()})

    unit(tiny_dataset())
    unit(tiny_dataset())  # identical content, new object: a hit
    assert len(calls) == 1
    out = unit(tiny_dataset(shift=1.0))  # same label, different numbers: a miss
    assert len(calls) == 2 and float(out["mean"]) == pytest.approx(3.5)


def test_edited_mnist_is_read_again(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(tmp_path / "cache"))
    npz = write_mnist_npz(tmp_path / "data" / "mnist")
    write_fsdd(tmp_path / "data" / "fsdd", takes=3)
    settings = dict(num_train=20, num_val=5, num_test=10, n_mels=8, num_frames=8, cache=True)
    first = avmnist.load_avmnist(tmp_path / "data", **settings)
    assert torch.equal(avmnist.load_avmnist(tmp_path / "data", **settings).train.a, first.train.a)  # a hit
    with np.load(npz) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["x_train"] = 255 - arrays["x_train"]
    np.savez(npz, **arrays)
    edited = avmnist.load_avmnist(tmp_path / "data", **settings)
    assert len(list((tmp_path / "cache" / "avmnist_data").glob("*.pt"))) == 2
    assert not torch.equal(edited.train.a, first.train.a) and edited.content_hash != first.content_hash


def test_chapter_cache_keys_hold_no_data_labels():
    for source in sorted((ROOT / "chapters").glob("*.py")) + [ROOT / "mfh_lib" / "ranking.py"]:
        for number, line in enumerate(source.read_text().splitlines(), 1):
            if "get_or_compute(" in line or "key = {" in line or '"run": name' in line:
                assert ".source" not in line and '"source": source' not in line, f"{source.name}:{number}: {line}"


# --- 2. loaders refuse malformed data, naming the file and the field ------------------------------

def test_mnist_with_wrong_shape_or_one_class_is_refused(tmp_path):
    write_mnist_npz(tmp_path / "small", size=10)
    with pytest.raises(ConfigError, match=r"mnist\.npz.*'x_train' has shape \(40, 10, 10\); expected \(N, 28, 28\)"):
        avmnist.read_mnist(tmp_path / "small")
    write_mnist_npz(tmp_path / "zeros", labels=np.zeros(40, np.int64))
    with pytest.raises(ConfigError, match=r"mnist\.npz.*'y_train' has no sample of digit\(s\) \[1, 2"):
        avmnist.read_mnist(tmp_path / "zeros")
    write_mnist_npz(tmp_path / "labels", labels=np.arange(40) % 11)
    with pytest.raises(ConfigError, match=r"'y_train' has values in \[0, 10\]; expected values in \[0, 9\]"):
        avmnist.read_mnist(tmp_path / "labels")


def write_ravdess(root: Path, **overrides) -> Path:
    folder = root / ravdess.FEATURES_SUBDIR
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    n = 24 * 4
    arrays = {"mfcc": rng.normal(size=(n, 12)), "au": rng.uniform(0, 5, (n, 6)),
              "emotion": np.arange(n) % 8 + 1, "actor": np.repeat(np.arange(1, 25), 4), **overrides}
    np.savez(folder / ravdess.FEATURES_FILE, **arrays)
    return folder / ravdess.FEATURES_FILE


@pytest.mark.parametrize("overrides, message", [
    ({"mfcc": np.full((96, 12), np.nan)}, r"'mfcc' holds 1152 NaN/inf value\(s\)"),
    ({"mfcc": np.zeros(96)}, r"'mfcc' has shape \(96,\); expected \(N, D_a\)"),
    ({"emotion": np.arange(96) % 9 + 1}, r"'emotion' has values in \[1, 9\]; expected values in \[1, 8\]"),
    ({"emotion": np.arange(96) % 8 + 1.5}, r"'emotion' holds non-integer values"),
    ({"au": np.zeros((95, 6))}, r"different numbers of rows"),
    ({"mfcc": np.full((96, 12), "a")}, r"'mfcc' has dtype <U1; expected numbers"),
])
def test_malformed_ravdess_is_refused(tmp_path, overrides, message):
    path = write_ravdess(tmp_path, **overrides)
    with pytest.raises(ConfigError, match=message) as err:
        ravdess.load_ravdess(tmp_path)
    assert str(path) in str(err.value)


def test_valid_ravdess_fixture_loads(tmp_path):
    write_ravdess(tmp_path)
    data = ravdess.load_ravdess(tmp_path)
    assert data.source == ravdess.REAL_SOURCE and len(data.train) == 64


def test_malformed_nyu_is_refused(tmp_path):
    write_nyuv2(tmp_path)
    mat = tmp_path / nyuv2.NYU_SUBDIR / nyuv2.NYU_MAT_NAME
    with h5py.File(mat, "r+") as f:
        f["labels"][0, 0, 0] = 5000  # was clamped into class 39
    with pytest.raises(ConfigError, match=r"nyu_depth_v2_labeled\.mat.*'labels' has values in \[\d+, 5000\]"):
        nyuv2.load_nyuv2(tmp_path, image_size=None)
    with h5py.File(mat, "r+") as f:
        f["labels"][0, 0, 0] = 1
        f["depths"][0, 0, 0] = np.nan
    with pytest.raises(ConfigError, match=r"nyu_depth_v2_labeled\.mat.*'depths' holds 1 NaN/inf"):
        nyuv2.load_nyuv2(tmp_path, image_size=None)


def test_malformed_mmimdb_is_refused(tmp_path):
    arrays = write_mmimdb(tmp_path)
    path = tmp_path / mmimdb.SUBDIR / mmimdb.FILENAME
    for key, value, message in (
        ("features", np.where(np.eye(14, 300, dtype=bool), np.nan, arrays["features"]), r"'features' holds \d+ NaN"),
        ("genres", np.where(np.eye(14, 23, dtype=bool), 7.0, arrays["genres"]), r"'genres' has values in \[0.0, 7.0\]"),
        ("features", arrays["features"][:, :, None], r"'features' has shape \(14, 300, 1\)"),
    ):
        with h5py.File(path, "r+") as f:
            original = f[key][...]
            del f[key]
            f[key] = value
        with pytest.raises(ConfigError, match=message) as err:
            mmimdb.load_mmimdb(tmp_path, split=SMALL_SPLIT)
        assert str(path) in str(err.value)
        with h5py.File(path, "r+") as f:
            del f[key]
            f[key] = original
    mmimdb.load_mmimdb(tmp_path, split=SMALL_SPLIT)  # restored: loads


def test_vggsound_with_one_training_clip_is_refused(tmp_path):
    write_vggsound(tmp_path)
    labels = tmp_path / "vggsound" / "labels.csv"
    rows = labels.read_text().splitlines()
    labels.write_text("\n".join([rows[0], rows[1]] + [r for r in rows[1:] if r.endswith(",test")]) + "\n")
    with pytest.raises(ConfigError, match=r"labels\.csv.*the train split has 1 sample\(s\); expected at least 2"):
        vggsound.load_vggsound(tmp_path, val_fraction=0.0)


# --- 3. parameters are validated, naming the parameter ------------------------------------------

@pytest.mark.parametrize("value", [-1, 0, "three", "3", 2.5, True])
def test_bad_seeds_name_the_parameter(value):
    with pytest.raises(ConfigError, match=r"setting 'seeds' = .* expected a whole number >= 1"):
        config.load_profile("03_theorem1", "quick", seeds=value)


def test_parameters_keep_their_type_and_range():
    assert config.load_profile("03_theorem1", "quick", seeds=2)["seeds"] == 2
    assert config.load_profile("01_case_study_avmnist", "quick", temperature=2)["temperature"] == 2.0
    with pytest.raises(ConfigError, match=r"setting 'delta' = 'abc' is invalid: expected a finite number"):
        config.load_profile("03_theorem1", "quick", delta="abc")
    with pytest.raises(ConfigError, match=r"'delta' = nan"):
        config.load_profile("03_theorem1", "quick", delta=float("nan"))
    assert config.load_profile("04_nyu_depth", "quick", shared_shares=[0, 0.5])["shared_shares"] == [0.0, 0.5]
    with pytest.raises(ConfigError, match=r"'shared_shares\[1\]' = 'half'"):
        config.load_profile("04_nyu_depth", "quick", shared_shares=[0.25, "half"])
    with pytest.raises(ConfigError, match=r"'shared_shares' = \[\].*non-empty list"):
        config.load_profile("04_nyu_depth", "quick", shared_shares=[])
    with pytest.raises(ConfigError, match=r"'num_permutations' = 0"):
        config.load_profile("05_ravdess_vggsound", "quick", num_permutations=0)
    assert config.check_setting("flag", False, True) is False
    with pytest.raises(ConfigError, match="'flag' = 1 .*true or false"):
        config.check_setting("flag", 1, True)
    with pytest.raises(ConfigError, match="'name' = 3 .*a string"):
        config.check_setting("name", 3, "adam")


def test_parameters_outside_the_profile_are_checked_too():
    with pytest.raises(ConfigError, match="device must be a string"):
        config.pick_device(0)
    with pytest.raises(ConfigError, match="data_dir must be a folder path"):
        config.resolve_data_dir(5)
    with pytest.raises(ConfigError, match="genres must be"):
        mmimdb.genre_columns(5)
    with pytest.raises(ConfigError, match=r"delta must lie in \[0, 1\], got 'abc'"):
        config.check_unit_interval("delta", "abc")


# --- 4. a corrupt entry is reported, recomputed and replaced ------------------------------------

def test_truncated_entry_is_recomputed(tmp_path):
    store = cache.ResultsCache("demo", root=tmp_path)
    store.get_or_compute({"seed": 0}, lambda: {"acc": torch.tensor([1.0, 2.0])})
    path = store.path({"seed": 0})
    path.write_bytes(path.read_bytes()[:50])
    with pytest.warns(cache.CacheWarning, match=f"{path}.*unreadable.*recomputing"):
        value = store.get_or_compute({"seed": 0}, lambda: {"acc": torch.tensor([3.0])})
    assert torch.equal(value["acc"], torch.tensor([3.0]))
    assert torch.equal(cache.decode_file(path)["acc"], torch.tensor([3.0]))  # replaced by a good entry
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp or lock files left


# --- 5. loading executes no code from the cache ------------------------------------------------------

class Planted:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_planted_entry_does_not_run(tmp_path, writer):
    marker = tmp_path / "pwned"
    store = cache.ResultsCache("shared", root=tmp_path / "cache")
    path = store.path({"unit": 1})
    path.parent.mkdir(parents=True)
    if writer == "pickle":
        path.write_bytes(pickle.dumps(Planted(marker), protocol=2))  # torch.load reads protocol 2 quietly
    else:
        torch.save({"format": cache.CACHE_FORMAT, "tree": "{}", "tensors": [Planted(marker)]}, path)
    with pytest.warns(cache.CacheWarning, match=str(path)):
        assert store.get_or_compute({"unit": 1}, lambda: 42) == 42
    assert not marker.exists()
    assert cache.ResultsCache("shared", root=tmp_path / "cache").get_or_compute({"unit": 1}, lambda: 0) == 42


def test_foreign_values_and_keys_are_refused(tmp_path):
    store = cache.ResultsCache("demo", root=tmp_path)
    with pytest.raises(TypeError, match=r"value\['a'\]\[0\] of type object"):
        store.get_or_compute({"k": 1}, lambda: {"a": [object()]})
    with pytest.raises(TypeError, match="cache keys take JSON data"):
        cache.config_key({"data": torch.zeros(3)})
    assert cache.config_key({"n": np.int64(3)}) == cache.config_key({"n": 3})


def test_key_holds_format_and_namespace(tmp_path, monkeypatch):
    first = cache.ResultsCache("a", root=tmp_path).path({"x": 1})
    assert first.name != cache.ResultsCache("b", root=tmp_path).path({"x": 1}).name
    monkeypatch.setattr(cache, "CACHE_FORMAT", cache.CACHE_FORMAT + 1)
    assert cache.ResultsCache("a", root=tmp_path).path({"x": 1}) != first


# --- concurrency: each unit is computed once --------------------------------------------------

def slow_unit(root, log, barrier, results):
    def compute():
        with open(log, "a") as handle:
            handle.write(f"{os.getpid()}\n")
        time.sleep(0.5)
        return {"x": torch.arange(3)}

    barrier.wait()
    results.put(cache.ResultsCache("race", root=Path(root)).get_or_compute({"unit": 1}, compute)["x"].tolist())


def test_two_processes_compute_one_unit_once(tmp_path):
    ctx = multiprocessing.get_context("fork")
    barrier, results, log = ctx.Barrier(2), ctx.Queue(), tmp_path / "log"
    workers = [ctx.Process(target=slow_unit, args=(tmp_path / "cache", log, barrier, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    values = [results.get(timeout=30) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    assert values == [[0, 1, 2], [0, 1, 2]]
    assert len(log.read_text().splitlines()) == 1


def hang_in_compute(root, started):
    def compute():
        Path(started).touch()
        time.sleep(60)

    cache.ResultsCache("race", root=Path(root)).get_or_compute({"unit": 2}, compute)


def test_killed_holder_leaves_no_entry_and_no_stale_lock(tmp_path):
    ctx = multiprocessing.get_context("fork")
    started = tmp_path / "started"
    holder = ctx.Process(target=hang_in_compute, args=(tmp_path / "cache", started))
    holder.start()
    deadline = time.monotonic() + 20
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(holder.pid, signal.SIGKILL)
    holder.join()
    store = cache.ResultsCache("race", root=tmp_path / "cache")
    assert not store.path({"unit": 2}).exists()
    begin = time.monotonic()
    assert store.get_or_compute({"unit": 2}, lambda: "done") == "done"
    assert time.monotonic() - begin < 5  # the dead process's lock is gone with it


# --- 6. nbval sanitizes by default ---------------------------------------------------------------

def test_nbval_gets_the_sanitizer_unless_one_is_named():
    def configured(**options):
        option = SimpleNamespace(**{"nbval": False, "nbval_lax": False, "nbval_sanitize_with": None,
                                    "sanitize_with": None, **options})
        conftest.pytest_configure(SimpleNamespace(option=option))
        return option.nbval_sanitize_with

    assert configured(nbval=True) == str(ROOT / "tests" / "nbval_sanitize.cfg")
    assert configured(nbval_lax=True) == str(ROOT / "tests" / "nbval_sanitize.cfg")
    assert configured(nbval=True, nbval_sanitize_with="mine.cfg") == "mine.cfg"
    assert configured() is None
    assert (ROOT / "tests" / "nbval_sanitize.cfg").exists()


# --- 7. smaller items ------------------------------------------------------------------------------

def test_bad_wav_names_the_file(tmp_path):
    write_fsdd(tmp_path / "fsdd", takes=1)
    bad = tmp_path / "fsdd" / "recordings" / "3_theo_0.wav"
    bad.write_bytes(b"RIFF not really a wav")
    with pytest.raises(ConfigError, match=r"3_theo_0\.wav.* as a wav file"):
        avmnist.read_fsdd(tmp_path / "fsdd")
    wavfile.write(bad, avmnist.SAMPLE_RATE, np.full(100, np.nan, np.float32))
    with pytest.raises(ConfigError, match=r"3_theo_0\.wav.*'samples' holds 100 NaN"):
        avmnist.read_fsdd(tmp_path / "fsdd")


def test_non_hdf5_mmimdb_names_the_file(tmp_path):
    (tmp_path / mmimdb.SUBDIR).mkdir()
    path = tmp_path / mmimdb.SUBDIR / mmimdb.FILENAME
    path.write_text("not hdf5")
    with pytest.raises(ConfigError, match=f"cannot read '{path}' as HDF5.*expected MM-IMDB"):
        mmimdb.load_mmimdb(tmp_path)


def test_mvd_spec_takes_integer_indices_only():
    MVDSpec(4, 4, 4, (0, 1), (np.int64(1), 2))
    with pytest.raises(ConfigError, match=r"J1 indices must be integers.*\[1.0\]"):
        MVDSpec(4, 4, 4, (0, 1.0), (2,))
    with pytest.raises(ConfigError, match="d must be a positive integer, got 4.5"):
        MVDSpec(4, 4, 4.5, (0,), (1,))


def test_session_writes_results_and_caches_to_temp_folders(tmp_path, monkeypatch):
    tracked = ROOT / "book" / "_results"
    assert claims.results_dir().resolve() != tracked.resolve()
    assert cache.cache_root().resolve() != (ROOT / ".cache" / "results").resolve()
    assert {p.name for p in tracked.glob("*.json")} <= {p.name for p in claims.results_dir().glob("*.json")}
    # a folder made for the session is a copy, and it goes when the session ends
    monkeypatch.setattr(conftest, "_SESSION_DIRS", [])
    monkeypatch.setenv("MFH_TEST_FOLDER", "")  # unset for _session_dir; monkeypatch removes it afterwards
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "x.json").write_text("{}")
    conftest._session_dir("MFH_TEST_FOLDER", "mfh-test-", copy_of=tmp_path / "src")
    made = Path(os.environ["MFH_TEST_FOLDER"])
    assert (made / "x.json").read_text() == "{}"
    conftest._session_dir("MFH_TEST_FOLDER", "mfh-test-")  # already set: left alone
    assert conftest._SESSION_DIRS == [str(made)]
    conftest.pytest_unconfigure(None)
    assert not made.exists()
