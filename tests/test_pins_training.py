"""Pins for the study engine's (mfh_lib/training.py) mutants that survived the sampled mutmut run
(issue #20). Expected values come from hand counts or a slow reference inside the test, never from
the code path under test; each docstring names the mutants it kills.
"""
import pytest
import torch
from torch import nn

from mfh_lib import cache, training
from mfh_lib.config import ConfigError

REQUIRED = dict(seeds=2, teacher_epochs=1, student_epochs=1, batch_size=10)


# --- metrics ----------------------------------------------------------------------------------------

def test_iou_counts_a_class_with_a_single_pixel():
    """iou_from_confusion: a union of exactly one pixel is a real IoU, not nan (kills mutmut_29)."""
    confusion = torch.tensor([[1, 0, 0, 0],    # class 0: 1 pixel, predicted right
                              [0, 0, 0, 0],    # class 1: absent, predicted twice (below)
                              [0, 2, 3, 0],    # class 2: 5 pixels, 3 right
                              [0, 0, 0, 0]])   # class 3: neither present nor predicted
    iou, miou = training.iou_from_confusion(confusion)
    # by hand: IoU = TP / (row + column - TP): 1/1, 0/2, 3/5, undefined
    assert iou[:3].tolist() == pytest.approx([100.0, 0.0, 60.0])
    assert torch.isnan(iou[3])
    assert float(miou) == pytest.approx(160.0 / 3)


def _f1_reference(predicted, labels):
    """Slow per-member, per-label counts in plain Python: (micro, macro) F1 in percent."""
    micro, macro = [], []
    for pred in predicted:
        counts = []
        for k in range(len(labels[0])):
            tp = sum(p[k] and y[k] for p, y in zip(pred, labels))
            fp = sum(p[k] and not y[k] for p, y in zip(pred, labels))
            fn = sum((not p[k]) and y[k] for p, y in zip(pred, labels))
            counts.append((tp, fp, fn))
        tp, fp, fn = (sum(c[i] for c in counts) for i in range(3))
        micro.append(100 * 2 * tp / max(2 * tp + fp + fn, 1))
        macro.append(100 * sum(2 * a / max(2 * a + b + c, 1) for a, b, c in counts) / len(counts))
    return micro, macro


def test_member_f1_matches_hand_counts_per_member():
    """member_f1 (no test reached it): micro pools counts over labels, macro averages per-label F1
    with an empty label scored 0, each per member (kills mutmut_7, _39, _50)."""
    labels = [[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 0]]                  # (N=4, K=3), shared
    predicted = [[[1, 0, 0], [1, 0, 0], [0, 1, 1], [0, 0, 0]],            # member 0
                 [[0, 0, 0], [1, 1, 0], [0, 1, 0], [1, 0, 1]]]            # member 1 (S=2 != K)
    logits = torch.tensor(predicted, dtype=torch.float32) * 4 - 2         # > 0 exactly where predicted
    micro, macro = training.member_f1(logits, torch.tensor(labels))
    # by hand: member 0 TP/FP/FN per label (2,0,0) (1,0,1) (0,1,0): micro 6/8, macro (1 + 2/3 + 0)/3;
    # member 1 (1,1,1) (2,0,0) (0,1,0): micro 6/9, macro (1/2 + 1 + 0)/3
    assert micro.tolist() == pytest.approx([75.0, 200 / 3])
    assert macro.tolist() == pytest.approx([500 / 9, 50.0])
    assert _f1_reference(predicted, labels) == (pytest.approx(micro.tolist()), pytest.approx(macro.tolist()))


# --- batch order and seeding ------------------------------------------------------------------------

def test_member_batches_draw_their_order_from_the_generator_only():
    """member_batches: each member's shuffle comes from ``generator`` (reproducible whatever the
    global RNG did), member i's rows follow its own permutation (kills mutmut_26)."""
    n, batch_size, members = 7, 3, 2
    x = torch.arange(n * 2, dtype=torch.float32).view(n, 2)                # shared (N, 2)
    y = torch.stack([torch.arange(n), 100 + torch.arange(n)])              # per member (S, N)
    reference = torch.Generator().manual_seed(5)
    perms = [torch.randperm(n, generator=reference) for _ in range(members)]
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        batches = list(training.member_batches([x, y], [True, False], members, batch_size,
                                               torch.Generator().manual_seed(5)))
        assert len(batches) == 3                                           # 3 + 3 + 1 samples
        for b, (xb, yb) in enumerate(batches):
            for i in range(members):
                rows = perms[i][b * batch_size:(b + 1) * batch_size]
                assert torch.equal(xb[i], x[rows]) and torch.equal(yb[i], y[i, rows])


def test_train_segmenter_batch_order_comes_from_its_generator():
    """train_segmenter: the same generator seed trains the same network whatever the global RNG
    state, and another seed a different one (kills mutmut_30)."""
    g = torch.Generator().manual_seed(0)
    images = torch.randn(6, 3, 2, 2, generator=g)
    labels = torch.randint(0, 3, (6, 2, 2), generator=g)
    torch.manual_seed(0)
    initial = nn.Conv2d(3, 3, 1).state_dict()

    def train(generator_seed, global_seed):
        model = nn.Conv2d(3, 3, 1)
        model.load_state_dict(initial)
        torch.manual_seed(global_seed)
        training.train_segmenter(model, [images], labels, num_epochs=2, batch_size=2, optimizer="sgd", lr=0.5,
                                 generator=torch.Generator().manual_seed(generator_seed))
        return model.weight.detach().clone()

    first = train(3, global_seed=11)
    assert torch.equal(first, train(3, global_seed=12))
    assert not torch.allclose(first, train(4, global_seed=11))


def test_ensemble_keeps_no_weights_of_its_own():
    """Ensemble: the template module lives on the meta device, so a forward can only use the stacked
    member parameters, never member 0's weights by accident (kills Ensemble.__init__ mutmut_17)."""
    ensemble = training.Ensemble(lambda: nn.Linear(2, 2), num_members=2, seed=0)
    assert all(p.is_meta for p in ensemble.base.parameters())
    torch.manual_seed(1)
    member_1 = nn.Linear(2, 2)
    x = torch.randn(3, 2)
    assert torch.allclose(ensemble(x, shared=True)[1], member_1(x))


# --- settings -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, value", [("seeds", 0), ("teacher_epochs", 0), ("student_epochs", 0),
                                         ("batch_size", 0), ("num_folds", 1), ("temperature", 0.0)])
def test_kd_study_settings_name_the_invalid_setting(name, value):
    """An invalid setting's error names it (issue #11) (kills __post_init__ mutmut_9, _17, _23, _42, _48)."""
    with pytest.raises(ConfigError, match=f"setting '{name}' = "):
        training.KDStudySettings(**{**REQUIRED, name: value})


@pytest.mark.parametrize("control", ["noise_teacher", "smoothing_teacher"])
def test_a_named_teacher_control_needs_control_rho(control):
    """A noise or smoothing teacher alone (no born-again, no cross-fit) still needs control_rho
    (kills __post_init__ mutmut_82)."""
    with pytest.raises(ConfigError, match="control_rho"):
        training.KDStudySettings(**REQUIRED, **{control: "T"})


# --- kd_study wiring --------------------------------------------------------------------------------

def _split(n, generator):
    y = torch.arange(n) % 3
    return type("Split", (), {"a": torch.randn(n, 4, generator=generator) + y[:, None].float(), "y": y})()


def test_kd_study_seeds_labels_cache_keys_and_conditions(tmp_path, monkeypatch):
    """kd_study on shared data with every teacher control and a results cache: the teacher trains
    from seed 1000 (its cross-fit folds too), the noise teacher on a per-seed shuffle of the labels
    drawn from its own generator (seed 7), every unit on the study's device; shared_runs moves a
    unit's cache key; the condition names are the documented ones
    (kills kd_study mutmut_42, _58, _61, _141, _174, _182, _308 and fit_best_epoch mutmut_24)."""
    g = torch.Generator().manual_seed(0)
    splits = {"train": _split(30, g), "val": _split(15, g), "test": _split(15, g)}
    model = (lambda: nn.Linear(4, 3), lambda s: (s.a,))
    settings = training.KDStudySettings(**REQUIRED, lr=0.05, rhos=[0.5], control_rho=0.5, noise_teacher="T",
                                        born_again=True, cross_fit=["T"])
    calls = []
    original = training.fit_best_epoch

    def spy(make_model, train_inputs, train_labels, val_inputs, val_labels, **kwargs):
        calls.append({"labels": train_labels.clone(), "n": len(train_inputs[0]), **kwargs})
        return original(make_model, train_inputs, train_labels, val_inputs, val_labels, **kwargs)

    monkeypatch.setattr(training, "fit_best_epoch", spy)
    ensemble_devices = []

    class RecordingEnsemble(training.Ensemble):
        def __init__(self, make_model, num_members, seed=0, device="cpu"):
            ensemble_devices.append(device)
            super().__init__(make_model, num_members, seed=seed, device=device)

    monkeypatch.setattr(training, "Ensemble", RecordingEnsemble)
    results_cache = cache.ResultsCache("pins_training", root=tmp_path)
    torch.manual_seed(123)  # the noise labels must not depend on the global RNG
    study = training.kd_study({"T": model}, model, splits, settings, results_cache=results_cache,
                              key={"study": 1}, shared_runs={"teacher/T": {"shared teacher": 1}})

    assert set(study["students"]) == {("No-KD", 1.0), ("T-KD", 0.5), ("noise teacher", 0.5), ("born-again", 0.5),
                                      ("cross-fitted T-KD", 0.5)}
    assert set(study["teachers"]) == {"T", "noise teacher"}
    assert all(call["device"] == "cpu" for call in calls)
    assert len(ensemble_devices) == len(calls) and set(ensemble_devices) == {"cpu"}
    y = splits["train"].y
    teacher, noise = calls[0], calls[1]
    assert teacher["seed"] == 1000 and torch.equal(teacher["labels"], y)
    folds = [call for call in calls if call["n"] < 30]
    assert len(folds) == 2 and all(call["seed"] == 1000 for call in folds)   # the teacher's own init
    # reference: one permutation per seed from a generator seeded 7, in seed order
    reference = torch.Generator().manual_seed(7)
    expected = torch.stack([y[torch.randperm(30, generator=reference)] for _ in range(2)])
    assert noise["seed"] == 2000 and torch.equal(noise["labels"], expected)
    # the shared teacher is stored under its own key, every other unit under the study's key
    assert results_cache.path({"shared teacher": 1, "run": "teacher/T"}).exists()
    assert not results_cache.path({"study": 1, "run": "teacher/T"}).exists()
    assert results_cache.path({"study": 1, "run": "student/born-again/0.5"}).exists()


def test_train_segmenter_refuses_fewer_scenes_than_one_batch():
    model = torch.nn.Conv2d(3, 2, 1)
    images, labels = torch.zeros(3, 3, 4, 4), torch.zeros(3, 4, 4, dtype=torch.long)
    with pytest.raises(ConfigError, match="batch_size 4"):
        training.train_segmenter(model, [images], labels, num_epochs=1, batch_size=4, lr=0.1,
                                 generator=torch.Generator().manual_seed(0))
