"""Cross-check coopbench.stats against rliable (the `dev` extra installs it)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from coopbench.stats import (
    iqm,
    probability_of_improvement,
    probability_of_improvement_ci,
    stratified_bootstrap_ci,
)

pytest.importorskip("rliable")
from rliable import library as rly
from rliable import metrics

# Both implementations draw their bootstrap indices from different generators (rliable uses
# numpy's legacy global RandomState), so intervals can only agree up to Monte Carlo error.
# For a percentile endpoint at level p from B replicates, the standard error is
# sqrt(p (1 - p) / B) / f(q), with f the bootstrap density at the quantile. For a roughly
# normal bootstrap distribution with standard deviation s (0.15 for the IQM of the 10 x 5
# scores below), at p = 0.025 and B = 20000 that is 0.019 * s ~= 0.003 per implementation
# (measured over 20 seeds: 0.0022 low, 0.0026 high), so <= 0.004 for the difference of two.
# IQM_TOL = 0.02 is >= 5 standard errors: loose enough never to trip on sampling noise, yet
# far tighter than the interval half-width (~0.29). On this data a wrong resampling scheme
# misses it: pooling the runs x tasks cells shifts the endpoints by 0.10 / 0.07, also
# resampling tasks by 0.57 / 0.37. (The basic interval differs by only ~0.014 here, so
# percentile-vs-basic is not what this tolerance detects; arch's percentile rule is mirrored
# directly in the code.)
IQM_REPS = 20_000
IQM_TOL = 0.02
# rliable's probability-of-improvement bootstrap runs scipy's Mann-Whitney U per task and per
# replicate in Python (~0.45 ms each), so it gets only 2000 replicates. With 6 x 5 runs on 3
# tasks the statistic lives on a lattice of step 1/90 ~= 0.011, and at 2000 replicates
# rliable's endpoints move by one lattice step from seed to seed (measured over 4 seeds:
# lower 0.378..0.400, upper 0.822; ours at 20000 replicates: 0.389 and 0.811..0.822 over
# 10 seeds). POI_TOL = 0.04 allows ~3.5 lattice steps. This is a coarse agreement check
# only (pooling the tasks shifts these endpoints by just 0.011 / 0.033); the per-task
# stratification itself is tested exactly in test_stats.py.
POI_RLIABLE_REPS = 2_000
POI_TOL = 0.04


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _scores(runs: int, tasks: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(runs, tasks)) + rng.normal(size=tasks)  # spread ~1 per task


@pytest.mark.parametrize(("runs", "tasks"), [(10, 5), (7, 3), (5, 1), (13, 2)])
def test_iqm_point_matches_rliable(runs, tasks):
    d = _scores(runs, tasks, seed=runs)
    assert iqm(d) == pytest.approx(metrics.aggregate_iqm(d), rel=1e-12, abs=1e-12)


def test_iqm_interval_matches_rliable():
    d = _scores(10, 5, seed=2024)
    np.random.seed(0)  # noqa: NPY002 -- rliable samples from the global legacy RandomState
    points, intervals = rly.get_interval_estimates(
        {"a": d}, lambda x: np.array([metrics.aggregate_iqm(x)]), reps=IQM_REPS
    )
    r_point = float(points["a"][0])
    r_low, r_high = (float(v) for v in intervals["a"].ravel())
    point, low, high = stratified_bootstrap_ci(d, iqm, reps=IQM_REPS, seed=0)
    print(f"IQM rliable ({r_point:.6f}, {r_low:.6f}, {r_high:.6f}) ours ({point:.6f}, ", end="")
    print(f"{low:.6f}, {high:.6f}) |dlow|={abs(low - r_low):.4f} |dhigh|={abs(high - r_high):.4f}")
    assert point == pytest.approx(r_point, rel=1e-12, abs=1e-12)
    assert low == pytest.approx(r_low, abs=IQM_TOL)
    assert high == pytest.approx(r_high, abs=IQM_TOL)


@pytest.mark.parametrize("seed", range(4))
def test_probability_of_improvement_matches_rliable(seed):
    rng = np.random.default_rng(seed)
    tasks = 1 + seed
    x = rng.normal(size=(6, tasks)) + 0.3
    y = rng.normal(size=(4 + seed, tasks))
    assert probability_of_improvement(x, y) == pytest.approx(
        metrics.probability_of_improvement(x, y), abs=1e-12
    )
    xi = rng.integers(0, 3, size=(5, tasks)).astype(float)  # many ties
    yi = rng.integers(0, 3, size=(7, tasks)).astype(float)
    assert probability_of_improvement(xi, yi) == pytest.approx(
        metrics.probability_of_improvement(xi, yi), abs=1e-12
    )
    assert probability_of_improvement(xi, xi) == metrics.probability_of_improvement(xi, xi)


def test_probability_of_improvement_interval_matches_rliable():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(6, 3))
    y = rng.normal(size=(5, 3)) + 0.3
    np.random.seed(0)  # noqa: NPY002 -- rliable samples from the global legacy RandomState
    points, intervals = rly.get_interval_estimates(
        {"xy": (x, y)}, metrics.probability_of_improvement, reps=POI_RLIABLE_REPS
    )
    r_point = float(points["xy"])
    r_low, r_high = (float(v) for v in intervals["xy"].ravel())
    point, low, high = probability_of_improvement_ci(x, y, reps=20_000, seed=0)
    print(f"PoI rliable ({r_point:.6f}, {r_low:.6f}, {r_high:.6f}) ours ({point:.6f}, ", end="")
    print(f"{low:.6f}, {high:.6f}) |dlow|={abs(low - r_low):.4f} |dhigh|={abs(high - r_high):.4f}")
    assert point == pytest.approx(r_point, abs=1e-12)
    assert low == pytest.approx(r_low, abs=POI_TOL)
    assert high == pytest.approx(r_high, abs=POI_TOL)
