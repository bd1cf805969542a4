"""NYU Depth V2 loader (on a tiny fixture in the official v7.3 layout), the rendered stand-in, the
segmentation metrics and the pixel-wise KD training loop."""
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from scipy.io import savemat

from mfh_lib.config import ConfigError
from mfh_lib.data import nyuv2
from mfh_lib.models import deeplabv3plus
from mfh_lib.training import iou_from_confusion, segmentation_confusion, train_segmenter

REAL_META = Path("/work/shared/data") / nyuv2.META_SUBDIR
N, H, W = 5, 6, 8


def write_fixture(root: Path, frames: int = N) -> dict:
    """A labelled-set file as MATLAB v7.3 writes it (axes reversed) plus the meta files."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (frames, 3, H, W), dtype=np.uint8)
    depths = rng.uniform(0.5, 10, (frames, H, W)).astype(np.float32)
    labels = rng.integers(0, nyuv2.NUM_RAW_CLASSES + 1, (frames, H, W)).astype(np.uint16)
    (root / nyuv2.NYU_SUBDIR).mkdir(parents=True)
    with h5py.File(root / nyuv2.NYU_SUBDIR / nyuv2.NYU_MAT_NAME, "w") as f:
        f["images"] = images.transpose(0, 1, 3, 2)  # (N, 3, W, H)
        f["depths"] = depths.transpose(0, 2, 1)  # (N, W, H)
        f["labels"] = labels.transpose(0, 2, 1)
    meta = root / nyuv2.META_SUBDIR
    meta.mkdir()
    savemat(meta / "splits.mat", {"trainNdxs": np.array([[1], [3], [4]], np.uint16), "testNdxs": np.array([[2], [5]], np.uint16)})
    map_class = (np.arange(nyuv2.NUM_RAW_CLASSES) % 40 + 1).astype(np.uint8)[None]
    names = np.empty((1, 40), dtype=object)
    for i in range(40):
        names[0, i] = f"class{i}"
    savemat(meta / "classMapping40.mat", {"mapClass": map_class, "className": names})
    return {"images": images, "depths": depths, "labels": labels, "map": map_class[0]}


def test_read_labeled_mat_undoes_matlab_axis_order(tmp_path):
    truth = write_fixture(tmp_path)
    imgs, deps, labs = nyuv2.read_labeled_mat(tmp_path / nyuv2.NYU_SUBDIR / nyuv2.NYU_MAT_NAME, [0, 3])
    assert imgs.shape == (2, 3, H, W) and deps.shape == (2, H, W) and labs.shape == (2, H, W)
    np.testing.assert_array_equal(imgs, truth["images"][[0, 3]])
    np.testing.assert_allclose(deps, truth["depths"][[0, 3]])
    np.testing.assert_array_equal(labs, truth["labels"][[0, 3]])


def test_load_nyuv2_split_mapping_and_resize(tmp_path):
    truth = write_fixture(tmp_path)
    ds = nyuv2.load_nyuv2(tmp_path, image_size=(H, W))
    assert (len(ds.train), len(ds.val), len(ds.test)) == (3, 0, 2)
    assert ds.num_classes == 40 and ds.modalities == ("depth", "RGB")
    raw = truth["labels"][1]  # test frame 1 of the file = testNdxs[0] = 2 (1-based)
    expected = np.where(raw == 0, nyuv2.IGNORE_INDEX, truth["map"][np.clip(raw.astype(int) - 1, 0, None)].astype(int) - 1)
    np.testing.assert_array_equal(ds.test.y[0].numpy(), expected)
    assert ds.train.b.shape == (3, 3, H, W) and ds.train.a.shape == (3, 1, H, W)
    assert abs(float(ds.train.a.mean())) < 1e-5  # standardised with training statistics
    small = nyuv2.load_nyuv2(tmp_path, image_size=(3, 4), chunk_size=2)
    assert small.test.y.shape == (2, 3, 4) and small.test.y.dtype == torch.int64


def test_loader_errors_name_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="nyu_depth_v2_labeled.mat"):
        nyuv2.load_nyuv2(tmp_path)
    write_fixture(tmp_path)
    path = tmp_path / nyuv2.NYU_SUBDIR / nyuv2.NYU_MAT_NAME
    with h5py.File(path, "a") as f:
        del f["depths"]
    with pytest.raises(ConfigError, match="'depths' not found"):
        nyuv2.read_labeled_mat(path)
    path.write_bytes(b"not hdf5")
    with pytest.raises(ConfigError, match="MATLAB v7.3"):
        nyuv2.read_labeled_mat(path)


def test_split_indices_beyond_the_file_are_rejected(tmp_path):
    write_fixture(tmp_path, frames=3)  # splits.mat refers to frames 4 and 5
    with pytest.raises(ConfigError, match="splits.mat"):
        nyuv2.load_nyuv2(tmp_path, image_size=(H, W))


@pytest.mark.skipif(not REAL_META.is_dir(), reason="real NYU metadata not present")
def test_real_meta_protocol():
    meta = nyuv2.load_meta(REAL_META)
    assert (len(meta["train_idx"]), len(meta["test_idx"])) == (795, 654)
    assert len(np.intersect1d(meta["train_idx"], meta["test_idx"])) == 0
    assert meta["train_idx"].min() == 2 and meta["test_idx"].max() == 1448  # 1-based 3 / 1449
    assert meta["label_lookup"][0] == nyuv2.IGNORE_INDEX and set(meta["label_lookup"][1:]) == set(range(40))
    assert meta["class_names"][:3] == ["wall", "floor", "cabinet"]


def test_standin_is_deterministic_and_plants_the_share():
    a = nyuv2.make_standin(40, 0, 8, 24, shared_share=0.5, seed=1)
    b = nyuv2.make_standin(40, 0, 8, 24, shared_share=0.5, seed=1)
    assert torch.equal(a.train.b, b.train.b) and torch.equal(a.test.y, b.test.y)
    assert a.train.b.shape == (40, 3, 24, 24) and a.train.a.shape == (40, 1, 24, 24) and len(a.val) == 0
    assert 0.35 < a.ground_truth["instance_kind_share"]["general"] < 0.65
    only_general = nyuv2.make_standin(20, 0, 0, 24, shared_share=1.0, seed=1)
    assert only_general.ground_truth["instance_kind_share"]["general"] == 1.0
    with pytest.raises(ConfigError):
        nyuv2.make_standin(4, 0, 4, 24, shared_share=1.5)


def test_a_neutral_cue_is_flat_and_a_decisive_one_is_the_class_pattern():
    """One object per scene, no sensor noise: an rgb-only instance has a flat face in depth, a
    depth-only one a plain colour in RGB; the decisive cue varies over the face."""
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(60):
        rgb, depth, labels, kinds, _ = nyuv2.render_scene(rng, 32, 0.2, 0.0, num_objects=(1, 1), rgb_noise=0, depth_noise=0)
        mask = labels >= 2
        flat_rgb, flat_depth = np.ptp(rgb[:, mask], axis=1).max() == 0, np.ptp(depth[mask]) == 0
        expected = {"general": (False, False), "rgb-only": (False, True), "depth-only": (True, False)}[kinds[0]]
        assert (flat_rgb, flat_depth) == expected, kinds[0]
        if not flat_depth:  # the relief: two levels a RELIEF_DEPTH apart, the class pattern on half the face
            assert np.ptp(depth[mask]) == pytest.approx(nyuv2.RELIEF_DEPTH, abs=1e-5)
            raised = depth[mask] < depth[mask].max() - 1e-3
            assert 0.25 < raised.mean() < 0.75
        seen.add(kinds[0])
    assert seen == set(nyuv2.INSTANCE_KINDS)


def test_iou_from_confusion_golden():
    confusion = torch.tensor([[8, 2, 0], [1, 4, 0], [0, 0, 0]])
    iou, miou = iou_from_confusion(confusion)
    np.testing.assert_allclose(iou[:2].numpy(), [8 / 11 * 100, 4 / 7 * 100])
    assert torch.isnan(iou[2])  # absent and never predicted: left out of the mean
    assert miou.item() == pytest.approx((8 / 11 + 4 / 7) / 2 * 100)


@pytest.fixture
def one_thread():
    """Two intra-op threads on a loaded 2-core machine spin-wait on each other; one is much faster."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_train_segmenter_with_kd_and_two_views(one_thread):
    ds = nyuv2.make_standin(8, 0, 4, 16, seed=0)
    torch.manual_seed(0)
    teacher = deeplabv3plus(3, ds.num_classes, decoder_channels=8)
    views = [ds.train.b, nyuv2.depth_as_rgb(ds.train.a)]
    history = train_segmenter(teacher, views, ds.train.y, ignore_index=nyuv2.IGNORE_INDEX, num_epochs=1,
                              batch_size=4, lr=1e-3, generator=torch.Generator().manual_seed(0))
    student = deeplabv3plus(3, ds.num_classes, decoder_channels=8)
    history += train_segmenter(student, [ds.train.b], ds.train.y, teacher=teacher, teacher_input=views[1], rho=0.5,
                               ignore_index=nyuv2.IGNORE_INDEX, num_epochs=1, batch_size=4, lr=1e-3,
                               generator=torch.Generator().manual_seed(0))
    assert all(np.isfinite(history))
    confusion = segmentation_confusion(student, ds.test.b, ds.test.y, ds.num_classes, nyuv2.IGNORE_INDEX, batch_size=3)
    assert confusion.sum().item() == int((ds.test.y != nyuv2.IGNORE_INDEX).sum())
    assert nyuv2.rgbd(ds.test).shape == (4, 4, 16, 16)


# --- the chapter's declared claims (mfh_lib/paper_numbers/04_nyu_depth.json) ------------------

def _declared_04():
    from mfh_lib import claims

    return claims.paper_claims("04_nyu_depth")


def test_cm_null_claims_are_equivalence_or_difference_of_differences_behind_the_teacher_gap():
    declared = _declared_04()
    for claim_id in ("claim_cm_student_not_better", "tab6_cen_cm_student_marginal"):
        test = declared[claim_id]["test"]
        assert test["kind"] == "equivalence" and test["margin"] > 0
    dod = declared["claim_cm_gain_not_transferred"]
    assert dod["test"]["kind"] == "directional" and dod["test"]["direction"] == -1
    assert dod["paper_value"] == pytest.approx(-0.22 - 4.64)
    for claim_id in ("claim_cm_student_not_better", "tab6_cen_cm_student_marginal", "claim_cm_gain_not_transferred"):
        ids = {p["id"] for p in declared[claim_id]["test"]["preconditions"]}
        assert {"cm_teacher_gap", "teacher_competence"} <= ids, claim_id


def test_every_relation_is_gated_on_teacher_competence_and_absolute_values_are_not_testable():
    for claim_id, entry in _declared_04().items():
        test = entry["test"]
        if claim_id.startswith(("tab6_", "tab3_")) and entry["unit"] == "mIoU %":
            assert test["kind"] == "not testable", claim_id
        else:
            assert "teacher_competence" in {p["id"] for p in test["preconditions"]}, claim_id


def test_failed_gates_make_a_cm_claim_not_testable_and_a_two_setting_sweep_is_not_judged():
    from mfh_lib import evidence, stats

    declared = _declared_04()
    test = evidence.ClaimTest.from_declaration("x", declared["claim_cm_student_not_better"]["test"])
    est = stats.mean_estimate([0.1, -0.2, 0.05])
    ok = {"teacher_competence": 60.0, "worst_class_iou": 40.0}
    weak_gap = evidence.judge(test, est, preconditions={"cm_teacher_gap": 1.0, **ok})
    assert weak_gap.verdict == evidence.NOT_TESTABLE and "precondition failed" in weak_gap.reason
    unconverged = evidence.judge(test, est, preconditions={"cm_teacher_gap": 5.0, "teacher_competence": 10.0,
                                                           "worst_class_iou": 40.0})
    assert unconverged.verdict == evidence.NOT_TESTABLE
    one_class_unlearnt = evidence.judge(test, est, preconditions={"cm_teacher_gap": 5.0, "teacher_competence": 60.0,
                                                                  "worst_class_iou": 2.0})
    assert one_class_unlearnt.verdict == evidence.NOT_TESTABLE  # the stricter gate: every class learnt
    passed = evidence.judge(test, est, preconditions={"cm_teacher_gap": 5.0, **ok})
    assert passed.verdict == evidence.REPRODUCED  # CI well inside ±1
    sweep = evidence.ClaimTest.from_declaration("s", declared["sweep_cm_gain_rises_with_gamma"]["test"])
    assert sweep.unit == "seeds" and sweep.interval == stats.T_INTERVAL  # per-seed slopes, not settings
    gammas = np.array([0.0, 0.5, 1.0])
    per_seed = np.array([[0.1, 0.6, 1.2], [0.0, 0.4, 0.9], [0.2, 0.8, 1.1]])  # seeds x settings, rising
    slopes = np.polyfit(gammas, per_seed.T, 1)[0]
    gates = {"teacher_competence": 60.0, "worst_class_iou": 40.0}
    rising = evidence.judge(sweep, stats.mean_estimate(slopes), preconditions={"gamma_settings": 3, **gates})
    assert rising.verdict == evidence.REPRODUCED
    two = evidence.judge(sweep, stats.mean_estimate(slopes), preconditions={"gamma_settings": 2, **gates})
    assert two.verdict == evidence.NOT_TESTABLE  # a slope through two settings is no trend test
