"""TorchRL face of the batched core: a torchrl ``EnvBase`` over ``num_envs`` worlds of a task.

``CoopbenchTorchRLEnv(env)`` wraps a ``BatchedEnv`` (``make_batched``) or the harness's
``TrainingEnv`` (``harness.budget.BudgetEnv``) and follows the conventions of torchrl's
multi-agent envs (``VmasEnv``):

- ``batch_size`` is ``[num_envs]``; the agents form one group, ``"agents"``, holding
  ``observation`` ``[B, N, obs_dim]``, ``action`` and ``reward`` ``[B, N, 1]``;
- actions are categorical ``[B, N]`` integers (default), one-hot ``[B, N, 5]``
  (``categorical_actions=False``) or, on a continuous task, ``[B, N, 5]`` floats in
  ``[0, 1]``;
- ``state`` ``[B, state_dim]`` at the root is the global state for centralised critics;
- ``done``/``terminated``/``truncated`` ``[B, 1]`` sit at the root: every task has a fixed
  horizon and no early termination, so all worlds end together (``truncated``) after
  ``max_cycles`` steps and a reset restarts all of them (a ``_reset`` mask selecting only
  some worlds is refused, one that selects none leaves the worlds as they are);
- ``set_seed(s)`` restarts the task's random stream at the next reset.

Over a ``BudgetEnv`` every ``step`` goes through the harness: it counts ``num_envs`` env
steps, runs the scheduled evaluations, and raises ``BudgetExhausted`` once a step would
exceed the budget.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torchrl
from packaging.version import Version
from tensordict import TensorDict, TensorDictBase
from torchrl.data import Bounded, Categorical, Composite, OneHot, Unbounded
from torchrl.envs import EnvBase

from coopbench.envs import make_batched
from coopbench.envs.batched import N_ACTIONS
from coopbench.integrations.versions import check_version

SUPPORTED_TORCHRL = (Version("0.10"), Version("0.12"))  # [low, high)
GROUP = "agents"


def check_torchrl_version(version: str | None = None) -> None:
    """Raise ``ImportError`` (one line) unless ``version`` (default: the installed torchrl)
    is one this adapter supports."""
    found = torchrl.__version__ if version is None else version
    check_version(__name__, "torchrl", found, SUPPORTED_TORCHRL)


class CoopbenchTorchRLEnv(EnvBase):
    """A torchrl ``EnvBase`` over a coopbench ``BatchedEnv`` or harness ``TrainingEnv``."""

    def __init__(
        self, env: Any, categorical_actions: bool = True, device: str | torch.device = "cpu"
    ) -> None:
        """``env``: a ``BatchedEnv`` or a ``TrainingEnv``; ``categorical_actions``: integer
        actions ``[B, N]`` (else one-hot ``[B, N, 5]``; ignored on continuous tasks)."""
        check_torchrl_version()
        super().__init__(device=device, batch_size=torch.Size([env.num_envs]))
        self._env = env
        self.task = env.task
        self.categorical_actions = bool(categorical_actions)
        self.group_map = {GROUP: list(self.task.agents)}
        self._seed: int | None = None
        self._last: TensorDictBase | None = None
        self._make_specs()

    @property
    def core(self) -> Any:
        """The wrapped ``BatchedEnv``/``TrainingEnv``."""
        return self._env

    def _make_specs(self) -> None:
        task, b, n, dev = self.task, self.batch_size[0], self.task.n_agents, self.device
        if task.continuous_actions:
            action = Bounded(0.0, 1.0, (b, n, N_ACTIONS), device=dev, dtype=torch.float32)
        elif self.categorical_actions:
            action = Categorical(N_ACTIONS, (b, n), device=dev, dtype=torch.int64)
        else:
            action = OneHot(N_ACTIONS, (b, n, N_ACTIONS), device=dev, dtype=torch.int64)
        self.full_observation_spec = Composite(
            {
                GROUP: Composite(
                    observation=Unbounded((b, n, task.obs_dim), device=dev), shape=(b, n)
                ),
                "state": Unbounded((b, task.state_dim), device=dev),
            },
            shape=(b,),
            device=dev,
        )
        self.full_action_spec = Composite(
            {GROUP: Composite(action=action, shape=(b, n))}, shape=(b,), device=dev
        )
        self.full_reward_spec = Composite(
            {GROUP: Composite(reward=Unbounded((b, n, 1), device=dev), shape=(b, n))},
            shape=(b,),
            device=dev,
        )
        flag = Categorical(2, (b, 1), device=dev, dtype=torch.bool)
        self.full_done_spec = Composite(
            done=flag.clone(), terminated=flag.clone(), truncated=flag.clone(), shape=(b,)
        )

    # ------------------------------------------------------------------ EnvBase
    def _set_seed(self, seed: int | None) -> None:
        self._seed = None if seed is None else int(seed)

    def _reset(self, tensordict: TensorDictBase | None = None, **kwargs: Any) -> TensorDictBase:
        if tensordict is not None and "_reset" in tensordict.keys():
            mask = tensordict.get("_reset")
            if not bool(mask.any()) and self._last is not None:
                return self._last.exclude((GROUP, "reward"))
            if not bool(mask.all()):
                raise ValueError(
                    f"{self.task.task_id}: _reset selects {int(mask.sum())} of "
                    f"{mask.numel()} worlds; coopbench worlds end together and reset together"
                )
        obs, _ = self._env.reset(seed=self._seed)
        self._seed = None
        done = torch.zeros(*self.batch_size, 1, dtype=torch.bool, device=self.device)
        self._last = self._output(obs, None, done, done)
        return self._last

    def _step(self, tensordict: TensorDictBase) -> TensorDictBase:
        actions = self._actions(tensordict.get((GROUP, "action")))
        obs, rewards, terminated, truncated, _ = self._env.step(actions)
        term = torch.as_tensor(np.asarray(terminated, dtype=bool), device=self.device)
        trunc = torch.as_tensor(np.asarray(truncated, dtype=bool), device=self.device)
        self._last = self._output(obs, rewards, term.unsqueeze(-1), trunc.unsqueeze(-1))
        return self._last

    # ------------------------------------------------------------------ helpers
    def _actions(self, action: torch.Tensor) -> np.ndarray:
        """The torch action of the ``agents`` group as the core's numpy actions."""
        expected = tuple(self.full_action_spec[GROUP, "action"].shape)
        if tuple(action.shape) != expected:
            kind = (
                "continuous [worlds, agents, 5]"
                if self.task.continuous_actions
                else "categorical [worlds, agents]"
                if self.categorical_actions
                else "one-hot [worlds, agents, 5]"
            )
            raise ValueError(
                f"{self.task.task_id}: ('agents', 'action') must have shape {expected} "
                f"({kind}); got shape {tuple(action.shape)}"
            )
        arr = action.detach().cpu()
        if self.task.continuous_actions:
            return arr.to(torch.float64).numpy()
        if not self.categorical_actions:
            arr = arr.argmax(dim=-1)
        return arr.to(torch.int64).numpy()

    def _output(
        self,
        obs: np.ndarray,
        rewards: np.ndarray | None,
        terminated: torch.Tensor,
        truncated: torch.Tensor,
    ) -> TensorDictBase:
        b, n = self.batch_size[0], self.task.n_agents
        group: dict[str, torch.Tensor] = {
            "observation": torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        }
        if rewards is not None:
            group["reward"] = torch.as_tensor(
                rewards, dtype=torch.float32, device=self.device
            ).unsqueeze(-1)
        state = torch.as_tensor(self._env.state(), dtype=torch.float32, device=self.device)
        return TensorDict(
            {
                GROUP: TensorDict(group, batch_size=(b, n), device=self.device),
                "state": state,
                "done": terminated | truncated,
                "terminated": terminated,
                "truncated": truncated,
            },
            batch_size=self.batch_size,
            device=self.device,
        )


def make_torchrl_env(
    task_id: str,
    num_envs: int,
    categorical_actions: bool = True,
    device: str = "cpu",
    **task_kwargs: Any,
) -> CoopbenchTorchRLEnv:
    """``num_envs`` worlds of ``task_id`` (with ``task_kwargs``) as a torchrl env."""
    core = make_batched(task_id, num_envs, **task_kwargs)
    return CoopbenchTorchRLEnv(core, categorical_actions=categorical_actions, device=device)


__all__ = [
    "SUPPORTED_TORCHRL",
    "CoopbenchTorchRLEnv",
    "check_torchrl_version",
    "make_torchrl_env",
]
