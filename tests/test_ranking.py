"""MFH Algorithm 1 (mfh_lib.ranking): vectorised permutations equal the loop, planted channels win."""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see the chapter's note

import pytest
import torch
from torch import nn

from mfh_lib import controls, models, ranking
from mfh_lib.config import ConfigError
from mfh_lib.training import Ensemble


def naive_distances(head, features, reference, num_permutations, seed):
    """Algorithm 1, steps 2-8, as the paper's double loop (same random draws as the library)."""
    S, n, d = features.shape
    perms = torch.rand(num_permutations * d, S, n, generator=torch.Generator().manual_seed(seed)).argsort(-1)
    out = torch.zeros(S, num_permutations, d)
    for s in range(S):
        for m in range(num_permutations):
            for i in range(d):
                x = features[s].clone()
                x[:, i] = features[s, perms[m * d + i, s], i]
                out[s, m, i] = (head(x[None])[0] - reference[s]).pow(2).mean()
    return out


def test_vectorised_distances_match_the_double_loop_and_chunking():
    torch.manual_seed(0)
    net = models.MLP(5, [7], 3)
    head = lambda z: net(z)
    features, reference = torch.randn(2, 11, 5), torch.randn(2, 11, 3)
    expected = naive_distances(head, features, reference, 4, seed=3)
    got = ranking.permutation_distances(head, features, reference, num_permutations=4,
                                        generator=torch.Generator().manual_seed(3))
    small_chunks = ranking.permutation_distances(head, features, reference, num_permutations=4,
                                                 generator=torch.Generator().manual_seed(3), max_elements=150)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(small_chunks, expected)


def test_planted_channels_get_the_largest_salience():
    # The teacher reads channels 0 and 3; the student's logits equal the teacher's: only those matter.
    torch.manual_seed(0)
    weight = torch.zeros(2, 6)
    weight[0, 0], weight[1, 3] = 2.0, -1.5
    head = lambda z: z @ weight.T
    x = torch.randn(1, 400, 6)
    p = ranking.permutation_salience(head, x, head(x), num_permutations=5, generator=torch.Generator().manual_seed(0))
    assert p.shape == (1, 6) and float(p.max()) == pytest.approx(1.0)
    assert set(torch.argsort(p[0], descending=True)[:2].tolist()) == {0, 3}
    assert float(p[0, [1, 2, 4, 5]].max()) == pytest.approx(0.0, abs=1e-6)
    assert ranking.precision_at_k(p, [0, 3]).tolist() == [1.0]


def test_normalisations_land_in_unit_interval():
    d = torch.rand(3, 4, 9) + 0.5
    for mode in ("max", "minmax"):
        p = ranking.salience_from_distances(d, mode)
        assert float(p.min()) >= 0 and float(p.max()) == pytest.approx(1.0)
    assert float(ranking.salience_from_distances(d, "minmax").min()) == pytest.approx(0.0)
    with pytest.raises(ConfigError):
        ranking.salience_from_distances(d, "softmax")


def test_nullify_masks_pick_the_right_channels():
    salience = torch.tensor([[0.1, 0.9, 0.5, 0.3]])
    general = ranking.nullify_keep_mask(salience, 0.5, "general")
    specific = ranking.nullify_keep_mask(salience, 0.5, "specific")
    assert general.tolist() == [[0.0, 1.0, 1.0, 0.0]]   # least salient nullified
    assert specific.tolist() == [[1.0, 0.0, 0.0, 1.0]]  # most salient nullified
    rnd = ranking.nullify_keep_mask(salience, 0.75, "random", torch.Generator().manual_seed(0))
    assert rnd.sum() == 1
    assert ranking.nullify_keep_mask(salience, 0.0, "general").sum() == 4
    features, fill = torch.ones(1, 2, 4), torch.full((1, 4), 7.0)
    assert ranking.nullify(features, general, fill)[0, 0].tolist() == [7.0, 1.0, 1.0, 7.0]
    with pytest.raises(ConfigError):
        ranking.nullify_keep_mask(salience, 1.5, "general")
    with pytest.raises(ConfigError):
        ranking.nullify_keep_mask(salience, 0.5, "biggest")


def test_member_part_matches_each_member():
    ens = Ensemble(lambda: ranking.JointPair(models.ranked_mlp(6, [5, 4], 3), models.ranked_mlp(2, [4], 3)), 3, seed=1)
    x = torch.randn(3, 8, 6)
    feats = ranking.member_part(ens, "net_a.features")(x)
    logits = ranking.member_part(ens, "net_a.head")(feats)
    for i in range(3):
        net = models.ranked_mlp(6, [5, 4], 3)
        net.load_state_dict({k[len("net_a."):]: v for k, v in ens.member_state_dict(i).items() if k.startswith("net_a.")})
        torch.testing.assert_close(logits[i], net(x[i]))
    assert feats.shape == (3, 8, 4)


def test_joint_training_and_students_run_and_learn():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (120,), generator=g)
    xa = torch.randn(120, 6, generator=g) + nn.functional.one_hot(y, 6).float() * 2
    xb = torch.randn(120, 4, generator=g) + nn.functional.one_hot(y, 4).float() * 2
    pairs = ranking.train_joint(lambda: models.ranked_mlp(6, [8], 3, "input"), lambda: models.ranked_mlp(4, [8], 3, "input"),
                                xa, xb, y, num_seeds=2, seed=0, num_epochs=30, batch_size=None, lr=0.1)
    logits = ranking.member_part(pairs, "net_a")(xa.expand(2, -1, -1))
    assert (logits.argmax(-1) == y).float().mean() > 0.8
    teacher = logits.detach().repeat(2, 1, 1)  # 4 students: two identical teachers per seed
    out = ranking.distill_students(lambda: models.MLP(4, [8], 3), xb, y, teacher, (xb, y), (xb, y), rho=0.0,
                                   num_epochs=3, batch_size=None, lr=0.1, num_init=2)
    assert out["test_acc"].shape == (4,)
    torch.testing.assert_close(out["test_acc"][:2], out["test_acc"][2:])  # same init + teacher -> same student
    with pytest.raises(ConfigError):
        ranking.distill_students(lambda: models.MLP(4, [8], 3), xb, y, teacher[:3], (xb, y), (xb, y), rho=0.0,
                                 num_epochs=1, batch_size=None, lr=0.1, num_init=2)


def test_nullified_teacher_study_shapes_and_consistency():
    from mfh_lib.data.ravdess import load_ravdess_standin
    from mfh_lib.training import member_accuracy

    data = load_ravdess_standin(seed=0, clips_per_actor=12, standardize_b=True)
    cfg = {"seeds": 2, "hidden_a": [16, 8], "hidden_b": [8], "joint_epochs": 2, "student_epochs": 2,
           "batch_size": 64, "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0, "rho": 0.0,
           "num_permutations": 2, "ratios": [0.25, 0.5], "m_values": [1, 2], "m_ratio": 0.5, "cross_fit_folds": 2,
           "matched_ratios": [0.5]}
    out = ranking.nullified_teacher_study(data, cfg, use_cache=False)
    num_teachers = 1 + len(ranking.NULLIFY_MODES) * len(cfg["ratios"]) + len(cfg["m_values"]) + 1
    assert out["teachers"][-1] == ("random (matched)", 0.5, 2)  # appended last: earlier indices unchanged
    matched = out["matched_random"]
    assert matched["ratios"] == [0.5] and matched["val_acc"].shape == matched["nullified_share"].shape == (1, 2)
    assert ((0 <= matched["nullified_share"]) & (matched["nullified_share"] <= 1)).all()
    assert len(out["teachers"]) == num_teachers and out["teachers"][0] == ("regular", 0.0, 2)
    assert out["student_acc"].shape == out["teacher_acc"].shape == (num_teachers, 2)
    assert out["no_kd"].shape == (2,) and out["salience"].shape == (2, 8)
    logits = out["teacher_test_logits"]
    assert logits.shape == (num_teachers, 2, len(data.test), 8)
    torch.testing.assert_close(member_accuracy(logits[3], data.test.y), out["teacher_acc"][3])

    # the controls: one (S,) student accuracy per control, teachers described on the training set
    assert set(out["controls"]) == set(controls.CONTROLS)
    for name, acc in out["controls"].items():
        assert acc.shape == (2,) and ((0 <= acc) & (acc <= 100)).all(), name
        info = out["control_teachers"][name]
        assert info["train_acc"].shape == info["confidence"].shape == (2,)
        assert ((1 / 8 <= info["confidence"]) & (info["confidence"] <= 1)).all()
    # label smoothing matches the regular teacher's mean confidence and puts it on the true class
    torch.testing.assert_close(out["control_teachers"]["label smoothing"]["confidence"], out["regular_train"]["confidence"])
    assert out["control_teachers"]["label smoothing"]["train_acc"].tolist() == [100.0, 100.0]
    assert set(out["control_teachers"]["cross-fitted"]) == {"train_acc", "confidence", "test_acc"}


def test_distill_students_returns_the_best_validation_train_logits():
    g = torch.Generator().manual_seed(1)
    y = torch.randint(0, 3, (60,), generator=g)
    xb = torch.randn(60, 4, generator=g) + nn.functional.one_hot(y, 4).float()
    out = ranking.distill_students(lambda: models.MLP(4, [8], 3), xb, y, None, (xb, y), (xb, y), rho=1.0,
                                   num_epochs=4, batch_size=None, lr=0.1, num_members=2, return_train_logits=True)
    assert out["train_logits"].shape == (2, 60, 3)
    # validation = training inputs here, so the kept logits reproduce the best validation accuracy
    from mfh_lib.training import member_accuracy
    torch.testing.assert_close(member_accuracy(out["train_logits"], y), out["val_acc"])
    assert "train_logits" not in ranking.distill_students(lambda: models.MLP(4, [8], 3), xb, y, None, (xb, y), (xb, y),
                                                          rho=1.0, num_epochs=1, batch_size=None, lr=0.1, num_members=2)


def test_cross_fitted_logits_come_from_teachers_that_never_saw_the_sample(monkeypatch):
    # A "teacher" that memorises its training rows (a lookup of their labels) predicts zeros for
    # unseen rows: out of fold, no training label is handed on.
    from mfh_lib.data import MultimodalDataset, MultimodalSplit

    n, K = 30, 3
    y = torch.arange(n) % K
    split = MultimodalSplit(torch.arange(n, dtype=torch.float32)[:, None], torch.zeros(n, 1), y)
    data = MultimodalDataset(split, split, split, modalities=("a", "b"), num_classes=K, source="test")
    trained_on = []

    def memorising_train_joint(make_a, make_b, xa, xb, labels, *, num_seeds, **kwargs):
        trained_on.append({int(v): int(label) for v, label in zip(xa[:, 0], labels)})
        return trained_on[-1]

    def lookup_net(seen, path):
        def net(x):
            rows = x[0, :, 0].long().tolist()
            logits = torch.stack([nn.functional.one_hot(torch.tensor(seen[r]), K).float() * 10 if r in seen
                                  else torch.zeros(K) for r in rows])
            return logits.expand(2, -1, -1)
        return net

    monkeypatch.setattr(ranking, "train_joint", memorising_train_joint)
    monkeypatch.setattr(ranking, "member_part", lookup_net)
    out_of_fold, test_logits = ranking._cross_fitted_logits(data, None, None, {"seeds": 2, "joint_epochs": 1,
                                                                               "cross_fit_folds": 3}, {}, "cpu")
    assert len(trained_on) == 3 and all(len(rows) == 20 for rows in trained_on)
    assert out_of_fold.shape == (2, n, K) and test_logits.shape == (2, n, K)
    assert float(out_of_fold.abs().max()) == 0.0  # every training row was predicted by a teacher that never saw it
    # on rows they did see (test = train here), the fold teachers' average knows the labels
    assert (test_logits[0].argmax(-1) == y).all()


def test_accuracy_matched_random_mask_hits_the_target_damage():
    # a head that sums channels 0-3 (class 1 when positive): nullifying (to 0) any 2 of them costs accuracy
    torch.manual_seed(0)
    features = torch.randn(3, 200, 8)
    labels = (features[0, :, :4].sum(-1) > 0).long()
    features = features[:1].expand(3, -1, -1)
    weight = torch.zeros(8, 2)
    weight[:4, 1] = 1.0
    head = lambda h: h @ weight
    fill = torch.zeros(3, 8)
    target = torch.tensor([100.0, 75.0, 50.0])
    keep, acc = ranking.accuracy_matched_keep_mask(head, features, labels, fill, target, torch.Generator().manual_seed(0))
    assert keep.shape == (3, 8) and set(keep.unique().tolist()) <= {0.0, 1.0}
    assert keep[0].sum() == 8 and acc[0] == 100.0  # no damage asked: nothing nullified
    assert (acc - target).abs().max() <= 12 and keep[2].sum() < keep[1].sum() < 8
    # the reported accuracy is the mask's accuracy
    torch.testing.assert_close(acc, ranking.member_accuracy(head(ranking.nullify(features, keep, fill)), labels))
    with pytest.raises(ConfigError, match="matched_ratios"):
        ranking.NullifiedStudySettings(seeds=1, joint_epochs=1, student_epochs=1, matched_ratios=(1.5,))



def test_seed_values_and_slopes_read_the_tidy_table():
    import numpy as np
    import pandas as pd

    # student accuracy = 50 - 10 * r * (seed + 1): slope -(seed + 1) pp per 10 pp of r
    runs = pd.DataFrame([{"teacher": "specific", "r": r, "seed": s, "student": 50 - 10 * r * (s + 1), "protocol": "actor"}
                         for s in (1, 0) for r in (0.25, 0.5, 0.75)])
    assert ranking.seed_values(runs, "specific", 0.5, protocol="actor").tolist() == [45.0, 40.0]
    assert ranking.seed_values(runs, "specific", 0.5, protocol="random").size == 0
    np.testing.assert_allclose(ranking.slope_over_ratios(runs, "specific", (0.25, 0.5, 0.75)), [-1.0, -2.0])
    np.testing.assert_allclose(ranking.curve_coefficient([0, 1, 2], [[0, 1, 4]], 2), [0.01])
