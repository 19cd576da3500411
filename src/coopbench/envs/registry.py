"""Task ids → task classes, and the constructors of every face."""

from __future__ import annotations

from typing import Any

from pettingzoo import AECEnv

from coopbench.envs.batched import BatchedEnv
from coopbench.envs.cn_v1 import CNV1Task
from coopbench.envs.cn_v2 import CNV2Task
from coopbench.envs.parallel import CoopParallelEnv
from coopbench.envs.pf import PFTask
from coopbench.envs.pp import PPTask
from coopbench.envs.spread import SpreadTask
from coopbench.envs.task import Task

TASK_CLASSES: dict[str, type[Task]] = {
    cls.task_id: cls for cls in (SpreadTask, CNV1Task, CNV2Task, PFTask, PPTask)
}
TASKS: tuple[str, ...] = tuple(TASK_CLASSES)


def task_class(task_id: str) -> type[Task]:
    """The class of a task id; ``ValueError`` listing the known ids otherwise."""
    try:
        return TASK_CLASSES[task_id]
    except (KeyError, TypeError):
        raise ValueError(f"unknown task {task_id!r}; expected one of {list(TASKS)}") from None


def task_keywords(task_id: str) -> tuple[str, ...]:
    """The keyword arguments a task accepts."""
    return task_class(task_id).keywords()


def make_task(task_id: str, **kwargs: Any) -> Task:
    """Build a task description, rejecting unknown keywords by name."""
    return task_class(task_id).from_kwargs(**kwargs)


def make(
    task_id: str, render_mode: str | None = None, kernel: str | None = None, **kwargs: Any
) -> CoopParallelEnv:
    """PettingZoo ``ParallelEnv`` of a task; ``kernel`` picks ``"numba"`` or ``"numpy"``."""
    return CoopParallelEnv.of(task_class(task_id), render_mode=render_mode, kernel=kernel, **kwargs)


def make_aec(
    task_id: str, render_mode: str | None = None, kernel: str | None = None, **kwargs: Any
) -> AECEnv:
    """PettingZoo AEC env of a task, through PettingZoo's own conversion."""
    return make(task_id, render_mode=render_mode, kernel=kernel, **kwargs).to_aec()


def make_batched(
    task_id: str, num_envs: int, kernel: str | None = None, **kwargs: Any
) -> BatchedEnv:
    """``num_envs`` worlds of a task stepped together (see ``BatchedEnv``)."""
    return BatchedEnv(make_task(task_id, **kwargs), num_envs, kernel=kernel)
