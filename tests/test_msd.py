"""Modality-specific distillation: eq. (5), the weighting schemes, the meta-learner, the KD baselines."""
import math

import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score

from mfh_lib import losses, msd
from mfh_lib.config import ConfigError
from mfh_lib.data import MultimodalSplit
from mfh_lib.training import Ensemble


def toy_split(n=48, d_a=6, d_b=4, num_classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, num_classes, (n,), generator=g)
    centres_a, centres_b = torch.randn(num_classes, d_a, generator=g), torch.randn(num_classes, d_b, generator=g)
    return MultimodalSplit(centres_a[y] + torch.randn(n, d_a, generator=g), centres_b[y] + torch.randn(n, d_b, generator=g), y)


def test_per_sample_divergence_matches_kd_divergence():
    g = torch.Generator().manual_seed(1)
    s, t = torch.randn(10, 5, generator=g), torch.randn(10, 5, generator=g)
    for tau in (1.0, 4.0):
        per_sample = msd.divergence(s, t, tau)
        assert per_sample.shape == (10,)
        assert torch.allclose(per_sample.mean() * tau**2, losses.kd_divergence(s, t, tau), atol=1e-6)
        # eq. (5) with the multimodal view alone and unit weights is Hinton's KD
        kd = msd.msd_distill_loss(s[None], t[None], torch.ones(1, 10), tau)
        assert torch.allclose(kd, losses.kd_divergence(s, t, tau), atol=1e-6)


def test_eq5_weights_each_view_and_sample():
    g = torch.Generator().manual_seed(2)
    s, t = torch.randn(3, 4, 5, generator=g), torch.randn(3, 4, 5, generator=g)
    w = torch.rand(3, 4, generator=g)
    expected = sum((w[v] * msd.divergence(s[v], t[v], 2.0)).mean() for v in range(3)) * 4.0
    assert torch.allclose(msd.msd_distill_loss(s, t, w, 2.0), expected, atol=1e-6)
    assert msd.msd_distill_loss(t, t, w).abs().item() < 1e-6


def test_multilabel_divergence_is_bernoulli_kl_summed_over_labels():
    s, t = torch.tensor([[0.3, -1.0]]), torch.tensor([[1.2, 0.5]])
    p, q = torch.sigmoid(t), torch.sigmoid(s)
    manual = (p * torch.log(p / q) + (1 - p) * torch.log((1 - p) / (1 - q))).sum(-1)
    assert torch.allclose(msd.divergence(s, t, multilabel=True), manual, atol=1e-6)


def test_modality_views_zero_one_modality_each():
    a, b = torch.randn(5, 2, 3), torch.randn(5, 4)
    va, vb = msd.modality_views(a, b)
    assert va.shape == (15, 2, 3) and vb.shape == (15, 4)
    assert torch.equal(va[:10], torch.cat([a, a])) and torch.equal(vb[:5], b) and torch.equal(vb[10:], b)
    assert va[10:].abs().sum() == 0 and vb[5:10].abs().sum() == 0


def test_importance_weights_eq6():
    # sample 0: dropping b changes nothing (a-only view equals multimodal); sample 1: a large change
    multi = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    a_only = torch.tensor([[2.0, 0.0], [3.0, -3.0]])
    b_only = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    w = msd.importance_weights(torch.stack([multi, a_only, b_only]))
    assert torch.equal(w[0], torch.ones(2))
    assert w[1, 0].item() == pytest.approx(0.0, abs=1e-7)
    expected = math.tanh(msd.divergence(a_only[1:], multi[1:]).item())
    assert w[1, 1].item() == pytest.approx(expected, rel=1e-6)
    assert w[2, 1].item() == pytest.approx(0.0, abs=1e-7)
    assert ((w >= 0) & (w <= 1)).all()


def test_correctness_weights_eq7():
    logits = torch.tensor([[[3.0, 0.0]], [[0.0, 0.0]], [[-1.0, 1.0]]])  # views x 1 sample x 2 classes
    y = torch.tensor([0])
    w = msd.correctness_weights(logits, y)
    h = -torch.log_softmax(logits[:, 0], -1)[:, 0]
    assert torch.allclose(w.sum(0), torch.ones(1))
    assert torch.allclose(w[:, 0], (1 / h) / (1 / h).sum(), atol=1e-6)
    assert w[0, 0] > w[1, 0] > w[2, 0]  # the most correct view gets the largest weight


def test_feature_losses():
    g = torch.Generator().manual_seed(3)
    f_t = torch.randn(2, 8, 5, generator=g)  # members x batch x dim
    assert losses.fitnet_loss(f_t, f_t).abs().max() == 0
    assert torch.allclose(losses.fitnet_loss(f_t + 1, f_t), torch.ones(2))
    assert losses.sp_loss(f_t, f_t).abs().max() < 1e-7
    # RKD only sees relations: a rescaled copy of the teacher's embedding costs nothing
    assert losses.rkd_loss(3.0 * f_t, f_t).abs().max() < 1e-5
    assert (losses.rkd_loss(torch.randn(2, 8, 5, generator=g), f_t) > 0).all()
    # SP compares batch similarities, so it works across widths
    assert losses.sp_loss(torch.randn(2, 8, 3, generator=g), f_t).shape == (2,)


def test_f1_scores_match_sklearn():
    g = torch.Generator().manual_seed(4)
    labels = (torch.rand(40, 6, generator=g) < 0.4).float()
    predicted = (torch.rand(40, 6, generator=g) < 0.4).float()
    macro, micro = msd.f1_scores(predicted, labels)
    assert macro.item() == pytest.approx(100 * f1_score(labels, predicted, average="macro", zero_division=0), abs=1e-4)
    assert micro.item() == pytest.approx(100 * f1_score(labels, predicted, average="micro", zero_division=0), abs=1e-4)


def test_swap_one_modality_replaces_exactly_one_from_another_sample():
    split = MultimodalSplit(torch.arange(20.0)[:, None], 100 + torch.arange(20.0)[:, None], torch.zeros(20, dtype=torch.long))
    swapped = msd.swap_one_modality(split, torch.Generator().manual_seed(0))
    changed_a = swapped.a[:, 0] != split.a[:, 0]
    changed_b = swapped.b[:, 0] != split.b[:, 0]
    assert torch.equal(changed_a ^ changed_b, torch.ones(20, dtype=torch.bool))


def test_recipe_validation():
    with pytest.raises(ConfigError, match="unknown method"):
        msd.StudentRecipe.for_method("MSD (oracle)")
    with pytest.raises(ConfigError, match="lam"):
        msd.StudentRecipe(lam=1.5)
    with pytest.raises(ConfigError, match="population"):
        split = toy_split()
        teacher = msd.model_outputs(msd.LateFusionNet(6, 4, 3, (8,), (8,)), split)
        data = msd.training_data(split, teacher, "population", False)
        msd.train_students(lambda: msd.LateFusionNet(6, 4, 3, (4,), (4,)), data, msd.StudentRecipe(weighting="population"), num_seeds=1)


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    train, val = toy_split(seed=0), toy_split(n=24, seed=1)
    teacher = msd.model_outputs(msd.LateFusionNet(6, 4, 3, (16,), (16,)), train)
    return train, val, teacher


def make_student():
    return msd.LateFusionNet(6, 4, 3, (8,), (8,))


def test_settings_and_methods_are_paired_by_seed(setup):
    train, _, teacher = setup
    recipe = msd.StudentRecipe(weighting="population", num_epochs=2, batch_size=16)
    data = msd.training_data(train, teacher, "population", False)
    kd_grid = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.5, 0.5]])
    grid = msd.train_students(make_student, data, recipe, num_seeds=2, population=kd_grid)
    kd = msd.train_students(make_student, data, msd.StudentRecipe(weighting="kd", num_epochs=2, batch_size=16), num_seeds=2)
    logits = msd.view_logits(grid.ensemble, train)
    kd_logits = msd.view_logits(kd.ensemble, train)
    # members g*S + s: the two KD-weighted settings and the KD run coincide seed by seed
    assert torch.allclose(logits[0:2], logits[2:4], atol=1e-5)
    assert torch.allclose(logits[0:2], kd_logits, atol=1e-5)
    assert not torch.allclose(logits[4:6], kd_logits, atol=1e-3)
    assert msd.select_population(torch.tensor([1.0, 1.0, 2.0, 2.0, 5.0, 0.0]), 2) == 2


def test_meta_step_vectorised_matches_per_member(setup):
    """Algorithm 1's look-ahead under vmap: a 2-member step equals two 1-member steps, moves only
    the meta-net, and leaves the student's parameters to the real step."""
    train, val, teacher = setup
    recipe = msd.StudentRecipe(weighting="meta", feature_loss="sp")
    data = msd.training_data(train, teacher, "meta", False)
    idx = torch.arange(16).repeat(2, 1)
    batch, meta_batch = data.gather(idx), MultimodalSplit(val.a[idx], val.b[idx], val.y[idx])

    def step(num, seed):
        student = Ensemble(make_student, num, seed=seed)
        before = {k: v.detach().clone() for k, v in student.params.items()}
        meta_net = Ensemble(lambda: msd.MetaWeightNet(3, 10), num, seed=seed + 100)
        meta_before = {k: v.detach().clone() for k, v in meta_net.params.items()}
        opt = torch.optim.SGD(meta_net.parameters(), lr=1.0)
        loss = msd.meta_step(student, meta_net, opt, _slice(batch, num), _slice_split(meta_batch, num), recipe, 0.1, False)
        assert all(torch.equal(before[k], v) for k, v in student.params.items())
        delta = {k: v.detach() - meta_before[k] for k, v in meta_net.params.items()}
        return loss, delta

    loss2, delta2 = step(2, 0)
    loss_b, delta_b = step(1, 1)
    assert all(d.abs().sum() > 0 for d in delta2.values())
    assert torch.allclose(loss2[1:], loss_b, atol=1e-6)
    for k in delta2:
        assert torch.allclose(delta2[k][1:], delta_b[k], atol=1e-6)


def _slice(batch, num):
    return msd.TrainingData(*(t[:num] if t is not None else None for t in
                              (batch.a, batch.b, batch.y, batch.teacher_logits, batch.teacher_features, batch.instance_weights)))


def _slice_split(split, num):
    return MultimodalSplit(split.a[:num], split.b[:num], split.y[:num])


def test_meta_training_runs_and_weights_stay_in_unit_interval(setup):
    train, val, teacher = setup
    recipe = msd.StudentRecipe(weighting="meta", num_epochs=2, batch_size=16, meta_batch_size=8)
    data = msd.training_data(train, teacher, "meta", False)
    curve = []
    run = msd.train_students(make_student, data, recipe, num_seeds=2, meta_split=val,
                             eval_fn=lambda ens: curve.append(1))
    assert len(curve) == 2 and run.meta_net.num_members == 2
    w = run.meta_net(msd.probabilities(data.teacher_logits, False).expand(2, -1, -1, -1))
    assert w.shape == (2, len(train), 3) and ((w > 0) & (w < 1)).all()


def test_modality_dropout_teacher_loss_never_drops_both():
    g = torch.Generator().manual_seed(0)
    seen = []

    class Probe:
        def __call__(self, a, b):
            seen.append(((a.abs().sum(-1) == 0) & (b.abs().sum(-1) == 0)).any().item())
            return torch.zeros(*a.shape[:2], 3)

    loss_fn = msd.make_modality_dropout_loss(0.4, False, g)
    loss_fn(Probe(), torch.ones(2, 50, 3), torch.ones(2, 50, 2), torch.zeros(2, 50, dtype=torch.long))
    assert seen == [False]
    with pytest.raises(ConfigError):
        msd.make_modality_dropout_loss(0.6, False, g)


def test_multilabel_student_training(setup):
    train, _, _ = setup
    y = F.one_hot(train.y, 3).float()
    split = MultimodalSplit(train.a, train.b, y)
    teacher = msd.model_outputs(msd.LateFusionNet(6, 4, 3, (8,), (8,)), split)
    data = msd.training_data(split, teacher, "correctness", True)
    assert torch.allclose(data.instance_weights.sum(1), torch.ones(len(split)), atol=1e-5)
    run = msd.train_students(make_student, data, msd.StudentRecipe(weighting="correctness", num_epochs=1, batch_size=16),
                             num_seeds=2, multilabel=True)
    scores = msd.metrics(msd.view_logits(run.ensemble, split)[:, 0], y, True)
    assert set(scores) == {"macro F1", "micro F1"} and scores["macro F1"].shape == (2,)


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_adam_lookahead_equals_the_real_step_when_weights_are_fixed(setup, weight_decay):
    """The meta-learner's virtual step is the step the student really takes: with the eq. (5) weights
    held fixed, lookahead_params reproduces torch.optim.Adam's next step, from a fresh state and
    after a few real steps (moments and bias corrections in play)."""
    train, _, teacher = setup
    recipe = msd.StudentRecipe(weighting="meta")
    data = msd.training_data(train, teacher, "meta", False)
    batch = data.gather(torch.arange(16).repeat(2, 1))
    weights = torch.rand(2, 3, 16, generator=torch.Generator().manual_seed(0))
    student = Ensemble(make_student, 2, seed=0)
    optimizer = torch.optim.Adam(student.parameters(), lr=0.01, weight_decay=weight_decay)
    for step in range(4):
        names = list(student.params)
        loss = msd.student_losses(student, batch, weights, recipe, False)
        grads = torch.autograd.grad(loss.sum(), [student.params[k] for k in names], allow_unused=True)
        virtual = msd.lookahead_params(student.params, grads, optimizer)
        optimizer.zero_grad(set_to_none=True)
        msd.student_losses(student, batch, weights, recipe, False).sum().backward()
        optimizer.step()
        for k in names:
            assert torch.allclose(virtual[k], student.params[k], atol=1e-6, rtol=1e-5), (step, k)


def test_lookahead_is_differentiable_in_the_meta_weights(setup):
    """The Adam look-ahead carries the meta-gradient: the virtual student's loss has a finite,
    non-zero gradient with respect to the weights that built the step."""
    train, val, teacher = setup
    recipe = msd.StudentRecipe(weighting="meta")
    data = msd.training_data(train, teacher, "meta", False)
    batch = data.gather(torch.arange(16)[None])
    student = Ensemble(make_student, 1, seed=0)
    optimizer = torch.optim.Adam(student.parameters(), lr=0.01)
    weights = torch.full((1, 3, 16), 0.5, requires_grad=True)
    names = list(student.params)
    loss = msd.student_losses(student, batch, weights, recipe, False)
    grads = torch.autograd.grad(loss.sum(), [student.params[k] for k in names], create_graph=True, allow_unused=True)
    virtual = msd.lookahead_params(student.params, grads, optimizer)
    logits, _ = msd.member_forward(student, val.a[None], val.b[None], views=False, params=virtual)
    (grad,) = torch.autograd.grad(msd.task_loss(logits[:, 0], val.y[None], False).mean(), weights)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    with pytest.raises(ConfigError, match="Adam"):
        msd.lookahead_params(student.params, grads, torch.optim.SGD(student.parameters(), lr=0.1))


def test_run_method_returns_the_learned_weights(setup):
    train, val, teacher_outputs = setup
    from mfh_lib.data import MultimodalDataset
    dataset = MultimodalDataset(train=train, val=val, test=val, num_classes=3, modalities=("a", "b"), source="toy")
    teacher = {split: msd.model_outputs(msd.LateFusionNet(6, 4, 3, (16,), (16,)), getattr(dataset, split))
               for split in ("train", "val", "test")}
    settings = {"lam": 0.5, "temperature": 4.0, "num_epochs": 1, "batch_size": 16, "lr": 0.01, "meta_lr": 1e-3,
                "feature_weights": {}}
    out = msd.run_method("MSD (meta)", dataset, teacher, val, settings, num_seeds=2, student_hidden=(4,))
    assert out["meta_weights"].shape == (2, len(train), 3)
    assert ((out["meta_weights"] > 0) & (out["meta_weights"] < 1)).all()
    assert "meta_weights" not in msd.run_method("KD", dataset, teacher, val, settings, num_seeds=2, student_hidden=(4,))


# ----------------------------------------------------------------------------- fused forward, study functions


@pytest.mark.parametrize("hint_dim", [None, 5])
def test_fused_forward_equals_the_generic_vmap_forward(hint_dim):
    ens = Ensemble(lambda: msd.LateFusionNet(6, 4, 3, (8, 5), (7,), hint_dim=hint_dim), 3, seed=0)
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(3, 10, 6, generator=g), torch.randn(3, 10, 2, 2, generator=g)
    for views in (True, False):
        fused = msd.member_forward(ens, a, b, views=views)
        with msd.fused_forward(False):
            generic = msd.member_forward(ens, a, b, views=views)
        for x, y in zip(fused, generic):
            assert x.shape == y.shape and torch.allclose(x, y, atol=1e-6)
    # and so are its gradients (the meta step differentiates through it)
    grads = []
    for enabled in (True, False):
        with msd.fused_forward(enabled):
            logits, features = msd.member_forward(ens, a, b, views=True)
            loss = logits.square().sum() + features.square().sum()
            grads.append(torch.autograd.grad(loss, list(ens.params.values())))
    assert all(torch.allclose(x, y, atol=1e-5) for x, y in zip(*grads))


def test_meta_and_selection_are_disjoint_and_cover_the_validation_set():
    val = toy_split(n=20, seed=3)
    meta, selection = msd.meta_and_selection(val, 0.5, seed=0)
    assert len(meta) == 10 and len(selection) == 10
    rows = {tuple(r.tolist()) for r in torch.cat([meta.a, selection.a])}
    assert len(rows) == 20 and rows == {tuple(r.tolist()) for r in val.a}
    with pytest.raises(ConfigError, match="meta_share"):
        msd.meta_and_selection(val, 0.01)


def test_settings_name_unknown_and_invalid_settings():
    with pytest.raises(ConfigError, match="unknown study setting.*'widht'"):
        msd.StudentSettings.from_dict({"widht": 8})
    with pytest.raises(ConfigError, match="'num_seeds'"):
        msd.StudentSettings(num_seeds=0)
    with pytest.raises(ConfigError, match="'modality_dropout'"):
        msd.TeacherSettings(modality_dropout=0.7)
    with pytest.raises(ConfigError, match="lacks setting 'teacher_dropout'"):
        msd.settings_from_profile({"teacher_hidden": [8]}, False)


def test_study_functions_on_a_tiny_set(tmp_path):
    from mfh_lib.cache import ResultsCache
    from mfh_lib.data import MultimodalDataset

    dataset = msd.standardize(MultimodalDataset(toy_split(40, seed=0), toy_split(16, seed=1), toy_split(16, seed=2),
                                                ("a", "b"), 3, "toy"))
    cache = ResultsCache("msd_test", root=tmp_path)
    teacher_settings = msd.TeacherSettings(hidden=(8,), num_epochs=2, batch_size=16)
    teacher = msd.teacher_study(dataset, teacher_settings, cache=cache)
    assert teacher.outputs["train"].logits.shape == (3, 40, 3) and teacher.probe_logits.shape == (16, 3)
    settings = msd.StudentSettings(num_seeds=2, width=4, num_epochs=2, batch_size=16)
    study = msd.student_study(dataset, teacher, ["KD", "MSD (meta)"], settings, teacher_settings=teacher_settings, cache=cache)
    assert list(study.table.columns) == ["method", "seed", "accuracy"] and len(study.table) == 4
    assert study.runs["MSD (meta)"]["meta_weight_curve"].shape == (2, 2, 3)
    again = msd.student_study(dataset, teacher, ["KD"], settings, teacher_settings=teacher_settings, cache=cache)
    assert torch.equal(again.runs["KD"]["test"]["accuracy"], study.runs["KD"]["test"]["accuracy"])  # from the cache
    assert len(list(cache.dir.glob("*.pt"))) == 3


def test_image_preference_and_truth_correlation():
    # a teacher that is confident on the image alone for samples 0-1 and on the text alone for 2-3
    sure, unsure = torch.tensor([4.0, -4.0]), torch.tensor([0.0, 0.0])
    multimodal = torch.stack([sure] * 4)
    a_only = torch.stack([sure, sure, unsure, unsure])
    b_only = torch.stack([unsure, unsure, sure, sure])
    logits, labels = torch.stack([multimodal, a_only, b_only]), torch.zeros(4, dtype=torch.long)
    truth = torch.tensor([1.0, 1.0, -1.0, -1.0])
    importance = msd.image_preference("importance", logits, labels)
    correctness = msd.image_preference("correctness", logits, labels)
    assert (importance * truth > 0).all() and (correctness * truth > 0).all()
    meta = msd.image_preference("meta", logits, labels, meta_weights=torch.tensor([[1.0, 0.9, 0.1]] * 4))
    assert torch.allclose(meta, torch.full((4,), 0.8))
    g = torch.Generator().manual_seed(0)
    x = torch.randint(-1, 2, (500,), generator=g).float()
    est = msd.truth_correlation(x, x + torch.randn(500, generator=g))
    assert est.ci_low < est.point < est.ci_high and est.ci_low > 0.3 and est.method == "fisher-z"
