"""PettingZoo-style module constructors: ``cn_v1.parallel_env(**kw)``, ``cn_v1.env(**kw)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pettingzoo import AECEnv

from coopbench.envs.parallel import CoopParallelEnv
from coopbench.envs.task import Task


def constructors(
    task_cls: type[Task],
) -> tuple[Callable[..., CoopParallelEnv], Callable[..., AECEnv]]:
    """``(parallel_env, env)`` for one task class (keywords as for ``coopbench.envs.make``)."""

    def parallel_env(**kwargs: Any) -> CoopParallelEnv:
        return CoopParallelEnv.of(task_cls, **kwargs)

    def env(**kwargs: Any) -> AECEnv:
        return CoopParallelEnv.of(task_cls, **kwargs).to_aec()

    parallel_env.__doc__ = f"PettingZoo ``ParallelEnv`` of ``{task_cls.task_id}``."
    env.__doc__ = f"PettingZoo AEC env of ``{task_cls.task_id}``."
    return parallel_env, env
