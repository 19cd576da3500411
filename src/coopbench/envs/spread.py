"""``spread`` — MPE's simple_spread_v3, step for step (docs/tasks.md §3.1).

3 agents, 3 static landmarks, 25 steps, ``r_i = (1 - local_ratio) * cover +
local_ratio * coll_i``, mpe2's 18-value observation (zero communication slots
included). Kept for comparison with the literature; parity with
``mpe2.simple_spread_v3`` is tested to 1e-6.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from coopbench.envs.constructors import constructors
from coopbench.envs.task import Events, Geometry, Task


@dataclass
class SpreadTask(Task):
    task_id: ClassVar[str] = "spread"
    version: ClassVar[int] = 1
    default_obs_mode: ClassVar[str] = "mpe"
    local_ratio: float = 0.5

    def validate(self) -> None:
        super().validate()
        if not 0.0 <= float(self.local_ratio) <= 1.0:
            raise ValueError(
                f"spread: local_ratio={self.local_ratio!r} is invalid; expected a number in [0, 1]"
            )

    def kwargs(self) -> dict[str, Any]:
        return {**super().kwargs(), "local_ratio": float(self.local_ratio)}

    def rewards(self, geo: Geometry, events: Events) -> tuple[np.ndarray, Events]:
        shared = geo.cover()[:, None]
        return (1.0 - self.local_ratio) * shared + self.local_ratio * self.collisions(geo), {}


parallel_env, env = constructors(SpreadTask)
