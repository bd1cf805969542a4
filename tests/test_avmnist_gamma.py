"""The gamma dial of chapter 01 (issue #13): the share gamma is what it says, images and labels are
untouched, the kept pairs are nested across gamma, and the study runs on a tiny set."""
import numpy as np
import pytest
import torch
from torch import nn

from mfh_lib import gamma_dial, stats
from mfh_lib.config import ConfigError
from mfh_lib.data import MultimodalSplit


def class_paired(n, generator, num_classes=10):
    """b of pair i encodes its class (b = y + a tiny jitter), as AV-MNIST's audio is of digit y[i]."""
    y = torch.randint(0, num_classes, (n,), generator=generator)
    return MultimodalSplit(torch.randn(n, 3, generator=generator), y[:, None].float() + 0.01 * torch.rand(n, 1, generator=generator), y)


def test_the_share_kept_is_gamma_and_only_b_moves():
    split = class_paired(2000, torch.Generator().manual_seed(0))
    for gamma in (0.0, 0.3, 1.0):
        dialled, source = gamma_dial.dial_pairs(split, gamma, torch.Generator().manual_seed(5))
        kept = source == torch.arange(len(split))
        assert int(kept.sum()) >= round(gamma * 2000) and dialled.a is split.a and dialled.y is split.y
        assert sorted(source.tolist()) == list(range(2000))  # b is permuted, never duplicated or dropped
        assert torch.equal(dialled.b, split.b[source])
        spoken = dialled.b[:, 0].round().long()  # the class b now encodes
        # on the re-paired pairs the class of b is independent of the label: agreement at chance (10%)
        agree = float((spoken == split.y).float().mean())
        assert abs(agree - (gamma + (1 - gamma) * 0.1)) < 0.03
    assert torch.equal(gamma_dial.dial_pairs(split, 1.0, torch.Generator().manual_seed(5))[0].b, split.b)


def test_kept_pairs_are_nested_across_gamma_and_draws_differ():
    split = class_paired(400, torch.Generator().manual_seed(1))
    stacked = MultimodalSplit(*(torch.stack([getattr(split, f)] * 2) for f in ("a", "b", "y")))
    kept = {}
    for gamma in (0.25, 0.75):
        dialled, table = gamma_dial.dial_splits({"train": stacked}, gamma, seed=3)
        assert table["kept"].min() >= gamma and table["kept"].max() < gamma + 0.1
        assert torch.equal(dialled["train"].a, stacked.a) and torch.equal(dialled["train"].y, stacked.y)
        kept[gamma] = dialled["train"].b == stacked.b
    # nested: a pair kept at 0.25 is kept at 0.75 (up to the few fixed points of 0.25's random permutation)
    assert int((kept[0.25] & ~kept[0.75]).sum()) <= 5
    assert not torch.equal(kept[0.75][0], kept[0.75][1])  # each draw has its own kept pairs


def test_settings_and_slope():
    with pytest.raises(ConfigError, match="gammas"):
        gamma_dial.GammaDialSettings(gammas=[0.5, 0.5], seeds=2, teacher_epochs=1, student_epochs=1, batch_size=4)
    with pytest.raises(ConfigError, match="gamma"):
        gamma_dial.GammaDialSettings(gammas=[0.0, 1.5], seeds=2, teacher_epochs=1, student_epochs=1, batch_size=4)
    slopes = stats.per_seed_slope([0.0, 0.5, 1.0], np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]]))
    assert np.allclose(slopes, [2.0, 0.0])


def test_gamma_dial_study_on_a_tiny_set():
    generator = torch.Generator().manual_seed(0)

    def draws(n):
        parts = [class_paired(n, generator, num_classes=3) for _ in range(2)]
        return MultimodalSplit(*(torch.stack([getattr(p, f) for p in parts]) for f in ("a", "b", "y")))

    splits = {"train": draws(30), "val": draws(12), "test": draws(12)}
    settings = dict(gammas=[0.0, 1.0], seeds=2, teacher_epochs=1, student_epochs=1, batch_size=10, lr=0.05)
    result = gamma_dial.gamma_dial_study((lambda: nn.Linear(3, 3), lambda s: (s.a,)),
                                         (lambda: nn.Linear(1, 3), lambda s: (s.b,)), splits, settings)
    assert set(result.accuracy["model"]) == {"teacher", "noise teacher", "No-KD", "KD", "noise-teacher KD"}
    teacher = result.per_seed("teacher", "test")
    assert teacher.shape == (2, 2) and np.allclose(teacher.loc[0.0], teacher.loc[1.0])  # the same teacher at every gamma
    assert len(result.pairing) == 2 * 3 * 2  # gammas x splits x draws
