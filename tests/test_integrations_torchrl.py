"""The TorchRL face (``coopbench.integrations.torchrl``): torchrl's own spec check on every
task and action type, the same worlds as the batched core, the budget enforced through it,
and one-line errors for a wrong action shape or an unsupported torchrl."""

from __future__ import annotations

import numpy as np
import pytest

torchrl = pytest.importorskip(
    "torchrl", reason="the TorchRL face needs torchrl: pip install 'coopbench[benchmarl]'"
)
import torch  # noqa: E402
from tensordict import TensorDict  # noqa: E402
from torchrl.envs.utils import check_env_specs  # noqa: E402

from coopbench.algorithms.base import BudgetExhausted  # noqa: E402
from coopbench.envs import TASKS, make_batched  # noqa: E402
from coopbench.harness.budget import BudgetEnv  # noqa: E402
from coopbench.integrations.torchrl import (  # noqa: E402
    CoopbenchTorchRLEnv,
    check_torchrl_version,
    make_torchrl_env,
)

ACTIONS = {  # name -> (continuous_actions, categorical_actions)
    "categorical": (False, True),
    "one-hot": (False, False),
    "continuous": (True, True),
}


@pytest.mark.parametrize("kind", list(ACTIONS))
@pytest.mark.parametrize("task", TASKS)
def test_check_env_specs_on_every_task(task, kind):
    continuous, categorical = ACTIONS[kind]
    env = make_torchrl_env(task, 3, categorical_actions=categorical, continuous_actions=continuous)
    check_env_specs(env, seed=0)
    spec = env.task
    obs = env.full_observation_spec
    assert obs["agents", "observation"].shape == (3, spec.n_agents, spec.obs_dim)
    assert obs["state"].shape == (3, spec.state_dim)
    assert env.full_reward_spec["agents", "reward"].shape == (3, spec.n_agents, 1)
    assert env.full_done_spec["truncated"].shape == (3, 1)
    action_shape = env.full_action_spec["agents", "action"].shape
    assert action_shape == ((3, spec.n_agents) if kind == "categorical" else (3, spec.n_agents, 5))
    # a rollout past the horizon resets every world together
    rollout = env.rollout(spec.max_cycles + 2, break_when_any_done=False)
    done = rollout["next", "done"].squeeze(-1)
    assert done[:, spec.max_cycles - 1].all() and not done[:, : spec.max_cycles - 1].any()
    assert not done[:, spec.max_cycles :].any()


def test_the_face_steps_the_same_worlds_as_the_batched_core():
    core = make_batched("cn-v1", 4)
    env = make_torchrl_env("cn-v1", 4)
    env.set_seed(7)
    td = env.reset()
    obs, _ = core.reset(seed=7)
    np.testing.assert_array_equal(td["agents", "observation"].numpy(), obs)
    np.testing.assert_array_equal(td["state"].numpy(), core.state())
    rng = np.random.default_rng(0)
    for _ in range(5):
        actions = rng.integers(0, 5, (4, 3))
        td.set(("agents", "action"), torch.as_tensor(actions))
        out = env.step(td)["next"]
        obs, rewards, _, truncated, _ = core.step(actions)
        np.testing.assert_array_equal(out["agents", "observation"].numpy(), obs)
        np.testing.assert_array_equal(out["agents", "reward"].squeeze(-1).numpy(), rewards)
        np.testing.assert_array_equal(out["truncated"].squeeze(-1).numpy(), truncated)
        td = out


def test_seeding_restarts_the_stream():
    a, b = make_torchrl_env("spread", 2), make_torchrl_env("spread", 2)
    a.set_seed(3)
    b.set_seed(3)
    first = a.reset()["agents", "observation"]
    assert torch.equal(first, b.reset()["agents", "observation"])
    assert not torch.equal(first, a.reset()["agents", "observation"])  # the stream continues


def test_one_hot_actions_are_read_as_their_index():
    core = make_batched("spread", 2)
    env = CoopbenchTorchRLEnv(make_batched("spread", 2), categorical_actions=False)
    env.set_seed(1)
    td = env.reset()
    core.reset(seed=1)
    actions = np.array([[0, 1, 2], [3, 4, 0]])
    td.set(("agents", "action"), torch.nn.functional.one_hot(torch.as_tensor(actions), 5))
    out = env.step(td)["next"]
    np.testing.assert_array_equal(out["agents", "observation"].numpy(), core.step(actions)[0])


def test_budget_is_enforced_through_the_face():
    evaluated: list[tuple[int, int]] = []
    budget_env = BudgetEnv(
        make_batched("cn-v1", 4), 12, [0, 8, 12], lambda p, s: evaluated.append((p, s))
    )
    env = CoopbenchTorchRLEnv(budget_env)
    td = env.reset()
    for _ in range(3):
        td = env.step(env.rand_action(td))["next"]
    assert budget_env.steps_taken == 12 and budget_env.exhausted
    assert evaluated == [(0, 0), (8, 8)]  # the budget point is left to finish()
    with pytest.raises(BudgetExhausted, match="budget of 12 env steps"):
        env.step(env.rand_action(td))
    assert budget_env.steps_taken == 12
    with pytest.raises(BudgetExhausted):  # a rollout cannot go past it either
        env.rollout(5, break_when_any_done=False)


@pytest.mark.parametrize(
    "kind, shape",
    [("categorical", (2, 3, 5)), ("one-hot", (2, 3)), ("continuous", (2, 3))],
)
def test_wrong_action_shape_is_one_line(kind, shape):
    continuous, categorical = ACTIONS[kind]
    env = make_torchrl_env(
        "spread", 2, categorical_actions=categorical, continuous_actions=continuous
    )
    td = env.reset()
    td.set(("agents", "action"), torch.zeros(shape))
    with pytest.raises(ValueError) as info:
        env._step(td)  # what step() calls once torchrl has accepted the tensordict
    message = str(info.value)
    assert "\n" not in message and f"got shape {shape}" in message, message


def test_partial_reset_is_refused_and_an_empty_one_changes_nothing():
    env = make_torchrl_env("spread", 3)
    td = env.step(env.rand_action(env.reset()))["next"]
    mask = torch.tensor([[True], [False], [True]])
    with pytest.raises(ValueError, match="_reset selects 2 of 3 worlds"):
        env.reset(TensorDict({"_reset": mask}, batch_size=[3]))
    td.set("_reset", torch.zeros(3, 1, dtype=torch.bool))
    env.reset(td)
    assert env.core.t == 1  # the episode goes on
    env.reset()
    assert env.core.t == 0


def test_unsupported_torchrl_version_is_one_line(monkeypatch):
    check_torchrl_version()  # the installed one is supported
    monkeypatch.setattr(torchrl, "__version__", "0.9.2")
    with pytest.raises(ImportError) as info:
        make_torchrl_env("spread", 2)
    message = str(info.value)
    assert "\n" not in message
    assert "supports torchrl >=0.10,<0.12; found torchrl 0.9.2" in message
