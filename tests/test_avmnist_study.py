"""The AV-MNIST study design of chapter 01 (issue #13): seeds that re-draw the data, splits without
shared utterances in any draw, the image-strength sweep, and kd_study on per-member data draws."""
import numpy as np
import pytest
import torch
from torch import nn

from mfh_lib import training
from mfh_lib.config import ConfigError
from mfh_lib.data import avmnist
from test_avmnist import SMALL, open_dir, tiny_split  # noqa: F401  (open_dir is a fixture)


def test_every_data_draw_keeps_validation_utterances_out_of_training(open_dir):  # noqa: F811
    draws = avmnist.load_avmnist_draws(open_dir, [0, 1], test_speakers=("theo",), **SMALL)
    for draw in draws:
        train, val = (set(draw.ground_truth[f"{s}_recordings"]) for s in ("train", "val"))
        assert train and val and not train & val
        assert avmnist.recording_overlap(draw) == (0, [])
    # seeds re-draw the data: the images, the pairing and the noise differ between draws
    assert not torch.equal(draws[0].train.b, draws[1].train.b) and not torch.equal(draws[0].train.a, draws[1].train.a)
    splits, digest = avmnist.stack_draws(draws)
    assert set(splits) == {"train", "val", avmnist.HELD_OUT, avmnist.SEEN}
    assert splits["train"].a.shape == (2, 30, 1, 28, 28) and splits["train"].b.shape == (2, 30, 1, 16, 12)
    assert splits["val"].y.shape == (2, 10) and torch.equal(splits[avmnist.SEEN].y[1], draws[1].test.y)
    assert digest != avmnist.stack_draws(draws[:1])[1]
    table = avmnist.describe_splits(draws[0])
    assert list(table.index) == ["train", "val", f"test ({avmnist.HELD_OUT})", f"test ({avmnist.SEEN})"]
    assert table["pairs"].tolist() == [30, 10, 20, 20] and table.loc["train", "speakers"] == "george, jackson"


def test_image_settings_change_only_the_images(open_dir):  # noqa: F811
    strong = avmnist.load_avmnist(open_dir, seed=4, pca_components=40, **SMALL)
    weak = avmnist.load_avmnist(open_dir, seed=4, energy_removed=0.75, **SMALL)
    assert strong.ground_truth["pca_components_kept"] == 40
    assert strong.ground_truth["pca_energy_kept"] > weak.ground_truth["pca_energy_kept"] >= 0.25 - 1e-9
    assert torch.equal(strong.train.b, weak.train.b) and torch.equal(strong.test.y, weak.test.y)
    assert not torch.equal(strong.train.a, weak.train.a)
    with pytest.raises(ConfigError, match="pca_components"):
        avmnist.pca_energy_filter(np.zeros((5, 4)), 0.5, num_components=9)


def stacked(num_draws, n, generator):
    parts = [tiny_split(n, generator) for _ in range(num_draws)]
    return type("Split", (), {k: torch.stack([getattr(p, k) for p in parts]) for k in ("a", "b", "y")})()


def test_kd_study_on_per_member_data_draws():
    generator = torch.Generator().manual_seed(0)
    splits = {"train": stacked(2, 40, generator), "val": stacked(2, 20, generator), "test": stacked(2, 20, generator)}
    splits["train"].y[1] = splits["train"].y[1].flip(0)  # draw 1 has labels unrelated to its inputs
    teachers = {"UM": (lambda: nn.Linear(4, 3), lambda s: (s.b,))}
    baselines = {"image only": (lambda: nn.Linear(4, 3), lambda s: (s.a,))}
    settings = dict(seeds=2, teacher_epochs=2, student_epochs=1, batch_size=20, lr=0.05, rhos=[0.5])
    controls = dict(control_rho=0.5, noise_teacher="UM", smoothing_teacher="UM", born_again=True, cross_fit=["UM"])
    study = training.kd_study(teachers, teachers["UM"], splits, {**settings, **controls}, baselines=baselines,
                              member_data=True)
    assert set(study["baselines"]) == {"image only"} and study["baselines"]["image only"]["acc"]["test"].shape == (2,)
    acc = study["teachers"]["UM"]["acc"]["test"]
    assert acc.shape == (2,) and acc[0] > acc[1]  # each member learned from its own draw
    assert ("cross-fitted UM-KD", 0.5) in study["students"] and ("label smoothing", 0.5) in study["students"]
    only_teachers = training.kd_study(teachers, teachers["UM"], splits, settings, distil=False, member_data=True)
    assert only_teachers["students"] == {} and set(only_teachers["teachers"]) == {"UM"}
    with pytest.raises(ValueError, match="data draws"):
        training.kd_study(teachers, teachers["UM"], splits, {**settings, "seeds": 3}, member_data=True)
