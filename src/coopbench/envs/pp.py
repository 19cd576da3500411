"""``pp`` — Predator and Prey (CTEDD paper §5.1, docs/tasks.md §3.5).

3 predators (the agents) and 2 prey (kinematic landmarks of size 0.05), 50 steps.
Before the physics step each prey predicts where every predator will be and
takes, of ``N_MOVES`` moves of length ``PREY_STEP`` evenly spaced on the circle,
the one inside the arena ``[-1, 1]^2`` that maximises its summed distance to
those predictions. **Prediction** (our reading of "from its position, velocity
and current action force, the same integrator as the world"): the world's
integrator moves a position by the old velocity, so the action force shows in
the position one step later; the prey therefore looks at
``p + v dt + v' dt`` with ``v' = (1 - damping) v + u / m dt`` (contact forces ignored).
After the step a prey is captured when every predator is within
``CAPTURE_RADIUS``; each predator gets ``CAPTURE_REWARD`` per captured prey and
the prey respawns uniformly in the arena at least ``RESPAWN_MIN_DIST`` from every
predator. ``r_i = cover_prey + 10 * captures + coll_i``, the cover term measured
at the capture (before the respawn).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from coopbench.envs import kernels
from coopbench.envs.constructors import constructors
from coopbench.envs.core import DAMPING, DT
from coopbench.envs.task import Events, Geometry, Task, World

PREY_STEP = 0.05  # tuned: see docs/tasks.md §4
N_MOVES = 16
ARENA = 1.0
CAPTURE_RADIUS = 0.3  # tuned: see docs/tasks.md §4
CAPTURE_REWARD = 10.0
RESPAWN_MIN_DIST = 0.5
_ANGLES = 2.0 * np.pi * np.arange(N_MOVES) / N_MOVES
PREY_MOVES = PREY_STEP * np.stack((np.cos(_ANGLES), np.sin(_ANGLES)), axis=1)  # [16, 2]


def prey_moves(prey_pos: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """New prey positions ``[B, L, 2]`` fleeing the predicted predator positions ``[B, N, 2]``."""
    cand = prey_pos[:, :, None, :] + PREY_MOVES[None, None, :, :]  # [B, L, M, 2]
    inside = (np.abs(cand) <= ARENA).all(axis=3)
    diff = cand[:, :, :, None, :] - predicted[:, None, None, :, :]  # [B, L, M, N, 2]
    spread = np.sqrt(np.einsum("blmnk,blmnk->blmn", diff, diff)).sum(axis=3)
    spread = np.where(inside, spread, -np.inf)
    best = np.argmax(spread, axis=2)  # [B, L]
    chosen = np.take_along_axis(cand, best[:, :, None, None], axis=2)[:, :, 0, :]
    return np.where(inside.any(axis=2)[..., None], chosen, prey_pos)


def respawn(
    prey_pos: np.ndarray, captured: np.ndarray, agent_pos: np.ndarray, rng: np.random.Generator
) -> None:
    """Redraw captured prey (in place) uniformly in the arena, far from every predator."""
    todo = captured.copy()
    while todo.any():
        worlds, prey = np.nonzero(todo)
        draw = rng.uniform(-ARENA, ARENA, (len(worlds), 2))
        gap = np.linalg.norm(agent_pos[worlds] - draw[:, None, :], axis=2).min(axis=1)
        ok = gap >= RESPAWN_MIN_DIST
        prey_pos[worlds[ok], prey[ok]] = draw[ok]
        todo[worlds[ok], prey[ok]] = False


@dataclass
class PPTask(Task):
    task_id: ClassVar[str] = "pp"
    # 2: the heuristic guards the prey instead of chasing one (new reference returns);
    # dynamics, rewards and observations are version 1's (docs/tasks.md §5).
    version: ClassVar[int] = 2
    same_dynamics_as: ClassVar[tuple[int, ...]] = (1,)
    default_max_cycles: ClassVar[int] = 50
    default_n_landmarks: ClassVar[int] = 2
    moves_landmarks: ClassVar[bool] = True

    def before_physics(
        self, world: World, u: np.ndarray, rng: np.random.Generator, compiled: bool
    ) -> Any:
        vel_next = world.agent_vel * (1.0 - DAMPING) + u / self.bodies.mass[None, :, None] * DT
        predicted = world.agent_pos + (world.agent_vel + vel_next) * DT
        if compiled:
            new = kernels.jitted().prey_moves(world.landmark_pos, predicted, PREY_MOVES, ARENA)
        else:
            new = prey_moves(world.landmark_pos, predicted)
        world.landmark_vel[...] = (new - world.landmark_pos) / DT
        world.landmark_pos[...] = new
        return None

    def update_world(
        self, world: World, geo: Geometry, context: Any, rng: np.random.Generator
    ) -> tuple[Geometry, Events]:
        """Captures, then captured prey respawn; the distances returned are those at the
        capture (before the respawn)."""
        captured = (geo.agent_landmark < CAPTURE_RADIUS).all(axis=1)  # [B, L]
        if captured.any():
            respawn(world.landmark_pos, captured, world.agent_pos, rng)
        return geo, {"captures": captured.sum(axis=1)}

    def rewards(self, geo: Geometry, events: Events) -> tuple[np.ndarray, Events]:
        team = geo.cover() + CAPTURE_REWARD * events["captures"]
        return team[:, None] + self.collisions(geo), {}


parallel_env, env = constructors(PPTask)
