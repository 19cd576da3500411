"""Gymnasium vector envs over the env ``learn`` receives: auto-reset, budget still enforced.

Both classes wrap the harness's ``TrainingEnv`` (``harness.budget.BudgetEnv``): every
``step`` goes through it, so each step costs ``num_envs`` env steps (one per world) against
the budget, runs the evaluations the schedule has due, and a step past the budget raises
``BudgetExhausted`` (the harness ends ``learn`` there). They add what a CleanRL-style loop
expects from ``gymnasium.vector.VectorEnv`` (gymnasium >= 1.0):

- **Auto-reset, ``AutoresetMode.SAME_STEP``**: the step that ends an episode returns the
  *first* observation of the next episode; the episode's last observation is in
  ``info["final_obs"]`` and the step's own info in ``info["final_info"]``, with boolean masks
  ``info["_final_obs"]``/``info["_final_info"]`` marking the worlds that ended. Unlike
  gymnasium's ``SyncVectorEnv`` (an object array of per-env observations), ``final_obs`` is
  one dense array shaped like the observations, so ``info["final_obs"][i]`` works either way.
  SAME_STEP (not NEXT_STEP) because the batched env has no per-world reset and every task
  has a fixed horizon: all worlds end on the same step, and NEXT_STEP would spend a whole
  step of every world (counted against the budget) on a reset with no transition in it.
  ``gymnasium.wrappers.vector.RecordEpisodeStatistics`` reads the mode and works on top.
- **Shapes.** ``MultiAgentVectorEnv``: observations ``[num_envs, n_agents, obs_dim]``,
  actions ``[num_envs, n_agents]`` (discrete) or ``[num_envs, n_agents, 5]`` (continuous),
  rewards ``[num_envs, n_agents]`` (each agent's reward, not a scalar per world),
  terminated/truncated ``[num_envs]``. ``AgentVectorEnv`` is the "agents as envs" view for
  parameter-sharing single-agent code: ``num_envs * n_agents`` envs (world-major: env
  ``w * n_agents + i`` is agent ``i`` of world ``w``), observations ``[num_envs * n_agents,
  obs_dim]``, rewards and flags ``[num_envs * n_agents]``.

Every coopbench task ends all worlds together (``envs/batched.py``); a wrapped env that ends
only some of its worlds cannot be auto-reset (it has no per-world reset) and is refused in
one line rather than silently stepped past an episode's end.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from coopbench.algorithms.base import TrainingEnv
from coopbench.envs import TaskSpec
from coopbench.envs.batched import N_ACTIONS

StepResult = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]


class _HarnessSide:
    """What both views pass through from the budgeted env (``self.env``)."""

    env: TrainingEnv

    def state(self) -> np.ndarray:
        """Global state ``[worlds, state_dim]`` of the current episodes, one row per world
        (for centralised critics)."""
        return self.env.state()

    @property
    def steps_taken(self) -> int:
        """Env steps counted against the budget so far (world steps, not agent steps)."""
        return self.env.steps_taken

    @property
    def remaining(self) -> int:
        """Env steps left in the budget."""
        return self.env.remaining

    @property
    def exhausted(self) -> bool:
        """True once one more step would exceed the budget (it would raise)."""
        return self.env.exhausted


class MultiAgentVectorEnv(_HarnessSide, VectorEnv):
    """``num_envs`` worlds with auto-reset (SAME_STEP); per-agent observations and rewards."""

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.SAME_STEP}  # noqa: RUF012

    def __init__(self, env: TrainingEnv) -> None:
        """``env``: the ``TrainingEnv`` the harness passes to ``learn``."""
        for attr in ("task", "num_envs", "reset", "step"):
            if not hasattr(env, attr):
                raise TypeError(
                    f"{type(env).__name__} has no {attr!r}; expected the TrainingEnv that "
                    "learn(env, hooks) receives"
                )
        self.env = env
        self.task: TaskSpec = env.task
        self.num_envs = env.num_envs
        self.n_agents = self.task.n_agents
        self.render_mode = None
        self._set_spaces()
        self._started = False

    def _set_spaces(self) -> None:
        n, task = self.n_agents, self.task
        self.single_observation_space = spaces.Box(
            -np.inf, np.inf, (n, task.obs_dim), dtype=np.float32
        )
        if task.continuous_actions:
            self.single_action_space: spaces.Space = spaces.Box(
                0.0, 1.0, (n, N_ACTIONS), dtype=np.float32
            )
        else:
            self.single_action_space = spaces.MultiDiscrete([N_ACTIONS] * n)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

    # ------------------------------------------------------------------ gymnasium API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start new episodes in every world; ``seed`` (one int for all worlds) restarts the
        random stream. Resets are free: only steps count against the budget."""
        if seed is not None and not isinstance(seed, int | np.integer):
            raise ValueError(
                f"seed={seed!r} is invalid; expected one int for all worlds (the batched env "
                "has one random stream) or None"
            )
        super().reset(seed=seed)
        self._started = True
        return self.env.reset(seed=None if seed is None else int(seed))

    def step(self, actions: Any) -> StepResult:
        """Step every world (``num_envs`` env steps against the budget); worlds whose episode
        ended are reset in the same call (see the module docstring for ``info``)."""
        if not self._started:
            raise RuntimeError(f"{self.task.task_id}: call reset() before step()")
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        ended = np.logical_or(terminated, truncated)
        if ended.any():
            if not ended.all():
                raise RuntimeError(
                    f"{self.task.task_id}: worlds {np.flatnonzero(ended).tolist()} of "
                    f"{self.num_envs} ended alone; the wrapped env can only reset all worlds "
                    "together, so auto-reset needs every episode to end on the same step"
                )
            final_obs, final_info = obs, info
            obs, reset_info = self.env.reset()
            info = {
                **reset_info,
                "final_obs": final_obs,
                "_final_obs": ended.copy(),
                "final_info": final_info,
                "_final_info": ended.copy(),
            }
        return obs, rewards, terminated, truncated, info


class AgentVectorEnv(_HarnessSide, VectorEnv):
    """The "agents as envs" view: ``num_envs * n_agents`` single-agent envs (world-major) for
    parameter-sharing code; the task's per-agent spaces are the single spaces."""

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.SAME_STEP}  # noqa: RUF012

    def __init__(self, env: TrainingEnv) -> None:
        """``env``: the ``TrainingEnv`` the harness passes to ``learn``."""
        self.worlds = MultiAgentVectorEnv(env)
        self.env = self.worlds.env
        self.task: TaskSpec = self.worlds.task
        self.n_agents = self.worlds.n_agents
        self.num_envs = self.worlds.num_envs * self.n_agents
        self.render_mode = None
        self.single_observation_space = self.task.observation_space
        self.single_action_space = self.task.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start new episodes in every world (see ``MultiAgentVectorEnv.reset``)."""
        obs, info = self.worlds.reset(seed=seed, options=options)
        super().reset(seed=seed)
        return self._flat(obs), info

    def step(self, actions: Any) -> StepResult:
        """Step every world with ``actions`` ``[num_envs * n_agents]`` (discrete) or
        ``[num_envs * n_agents, 5]`` (continuous); ``num_envs / n_agents`` env steps of the
        budget (one per world). Per-world info arrays (e.g. pp's ``captures``, the masks,
        ``final_obs``) are repeated for each agent of the world."""
        expected = self.action_space.shape
        arr = np.asarray(actions)
        if arr.shape != expected:
            raise ValueError(
                f"{self.task.task_id}: actions for {self.num_envs} agent-envs "
                f"({self.worlds.num_envs} worlds x {self.n_agents} agents) must have shape "
                f"{expected}; got shape {arr.shape}"
            )
        worlds = arr.reshape(self.worlds.num_envs, self.n_agents, *expected[1:])
        obs, rewards, terminated, truncated, info = self.worlds.step(worlds)
        final_obs = info.get("final_obs")
        info = self._per_agent({k: v for k, v in info.items() if k != "final_obs"})
        if final_obs is not None:
            info["final_obs"] = self._flat(final_obs)
        return (
            self._flat(obs),
            rewards.reshape(-1),
            np.repeat(terminated, self.n_agents),
            np.repeat(truncated, self.n_agents),
            info,
        )

    def _flat(self, obs: np.ndarray) -> np.ndarray:
        return obs.reshape(self.num_envs, self.task.obs_dim)

    def _per_agent(self, info: dict[str, Any]) -> dict[str, Any]:
        """Info with every per-world array (leading dim = worlds) repeated for each agent of
        its world, nested dicts (``final_info``) included."""
        worlds = self.worlds.num_envs
        out: dict[str, Any] = {}
        for key, value in info.items():
            if isinstance(value, dict):
                out[key] = self._per_agent(value)
            elif isinstance(value, np.ndarray) and value.shape[:1] == (worlds,):
                out[key] = np.repeat(value, self.n_agents, axis=0)
            else:
                out[key] = value
        return out
