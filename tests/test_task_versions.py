"""Version-2 heuristics (PP: guarding instead of chasing; PF: pushing without stalling), their
margin over version 1's on the reference worlds, and how versions are handled (stored
references, scoring of old runs)."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest

from coopbench.envs import make_task, reference_returns, scoring_references
from coopbench.envs.heuristics import heuristic_policy
from coopbench.envs.reference import REFERENCE_POLICIES, measure, policy_returns
from coopbench.leaderboard import aggregate
from leaderboard_fakes import fake_submission

STORED = json.loads(
    resources.files("coopbench.envs").joinpath("reference_returns.json").read_text()
)
MODES = [False, True]
BUMPED = ["pp", "pf"]


@pytest.mark.parametrize("continuous", MODES)
@pytest.mark.parametrize(
    ("task_id", "min_ratio", "min_better"),
    # measured on these worlds: PP 2.6x / 2.8x (discrete / continuous), better in ≥ 80%;
    # PF 3.1x / 2.1x, better in 98% / 93%
    [("pp", 2.0, 0.8), ("pf", 1.8, 0.9)],
)
def test_version_2_widens_the_gap_over_random_on_the_reference_worlds(
    task_id: str, min_ratio: float, min_better: float, continuous: bool
) -> None:
    """On the same 500 reference worlds the version-2 heuristic's gap over random play is
    ``min_ratio`` times version 1's or more, and it does better than version 1 in at least
    ``min_better`` of the worlds."""
    kw = {"continuous_actions": continuous}
    new = policy_returns(task_id, "heuristic", 500, **kw)
    old = policy_returns(task_id, "heuristic", 500, version=1, **kw)
    rand = policy_returns(task_id, "random", 500, **kw)
    gap_new, gap_old = new.mean() - rand.mean(), old.mean() - rand.mean()
    assert gap_new >= min_ratio * gap_old, (new.mean(), old.mean())
    assert np.mean(new > old) >= min_better


@pytest.mark.parametrize("continuous", MODES)
@pytest.mark.parametrize("task_id", BUMPED)
def test_version_1_heuristic_reproduces_its_stored_reference(
    task_id: str, continuous: bool
) -> None:
    """A retired heuristic is kept exactly: on the 2,000 reference worlds it returns the
    stored version-1 mean (same worlds, same code)."""
    mode = "continuous" if continuous else "discrete"
    r = policy_returns(task_id, "heuristic", 2000, version=1, continuous_actions=continuous)
    old = reference_returns(task_id, version=1, continuous_actions=continuous)
    assert r.mean() == pytest.approx(old["heuristic"], abs=1e-3)
    stored = STORED[task_id]["previous"]["1"][mode]
    assert old == {p: stored[p]["mean"] for p in REFERENCE_POLICIES}


@pytest.mark.parametrize("task_id", BUMPED)
def test_versions_of_a_bumped_task(task_id: str) -> None:
    task = make_task(task_id)
    assert task.version == 2 and task.same_dynamics_as == (1,)
    new, old = reference_returns(task_id), reference_returns(task_id, version=1)
    assert reference_returns(task_id, version=2) == new
    # same dynamics: random and no-op play score the same; only the heuristic changed
    assert (new["random"], new["noop"]) == (old["random"], old["noop"])
    assert new["heuristic"] > old["heuristic"]
    with pytest.raises(ValueError, match=r"version 3.*expected one of \[1, 2\]"):
        reference_returns(task_id, version=3)
    with pytest.raises(ValueError, match=r"no heuristic for version 3"):
        heuristic_policy(task_id, version=3)
    with pytest.raises(ValueError, match=r"version 0"):
        heuristic_policy("cn-v1", version=0)


def test_runs_of_version_1_are_scored_against_version_2_references() -> None:
    """Same dynamics: a version-1 run's raw returns are normalised with the current
    references; a version the task does not declare the same is refused by name."""
    assert scoring_references("pp", 1) == scoring_references("pp", 2) == reference_returns("pp")
    with pytest.raises(ValueError, match=r"version 0 .* runs of versions \[1, 2\]"):
        scoring_references("pp", 0)
    with pytest.raises(ValueError, match="version 0"):
        scoring_references("cn-v1", 0)
    runs = [fake_submission(f"pp-{v}", task="pp", seed=v) for v in (0, 1, 2)]
    for v, doc in enumerate(runs):
        doc["task"]["version"] = v
    board = aggregate(runs, reps=50)
    assert [k for k, _ in board.skipped] == ["pp-0"]
    # fake returns are built at normalised level step/budget with the current references
    for entry in board.entries:
        assert entry.task_version in (1, 2)
        np.testing.assert_allclose(entry.curve_iqm, entry.curve_steps / 100, atol=1e-9)


def test_a_version_bump_keeps_the_old_entry_and_needs_every_policy() -> None:
    """``measure`` moves a replaced version's entry under "previous" and refuses to store a new
    version without all three references."""
    stored = json.loads(json.dumps(STORED))
    stored["pp"]["version"] = 1
    del stored["pp"]["previous"]
    with pytest.raises(ValueError, match=r"pp version 2 has no stored discrete returns"):
        measure(("random",), episodes=4, stored=stored)
    out = measure(REFERENCE_POLICIES, episodes=4, stored=stored)
    assert out["pp"]["version"] == 2 and list(out["pp"]) == [
        "version",
        "discrete",
        "continuous",
        "previous",
    ]
    assert out["pp"]["previous"]["1"]["discrete"] == STORED["pp"]["discrete"]
    assert out["pp"]["discrete"]["heuristic"]["episodes"] == 4
    assert out["cn-v1"]["version"] == 1 and "previous" not in out["cn-v1"]
