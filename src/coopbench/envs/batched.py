"""The batched face: B worlds of one task stepped together by the physics core.

``reset(seed) -> (obs [B, N, obs_dim], info)``; ``step(actions) -> (obs, rewards
[B, N], terminated [B], truncated [B], info)``; ``state() -> [B, state_dim]``.
Every task has a fixed horizon and no early termination, so all worlds finish
together: after ``max_cycles`` steps ``truncated`` is all True and **step does not
auto-reset** — call ``reset()`` (without a seed the random stream continues).
The PettingZoo face is this class with B = 1, so the two cannot drift apart.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding

from coopbench.envs import kernels
from coopbench.envs.core import action_force, physics_step
from coopbench.envs.render import draw_frame
from coopbench.envs.task import Geometry, Task, World, geometry
from coopbench.validation import check_int

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


def deprecated_spec(env: Any) -> TaskSpec:
    """``env.spec`` of a face: its ``env.task``, with a ``DeprecationWarning``."""
    warnings.warn(
        "env.spec is deprecated and will be removed in the next release; use env.task "
        "(the same TaskSpec)",
        DeprecationWarning,
        stacklevel=3,
    )
    return env.task


class BatchedEnv:
    """``num_envs`` worlds of one task, advanced together with one numpy expression (or one
    compiled kernel, ``kernels.py``) per phase.

    ``task``: the ``TaskSpec`` (what an algorithm needs to know); ``rules``: the ``Task``
    whose rules step the worlds.
    """

    def __init__(self, task: Task, num_envs: int, kernel: str | None = None) -> None:
        """``kernel``: ``"numba"`` or ``"numpy"`` (default: see ``kernels.resolve_kernel``)."""
        self.num_envs = check_int(num_envs, "num_envs")
        self.rules = task
        self.task = TaskSpec.of(task)
        self.kernel = kernels.resolve_kernel(kernel)
        self._compiled = self.kernel == "numba"
        self._jit = kernels.jitted() if self._compiled else None
        self._rng, _ = seeding.np_random(None)
        self._world: World | None = None
        # constants of the hot path, computed once
        bodies = task.bodies
        self._min_dist = bodies.min_dist
        self._max_speed = (
            np.full(task.n_agents, -1.0) if bodies.max_speed is None else bodies.max_speed
        )
        self._obs_code = kernels.OBS_CODES[task.obs_mode]

    # ----------------------------------------------------------------- API
    def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Start new episodes in every world; ``seed`` restarts the random stream."""
        if seed is not None:
            self._rng, _ = seeding.np_random(seed)
        self._world = self.rules.reset_world(self._rng, self.num_envs)
        return self._observe(self._world, self._geometry(self._world)), {}

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Advance every world one step; a rejected action leaves the state unchanged."""
        world = self._require_running()
        task = self.rules
        u = action_force(self.check_actions(actions), task.continuous_actions)
        context = task.before_physics(world, u, self._rng, self._compiled)
        if self._compiled:
            world.agent_pos, world.agent_vel, agent_agent, agent_landmark = self._jit.advance(
                world.agent_pos,
                world.agent_vel,
                u,
                world.landmark_pos,
                self._min_dist,
                task.pair_mask,
                task.bodies.mass,
                self._max_speed,
            )
            geo = Geometry(agent_agent, agent_landmark, compiled=True)
        else:
            world.agent_pos, world.agent_vel = physics_step(
                world.agent_pos, world.agent_vel, u, task.bodies, task.pair_mask
            )
            geo = geometry(world)
        world.t += 1
        geo, events = task.update_world(world, geo, context, self._rng)
        rewards, info = task.rewards(geo, events)
        if task.moves_landmarks:
            geo = self._geometry(world)
        obs = self._observe(world, geo)
        done = np.full(self.num_envs, world.t >= task.max_cycles)
        terminated = np.zeros(self.num_envs, dtype=bool)
        return obs, rewards.astype(np.float32), terminated, done, {**events, **info}

    def state(self) -> np.ndarray:
        """Global state ``[B, state_dim]`` float32 for critics and heuristics."""
        if self._world is None:
            raise RuntimeError(f"{self.task.task_id}: call reset() before state()")
        return self.rules.state(self._world)

    @property
    def spec(self) -> TaskSpec:
        """Deprecated name of ``task``."""
        return deprecated_spec(self)

    @property
    def t(self) -> int:
        """Steps taken in the current episode (0 right after reset)."""
        return 0 if self._world is None else self._world.t

    def render(self, index: int = 0, size: int = 400) -> np.ndarray:
        """RGB frame ``[size, size, 3]`` uint8 of world ``index``."""
        return draw_frame(self.rules, self._require_world(), index, size)

    # ----------------------------------------------------------------- kernels
    def _geometry(self, world: World) -> Geometry:
        if self._compiled:
            return Geometry(*self._jit.geometry(world.agent_pos, world.landmark_pos), compiled=True)
        return geometry(world)

    def _observe(self, world: World, geo: Geometry) -> np.ndarray:
        if self._compiled:
            return self._jit.observe(
                world.agent_pos,
                world.agent_vel,
                world.landmark_pos,
                geo.agent_agent,
                geo.agent_landmark,
                self._obs_code,
                self.task.obs_dim,
            )
        return self.rules.observe(world, geo)

    # ----------------------------------------------------------------- checks
    def _require_world(self) -> World:
        if self._world is None:
            raise RuntimeError(f"{self.task.task_id}: call reset() before step()")
        return self._world

    def _require_running(self) -> World:
        world = self._require_world()
        if world.t >= self.task.max_cycles:
            raise RuntimeError(
                f"{self.task.task_id}: the episode ended after max_cycles={self.task.max_cycles} "
                "steps; call reset() (step does not auto-reset)"
            )
        return world

    def check_actions(self, actions: Any) -> np.ndarray:
        """Validate a batch of actions; returns them ready for the core (clipped if continuous).

        Raises ``ValueError`` naming the world, the agent, the bad value and the space.
        """
        task, b, n = self.rules, self.num_envs, self.rules.n_agents
        arr = np.asarray(actions)
        if task.continuous_actions:
            expected = (b, n, N_ACTIONS)
            if arr.shape != expected:
                raise ValueError(
                    f"{task.task_id}: continuous actions must have shape {expected} "
                    f"(worlds, agents, {N_ACTIONS}); got shape {arr.shape}"
                )
            if arr.dtype.kind not in "iuf":
                raise ValueError(
                    f"{task.task_id}: continuous actions must be floats in "
                    f"{self.task.action_space}; got dtype {arr.dtype}"
                )
            arr = arr.astype(np.float64)  # a copy: clipped in place below
            finite = np.isfinite(arr)
            if not finite.all():
                w, a, _ = np.argwhere(~finite)[0]
                raise ValueError(
                    f"{task.task_id}: non-finite action {arr[w, a].tolist()} for agent "
                    f"{task.agent_names[a]!r} in world {w}; expected a finite vector in "
                    f"{self.task.action_space}"
                )
            return np.minimum(np.maximum(arr, 0.0, out=arr), 1.0, out=arr)
        expected = (b, n)
        if arr.shape != expected:
            raise ValueError(
                f"{task.task_id}: discrete actions must have shape {expected} (worlds, agents); "
                f"got shape {arr.shape}"
            )
        if arr.dtype.kind not in "iu":
            raise ValueError(
                f"{task.task_id}: discrete actions must be integers in "
                f"{self.task.action_space}; got dtype {arr.dtype}"
            )
        checked = arr.astype(np.int64, copy=False)
        if checked.view(np.uint64).max() >= N_ACTIONS:  # negatives read as huge unsigned
            w, a = np.argwhere((arr < 0) | (arr >= N_ACTIONS))[0]
            raise ValueError(
                f"{task.task_id}: action {int(arr[w, a])} for agent {task.agent_names[a]!r} "
                f"in world {w} is outside {self.task.action_space}; "
                f"expected an integer in [0, {N_ACTIONS - 1}]"
            )
        return checked
