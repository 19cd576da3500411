"""The batched face: B worlds of one task stepped together by the physics core.

``reset(seed) -> (obs [B, N, obs_dim], info)``; ``step(actions) -> (obs, rewards
[B, N], terminated [B], truncated [B], info)``; ``state() -> [B, state_dim]``.
Every task has a fixed horizon and no early termination, so all worlds finish
together: after ``max_cycles`` steps ``truncated`` is all True and **step does not
auto-reset** — call ``reset()`` (without a seed the random stream continues).
The PettingZoo face is this class with B = 1, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding

from coopbench.envs.core import action_force, physics_step
from coopbench.envs.task import Task, World, geometry

N_ACTIONS = 5


@dataclass(frozen=True)
class TaskSpec:
    """What an algorithm needs to know about a task (the same on both faces)."""

    task_id: str
    version: int
    agents: tuple[str, ...]
    n_landmarks: int
    obs_dim: int
    state_dim: int
    continuous_actions: bool
    max_cycles: int
    obs_mode: str
    kwargs: dict[str, Any] = field(hash=False, compare=False)

    @property
    def n_agents(self) -> int:
        return len(self.agents)

    @property
    def n_actions(self) -> int:
        """Discrete choices, or the length of a continuous action vector."""
        return N_ACTIONS

    @property
    def action_space(self) -> spaces.Space:
        if self.continuous_actions:
            return spaces.Box(0.0, 1.0, (N_ACTIONS,), dtype=np.float32)
        return spaces.Discrete(N_ACTIONS)

    @property
    def observation_space(self) -> spaces.Box:
        return spaces.Box(-np.inf, np.inf, (self.obs_dim,), dtype=np.float32)

    @property
    def state_space(self) -> spaces.Box:
        return spaces.Box(-np.inf, np.inf, (self.state_dim,), dtype=np.float32)

    @classmethod
    def of(cls, task: Task) -> TaskSpec:
        return cls(
            task_id=task.task_id,
            version=task.version,
            agents=task.agent_names,
            n_landmarks=task.n_landmarks,
            obs_dim=task.obs_dim,
            state_dim=task.state_dim,
            continuous_actions=bool(task.continuous_actions),
            max_cycles=task.max_cycles,
            obs_mode=task.obs_mode,
            kwargs=task.kwargs(),
        )


class BatchedEnv:
    """``num_envs`` worlds of one task, advanced together with one numpy call per phase."""

    def __init__(self, task: Task, num_envs: int) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)):
            raise ValueError(f"num_envs={num_envs!r} is invalid; expected a positive integer")
        if num_envs < 1:
            raise ValueError(f"num_envs={num_envs} is invalid; expected a positive integer")
        self.task = task
        self.spec = TaskSpec.of(task)
        self.num_envs = int(num_envs)
        self._rng, _ = seeding.np_random(None)
        self._world: World | None = None

    # ----------------------------------------------------------------- API
    def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Start new episodes in every world; ``seed`` restarts the random stream."""
        if seed is not None:
            self._rng, _ = seeding.np_random(seed)
        self._world = self.task.reset_world(self._rng, self.num_envs)
        return self.task.observe(self._world, geometry(self._world)), {}

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Advance every world one step; a rejected action leaves the state unchanged."""
        world = self._require_running()
        valid = self.check_actions(actions)
        u = action_force(valid, self.task.continuous_actions)
        context = self.task.before_physics(world, u, self._rng)
        world.agent_pos, world.agent_vel = physics_step(
            world.agent_pos, world.agent_vel, u, self.task.bodies, self.task.pair_mask
        )
        world.t += 1
        geo = geometry(world)
        rewards, info = self.task.rewards(world, geo, context, self._rng)
        if self.task.moves_landmarks:
            geo = geometry(world)
        obs = self.task.observe(world, geo)
        done = np.full(self.num_envs, world.t >= self.task.max_cycles)
        terminated = np.zeros(self.num_envs, dtype=bool)
        return obs, rewards.astype(np.float32), terminated, done, info

    def state(self) -> np.ndarray:
        """Global state ``[B, state_dim]`` float32 for critics and heuristics."""
        if self._world is None:
            raise RuntimeError(f"{self.spec.task_id}: call reset() before state()")
        return self.task.state(self._world)

    @property
    def t(self) -> int:
        """Steps taken in the current episode (0 right after reset)."""
        return 0 if self._world is None else self._world.t

    def render(self, index: int = 0, size: int = 400) -> np.ndarray:
        """RGB frame ``[size, size, 3]`` uint8 of world ``index``."""
        from coopbench.envs.render import draw_frame

        world = self._require_world()
        return draw_frame(self.task, world, index, size)

    # ----------------------------------------------------------------- checks
    def _require_world(self) -> World:
        if self._world is None:
            raise RuntimeError(f"{self.spec.task_id}: call reset() before step()")
        return self._world

    def _require_running(self) -> World:
        world = self._require_world()
        if world.t >= self.task.max_cycles:
            raise RuntimeError(
                f"{self.spec.task_id}: the episode ended after max_cycles={self.task.max_cycles} "
                "steps; call reset() (step does not auto-reset)"
            )
        return world

    def check_actions(self, actions: Any) -> np.ndarray:
        """Validate a batch of actions; returns them ready for the core (clipped if continuous).

        Raises ``ValueError`` naming the world, the agent, the bad value and the space.
        """
        task, b, n = self.task, self.num_envs, self.task.n_agents
        arr = np.asarray(actions)
        space = self.spec.action_space
        if task.continuous_actions:
            expected = (b, n, N_ACTIONS)
            if arr.shape != expected:
                raise ValueError(
                    f"{task.task_id}: continuous actions must have shape {expected} "
                    f"(worlds, agents, {N_ACTIONS}); got shape {arr.shape}"
                )
            if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
                raise ValueError(
                    f"{task.task_id}: continuous actions must be floats in {space}; "
                    f"got dtype {arr.dtype}"
                )
            finite = np.isfinite(arr)
            if not finite.all():
                w, a, _ = np.argwhere(~finite)[0]
                raise ValueError(
                    f"{task.task_id}: non-finite action {arr[w, a].tolist()} for agent "
                    f"{task.agent_names[a]!r} in world {w}; expected a finite vector in {space}"
                )
            return np.clip(arr.astype(np.float64), 0.0, 1.0)
        expected = (b, n)
        if arr.shape != expected:
            raise ValueError(
                f"{task.task_id}: discrete actions must have shape {expected} (worlds, agents); "
                f"got shape {arr.shape}"
            )
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(
                f"{task.task_id}: discrete actions must be integers in {space}; "
                f"got dtype {arr.dtype}"
            )
        bad = (arr < 0) | (arr >= N_ACTIONS)
        if bad.any():
            w, a = np.argwhere(bad)[0]
            raise ValueError(
                f"{task.task_id}: action {int(arr[w, a])} for agent {task.agent_names[a]!r} "
                f"in world {w} is outside {space}; expected an integer in [0, {N_ACTIONS - 1}]"
            )
        return arr
