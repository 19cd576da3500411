"""Suite ranking speed: ``suite_board`` on 10 entries x 4 tasks x 5 seeds, 2000 bootstrap
replicates, 101 evaluation points per run.

Run: ``pytest tests/benchmarks/test_suites_speed.py -m bench`` (one thread:
``OMP_NUM_THREADS=1``). ``curves=False`` is what ``coopbench leaderboard show --suite``
computes (aggregates for final and AUC, performance profiles, the PoI matrix); the default
adds the aggregated sample-efficiency curves (a bootstrap per evaluation step). Speed is
reported, never asserted.
"""

from __future__ import annotations

import numpy as np
import pytest

from coopbench.leaderboard.scoring import Entry, Leaderboard, RunScores
from coopbench.leaderboard.suites import SUITES, suite_board
from coopbench.stats import Interval

ENTRIES, SEEDS, POINTS = 10, 5, 101


def _board() -> Leaderboard:
    rng = np.random.default_rng(0)
    steps = np.arange(POINTS) * 10_000
    nan = Interval(0.0, 0.0, 0.0)
    entries = []
    for k in range(ENTRIES):
        for task in SUITES["ctedd"]:
            runs = []
            for seed in range(SEEDS):
                curve = (0.3 + 0.05 * k + 0.1 * rng.normal()) * np.sqrt(steps / steps[-1])
                runs.append(
                    RunScores(
                        f"{k}-{task}-{seed}", seed, f"algo{k}", "0" * 16, int(steps[-1]),
                        steps, curve, float(curve[-1]), float(curve.mean()), 0, True, 0.0,
                    )
                )  # fmt: skip
            entries.append(
                Entry(
                    task, False, "standard", int(steps[-1]), f"algo{k}", False, False, runs,
                    nan, nan, nan, 0, True, 0, steps, steps * 0.0, steps * 0.0, steps * 0.0,
                )
            )  # fmt: skip
    return Leaderboard(entries, 0.5)


@pytest.mark.bench
@pytest.mark.parametrize("curves", [False, True])
def test_suite_board_speed(benchmark, curves):
    board = _board()
    (sb,) = benchmark(suite_board, board, "ctedd", reps=2000, curves=curves)
    assert len(sb.rows) == ENTRIES and len(sb.poi) == ENTRIES
