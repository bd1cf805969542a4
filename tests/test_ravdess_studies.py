"""The RAVDESS chapter's study functions on tiny synthetic sets: a CNN teacher on maps, the planted
input-ranking study (rank -> nullify -> distil), the tidy runs table, and typed-settings errors."""
import numpy as np
import pytest
import torch

from mfh_lib import ranking
from mfh_lib.config import ConfigError
from mfh_lib.data import MultimodalDataset, MultimodalSplit
from mfh_lib.data.ravdess import load_ravdess_standin, swap_modalities
from mfh_lib.vggsound_study import VggStudySettings

TINY = dict(seeds=2, joint_epochs=1, student_epochs=1, ratios=(0.5,), m_values=(1,), num_permutations=2,
            cross_fit_folds=2, hidden_b=(4,), batch_size=16)


def _maps_dataset():
    g = torch.Generator().manual_seed(0)

    def split(n):
        y = torch.arange(n) % 3
        return MultimodalSplit(torch.randn(n, 1, 8, 12, generator=g) + y[:, None, None, None],
                               torch.randn(n, 5, generator=g) + y[:, None], y)

    return MultimodalDataset(split(30), split(9), split(9), modalities=("maps", "vectors"), num_classes=3, source="t")


def test_cnn_teacher_study_shapes_and_outputs():
    cfg = ranking.NullifiedStudySettings(net_a="audio_cnn", cnn_widths=(2, 2, 2), cnn_hidden=(8, 6), cnn_pool=(2, 2),
                                         optimizer="adamw", lr=1e-3, **TINY)
    result = ranking.nullified_teacher_study(_maps_dataset(), cfg, use_cache=False)
    assert result["student_acc"].shape == (1 + 3 + 1, 2) and result["salience"].shape == (2, 6)
    assert result["teacher_alone_salience"].shape == (2, 6) and result["teacher_test_logits"].shape[-1] == 3
    runs = ranking.study_runs(result)
    assert set(runs.columns) >= {"teacher", "family", "r", "M", "seed", "student", "teacher_acc", "no_kd"}
    assert len(runs) == (5 + 4) * 2 and runs[runs.teacher == "born-again"].teacher_acc.notna().all()
    assert runs[runs.teacher == "label smoothing"].teacher_acc.isna().all()


def test_network_settings_are_checked():
    with pytest.raises(ConfigError, match="net_a"):
        ranking.NullifiedStudySettings(net_a="resnet", **TINY)
    with pytest.raises(ConfigError, match="optimizer"):
        ranking.NullifiedStudySettings(optimizer="lbfgs", **TINY)
    with pytest.raises(ConfigError, match="cnn_widths"):
        ranking.NullifiedStudySettings(cnn_widths=(2, 2), **TINY)
    with pytest.raises(ConfigError, match="net_a 'mlp' needs"):
        ranking.nullified_teacher_study(_maps_dataset(), ranking.NullifiedStudySettings(**TINY), use_cache=False)


def test_input_ranking_study_end_to_end_on_planted_channels():
    data = load_ravdess_standin(seed=0, clips_per_actor=4, standardize_b=True)
    out = ranking.input_ranking_study(data, ranking.InputRankingSettings(seeds=2, epochs=1, num_permutations=2),
                                      use_cache=False)
    d = data.train.a.shape[1]
    assert out["distances"].shape == out["teacher_alone"].shape == (2, 2, d)
    assert set(out["keep"]) == {"regular", "general", "specific", "random"}
    assert float(out["keep"]["general"].sum(1)[0]) == d - round(0.5 * d)
    assert out["student_acc"]["general"].shape == (2,) and out["no_kd"].shape == (2,)
    with pytest.raises(ConfigError, match="ratio"):
        ranking.InputRankingSettings(seeds=1, ratio=1.5)


def test_swap_modalities_and_vgg_settings():
    data = load_ravdess_standin(seed=0, clips_per_actor=2)
    swapped = swap_modalities(data)
    assert torch.equal(swapped.train.a, data.train.b) and swapped.modalities == data.modalities[::-1]
    assert swapped.content_hash != data.content_hash
    settings = VggStudySettings.from_profile({"seeds": 2, "vgg_epochs": 3, "vgg_sweep_ratios": [0.5], "vgg_depth": 18,
                                              "vgg_num_train": 40})
    assert settings.epochs == 3 and settings.sweep_ratios == (0.5,)
    with pytest.raises(ConfigError, match="seeds"):
        VggStudySettings.from_profile({"vgg_epochs": 3})
    with pytest.raises(ConfigError, match="student_kinds"):
        VggStudySettings(seeds=1, student_kinds=("teacherless",))
    with pytest.raises(ConfigError, match="depth"):
        VggStudySettings(seeds=1, depth=34)
    assert np.isfinite(float(settings.lr))
