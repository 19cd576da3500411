"""coopbench's tasks as BenchMARL tasks (BenchMARL's ``Task`` enum / ``TaskClass`` API).

``CoopbenchTask.CN_V1.get_task({"n_agents": 3})`` is a ``TaskClass`` an ``Experiment`` runs
on; its config holds the task's keyword arguments. Both action types are offered unless the
config fixes ``continuous_actions``. The envs are ``CoopbenchTorchRLEnv`` (torchrl face):
one group ``"agents"``, the global ``state`` for centralised critics and mixers.

When the harness drives a BenchMARL algorithm (``benchmarl:<name>``), ``training_env`` is
the harness's budgeted ``TrainingEnv``: the collector's env (``num_envs`` equal to its
worlds) is the torchrl face over it, so every env step counts against the budget and runs
the scheduled evaluations; any other env BenchMARL builds (its test env) is a fresh,
unbudgeted one.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

with warnings.catch_warnings():  # torchrl's own deprecations, nothing a user can act on
    warnings.simplefilter("ignore", DeprecationWarning)
    from benchmarl.environments.common import Task, TaskClass
    from torchrl.data import Composite
    from torchrl.envs import EnvBase

from coopbench.envs.registry import TASKS, make_task
from coopbench.integrations.torchrl import GROUP, CoopbenchTorchRLEnv, make_torchrl_env


def task_id_of(enum_name: str) -> str:
    """``"CN_V1"`` → ``"cn-v1"``."""
    return enum_name.lower().replace("_", "-")


class CoopbenchTaskClass(TaskClass):
    """One coopbench task, configured by its keyword arguments (``config``)."""

    def __init__(self, name: str, config: dict[str, Any] | None) -> None:
        super().__init__(name, config)
        self.task_id = task_id_of(name)
        if self.task_id not in TASKS:
            raise ValueError(f"unknown coopbench task {name!r}; expected one of {list(TASKS)}")
        self.rules = make_task(self.task_id, **self.config)  # rejects unknown keywords
        self.training_env: Any = None  # the harness's TrainingEnv, when it drives the run

    def __getstate__(self) -> dict[str, Any]:
        # BenchMARL pickles its task next to the experiment; the harness's env stays out
        return {**self.__dict__, "training_env": None}

    def get_env_fun(
        self, num_envs: int, continuous_actions: bool, seed: int | None, device: Any
    ) -> Callable[[], EnvBase]:
        kwargs = {**self.config, "continuous_actions": bool(continuous_actions)}
        training = self.training_env

        def make() -> EnvBase:
            if training is not None and num_envs == training.num_envs:
                if bool(training.task.continuous_actions) != bool(continuous_actions):
                    raise ValueError(
                        f"{self.task_id}: the harness's env has continuous_actions="
                        f"{training.task.continuous_actions}; BenchMARL asked for "
                        f"{continuous_actions}"
                    )
                env = CoopbenchTorchRLEnv(training, device=device)
            else:
                env = make_torchrl_env(self.task_id, num_envs, device=device, **kwargs)
            if seed is not None:
                env.set_seed(seed)
            return env

        return make

    def _fixed_continuous(self) -> bool | None:
        value = self.config.get("continuous_actions")
        return None if value is None else bool(value)

    def supports_continuous_actions(self) -> bool:
        return self._fixed_continuous() in (None, True)

    def supports_discrete_actions(self) -> bool:
        return self._fixed_continuous() in (None, False)

    def max_steps(self, env: EnvBase) -> int:
        return int(self.rules.max_cycles)

    def has_render(self, env: EnvBase) -> bool:
        return False

    def group_map(self, env: EnvBase) -> dict[str, list[str]]:
        return {GROUP: list(self.rules.agent_names)}

    def observation_spec(self, env: EnvBase) -> Composite:
        spec = env.full_observation_spec_unbatched.clone()
        del spec["state"]
        return spec

    def info_spec(self, env: EnvBase) -> Composite | None:
        return None

    def state_spec(self, env: EnvBase) -> Composite | None:
        return Composite({"state": env.full_observation_spec_unbatched["state"].clone()})

    def action_spec(self, env: EnvBase) -> Composite:
        return env.full_action_spec_unbatched

    def action_mask_spec(self, env: EnvBase) -> Composite | None:
        return None

    @staticmethod
    def env_name() -> str:
        return "coopbench"


class CoopbenchTask(Task):
    """The coopbench tasks (``SPREAD`` is ``spread``, ``CN_V1`` is ``cn-v1``, …)."""

    SPREAD = None
    CN_V1 = None
    CN_V2 = None
    PF = None
    PP = None

    @staticmethod
    def associated_class() -> type[TaskClass]:
        return CoopbenchTaskClass

    def get_from_yaml(self, path: str | None = None) -> TaskClass:
        """The task with its default keyword arguments (coopbench ships no yaml files)."""
        if path is not None:
            return super().get_from_yaml(path)
        return self.get_task(config={})


def benchmarl_task(task_id: str, **task_kwargs: Any) -> CoopbenchTaskClass:
    """The BenchMARL ``TaskClass`` of a coopbench task id (``"cn-v1"``) and its keywords."""
    name = task_id.upper().replace("-", "_")
    if name not in CoopbenchTask.__members__:
        raise ValueError(f"unknown coopbench task {task_id!r}; expected one of {list(TASKS)}")
    return CoopbenchTask[name].get_task(config=dict(task_kwargs))


__all__ = ["CoopbenchTask", "CoopbenchTaskClass", "benchmarl_task", "task_id_of"]
