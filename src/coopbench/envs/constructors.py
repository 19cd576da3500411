"""PettingZoo-style module constructors: ``cn_v1.parallel_env(**kw)``, ``cn_v1.env(**kw)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def constructors(task_id: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``(parallel_env, env)`` for one task id, built lazily through the registry."""

    def parallel_env(**kwargs: Any) -> Any:
        from coopbench.envs.registry import make

        return make(task_id, **kwargs)

    def env(**kwargs: Any) -> Any:
        from coopbench.envs.registry import make_aec

        return make_aec(task_id, **kwargs)

    parallel_env.__doc__ = f"PettingZoo ``ParallelEnv`` of ``{task_id}``."
    env.__doc__ = f"PettingZoo AEC env of ``{task_id}``."
    return parallel_env, env
