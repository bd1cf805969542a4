"""The study API for a user's own data: typed settings, splits, num_classes, load_profile from a path,
non-FeatureHead networks and the one-call diagnosis (mfh_lib.ranking, mfh_lib.data.splits)."""
import json
import warnings

import numpy as np
import pytest
import torch

from mfh_lib import cache, config, controls, models, ranking
from mfh_lib.config import ConfigError
from mfh_lib.data import (MultimodalSplit, dataset_from_arrays, group_split, kfold_indices,
                          random_split, standardize)
from mfh_lib.data import ravdess

TINY = {"seeds": 2, "hidden_a": [8, 6], "hidden_b": [6], "joint_epochs": 2, "student_epochs": 2, "batch_size": 32,
        "lr": 0.05, "momentum": 0.9, "weight_decay": 0.0, "rho": 0.5, "num_permutations": 2, "ratios": [0.5],
        "m_values": [], "m_ratio": 0.5, "cross_fit_folds": 2}


def paired_arrays(n=96, d_a=6, d_b=4, k=3, seed=0):
    """A tiny paired set: both modalities see the label (a more strongly), 8 groups."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    x_a = rng.normal(size=(n, d_a)) + 2.0 * np.eye(k, d_a)[y]
    x_b = rng.normal(size=(n, d_b)) + 0.8 * np.eye(k, d_b)[y]
    return x_a, x_b, y, np.arange(n) % 8


# --- typed settings ---------------------------------------------------------------------------

def test_missing_setting_raises_an_error_naming_it():
    cfg = {k: v for k, v in TINY.items() if k != "seeds"}
    with pytest.raises(ConfigError, match="seeds"):
        ranking.NullifiedStudySettings.from_dict(cfg)
    with pytest.raises(ConfigError, match="seeds"):
        ranking.nullified_teacher_study(dataset_from_arrays(*paired_arrays()[:3]), cfg, use_cache=False)
    with pytest.raises(ConfigError, match="hiden_a"):
        ranking.NullifiedStudySettings.from_dict({**TINY, "hiden_a": [4]})
    # a chapter profile's other settings are ignored when asked
    settings = ranking.NullifiedStudySettings.from_dict({**TINY, "vgg_depth": 18}, extra="ignore")
    assert settings.seeds == 2 and settings.ratios == (0.5,) and settings.m_values == ()


@pytest.mark.parametrize("bad", [{"seeds": 0}, {"rho": 1.5}, {"ratios": [0.5, "x"]}, {"m_values": [5]},
                                 {"hidden_a": []}, {"cross_fit_folds": 1}, {"batch_size": 2.5}])
def test_invalid_settings_name_the_setting(bad):
    name = next(iter(bad))
    with pytest.raises(ConfigError, match=name):
        ranking.NullifiedStudySettings.from_dict({**TINY, **bad})


def test_every_setting_is_documented():
    doc = ranking.NullifiedStudySettings.__doc__
    for f in ranking.NullifiedStudySettings.__dataclass_fields__:
        assert f"``{f}``" in doc, f


def test_a_chapter_dict_keeps_its_cache_key(monkeypatch):
    """Chapter 05/08 pass their whole profile: the key stays {"data": hash, **profile} (goldens valid)."""
    keys = []
    monkeypatch.setattr(cache.ResultsCache, "get_or_compute", lambda self, key, compute: keys.append(key))
    data = SimpleData()
    profile = config.load_profile("05_ravdess_vggsound", "quick")
    ranking.nullified_teacher_study(data, profile)
    assert keys[-1] == {"data": data.content_hash, **profile}
    settings = ranking.NullifiedStudySettings.from_dict(TINY)
    ranking.nullified_teacher_study(data, settings)
    assert keys[-1] == {"data": data.content_hash, **settings.to_dict()}


class SimpleData:
    content_hash = "x"


# --- number of classes ------------------------------------------------------------------------

def test_a_class_absent_from_training_still_gets_its_logit():
    x_a, x_b, y, groups = paired_arrays(k=3)
    y = y.copy()
    train, _, _ = group_split(groups, seed=0, val=1, test=1)
    y[train & (y == 2)] = 1  # class 2 only in val / test; a 4th class (3) exists nowhere
    with pytest.warns(UserWarning, match="no training sample"):
        data = dataset_from_arrays(x_a, x_b, y, groups=groups, num_classes=4, val=1, test=1)
    assert data.num_classes == 4 and int(data.train.y.max()) == 1
    with pytest.warns(UserWarning, match="no training sample"):
        out = ranking.nullified_teacher_study(data, TINY, use_cache=False)
    assert out["teacher_test_logits"].shape[-1] == 4


def test_kd_study_with_a_class_absent_from_training_keeps_every_logit():
    from torch import nn

    from mfh_lib import training

    gen = torch.Generator().manual_seed(0)

    def split(n, classes):
        y = torch.arange(n) % classes
        return MultimodalSplit(torch.randn(n, 4, generator=gen) + y[:, None], torch.randn(n, 4, generator=gen), y)

    splits = {"train": split(30, 2), "val": split(15, 3), "test": split(15, 3)}  # class 2 never trains
    model = (lambda: nn.Linear(4, 3), lambda s: (s.a,))
    settings = training.KDStudySettings(seeds=2, teacher_epochs=1, student_epochs=1, batch_size=10, lr=0.05,
                                        rhos=[0.5], control_rho=0.5, smoothing_teacher="T")
    study = training.kd_study({"T": model}, model, splits, settings)
    assert study["students"][("label smoothing", 0.5)]["acc"]["test"].shape == (2,)


def test_labels_beyond_num_classes_are_an_error():
    x_a, x_b, y, _ = paired_arrays(k=3)
    with pytest.raises(ConfigError, match="num_classes = 2"):
        dataset_from_arrays(x_a, x_b, y, num_classes=2)
    data = dataset_from_arrays(x_a, x_b, y)
    with pytest.raises(ConfigError, match="num_classes = 2"):
        ranking.study_num_classes(data, ranking.NullifiedStudySettings.from_dict({**TINY, "num_classes": 2}))


# --- networks that are not a FeatureHead ------------------------------------------------------

def test_rank_channels_with_a_plain_mlp_ranks_the_inputs_or_says_what_is_needed():
    x_a, x_b, y, _ = paired_arrays()
    data = dataset_from_arrays(x_a, x_b, y)
    make_a, make_b = (lambda: models.MLP(6, [8], 3)), (lambda: models.MLP(4, [8], 3))
    kwargs = dict(num_seeds=2, num_epochs=2, num_permutations=2, batch_size=None, lr=0.1)
    with pytest.raises(ConfigError, match="`features` and `head` submodules.*rank_path=None"):
        ranking.rank_channels(data, make_a, make_b, **kwargs)  # the default rank_path needs a FeatureHead
    *_, train_features, distances = ranking.rank_channels(data, make_a, make_b, rank_path=None, **kwargs)
    assert train_features.shape == (2, len(data.train), 6) and distances.shape == (2, 2, 6)
    # a FeatureHead with rank_path=None ranks its features (here the hidden layer)
    *_, hidden, _ = ranking.rank_channels(data, lambda: models.ranked_mlp(6, [5], 3), make_b, rank_path=None, **kwargs)
    assert hidden.shape == (2, len(data.train), 5)


# --- splits -----------------------------------------------------------------------------------

def test_splits_are_disjoint_and_cover_the_data():
    for train, val, test in (random_split(50, seed=1), group_split(np.arange(50) % 10, seed=1, val=2, test=3)):
        assert (train.astype(int) + val + test == 1).all()
        assert train.sum() > 0 and val.sum() > 0 and test.sum() > 0
    folds = kfold_indices(23, 4, seed=0)
    held = np.concatenate([h for _, h in folds])
    assert sorted(held.tolist()) == list(range(23))
    for fit, out in folds:
        assert not set(fit) & set(out) and len(fit) + len(out) == 23


def test_group_split_keeps_groups_intact():
    groups = np.repeat(np.arange(12), 5)
    train, val, test = group_split(groups, seed=3, val=0.25, test=2)
    sets = [set(groups[m]) for m in (train, val, test)]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert len(sets[1]) == 3 and len(sets[2]) == 2
    for fit, out in kfold_indices(len(groups), 3, groups=groups):
        assert not set(groups[fit]) & set(groups[out])
    with pytest.raises(ConfigError, match="leave none for training"):
        group_split(groups, val=6, test=6)


def test_standardize_uses_training_statistics():
    rng = np.random.default_rng(0)
    train, other = rng.normal(3, 2, (40, 3)), rng.normal(0, 1, (10, 3))
    train[:, 2] = 5.0  # a constant feature keeps std 1
    z_train, z_other = standardize(train, other)
    np.testing.assert_allclose(z_train[:, :2].mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(z_train[:, :2].std(0), 1)
    np.testing.assert_allclose(z_other, (other - train.mean(0)) / np.where(train.std(0) > 1e-8, train.std(0), 1))


def test_ravdess_actor_split_is_unchanged():
    """The RAVDESS loader keeps its own split (chapters 05 and 08): pinned indices of seed 0."""
    actors = np.repeat(np.arange(1, 25), 3)
    train, val, test = ravdess.actor_split(actors, seed=0)
    assert sorted(set(actors[test].tolist())) == [5, 19, 20, 22] and sorted(set(actors[val].tolist())) == [9, 10, 12, 15]


# --- load_profile from a user's file ----------------------------------------------------------

def test_load_profile_reads_a_users_json(tmp_path):
    path = tmp_path / "my_study.json"
    path.write_text(json.dumps({"quick": {"seeds": 2, "lr": 0.1}, "full": {"seeds": 5, "lr": 0.1}}))
    assert config.load_profile(path, "quick") == {"seeds": 2, "lr": 0.1}
    assert config.load_profile(str(path), "full", seeds=3)["seeds"] == 3
    with pytest.raises(ConfigError, match="'seeds'"):
        config.load_profile(path, "quick", seeds=0)
    with pytest.raises(ConfigError, match="unknown setting"):
        config.load_profile(path, "quick", epochs=1)
    with pytest.raises(ConfigError, match="not found"):
        config.load_profile(tmp_path / "nope.json", "quick")
    # the same profiles as a dict (a user's settings in code)
    profiles = {"quick": {"seeds": 2, "lr": 0.1}}
    assert config.load_profile(profiles, "quick", lr=0.5) == {"seeds": 2, "lr": 0.5} and profiles["quick"]["lr"] == 0.1
    with pytest.raises(ConfigError, match="unknown setting.*settings dict"):
        config.load_profile(profiles, "quick", epochs=1)
    with pytest.raises(ConfigError, match="JSON data"):
        config.load_profile({"quick": {"seeds": object()}}, "quick")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        config.load_profile(tmp_path / "bad.json", "quick")


# --- the one-call diagnosis -------------------------------------------------------------------

def test_diagnose_pair_returns_a_tidy_per_seed_table():
    x_a, x_b, y, groups = paired_arrays()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every class is in training: no warning
        diagnosis = ranking.diagnose_pair(x_a, x_b, y, groups, settings=TINY, use_cache=False, val=2, test=2)
    table = diagnosis.table
    conditions = ["no KD", "regular", "general r=50%", "specific r=50%", "random r=50%", *controls.CONTROLS]
    assert list(dict.fromkeys(table.condition)) == conditions
    assert len(table) == len(conditions) * 2 and set(table.seed) == {0, 1}
    teachers = table[table.family == "teacher"]
    assert teachers[["teacher_acc", "cch_gap", "mfh_shared"]].notna().all().all()
    np.testing.assert_allclose(table.gain, table.student_acc - np.tile(diagnosis.values("no KD"), len(conditions)))
    np.testing.assert_allclose(diagnosis.paired("regular", "noise teacher"),
                               diagnosis.values("regular") - diagnosis.values("noise teacher"))
    summary = diagnosis.summary()
    assert list(summary.condition) == conditions and (summary.seeds == 2).all()
    assert diagnosis.data.num_classes == 3 and diagnosis.settings.seeds == 2
    with pytest.raises(KeyError, match="no condition"):
        diagnosis.values("missing")


# --- the API page -------------------------------------------------------------------------------

def test_every_study_function_on_the_api_page_is_public():
    """book/api.md's table of study functions links real objects, each in its module's ``__all__``."""
    import importlib
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "book" / "api.md").read_text()
    targets = re.findall(r"\{py:(?:func|class)\}`(mfh_lib\.[\w.]+)`", text)
    assert "mfh_lib.multilabel.f1_matched_kd_study" in targets
    for target in targets:
        module_name, _, name = target.rpartition(".")
        module = importlib.import_module(module_name)
        assert hasattr(module, name), target
        assert name in getattr(module, "__all__", [name]), f"{target} is missing from {module_name}.__all__"


def test_kd_study_settings_name_what_is_missing_or_inconsistent():
    from torch import nn

    from mfh_lib import training

    with pytest.raises(ConfigError, match="'student_epochs'"):
        training.KDStudySettings.from_dict({"seeds": 2, "teacher_epochs": 1, "batch_size": 8})
    with pytest.raises(ConfigError, match="unknown study setting.*'num_members'"):
        training.KDStudySettings.from_dict({"seeds": 2, "teacher_epochs": 1, "student_epochs": 1, "batch_size": 8,
                                            "num_members": 2})
    with pytest.raises(ConfigError, match="control_rho"):
        training.KDStudySettings(seeds=2, teacher_epochs=1, student_epochs=1, batch_size=8, born_again=True)
    with pytest.raises(ConfigError, match="'rhos'"):
        training.KDStudySettings(seeds=2, teacher_epochs=1, student_epochs=1, batch_size=8, rhos=[1.5])
    model = (lambda: nn.Linear(4, 3), lambda s: (s.a,))
    settings = training.KDStudySettings(seeds=2, teacher_epochs=1, student_epochs=1, batch_size=8, control_rho=0.5,
                                        noise_teacher="UM")
    with pytest.raises(ConfigError, match="teacher 'UM'.*\\['T'\\]"):
        training.kd_study({"T": model}, model, {"train": None, "val": None}, settings)
