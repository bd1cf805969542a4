"""Tests that pin the science (issue #20): each expected value is computed independently of the
library -- by hand with ``math``, by a closed form, or by a slow reference loop written here -- so
a wrong rho weighting, a dropped MSD view, a wrong fill value or a wrong bootstrap unit fails.

* the KD loss of MFH eq. (1) at rho values that tell rho from 1 - rho, its T^2 scaling, pixel-wise;
* the MSD student loss: each view's KD term with its own teacher logits and weight (eq. 5), and
  the importance (eq. 6), correctness (eq. 7) and population weights;
* the nullified-teacher study (MFH Sec. 5.4): fill value, which mask goes with which teacher,
  which inputs the students see;
* the bootstrap's resampling unit (seeds, the first axis) and its coverage on a known distribution.
"""
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mfh_lib import losses, models, msd, ranking, stats
from mfh_lib.data import MultimodalSplit
from mfh_lib.training import Ensemble

LN = math.log


def kl(p, q):
    """KL(p || q) of two probability lists, in nats."""
    return sum(pi * LN(pi / qi) for pi, qi in zip(p, q) if pi > 0)


def softmax(z, temperature=1.0):
    e = [math.exp(v / temperature) for v in z]
    return [v / sum(e) for v in e]


# ============================================================================ KD loss, eq. (1)
# Two samples, two classes, chosen so every probability is a simple fraction:
#   sample 0: student [0, ln 3] -> (1/4, 3/4), teacher [0, 0] -> (1/2, 1/2), label 0
#   sample 1: student [ln 2, 0] -> (2/3, 1/3), teacher [ln 3, 0] -> (3/4, 1/4), label 1
STUDENT = [[0.0, LN(3)], [LN(2), 0.0]]
TEACHER = [[0.0, 0.0], [LN(3), 0.0]]
LABELS = [0, 1]
CE = (LN(4) + LN(3)) / 2  # -ln(1/4), -ln(1/3)
KL_T1 = (0.5 * LN(0.5 / 0.25) + 0.5 * LN(0.5 / 0.75) + 0.75 * LN(0.75 / (2 / 3)) + 0.25 * LN(0.25 / (1 / 3))) / 2


def kd_inputs():
    return torch.tensor(STUDENT, dtype=torch.float64), torch.tensor(TEACHER, dtype=torch.float64), torch.tensor(LABELS)


def test_hand_values_are_what_they_claim():
    assert softmax(STUDENT[0]) == pytest.approx([0.25, 0.75])
    assert softmax(TEACHER[1]) == pytest.approx([0.75, 0.25])
    assert CE != pytest.approx(KL_T1, rel=0.1)  # so rho and 1 - rho give different losses


@pytest.mark.parametrize("rho", [0.2, 0.8, 0.35])
def test_kd_loss_weights_ce_by_rho_and_kl_by_one_minus_rho(rho):
    s, t, y = kd_inputs()
    expected = rho * CE + (1 - rho) * KL_T1
    swapped = (1 - rho) * CE + rho * KL_T1
    got = losses.kd_loss(s, t, y, rho=rho).item()
    assert got == pytest.approx(expected, rel=1e-12)
    assert abs(got - swapped) > 0.05


def test_kd_loss_defaults_are_rho_half_temperature_one():
    s, t, y = kd_inputs()
    assert losses.kd_loss(s, t, y).item() == pytest.approx(0.5 * CE + 0.5 * KL_T1, rel=1e-12)
    assert losses.kd_divergence(s, t).item() == pytest.approx(KL_T1, rel=1e-12)


@pytest.mark.parametrize("temperature", [2.0, 4.0, 0.5])
def test_kd_loss_softens_the_kl_by_t_and_scales_it_by_t_squared(temperature):
    s, t, y = kd_inputs()
    kl_t = sum(kl(softmax(ti, temperature), softmax(si, temperature)) for si, ti in zip(STUDENT, TEACHER)) / 2
    # the cross entropy is the hard-label loss at T = 1; only the KL is softened
    expected = 0.2 * CE + 0.8 * temperature**2 * kl_t
    assert losses.kd_loss(s, t, y, rho=0.2, temperature=temperature).item() == pytest.approx(expected, rel=1e-12)
    assert losses.kd_divergence(s, t, temperature).item() == pytest.approx(temperature**2 * kl_t, rel=1e-12)


def test_kd_loss_pixelwise_averages_over_samples_and_pixels():
    # (N=2, K=2, H=1, W=2): pixel (0, 0, 0) and (1, 0, 1) are the two hand samples, the other two
    # pixels have student == teacher (KL 0) and a known CE
    s = torch.zeros(2, 2, 1, 2, dtype=torch.float64)
    t = torch.zeros(2, 2, 1, 2, dtype=torch.float64)
    y = torch.zeros(2, 1, 2, dtype=torch.long)
    f64 = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    s[0, :, 0, 0], t[0, :, 0, 0], y[0, 0, 0] = f64(STUDENT[0]), f64(TEACHER[0]), LABELS[0]
    s[1, :, 0, 1], t[1, :, 0, 1], y[1, 0, 1] = f64(STUDENT[1]), f64(TEACHER[1]), LABELS[1]
    s[0, :, 0, 1] = t[0, :, 0, 1] = f64([LN(4), 0.0])  # (4/5, 1/5), label 0
    s[1, :, 0, 0] = t[1, :, 0, 0] = f64([0.0, 0.0])  # (1/2, 1/2), label 1
    ce = (LN(4) + LN(3) + LN(5 / 4) + LN(2)) / 4
    kl_mean = KL_T1 * 2 / 4  # two pixels carry all the KL
    got = losses.kd_loss(s, t, y, rho=0.2, temperature=1.0).item()
    assert got == pytest.approx(0.2 * ce + 0.8 * kl_mean, rel=1e-12)
    # an ignored pixel leaves the CE mean but still carries its KL (the teacher sees it)
    y[1, 0, 1] = -100
    ce_ignored = (LN(4) + LN(5 / 4) + LN(2)) / 3
    got = losses.kd_loss(s, t, y, rho=0.2, temperature=1.0).item()
    assert got == pytest.approx(0.2 * ce_ignored + 0.8 * kl_mean, rel=1e-12)


def test_kd_loss_limits_need_only_what_they_use_and_never_train_the_teacher():
    s, t, y = kd_inputs()
    assert losses.kd_loss(s, None, y, rho=1.0).item() == pytest.approx(CE, rel=1e-12)
    assert losses.kd_loss(s, t, None, rho=0.0).item() == pytest.approx(KL_T1, rel=1e-12)
    with pytest.raises(ValueError, match="labels"):
        losses.kd_loss(s, t, None, rho=0.5)
    with pytest.raises(ValueError, match="teacher"):
        losses.kd_loss(s, None, y, rho=0.5)
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="temperature"):
            losses.kd_loss(s, t, y, temperature=bad)
    s = s.clone().requires_grad_(True)
    t = t.clone().requires_grad_(True)
    losses.kd_loss(s, t, y, rho=0.3, temperature=2.0).backward()
    assert t.grad is None and s.grad is not None


# ============================================================================ MSD, eqs. (5)-(7)

def _kl_rows(student_logits, teacher_logits, temperature):
    """Per-row KL(softmax(t/T) || softmax(s/T)) with explicit probabilities (float64)."""
    p = torch.softmax(teacher_logits.double() / temperature, -1)
    q = torch.softmax(student_logits.double() / temperature, -1)
    return (p * (p.log() - q.log())).sum(-1)


def _bernoulli_kl_rows(student_logits, teacher_logits, temperature):
    p = torch.sigmoid(teacher_logits.double() / temperature)
    q = torch.sigmoid(student_logits.double() / temperature)
    return (p * (p / q).log() + (1 - p) * ((1 - p) / (1 - q)).log()).sum(-1)


def reference_student_loss(student, member, batch, weights, lam, temperature, views, multilabel=False,
                           feature_loss=None, feature_weight=1.0, drop_view=None):
    """One member's loss, the slow way: load the member into a plain LateFusionNet, feed each view
    (a, b), (a, 0), (0, b) separately, weight each per-sample KL by that view's weight and teacher."""
    net = msd.LateFusionNet(6, 4, 3, (8,), (8,), hint_dim=5 if feature_loss == "fitnet" else None).double()
    net.load_state_dict({k: v.double() for k, v in student.member_state_dict(member).items()})
    a, b, y = batch.a[member].double(), batch.b[member].double(), batch.y[member]
    inputs = [(a, b), (a, torch.zeros_like(b)), (torch.zeros_like(a), b)][:views]
    logits = [net(*x) for x in inputs]
    if multilabel:
        ce = torch.nn.functional.binary_cross_entropy_with_logits(logits[0], y.double(), reduction="none").sum(-1).mean()
        kl_fn = _bernoulli_kl_rows
    else:
        ce = -torch.log_softmax(logits[0], -1)[torch.arange(len(y)), y].mean()
        kl_fn = _kl_rows
    distill = 0.0
    for v in range(views):
        if v == drop_view:
            continue
        per_sample = kl_fn(logits[v], batch.teacher_logits[member, :, v], temperature)
        distill = distill + (weights[member, v].double() * per_sample).mean()
    loss = lam * ce + (1 - lam) * temperature**2 * distill
    if feature_loss == "fitnet":
        hint = net(a, b, return_features=True)[1]
        loss = loss + feature_weight * (hint - batch.teacher_features[member].double()).pow(2).mean()
    return loss


def _msd_batch(multilabel=False, seed=0, num_members=2, batch_size=5):
    g = torch.Generator().manual_seed(seed)
    m, bsz = num_members, batch_size
    if multilabel:
        y = (torch.rand(m, bsz, 3, generator=g) < 0.5).float()
    else:
        y = torch.randint(0, 3, (m, bsz), generator=g)
    # every view has its own, clearly different teacher logits
    teacher = torch.stack([torch.randn(m, bsz, 3, generator=g) * (1 + v) + 2 * v for v in range(3)], dim=2)
    return msd.TrainingData(torch.randn(m, bsz, 6, generator=g), torch.randn(m, bsz, 4, generator=g), y,
                            teacher, torch.randn(m, bsz, 5, generator=g))


def _student(num_members=2, hint_dim=None):
    return Ensemble(lambda: msd.LateFusionNet(6, 4, 3, (8,), (8,), hint_dim=hint_dim), num_members, seed=3)


@pytest.mark.parametrize("multilabel", [False, True])
def test_msd_student_loss_has_three_views_each_with_its_own_teacher_and_weight(multilabel):
    batch = _msd_batch(multilabel)
    student = _student()
    g = torch.Generator().manual_seed(9)
    weights = 0.2 + torch.rand(2, 3, 5, generator=g)  # (M, V, B), distinct per member, view and sample
    recipe = msd.StudentRecipe(weighting="importance", lam=0.3, temperature=2.0)
    got = msd.student_losses(student, batch, weights, recipe, multilabel)
    assert got.shape == (2,)
    for m in range(2):
        expected = reference_student_loss(student, m, batch, weights, 0.3, 2.0, 3, multilabel)
        assert got[m].item() == pytest.approx(expected.item(), rel=1e-5)
        # dropping any one view's term (e.g. passing only two of the three views) is visible
        for dropped in range(3):
            partial = reference_student_loss(student, m, batch, weights, 0.3, 2.0, 3, multilabel, drop_view=dropped)
            assert abs(got[m].item() - partial.item()) > 1e-3, f"view {msd.VIEWS[dropped]} carries no weight"
    # a teacher's logits belong to their own view: swapping the unimodal teachers changes the loss
    swapped = msd.TrainingData(batch.a, batch.b, batch.y, batch.teacher_logits[:, :, [0, 2, 1]], batch.teacher_features)
    assert not torch.allclose(msd.student_losses(student, swapped, weights, recipe, multilabel), got, rtol=1e-4)


def test_kd_recipe_uses_the_multimodal_view_only_and_none_is_plain_ce():
    batch = _msd_batch()
    student = _student()
    recipe = msd.StudentRecipe(weighting="kd", lam=0.6, temperature=3.0)
    weights = msd.batch_weights(recipe, batch, None, None, False)
    assert weights.shape == (2, 1, 5) and torch.equal(weights, torch.ones(2, 1, 5))
    got = msd.student_losses(student, batch, weights, recipe, False)
    for m in range(2):
        assert got[m].item() == pytest.approx(reference_student_loss(student, m, batch, weights, 0.6, 3.0, 1).item(), rel=1e-5)
    none = msd.StudentRecipe(weighting="none")
    assert msd.batch_weights(none, batch, None, None, False) is None
    ce = msd.student_losses(student, batch, None, none, False)
    for m in range(2):
        expected = reference_student_loss(student, m, batch, torch.zeros(2, 1, 5), 1.0, 1.0, 1)
        assert ce[m].item() == pytest.approx(expected.item(), rel=1e-5)


def test_feature_loss_is_added_on_the_multimodal_features():
    batch = _msd_batch()
    student = _student(hint_dim=5)
    weights = torch.rand(2, 3, 5, generator=torch.Generator().manual_seed(1))
    recipe = msd.StudentRecipe(weighting="importance", feature_loss="fitnet", feature_weight=0.7, lam=0.4, temperature=2.0)
    got = msd.student_losses(student, batch, weights, recipe, False)
    for m in range(2):
        expected = reference_student_loss(student, m, batch, weights, 0.4, 2.0, 3, feature_loss="fitnet", feature_weight=0.7)
        assert got[m].item() == pytest.approx(expected.item(), rel=1e-5)


def test_importance_weights_eq6_by_hand_including_the_b_only_view():
    # one sample, two classes; teacher on the multimodal view: (1/2, 1/2)
    #   a only (b dropped): [ln 3, 0] -> (3/4, 1/4);  b only (a dropped): [0, ln 4] -> (1/5, 4/5)
    logits = torch.tensor([[[0.0, 0.0]], [[LN(3), 0.0]], [[0.0, LN(4)]]], dtype=torch.float64)
    w = msd.importance_weights(logits)
    assert w.shape == (3, 1)
    w_a = math.tanh(kl([0.5, 0.5], [0.75, 0.25]))  # KL(t(x) || t(x^a)): b's importance
    w_b = math.tanh(kl([0.5, 0.5], [0.2, 0.8]))  # KL(t(x) || t(x^b)): a's importance
    assert w[0, 0].item() == 1.0
    assert w[1, 0].item() == pytest.approx(w_a, rel=1e-12)
    assert w[2, 0].item() == pytest.approx(w_b, rel=1e-12)
    # the reverse KL would give other numbers: the direction is pinned
    assert abs(w_b - math.tanh(kl([0.2, 0.8], [0.5, 0.5]))) > 1e-3
    # multi-label: the Bernoulli KL summed over labels
    ml = torch.tensor([[[0.0, LN(3)]], [[LN(3), LN(3)]], [[0.0, 0.0]]], dtype=torch.float64)
    w = msd.importance_weights(ml, multilabel=True)
    bern = lambda p, q: kl([p, 1 - p], [q, 1 - q])  # noqa: E731
    assert w[1, 0].item() == pytest.approx(math.tanh(bern(0.5, 0.75) + bern(0.75, 0.75)), rel=1e-12)
    assert w[2, 0].item() == pytest.approx(math.tanh(bern(0.5, 0.5) + bern(0.75, 0.5)), rel=1e-12)


def test_correctness_weights_eq7_by_hand_and_in_range():
    # label 0; teacher p(y) on the views: 3/4, 1/2, 1/5 -> h = ln(4/3), ln 2, ln 5
    logits = torch.tensor([[[LN(3), 0.0]], [[0.0, 0.0]], [[0.0, LN(4)]]], dtype=torch.float64)
    w = msd.correctness_weights(logits, torch.tensor([0]))
    inverse = [1 / LN(4 / 3), 1 / LN(2), 1 / LN(5)]
    assert w[:, 0].tolist() == pytest.approx([v / sum(inverse) for v in inverse], rel=1e-12)
    assert ((w > 0) & (w < 1)).all() and w.sum(0).item() == pytest.approx(1.0)
    # a perfectly confident view: h is clamped at eps, its weight tends to 1, nothing is inf or nan
    sure = torch.tensor([[[60.0, -60.0]], [[0.0, 0.0]], [[0.0, LN(4)]]], dtype=torch.float64)
    w = msd.correctness_weights(sure, torch.tensor([0]))
    assert torch.isfinite(w).all()
    assert w[0, 0].item() == pytest.approx((1 / 1e-6) / (1 / 1e-6 + 1 / LN(2) + 1 / LN(5)), rel=1e-9)
    # multi-label: h = BCE summed over labels
    ml = torch.tensor([[[LN(3), 0.0]], [[0.0, 0.0]], [[-LN(3), LN(3)]]], dtype=torch.float64)
    y = torch.tensor([[1.0, 0.0]])
    h = [LN(4 / 3) + LN(2), LN(2) + LN(2), LN(4) + LN(4)]
    w = msd.correctness_weights(ml, y, multilabel=True)
    # (rel 1e-6: task_loss casts multi-hot labels to float32)
    assert w[:, 0].tolist() == pytest.approx([(1 / v) / sum(1 / u for u in h) for v in h], rel=1e-6)


def test_population_grid_and_batch_weights_pair_each_member_with_its_triple():
    grid = msd.population_grid([0.0, 0.5])
    assert grid.tolist() == [[1.0, 0.0, 0.0], [1.0, 0.0, 0.5], [1.0, 0.5, 0.0], [1.0, 0.5, 0.5]]
    batch = _msd_batch(num_members=4, batch_size=3)
    recipe = msd.StudentRecipe(weighting="population")
    w = msd.batch_weights(recipe, batch, grid, None, False)
    assert w.shape == (4, 3, 3)
    for m in range(4):
        for v in range(3):
            assert w[m, v].tolist() == [grid[m, v].item()] * 3
    # importance / correctness read the per-sample weights stored in TrainingData (N, V) -> (M, V, B)
    data = _msd_batch(num_members=1, batch_size=6)
    flat = msd.TrainingData(data.a[0], data.b[0], data.y[0], data.teacher_logits[0], data.teacher_features[0],
                            torch.arange(18.0).reshape(6, 3))
    gathered = flat.gather(torch.tensor([[4, 1], [0, 5]]))
    w = msd.batch_weights(msd.StudentRecipe(weighting="importance"), gathered, None, None, False)
    assert w.tolist() == [[[12.0, 3.0], [13.0, 4.0], [14.0, 5.0]], [[0.0, 15.0], [1.0, 16.0], [2.0, 17.0]]]


def test_training_data_stores_teacher_views_sample_major_with_the_right_weights():
    g = torch.Generator().manual_seed(5)
    split = MultimodalSplit(torch.randn(4, 6, generator=g), torch.randn(4, 4, generator=g), torch.tensor([0, 1, 2, 0]))
    logits = torch.randn(3, 4, 3, generator=g)
    teacher = msd.TeacherOutputs(logits, torch.randn(4, 5, generator=g))
    for weighting, fn in (("importance", lambda: msd.importance_weights(logits)),
                          ("correctness", lambda: msd.correctness_weights(logits, split.y))):
        data = msd.training_data(split, teacher, weighting, False)
        assert data.teacher_logits.shape == (4, 3, 3)
        for v in range(3):
            assert torch.equal(data.teacher_logits[:, v], logits[v])
        assert torch.allclose(data.instance_weights, fn().T)
    assert msd.training_data(split, teacher, "kd", False).instance_weights is None


# ============================================================================ nullified teachers (Sec. 5.4)

S, D, K, N_TRAIN, N_TEST = 2, 4, 4, 12, 10
# salience per seed (mean over M = 3 permutations, then / max): seed 0 ranks channels 2 > 0 > 1 > 3,
# seed 1 ranks 1 > 3 > 0 > 2; with M = 1 (first permutation only) seed 0 ranks 1 > 3 > 2 > 0
DISTANCES = torch.tensor([
    [[0.5, 4.0, 1.0, 3.0], [3.0, 0.5, 8.0, 0.5], [3.4, 0.2, 9.0, 0.4]],
    [[1.0, 9.0, 0.5, 4.0], [2.0, 8.0, 0.4, 5.0], [1.5, 7.0, 0.3, 3.0]],
])


def _expected_nullified(kind, ratio, m):
    """Channels a teacher nullifies, per seed, read off the hand-made rankings above."""
    k = round(ratio * D)
    if kind == "regular":
        return [set(), set()]
    if kind == "general (vs M)" and m == 1:
        p = DISTANCES[:, :1].mean(1)
        least_first = [sorted(range(D), key=lambda c: p[s, c].item()) for s in range(S)]
        return [set(order[:k]) for order in least_first]
    p = DISTANCES.mean(1)
    least_first = [sorted(range(D), key=lambda c: p[s, c].item()) for s in range(S)]
    if kind in ("general", "general (vs M)"):
        return [set(order[:k]) for order in least_first]  # the least crossmodally salient
    if kind == "specific":
        return [set(order[::-1][:k]) for order in least_first]  # the most salient
    return None  # random: any k channels


@pytest.fixture  # per test, not per module: mutation testing maps each test to the code it runs
def study():
    g = torch.Generator().manual_seed(0)
    train_h = 3.0 + torch.randn(S, N_TRAIN, D, generator=g, dtype=torch.float64)  # mean far from 0
    test_a = torch.randn(N_TEST, D, generator=g, dtype=torch.float64)
    scale = torch.tensor([1.0, -2.0], dtype=torch.float64)
    data = SimpleNamespace(
        train=SimpleNamespace(a=torch.randn(N_TRAIN, 5, generator=g), b=torch.randn(N_TRAIN, 3, generator=g),
                              y=torch.arange(N_TRAIN) % K),
        val=SimpleNamespace(a=torch.randn(6, 5, generator=g), b=torch.randn(6, 3, generator=g), y=torch.arange(6) % K),
        test=SimpleNamespace(a=test_a, b=torch.randn(N_TEST, 3, generator=g), y=torch.arange(N_TEST) % K),
        content_hash="pins", source="pins", num_classes=K)
    calls = {"rank": [], "distill": []}

    def fake_rank_channels(data_, make_a, make_b, **kwargs):
        calls["rank"].append((data_, make_a, make_b, kwargs))
        features = lambda x: x * scale[:, None, None]  # noqa: E731  test features: seed s scales a by scale[s]
        head = lambda z: z.clone()  # noqa: E731  identity head: the logits are the (nullified) features
        return None, features, head, train_h, DISTANCES.clone()

    def fake_distill(make_student, train_b, train_y, teacher_logits, val, test, **kwargs):
        rows = teacher_logits.shape[0] if teacher_logits is not None else kwargs["num_members"]
        calls["distill"].append(dict(make_student=make_student, train_b=train_b, train_y=train_y,
                                     teacher_logits=teacher_logits, val=val, test=test, **kwargs))
        out = {"test_acc": torch.arange(rows, dtype=torch.float32), "val_acc": torch.zeros(rows)}
        if kwargs.get("return_train_logits"):
            out["train_logits"] = 10 + torch.randn(rows, N_TRAIN, K, generator=g)
        return out

    def fake_cross_fit(data_, make_a, make_b, cfg, train_kwargs, device):
        calls["cross_fit"] = (data_, make_a, make_b)
        return torch.randn(S, N_TRAIN, K, generator=g), torch.randn(S, N_TEST, K, generator=g)

    cfg = {"seeds": S, "hidden_a": [6], "hidden_b": [5], "joint_epochs": 1, "student_epochs": 1, "batch_size": 4,
           "lr": 0.1, "momentum": 0.9, "weight_decay": 0.0, "rho": 0.25, "num_permutations": 3,
           "ratios": [0.25, 0.5], "m_values": [1, 3], "m_ratio": 0.5, "cross_fit_folds": 2}
    patch = pytest.MonkeyPatch()
    patch.setattr(ranking, "rank_channels", fake_rank_channels)
    patch.setattr(ranking, "distill_students", fake_distill)
    if hasattr(ranking, "_cross_fitted_logits"):
        patch.setattr(ranking, "_cross_fitted_logits", fake_cross_fit)
    try:
        out = ranking.nullified_teacher_study(data, cfg, use_cache=False)
    finally:
        patch.undo()
    test_h = test_a.expand(S, -1, -1) * scale[:, None, None]
    return SimpleNamespace(out=out, calls=calls, data=data, cfg=cfg, train_h=train_h, test_h=test_h)


def _teacher_list(cfg):
    M = cfg["num_permutations"]
    return ([("regular", 0.0, M)] + [(mode, r, M) for mode in ("general", "specific", "random") for r in cfg["ratios"]]
            + [("general (vs M)", cfg["m_ratio"], m) for m in cfg["m_values"]])


def _kd_call(study):
    kd = [c for c in study.calls["distill"] if c["teacher_logits"] is not None]
    assert len(kd) == 1, "one KD training of every teacher's student at once"
    return kd[0]


def test_study_teachers_come_in_the_documented_order(study):
    assert [tuple(t) for t in study.out["teachers"]] == _teacher_list(study.cfg)
    p = DISTANCES.mean(1)
    assert torch.allclose(study.out["salience"].double(), (p / p.amax(-1, keepdim=True)).double())


def test_nullified_channels_hold_the_training_mean_and_each_kind_its_own_mask(study):
    teachers = _teacher_list(study.cfg)
    logits = _kd_call(study)["teacher_logits"].double()
    assert logits.shape[0] >= len(teachers) * S
    fill = study.train_h.mean(1)  # (S, D): the training-set mean of each channel, never 0 here
    assert (fill.abs() > 1).all()
    for t, (kind, ratio, m) in enumerate(teachers):
        expected = _expected_nullified(kind, ratio, m)
        for s in range(S):
            row = logits[t * S + s]  # teacher t, seed s
            changed = {c for c in range(D) if not torch.allclose(row[:, c], study.train_h[s, :, c])}
            if expected is None:
                assert len(changed) == round(ratio * D), (kind, ratio)
            else:
                assert changed == expected[s], (kind, ratio, m, s)
            for c in changed:
                assert torch.allclose(row[:, c], fill[s, c].expand(N_TRAIN)), "nullified = training mean"
    # random masks are not the general or the specific ones every time
    random_rows = [t for t, (kind, _, _) in enumerate(teachers) if kind == "random"]
    assert any(not torch.allclose(logits[t * S:(t + 1) * S], logits[(t - 2) * S:(t - 1) * S]) for t in random_rows)


def test_test_logits_use_the_training_fill_and_teacher_accuracy_matches(study):
    teachers = _teacher_list(study.cfg)
    kd_logits = _kd_call(study)["teacher_logits"].double()
    test_logits = study.out["teacher_test_logits"].double()
    assert test_logits.shape == (len(teachers), S, N_TEST, K)
    fill = study.train_h.mean(1)
    y = study.data.test.y
    for t in range(len(teachers)):
        for s in range(S):
            train_row = kd_logits[t * S + s]
            nulled = [c for c in range(D) if not torch.allclose(train_row[:, c], study.train_h[s, :, c])]
            expected = study.test_h[s].clone()
            expected[:, nulled] = fill[s, nulled]  # the training mean, not the test mean
            assert torch.allclose(test_logits[t, s], expected)
            accuracy = 100.0 * sum(int(expected[i].argmax() == y[i]) for i in range(N_TEST)) / N_TEST
            assert study.out["teacher_acc"][t, s].item() == pytest.approx(accuracy)


def test_students_see_only_their_own_modality_and_are_paired_by_seed(study):
    data = study.data
    kd = _kd_call(study)
    no_kd = [c for c in study.calls["distill"] if c["teacher_logits"] is None]
    assert len(no_kd) == 1
    for call in (kd, no_kd[0]):
        assert call["train_b"] is data.train.b and call["train_y"] is data.train.y
        assert call["val"][0] is data.val.b and call["val"][1] is data.val.y
        assert call["test"][0] is data.test.b and call["test"][1] is data.test.y
        student = call["make_student"]()
        assert student(data.train.b[:2]).shape == (2, K)  # built for modality b's width
        with pytest.raises(RuntimeError):
            student(data.train.a[:2])
    assert kd["rho"] == study.cfg["rho"] and kd["num_init"] == S
    assert no_kd[0]["rho"] == 1.0 and no_kd[0]["num_members"] == S
    T = len(_teacher_list(study.cfg))
    # student of teacher t, seed s is member t * S + s of the KD run
    assert study.out["student_acc"].tolist() == torch.arange(T * S, dtype=torch.float32).view(T, S).tolist()
    assert torch.equal(study.out["no_kd"], torch.arange(S, dtype=torch.float32))
    # the ranking networks read modality a, and the ranking trains on the data it was given
    data_, make_a, make_b, kwargs = study.calls["rank"][0]
    cfg = study.cfg
    assert data_ is data and kwargs["num_seeds"] == S and kwargs["num_permutations"] == cfg["num_permutations"]
    assert make_a()(data.train.a[:2]).shape == (2, K) and make_b()(data.train.b[:2]).shape == (2, K)
    if "cross_fit" in study.calls:  # the cross-fitted control retrains the same pair of networks
        data_, cross_a, cross_b = study.calls["cross_fit"]
        assert data_ is data and cross_a()(data.train.a[:2]).shape == (2, K) and cross_b()(data.train.b[:2]).shape == (2, K)
    assert [m.out_features for m in make_a().modules() if isinstance(m, torch.nn.Linear)][:-1] == cfg["hidden_a"]
    assert [m.out_features for m in make_b().modules() if isinstance(m, torch.nn.Linear)][:-1] == cfg["hidden_b"]
    assert kwargs["num_epochs"] == cfg["joint_epochs"]
    for call in (kwargs, kd, no_kd[0]):  # one optimiser recipe for the ranking networks and every student
        assert (call["batch_size"], call["lr"], call["momentum"], call["weight_decay"]) == \
            (cfg["batch_size"], cfg["lr"], cfg["momentum"], cfg["weight_decay"])
    for call in (kd, no_kd[0]):
        assert call["num_epochs"] == cfg["student_epochs"] and call["seed"] == kd["seed"]


def test_born_again_control_distils_the_no_kd_students_own_logits(study):
    if "controls" not in study.out:
        pytest.skip("this version of the study has no controls")
    kd = _kd_call(study)
    no_kd = [c for c in study.calls["distill"] if c["teacher_logits"] is None][0]
    assert no_kd.get("return_train_logits")
    T = len(_teacher_list(study.cfg))
    names = list(study.out["controls"])
    assert set(names) == {"noise teacher", "born-again", "label smoothing", "cross-fitted"}
    i = names.index("born-again")
    block = kd["teacher_logits"][(T + i) * S:(T + i + 1) * S]
    assert block.min() > 5  # the fake no-KD logits are 10 + noise: the born-again rows are those
    acc = torch.arange(kd["teacher_logits"].shape[0], dtype=torch.float32)
    for j, name in enumerate(names):
        assert torch.equal(study.out["controls"][name], acc[(T + j) * S:(T + j + 1) * S])


def test_rank_channels_ranks_modality_a_features_against_net_b_on_modality_b():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (24,), generator=g)
    data = SimpleNamespace(train=SimpleNamespace(a=torch.randn(24, 5, generator=g), b=torch.randn(24, 4, generator=g), y=y))
    make_a = lambda: models.ranked_mlp(5, [6, 4], 3)  # noqa: E731
    make_b = lambda: models.ranked_mlp(4, [6], 3)  # noqa: E731
    pairs, features, head, train_h, distances = ranking.rank_channels(
        data, make_a, make_b, num_seeds=2, num_epochs=2, num_permutations=2, batch_size=None, lr=0.05, seed=4)
    assert train_h.shape == (2, 24, 4) and distances.shape == (2, 2, 4)
    perms = torch.rand(2 * 4, 2, 24, generator=torch.Generator().manual_seed(4)).argsort(-1)
    for s in range(2):
        state = pairs.member_state_dict(s)
        net_a, net_b = make_a(), make_b()
        net_a.load_state_dict({k[6:]: v for k, v in state.items() if k.startswith("net_a.")})
        net_b.load_state_dict({k[6:]: v for k, v in state.items() if k.startswith("net_b.")})
        net_a.eval(), net_b.eval()
        with torch.no_grad():
            h = net_a.features(data.train.a)
            reference = net_b(data.train.b)
            torch.testing.assert_close(train_h[s], h)
            for m in range(2):
                for i in range(4):
                    x = h.clone()
                    x[:, i] = h[perms[m * 4 + i, s], i]
                    expected = (net_a.head(x) - reference).pow(2).mean()
                    assert distances[s, m, i].item() == pytest.approx(expected.item(), rel=1e-4)


# ============================================================================ bootstrap

def test_bootstrap_resamples_whole_rows_of_the_first_axis():
    values = np.arange(15.0).reshape(5, 3) * np.array([1.0, 100.0, 10_000.0])  # 5 seeds x 3 settings
    seen = []

    def statistic(resample):
        seen.append(resample.copy())
        return float(resample.mean())

    stats.bootstrap_ci(values, statistic, num_resamples=200, seed=1)
    assert len(seen) >= 200
    rows = {tuple(r) for r in values}
    picked = set()
    for resample in seen:
        assert resample.shape == (5, 3)  # as many seeds as the data, every setting kept
        for row in resample:
            assert tuple(row) in rows  # a whole seed: its settings stay together
            picked.add(tuple(row))
    assert picked == rows  # every seed is drawn some time
    # with replacement: some resample repeats a seed
    assert any(len({tuple(r) for r in resample}) < 5 for resample in seen)


def test_bootstrap_percentile_interval_by_a_reference_loop():
    values = np.array([0.3, 1.7, 2.2, 4.1, 5.0, 5.5, 9.0])
    lo, hi = stats.bootstrap_ci(values, np.median, num_resamples=500, confidence=0.9, seed=3)
    # the same percentile bootstrap written out: draw n indices with replacement, 5% / 95% quantiles
    rng = np.random.default_rng(3)
    draws = [np.median(values[rng.integers(0, 7, 7)]) for _ in range(500)]
    assert (lo, hi) == pytest.approx(tuple(np.quantile(draws, [0.05, 0.95])))
    assert lo < np.median(values) < hi
    assert stats.bootstrap_ci(values, np.median, num_resamples=500, confidence=0.9, seed=3) == (lo, hi)
    other = stats.bootstrap_ci(values, np.mean, num_resamples=500, confidence=0.9, seed=4)
    rng = np.random.default_rng(4)
    draws = [np.mean(values[rng.integers(0, 7, 7)]) for _ in range(500)]
    assert other == pytest.approx(tuple(np.quantile(draws, [0.05, 0.95])))


def test_bootstrap_interval_narrows_with_lower_confidence_and_covers_a_known_mean():
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    wide = stats.bootstrap_ci(x, np.mean, num_resamples=400, confidence=0.99, seed=0)
    narrow = stats.bootstrap_ci(x, np.mean, num_resamples=400, confidence=0.5, seed=0)
    assert wide[0] < narrow[0] < narrow[1] < wide[1]
    # coverage: a 90% interval of the mean of n = 30 draws of N(2, 1) covers 2 about 90% of the time;
    # the half width is close to the normal theory's 1.645 / sqrt(30)
    hits, widths = 0, []
    for rep in range(150):
        sample = rng.normal(2.0, 1.0, size=30)
        lo, hi = stats.bootstrap_ci(sample, np.mean, num_resamples=300, confidence=0.9, seed=rep)
        hits += lo <= 2.0 <= hi
        widths.append(hi - lo)
    assert 0.8 <= hits / 150 <= 0.97
    assert np.mean(widths) == pytest.approx(2 * 1.645 / math.sqrt(30), rel=0.12)
