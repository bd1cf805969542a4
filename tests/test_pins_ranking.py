"""Pins of mfh_lib.ranking (MFH Algorithm 1 and Sec. 5.4) with hand values (issue #20): distances,
eq. (28), salience normalisation, nullifying masks at every ratio, precision@k, a toy head whose
salient channel is known, and what the student trainers feed and report."""
import itertools

import pytest
import torch
import torch.nn.functional as F

from mfh_lib import models, ranking
from mfh_lib.config import ConfigError
from mfh_lib.losses import kd_loss
from mfh_lib.training import Ensemble, predict_ensemble


def test_distances_of_eq28_by_hand():
    a = torch.tensor([[[1.0, 2.0], [0.0, -1.0]]])
    b = torch.tensor([[[0.0, 0.0], [2.0, 1.0]]])
    assert ranking.distance(a, b, "mse").tolist() == [pytest.approx((1 + 4 + 4 + 4) / 4)]
    assert ranking.distance(a, b, "l1").tolist() == [pytest.approx((1 + 2 + 2 + 2) / 4)]
    assert ranking.distance(a, b).tolist() == ranking.distance(a, b, "mse").tolist()
    with pytest.raises(ConfigError):
        ranking.distance(a, b, "cosine")


def test_joint_loss_is_distance_plus_both_cross_entropies():
    la = torch.tensor([[[0.0, 0.0], [2.0, 0.0]], [[1.0, -1.0], [0.0, 3.0]]])  # (S=2, B=2, K=2)
    lb = torch.tensor([[[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]])
    y = torch.tensor([[0, 1], [1, 0]])

    def ce(logits, labels):
        return -(torch.log_softmax(logits, -1)[torch.arange(2), labels]).mean()

    for s in range(2):
        assert ranking.member_cross_entropy(la, y)[s].item() == pytest.approx(ce(la[s], y[s]).item(), rel=1e-6)
        for dist in ("mse", "l1"):
            d = (la[s] - lb[s]).pow(2).mean() if dist == "mse" else (la[s] - lb[s]).abs().mean()
            expected = d + ce(la[s], y[s]) + ce(lb[s], y[s])
            assert ranking.joint_loss(la, lb, y, dist)[s].item() == pytest.approx(expected.item(), rel=1e-6)
    assert torch.allclose(ranking.joint_loss(la, lb, y), ranking.joint_loss(la, lb, y, "mse"))


def test_salience_normalisations_by_hand():
    d = torch.tensor([[[1.0, 2.0, 4.0], [3.0, 2.0, 8.0]]])  # (S=1, M=2, d=3): means 2, 2, 6
    assert ranking.salience_from_distances(d).tolist() == [[pytest.approx(1 / 3), pytest.approx(1 / 3), 1.0]]
    assert ranking.salience_from_distances(d, "minmax").tolist() == [[0.0, 0.0, 1.0]]
    flat = torch.full((1, 2, 3), 5.0)
    assert ranking.salience_from_distances(flat, "minmax").tolist() == [[0.0, 0.0, 0.0]]  # no 0 / 0


@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.25, 0.3, 0.5, 0.75, 0.9, 1.0])
def test_nullify_keep_mask_counts_and_choices_at_every_ratio(ratio):
    salience = torch.tensor([[0.3, 0.9, 0.1, 0.6, 0.0, 0.8, 0.5, 0.2, 0.7, 0.4],
                             [0.5, 0.4, 0.3, 0.2, 0.1, 0.0, 0.6, 0.7, 0.8, 0.9]])
    k = round(ratio * 10)
    for mode in ("general", "specific", "random"):
        keep = ranking.nullify_keep_mask(salience, ratio, mode, torch.Generator().manual_seed(1))
        assert keep.shape == (2, 10) and set(keep.unique().tolist()) <= {0.0, 1.0}
        assert (keep == 0).sum(1).tolist() == [k, k]
        for s in range(2):
            nulled = {c for c in range(10) if keep[s, c] == 0}
            ordered = sorted(range(10), key=lambda c: salience[s, c].item())
            if mode == "general":
                assert nulled == set(ordered[:k])  # least salient
            elif mode == "specific":
                assert nulled == set(ordered[::-1][:k])  # most salient


def test_nullify_keep_mask_ties_random_and_nullify_by_hand():
    tied = torch.tensor([[0.5, 0.5, 0.5, 0.5]])
    assert ranking.nullify_keep_mask(tied, 0.5, "general").tolist() == [[0.0, 0.0, 1.0, 1.0]]
    assert ranking.nullify_keep_mask(tied, 0.5, "specific").tolist() == [[0.0, 0.0, 1.0, 1.0]]
    salience = torch.zeros(3, 8)
    a = ranking.nullify_keep_mask(salience, 0.5, "random", torch.Generator().manual_seed(2))
    b = ranking.nullify_keep_mask(salience, 0.5, "random", torch.Generator().manual_seed(2))
    assert torch.equal(a, b)  # reproducible from its generator
    assert len({tuple(row) for row in a.tolist()}) > 1  # one subset per seed
    features = torch.tensor([[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]])
    keep = torch.tensor([[1.0, 0.0, 1.0]])
    fill = torch.tensor([[9.0, -7.0, 9.0]])
    assert ranking.nullify(features, keep, fill).tolist() == [[[1.0, -7.0, 3.0], [4.0, -7.0, 6.0]]]


def test_precision_at_k_by_hand():
    p = torch.tensor([[0.9, 0.1, 0.8, 0.7], [0.1, 0.2, 0.3, 0.4]])
    assert ranking.precision_at_k(p, [0, 3]).tolist() == [0.5, 0.5]  # top 2: {0, 2} and {3, 2}
    assert ranking.precision_at_k(p, [0, 3], k=3).tolist() == [pytest.approx(2 / 3), pytest.approx(1 / 3)]
    assert ranking.precision_at_k(p, torch.tensor([2]), k=1).tolist() == [0.0, 0.0]
    assert ranking.precision_at_k(p, [0, 2, 3]).tolist() == [1.0, pytest.approx(2 / 3)]


@pytest.mark.parametrize("dist", ["mse", "l1"])
def test_permutation_salience_finds_the_one_channel_the_head_reads(dist):
    weight = torch.zeros(3, 5)
    weight[:, 3] = torch.tensor([2.0, -1.0, 0.5])  # only channel 3 reaches the logits
    head = lambda z: z @ weight.T  # noqa: E731
    x = torch.randn(2, 200, 5, generator=torch.Generator().manual_seed(0))
    p = ranking.permutation_salience(head, x, head(x), num_permutations=3, dist=dist,
                                     generator=torch.Generator().manual_seed(1))
    assert p.shape == (2, 5)
    for s in range(2):
        assert p[s, 3].item() == pytest.approx(1.0)
        assert p[s, [0, 1, 2, 4]].abs().max().item() < 1e-6
    # the distance is to the reference: shuffling channel 3 costs E[(w.(x - x'))^2] = 2 * |w|^2 / 3 per logit
    distances = ranking.permutation_distances(head, x, head(x), num_permutations=3, dist="mse",
                                              generator=torch.Generator().manual_seed(1))
    assert distances.shape == (2, 3, 5)
    assert distances[..., 3].mean().item() == pytest.approx(2 * (4 + 1 + 0.25) / 3, rel=0.2)
    with pytest.raises(ConfigError):
        ranking.permutation_distances(head, x, head(x), num_permutations=0)


def test_member_part_whole_model():
    ens = Ensemble(lambda: models.MLP(3, [4], 2), 2, seed=0)
    x = torch.randn(2, 5, 3)
    out = ranking.member_part(ens, "")(x)
    for i in range(2):
        net = models.MLP(3, [4], 2)
        net.load_state_dict(ens.member_state_dict(i))
        torch.testing.assert_close(out[i], net(x[i]))


class _Script:
    """A fake train_ensemble that records its call and steps through epochs by hand."""

    def __init__(self, epochs=3, record=True):
        self.epochs, self.record = epochs, record
        self.call = None
        self.train_logits = []

    def __call__(self, ensemble, tensors, loss_fn, *, shared, num_epochs, on_epoch_end=None, **kwargs):
        self.call = dict(ensemble=ensemble, tensors=tensors, loss_fn=loss_fn, shared=shared, num_epochs=num_epochs,
                         params0={k: v.detach().clone() for k, v in ensemble.params.items()}, **kwargs)
        for epoch in range(self.epochs):
            with torch.no_grad():
                for v in ensemble.params.values():
                    v.add_(0.1)  # each epoch leaves different weights
            if self.record:
                self.train_logits.append(predict_ensemble(ensemble, tensors[0], shared=True).detach().clone())
            on_epoch_end(epoch)


def test_distill_students_wiring_loss_and_best_validation_epoch(monkeypatch):
    g = torch.Generator().manual_seed(0)
    train_b, train_y = torch.randn(8, 4, generator=g), torch.randint(0, 3, (8,), generator=g)
    teacher = torch.randn(4, 8, 3, generator=g)  # 4 students: 2 teachers x 2 initialisations
    val, test = (torch.randn(5, 4, generator=g), torch.randint(0, 3, (5,), generator=g)), \
                (torch.randn(6, 4, generator=g), torch.randint(0, 3, (6,), generator=g))
    script = _Script()
    # validation then test accuracy of every member at epochs 0, 1, 2
    val_acc = [[50.0, 60.0, 10.0, 10.0], [40.0, 70.0, 20.0, 20.0], [50.0, 70.0, 30.0, 5.0]]
    test_acc = [[11.0, 21.0, 31.0, 41.0], [12.0, 22.0, 32.0, 42.0], [13.0, 23.0, 33.0, 43.0]]
    answers = iter(itertools.chain.from_iterable(zip(val_acc, test_acc)))
    seen_inputs = []

    def fake_accuracy(logits, labels):
        seen_inputs.append(labels)
        return torch.tensor(next(answers))

    monkeypatch.setattr(ranking, "train_ensemble", script)
    monkeypatch.setattr(ranking, "member_accuracy", fake_accuracy)
    out = ranking.distill_students(lambda: models.MLP(4, [5], 3), train_b, train_y, teacher, val, test, rho=0.3,
                                   temperature=2.0, num_epochs=3, batch_size=4, lr=0.1, num_init=2, seed=7,
                                   return_train_logits=True)
    # best validation epoch per member: 0 (ties later do not replace it), 1, 2, 1
    assert out["val_acc"].tolist() == [50.0, 70.0, 30.0, 20.0]
    assert out["test_acc"].tolist() == [11.0, 22.0, 33.0, 42.0]
    for m, epoch in enumerate([0, 1, 2, 1]):
        torch.testing.assert_close(out["train_logits"][m], script.train_logits[epoch][m])
    assert seen_inputs[0] is not None and torch.equal(seen_inputs[0], val[1]) and torch.equal(seen_inputs[1], test[1])
    call = script.call
    assert call["num_epochs"] == 3 and call["shared"] == [True, True, False]
    assert call["tensors"][0] is not None and torch.equal(call["tensors"][0], train_b)
    assert torch.equal(call["tensors"][1], train_y) and torch.equal(call["tensors"][2], teacher)
    assert call["lr"] == 0.1 and call["batch_size"] == 4
    # member j starts from seed j % num_init
    for k, v in call["params0"].items():
        assert torch.equal(v[2], v[0]) and torch.equal(v[3], v[1]) and not torch.equal(v[0], v[1])
    # the loss is eq. (1) per member with this teacher row, rho and temperature
    ens = call["ensemble"]
    b_batch, y_batch, t_batch = train_b[:3].expand(4, -1, -1), train_y[:3].expand(4, 3), teacher[:, :3]
    got = call["loss_fn"](ens, b_batch, y_batch, t_batch)
    logits = ens(b_batch)
    for m in range(4):
        expected = kd_loss(logits[m], t_batch[m], y_batch[m], rho=0.3, temperature=2.0)
        assert got[m].item() == pytest.approx(expected.item(), rel=1e-5)


def test_distill_students_without_teacher_is_plain_cross_entropy(monkeypatch):
    script = _Script(epochs=1)
    monkeypatch.setattr(ranking, "train_ensemble", script)
    x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))
    out = ranking.distill_students(lambda: models.MLP(4, [5], 3), x, y, None, (x, y), (x, y), rho=1.0,
                                   num_epochs=1, batch_size=None, lr=0.1, num_members=3)
    assert out["test_acc"].shape == (3,) and "train_logits" not in out
    call = script.call
    assert call["shared"] == [True, True] and len(call["tensors"]) == 2
    ens = call["ensemble"]
    yb = y.expand(3, -1)
    logits = ens(x, shared=True)
    expected = torch.stack([F.cross_entropy(logits[m], yb[m]) for m in range(3)])
    torch.testing.assert_close(call["loss_fn"](ens, x.expand(3, -1, -1), yb), expected)


def test_train_joint_trains_eq28_on_both_modalities(monkeypatch):
    script = _Script(epochs=1, record=False)
    monkeypatch.setattr(ranking, "train_ensemble", lambda *a, **k: script(*a, on_epoch_end=lambda e: None, **k))
    xa, xb, y = torch.randn(6, 5), torch.randn(6, 4), torch.randint(0, 3, (6,))
    pairs = ranking.train_joint(lambda: models.MLP(5, [4], 3), lambda: models.MLP(4, [4], 3), xa, xb, y,
                                num_seeds=2, seed=3, num_epochs=1, batch_size=None, lr=0.1, dist="l1")
    call = script.call
    assert call["shared"] == [True, True, True]
    assert [t.shape for t in call["tensors"]] == [xa.shape, xb.shape, y.shape]
    assert torch.equal(call["tensors"][0], xa) and torch.equal(call["tensors"][1], xb)
    yb = y.expand(2, -1)
    la, lb = pairs(xa, xb, shared=True)
    xa2, xb2 = xa.expand(2, -1, -1), xb.expand(2, -1, -1)
    torch.testing.assert_close(call["loss_fn"](pairs, xa2, xb2, yb), ranking.joint_loss(la, lb, yb, "l1"))


def test_module_batches_cover_every_sample_once_per_epoch():
    batches = ranking._module_batches(10, 4, torch.Generator().manual_seed(0))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
    again = ranking._module_batches(10, 4, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(batches, again))


def test_fit_module_feeds_indexed_batches_and_reports_each_epoch_in_eval_mode():
    torch.manual_seed(0)
    x, y = torch.randn(12, 4), torch.randint(0, 3, (12,))
    model = models.MLP(4, [6], 3)
    seen, epochs = [], []

    def loss_fn(m, xb, yb, index):
        assert torch.equal(xb, x[index]) and torch.equal(yb, y[index]) and m.training
        seen.append(index)
        return F.cross_entropy(m(xb), yb)

    def on_epoch_end(epoch):
        assert not model.training
        epochs.append(epoch)

    before = F.cross_entropy(model(x), y).item()
    out = ranking.fit_module(model, (x,), y, loss_fn, num_epochs=3, batch_size=5, lr=0.05, seed=1,
                             on_epoch_end=on_epoch_end)
    assert out is model and not out.training and epochs == [0, 1, 2]
    assert len(seen) == 9 and sorted(torch.cat(seen[:3]).tolist()) == list(range(12))
    assert F.cross_entropy(model(x), y).item() < before
    outs = ranking.predict_module(model, x, batch_size=5)
    torch.testing.assert_close(outs, model(x).detach())


def test_distill_module_loss_and_best_validation_score(monkeypatch):
    g = torch.Generator().manual_seed(0)
    train_b, train_y = torch.randn(10, 4, generator=g), torch.randint(0, 3, (10,), generator=g)
    teacher = torch.randn(10, 3, generator=g)
    val, test = (torch.randn(5, 4, generator=g), torch.zeros(5)), (torch.randn(6, 4, generator=g), torch.ones(6))
    captured = {}

    def fake_fit(student, inputs, y, loss_fn, *, seed, device, on_epoch_end, **kwargs):
        captured.update(student=student, inputs=inputs, y=y, loss_fn=loss_fn, seed=seed, kwargs=kwargs)
        for epoch in range(4):
            on_epoch_end(epoch)
        return student

    val_scores = iter([0.5, 0.7, 0.7, 0.6])
    test_scores = iter([10.0, 20.0, 30.0])
    calls = []

    def score_fn(logits, labels):
        assert logits.shape == (len(labels), 3)  # the student's outputs on that split
        calls.append(labels[0].item())
        return next(val_scores) if labels[0].item() == 0 else next(test_scores)

    monkeypatch.setattr(ranking, "fit_module", fake_fit)
    result = ranking.distill_module(lambda: models.MLP(4, [5], 3), train_b, train_y, teacher, val, test, score_fn,
                                    rho=0.25, temperature=2.0, seed=3, num_epochs=4, batch_size=5, lr=0.1)
    assert result == 20.0  # the test score at the best validation epoch (1; the tie at 2 does not replace it)
    assert calls == [0, 1, 0, 1, 0, 0]  # the test set is scored only when validation improves
    assert captured["seed"] == 3 and captured["kwargs"] == dict(num_epochs=4, batch_size=5, lr=0.1)
    assert torch.equal(captured["inputs"][0], train_b) and torch.equal(captured["y"], train_y)
    student = captured["student"]
    index = torch.tensor([7, 2, 5])
    got = captured["loss_fn"](student, train_b[index], train_y[index], index)
    expected = kd_loss(student(train_b[index]), teacher[index], train_y[index], rho=0.25, temperature=2.0)
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)
    torch.manual_seed(3)
    torch.testing.assert_close(student.state_dict(), models.MLP(4, [5], 3).state_dict())  # init from the seed
    monkeypatch.setattr(ranking, "fit_module", fake_fit)
    ranking.distill_module(lambda: models.MLP(4, [5], 3), train_b, train_y, None, val, test,
                           lambda logits, labels: 1.0, rho=1.0)
    got = captured["loss_fn"](captured["student"], train_b[index], train_y[index], index)
    assert got.item() == pytest.approx(F.cross_entropy(captured["student"](train_b[index]), train_y[index]).item(), rel=1e-6)
