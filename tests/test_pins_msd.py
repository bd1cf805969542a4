"""Pins of mfh_lib.msd beyond the loss composition (issue #20): standardisation, the networks, the
per-sample losses, ensembles of students, the teacher's outputs and dropout loss, and the
evaluation helpers, each against hand values or a plain per-member reference."""
import math

import pytest
import torch
import torch.nn.functional as F

from mfh_lib import msd
from mfh_lib.data import MultimodalDataset, MultimodalSplit
from mfh_lib.training import Ensemble

LN = math.log


def _split(n, seed, d_a=6, d_b=4, k=3):
    g = torch.Generator().manual_seed(seed)
    return MultimodalSplit(3 + 2 * torch.randn(n, d_a, generator=g), -1 + torch.randn(n, d_b, generator=g),
                           torch.randint(0, k, (n,), generator=g))


def test_standardize_uses_training_statistics_for_every_split():
    train, val = _split(30, 0), _split(10, 1)
    train.a[:, 2] = 5.0  # a constant feature: no division by zero
    dataset = MultimodalDataset(train=train, val=val, test=val, modalities=("a", "b"), num_classes=3, source="toy")
    out = msd.standardize(dataset)
    for name in ("a", "b"):
        x = getattr(out.train, name)
        varying = [c for c in range(x.shape[1]) if not (name == "a" and c == 2)]
        assert torch.allclose(x[:, varying].mean(0), torch.zeros(len(varying)), atol=1e-5)
        assert torch.allclose(x[:, varying].std(0), torch.ones(len(varying)), atol=1e-5)
        raw_train, raw_val = getattr(train, name), getattr(val, name)
        expected = (raw_val - raw_train.mean(0)) / raw_train.std(0).clamp_min(1e-6)
        assert torch.allclose(getattr(out.val, name), expected, atol=1e-5)
        assert torch.allclose(getattr(out.test, name), expected, atol=1e-5)
    assert (out.train.a[:, 2] == 0).all() and torch.isfinite(out.val.a).all()
    assert torch.equal(out.train.y, train.y) and torch.equal(out.val.y, val.y)
    images = MultimodalSplit(torch.randn(8, 2, 3), torch.randn(8, 4), torch.zeros(8, dtype=torch.long))
    shaped = msd.standardize(MultimodalDataset(images, images, images, ("a", "b"), 1, "toy"))
    assert shaped.train.a.shape == (8, 2, 3)
    flat = shaped.train.a.flatten(1)
    assert torch.allclose(flat.mean(0), torch.zeros(6), atol=1e-5)


def test_late_fusion_net_is_two_encoders_a_fusion_body_and_a_head():
    torch.manual_seed(0)
    net = msd.LateFusionNet(6, 4, 3, encoder_hidden=(5, 7), fusion_hidden=(8,), hint_dim=2)
    a, b = torch.randn(9, 2, 3), torch.randn(9, 4)
    enc_a = net.encoder_a(a.flatten(1))
    enc_b = net.encoder_b(b)
    assert enc_a.shape == (9, 7) and enc_b.shape == (9, 7) and net.feature_dim == 8
    layers = [m for m in net.encoder_a if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in layers] == [(6, 5), (5, 7)]
    assert any(isinstance(m, torch.nn.ReLU) for m in net.encoder_a)
    features = net.fusion(torch.cat([enc_a, enc_b], -1))
    logits = net(a, b)
    assert torch.allclose(logits, net.head(features))
    out_logits, hint = net(a, b, return_features=True)
    assert torch.allclose(out_logits, logits) and torch.allclose(hint, net.hint(features))
    plain = msd.LateFusionNet(6, 4, 3, (5,), (8,))
    assert plain.hint is None and plain(a, b, return_features=True)[1].shape == (9, 8)
    # the fusion sees a's encoding first, then b's: swapping them changes the output
    assert not torch.allclose(net.head(net.fusion(torch.cat([enc_b, enc_a], -1))), logits)
    dropped = msd.LateFusionNet(6, 4, 3, (16,), (16,), dropout=0.5)
    dropped.train()
    assert not torch.allclose(dropped(a, b), dropped(a, b))
    dropped.eval()
    assert torch.allclose(dropped(a, b), dropped(a, b))


def test_meta_weight_net_architecture_and_range():
    net = msd.MetaWeightNet(4)
    linear = [m for m in net.net if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(12, 100), (100, 3)]
    probs = torch.softmax(torch.randn(2, 5, 3, 4), -1)
    w = net(probs)
    assert w.shape == (2, 5, 3) and ((w > 0) & (w < 1)).all()
    assert torch.allclose(w, torch.sigmoid(net.net(probs.flatten(-2))))
    assert [m.out_features for m in msd.MetaWeightNet(4, hidden=7).net if isinstance(m, torch.nn.Linear)] == [7, 3]


def test_probabilities_task_loss_and_divergence_by_hand():
    z = torch.tensor([[0.0, LN(3)]], dtype=torch.float64)
    assert msd.probabilities(z, False).tolist() == [[pytest.approx(0.25), pytest.approx(0.75)]]
    assert msd.probabilities(z, False, 2.0)[0, 1].item() == pytest.approx(math.sqrt(3) / (1 + math.sqrt(3)))
    assert msd.probabilities(z, True).tolist() == [[0.5, pytest.approx(0.75)]]
    assert msd.probabilities(z, True, 2.0)[0, 1].item() == pytest.approx(math.sqrt(3) / (1 + math.sqrt(3)))
    assert msd.task_loss(z, torch.tensor([0]), False).tolist() == [pytest.approx(LN(4))]
    assert msd.task_loss(z, torch.tensor([[1.0, 0.0]]), True).tolist() == [pytest.approx(LN(2) + LN(4))]
    s, t = torch.tensor([[0.0, LN(3)]], dtype=torch.float64), torch.tensor([[0.0, 0.0]], dtype=torch.float64)
    # no tau^2 here, only the softening
    p, q = [0.5, 0.5], [1 / (1 + math.sqrt(3)), math.sqrt(3) / (1 + math.sqrt(3))]
    assert msd.divergence(s, t, 2.0).item() == pytest.approx(sum(a * LN(a / b) for a, b in zip(p, q)), rel=1e-12)
    assert msd.divergence(s, t).item() == pytest.approx(0.5 * LN(2) + 0.5 * LN(2 / 3), rel=1e-12)
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    bern = lambda a, b: a * LN(a / b) + (1 - a) * LN((1 - a) / (1 - b))  # noqa: E731
    expected = bern(sig(0.0), sig(0.0)) + bern(sig(0.0), sig(LN(3) / 2))
    assert msd.divergence(s, t, 2.0, multilabel=True).item() == pytest.approx(expected, rel=1e-12)
    t = t.requires_grad_(True)
    s = s.clone().requires_grad_(True)
    msd.divergence(s, t).sum().backward()
    assert t.grad is None


def test_eq5_scales_by_tau_squared_and_sums_views():
    s = torch.tensor([[[[0.0, LN(3)]]], [[[LN(2), 0.0]]]], dtype=torch.float64)[:, 0]  # (V=2, B=1, K=2)
    t = torch.zeros_like(s)
    w = torch.tensor([[0.5], [2.0]], dtype=torch.float64)
    kl = [0.5 * LN(0.5 / 0.25) + 0.5 * LN(0.5 / 0.75), 0.5 * LN(0.5 / (2 / 3)) + 0.5 * LN(0.5 / (1 / 3))]
    assert msd.msd_distill_loss(s, t, w).item() == pytest.approx(0.5 * kl[0] + 2.0 * kl[1], rel=1e-12)
    p = lambda z, tau: [math.exp(v / tau) / sum(math.exp(u / tau) for u in z) for v in z]  # noqa: E731
    kl2 = [sum(a * LN(a / b) for a, b in zip([0.5, 0.5], p(row, 3.0))) for row in ([0.0, LN(3)], [LN(2), 0.0])]
    assert msd.msd_distill_loss(s, t, w, 3.0).item() == pytest.approx(9 * (0.5 * kl2[0] + 2.0 * kl2[1]), rel=1e-12)


def test_tile_ensemble_copies_each_seed_into_every_setting():
    ens = Ensemble(lambda: torch.nn.Linear(3, 2), 2, seed=0)
    tiled = msd.tile_ensemble(ens, 3)
    assert tiled.num_members == 6
    for k, v in tiled.params.items():
        assert v.shape[0] == 6 and v.requires_grad and v.is_leaf
        for g in range(3):
            assert torch.equal(v[2 * g], v[0]) and torch.equal(v[2 * g + 1], v[1])
        assert not torch.equal(v[0], v[1])
    single = Ensemble(lambda: torch.nn.Linear(3, 2), 2, seed=0)
    assert msd.tile_ensemble(single, 1).num_members == 2


def test_member_forward_and_view_logits_against_each_member_alone():
    ens = Ensemble(lambda: msd.LateFusionNet(6, 4, 3, (5,), (5,)), 2, seed=1)
    split = _split(7, 2)
    logits = msd.view_logits(ens, split, batch_size=3)
    assert logits.shape == (2, 3, 7, 3)
    only = msd.view_logits(ens, split, views=False)
    assert only.shape == (2, 7, 3)
    for m in range(2):
        net = msd.LateFusionNet(6, 4, 3, (5,), (5,))
        net.load_state_dict(ens.member_state_dict(m))
        net.eval()
        with torch.no_grad():
            views = [net(split.a, split.b), net(split.a, torch.zeros_like(split.b)), net(torch.zeros_like(split.a), split.b)]
        for v in range(3):
            torch.testing.assert_close(logits[m, v], views[v], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(only[m], views[0], atol=1e-5, rtol=1e-5)
    a, b = split.a.expand(2, -1, -1), split.b.expand(2, -1, -1)
    out, features = msd.member_forward(ens, a, b, views=True)
    assert out.shape == (2, 3, 7, 3) and features.shape == (2, 7, 5)  # features: the multimodal view only
    net = msd.LateFusionNet(6, 4, 3, (5,), (5,))
    net.load_state_dict(ens.member_state_dict(1))
    torch.testing.assert_close(features[1], net(split.a, split.b, return_features=True)[1], atol=1e-5, rtol=1e-5)


def test_model_outputs_are_the_three_views_and_multimodal_features():
    torch.manual_seed(0)
    net = msd.LateFusionNet(6, 4, 3, (5,), (5,))
    split = _split(9, 3)
    out = msd.model_outputs(net, split, batch_size=4)
    assert out.logits.shape == (3, 9, 3) and out.features.shape == (9, 5)
    with torch.no_grad():
        torch.testing.assert_close(out.logits[0], net(split.a, split.b))
        torch.testing.assert_close(out.logits[1], net(split.a, torch.zeros_like(split.b)))
        torch.testing.assert_close(out.logits[2], net(torch.zeros_like(split.a), split.b))
        torch.testing.assert_close(out.features, net(split.a, split.b, return_features=True)[1])


def test_modality_dropout_rates_and_loss():
    seen = {}

    class Probe:
        def __call__(self, a, b):
            seen["a"], seen["b"] = a.clone(), b.clone()
            return torch.zeros(*a.shape[:2], 3)

    loss_fn = msd.make_modality_dropout_loss(0.3, False, torch.Generator().manual_seed(0))
    y = torch.randint(0, 3, (2, 4000))
    loss = loss_fn(Probe(), torch.ones(2, 4000, 3), torch.ones(2, 4000, 5), y)
    dropped_a = (seen["a"] == 0).all(-1).float()
    dropped_b = (seen["b"] == 0).all(-1).float()
    assert dropped_a.mean().item() == pytest.approx(0.3, abs=0.03)
    assert dropped_b.mean().item() == pytest.approx(0.3, abs=0.03)
    assert (dropped_a * dropped_b).sum() == 0
    assert ((seen["a"] == 0) | (seen["a"] == 1)).all() and (seen["a"] == 0).any(-1).eq((seen["a"] == 0).all(-1)).all()
    assert loss.shape == (2,) and torch.allclose(loss, torch.full((2,), LN(3)))
    keep_all = msd.make_modality_dropout_loss(0.0, False, torch.Generator().manual_seed(0))
    keep_all(Probe(), torch.ones(1, 50, 3), torch.ones(1, 50, 5), torch.zeros(1, 50, dtype=torch.long))
    assert (seen["a"] == 1).all() and (seen["b"] == 1).all()
    half = msd.make_modality_dropout_loss(0.5, True, torch.Generator().manual_seed(0))
    out = half(Probe(), torch.ones(1, 50, 3), torch.ones(1, 50, 5), torch.zeros(1, 50, 3))
    assert ((seen["a"] == 0).all(-1) ^ (seen["b"] == 0).all(-1)).all()  # exactly one modality each
    assert out.item() == pytest.approx(3 * LN(2))


def test_evaluation_helpers_by_hand():
    logits = torch.tensor([[[2.0, 0.0], [0.0, 1.0], [3.0, -1.0], [0.0, 0.5]]])  # (M=1, N=4, K=2)
    y = torch.tensor([0, 0, 0, 1])
    assert msd.metrics(logits, y, False)["accuracy"].tolist() == [75.0]
    teacher = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert msd.consistency_ratio(logits, teacher, False).tolist() == [50.0]
    ml = torch.tensor([[[1.0, -1.0], [-2.0, 0.5]]])
    assert msd.consistency_ratio(ml, torch.tensor([[1.0, 1.0], [1.0, 1.0]]), True).tolist() == [50.0]
    scores = msd.metrics(ml, torch.tensor([[1.0, 0.0], [0.0, 1.0]]), True)
    assert scores["macro F1"].tolist() == [100.0] and scores["micro F1"].tolist() == [100.0]
    s = torch.tensor([[[[0.0, LN(3)]], [[0.0, 0.0]], [[0.0, 0.0]]]], dtype=torch.float64)  # (M, V, N, K)
    t = torch.zeros(3, 1, 2, dtype=torch.float64)
    assert msd.kl_to_teacher(s, t, False).tolist() == [[pytest.approx(0.5 * LN(2) + 0.5 * LN(2 / 3)), 0.0, 0.0]]
    assert msd.primary_metric(True) == "macro F1" and msd.primary_metric(False) == "accuracy"
    assert msd.select_population(torch.tensor([3.0, 4.0, 2.0, 2.5, 0.0, 1.0]), 2) == 0
    assert msd.select_population(torch.tensor([1.0, 2.0, 3.0, 4.0, 0.0, 9.0]), 3) == 1
    f1_macro, f1_micro = msd.f1_scores(torch.tensor([[1.0, 0.0], [1.0, 0.0]]), torch.tensor([[1.0, 1.0], [0.0, 0.0]]))
    assert f1_macro.item() == pytest.approx(100 * (2 / 3 + 0) / 2) and f1_micro.item() == pytest.approx(100 * 2 / 4)


def test_swap_one_modality_draws_from_another_sample_by_a_fair_coin():
    n = 400
    split = MultimodalSplit(torch.arange(float(n))[:, None], 1000 + torch.arange(float(n))[:, None], torch.arange(n))
    swapped = msd.swap_one_modality(split, torch.Generator().manual_seed(3))
    changed_a = swapped.a[:, 0] != split.a[:, 0]
    changed_b = swapped.b[:, 0] != split.b[:, 0]
    assert torch.equal(changed_a ^ changed_b, torch.ones(n, dtype=torch.bool))
    assert changed_a.float().mean().item() == pytest.approx(0.5, abs=0.08)
    assert torch.equal(swapped.y, split.y)
    # donors are other samples of the split, of all kinds of offsets
    donors_a = swapped.a[changed_a, 0].long()
    donors_b = (swapped.b[changed_b, 0] - 1000).long()
    assert set(donors_a.tolist()) <= set(range(n)) and set(donors_b.tolist()) <= set(range(n))
    assert len(set((donors_a - torch.arange(n)[changed_a]).tolist())) > 20


def test_input_sizes_and_learned_weights():
    split = MultimodalSplit(torch.randn(5, 2, 3), torch.randn(5, 4), torch.zeros(5, dtype=torch.long))
    assert msd.input_sizes(MultimodalDataset(split, split, split, ("a", "b"), 2, "toy")) == (6, 4)
    meta = Ensemble(lambda: msd.MetaWeightNet(2, 5), 2, seed=0)
    teacher_logits = torch.randn(5, 3, 2)
    data = msd.TrainingData(split.a, split.b, split.y, teacher_logits, torch.zeros(5, 1))
    w = msd.learned_weights(meta, data, False)
    assert w.shape == (2, 5, 3)
    for m in range(2):
        net = msd.MetaWeightNet(2, 5)
        net.load_state_dict(meta.member_state_dict(m))
        torch.testing.assert_close(w[m], net(torch.softmax(teacher_logits, -1)))
    wl = msd.learned_weights(meta, data, True)
    net = msd.MetaWeightNet(2, 5)
    net.load_state_dict(meta.member_state_dict(0))
    torch.testing.assert_close(wl[0], net(torch.sigmoid(teacher_logits)))


def test_seed_orders_are_one_permutation_per_seed_shared_by_settings():
    orders = msd._seed_orders(2, 3, 10, torch.Generator().manual_seed(0))
    assert orders.shape == (6, 10)
    for row in orders:
        assert sorted(row.tolist()) == list(range(10))
    assert torch.equal(orders[0], orders[2]) and torch.equal(orders[1], orders[5])
    assert not torch.equal(orders[0], orders[1])


def test_train_teacher_learns_and_is_returned_in_eval_mode():
    train, val = _split(64, 0), _split(40, 1)
    # make the labels learnable from either modality
    for split in (train, val):
        split.a[:, :3] += 3 * F.one_hot(split.y, 3).float()
        split.b[:, :3] += 3 * F.one_hot(split.y, 3).float()
    dataset = MultimodalDataset(train, val, val, ("a", "b"), 3, "toy")
    teacher = msd.train_teacher(dataset, hidden=(16,), dropout=0.1, modality_dropout=0.2, num_epochs=10,
                                batch_size=32, lr=0.01, seed=0)
    assert not teacher.training and isinstance(teacher, msd.LateFusionNet)
    with torch.no_grad():
        acc = (teacher(val.a, val.b).argmax(-1) == val.y).float().mean().item()
        acc_b = (teacher(torch.zeros_like(val.a), val.b).argmax(-1) == val.y).float().mean().item()
    assert acc > 0.8 and acc_b > 0.6  # modality dropout: it also predicts from b alone
    again = msd.train_teacher(dataset, hidden=(16,), dropout=0.1, modality_dropout=0.2, num_epochs=10,
                              batch_size=32, lr=0.01, seed=0)
    for k, v in teacher.state_dict().items():
        assert torch.equal(v, again.state_dict()[k])


def test_swap_one_modality_is_reproducible_from_its_generator_alone():
    split = MultimodalSplit(torch.arange(50.0)[:, None], torch.arange(50.0)[:, None], torch.zeros(50, dtype=torch.long))
    torch.manual_seed(1)
    first = msd.swap_one_modality(split, torch.Generator().manual_seed(5))
    torch.manual_seed(2)  # the global stream must not matter
    again = msd.swap_one_modality(split, torch.Generator().manual_seed(5))
    assert torch.equal(first.a, again.a) and torch.equal(first.b, again.b)


def test_train_teacher_uses_its_width_learning_rate_and_seed():
    train = _split(32, 0)
    dataset = MultimodalDataset(train, train, train, ("a", "b"), 3, "toy")
    kwargs = dict(hidden=(6,), dropout=0.0, modality_dropout=0.2, num_epochs=1, batch_size=16, lr=0.01, seed=0)
    base = msd.train_teacher(dataset, **kwargs)
    assert base.feature_dim == 6 and base.encoder_a[0].out_features == 6 and base.fusion[0].in_features == 12

    def differs(other):
        return any(not torch.equal(v, other.state_dict()[k]) for k, v in base.state_dict().items())

    assert not differs(msd.train_teacher(dataset, **kwargs))
    assert differs(msd.train_teacher(dataset, **{**kwargs, "lr": 0.02}))
    assert differs(msd.train_teacher(dataset, **{**kwargs, "seed": 1}))


def test_meta_step_looks_ahead_with_the_students_own_adam_step():
    g = torch.Generator().manual_seed(0)
    split = _split(12, 4)
    teacher = msd.TeacherOutputs(torch.randn(3, 12, 3, generator=g), torch.randn(12, 5, generator=g))
    data = msd.training_data(split, teacher, "meta", False)
    batch = data.gather(torch.arange(12)[None])
    meta_batch = MultimodalSplit(split.a[None, :6], split.b[None, :6], split.y[None, :6])
    recipe = msd.StudentRecipe(weighting="meta", lam=0.5, temperature=2.0)

    def run(with_adam):
        student = Ensemble(lambda: msd.LateFusionNet(6, 4, 3, (5,), (5,)), 1, seed=0)
        adam = torch.optim.Adam(student.parameters(), lr=0.05)
        meta = Ensemble(lambda: msd.MetaWeightNet(3, 4), 1, seed=1)
        before = {k: v.detach().clone() for k, v in meta.params.items()}
        opt = torch.optim.SGD(meta.parameters(), lr=1.0)
        msd.meta_step(student, meta, opt, batch, meta_batch, recipe, 0.001, False,
                      student_optimizer=adam if with_adam else None)
        return student, adam, {k: before[k] - v.detach() for k, v in meta.params.items()}

    student, adam, delta = run(True)
    # reference: the meta-gradient through Adam's first step (m = (1-b1) g, v = (1-b2) g^2, bias-corrected)
    meta = Ensemble(lambda: msd.MetaWeightNet(3, 4), 1, seed=1)
    weights = meta(msd.probabilities(batch.teacher_logits, False)).transpose(1, 2)
    inner = msd.student_losses(student, batch, weights, recipe, False)
    names = list(student.params)
    grads = torch.autograd.grad(inner.sum(), [student.params[k] for k in names], create_graph=True)
    virtual = {k: student.params[k].detach() - 0.05 * g_ / (g_.pow(2).clamp_min(1e-30).sqrt() + 1e-8)
               for k, g_ in zip(names, grads)}
    logits, _ = msd.member_forward(student, meta_batch.a, meta_batch.b, views=False, params=virtual)
    loss = msd.task_loss(logits[:, 0], meta_batch.y, False).mean()
    expected = torch.autograd.grad(loss, list(meta.params.values()))
    for (k, d), e in zip(delta.items(), expected):
        torch.testing.assert_close(d, e, rtol=1e-3, atol=1e-6)
    _, _, sgd_delta = run(False)
    assert any(not torch.allclose(delta[k], sgd_delta[k], rtol=1e-2) for k in delta)


class _FakeRun:
    def __init__(self):
        self.calls = []

    def __call__(self, make_student, data, recipe, *, num_seeds, seed=0, population=None, meta_split=None,
                 multilabel=False, eval_fn=None, desc="student"):
        self.calls.append(dict(make_student=make_student, data=data, recipe=recipe, num_seeds=num_seeds, seed=seed,
                               population=population, meta_split=meta_split, multilabel=multilabel, desc=desc))
        G = 1 if population is None else population.shape[0]
        ens = Ensemble(make_student, G * num_seeds, seed=0)
        with torch.no_grad():
            for k, v in ens.params.items():
                v.zero_()
            # member g * S + s always predicts class g % 3 (through the head's bias)
            for m in range(G * num_seeds):
                ens.params["head.bias"][m, (m // num_seeds) % 3] = 1.0
        curve = [torch.arange(G * num_seeds, dtype=torch.float32) + 100 * e for e in range(2)]
        return msd.StudentRun(ens, None, curve)


def test_run_method_passes_the_settings_and_keeps_the_best_population_setting(monkeypatch):
    train, val, test = _split(12, 0), _split(8, 1), _split(10, 2)
    val.y[:] = 2  # the setting whose students predict class 2 wins validation
    test.y[:] = torch.arange(10) % 3
    dataset = MultimodalDataset(train, val, test, ("a", "b"), 3, "toy")
    g = torch.Generator().manual_seed(0)
    teacher = {s: msd.TeacherOutputs(torch.randn(3, len(getattr(dataset, s)), 3, generator=g),
                                     torch.randn(len(getattr(dataset, s)), 7, generator=g)) for s in ("train", "val", "test")}
    probe = _split(5, 3)
    settings = {"lam": 0.3, "temperature": 3.0, "num_epochs": 2, "batch_size": 4, "lr": 0.02, "meta_lr": 0.004,
                "feature_weights": {"fitnet": 0.25, "sp": 7.0}}
    fake = _FakeRun()
    monkeypatch.setattr(msd, "train_students", fake)
    out = msd.run_method("MSD (population)", dataset, teacher, probe, settings, num_seeds=2, seed=5,
                         student_hidden=(4,), population_values=(0.0, 1.0))
    call = fake.calls[-1]
    r = call["recipe"]
    assert (r.weighting, r.lam, r.temperature, r.num_epochs, r.batch_size, r.lr, r.meta_lr, r.feature_weight) == \
        ("population", 0.3, 3.0, 2, 4, 0.02, 0.004, 1.0)
    assert call["seed"] == 5 and call["num_seeds"] == 2 and call["meta_split"] is val and call["multilabel"] is False
    assert call["population"].tolist() == msd.population_grid((0.0, 1.0)).tolist()
    student = call["make_student"]()
    assert student.hint is None and student.feature_dim == 4 and student.encoder_a[0].in_features == 6
    # settings g = 0..3 predict classes 0, 1, 2, 0: setting 2 wins, its members are 4 and 5
    assert out["population"].tolist() == msd.population_grid((0.0, 1.0))[2].tolist()
    assert out["val"].tolist() == [100.0, 100.0]
    assert out["curve"].tolist() == [[4.0, 104.0], [5.0, 105.0]]
    assert out["view_logits"].shape == (2, 3, 10, 3) and out["probe_logits"].shape == (2, 5, 3)
    assert (out["view_logits"][:, 0].argmax(-1) == 2).all() and (out["probe_logits"].argmax(-1) == 2).all()
    assert out["test"]["accuracy"].tolist() == [pytest.approx(30.0)] * 2  # test labels 2 at 3 of 10 samples
    assert torch.equal(call["data"].teacher_logits, teacher["train"].logits.transpose(0, 1))

    out = msd.run_method("FitNet", dataset, teacher, probe, settings, num_seeds=2)
    r = fake.calls[-1]["recipe"]
    assert (r.weighting, r.feature_loss, r.feature_weight) == ("kd", "fitnet", 0.25)
    assert fake.calls[-1]["population"] is None and fake.calls[-1]["seed"] == 0
    assert fake.calls[-1]["make_student"]().hint.out_features == 7  # FitNet's regressor maps to the teacher's width
    assert out["population"].tolist() == [1.0, 0.0, 0.0] and out["val"].tolist() == [0.0, 0.0]
    assert msd.run_method("SP + MSD", dataset, teacher, probe, settings, num_seeds=1) is not None
    r = fake.calls[-1]["recipe"]
    assert (r.weighting, r.feature_loss, r.feature_weight) == ("meta", "sp", 7.0)
    assert fake.calls[-1]["make_student"]().hint is None


def _tiny_training(recipe, population=None, num_seeds=1, seed=0):
    split = _split(16, 6)
    g = torch.Generator().manual_seed(1)
    teacher = msd.TeacherOutputs(torch.randn(3, 16, 3, generator=g), torch.randn(16, 5, generator=g))
    data = msd.training_data(split, teacher, recipe.weighting, False)
    return msd.train_students(lambda: msd.LateFusionNet(6, 4, 3, (4,), (4,)), data, recipe, num_seeds=num_seeds,
                              seed=seed, population=population, meta_split=_split(8, 7))


def _same_params(a, b):
    return all(torch.equal(v, b.params[k]) for k, v in a.params.items())


def test_train_students_population_grid_of_any_size_and_the_optimisers_settings():
    base = dict(num_epochs=1, batch_size=16)
    grid = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 0.5]])
    run = _tiny_training(msd.StudentRecipe(weighting="population", **base), population=grid, num_seeds=2)
    assert run.ensemble.num_members == 4
    kd = _tiny_training(msd.StudentRecipe(weighting="kd", **base), num_seeds=2)
    for k, v in run.ensemble.params.items():  # setting 0 is KD: members 0, 1 equal the KD run's
        torch.testing.assert_close(v[:2], kd.ensemble.params[k], atol=1e-6, rtol=1e-5)
    meta = msd.StudentRecipe(weighting="meta", meta_batch_size=4, **base)
    ref = _tiny_training(meta)
    assert _same_params(ref.meta_net, _tiny_training(meta).meta_net)  # reproducible
    for change in (dict(meta_lr=5e-3), dict(meta_weight_decay=0.5), dict(lr=5e-3), dict(weight_decay=0.5)):
        other = _tiny_training(msd.StudentRecipe(weighting="meta", meta_batch_size=4, **base, **change))
        assert not (_same_params(ref.meta_net, other.meta_net) and _same_params(ref.ensemble, other.ensemble)), change
    assert not _same_params(ref.ensemble, _tiny_training(meta, seed=1).ensemble)


def test_lookahead_keeps_a_parameter_without_gradient_and_steps_the_others_by_hand():
    p, q = torch.ones(2, requires_grad=True), torch.full((2,), 2.0, requires_grad=True)
    g = torch.tensor([0.5, -1.0])
    sgd = msd.lookahead_params({"p": p, "q": q}, [None, g], lr=0.1)
    assert sgd["p"] is p and sgd["q"].tolist() == pytest.approx([1.95, 2.1])
    adam = torch.optim.Adam([p, q], lr=0.01)
    step = msd.lookahead_params({"p": p, "q": q}, [None, g], adam)
    assert step["p"] is p
    # Adam's first step moves each coordinate by lr * sign(g) (up to eps)
    assert step["q"].tolist() == pytest.approx([2.0 - 0.01, 2.0 + 0.01], abs=1e-6)
