"""Chapter 08's real-data criteria take chapter 05's RAVDESS study (issue #12): same data, same settings, checked inputs."""
import pytest
import torch

from mfh_lib import cch, config, ranking
from mfh_lib.config import ConfigError
from mfh_lib.data import MultimodalDataset, MultimodalSplit
from mfh_lib.data import ravdess, ravdess_audio

T, S, N, K = 3, 2, 6, 8


def tiny_data(b_name="face (action units)"):
    split = lambda n: MultimodalSplit(torch.randn(n, 1, 4, 5), torch.randn(n, 3), torch.arange(n) % K)
    return MultimodalDataset(split(10), split(4), split(N), modalities=("audio (MFCC maps 4x5)", b_name),
                             num_classes=K, source="tiny")


def fake_study(logits_shape=(T, S, N, K)):
    return {"teachers": [("regular", 0.0, 10), ("general", 0.5, 10), ("random", 0.5, 10)],
            "student_acc": torch.tensor([[40.0, 42.0], [38.0, 39.0], [30.0, 31.0]]),
            "teacher_acc": torch.tensor([[50.0, 52.0], [45.0, 44.0], [35.0, 36.0]]),
            "no_kd": torch.tensor([41.0, 41.0]), "teacher_test_logits": torch.randn(*logits_shape)}


def test_study_uses_chapter05s_loader_and_settings(monkeypatch):
    cfg05 = config.load_profile("05_ravdess_vggsound", "quick")
    calls = {}
    monkeypatch.setattr(ravdess_audio, "load_ravdess_audio_face", lambda data_dir, **kw: calls.update(kw) or tiny_data())
    monkeypatch.setattr(ravdess, "load_ravdess", lambda data_dir, **kw: tiny_data())
    monkeypatch.setattr(ranking, "nullified_teacher_study", lambda data, settings, device: fake_study())
    real = cch.ravdess_teacher_study("/nowhere", cfg05)
    assert calls == dict(split="actor", seed=cfg05["data_seed"], time_pool=cfg05["time_pool"], audio_form="maps",
                         direction="audio->face")
    assert real.real and real.settings == ranking.NullifiedStudySettings.from_dict(
        {**cfg05, **cfg05["audio_teacher"]}, extra="ignore")
    assert real.settings.net_a == "audio_cnn"
    standin = cch.ravdess_teacher_study(None, cfg05)
    assert not standin.real and standin.settings.net_a == "mlp"
    assert real.gain.shape == (T, S) and real.gain[0, 1] == 1.0
    assert real.teacher_description() == "CNNs (conv widths 4-8-16, FC 128-64) on maps of 4 MFCCs x 5 frames per clip"
    assert standin.teacher_description().startswith("MLPs (hidden 256-128)")
    assert real.teacher_margin().mean == 10.0 and real.strength_phrase() == "not distinguishable from"  # 2 seeds: t-CI of 10 ± 1.4 spans 0


def test_inputs_are_checked_and_tabled(monkeypatch):
    good = cch.RavdessTeachers(tiny_data(), None, fake_study(), True)
    cch.check_teacher_inputs(good)
    with pytest.raises(ConfigError, match="expected \\(T, S, N_test, K\\)"):
        cch.check_teacher_inputs(cch.RavdessTeachers(tiny_data(), None, fake_study((T, S, N + 1, K)), True))
    with pytest.raises(ConfigError, match="face \\(action units\\)"):
        cch.check_teacher_inputs(cch.RavdessTeachers(tiny_data("audio (MFCC statistics)"), None, fake_study(), True))
    criteria = {key: torch.ones(T, S) for key in ("i_teacher_student", "i_student_label", "cch_gap", "mfh_shared")}
    table = cch.real_teacher_table(good, criteria)
    assert list(table["teacher"]) == ["regular", "general", "random"] and list(table["r (%)"]) == [0.0, 50.0, 50.0]
    assert list(table.columns[-4:]) == ["I(T;S)", "I(S;Y)", "CCH gap", "mfh_shared"]
    seen = {}  # the criteria get every teacher's logits beside the same face AUs and labels of the test clips
    monkeypatch.setattr(cch, "criteria_from_features", lambda t, b, y, **kw: seen.update(t=t, b=b, y=y, **kw))
    good.criteria("ksg")
    assert seen["t"].shape == (T, S, N, K) and seen["b"].shape == (T, S, N, 3) and seen["y"].shape == (T, S, N)
    assert torch.equal(seen["b"][2, 1], good.data.test.b) and seen["num_classes"] == K and seen["estimator"] == "ksg"
