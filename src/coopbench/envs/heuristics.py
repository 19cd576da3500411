"""Scripted privileged policies (docs/tasks.md §5): global state in, actions out.

Each heuristic picks a target point per agent from the global ``state()`` and
steers to it with a one-step model-predictive rule: an agent's *rest point* (where
it would stop if it coasted after this step) is ``p + v dt + v' dt / damping``
with ``v' = (1 - damping) v + u dt``; the action brings that rest point as close
to the target as the action space allows. These policies define the "1" of the
normalised score (0 = uniform random), so they are deliberately simple and fixed
per task version (``heuristic_policy(task, version=...)`` replays an earlier one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from coopbench.envs.core import DAMPING, DISCRETE_DIRECTIONS, DT, SENSITIVITY
from coopbench.envs.pf import PUSH_DISTANCE, PUSH_ZONE
from coopbench.envs.pp import CAPTURE_RADIUS
from coopbench.envs.registry import make_task
from coopbench.envs.task import Task, permutations

CN_V2_PAIR_OFFSET = 0.16  # the pair holds 0.16 either side of l* (docs/tasks.md §5)
CN_V2_SINGLE_OFFSET = 0.2  # > 0.16 so the pair's landmark stays l* (smaller nearest distance)
PF_APPROACH = 0.12  # wait this far left of the landmark, inside its push zone
PF_FOLLOW = 0.08  # version 1: while pushing, aim this far behind the pushed landmark
PF_PUSH_LEAD = 0.2  # version 2: aim this far ahead of it, where a body at push speed rests
PP_RING = 0.18  # predators close in on a ring of this radius (120 degrees apart)
PP_LEAD = 0.4  # aim ahead of the prey: a body moving at v rests 0.4 v ahead

Policy = Callable[[np.ndarray], np.ndarray]


def steer(
    pos: np.ndarray,
    vel: np.ndarray,
    target: np.ndarray,
    continuous: bool,
    min_ux: float | None = None,
) -> np.ndarray:
    """Actions moving each agent's rest point toward ``target`` (all ``[B, N, 2]``).

    ``min_ux`` (continuous and discrete) forbids forces pushing left of that value,
    which keeps the x-velocity positive while pushing in ``pf``.
    """
    coast = pos + vel * DT + (1.0 - DAMPING) * vel * DT / DAMPING
    gain = DT * DT / DAMPING  # rest-point shift per unit of force
    if continuous:
        u = np.clip((target - coast) / gain, -SENSITIVITY, SENSITIVITY)
        if min_ux is not None:
            u[..., 0] = np.maximum(u[..., 0], min_ux)
        a = np.zeros((*u.shape[:-1], 5))
        a[..., 1], a[..., 2] = np.maximum(-u[..., 0], 0), np.maximum(u[..., 0], 0)
        a[..., 3], a[..., 4] = np.maximum(-u[..., 1], 0), np.maximum(u[..., 1], 0)
        return (a / SENSITIVITY).astype(np.float32)
    rest = coast[..., None, :] + gain * SENSITIVITY * DISCRETE_DIRECTIONS  # [B, N, 5, 2]
    miss = np.linalg.norm(rest - target[..., None, :], axis=-1)
    if min_ux is not None:
        miss[..., 1] = np.inf  # never push left
    return np.argmin(miss, axis=-1).astype(np.int64)


def assign(agent_pos: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Targets ``[B, N, 2]``: agents assigned to distinct points with least total distance."""
    n, k = agent_pos.shape[1], points.shape[1]
    if n > k:
        nearest = np.linalg.norm(agent_pos[:, :, None] - points[:, None], axis=-1).argmin(axis=2)
        return np.take_along_axis(points, nearest[..., None], axis=1)
    perms = permutations(k, n)  # [P, N]
    dist = np.linalg.norm(agent_pos[:, None, :, :] - points[:, perms, :], axis=-1)  # [B, P, N]
    best = perms[dist.sum(axis=2).argmin(axis=1)]  # [B, N]
    return np.take_along_axis(points, best[..., None], axis=1)


def _cover_targets(task: Task, s: dict[str, np.ndarray]) -> np.ndarray:
    return assign(s["agent_pos"], s["landmark_pos"])


def _cn_v2_targets(task: Task, s: dict[str, np.ndarray]) -> np.ndarray:
    """Best 2+1 assignment; the pair flanks l* at ±0.16 in x, the single waits 0.2 from l'."""
    pos, lm = s["agent_pos"], s["landmark_pos"]
    b, n = pos.shape[:2]
    d = np.linalg.norm(pos[:, :, None] - lm[:, None], axis=-1)  # [B, N, 2]
    # cost[b, pair_landmark, single_agent]
    cost = d.sum(axis=1)[:, :, None] - np.moveaxis(d, 1, 2) + np.moveaxis(d[:, :, ::-1], 1, 2)
    flat = cost.reshape(b, -1).argmin(axis=1)
    pair_lm, single = np.divmod(flat, n)
    rows = np.arange(b)
    star, prime = lm[rows, pair_lm], lm[rows, 1 - pair_lm]
    targets = np.empty_like(pos)
    away = pos[rows, single] - prime
    away /= np.maximum(np.linalg.norm(away, axis=-1, keepdims=True), 1e-9)
    targets[rows, single] = prime + CN_V2_SINGLE_OFFSET * away
    slots = star[:, None, :] + np.array([[-CN_V2_PAIR_OFFSET, 0.0], [CN_V2_PAIR_OFFSET, 0.0]])
    others = np.array([[j for j in range(n) if j != k] for k in range(n)])[single]  # [B, 2]
    pair_pos = np.take_along_axis(pos, others[..., None], axis=1)
    pair_targets = assign(pair_pos, slots)
    np.put_along_axis(targets, others[..., None], pair_targets, axis=1)
    return targets


def _pf_actions(
    task: Task, s: dict[str, np.ndarray], continuous: bool, lead: float = PF_PUSH_LEAD
) -> np.ndarray:
    """Line up left of the assigned landmarks; once all are in their zones, push right together,
    aiming ``lead`` ahead of where the pushed landmark will be.

    Version 2 aims ``PF_PUSH_LEAD`` ahead: a body moving at the push speed (``PUSH_DISTANCE``
    per step) comes to rest 0.2 ahead of where it is, so the team keeps pace with the
    landmarks. Version 1 aimed ``PF_FOLLOW`` behind; a team that came to rest there got no
    force, never moved right, so never pushed (29% of the reference worlds, continuous).
    """
    pos, vel, lm = s["agent_pos"], s["agent_vel"], s["landmark_pos"]
    approach = lm - np.array([PF_APPROACH, 0.0])
    targets = assign(pos, approach)
    own = targets + np.array([PF_APPROACH, 0.0])
    in_zone = np.linalg.norm(pos - own, axis=-1) < 0.9 * PUSH_ZONE
    pushing = in_zone.all(axis=1)  # [B]
    follow = own + np.array([PUSH_DISTANCE + lead, 0.0])
    wait = steer(pos, vel, targets, continuous)
    push = steer(pos, vel, follow, continuous, min_ux=0.0)
    mask = pushing.reshape(-1, *([1] * (wait.ndim - 1)))
    return np.where(mask, push, wait)


def _pf_follow_actions(task: Task, s: dict[str, np.ndarray], continuous: bool) -> np.ndarray:
    """The version-1 heuristic: push aiming ``PF_FOLLOW`` behind the pushed landmark."""
    return _pf_actions(task, s, continuous, lead=-PF_FOLLOW)


def _pp_targets(task: Task, s: dict[str, np.ndarray]) -> np.ndarray:
    """Guard every prey (version 2): one predator per prey, one in reserve.

    Three roles, assigned to the predators with the least total distance: a guard for each
    prey, aiming where the prey will be when the guard comes to rest (``PP_LEAD`` ahead of
    its velocity), and a reserve halfway between the prey, ready to take over either.
    Guarding earns more than chasing: the cover term is paid every step by every predator,
    while a capture (+10 each) sends the prey back at least 0.5 away (docs/tasks.md §5.1).
    """
    aim = s["landmark_pos"] + PP_LEAD * s["landmark_vel"]
    reserve = aim.mean(axis=1, keepdims=True)
    return assign(s["agent_pos"], np.concatenate((aim, reserve), axis=1))


def _pp_chase_targets(task: Task, s: dict[str, np.ndarray]) -> np.ndarray:
    """The version-1 heuristic: chase the prey nearest the predators' centroid from three
    directions 120° apart.

    The ring is turned so that one slot lies ahead of the prey's motion (a predator
    cuts it off) and is centred a little ahead of the prey.
    """
    pos, prey, prey_vel = s["agent_pos"], s["landmark_pos"], s["landmark_vel"]
    centroid = pos.mean(axis=1, keepdims=True)
    chosen = np.linalg.norm(prey - centroid, axis=-1).argmin(axis=1)  # [B]
    rows = np.arange(len(pos))
    p, v = prey[rows, chosen], prey_vel[rows, chosen]  # [B, 2]
    goal = p + PP_LEAD * v
    heading = np.arctan2(v[:, 1], v[:, 0])[:, None]
    angles = heading + 2.0 * np.pi * np.arange(task.n_agents) / task.n_agents
    ring = min(PP_RING, 0.9 * CAPTURE_RADIUS)
    slots = goal[:, None, :] + ring * np.stack((np.cos(angles), np.sin(angles)), axis=-1)
    return assign(pos, slots)


Actions = Callable[[Task, dict[str, np.ndarray], bool], np.ndarray]


def _steered(targets_of: Callable[[Task, dict[str, np.ndarray]], np.ndarray]) -> Actions:
    """Actions that steer every agent to the targets ``targets_of`` picks."""

    def actions(task: Task, s: dict[str, np.ndarray], continuous: bool) -> np.ndarray:
        return steer(s["agent_pos"], s["agent_vel"], targets_of(task, s), continuous)

    return actions


_ACTIONS: dict[str, Actions] = {
    "spread": _steered(_cover_targets),
    "cn-v1": _steered(_cover_targets),
    "cn-v2": _steered(_cn_v2_targets),
    "pf": _pf_actions,
    "pp": _steered(_pp_targets),
}
# Heuristics of earlier task versions, kept to re-measure their stored references.
_RETIRED: dict[tuple[str, int], Actions] = {
    ("pp", 1): _steered(_pp_chase_targets),
    ("pf", 1): _pf_follow_actions,
}


def heuristic_policy(task_id: str, version: int | None = None, **kwargs: Any) -> Policy:
    """The task's scripted policy: ``state [B, state_dim] -> actions`` (privileged).

    ``version`` picks the heuristic of an earlier task version (default: the current
    one); keywords are the task's (``continuous_actions`` decides the action format).
    """
    task = make_task(task_id, **kwargs)
    continuous = bool(task.continuous_actions)
    actions_of = _ACTIONS[task.task_id]
    if version is not None and version != task.version:
        if (task.task_id, version) not in _RETIRED:
            kept = sorted([v for t, v in _RETIRED if t == task.task_id] + [task.version])
            raise ValueError(
                f"{task_id}: no heuristic for version {version!r}; expected one of {kept}"
            )
        actions_of = _RETIRED[task.task_id, version]

    def policy(state: np.ndarray) -> np.ndarray:
        return actions_of(task, task.split_state(np.atleast_2d(state)), continuous)

    policy.__doc__ = f"Scripted privileged policy of {task_id} (reads the global state)."
    return policy
