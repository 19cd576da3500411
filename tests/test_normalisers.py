"""Running mean/std and MAPPO's ValueNorm against statistics computed by hand with numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from coopbench.algorithms.normalisers import RunningMeanStd, ValueNorm, make_value_norm


def test_running_mean_std_matches_numpy_over_uneven_chunks() -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(3.0, 2.0, size=(101, 4))
    rms = RunningMeanStd(shape=(4,))
    for chunk in np.split(data, [1, 7, 50, 51]):
        rms.update(torch.as_tensor(chunk))
    np.testing.assert_allclose(rms.mean.numpy(), data.mean(0), rtol=1e-12)
    np.testing.assert_allclose(rms.var.numpy(), data.var(0), rtol=1e-12)
    assert rms.count.item() == 101


def test_running_mean_std_normalise_round_trip() -> None:
    rms = RunningMeanStd()
    x = torch.tensor([1.0, 5.0, 9.0, -3.0])
    rms.update(x)
    z = rms.normalise(x)
    assert z.dtype == x.dtype
    np.testing.assert_allclose(z.mean().item(), 0.0, atol=1e-6)
    np.testing.assert_allclose(z.pow(2).mean().item(), 1.0, atol=1e-5)  # population variance
    np.testing.assert_allclose(rms.denormalise(z).numpy(), x.numpy(), rtol=1e-6)


def test_value_norm_first_update_is_debiased_batch_statistics() -> None:
    """With one batch the debiased EMA equals the batch mean and variance exactly."""
    x = torch.tensor([2.0, 4.0, 10.0])
    vn = ValueNorm(beta=0.9)
    vn.update(x)
    mean, var = vn.stats()
    assert mean.item() == pytest.approx(16.0 / 3.0)
    assert var.item() == pytest.approx(np.var([2.0, 4.0, 10.0]))


def test_value_norm_two_updates_by_hand() -> None:
    """``w = beta ** n`` per element (MAPPO default): m, s and d accumulate as documented."""
    beta = 0.9
    vn = ValueNorm(beta=beta)
    a, b = torch.tensor([1.0, 3.0]), torch.tensor([10.0])
    vn.update(a)
    vn.update(b)
    w1, w2 = beta**2, beta**1
    m = (1 - w1) * 2.0 * w2 + (1 - w2) * 10.0
    s = (1 - w1) * 5.0 * w2 + (1 - w2) * 100.0
    d = (1 - w1) * w2 + (1 - w2)
    mean, var = vn.stats()
    assert mean.item() == pytest.approx(m / d)
    assert var.item() == pytest.approx(s / d - (m / d) ** 2)
    per_update = ValueNorm(beta=beta, per_element=False)
    per_update.update(a)
    per_update.update(b)
    w = beta
    m2 = (1 - w) * 2.0 * w + (1 - w) * 10.0
    d2 = (1 - w) * w + (1 - w)
    assert per_update.stats()[0].item() == pytest.approx(m2 / d2)


def test_value_norm_round_trip_and_variance_floor() -> None:
    vn = ValueNorm(var_floor=1e-2)
    vn.update(torch.full((8,), 5.0))  # zero variance → floored
    mean, var = vn.stats()
    assert mean.item() == pytest.approx(5.0)
    assert var.item() == pytest.approx(1e-2)
    x = torch.tensor([4.0, 5.5, 7.0])
    np.testing.assert_allclose(vn.denormalise(vn.normalise(x)).numpy(), x.numpy(), rtol=1e-6)


def test_statistics_travel_in_the_state_dict() -> None:
    vn = ValueNorm()
    vn.update(torch.arange(10.0))
    other = ValueNorm()
    other.load_state_dict(vn.state_dict())
    assert torch.equal(other.stats()[0], vn.stats()[0])
    rms, rms2 = RunningMeanStd((2,)), RunningMeanStd((2,))
    rms.update(torch.randn(5, 2))
    rms2.load_state_dict(rms.state_dict())
    assert torch.equal(rms2.var, rms.var) and rms2.count.item() == 5


def test_bad_input_raises_value_error() -> None:
    with pytest.raises(ValueError, match=r"beta=1\.5"):
        ValueNorm(beta=1.5)
    with pytest.raises(ValueError, match="empty batch"):
        ValueNorm().update(torch.zeros(0))
    with pytest.raises(ValueError, match="empty batch"):
        RunningMeanStd().update(torch.zeros(0))
    with pytest.raises(ValueError, match="value_norm='popart'"):
        make_value_norm("popart")


def test_make_value_norm_kinds() -> None:
    assert isinstance(make_value_norm("ema"), ValueNorm)
    assert isinstance(make_value_norm("running"), RunningMeanStd)
    x = torch.tensor([1.0, 2.0])
    none = make_value_norm("none")
    none.update(x)
    assert torch.equal(none.normalise(x), x) and torch.equal(none.denormalise(x), x)
