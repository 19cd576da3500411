"""The recurrent-policy protocol of the evaluation (docs/contracts.md, "Recurrent policies").

A counting policy keeps the number of steps it has taken in its hidden state and picks its
action from that count, so its returns show whether the evaluation carried the state from
step to step and reset it at the episode start: they are compared with an open-loop schedule
that reads the env's step counter (``env.t``), and with the same schedule shifted by one
episode (what a state carried over from the previous evaluation would play).
"""

from __future__ import annotations

import numpy as np
import pytest

from coopbench.envs import make_batched, rollout, save_gif
from coopbench.envs.episodes import is_recurrent, policy_act
from coopbench.harness.evaluate import EvaluationError, evaluate_policy
from coopbench.harness.pretrained import evaluate_pretrained
from coopbench.harness.protocol import get_protocol

TASK, EPISODES, SEED = "spread", 8, 7


def scheduled_action(count: np.ndarray) -> np.ndarray:
    """The action every agent takes after ``count`` steps of the episode."""
    return (count // 3) % 5


class CountingPolicy:
    """Recurrent: the hidden state is the step count ``[B]`` of the episode so far."""

    centralised = False

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []  # the hidden state given at every call
        self.resets = 0

    def initial_state(self, batch: int) -> np.ndarray:
        self.resets += 1
        return np.zeros(batch, dtype=np.int64)

    def __call__(self, obs, state=None, *, hidden):
        self.seen.append(hidden.copy())
        actions = np.repeat(scheduled_action(hidden)[:, None], obs.shape[1], axis=1)
        return actions, hidden + 1


class CentralisedCounting(CountingPolicy):
    centralised = True

    def __init__(self) -> None:
        super().__init__()
        self.states: list[tuple[int, ...]] = []

    def __call__(self, obs, state=None, *, hidden):
        self.states.append(np.shape(state))
        return super().__call__(obs, hidden=hidden)


def open_loop_returns(offset: int, episodes: int = EPISODES, seed: int = SEED) -> np.ndarray:
    """Team returns of the schedule played from step ``offset`` on, read from ``env.t``."""
    env = make_batched(TASK, episodes)

    def act(obs, env):
        count = np.full(env.num_envs, env.t + offset)
        return np.repeat(scheduled_action(count)[:, None], obs.shape[1], axis=1)

    return rollout(env, act, seed)


def test_hidden_state_is_carried_between_steps_and_reset_at_every_evaluation() -> None:
    spec = make_batched(TASK, 1).task
    policy = CountingPolicy()
    first = evaluate_policy(policy, spec, EPISODES, SEED)
    second = evaluate_policy(policy, spec, EPISODES, SEED)  # the same object again
    expected, carried_over = open_loop_returns(0), open_loop_returns(spec.max_cycles)
    assert not np.allclose(expected, carried_over)  # the test can tell the two apart
    np.testing.assert_array_equal(first, expected)
    np.testing.assert_array_equal(second, expected)
    assert policy.resets == 2
    counts = np.array(policy.seen)  # [2 · max_cycles, EPISODES]
    assert counts.shape == (2 * spec.max_cycles, EPISODES)
    steps = np.tile(np.arange(spec.max_cycles), 2)
    np.testing.assert_array_equal(counts, np.repeat(steps[:, None], EPISODES, axis=1))


def test_centralised_recurrent_policy_gets_state_and_hidden() -> None:
    spec = make_batched(TASK, 1).task
    policy = CentralisedCounting()
    returns = evaluate_policy(policy, spec, EPISODES, SEED)
    np.testing.assert_array_equal(returns, open_loop_returns(0))
    assert set(policy.states) == {(EPISODES, spec.state_dim)}


def test_stateless_policies_are_called_without_hidden() -> None:
    calls: list[tuple[int, dict]] = []

    def stateless(obs, *args, **kwargs):
        calls.append((len(args), kwargs))
        return np.zeros(obs.shape[:2], dtype=np.int64)

    assert not is_recurrent(stateless) and is_recurrent(CountingPolicy())
    spec = make_batched(TASK, 1).task
    evaluate_policy(stateless, spec, 2, SEED)
    assert calls and set(map(str, calls)) == {"(0, {})"}


def test_recurrent_policy_returning_bare_actions_is_one_clear_error() -> None:
    class Forgetful(CountingPolicy):
        def __call__(self, obs, state=None, *, hidden):
            return super().__call__(obs, hidden=hidden)[0]

    spec = make_batched(TASK, 1).task
    with pytest.raises(EvaluationError, match=r"'rnn'.*must return \(actions, hidden\)"):
        evaluate_policy(Forgetful(), spec, 2, SEED, name="rnn")


def test_policy_act_resets_whenever_the_env_is_reset() -> None:
    """Two episodes through one ``act``: the count restarts at the second reset."""
    env = make_batched(TASK, 3)
    policy = CountingPolicy()
    act = policy_act(policy, with_state=False)
    for seed in (1, 2):
        rollout(env, act, seed)
    assert policy.resets == 2
    assert [int(h[0]) for h in policy.seen] == list(range(env.task.max_cycles)) * 2


def test_save_gif_plays_a_recurrent_policy(tmp_path) -> None:
    policy = CountingPolicy()
    path = save_gif(TASK, tmp_path / "rnn.gif", policy=policy, size=32)
    assert path.stat().st_size > 0 and policy.resets == 1
    assert len(policy.seen) == make_batched(TASK, 1).task.max_cycles


def load_counting(spec) -> CountingPolicy:
    """``coopbench evaluate --policy tests.test_recurrent:load_counting``."""
    return CountingPolicy()


def test_pretrained_recurrent_policy_is_scored_with_resets() -> None:
    result = evaluate_pretrained(TASK, "tests.test_recurrent:load_counting", tier="quick")
    p = get_protocol("quick")
    expected = open_loop_returns(0, p.eval_episodes, p.eval_seed)
    np.testing.assert_array_equal(result.final["default"], expected)
    absolute = open_loop_returns(0, p.absolute_episodes, p.absolute_seed)
    np.testing.assert_array_equal(result.absolute["default"], absolute)
