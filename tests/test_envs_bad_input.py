"""Bad input: a ValueError naming the value and what was expected; state unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from coopbench.envs import make, make_batched


def snapshot(env) -> tuple:
    w = env._world
    return (
        w.agent_pos.copy(),
        w.agent_vel.copy(),
        w.landmark_pos.copy(),
        w.t,
        env._rng.bit_generator.state,
    )


def assert_unchanged(env, before: tuple) -> None:
    after = snapshot(env)
    for a, b in zip(before[:3], after[:3], strict=True):
        np.testing.assert_array_equal(a, b)
    assert before[3:] == after[3:]


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        (np.zeros((4, 2), dtype=np.int64), r"shape \(4, 3\).*got shape \(4, 2\)"),
        (np.zeros((4, 3), dtype=np.float32), "must be integers.*float32"),
        (np.full((4, 3), 5), "action 5 for agent 'agent_0' in world 0 is outside Discrete"),
        (np.full((4, 3), -1), "action -1 .* outside"),
    ],
)
def test_discrete_batched_rejections(actions, message) -> None:
    env = make_batched("pp", 4)
    env.reset(seed=0)
    before = snapshot(env)
    with pytest.raises(ValueError, match=message):
        env.step(actions)
    assert_unchanged(env, before)


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        (np.zeros((4, 3)), r"shape \(4, 3, 5\)"),
        (np.full((4, 3, 5), np.nan), "non-finite action .* agent 'agent_0' in world 0"),
        (np.full((4, 3, 5), np.inf), "non-finite"),
        (np.full((4, 3, 5), "a"), "dtype"),
    ],
)
def test_continuous_batched_rejections(actions, message) -> None:
    env = make_batched("pf", 4, continuous_actions=True)
    env.reset(seed=0)
    before = snapshot(env)
    with pytest.raises(ValueError, match=message):
        env.step(actions)
    assert_unchanged(env, before)


def test_nan_names_the_right_agent_and_world() -> None:
    env = make_batched("cn-v1", 3, continuous_actions=True)
    env.reset(seed=0)
    a = np.full((3, 3, 5), 0.5)
    a[2, 1, 3] = np.nan
    with pytest.raises(ValueError, match="agent 'agent_1' in world 2"):
        env.step(a)


def test_continuous_out_of_box_is_clipped_not_rejected() -> None:
    env, ref = (
        make_batched("cn-v1", 2, continuous_actions=True),
        make_batched("cn-v1", 2, continuous_actions=True),
    )
    env.reset(seed=1)
    ref.reset(seed=1)
    big = np.full((2, 3, 5), 3.0)
    big[..., 1] = -2.0
    o1, *_ = env.step(big)
    o2, *_ = ref.step(np.clip(big, 0, 1))
    np.testing.assert_array_equal(o1, o2)


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        ({"agent_0": 0, "agent_1": 0, "agent_9": 0}, r"unknown agent\(s\) \['agent_9'\]"),
        ({"agent_0": 0, "agent_1": 0}, r"no action for agent\(s\) \['agent_2'\]"),
        ({"agent_0": 0, "agent_1": 7, "agent_2": 0}, "action 7 for agent 'agent_1'"),
        ({"agent_0": 0.5, "agent_1": 0, "agent_2": 0}, "integers"),
        ({"agent_0": [0, 1], "agent_1": 0, "agent_2": 0}, "agent 'agent_0' has shape"),
        ([0, 0, 0], "must be a dict"),
    ],
)
def test_pettingzoo_rejections(actions, message) -> None:
    env = make("cn-v2")
    env.reset(seed=0)
    before = snapshot(env._core)
    with pytest.raises(ValueError, match=message):
        env.step(actions)
    assert_unchanged(env._core, before)
    assert env.agents == env.possible_agents


def test_pettingzoo_nan_continuous() -> None:
    env = make("spread", continuous_actions=True)
    env.reset(seed=0)
    acts = {a: np.full(5, 0.5, np.float32) for a in env.agents}
    acts["agent_2"] = np.array([0, 0, np.nan, 0, 0], np.float32)
    with pytest.raises(ValueError, match=r"non-finite .* agent 'agent_2'.*Box"):
        env.step(acts)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: make("cn-v3"), r"unknown task 'cn-v3'; expected one of \['spread'"),
        (lambda: make_batched("nope", 2), "unknown task 'nope'"),
        (lambda: make("cn-v1", n_agent=3), r"unknown keyword\(s\) \['n_agent'\]"),
        (lambda: make("cn-v1", obs_mode="pixels"), "obs_mode='pixels' is invalid"),
        (lambda: make("cn-v1", max_cycles=0), "max_cycles=0 is invalid"),
        (lambda: make("spread", local_ratio=2.0), "local_ratio=2.0 is invalid"),
        (lambda: make("cn-v2", n_landmarks=3), "n_landmarks=3 are invalid"),
        (lambda: make("cn-v1", render_mode="human"), "render_mode='human' is not supported"),
        (lambda: make_batched("cn-v1", 0), "num_envs=0 is invalid"),
    ],
)
def test_bad_construction(call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_step_protocol_errors() -> None:
    env = make_batched("cn-v1", 2)
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(np.zeros((2, 3), dtype=np.int64))
    env.reset(seed=0)
    for _ in range(25):
        env.step(np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(RuntimeError, match="does not auto-reset"):
        env.step(np.zeros((2, 3), dtype=np.int64))
