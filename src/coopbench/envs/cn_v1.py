"""``cn-v1`` — Cooperative Navigation V1 (CTEDD paper §5.1, docs/tasks.md §3.2).

3 agents, 3 static landmarks, 25 steps, ``r_i = cover + coll_i``; agents see
distances, not landmark positions (``obs_mode="distance"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from coopbench.envs.constructors import constructors
from coopbench.envs.task import Events, Geometry, Task


@dataclass
class CNV1Task(Task):
    task_id: ClassVar[str] = "cn-v1"
    version: ClassVar[int] = 1

    def rewards(self, geo: Geometry, events: Events) -> tuple[np.ndarray, Events]:
        return geo.cover()[:, None] + self.collisions(geo), {}


parallel_env, env = constructors(CNV1Task)
