"""Batched particle physics: MPE's world step for B worlds at once.

Exactly the dynamics of ``mpe2/_mpe_utils/core.py`` (docs/tasks.md §1), written as one
vectorised numpy expression per phase over arrays shaped ``[B, entities, 2]``:

1. action forces ``u`` (already scaled by the sensitivity),
2. soft contact forces between every pair of colliding entities,
   ``F = contact_force * (p_a - p_b) / d * k * logaddexp(0, -(d - d_min) / k)``,
3. integration in mpe2's order: ``p += v dt``; ``v *= 1 - damping``;
   ``v += F / m dt``; then the speed is clipped to ``max_speed`` where set.

Only the physical entities (the agents in every coopbench task) live here;
kinematic landmarks (push-forward landmarks, prey) are moved by task rules.
``kernels.py`` holds a compiled copy of this step (numba), tested against this one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

DT = 0.1
DAMPING = 0.25
CONTACT_FORCE = 1e2
CONTACT_MARGIN = 1e-3
SENSITIVITY = 5.0

# Discrete action -> unit force direction (docs/tasks.md §1): no-op, -x, +x, -y, +y.
DISCRETE_DIRECTIONS = np.array(
    [[0.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]], dtype=np.float64
)
DISCRETE_FORCES = DISCRETE_DIRECTIONS * SENSITIVITY


@dataclass(frozen=True)
class Bodies:
    """Static properties of the N physical entities of a world (shared by all B worlds)."""

    size: np.ndarray  # [N]
    mass: np.ndarray  # [N]
    collide: np.ndarray  # [N] bool
    max_speed: np.ndarray | None = None  # [N] or None (no clipping)

    @classmethod
    def agents(cls, n: int, size: float = 0.15, mass: float = 1.0) -> Bodies:
        """``n`` identical MPE agents: colliding, movable, no speed limit."""
        return cls(
            size=np.full(n, size),
            mass=np.full(n, mass),
            collide=np.ones(n, dtype=bool),
        )

    @functools.cached_property
    def min_dist(self) -> np.ndarray:
        """``[N, N]`` sum of radii: contact distance of each pair (computed once)."""
        return self.size[:, None] + self.size[None, :]


def action_force(actions: np.ndarray, continuous: bool) -> np.ndarray:
    """Map validated actions to forces ``u`` ``[B, N, 2]`` (mpe2's ``_set_action``).

    Discrete ``[B, N]`` ints index ``DISCRETE_DIRECTIONS``; continuous ``[B, N, 5]``
    in ``[0, 1]`` give ``u = (a2 - a1, a4 - a3)``. Both are scaled by the sensitivity.
    """
    if continuous:
        return (actions[..., 2::2] - actions[..., 1:4:2]) * SENSITIVITY  # (a2 - a1, a4 - a3)
    return DISCRETE_FORCES[actions]


def pair_geometry(pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise offsets ``p_a - p_b`` ``[B, N, N, 2]`` and distances ``[B, N, N]``."""
    delta = pos[:, :, None, :] - pos[:, None, :, :]
    dist = np.sqrt(np.einsum("bijk,bijk->bij", delta, delta))
    return delta, dist


def contact_force(
    delta: np.ndarray, dist: np.ndarray, bodies: Bodies, pair_mask: np.ndarray
) -> np.ndarray:
    """Total soft contact force on every entity ``[B, N, 2]``.

    ``pair_mask`` ``[N, N]`` selects the colliding pairs (both collide, a != b).
    The force on a from b is ``+F``, so summing ``F[a, b]`` over b gives both
    mpe2's ``+F`` on a and ``-F`` on b of every unordered pair.
    """
    k = CONTACT_MARGIN
    safe = np.where(pair_mask, dist, 1.0)
    penetration = np.logaddexp(0.0, -(safe - bodies.min_dist) / k) * k
    scale = np.where(pair_mask, CONTACT_FORCE * penetration / safe, 0.0)
    return np.einsum("bij,bijk->bik", scale, delta)


def integrate(
    pos: np.ndarray, vel: np.ndarray, force: np.ndarray, bodies: Bodies
) -> tuple[np.ndarray, np.ndarray]:
    """One semi-implicit step in mpe2's order; returns new ``(pos, vel)``."""
    new_pos = pos + vel * DT
    new_vel = vel * (1.0 - DAMPING) + force / bodies.mass[None, :, None] * DT
    if bodies.max_speed is not None:
        speed = np.sqrt(np.einsum("bnk,bnk->bn", new_vel, new_vel))
        limit = bodies.max_speed[None, :]
        over = speed > limit
        if over.any():
            factor = np.where(over, limit / np.where(over, speed, 1.0), 1.0)
            new_vel = new_vel * factor[..., None]
    return new_pos, new_vel


def physics_step(
    pos: np.ndarray, vel: np.ndarray, u: np.ndarray, bodies: Bodies, pair_mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Advance B worlds of physical entities by one ``dt`` under action forces ``u``."""
    delta, dist = pair_geometry(pos)
    force = u + contact_force(delta, dist, bodies, pair_mask)
    return integrate(pos, vel, force, bodies)


def collision_pair_mask(bodies: Bodies) -> np.ndarray:
    """``[N, N]`` bool: pairs that exert contact forces (both collide, distinct)."""
    both = bodies.collide[:, None] & bodies.collide[None, :]
    return both & ~np.eye(len(bodies.size), dtype=bool)
