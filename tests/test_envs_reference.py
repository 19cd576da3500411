"""Stored reference returns (random, no-op, heuristic) are recomputed; the heuristic clearly
beats random; PF pushes and PP captures (under PP's version-1 chasing heuristic: the current
one guards instead) happen under the heuristic and (almost) never under random play."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest

from coopbench.envs import TASKS, make_batched, reference_returns
from coopbench.envs.heuristics import heuristic_policy
from coopbench.envs.reference import REFERENCE_POLICIES, REFERENCE_SEED, policy_returns

EPISODES = 300
STORED = json.loads(
    resources.files("coopbench.envs").joinpath("reference_returns.json").read_text()
)


@pytest.mark.parametrize("continuous", [False, True])
@pytest.mark.parametrize("task", TASKS)
def test_stored_references_recomputed(task: str, continuous: bool) -> None:
    """A fresh sample of 300 episodes (other seeds) agrees with the stored 2000-episode means
    within 4 standard errors of the difference (false-alarm rate ~6e-5 per check)."""
    mode = "continuous" if continuous else "discrete"
    stored = reference_returns(task, continuous_actions=continuous)
    assert set(stored) == set(REFERENCE_POLICIES)
    for policy in REFERENCE_POLICIES:
        fresh = policy_returns(
            task, policy, EPISODES, seed=REFERENCE_SEED + 1, continuous_actions=continuous
        )
        entry = STORED[task][mode][policy]
        se = np.hypot(entry["std"] / np.sqrt(EPISODES), entry["sem"])
        assert abs(fresh.mean() - stored[policy]) < 4 * se, (policy, fresh.mean(), stored)
    # "clearly": the gap is at least 10 standard errors of the stored means
    gap = stored["heuristic"] - stored["random"]
    sem = np.hypot(STORED[task][mode]["random"]["sem"], STORED[task][mode]["heuristic"]["sem"])
    assert gap > 10 * sem


@pytest.mark.parametrize("task", TASKS)
def test_noop_is_the_zero_force_action(task: str) -> None:
    """No-op play: discrete action 0 and the continuous zero vector both apply no force, so
    on the same worlds they give the same returns (stored and fresh); with no force and no
    contact an agent never moves."""
    assert STORED[task]["discrete"]["noop"] == STORED[task]["continuous"]["noop"]
    discrete = policy_returns(task, "noop", 20, continuous_actions=False)
    continuous = policy_returns(task, "noop", 20, continuous_actions=True)
    np.testing.assert_array_equal(discrete, continuous)
    env = make_batched(task, 1)
    env.reset(seed=5)
    env._world.agent_pos[0] = [[-0.8, -0.8], [0.0, 0.8], [0.8, -0.8]]  # far apart
    start = env._world.agent_pos.copy()
    for _ in range(5):
        env.step(np.zeros((1, 3), dtype=np.int64))
    np.testing.assert_array_equal(env._world.agent_pos, start)


def test_reference_returns_reject_non_default_config() -> None:
    with pytest.raises(ValueError, match="non-default"):
        reference_returns("cn-v1", max_cycles=10)
    assert reference_returns("cn-v1", obs_mode="relative") == reference_returns("cn-v1")


def event_counts(
    task: str, event: str, scripted: bool, episodes: int = 200, version: int | None = None
) -> float:
    env = make_batched(task, episodes)
    env.reset(seed=11)
    policy = heuristic_policy(task, version=version)
    rng = np.random.default_rng(0)
    total = 0.0
    for _ in range(env.task.max_cycles):
        actions = policy(env.state()) if scripted else rng.integers(0, 5, (episodes, 3))
        *_, info = env.step(actions)
        total += float(np.sum(info[event]))
    return total / episodes


@pytest.mark.parametrize(
    ("task", "event", "version"), [("pf", "push", None), ("pp", "captures", 1)]
)
def test_events_under_heuristic_and_random(task: str, event: str, version: int | None) -> None:
    heuristic = event_counts(task, event, scripted=True, version=version)
    random = event_counts(task, event, scripted=False)
    assert heuristic >= 1.0, heuristic  # at least one push/capture per episode on average
    assert random <= 0.05, random
