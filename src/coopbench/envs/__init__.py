"""coopbench tasks: one batched particle core, five tasks, PettingZoo and batched faces.

>>> from coopbench.envs import make, make_batched, TASKS
>>> env = make("cn-v1")                        # PettingZoo ParallelEnv
>>> batch = make_batched("cn-v1", num_envs=64)  # 64 worlds stepped together
"""

from coopbench.envs.batched import BatchedEnv, TaskSpec
from coopbench.envs.episodes import rollout, save_gif
from coopbench.envs.heuristics import heuristic_policy
from coopbench.envs.reference import reference_returns, scoring_references
from coopbench.envs.registry import TASKS, make, make_aec, make_batched, make_task, task_keywords

__all__ = [
    "TASKS",
    "BatchedEnv",
    "TaskSpec",
    "heuristic_policy",
    "make",
    "make_aec",
    "make_batched",
    "make_task",
    "reference_returns",
    "rollout",
    "save_gif",
    "scoring_references",
    "task_keywords",
]
