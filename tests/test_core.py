"""Unit tests of mfh_lib's core: settings, cache, statistics, ledger, KD loss, seed-vectorised training."""
import json
import math
import os
import platform

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mfh_lib import cache, claims, config, losses, models, stats, training
from mfh_lib.data import gaussian_mvd as mvd


# --- config -----------------------------------------------------------------------------------

def test_unknown_profile_names_the_choices():
    with pytest.raises(config.ConfigError, match=r"unknown profile 'fast'.*\['full', 'quick'\]"):
        config.select_profile({"quick": {}, "full": {}}, "fast")


def test_load_profile_overrides(tmp_path, monkeypatch):
    (tmp_path / "demo.json").write_text(json.dumps({"quick": {"seeds": 3, "lr": 0.1}, "full": {"seeds": 10, "lr": 0.1}}))
    monkeypatch.setattr(config, "CONFIG_DIR", tmp_path)
    assert config.load_profile("demo", "quick", seeds=None) == {"seeds": 3, "lr": 0.1}
    assert config.load_profile("demo", "full", seeds=2)["seeds"] == 2
    with pytest.raises(config.ConfigError, match="unknown setting"):
        config.load_profile("demo", "quick", epochs=5)
    with pytest.raises(config.ConfigError, match="no settings file"):
        config.load_profile("missing", "quick")


def test_data_dir_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv(config.DATA_ENV_VAR, raising=False)
    assert config.resolve_data_dir(None) is None
    monkeypatch.setenv(config.DATA_ENV_VAR, str(tmp_path))
    assert config.resolve_data_dir(None) == tmp_path.resolve()
    with pytest.raises(config.ConfigError, match="does not exist.*MFH_DATA_DIR"):
        config.resolve_data_dir(tmp_path / "nope")
    with pytest.raises(config.ConfigError, match="expected MNIST"):
        config.require_subdir(tmp_path, "mnist", "MNIST (mnist.npz)")


def test_unit_interval_and_device():
    assert config.check_unit_interval("gamma", 0.5) == 0.5
    for bad in (-0.1, 1.5):
        with pytest.raises(config.ConfigError, match=r"gamma must lie in \[0, 1\]"):
            config.check_unit_interval("gamma", bad)
    assert config.pick_device("cpu").type == "cpu"
    assert config.pick_device("auto").type in ("cpu", "cuda")
    with pytest.raises(config.ConfigError):
        config.pick_device("tpu")


# --- cache ------------------------------------------------------------------------------------

def test_cache_computes_once_and_resumes(tmp_path):
    calls = []
    store = cache.ResultsCache("demo", root=tmp_path)
    compute = lambda: calls.append(1) or {"acc": torch.tensor([1.0, 2.0])}
    first = store.get_or_compute({"seed": 0}, compute)
    again = cache.ResultsCache("demo", root=tmp_path).get_or_compute({"seed": 0}, compute)
    assert len(calls) == 1 and torch.equal(first["acc"], again["acc"])
    store.get_or_compute({"seed": 1}, compute)
    assert len(calls) == 2
    assert not list((tmp_path / "demo").glob("*.tmp")), "temporary files must not survive a write"


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "x.json"
    cache.atomic_write_text(target, "old")

    with pytest.raises(TypeError):
        cache.atomic_write_bytes(target, "not bytes")  # fails mid-write
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


# --- stats ------------------------------------------------------------------------------------

def test_summary_golden():
    s = stats.summarize([1.0, 2.0, 3.0, 4.0])
    assert s.mean == 2.5 and s.std == pytest.approx(1.2909944)
    # t_{0.975, 3} = 3.182446; half width = t * s / sqrt(n)
    assert s.ci_high - s.mean == pytest.approx(3.182446 * 1.2909944 / 2, rel=1e-5)
    assert stats.mean_std([1, 2, 3, 4]) == "2.50 ± 1.29"


def test_spearman_over_seeds():
    x = np.arange(6)
    rng = np.random.default_rng(0)
    y = x[None, :] + 0.1 * rng.standard_normal((10, 6))
    rho, (lo, hi) = stats.spearman_over_seeds(x, y, num_resamples=200)
    assert rho == pytest.approx(1.0) and lo > 0.8 and hi <= 1.0


# --- claims -----------------------------------------------------------------------------------

def test_ledger_roundtrip(tmp_path, monkeypatch):
    monkeypatch.setattr(claims, "PAPER_DIR", tmp_path)
    monkeypatch.setenv(claims.RESULTS_ENV_VAR, str(tmp_path / "results"))
    (tmp_path / "demo.json").write_text(json.dumps({"c1": {
        "category": "paper", "source": "Tab. 1", "setting": "s", "statement": "x > y", "paper_value": 61.0,
        "paper_std": None, "unit": "%", "test": {"kind": "not testable", "reason": "absolute number on a stand-in"}}}))
    ledger = claims.Ledger("demo", "quick", "stand-in")
    ledger.test("c1", [60.0, 62.0])  # t_{0.975,1} = 12.706, se = 1: [48.29, 73.71]
    ledger.save()
    rows = claims.load_all_results()
    assert rows[0]["estimate"]["point"] == 61.0 and rows[0]["estimate"]["n"] == 2
    assert rows[0]["verdict"] == "not testable" and rows[0]["reason"] == "absolute number on a stand-in"
    frame = claims.ledger_frame(rows)
    assert frame.loc[0, "paper"] == "61.00" and frame.loc[0, "ours [95% CI]"] == "61.00 [48.29, 73.71]"
    # rows read back through pandas carry NaN, not None, for a missing paper std
    assert claims.ledger_frame([{**rows[0], "paper_std": float("nan")}]).loc[0, "paper"] == "61.00"
    assert "verdict-not-testable" in claims.ledger_html(rows)


# --- losses -----------------------------------------------------------------------------------

def test_kd_loss_limits_and_golden():
    torch.manual_seed(0)
    s, t = torch.randn(8, 5), torch.randn(8, 5)
    y = torch.randint(0, 5, (8,))
    assert torch.allclose(losses.kd_loss(s, t, y, rho=1.0), F.cross_entropy(s, y))
    kl = F.kl_div(F.log_softmax(s, 1), F.log_softmax(t, 1), log_target=True, reduction="batchmean")
    assert torch.allclose(losses.kd_loss(s, t, None, rho=0.0), kl, atol=1e-6)
    mixed = losses.kd_loss(s, t, y, rho=0.5, temperature=2.0)
    kl_t = F.kl_div(F.log_softmax(s / 2, 1), F.log_softmax(t / 2, 1), log_target=True, reduction="batchmean") * 4
    assert torch.allclose(mixed, 0.5 * F.cross_entropy(s, y) + 0.5 * kl_t, atol=1e-6)
    assert losses.kd_loss(s, s.clone(), None, rho=0.0).abs() < 1e-6
    with pytest.raises(config.ConfigError):
        losses.kd_loss(s, t, y, rho=1.5)


def test_kd_loss_pixelwise_equals_flattened():
    torch.manual_seed(1)
    s, t = torch.randn(2, 4, 3, 5), torch.randn(2, 4, 3, 5)
    y = torch.randint(0, 4, (2, 3, 5))
    flat = lambda z: z.permute(0, 2, 3, 1).reshape(-1, 4)
    assert torch.allclose(losses.kd_loss(s, t, y, 0.3, 2.0), losses.kd_loss(flat(s), flat(t), y.reshape(-1), 0.3, 2.0), atol=1e-6)


# --- training ---------------------------------------------------------------------------------

def test_ensemble_members_train_independently():
    """Training S members at once gives the same weights as training each alone."""
    torch.manual_seed(0)
    x, y = torch.randn(3, 64, 6), torch.randint(0, 2, (3, 64))
    make = lambda: models.MLP(6, [8], 2)
    loss = lambda ens, xb, yb: torch.vmap(F.cross_entropy)(ens(xb), yb)
    ens = training.Ensemble(make, 3, seed=10)
    training.train_ensemble(ens, [x, y], loss, num_epochs=20, lr=0.1, momentum=0.9)
    for i in range(3):
        torch.manual_seed(10 + i)
        alone = make()
        opt = torch.optim.SGD(alone.parameters(), lr=0.1, momentum=0.9)
        for _ in range(20):
            opt.zero_grad()
            F.cross_entropy(alone(x[i]), y[i]).backward()
            opt.step()
        for name, value in alone.state_dict().items():
            assert torch.allclose(ens.member_state_dict(i)[name], value, atol=1e-5), name


def test_member_batches_shuffle_per_member_and_cover_data():
    x = torch.arange(10.0)
    gen = torch.Generator().manual_seed(0)
    batches = list(training.member_batches([x], [True], 2, 4, gen))
    seen = torch.cat([b[0] for b in batches], dim=1)
    assert seen.shape == (2, 10)
    assert all(sorted(row.tolist()) == list(range(10)) for row in seen)
    assert not torch.equal(seen[0], seen[1])


def test_predict_and_accuracy_shapes():
    ens = training.Ensemble(lambda: models.LinearClassifier(4, 3), 2)
    logits = training.predict_ensemble(ens, torch.randn(7, 4), shared=True, batch_size=3)
    assert logits.shape == (2, 7, 3)
    acc = training.member_accuracy(logits, logits.argmax(-1)[0])
    assert acc[0] == 100.0


# --- Gaussian MVD generator -------------------------------------------------------------------

def test_mvd_ratios_follow_appendix_b2():
    # Fig. 2 layout of the authors' code: J2 = 0..9, J1 = 10-k .. 19-k.
    for k, gamma in zip(range(0, 11, 2), [0, 0.11, 0.25, 0.43, 0.67, 1.0]):
        spec = mvd.MVDSpec(25, 50, 20, tuple(range(10 - k, 20 - k)), tuple(range(10)))
        assert round(spec.gamma, 2) == gamma
        assert spec.alpha == pytest.approx(spec.beta) == pytest.approx((1 - spec.gamma) / 2)
        assert math.isclose(spec.alpha + spec.beta + spec.gamma, 1.0)


def test_mvd_bad_specs_raise():
    with pytest.raises(config.ConfigError, match="do not fit"):
        mvd.MVDSpec(5, 50, 20, tuple(range(10)), (0,))
    with pytest.raises(config.ConfigError, match="repeated"):
        mvd.MVDSpec(25, 50, 20, (1, 1), (0,))
    with pytest.raises(config.ConfigError, match=r"gamma must lie in \[0, 1\]"):
        mvd.spec_for_gamma(1.2, 20, 25, 50)
    with pytest.raises(config.ConfigError, match="delta must have shape"):
        spec = mvd.spec_for_gamma(0.5, 20, 25, 50)
        mvd.sample_mvd(spec, 10, torch.zeros(2, 3), torch.Generator())


def test_mvd_samples_share_decisive_columns():
    spec = mvd.spec_for_gamma(0.5, 20, 25, 50)
    gen = torch.Generator().manual_seed(0)
    delta = mvd.draw_hyperplane(spec.d, 3, gen)
    xa, xb, y = mvd.sample_mvd(spec, 100, delta, gen)
    assert xa.shape == (3, 100, 25) and xb.shape == (3, 100, 50) and y.shape == (3, 100)
    shared = list(spec.shared_columns)
    assert torch.equal(xa[..., shared], xb[..., shared])
    assert 0.3 < y.float().mean() < 0.7


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="the CPU pins are x86-64 only")
def test_cpu_pins_reach_torch():
    # conftest sets them before torch loads; a golden made on another CPU reproduces only if they hold
    import mfh_lib

    for name, value in mfh_lib.REPRODUCIBLE_CPU_ENV.items():
        assert os.environ[name] == value
    assert torch.backends.cpu.get_cpu_capability() in ("AVX2", "DEFAULT")
