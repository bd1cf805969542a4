"""Pins for the mutants that survived the first sampled mutmut run (issue #20, round 2).

Each test's expected values are computed by hand or by a slow reference inside the test, never by
the code path under test. The mutants they kill are named in each docstring.
"""
import math
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.stats as sps
import torch
from torch import nn

from mfh_lib import msd, ranking, stats
from mfh_lib.config import ConfigError
from mfh_lib.data import MultimodalDataset, MultimodalSplit


# --- stats ----------------------------------------------------------------------------------------

def test_per_seed_slope_is_one_least_squares_slope_per_column():
    """per_seed_slope (no test called it directly): one slope per seed column, not one pooled sum."""
    settings = [0.0, 1.0, 2.0, 4.0]
    values = np.array([[1.0, 5.0, 0.0],
                       [3.0, 5.0, 1.0],
                       [5.0, 5.0, 1.0],
                       [9.0, 5.0, 4.0]])
    # by hand: column 0 is y = 1 + 2x (slope 2), column 1 constant (0); column 2 by the normal equation
    x = np.array(settings)
    xc = x - x.mean()
    y2 = values[:, 2]
    slope2 = sum(a * (b - y2.mean()) for a, b in zip(xc, y2)) / sum(a * a for a in xc)
    np.testing.assert_allclose(stats.per_seed_slope(settings, values), [2.0, 0.0, slope2], atol=1e-12)
    # integer inputs give the same slopes (the values are read as floats)
    np.testing.assert_allclose(stats.per_seed_slope([0, 1, 2], [[0, 0], [1, 2], [2, 4]]), [1.0, 2.0])


def test_spearman_of_a_boolean_indicator_is_a_rank_correlation():
    """_as_array reads values as floats: a bool indicator (won / lost per seed) is ranked like 0/1."""
    won = np.array([False, False, True, True])
    x = np.array([1.0, 2.0, 3.0, 4.0])
    # by hand: ranks of won are (1.5, 1.5, 3.5, 3.5); Pearson of the ranks with (1, 2, 3, 4)
    rw = np.array([1.5, 1.5, 3.5, 3.5])
    rx = np.array([1.0, 2.0, 3.0, 4.0])
    expected = ((rw - rw.mean()) * (rx - rx.mean())).sum() / math.sqrt(((rw - rw.mean()) ** 2).sum()
                                                                      * ((rx - rx.mean()) ** 2).sum())
    assert stats.spearman(won, x) == pytest.approx(expected)
    assert stats.spearman(torch.tensor([False, True, True, True]), [4, 3, 2, 1]) < 0


def test_permutation_correlation_says_it_is_decided_by_the_permutation_test():
    """permutation_correlation's description replaces the Fisher-z wording (what the reader sees)."""
    est = stats.permutation_correlation([1, 2, 3, 4, 5], [2, 1, 4, 3, 5], unit="teachers")
    assert est.method == stats.PERMUTATION
    assert "Fisher-z" not in est.description
    assert est.description.startswith("spearman over 5 teachers, decided by the exact permutation p = ")


def _crit(n, power=0.8):
    return sps.t.ppf(0.975, n - 1) + sps.t.ppf(power, n - 1)


def test_units_needed_starts_at_three_units():
    """units_needed: a huge effect needs the minimum of 3 units (not 4)."""
    assert _crit(3) / math.sqrt(3) <= 100.0  # by hand: (4.30 + 1.06) / 1.73 = 3.1
    assert stats.units_needed(1.0, 100.0) == 3
    assert stats.units_needed(1.0, -100.0) == 3


def test_units_needed_walks_a_five_percent_grid_above_200():
    """units_needed: 3, 4, ..., 200, then n -> int(1.05 n) + 1 (211, 222, ...): the first grid point
    whose power suffices. Reference: the exact smallest n by a slow loop, then the grid by hand."""
    effect = _crit(205) / math.sqrt(205)  # exactly 205 units needed
    exact = next(n for n in range(3, 400) if _crit(n) / math.sqrt(n) <= effect)
    assert exact == 205
    grid = list(range(3, 201)) + [211, 222, 234]
    assert stats.units_needed(1.0, effect) == next(n for n in grid if n >= exact) == 211


def test_units_needed_from_se_uses_the_power_it_is_given():
    """units_needed_from_se passes ``power`` on (at 50% power fewer units suffice than at 80%)."""
    se, n, effect = 1.0, 4, 1.0
    sd = se * math.sqrt(n)

    def exact(power):
        return next(m for m in range(3, 1000) if _crit(m, power) * sd / math.sqrt(m) <= effect)

    assert exact(0.5) < exact(0.8)
    assert stats.units_needed_from_se(se, n, effect, power=0.5) == exact(0.5)
    assert stats.units_needed_from_se(se, n, effect) == exact(0.8)


# --- ranking --------------------------------------------------------------------------------------

def test_minmax_salience_scales_each_member_on_its_own():
    """salience_from_distances("minmax"): min and max per member (S), not over the whole tensor."""
    distances = torch.tensor([[[1.0, 2.0, 3.0]], [[10.0, 20.0, 40.0]]])  # (S=2, M=1, d=3)
    out = ranking.salience_from_distances(distances, "minmax")
    torch.testing.assert_close(out, torch.tensor([[0.0, 0.5, 1.0], [0.0, 1 / 3, 1.0]]))


def test_accuracy_matched_mask_can_nullify_every_channel():
    """accuracy_matched_keep_mask tries k = 0 .. d: a target met only with all d channels nullified."""
    y = torch.tensor([0, 0, 1, 1])
    features = (2 * nn.functional.one_hot(y, 2).float() - 1)[None]  # (S=1, N=4, d=2), logits = features
    fill = torch.tensor([[0.0, 0.5]])
    # by hand: k = 0 or 1 nullified channel keeps 100%; both nullified predict class 1 for all: 50%
    keep, acc = ranking.accuracy_matched_keep_mask(lambda h: h, features, y, fill, torch.tensor([50.0]),
                                                   generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(keep, torch.zeros(1, 2))
    torch.testing.assert_close(acc, torch.tensor([50.0]))


def _tiny_students(**kwargs):
    gen = torch.Generator().manual_seed(0)
    b = torch.randn(24, 4, generator=gen)
    y = torch.randint(0, 3, (24,), generator=gen)
    teacher = 3 * torch.randn(2, 24, 3, generator=gen)
    out = ranking.distill_students(lambda: nn.Linear(4, 3), b, y, teacher, (b[:8], y[:8]), (b[8:16], y[8:16]),
                                   rho=0.0, num_epochs=2, batch_size=None, lr=0.1, return_train_logits=True,
                                   **kwargs)
    return out["train_logits"]


def test_distill_students_defaults_to_temperature_one():
    """distill_students: the default KD temperature is 1 (the input-ranking study relies on it)."""
    default = _tiny_students()
    torch.testing.assert_close(default, _tiny_students(temperature=1.0))
    assert not torch.allclose(default, _tiny_students(temperature=2.0))  # the temperature does matter


def test_nullified_study_settings_reject_a_negative_learning_rate():
    """NullifiedStudySettings checks lr >= 0 under the name 'lr'."""
    with pytest.raises(ConfigError, match="'lr'"):
        ranking.NullifiedStudySettings(seeds=1, joint_epochs=1, student_epochs=1, lr=-0.1)
    assert ranking.NullifiedStudySettings(seeds=1, joint_epochs=1, student_epochs=1, lr=0.0).lr == 0.0


def test_input_ranking_settings_accept_a_width_of_one():
    """InputRankingSettings: hidden widths >= 1 (a width of 1 is valid, 0 is not)."""
    assert ranking.InputRankingSettings(seeds=1, hidden=(1,)).hidden == (1,)
    with pytest.raises(ConfigError, match="hidden"):
        ranking.InputRankingSettings(seeds=1, hidden=(0,))


def test_study_num_classes_falls_back_to_the_largest_label_plus_one():
    """study_num_classes without num_classes anywhere: largest label + 1 over all splits, with a warning."""
    split = lambda *labels: SimpleNamespace(y=torch.tensor(labels))  # noqa: E731
    data = SimpleNamespace(train=split(0, 1, 2, 3), val=split(0, 1), test=split(3, 0))
    with pytest.warns(UserWarning, match="largest label"):
        assert ranking.study_num_classes(data) == 4


def _hand_result():
    return {"no_kd": torch.tensor([50.0, 52.0]),
            "teachers": [("general", 0.25, 10), ("general", 0.5, 10)],
            "student_acc": torch.tensor([[60.0, 61.0], [58.0, 62.0]]),
            "teacher_acc": torch.tensor([[80.0, 70.0], [75.0, 60.0]]),
            "controls": {"noise teacher": torch.tensor([40.0, 41.0]), "born-again": torch.tensor([55.0, 56.0])},
            "control_teachers": {"noise teacher": {"test_acc": torch.tensor([10.0, 11.0])}, "born-again": {}}}


def test_study_runs_control_rows_keep_their_columns():
    """study_runs: control rows carry family "control" and their student accuracy in "student"."""
    runs = ranking.study_runs(_hand_result())
    assert list(runs.columns) == ["teacher", "family", "r", "M", "seed", "student", "teacher_acc", "no_kd"]
    controls = runs[runs.family == "control"]
    assert list(controls.teacher) == ["noise teacher"] * 2 + ["born-again"] * 2
    assert list(controls.student) == [40.0, 41.0, 55.0, 56.0]
    assert list(controls.teacher_acc) == [10.0, 11.0, 50.0, 52.0]  # born-again's teacher: the no-KD student
    assert controls[["r", "M"]].isna().all().all()
    assert runs[["teacher", "family", "seed", "student", "teacher_acc", "no_kd"]].notna().all().all()


def test_slope_over_ratios_reads_the_column_it_is_given():
    """slope_over_ratios(column=...): per seed, in points per 10 pp of r, of that column."""
    runs = ranking.study_runs(_hand_result())
    # by hand: teacher_acc seed 0: 80 -> 75 over r 0.25 -> 0.5, i.e. -5 per 2.5 tenths = -2; seed 1: -10/2.5 = -4
    np.testing.assert_allclose(ranking.slope_over_ratios(runs, "general", [0.25, 0.5], "teacher_acc"), [-2.0, -4.0])
    # the student column: 60 -> 58 (-0.8) and 61 -> 62 (+0.4)
    np.testing.assert_allclose(ranking.slope_over_ratios(runs, "general", [0.25, 0.5]), [-0.8, 0.4])


def _paired_data(n=48, seed=0):
    from mfh_lib.data import dataset_from_arrays
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x_a = rng.normal(size=(n, 6)) + 2.0 * np.eye(3, 6)[y]
    x_b = rng.normal(size=(n, 4)) + 0.8 * np.eye(3, 4)[y]
    return dataset_from_arrays(x_a, x_b, y, groups=np.arange(n) % 8, val=2, test=2)


def test_diagnose_dataset_table_from_a_hand_made_study(monkeypatch):
    """diagnose_dataset: no-KD rows are family "no KD" with gain 0, teacher rows keep M and mode, gains
    are student - no-KD of the same seed; use_cache reaches the study."""
    from mfh_lib import cch
    data = _paired_data()
    S, n_test = 2, len(data.test.y)
    calls = {}

    def fake_study(data_, settings, *, device="cpu", use_cache=True):
        calls["use_cache"] = use_cache
        return {"teachers": [("regular", 0.0, 2), ("general", 0.5, 2)],
                "student_acc": torch.tensor([[60.0, 70.0], [55.0, 65.0]]),
                "teacher_acc": torch.tensor([[90.0, 80.0], [85.0, 75.0]]), "no_kd": torch.tensor([50.0, 66.0]),
                "teacher_test_logits": torch.zeros(2, S, n_test, 3),
                "controls": {"noise teacher": torch.tensor([49.0, 60.0])},
                "control_teachers": {"noise teacher": {"test_acc": torch.tensor([33.0, 34.0])}}}

    def fake_criteria(logits, b, y, num_classes, estimator):
        return {name: torch.full((2, S), float(i)) for i, name in
                enumerate(("i_teacher_student", "i_student_label", "cch_gap", "mfh_shared"))}

    monkeypatch.setattr(ranking, "nullified_teacher_study", fake_study)
    monkeypatch.setattr(cch, "criteria_from_features", fake_criteria)
    settings = {"seeds": S, "joint_epochs": 1, "student_epochs": 1, "num_permutations": 2, "m_values": [],
                "num_classes": 3}
    table = ranking.diagnose_dataset(data, settings, use_cache=False).table
    assert calls["use_cache"] is False
    assert list(table.columns) == ["condition", "family", "mode", "r", "M", "seed", "teacher_acc", "student_acc",
                                   "gain", "i_teacher_student", "i_student_label", "cch_gap", "mfh_shared"]
    assert list(table.condition) == ["no KD"] * 2 + ["regular"] * 2 + ["general r=50%"] * 2 + ["noise teacher"] * 2
    assert list(table.family) == ["no KD"] * 2 + ["teacher"] * 4 + ["control"] * 2
    teachers = table[table.family == "teacher"]
    assert list(teachers.M) == [2, 2, 2, 2] and list(teachers["mode"]) == ["regular"] * 2 + ["general"] * 2
    # by hand: gains against no KD (50, 66) per seed
    np.testing.assert_allclose(table.gain, [0, 0, 10, 4, 5, -1, -1, -6])
    np.testing.assert_allclose(table.teacher_acc.iloc[2:], [90, 80, 85, 75, 33, 34])
    ranking.diagnose_dataset(data, settings)
    assert calls["use_cache"] is True


def test_nullified_study_seeds_its_random_teachers_and_passes_the_temperature(monkeypatch):
    """The nullified-teacher study: the KD students get the settings' temperature; the matched random
    teacher's channel order and the noise teacher's test inputs come from seeded generators
    (5000 + 1000 r and the controls' generator), not from the global RNG."""
    from mfh_lib import controls
    seen = {"temperature": [], "matched_seed": [], "noise_generator": []}
    real_distill, real_matched, real_noise = (ranking.distill_students, ranking.accuracy_matched_keep_mask,
                                              controls.noise_like)

    def distill(*args, **kwargs):
        if args[3] is not None:  # teacher logits: the KD students
            seen["temperature"].append(kwargs.get("temperature"))
        return real_distill(*args, **kwargs)

    def matched(head, features, labels, fill, target, generator=None):
        seen["matched_seed"].append(None if generator is None else generator.initial_seed())
        return real_matched(head, features, labels, fill, target, generator)

    def noise(x, generator):
        seen["noise_generator"].append(generator)
        return real_noise(x, generator)

    monkeypatch.setattr(ranking, "distill_students", distill)
    monkeypatch.setattr(ranking, "accuracy_matched_keep_mask", matched)
    monkeypatch.setattr(controls, "noise_like", noise)
    cfg = {"seeds": 1, "hidden_a": [6, 4], "hidden_b": [4], "joint_epochs": 1, "student_epochs": 1, "batch_size": 32,
           "lr": 0.05, "weight_decay": 0.0, "rho": 0.5, "temperature": 3.0, "num_permutations": 2, "ratios": [0.5],
           "m_values": [], "matched_ratios": [0.25], "cross_fit_folds": 2}
    ranking.nullified_teacher_study(_paired_data(), cfg, use_cache=False)
    assert seen["temperature"] == [3.0]
    assert seen["matched_seed"] == [5250]
    assert len(seen["noise_generator"]) == 2 and all(g is not None for g in seen["noise_generator"])


def test_input_ranking_students_share_their_seed_with_the_no_kd_students(monkeypatch):
    """input_ranking_study: the KD students and the no-KD students start from the same seed's
    initialisation (a paired comparison), a seed apart from the joint training's (0)."""
    seeds = []

    def fake_distill(make_student, train_b, train_y, teacher_logits, val, test, **kwargs):
        seeds.append(kwargs["seed"])
        members = teacher_logits.shape[0] if teacher_logits is not None else kwargs["num_members"]
        return {"test_acc": torch.zeros(members)}

    monkeypatch.setattr(ranking, "distill_students", fake_distill)
    ranking.input_ranking_study(_paired_data(), ranking.InputRankingSettings(seeds=2, hidden=(4,), epochs=1,
                                                                             num_permutations=2), use_cache=False)
    assert len(seeds) == 2 and seeds[0] == seeds[1] != 0


# --- msd ------------------------------------------------------------------------------------------

def test_truth_correlation_with_too_few_samples_is_an_open_fisher_z_estimate():
    """truth_correlation with n <= 3: the whole [-1, 1], Fisher-z method, counted in data draws."""
    est = msd.truth_correlation(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([3.0, 1.0, 2.0]))
    assert (est.ci_low, est.ci_high, est.n, est.unit) == (-1.0, 1.0, 3, "data draws")
    assert est.method == stats.FISHER_Z
    assert est.description == "spearman over 3 data draws: undefined or too few samples"
    assert est.point == pytest.approx(-0.5)  # by hand: ranks (1,2,3) vs (3,1,2): 1 - 6 * 6 / 24


def _msd_profile():
    return {"teacher_hidden": [16, 8], "teacher_dropout": 0.1, "modality_dropout": 0.35, "teacher_epochs": 7,
            "teacher_lr": 0.004, "teacher_batch_size": 33, "seeds": 5, "student_hidden": 6, "lam": 0.25,
            "num_epochs": 9, "batch_size": 64, "lr": 0.02, "meta_lr": 0.002,
            "feature_weights": {"fitnet": 2.0, "rkd": 1.0, "sp": 3.0}, "population_values": [0.0, 0.25, 1.0],
            "meta_share": 0.4, "temperature": 3.0, "temperature_multilabel": 1.5}


def test_msd_settings_from_profile_map_every_key():
    """settings_from_profile: each profile key lands in its setting (multi-label: its own temperature)."""
    teacher, student = msd.settings_from_profile(_msd_profile(), multilabel=False)
    assert (teacher.hidden, teacher.dropout, teacher.modality_dropout, teacher.num_epochs, teacher.lr,
            teacher.batch_size) == ((16, 8), 0.1, 0.35, 7, 0.004, 33)
    assert (student.num_seeds, student.width, student.lam, student.num_epochs, student.batch_size, student.lr,
            student.meta_lr, student.meta_share, student.temperature) == (5, 6, 0.25, 9, 64, 0.02, 0.002, 0.4, 3.0)
    assert student.population_values == (0.0, 0.25, 1.0)
    assert student.feature_weights == {"fitnet": 2.0, "rkd": 1.0, "sp": 3.0}
    _, multi = msd.settings_from_profile(_msd_profile(), multilabel=True)
    assert multi.temperature == 1.5
    with pytest.raises(ConfigError, match="teacher_batch_size"):
        msd.settings_from_profile({k: v for k, v in _msd_profile().items() if k != "teacher_batch_size"}, False)


def _multilabel_split(y):
    g = torch.Generator().manual_seed(len(y))
    return MultimodalSplit(torch.randn(len(y), 6, generator=g), torch.randn(len(y), 4, generator=g), y)


def test_run_method_scores_a_multilabel_task_by_macro_f1(monkeypatch):
    """run_method on a multi-label task: the selection metric is macro F1 (not accuracy). Students that
    always predict the label set {0}, on labels {0}, {0, 1}, {1}, {2}: by hand, label 0 has tp 2, fp 2,
    fn 0 (F1 2/3), labels 1 and 2 score 0: macro F1 = 100 * (2/3) / 3; micro F1 = 100 * 4 / (4 + 2 + 3)."""
    from mfh_lib.training import Ensemble
    y = torch.tensor([[1.0, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1]])
    dataset = MultimodalDataset(_multilabel_split(y), _multilabel_split(y.clone()), _multilabel_split(y.clone()),
                                ("a", "b"), 3, "toy", multilabel=True)
    teacher = {s: msd.TeacherOutputs(torch.zeros(3, 4, 3), torch.zeros(4, 5)) for s in ("train", "val", "test")}

    def fake_train_students(make_student, data, recipe, *, num_seeds, **kwargs):
        ens = Ensemble(make_student, num_seeds, seed=0)
        with torch.no_grad():
            for v in ens.params.values():
                v.zero_()
            ens.params["head.bias"][:] = torch.tensor([1.0, -1.0, -1.0])
        return msd.StudentRun(ens, None, [torch.zeros(num_seeds)])

    monkeypatch.setattr(msd, "train_students", fake_train_students)
    settings = {"lam": 0.5, "temperature": 1.0, "num_epochs": 1, "batch_size": 4, "lr": 0.01, "meta_lr": 1e-3,
                "feature_weights": {}}
    out = msd.run_method("KD", dataset, teacher, _multilabel_split(y.clone()), settings, num_seeds=2,
                         student_hidden=(4,))
    macro, micro = 100 * (2 / 3) / 3, 100 * 4 / 9
    torch.testing.assert_close(out["val"], torch.full((2,), macro))
    torch.testing.assert_close(out["test"]["macro F1"], torch.full((2,), macro))
    torch.testing.assert_close(out["test"]["micro F1"], torch.full((2,), micro))


def test_meta_weighting_without_meta_data_is_refused():
    """train_students: meta weighting (Algorithm 1) needs the meta split; without it a ConfigError says so."""
    n = 8
    data = msd.TrainingData(torch.randn(n, 6), torch.randn(n, 4), torch.randint(0, 3, (n,)), torch.randn(n, 3, 3),
                            torch.randn(n, 5))
    with pytest.raises(ConfigError, match="meta_split"):
        msd.train_students(lambda: msd.LateFusionNet(6, 4, 3, (4,), (4,)), data, msd.StudentRecipe(weighting="meta"),
                           num_seeds=1)


# --- theory ---------------------------------------------------------------------------------------

def test_theorem1_settings_bounds():
    """Theorem1Settings: counts >= 1 (1 is valid), Euler step strictly inside (0, 2)."""
    from mfh_lib import theory
    small = theory.Theorem1Settings(n=2, dim=1, num_shared=(0, 1), seeds=1, reference_draws=1)
    assert (small.n, small.dim, small.seeds, small.reference_draws) == (2, 1, 1, 1)
    for step in (2.0, 2.5, 0.0):
        with pytest.raises(ConfigError, match="step"):
            theory.Theorem1Settings(step=step)
    assert theory.Theorem1Settings(step=1.9).step == 1.9


def test_theorem1_settings_from_a_profile():
    """Theorem1Settings.from_config: every field from the profile, other keys ignored, a missing one named."""
    from dataclasses import asdict
    from mfh_lib import theory
    cfg = {**asdict(theory.Theorem1Settings()), "n": 50, "dim": 4, "num_shared": [0, 2, 4], "threads": 2}
    settings = theory.Theorem1Settings.from_config(cfg)
    assert (settings.n, settings.dim, settings.num_shared) == (50, 4, (0, 2, 4))
    with pytest.raises(ConfigError, match="delta"):
        theory.Theorem1Settings.from_config({k: v for k, v in cfg.items() if k != "delta"})


def test_gradient_flow_batches_over_every_leading_axis():
    """gradient_flow on (A, S, n, d) features equals the flow of each (n, d) run on its own."""
    from mfh_lib import theory
    g = torch.Generator().manual_seed(0)
    features = torch.randn(2, 3, 12, 4, generator=g, dtype=torch.float64)
    logits = torch.randn(2, 3, 12, generator=g, dtype=torch.float64)
    theta, _, risks = theory.gradient_flow(features, logits, flow_time=2.0, step=0.5, num_records=5)
    assert theta.shape == (2, 3, 4)
    for i in range(2):
        for j in range(3):
            theta_ij, _, risks_ij = theory.gradient_flow(features[i, j], logits[i, j], flow_time=2.0, step=0.5,
                                                         num_records=5)
            torch.testing.assert_close(theta[i, j], theta_ij)
            torch.testing.assert_close(risks[:, i, j], risks_ij)


# --- gaussian_kd ----------------------------------------------------------------------------------

def test_population_accuracy_of_rules_along_the_signal():
    """population_accuracy for v parallel to delta (r = 1, where rounding can give r > 1): with
    m = c / ||v||, w = z / ||delta|| ~ N(0, 1) is classified right when sign(w + m) = sign(w), i.e.
    P = 1.5 - Phi(|m|) (by hand); at m = 0 every sample is right."""
    from mfh_lib import gaussian_kd
    g = torch.Generator().manual_seed(0)
    R, D = 64, 7
    signal = torch.randn(R, D, generator=g)
    signal[:, 5:] = 0
    v = (torch.rand(R, 1, generator=g) * 3 + 0.1) * signal
    weight = torch.stack([torch.zeros_like(v), v], 1)
    m = torch.where(torch.arange(R) % 2 == 0, 0.0, 0.5).double()
    bias = torch.stack([torch.zeros(R), (m * v.double().norm(dim=-1)).float()], 1)
    acc = gaussian_kd.population_accuracy(weight, bias, signal, signal.norm(dim=-1))
    expected = 100 * (1.5 - sps.norm.cdf(m.numpy()))
    np.testing.assert_allclose(acc.numpy(), expected, atol=0.05)  # r is 1 only up to float32 weights


def test_surrogate_excess_risk_composes_the_exact_risk():
    """surrogate_excess_risk: variance of no KD = R(0, n) - R(0), bias of KD = R(lam) - R(0),
    variance of KD = R(lam, n) - R(lam), on a hand-made risk R(lam, n) = 1 + 10 lam + 100 (1 + lam) / n."""
    from mfh_lib import gaussian_kd

    class Model:
        @staticmethod
        def risk(lam, n=None):
            return torch.tensor(1.0 + 10 * lam + (0.0 if n is None else 100 * (1 + lam) / n))

    out = gaussian_kd.surrogate_excess_risk(Model(), n=50, lam=0.5)
    assert out["variance_no_kd"] == pytest.approx(2.0)
    assert out["bias_kd"] == pytest.approx(5.0)
    assert out["variance_kd"] == pytest.approx(3.0)


def test_kd_results_summary_row_by_hand():
    """KDResults.summary: alpha, beta, gamma of the spec (rounded to 2) and 'mean ± std' at the
    requested decimals. J1 = {0, 1, 2}, J2 = {1, .., 6}: union 7, overlap 2, so by hand alpha = 1 - 6/7,
    beta = 1 - 3/7, gamma = 2/7; KD (70, 72, 77): mean 73, std sqrt(13) = 3.61."""
    from mfh_lib import gaussian_kd
    from mfh_lib.data.gaussian_mvd import MVDSpec
    spec = MVDSpec(d1=10, d2=10, d=10, J1=(0, 1, 2), J2=tuple(range(1, 7)))
    acc = lambda *v: torch.tensor([v])  # noqa: E731  (P = 1, S = 3)
    results = gaussian_kd.KDResults((spec,), (0, 1, 2), None, acc(90.0, 90.0, 93.0), acc(60.0, 61.0, 62.0),
                                    acc(70.0, 72.0, 77.0), *[None] * 10)
    row = results.summary(decimals=1).iloc[0]
    assert (row["|J1|"], row["|J2|"], row["overlap"]) == (3, 6, 2)
    assert (row.alpha, row.beta, row.gamma) == (0.14, 0.57, 0.29)
    assert (row.teacher, row["no-KD"], row.KD, row["KD gain"]) == ("91.0 ± 1.7", "61.0 ± 1.0", "73.0 ± 3.6",
                                                                   "12.0 ± 2.6")


def test_kd_control_student_uses_the_settings_temperature():
    """run_kd_controls' "KD" condition is run_kd's KD student also at T != 1 (the temperature reaches
    the control runs); population scoring is continuous, so T = 1 would show."""
    from mfh_lib import gaussian_kd
    from mfh_lib.data import gaussian_mvd as mvd
    specs = [mvd.spec_from_sizes(8, 8, 6, 4, 4, 2)]
    hot = gaussian_kd.KDSettings(num_train=20, num_test=20, num_epochs=20, temperature=4.0, score="population")
    plain = gaussian_kd.run_kd(specs, [0, 1], hot)
    ctrl = gaussian_kd.run_kd_controls(specs, [0, 1], hot)
    torch.testing.assert_close(ctrl.student_acc["KD"], plain.kd_acc)
    cold = gaussian_kd.run_kd(specs, [0, 1], gaussian_kd.KDSettings(num_train=20, num_test=20, num_epochs=20,
                                                                    score="population"))
    assert not torch.allclose(cold.kd_acc, plain.kd_acc)


def test_gain_table_columns_without_predictions():
    """gain_table(predict=False): the documented columns, one row per (setting, seed), values by hand."""
    from mfh_lib import gaussian_kd
    from mfh_lib.data.gaussian_mvd import MVDSpec
    spec = MVDSpec(d1=10, d2=8, d=10, J1=(0, 1, 2), J2=tuple(range(1, 7)))
    acc = lambda *v: torch.tensor([v])  # noqa: E731
    results = gaussian_kd.KDResults((spec,), (3, 4), gaussian_kd.KDSettings(num_train=20), acc(90.0, 80.0),
                                    acc(60.0, 61.0), acc(70.0, 59.0), *[None] * 10)
    table = gaussian_kd.gain_table(results, predict=False)
    assert list(table.columns) == ["setting", "seed", "d1", "d2", "d", "n", "gamma", "alpha", "n_over_d2",
                                   "d1_over_d2", "teacher", "no_kd", "kd", "gain", "bayes"]
    assert table.seed.tolist() == [3, 4] and table.d1.tolist() == [10, 10] and table.n_over_d2.tolist() == [2.5, 2.5]
    assert table.teacher.tolist() == [90.0, 80.0] and table.gain.tolist() == [10.0, -2.0]
    assert ((table.bayes > 50) & (table.bayes <= 100)).all()


def test_theorem1_study_cached_and_fresh(tmp_path, monkeypatch):
    """theorem1_study: gamma = d0 / (2 dim - d0) per overlap (by hand: 0, 1/3, 1), the cached call
    writes to the cache and returns the fresh result; use_cache=False writes nothing."""
    from mfh_lib import theory
    settings = theory.Theorem1Settings(n=12, dim=2, num_shared=(0, 1, 2), seeds=1, reference_draws=2,
                                       flow_time=10.0, step=0.5, convergence_steps=(0.5,))
    monkeypatch.setenv("MFH_CACHE_DIR", str(tmp_path / "fresh"))
    fresh = theory.theorem1_study(settings, use_cache=False)
    assert not (tmp_path / "fresh").exists() or not any((tmp_path / "fresh").rglob("*.*"))
    torch.testing.assert_close(fresh["gamma"], torch.tensor([0.0, 1 / 3, 1.0], dtype=fresh["gamma"].dtype))
    monkeypatch.setenv("MFH_CACHE_DIR", str(tmp_path / "cached"))
    cached = theory.theorem1_study(settings)
    assert any((tmp_path / "cached").rglob("*.*"))
    again = theory.theorem1_study(settings)
    for out in (cached, again):
        torch.testing.assert_close(out["gamma"], fresh["gamma"])
        torch.testing.assert_close(out["risks"], fresh["risks"])
    # other settings are another cache entry (no stale hit)
    other = theory.theorem1_study(theory.Theorem1Settings(**{**settings.__dict__, "num_shared": (1,)}))
    torch.testing.assert_close(other["gamma"], torch.tensor([1 / 3], dtype=fresh["gamma"].dtype))
