"""``cn-v1`` — Cooperative Navigation V1 (CTEDD paper §5.1, ENVS.md §3).

3 agents, 3 static landmarks, 25 steps, ``r_i = cover + coll_i``; agents see
distances, not landmark positions (``obs_mode="distance"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from coopbench.envs.constructors import constructors
from coopbench.envs.task import Geometry, Task, World


@dataclass
class CNV1Task(Task):
    task_id: ClassVar[str] = "cn-v1"
    version: ClassVar[int] = 1

    def rewards(
        self, world: World, geo: Geometry, context: Any, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return geo.cover()[:, None] + self.collisions(geo), {}


parallel_env, env = constructors("cn-v1")
