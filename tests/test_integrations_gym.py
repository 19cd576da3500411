"""coopbench.integrations.gymnasium: gymnasium vector semantics (SAME_STEP auto-reset, final
observation in info) over the harness's budgeted env, which still counts every step."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers.vector import RecordEpisodeStatistics

from coopbench.algorithms.base import BudgetExhausted
from coopbench.envs import make_batched
from coopbench.harness import BudgetEnv
from coopbench.integrations.gymnasium import AgentVectorEnv, MultiAgentVectorEnv

B = 4  # worlds


def budgeted(task="spread", budget=1000, schedule=None, calls=None, **kwargs) -> BudgetEnv:
    calls = [] if calls is None else calls
    return BudgetEnv(
        make_batched(task, B, **kwargs),
        budget,
        schedule or (0, budget),
        lambda point, seen: calls.append((point, seen)),
    )


@pytest.mark.parametrize("continuous", [False, True])
def test_spaces_and_shapes_of_both_views(continuous):
    multi = MultiAgentVectorEnv(budgeted("cn-v1", continuous_actions=continuous))
    task, n = multi.task, multi.n_agents
    obs, _ = multi.reset(seed=0)
    assert multi.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert obs.shape == multi.observation_space.shape == (B, n, task.obs_dim)
    action = multi.action_space.sample()
    assert action.shape == ((B, n, 5) if continuous else (B, n))
    obs, rewards, terminated, truncated, _ = multi.step(action)
    assert obs.shape == (B, n, task.obs_dim) and rewards.shape == (B, n)
    assert terminated.shape == truncated.shape == (B,)

    flat = AgentVectorEnv(budgeted("cn-v1", continuous_actions=continuous))
    assert flat.num_envs == B * n
    assert flat.single_observation_space == task.observation_space
    assert flat.single_action_space == task.action_space
    obs, _ = flat.reset(seed=0)
    assert obs.shape == (B * n, task.obs_dim)
    obs, rewards, terminated, truncated, _ = flat.step(flat.action_space.sample())
    assert obs.shape == (B * n, task.obs_dim)
    assert rewards.shape == terminated.shape == truncated.shape == (B * n,)


def test_auto_reset_matches_the_raw_env_step_for_step():
    """The wrapper returns what the raw env returns, except that the step ending the episodes
    returns the next episode's first observation and moves the last one to info."""
    raw = make_batched("spread", B)
    wrapped = MultiAgentVectorEnv(budgeted("spread"))
    horizon = raw.task.max_cycles
    rng = np.random.default_rng(0)
    raw_obs, _ = raw.reset(seed=3)
    obs, _ = wrapped.reset(seed=3)
    np.testing.assert_array_equal(obs, raw_obs)
    for t in range(1, 2 * horizon + 1):
        actions = rng.integers(0, 5, (B, raw.task.n_agents))
        raw_obs, raw_rew, _, raw_trunc, _ = raw.step(actions)
        obs, rew, terminated, truncated, info = wrapped.step(actions)
        np.testing.assert_array_equal(rew, raw_rew)
        np.testing.assert_array_equal(truncated, raw_trunc)
        assert not terminated.any()
        if t % horizon:
            assert "final_obs" not in info
            np.testing.assert_array_equal(obs, raw_obs)
            continue
        assert truncated.all()
        np.testing.assert_array_equal(info["final_obs"], raw_obs)
        assert info["_final_obs"].all() and info["_final_info"].all()
        assert isinstance(info["final_info"], dict)
        raw_obs, _ = raw.reset()  # the random stream continues, as in the wrapper
        np.testing.assert_array_equal(obs, raw_obs)
        assert not np.array_equal(obs, info["final_obs"])
    assert wrapped.env.t == 0  # reset after the second episode too


def lockstep(task: str, seed: int):
    """One episode of a raw batched env and the agents-as-envs view driven by the same random
    actions; yields ``(t, raw step result, view step result)``."""
    raw = make_batched(task, B)
    flat = AgentVectorEnv(budgeted(task))
    n = raw.task.n_agents
    raw.reset(seed=seed)
    flat.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for t in range(1, raw.task.max_cycles + 1):
        actions = rng.integers(0, 5, (B, n))
        yield t, raw.step(actions), flat.step(actions.reshape(-1))  # agent i of world w: w*n+i


def test_agents_as_envs_is_world_major():
    steps = list(lockstep("spread", 1))
    assert len(steps) == 25
    for _, (raw_obs, raw_rew, _, _, _), (obs, rew, _, _, info) in steps:
        np.testing.assert_array_equal(rew, raw_rew.reshape(-1))
        if "final_obs" not in info:
            np.testing.assert_array_equal(obs, raw_obs.reshape(B * 3, -1))
    _, (raw_obs, *_), (_, _, _, truncated, info) = steps[-1]
    assert truncated.all() and info["_final_obs"].shape == (B * 3,)
    np.testing.assert_array_equal(info["final_obs"], raw_obs.reshape(B * 3, -1))


def test_per_world_info_is_repeated_per_agent_env():
    """pp reports captures per world; the agents-as-envs view gives each agent its world's."""
    _, (raw_obs, *_, raw_info), (*_, info) = list(lockstep("pp", 2))[-1]
    np.testing.assert_array_equal(
        info["final_info"]["captures"], np.repeat(raw_info["captures"], 3)
    )
    assert info["_final_info"].shape == info["_final_obs"].shape == (B * 3,)
    np.testing.assert_array_equal(info["final_obs"], raw_obs.reshape(B * 3, -1))


def test_record_episode_statistics_works_on_top():
    flat = AgentVectorEnv(budgeted("spread"))
    env = RecordEpisodeStatistics(flat)
    env.reset(seed=0)
    total = np.zeros(flat.num_envs)
    for _ in range(flat.task.max_cycles):
        _, rew, _, truncated, info = env.step(env.action_space.sample())
        total += rew
    assert truncated.all() and info["_episode"].all()
    np.testing.assert_allclose(info["episode"]["r"], total, rtol=1e-5)
    assert (info["episode"]["l"] == flat.task.max_cycles).all()


@pytest.mark.parametrize("view", [MultiAgentVectorEnv, AgentVectorEnv])
def test_every_step_counts_and_the_budget_cannot_be_exceeded(view):
    calls: list[tuple[int, int]] = []
    budget = 3 * 25 * B + 2 * B  # three episodes and two steps of B worlds
    env = view(budgeted(budget=budget, schedule=(0, 100, 200, budget), calls=calls))
    env.reset(seed=0)
    env.action_space.seed(0)
    steps = 0
    while not env.exhausted:
        env.step(env.action_space.sample())
        steps += 1
    assert steps == budget // B and env.steps_taken == budget and env.remaining == 0
    assert calls == [(0, 0), (100, 100), (200, 200)]  # the schedule ran through the wrapper
    with pytest.raises(BudgetExhausted, match="budget of 308 env steps"):
        env.step(env.action_space.sample())
    assert env.steps_taken == budget  # the refused step moved nothing


def test_wrong_action_shape_is_one_line():
    flat = AgentVectorEnv(budgeted("spread"))
    flat.reset(seed=0)
    with pytest.raises(ValueError, match=r"must have shape \(12,\); got shape \(4, 3\)") as err:
        flat.step(np.zeros((B, 3), dtype=int))
    assert "\n" not in str(err.value)
    multi = MultiAgentVectorEnv(budgeted("spread"))
    multi.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(4, 3\).*got shape \(12,\)") as err:
        multi.step(np.zeros(B * 3, dtype=int))
    assert "\n" not in str(err.value)
    assert multi.steps_taken == flat.steps_taken == 0


def test_bad_seed_and_step_before_reset():
    env = MultiAgentVectorEnv(budgeted())
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(env.action_space.sample())
    with pytest.raises(ValueError, match=r"seed=\[1, 2\] is invalid; expected one int"):
        env.reset(seed=[1, 2])
    with pytest.raises(TypeError, match="expected the TrainingEnv"):
        MultiAgentVectorEnv(object())


class _PartlyEnding:
    """A TrainingEnv whose world 1 ends alone (no coopbench task does this)."""

    def __init__(self):
        self.inner = make_batched("spread", B)
        self.task, self.num_envs = self.inner.task, B

    def reset(self, seed=None):
        return self.inner.reset(seed=seed)

    def step(self, actions):
        obs, rew, term, trunc, info = self.inner.step(actions)
        term = term.copy()
        term[1] = True
        return obs, rew, term, trunc, info


def test_worlds_ending_alone_are_refused():
    env = MultiAgentVectorEnv(_PartlyEnding())
    env.reset(seed=0)
    with pytest.raises(RuntimeError, match=r"worlds \[1\] of 4 ended alone"):
        env.step(np.zeros((B, 3), dtype=int))
