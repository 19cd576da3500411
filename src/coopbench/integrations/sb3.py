"""Stable-Baselines3 on coopbench: an SB3 ``VecEnv`` over the budgeted env ``learn`` receives.

``SB3VecEnv(env)`` is the agents-as-envs view (``integrations.gymnasium.AgentVectorEnv``):
``num_envs * n_agents`` envs sharing one SB3 policy (parameter sharing), each agent's own
observation and reward. Every SB3 step is one ``step`` of the harness's ``BudgetEnv``, so
the budget and the evaluation schedule hold exactly as for any algorithm: ``num_envs`` env
steps per call, ``BudgetExhausted`` past the budget (the harness ends the run there). Episode
ends follow SB3's conventions: ``dones`` per env, ``info["terminal_observation"]`` and
``info["TimeLimit.truncated"]`` (every coopbench episode ends at its time limit, which SB3's
PPO bootstraps from the terminal observation's value).

Why not SuperSuit's ``pettingzoo_env_to_vec_env_v1`` + ``concat_vec_envs_v1``: it builds on
the PettingZoo face (one world, not the harness's env) and ``concat_vec_envs_v1`` copies the
env it is given (``cloudpickle`` round-trip per copy), so a budget counter inside would be
duplicated and the harness would count none of the copies' steps. The same parameter-sharing
layout (agents as envs) is built here directly over the budgeted env instead.

``SB3Policy(model)`` turns a trained SB3 model into a coopbench ``Policy`` for evaluation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    import stable_baselines3
    from stable_baselines3.common.vec_env import VecEnv
except ImportError:  # pragma: no cover - depends on the installation
    raise ImportError(
        "coopbench.integrations.sb3 needs stable-baselines3>=2.0; pip install 'coopbench[sb3]'"
    ) from None

from coopbench.algorithms.base import TrainingEnv
from coopbench.integrations.gymnasium import AgentVectorEnv

MIN_VERSION = (2, 0)


def check_sb3_version(version: str | None = None) -> str:
    """The installed stable-baselines3 version; ``RuntimeError`` in one line if too old."""
    found = stable_baselines3.__version__ if version is None else version
    try:
        major_minor = tuple(int(part) for part in found.split(".")[:2])
    except ValueError:
        major_minor = (0, 0)
    if major_minor < MIN_VERSION:
        raise RuntimeError(
            f"stable-baselines3 {found} is not supported; coopbench.integrations.sb3 needs "
            f"stable-baselines3>={'.'.join(map(str, MIN_VERSION))} "
            "(pip install 'coopbench[sb3]')"
        )
    return found


class SB3VecEnv(VecEnv):
    """SB3 ``VecEnv`` of ``num_envs * n_agents`` agent-envs over the harness's budgeted env."""

    def __init__(self, env: TrainingEnv) -> None:
        """``env``: the ``TrainingEnv`` the harness passes to ``learn``."""
        check_sb3_version()
        self.venv = AgentVectorEnv(env)
        self.task = self.venv.task
        self._actions: np.ndarray | None = None
        super().__init__(
            self.venv.num_envs, self.venv.single_observation_space, self.venv.single_action_space
        )

    # ------------------------------------------------------------------ stepping
    def reset(self) -> np.ndarray:
        """Reset every world (free); seeds set by ``seed()`` apply once, as in SB3."""
        seed = self._seeds[0]
        obs, _ = self.venv.reset(seed=seed)
        self._reset_seeds()
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        """Check and keep ``actions``: ``[num_envs]`` (discrete) or ``[num_envs, 5]``."""
        arr = np.asarray(actions)
        expected = (self.num_envs, *self.action_space.shape)
        if arr.shape != expected:
            raise ValueError(
                f"{self.task.task_id}: SB3 actions for {self.num_envs} agent-envs "
                f"({self.venv.worlds.num_envs} worlds x {self.venv.n_agents} agents) must have "
                f"shape {expected}; got shape {arr.shape}"
            )
        self._actions = arr

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """One step of every world through the budgeted env."""
        if self._actions is None:
            raise RuntimeError("step_wait() called without step_async()")
        actions, self._actions = self._actions, None
        obs, rewards, terminated, truncated, info = self.venv.step(actions)
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if "final_obs" in info:
            for i in np.flatnonzero(dones):
                infos[i]["terminal_observation"] = info["final_obs"][i]
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        return obs, rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        """Nothing to release (the harness owns the env)."""

    # ------------------------------------------------------------------ SB3 plumbing
    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        """Attributes of the shared env, repeated per agent-env (``render_mode`` is None)."""
        value = None if attr_name == "render_mode" else getattr(self.venv, attr_name)
        return [value] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        raise AttributeError(
            f"cannot set {attr_name!r}: the harness's env is shared by all agent-envs"
        )

    def env_method(
        self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any
    ) -> list[Any]:
        raise AttributeError(
            f"cannot call {method_name!r} per agent-env: the harness's env is shared by all"
        )

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * len(self._indices(indices))

    def _indices(self, indices: Any) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        return [indices] if isinstance(indices, int) else list(indices)


class SB3Policy:
    """A trained SB3 model as a coopbench ``Policy``: each agent's deterministic action from
    its own observation (decentralised)."""

    centralised = False

    def __init__(self, model: Any) -> None:
        self.model = model

    def __call__(self, obs: np.ndarray, state: np.ndarray | None = None) -> np.ndarray:
        b, n, obs_dim = obs.shape
        actions, _ = self.model.predict(obs.reshape(b * n, obs_dim), deterministic=True)
        return np.asarray(actions).reshape(b, n, *np.shape(actions)[1:])
