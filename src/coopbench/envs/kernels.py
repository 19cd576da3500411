"""Optional compiled kernels: the hot phases of a step as numba loops over worlds.

The numpy path (``core.py``, ``task.py``) is the definition; these kernels compute the
same numbers (the physics of docs/tasks.md §1, the shared distances, the observations) in one
compiled loop per phase, so a step costs a few calls instead of dozens of small numpy
operations. Results agree with the numpy path to float rounding (tested over whole
episodes in ``tests/test_envs_kernels.py``); no ``fastmath``, so the IEEE operations
are those of the numpy expressions, in the same order.

Which path a ``BatchedEnv`` uses: its ``kernel=`` argument, else the environment
variable ``COOPBENCH_KERNEL`` (``numba`` or ``numpy``), else numba when it imports.
numba is a dependency of coopbench; where it cannot be installed the numpy path
runs alone. Compiled code is cached on disk
(``cache=True``), so only the first run on a machine pays the compile time.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
from types import SimpleNamespace

import numpy as np

from coopbench.envs.core import CONTACT_FORCE, CONTACT_MARGIN, DAMPING, DT

KERNELS = ("numpy", "numba")
ENV_VAR = "COOPBENCH_KERNEL"
OBS_CODES = {"distance": 0, "relative": 1, "mpe": 2}


def _numba_installed() -> bool:
    try:
        return importlib.util.find_spec("numba") is not None
    except ValueError:  # sys.modules["numba"] is None: importing it is blocked
        return False


HAVE_NUMBA = _numba_installed()  # numba itself is imported only when first used


def resolve_kernel(kernel: str | None = None) -> str:
    """The kernel to use: ``kernel``, else ``$COOPBENCH_KERNEL``, else numba when installed."""
    source = "kernel"
    if kernel is None:
        kernel, source = os.environ.get(ENV_VAR) or None, ENV_VAR
    if kernel is None:
        return "numba" if HAVE_NUMBA else "numpy"
    if kernel not in KERNELS:
        raise ValueError(f"{source}={kernel!r} is invalid; expected one of {list(KERNELS)}")
    if kernel == "numba" and not HAVE_NUMBA:
        raise ValueError(
            f"{source}='numba' but numba is not installed; pip install numba or use 'numpy'"
        )
    return kernel


@functools.cache
def jitted() -> SimpleNamespace:
    """The compiled kernels (numba is imported, and the kernels compiled or loaded from
    the on-disk cache, on the first call)."""
    import numba

    jit = numba.njit(cache=True, error_model="numpy")
    # helpers called inside kernels are looked up in this module's namespace at compile time
    globals().update(_contact_penetration=jit(_contact_penetration), _distances=jit(_distances))
    return SimpleNamespace(
        advance=jit(_advance),
        geometry=jit(_geometry),
        observe=jit(_observe),
        cover=jit(_cover),
        collisions=jit(_collisions),
        prey_moves=jit(_prey_moves),
    )


def _contact_penetration(d: float, d_min: float) -> float:
    """``k * logaddexp(0, -(d - d_min) / k)`` with numpy's branch order (npymath)."""
    z = -(d - d_min) / CONTACT_MARGIN
    if z < -746.0:  # exp underflows to 0 and log1p(0) = 0: skip both calls
        return 0.0
    if z < -38.0:  # exp(z) < 2**-54, where log1p(x) rounds to x exactly
        return math.exp(z) * CONTACT_MARGIN
    if z == 0.0:
        return math.log(2.0) * CONTACT_MARGIN
    if z < 0.0:
        return math.log1p(math.exp(z)) * CONTACT_MARGIN
    return (z + math.log1p(math.exp(-z))) * CONTACT_MARGIN


def _distances(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """``out[w, i, j] = |a[w, i] - b[w, j]|`` for every world."""
    for w in range(a.shape[0]):
        for i in range(a.shape[1]):
            for j in range(b.shape[1]):
                dx = a[w, i, 0] - b[w, j, 0]
                dy = a[w, i, 1] - b[w, j, 1]
                out[w, i, j] = math.sqrt(dx * dx + dy * dy)


def _advance(pos, vel, u, landmark_pos, min_dist, pair_mask, mass, max_speed):
    """Physics step (``core.physics_step``) then the distances of ``task.geometry``.

    Returns ``(pos, vel, agent_agent, agent_landmark)``; ``max_speed`` < 0 means no limit.
    """
    b, n = pos.shape[0], pos.shape[1]
    new_pos = np.empty_like(pos)
    new_vel = np.empty_like(vel)
    for w in range(b):
        for i in range(n):
            fx = 0.0
            fy = 0.0
            for j in range(n):
                if pair_mask[i, j]:
                    dx = pos[w, i, 0] - pos[w, j, 0]
                    dy = pos[w, i, 1] - pos[w, j, 1]
                    d = math.sqrt(dx * dx + dy * dy)
                    scale = CONTACT_FORCE * _contact_penetration(d, min_dist[i, j]) / d
                    fx += scale * dx
                    fy += scale * dy
            fx = u[w, i, 0] + fx
            fy = u[w, i, 1] + fy
            new_pos[w, i, 0] = pos[w, i, 0] + vel[w, i, 0] * DT
            new_pos[w, i, 1] = pos[w, i, 1] + vel[w, i, 1] * DT
            vx = vel[w, i, 0] * (1.0 - DAMPING) + fx / mass[i] * DT
            vy = vel[w, i, 1] * (1.0 - DAMPING) + fy / mass[i] * DT
            if max_speed[i] >= 0.0:
                speed = math.sqrt(vx * vx + vy * vy)
                if speed > max_speed[i]:
                    factor = max_speed[i] / speed
                    vx = vx * factor
                    vy = vy * factor
            new_vel[w, i, 0] = vx
            new_vel[w, i, 1] = vy
    agent_agent = np.empty((b, n, n))
    agent_landmark = np.empty((b, n, landmark_pos.shape[1]))
    _distances(new_pos, new_pos, agent_agent)
    _distances(new_pos, landmark_pos, agent_landmark)
    return new_pos, new_vel, agent_agent, agent_landmark


def _geometry(agent_pos, landmark_pos):
    """``task.geometry``: agent-agent and agent-landmark distances."""
    b, n, lm = agent_pos.shape[0], agent_pos.shape[1], landmark_pos.shape[1]
    agent_agent = np.empty((b, n, n))
    agent_landmark = np.empty((b, n, lm))
    _distances(agent_pos, agent_pos, agent_agent)
    _distances(agent_pos, landmark_pos, agent_landmark)
    return agent_agent, agent_landmark


def _cover(agent_landmark):
    """``task.cover``: ``-sum_l min_a d(a, l)`` per world."""
    b, n, lm = agent_landmark.shape
    out = np.empty(b)
    for w in range(b):
        total = 0.0
        for j in range(lm):
            nearest = agent_landmark[w, 0, j]
            for i in range(1, n):
                nearest = min(nearest, agent_landmark[w, i, j])
            total += nearest
        out[w] = -total
    return out


def _collisions(agent_agent, contact):
    """``Task.collisions``: minus the number of agents closer than ``contact[i, j]``."""
    b, n = agent_agent.shape[0], agent_agent.shape[1]
    out = np.empty((b, n))
    for w in range(b):
        for i in range(n):
            count = 0
            for j in range(n):
                if agent_agent[w, i, j] < contact[i, j]:
                    count += 1
            out[w, i] = -count
    return out


def _prey_moves(prey_pos, predicted, moves, arena):
    """``pp.prey_moves``: each prey takes the move inside the arena that maximises its
    summed distance to the predicted predators (first best on ties; stays if none)."""
    b, lm, n = prey_pos.shape[0], prey_pos.shape[1], predicted.shape[1]
    out = prey_pos.copy()
    for w in range(b):
        for j in range(lm):
            found = False
            best = 0.0
            for k in range(moves.shape[0]):
                cx = prey_pos[w, j, 0] + moves[k, 0]
                cy = prey_pos[w, j, 1] + moves[k, 1]
                if abs(cx) <= arena and abs(cy) <= arena:
                    total = 0.0
                    for i in range(n):
                        dx = cx - predicted[w, i, 0]
                        dy = cy - predicted[w, i, 1]
                        total += math.sqrt(dx * dx + dy * dy)
                    if not found or total > best:
                        found = True
                        best = total
                        out[w, j, 0] = cx
                        out[w, j, 1] = cy
    return out


def _observe(agent_pos, agent_vel, landmark_pos, agent_agent, agent_landmark, mode, obs_dim):
    """``Task.observe`` for obs mode code ``mode`` (0 distance, 1 relative, 2 mpe)."""
    b, n, lm = agent_pos.shape[0], agent_pos.shape[1], landmark_pos.shape[1]
    obs = np.zeros((b, n, obs_dim), dtype=np.float32)
    for w in range(b):
        for i in range(n):
            px = agent_pos[w, i, 0]
            py = agent_pos[w, i, 1]
            obs[w, i, 0] = agent_vel[w, i, 0]
            obs[w, i, 1] = agent_vel[w, i, 1]
            obs[w, i, 2] = px
            obs[w, i, 3] = py
            k = 4
            if mode == 0:
                for j in range(lm):
                    obs[w, i, k] = agent_landmark[w, i, j]
                    k += 1
                for j in range(n):
                    if j != i:
                        obs[w, i, k] = agent_agent[w, i, j]
                        k += 1
            else:  # relative positions; "mpe" leaves its communication slots at zero
                for j in range(lm):
                    obs[w, i, k] = landmark_pos[w, j, 0] - px
                    obs[w, i, k + 1] = landmark_pos[w, j, 1] - py
                    k += 2
                for j in range(n):
                    if j != i:
                        obs[w, i, k] = agent_pos[w, j, 0] - px
                        obs[w, i, k + 1] = agent_pos[w, j, 1] - py
                        k += 2
    return obs
