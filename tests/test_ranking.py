"""MFH Algorithm 1 (mfh_lib.ranking): vectorised permutations equal the loop, planted channels win."""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see the chapter's note

import pytest
import torch
from torch import nn

from mfh_lib import models, ranking
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
           "num_permutations": 2, "ratios": [0.25, 0.5], "m_values": [1, 2], "m_ratio": 0.5}
    out = ranking.nullified_teacher_study(data, cfg, use_cache=False)
    num_teachers = 1 + len(ranking.NULLIFY_MODES) * len(cfg["ratios"]) + len(cfg["m_values"])
    assert len(out["teachers"]) == num_teachers and out["teachers"][0] == ("regular", 0.0, 2)
    assert out["student_acc"].shape == out["teacher_acc"].shape == (num_teachers, 2)
    assert out["no_kd"].shape == (2,) and out["salience"].shape == (2, 8)
    logits = out["teacher_test_logits"]
    assert logits.shape == (num_teachers, 2, len(data.test), 8)
    torch.testing.assert_close(member_accuracy(logits[3], data.test.y), out["teacher_acc"][3])
