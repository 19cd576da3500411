"""``cn-v2`` — Cooperative Navigation V2 (CTEDD paper §5.1, docs/tasks.md §3.3).

3 agents, 2 static landmarks, 25 steps. Each step ``l*`` is the landmark with
the smaller nearest-agent distance (recomputed every step), ``l'`` the other;
``pair`` is the distance cost of the best assignment of two agents to ``l*`` and
one to ``l'``; ``wrong = -10`` when two or more agents are closer to ``l'`` than
to ``l*``; ``r_i = -pair + wrong + coll_i``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from coopbench.envs.constructors import constructors
from coopbench.envs.task import Events, Geometry, Task

WRONG_PENALTY = -10.0


def pair_cost(agent_landmark: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(pair [B], wrong [B] bool, star [B])`` of CN-V2's reward from distances ``[B, N, 2]``.

    ``pair = min_k [d(k, l') + sum_{j != k} d(j, l*)]``
    ``     = sum_j d(j, l*) + min_k (d(k, l') - d(k, l*))``.
    """
    star = np.argmin(agent_landmark.min(axis=1), axis=1)
    rows = np.arange(agent_landmark.shape[0])
    d_star = agent_landmark[rows, :, star]
    d_prime = agent_landmark[rows, :, 1 - star]
    pair = d_star.sum(axis=1) + (d_prime - d_star).min(axis=1)
    wrong = (d_prime < d_star).sum(axis=1) >= 2
    return pair, wrong, star


@dataclass
class CNV2Task(Task):
    task_id: ClassVar[str] = "cn-v2"
    version: ClassVar[int] = 1
    default_n_landmarks: ClassVar[int] = 2

    def validate(self) -> None:
        super().validate()
        if self.n_agents != 3 or self.n_landmarks != 2:
            raise ValueError(
                f"cn-v2: n_agents={self.n_agents}, n_landmarks={self.n_landmarks} are invalid; "
                "the 2+1 assignment rule is defined for exactly 3 agents and 2 landmarks"
            )

    def rewards(self, geo: Geometry, events: Events) -> tuple[np.ndarray, Events]:
        pair, wrong, _ = pair_cost(geo.agent_landmark)
        team = -pair + WRONG_PENALTY * wrong
        return team[:, None] + self.collisions(geo), {"wrong": wrong}


parallel_env, env = constructors(CNV2Task)
