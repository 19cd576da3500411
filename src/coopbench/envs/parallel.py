"""The PettingZoo face: a ``ParallelEnv`` that is the batched core with B = 1."""

from __future__ import annotations

from typing import Any

import numpy as np
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec

from coopbench.envs.batched import N_ACTIONS, BatchedEnv, TaskSpec, deprecated_spec
from coopbench.envs.task import Task

RENDER_MODES = ("rgb_array",)


class CoopParallelEnv(ParallelEnv):
    """One world of a coopbench task with PettingZoo's parallel API.

    ``reset(seed=s)`` draws the start state exactly as mpe2 does, so ``spread``
    reproduces ``mpe2.simple_spread_v3`` step for step. ``state()`` /
    ``state_space`` give the global state for centralised critics. ``kernel``:
    ``"numba"`` or ``"numpy"`` (see ``coopbench.envs.kernels``). ``task``: the
    ``TaskSpec``; ``metadata["name"]`` is the task id in PettingZoo's spelling
    (``cn_v1``), ``metadata["version"]`` the task version.
    """

    def __init__(
        self, task: Task, render_mode: str | None = None, kernel: str | None = None
    ) -> None:
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(
                f"{task.task_id}: render_mode={render_mode!r} is not supported; "
                f"expected None or one of {list(RENDER_MODES)}"
            )
        self._core = BatchedEnv(task, 1, kernel=kernel)
        self.task = self._core.task
        self.metadata = {
            "name": task.task_id.replace("-", "_"),
            "version": task.version,
            "render_modes": list(RENDER_MODES),
            "is_parallelizable": True,
            "render_fps": 10,
        }
        self.render_mode = render_mode
        self.possible_agents = list(self.task.agents)
        self.agents: list[str] = []
        self._index = {name: i for i, name in enumerate(self.possible_agents)}
        self.observation_spaces = {a: self.task.observation_space for a in self.possible_agents}
        self.action_spaces = {a: self.task.action_space for a in self.possible_agents}
        self.state_space = self.task.state_space
        n = len(self.possible_agents)
        self._batch_shape = (n, N_ACTIONS) if self.task.continuous_actions else (n,)

    @classmethod
    def of(
        cls,
        task_cls: type[Task],
        render_mode: str | None = None,
        kernel: str | None = None,
        **kwargs: Any,
    ) -> CoopParallelEnv:
        """The env of ``task_cls`` built from task keywords (unknown ones rejected by name)."""
        return cls(task_cls.from_kwargs(**kwargs), render_mode=render_mode, kernel=kernel)

    def to_aec(self) -> AECEnv:
        """This env as a PettingZoo AEC env (PettingZoo's ``parallel_to_aec``), with ``task``."""
        aec = parallel_to_aec(self)
        aec.env.task = self.task  # the conversion wrapper; the outer wrappers forward to it
        return aec

    @property
    def spec(self) -> TaskSpec:
        """Deprecated name of ``task``."""
        return deprecated_spec(self)

    def observation_space(self, agent: str):
        return self.observation_spaces[agent]

    def action_space(self, agent: str):
        return self.action_spaces[agent]

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        obs, _ = self._core.reset(seed=seed)
        self.agents = self.possible_agents[:]
        return self._per_agent(obs[0]), {a: {} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        if not self.agents:
            raise RuntimeError(f"{self.task.task_id}: no live agents; call reset() before step()")
        obs, rewards, terminated, truncated, info = self._core.step(self._to_batch(actions))
        agents = self.agents  # all agents live and die together, in possible_agents order
        term, trunc = bool(terminated[0]), bool(truncated[0])
        events = {k: v[0].item() for k, v in info.items()}
        result = (
            dict(zip(agents, obs[0], strict=True)),
            dict(zip(agents, rewards[0].tolist(), strict=True)),
            dict.fromkeys(agents, term),
            dict.fromkeys(agents, trunc),
            {a: dict(events) for a in agents},
        )
        if term or trunc:
            self.agents = []
        return result

    def state(self) -> np.ndarray:
        return self._core.state()[0]

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            return None
        return self._core.render(0)

    def close(self) -> None:
        pass

    def _per_agent(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        return {a: obs[self._index[a]] for a in self.agents}

    def _to_batch(self, actions: dict[str, Any]) -> np.ndarray:
        """Dict of per-agent actions → a ``[1, N, ...]`` batch, naming bad agents."""
        if type(actions) is dict and len(actions) == len(self._index):  # the common case
            try:
                batch = np.array([actions[a] for a in self.possible_agents])
            except (KeyError, ValueError):  # an unknown agent, or ragged shapes: explain below
                batch = None
            if batch is not None and batch.shape == self._batch_shape:
                return batch[None]
        return self._to_batch_explained(actions)

    def _to_batch_explained(self, actions: dict[str, Any]) -> np.ndarray:
        """``_to_batch`` checking each condition in turn, for a precise message."""
        if not isinstance(actions, dict):
            raise ValueError(
                f"{self.task.task_id}: actions must be a dict agent -> action; "
                f"got {type(actions).__name__}"
            )
        unknown = [a for a in actions if a not in self._index]
        if unknown:
            raise ValueError(
                f"{self.task.task_id}: unknown agent(s) {unknown}; expected {self.possible_agents}"
            )
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"{self.task.task_id}: no action for agent(s) {missing}")
        values = [np.asarray(actions[a]) for a in self.possible_agents]
        expected = (5,) if self.task.continuous_actions else ()
        for agent, v in zip(self.possible_agents, values, strict=True):
            if v.shape != expected:
                raise ValueError(
                    f"{self.task.task_id}: action for agent {agent!r} has shape {v.shape}; "
                    f"expected {expected} in {self.task.action_space}"
                )
        return np.stack(values)[None]
