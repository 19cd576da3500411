"""``pf`` — Push Forward (CTEDD paper §5.1, docs/tasks.md §3.4).

3 agents, 3 landmarks, 50 steps. A push happens when, at the start of the step,
the agents can be assigned to different landmarks each with the agent inside its
landmark's push zone (radius ``PUSH_ZONE``), and every agent's x-position
increased during the step. A push moves every landmark ``PUSH_DISTANCE`` in +x
and gives every agent ``PUSH_REWARD``. ``r_i = cover + 10 * push + coll_i``, the
cover term measured after the push.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from coopbench.envs.constructors import constructors
from coopbench.envs.core import DT
from coopbench.envs.task import Events, Geometry, Task, World, permutations

PUSH_ZONE = 0.25
PUSH_DISTANCE = 0.05
PUSH_REWARD = 10.0


@dataclass
class PFTask(Task):
    task_id: ClassVar[str] = "pf"
    # version 2: a new heuristic (it keeps pushing instead of stalling); dynamics, rewards and
    # observations are version 1's (docs/tasks.md §5.2).
    version: ClassVar[int] = 2
    same_dynamics_as: ClassVar[tuple[int, ...]] = (1,)
    default_max_cycles: ClassVar[int] = 50
    moves_landmarks: ClassVar[bool] = True
    zone_radius: ClassVar[float] = PUSH_ZONE

    def __post_init__(self) -> None:
        super().__post_init__()
        self._assignments = permutations(self.n_landmarks, self.n_agents)

    def validate(self) -> None:
        super().validate()
        if self.n_agents > self.n_landmarks:
            raise ValueError(
                f"pf: n_agents={self.n_agents} > n_landmarks={self.n_landmarks}; every agent "
                "needs a landmark of its own to push"
            )

    def before_physics(
        self, world: World, u: np.ndarray, rng: np.random.Generator, compiled: bool
    ) -> Any:
        diff = world.agent_pos[:, :, None, :] - world.landmark_pos[:, None, :, :]
        in_zone = np.einsum("bijk,bijk->bij", diff, diff) < PUSH_ZONE**2
        return in_zone, world.agent_pos[:, :, 0].copy()

    def update_world(
        self, world: World, geo: Geometry, context: Any, rng: np.random.Generator
    ) -> tuple[Geometry, Events]:
        """Push: move every landmark of the worlds that pushed; distances after the push."""
        in_zone, x_before = context
        agents = np.arange(self.n_agents)
        assigned = in_zone[:, agents, self._assignments].all(axis=2).any(axis=1)
        push = assigned & (world.agent_pos[:, :, 0] > x_before).all(axis=1)
        world.landmark_vel[...] = 0.0
        if push.any():
            world.landmark_pos[push, :, 0] += PUSH_DISTANCE
            world.landmark_vel[push, :, 0] = PUSH_DISTANCE / DT
            diff = world.agent_pos[:, :, None, :] - world.landmark_pos[:, None, :, :]
            dist = np.sqrt(np.einsum("bijk,bijk->bij", diff, diff))
            geo = Geometry(geo.agent_agent, dist, geo.compiled)
        return geo, {"push": push}

    def rewards(self, geo: Geometry, events: Events) -> tuple[np.ndarray, Events]:
        team = geo.cover() + PUSH_REWARD * events["push"]
        return team[:, None] + self.collisions(geo), {}


parallel_env, env = constructors(PFTask)
