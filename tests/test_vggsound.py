"""VGGSound: the pre-extracted clip layout (fixtures), the stand-in, mAP, the App. B.4 networks."""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see chapter 05's note

import numpy as np
import pytest
import torch

from mfh_lib import models
from mfh_lib.config import ConfigError
from mfh_lib.data import vggsound


def write_fixture(root, num_clips=12):
    folder = root / "vggsound" / "clips"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = ["clip_id,label,split"]
    for i in range(num_clips):
        clip_id = f"yt{i:03d}_000030"
        np.savez(folder / f"{clip_id}.npz", audio=rng.normal(size=(16, 20)).astype(np.float32),
                 frames=rng.integers(0, 255, (4, 8, 8, 3), dtype=np.uint8))
        lines.append(f"{clip_id},{['dog barking', 'playing saxophone', 'baby crying'][i % 3]},{'test' if i >= 9 else 'train'}")
    (root / "vggsound" / "labels.csv").write_text("\n".join(lines) + "\n")


def test_loader_reads_the_documented_layout(tmp_path):
    write_fixture(tmp_path)
    ds = vggsound.load_vggsound(tmp_path, seed=0, val_fraction=1 / 3)
    assert ds.ground_truth["classes"] == ["baby crying", "dog barking", "playing saxophone"]
    assert len(ds.train) == 6 and len(ds.val) == 3 and len(ds.test) == 3
    assert ds.train.a.shape[1:] == (1, 16, 20) and ds.train.b.shape[1:] == (3, 4, 8, 8)
    assert float(ds.test.b.max()) <= 1.0 and ds.test.y.tolist() == [1, 2, 0]
    only = vggsound.load_vggsound(tmp_path, seed=0, classes=["dog barking", "baby crying"], val_fraction=0.0)
    assert only.num_classes == 2


def test_loader_errors_name_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="vggsound"):
        vggsound.load_vggsound(tmp_path)
    write_fixture(tmp_path)
    np.savez(tmp_path / "vggsound" / "clips" / "yt000_000030.npz", audio=np.zeros((4, 4)))
    with pytest.raises(ConfigError, match="frames"):
        vggsound.load_vggsound(tmp_path)


def test_standin_and_map():
    ds = vggsound.load_vggsound(None, standin_kwargs=dict(num_train=20, num_val=4, num_test=8, num_classes=4))
    assert ds.train.a.shape == (20, 1, 32, 32) and ds.train.b.shape == (20, 3, 4, 16, 16)
    truth = ds.ground_truth
    assert (truth["cue_general"] == ds.ground_truth["cue_general"]).all()
    # The general cue is heard in the lower half: its band carries more energy there.
    a = ds.train.a[:, 0].numpy()
    band = 16 // 4
    cue = truth["cue_general"][:20]
    own = np.mean([a[i, cue[i] * band:(cue[i] + 1) * band].mean() for i in range(20)])
    assert own > a[:, :16].mean() + 0.5
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    assert vggsound.mean_average_precision(torch.eye(4)[labels], labels, 4) == pytest.approx(100.0)
    assert vggsound.mean_average_precision(torch.eye(4)[(labels + 1) % 4], labels, 4) < 60
    with pytest.raises(ConfigError):
        vggsound.make_vggsound_standin(num_clips=4, num_classes=20)


def test_appendix_b4_networks_forward():
    audio = models.audio_resnet(5, depth=18)
    assert audio.features(torch.randn(2, 1, 32, 32)).shape == (2, 512)
    assert audio(torch.randn(2, 1, 32, 32)).shape == (2, 5)
    video = models.video_r3d(5)
    assert video(torch.randn(2, 3, 2, 16, 16)).shape == (2, 5)
    with pytest.raises(ValueError):
        models.audio_resnet(5, depth=34)
