"""coopbench.integrations.sb3: an SB3 VecEnv over the budgeted env (agents as envs) that keeps
the budget, follows SB3's episode-end conventions and refuses bad input in one line."""

from __future__ import annotations

import numpy as np
import pytest
import stable_baselines3
from stable_baselines3 import PPO

from coopbench.algorithms.base import BudgetExhausted
from coopbench.envs import make_batched
from coopbench.harness import BudgetEnv
from coopbench.integrations.sb3 import SB3Policy, SB3VecEnv, check_sb3_version

B = 4


def budgeted(budget=1000, calls=None, task="spread", **kwargs) -> BudgetEnv:
    calls = [] if calls is None else calls
    return BudgetEnv(
        make_batched(task, B, **kwargs),
        budget,
        (0, 20, budget),
        lambda point, seen: calls.append(point),
    )


def test_episode_ends_follow_sb3_conventions():
    raw = make_batched("spread", B)
    vec = SB3VecEnv(budgeted())
    n, horizon = raw.task.n_agents, raw.task.max_cycles
    assert vec.num_envs == B * n and vec.action_space == raw.task.action_space
    vec.seed(7)
    obs = vec.reset()
    raw_obs, _ = raw.reset(seed=7)
    np.testing.assert_array_equal(obs, raw_obs.reshape(B * n, -1))
    rng = np.random.default_rng(0)
    for t in range(1, horizon + 1):
        actions = rng.integers(0, 5, B * n)
        obs, rewards, dones, infos = vec.step(actions)
        raw_obs, raw_rew, _, _, _ = raw.step(actions.reshape(B, n))
        assert rewards.dtype == np.float32 and rewards.shape == dones.shape == (B * n,)
        np.testing.assert_array_equal(rewards, raw_rew.reshape(-1))
        assert dones.all() == (t == horizon) and len(infos) == B * n
    for i, info in enumerate(infos):  # the last step: time limit, terminal observation kept
        assert info["TimeLimit.truncated"] is True
        np.testing.assert_array_equal(info["terminal_observation"], raw_obs.reshape(B * n, -1)[i])
    assert not np.array_equal(obs, raw_obs.reshape(B * n, -1))  # already the next episode


def test_stepping_past_the_budget_through_sb3_raises():
    calls: list[int] = []
    vec = SB3VecEnv(budgeted(budget=10 * B + 2, calls=calls))  # 10 whole steps of B worlds
    vec.reset()
    actions = np.zeros(vec.num_envs, dtype=np.int64)
    for _ in range(10):
        vec.step(actions)
    assert vec.venv.steps_taken == 10 * B and calls == [0, 20]  # the schedule ran
    with pytest.raises(BudgetExhausted):
        vec.step(actions)
    assert vec.venv.steps_taken == 10 * B


def test_sb3_ppo_learn_is_stopped_by_the_budget():
    """SB3 asked for more timesteps than the budget holds: the harness's env stops it."""
    env = budgeted(budget=30 * B)
    model = PPO("MlpPolicy", SB3VecEnv(env), n_steps=8, batch_size=48, n_epochs=1, seed=0)
    with pytest.raises(BudgetExhausted):
        model.learn(total_timesteps=10**6)
    assert env.steps_taken == 30 * B


def test_wrong_action_shape_is_one_line():
    vec = SB3VecEnv(budgeted())
    vec.reset()
    with pytest.raises(ValueError, match=r"must have shape \(12,\); got shape \(4, 3\)") as err:
        vec.step(np.zeros((B, 3), dtype=np.int64))
    assert "\n" not in str(err.value) and vec.venv.steps_taken == 0


def test_unsupported_sb3_version_is_one_line(monkeypatch):
    monkeypatch.setattr(stable_baselines3, "__version__", "1.8.0")
    with pytest.raises(RuntimeError, match=r"stable-baselines3 1\.8\.0 is not supported") as err:
        SB3VecEnv(budgeted())
    assert "\n" not in str(err.value) and "stable-baselines3>=2.0" in str(err.value)
    assert check_sb3_version("2.9.2") == "2.9.2"
    with pytest.raises(RuntimeError, match="not supported"):
        check_sb3_version("unknown")


def test_sb3_policy_maps_worlds_and_agents():
    for continuous in (False, True):
        vec = SB3VecEnv(budgeted(task="cn-v1", continuous_actions=continuous))
        model = PPO("MlpPolicy", vec, n_steps=8, batch_size=48, seed=0)
        obs = np.random.default_rng(0).normal(size=(5, 3, vec.task.obs_dim)).astype(np.float32)
        actions = SB3Policy(model)(obs)
        assert actions.shape == ((5, 3, 5) if continuous else (5, 3))
        flat, _ = model.predict(obs.reshape(15, -1), deterministic=True)
        np.testing.assert_array_equal(actions.reshape(15, *actions.shape[2:]), flat)
