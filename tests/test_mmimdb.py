"""MM-IMDB loader (on a tiny multimodal_imdb.hdf5 fixture), stand-in ground truth, multi-label F1 and KD."""
import h5py
import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from mfh_lib import losses, models, training
from mfh_lib.config import ConfigError
from mfh_lib.data import mmimdb

SMALL_SPLIT = {"train": (0, 8), "val": (8, 10), "test": (10, 14)}
SMALL_STANDIN = {"num_train": 400, "num_val": 100, "num_test": 300, "image_features": 64, "text_features": 48}


def write_fixture(root, n=14, keys=("features", "vgg_features", "genres", "imdb_ids")):
    """A tiny file in MultiBench's multimodal_imdb.hdf5 layout."""
    rng = np.random.default_rng(0)
    folder = root / "mmimdb"
    folder.mkdir()
    arrays = {
        "features": rng.normal(size=(n, 300)).astype(np.float32),
        "vgg_features": np.maximum(rng.normal(size=(n, 4096)), 0).astype(np.float32) * 5,
        "genres": (rng.random((n, 23)) < 0.4).astype(np.int8),
        "imdb_ids": np.array([f"{i:07d}".encode() for i in range(n)]),
    }
    with h5py.File(folder / "multimodal_imdb.hdf5", "w") as f:
        for key in keys:
            f.create_dataset(key, data=arrays[key])
    return arrays


def test_reads_hdf5_layout(tmp_path):
    arrays = write_fixture(tmp_path)
    data = mmimdb.load_mmimdb(tmp_path, seed=0, split=SMALL_SPLIT)
    assert data.modalities == ("image", "text") and data.multilabel and data.num_classes == 2
    assert "MM-IMDB" in data.source and "stand-in" not in data.source
    assert data.train.a.shape == (8, 4096) and data.train.b.shape == (8, 300)
    assert (len(data.train), len(data.val), len(data.test)) == (8, 2, 4)
    # Drama and Comedy are the first two columns; labels are float multi-hot.
    np.testing.assert_array_equal(data.test.y.numpy(), arrays["genres"][10:14, :2].astype(np.float32))
    assert data.train.y.dtype == torch.float32
    # Standardised with training statistics only.
    assert torch.allclose(data.train.b.mean(0), torch.zeros(300), atol=1e-5)
    train_text = torch.from_numpy(arrays["features"][:8])
    # (mfh_lib.data.splits.standardize: population std of the training rows)
    expected_val = (torch.from_numpy(arrays["features"][8:10]) - train_text.mean(0)) / train_text.std(0, correction=0)
    assert torch.allclose(data.val.b, expected_val, atol=1e-4)


def test_genre_subset_and_all_genres(tmp_path):
    arrays = write_fixture(tmp_path)
    picked = mmimdb.load_mmimdb(tmp_path, seed=0, genres=["horror", "Film-Noir"], split=SMALL_SPLIT)
    np.testing.assert_array_equal(picked.train.y.numpy(), arrays["genres"][:8][:, [7, 22]])
    assert mmimdb.load_mmimdb(tmp_path, seed=0, genres=None, split=SMALL_SPLIT).num_classes == 23
    with pytest.raises(ConfigError, match="unknown genre"):
        mmimdb.load_mmimdb(tmp_path, seed=0, genres=["Drama", "Telenovela"], split=SMALL_SPLIT)
    assert len(mmimdb.GENRES) == 23 and mmimdb.GENRES[:2] == ("Drama", "Comedy")


def test_bad_layouts_name_the_fix(tmp_path):
    write_fixture(tmp_path)
    with pytest.raises(ConfigError, match="does not fit"):  # official split needs 25,959 rows
        mmimdb.load_mmimdb(tmp_path, seed=0)
    other = tmp_path / "other"
    other.mkdir()
    write_fixture(other, keys=("features", "genres"))
    with pytest.raises(ConfigError, match="vgg_features"):
        mmimdb.load_mmimdb(other, seed=0, split=SMALL_SPLIT)
    empty = tmp_path / "empty"
    (empty / "mmimdb").mkdir(parents=True)
    with pytest.raises(ConfigError, match="multimodal_imdb.hdf5"):
        mmimdb.load_mmimdb(empty, seed=0)


def test_standin_when_no_data(tmp_path):
    for data_dir in (None, tmp_path):
        data = mmimdb.load_mmimdb(data_dir, seed=3, standin=SMALL_STANDIN)
        assert "stand-in" in data.source and data.multilabel and data.modalities == ("image", "text")
        assert data.train.a.shape == (400, 64) and data.train.b.shape == (400, 48) and data.test.y.shape == (300, 2)
        assert (data.train.a >= 0).all()  # VGG-like rectified image features
    again = mmimdb.load_mmimdb(None, seed=3, standin=SMALL_STANDIN)
    assert torch.equal(again.train.b, data.train.b)  # seeded
    with pytest.raises(ConfigError, match="shares"):
        mmimdb.make_standin(shares=(0.5, 0.5, 0.5))


def test_standin_ground_truth():
    data = mmimdb.make_standin(seed=0, num_train=20000, num_val=10, num_test=400)
    # Prevalence follows MM-IMDB's drama / comedy rates.
    assert torch.allclose(data.train.y.mean(0), torch.tensor([0.54, 0.33]), atol=0.02)
    # Text is the dominant modality: a linear read-out of the noiseless genre score is better from text.
    truth = data.ground_truth
    scores = truth["world"].scores(truth["train"]["factors"])

    def r2(x):
        x = torch.cat([x, torch.ones(len(x), 1)], 1)
        fit = x @ torch.linalg.lstsq(x, scores).solution
        return 1 - ((scores - fit) ** 2).sum(0) / ((scores - scores.mean(0)) ** 2).sum(0)

    assert (r2(data.train.b) > r2(data.train.a) + 0.1).all()
    # Shuffling a factor group changes exactly the modalities that render it.
    shuffled = mmimdb.permuted_factor_inputs(data, "test", seed=0)
    image, text = data.test.a, data.test.b
    assert torch.equal(shuffled["text"][0], image) and not torch.equal(shuffled["text"][1], text)
    assert torch.equal(shuffled["image"][1], text) and not torch.equal(shuffled["image"][0], image)
    assert not torch.equal(shuffled["general"][0], image) and not torch.equal(shuffled["general"][1], text)


def test_random_halves_are_disjoint_per_member():
    first, second = mmimdb.random_halves(11, num_members=3, seed=5)
    assert first.shape == second.shape == (3, 5)
    for i in range(3):
        assert not set(first[i].tolist()) & set(second[i].tolist())
    assert not torch.equal(first[0], first[1])


def test_member_f1_matches_sklearn():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 50, 4, generator=gen)
    labels = (torch.rand(50, 4, generator=gen) < 0.4).float()
    labels[:, 3] = 0  # a genre with no positives counts as F1 0 in the macro average
    micro, macro = training.member_f1(logits, labels)
    for s in range(3):
        predicted = (logits[s] > 0).int().numpy()
        assert micro[s].item() == pytest.approx(100 * f1_score(labels.numpy(), predicted, average="micro"), abs=1e-4)
        assert macro[s].item() == pytest.approx(
            100 * f1_score(labels.numpy(), predicted, average="macro", zero_division=0), abs=1e-4)


def test_multilabel_kd_is_binary_kl():
    gen = torch.Generator().manual_seed(1)
    student, teacher = torch.randn(6, 3, generator=gen), torch.randn(6, 3, generator=gen)
    p, q = torch.sigmoid(teacher / 2), torch.sigmoid(student / 2)
    manual = (p * (p / q).log() + (1 - p) * ((1 - p) / (1 - q)).log()).mean() * 4
    assert losses.multilabel_kd_divergence(student, teacher, temperature=2.0).item() == pytest.approx(manual.item(), rel=1e-5)
    assert losses.multilabel_kd_divergence(teacher, teacher).item() == pytest.approx(0.0, abs=1e-6)


def test_networks_under_ensemble():
    fusion = training.Ensemble(lambda: models.LateFusion(16, 8, 12, 10, 6, 5, 2), num_members=3, seed=0)
    assert fusion(torch.randn(3, 4, 16), torch.randn(3, 4, 8)).shape == (3, 4, 2)
    text = training.Ensemble(lambda: models.multibench_unimodal(8, 12, 6, 2), num_members=2, seed=0)
    assert text(torch.randn(5, 8), shared=True).shape == (2, 5, 2)


def test_train_recording_stacks_one_record_per_epoch():
    ensemble = training.Ensemble(lambda: models.multibench_unimodal(4, 8, 4, 2), num_members=2, seed=0)
    x, y = torch.randn(20, 4), (torch.rand(20, 2) < 0.5).float()
    rows = torch.stack([torch.arange(10), torch.arange(10, 20)])

    def loss_fn(ens, idx):
        return torch.nn.functional.binary_cross_entropy_with_logits(ens(x[idx]), y[idx], reduction="none").mean((1, 2))

    history = training.train_recording(ensemble, [rows], loss_fn, lambda: {"val": training.predict_ensemble(ensemble, x, shared=True)},
                                       num_epochs=3, batch_size=5, optimizer="adamw", lr=1e-2, generator=torch.Generator().manual_seed(0))
    assert history["val"].shape == (3, 2, 20, 2)
    assert not torch.equal(history["val"][0], history["val"][2])  # recorded after each epoch, not once


def test_student_claims_need_matched_teachers():
    """Tab. 7's student comparisons mean something only between teachers of similar F1 (App. B.3):
    each carries that precondition, and a failed match makes the claim not testable."""
    from mfh_lib import claims, evidence, stats

    declared = claims.paper_claims("06_mmimdb")
    assert declared["teachers_similar_f1"]["test"]["kind"] == "equivalence"
    margin = declared["teachers_similar_f1"]["test"]["margin"]
    for claim_id in ("reg_minus_ms_student_micro", "reg_minus_ms_student_macro", "reg_minus_um_student_micro",
                     "reg_minus_um_student_macro"):
        test = evidence.ClaimTest.from_declaration(claim_id, declared[claim_id]["test"])
        (pre,) = test.preconditions
        assert pre.id == "teachers_matched" and pre.max == margin
        est = stats.mean_estimate([3.0, 4.0, 5.0])
        assert evidence.judge(test, est, preconditions={"teachers_matched": margin + 0.5}).verdict == evidence.NOT_TESTABLE
        assert evidence.judge(test, est, preconditions={"teachers_matched": margin - 0.5}).verdict == evidence.REPRODUCED


# --- the App. B.3 study (mfh_lib.multilabel) on a tiny stand-in --------------------------------

TINY_STUDY = {"seeds": 2, "teacher_epochs": 2, "student_epochs": 2, "hidden_text": 8, "hidden_image": 8,
              "embed_dim": 8, "batch_size": 64, "lr": 0.01}


def test_f1_matched_study_returns_a_tidy_per_seed_table():
    from mfh_lib import multilabel

    data = mmimdb.make_standin(seed=0, num_train=120, num_val=60, num_test=60, text_features=12, image_features=16)
    study = multilabel.f1_matched_kd_study(data, TINY_STUDY, use_cache=False)
    table = study.table
    matched = table[table.selection == multilabel.MATCHED]
    assert list(dict.fromkeys(matched.condition)) == [multilabel.NO_KD, *multilabel.TEACHERS]
    assert len(table) == 2 * (5 + 4) and set(table.seed) == {0, 1}
    assert set(table.selection) == {multilabel.MATCHED, multilabel.BEST_EPOCH}
    teachers = table[table.condition != multilabel.NO_KD]
    assert teachers.notna().all().all() and ((teachers.teacher_epoch >= 1) & (teachers.teacher_epoch <= 2)).all()
    np.testing.assert_allclose(teachers.gamma_hat, teachers.share_general + teachers.share_text, rtol=1e-6)
    np.testing.assert_allclose(teachers[["share_general", "share_text", "share_image"]].sum(axis=1), 1, rtol=1e-5)
    assert table[table.condition == multilabel.NO_KD].teacher_micro_f1.isna().all()
    assert study.values(multilabel.REGULAR, "student_micro_f1").shape == (2,)
    assert study.pseudo_label_agreement.shape == (2,) and (study.pseudo_label_agreement <= 100).all()
    with pytest.raises(KeyError, match="no condition"):
        study.values(multilabel.NO_KD, "teacher_epoch", multilabel.BEST_EPOCH)


def test_f1_matched_settings_name_what_is_missing_or_wrong():
    from mfh_lib import multilabel

    with pytest.raises(ConfigError, match="teacher_epochs"):
        multilabel.F1MatchedKDSettings.from_dict({k: v for k, v in TINY_STUDY.items() if k != "teacher_epochs"})
    with pytest.raises(ConfigError, match="hiden_text"):
        multilabel.F1MatchedKDSettings.from_dict({**TINY_STUDY, "hiden_text": 4})
    for bad in ({"seeds": 0}, {"rho": 2.0}, {"lr": -1.0}, {"batch_size": 1.5}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            multilabel.F1MatchedKDSettings.from_dict({**TINY_STUDY, **bad})
    doc = multilabel.F1MatchedKDSettings.__doc__
    assert all(f"``{name}``" in doc for name in multilabel.F1MatchedKDSettings.__dataclass_fields__)
    # the chapter's profiles are valid settings once the stand-in's size is set aside
    from mfh_lib import config
    for profile in ("quick", "full", "record"):
        cfg = config.load_profile("06_mmimdb", profile)
        multilabel.F1MatchedKDSettings.from_dict({k: v for k, v in cfg.items() if k != "standin"})


def test_a_genre_absent_from_training_still_gets_its_logit():
    """K logits for K labels even when one label has no positive in training (num_classes, not the data)."""
    from mfh_lib import multilabel
    from mfh_lib.data import MultimodalDataset, MultimodalSplit

    gen = torch.Generator().manual_seed(0)

    def split(n, third_genre):
        y = (torch.rand(n, 3, generator=gen) < 0.5).float()
        y[:, 2] = y[:, 2] * third_genre
        return MultimodalSplit(torch.randn(n, 6, generator=gen) + y[:, :1], torch.randn(n, 5, generator=gen) + y[:, 1:2], y)

    data = MultimodalDataset(split(80, 0.0), split(40, 1.0), split(40, 1.0), ("image", "text"), 3, "tiny", multilabel=True)
    run = multilabel._Run(data, multilabel.F1MatchedKDSettings.from_dict({**TINY_STUDY, "teacher_epochs": 1}), "cpu")
    history = run.fit("fusion", run.teacher_half, data.train.y, "bce", 1, seed=0, teacher=True)
    assert history["test"].shape == (1, 2, 40, 3)
    with pytest.raises(ConfigError, match="num_classes"):
        multilabel.f1_matched_kd_study(MultimodalDataset(data.train, data.val, data.test, ("image", "text"), 2, "tiny",
                                                         multilabel=True), TINY_STUDY, use_cache=False)


def test_random_halves_are_disjoint_per_seed():
    from mfh_lib.data.splits import random_halves

    first, second = random_halves(11, 3, seed=4)
    assert first.shape == second.shape == (3, 5)
    for a, b in zip(first, second):
        assert not set(a.tolist()) & set(b.tolist())
    assert not torch.equal(first[0], first[1])
    assert torch.equal(random_halves(11, 3, seed=4)[0], first) and mmimdb.random_halves is random_halves
    with pytest.raises(ConfigError, match="num_members"):
        random_halves(10, 0, seed=0)
