"""What every task shares: world state, observations, state vector, reward terms.

A ``Task`` is the static description of one scenario (docs/tasks.md §3) and the
rules that act on a batch of worlds, in the order a step applies them:

1. ``before_physics`` — rules acting on the world before the physics step (prey flee);
2. the physics step (``core.py`` / ``kernels.py``);
3. ``update_world`` — rules acting on the world after it (landmarks pushed, captured
   prey respawned); returns the distances the rewards read and the step's events;
4. ``rewards`` — per-agent rewards: reads distances and events, changes nothing;
5. ``observe`` / ``state`` — the views.

It holds no per-episode state; ``BatchedEnv`` owns the arrays and the random generator.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from coopbench.envs import kernels
from coopbench.envs.core import Bodies, collision_pair_mask
from coopbench.validation import check_int

OBS_MODES = ("distance", "relative", "mpe")
AGENT_SIZE = 0.15
Events = dict[str, np.ndarray]  # per-world events of a step, ``[B]`` arrays by name


@dataclass
class World:
    """Mutable state of B worlds. Positions and velocities are float64 ``[B, ., 2]``."""

    agent_pos: np.ndarray
    agent_vel: np.ndarray
    landmark_pos: np.ndarray
    landmark_vel: np.ndarray
    t: int = 0

    def copy(self) -> World:
        return World(
            self.agent_pos.copy(),
            self.agent_vel.copy(),
            self.landmark_pos.copy(),
            self.landmark_vel.copy(),
            self.t,
        )


@dataclass(frozen=True)
class Geometry:
    """Distances the rewards and observations share, computed once per step."""

    agent_agent: np.ndarray  # [B, N, N]
    agent_landmark: np.ndarray  # [B, N, L]
    compiled: bool = False  # made by the numba kernels: derived terms use them too

    def cover(self) -> np.ndarray:
        """``cover(agent_landmark)`` ``[B]``."""
        if self.compiled:
            return kernels.jitted().cover(self.agent_landmark)
        return cover(self.agent_landmark)


def geometry(world: World) -> Geometry:
    """Agent-agent and agent-landmark Euclidean distances for every world."""
    aa = world.agent_pos[:, :, None, :] - world.agent_pos[:, None, :, :]
    al = world.agent_pos[:, :, None, :] - world.landmark_pos[:, None, :, :]
    return Geometry(
        agent_agent=np.sqrt(np.einsum("bijk,bijk->bij", aa, aa)),
        agent_landmark=np.sqrt(np.einsum("bijk,bijk->bij", al, al)),
    )


def cover(agent_landmark: np.ndarray) -> np.ndarray:
    """``-sum_l min_a d(a, l)`` per world ``[B]`` (shared reward term, docs/tasks.md §3)."""
    return -agent_landmark.min(axis=1).sum(axis=1)


@dataclass
class Task:
    """Base class of the five tasks; subclasses set the class constants and rules."""

    task_id: ClassVar[str]
    version: ClassVar[int]
    # Earlier versions with the same dynamics, rewards and observations (bumped for a new
    # heuristic only): their runs are scored against this version's references.
    same_dynamics_as: ClassVar[tuple[int, ...]] = ()
    default_obs_mode: ClassVar[str] = "distance"
    default_max_cycles: ClassVar[int] = 25
    default_n_landmarks: ClassVar[int] = 3
    moves_landmarks: ClassVar[bool] = False  # True when task rules move landmarks
    n_agents: int = 3
    n_landmarks: int = -1
    max_cycles: int = -1
    obs_mode: str = ""
    continuous_actions: bool = False
    bodies: Bodies = field(init=False, repr=False)
    pair_mask: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.n_landmarks == -1:
            self.n_landmarks = self.default_n_landmarks
        if self.max_cycles == -1:
            self.max_cycles = self.default_max_cycles
        if self.obs_mode == "":
            self.obs_mode = self.default_obs_mode
        self.validate()
        self.bodies = Bodies.agents(self.n_agents, AGENT_SIZE)
        self.pair_mask = collision_pair_mask(self.bodies)
        self._contact = np.where(self.pair_mask, self.bodies.min_dist, -np.inf)  # [N, N]
        n = self.n_agents
        self._others = np.array([[j for j in range(n) if j != i] for i in range(n)], dtype=np.intp)

    # ----------------------------------------------------------------- config
    @classmethod
    def keywords(cls) -> tuple[str, ...]:
        """The keyword arguments the task accepts."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.init)

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> Task:
        """Build the task, rejecting unknown keywords by name."""
        unknown = sorted(set(kwargs) - set(cls.keywords()))
        if unknown:
            raise ValueError(
                f"{cls.task_id}: unknown keyword(s) {unknown}; expected some of "
                f"{list(cls.keywords())} (plus kernel, and render_mode for the PettingZoo face)"
            )
        return cls(**kwargs)

    def validate(self) -> None:
        """Reject impossible configurations with a message naming the value."""
        for name in ("n_agents", "n_landmarks", "max_cycles"):
            check_int(getattr(self, name), f"{self.task_id}: {name}")
        if self.obs_mode not in OBS_MODES:
            raise ValueError(
                f"{self.task_id}: obs_mode={self.obs_mode!r} is invalid; "
                f"expected one of {OBS_MODES}"
            )
        if not isinstance(self.continuous_actions, (bool, np.bool_)):
            raise ValueError(
                f"{self.task_id}: continuous_actions={self.continuous_actions!r}; expected a bool"
            )

    def kwargs(self) -> dict[str, Any]:
        """The resolved constructor keywords (recorded with every result)."""
        return {
            "n_agents": self.n_agents,
            "n_landmarks": self.n_landmarks,
            "max_cycles": self.max_cycles,
            "obs_mode": self.obs_mode,
            "continuous_actions": bool(self.continuous_actions),
        }

    @property
    def agent_names(self) -> tuple[str, ...]:
        return tuple(f"agent_{i}" for i in range(self.n_agents))

    @property
    def obs_dim(self) -> int:
        n, lm = self.n_agents, self.n_landmarks
        if self.obs_mode == "distance":
            return 4 + lm + (n - 1)
        if self.obs_mode == "relative":
            return 4 + 2 * lm + 2 * (n - 1)
        return 4 + 2 * lm + 4 * (n - 1)  # "mpe": includes mpe2's zero comm slots

    @property
    def state_dim(self) -> int:
        return 4 * self.n_agents + 4 * self.n_landmarks + 1

    # ----------------------------------------------------------------- episode
    def reset_world(self, rng: np.random.Generator, num_envs: int) -> World:
        """Start states in mpe2's draw order: agents, then landmarks, ``U(-1, 1)^2``."""
        n, lm = self.n_agents, self.n_landmarks
        agent_pos = rng.uniform(-1.0, 1.0, (num_envs, n, 2))
        landmark_pos = rng.uniform(-1.0, 1.0, (num_envs, lm, 2))
        return World(
            agent_pos=agent_pos,
            agent_vel=np.zeros((num_envs, n, 2)),
            landmark_pos=landmark_pos,
            landmark_vel=np.zeros((num_envs, lm, 2)),
        )

    def before_physics(
        self, world: World, u: np.ndarray, rng: np.random.Generator, compiled: bool
    ) -> Any:
        """Rules applied to ``world`` before the physics step; returns context for
        ``update_world``.

        ``compiled``: use the numba kernels (``kernels.jitted()``) where the task has one.
        """
        return None

    def update_world(
        self, world: World, geo: Geometry, context: Any, rng: np.random.Generator
    ) -> tuple[Geometry, Events]:
        """Rules applied to ``world`` after the physics step (``geo``: its distances).

        Returns the distances ``rewards`` reads and the per-world events of the step.
        """
        return geo, {}

    def rewards(self, geo: Geometry, events: Events) -> tuple[np.ndarray, Events]:
        """Per-agent rewards ``[B, N]`` from distances and events, and further events.

        A pure function: the world is updated before, in ``update_world``.
        """
        raise NotImplementedError

    def collisions(self, geo: Geometry) -> np.ndarray:
        """``coll_i`` ``[B, N]``: minus the number of other agents touching agent i."""
        if geo.compiled:
            return kernels.jitted().collisions(geo.agent_agent, self._contact)
        return -(geo.agent_agent < self._contact).sum(axis=2).astype(np.float64)

    # ----------------------------------------------------------------- views
    def observe(self, world: World, geo: Geometry) -> np.ndarray:
        """Local observations ``[B, N, obs_dim]`` float32 in the task's ``obs_mode``.

        Each part is written straight into the float32 result (one rounding, as a cast).
        """
        b, n, lm = world.agent_pos.shape[0], self.n_agents, self.n_landmarks
        obs = np.zeros((b, n, self.obs_dim), dtype=np.float32)
        obs[:, :, 0:2] = world.agent_vel
        obs[:, :, 2:4] = world.agent_pos
        if self.obs_mode == "distance":
            obs[:, :, 4 : 4 + lm] = geo.agent_landmark
            obs[:, :, 4 + lm :] = np.take_along_axis(geo.agent_agent, self._others[None], axis=2)
            return obs
        # relative positions; "mpe" leaves its communication slots at zero
        rel_lm = obs[:, :, 4 : 4 + 2 * lm].reshape(b, n, lm, 2)
        np.subtract(world.landmark_pos[:, None, :, :], world.agent_pos[:, :, None, :], out=rel_lm)
        rel_ag = obs[:, :, 4 + 2 * lm : 4 + 2 * lm + 2 * (n - 1)].reshape(b, n, n - 1, 2)
        np.subtract(world.agent_pos[:, self._others, :], world.agent_pos[:, :, None, :], out=rel_ag)
        return obs

    def state(self, world: World) -> np.ndarray:
        """Global state ``[B, state_dim]`` float32 (docs/tasks.md §2)."""
        b = world.agent_pos.shape[0]
        t = np.full((b, 1), world.t / self.max_cycles)
        return np.concatenate(
            [
                world.agent_pos.reshape(b, -1),
                world.agent_vel.reshape(b, -1),
                world.landmark_pos.reshape(b, -1),
                world.landmark_vel.reshape(b, -1),
                t,
            ],
            axis=1,
        ).astype(np.float32)

    def split_state(self, state: np.ndarray) -> dict[str, np.ndarray]:
        """Inverse of ``state``: named float64 arrays for heuristics and critics."""
        s = np.asarray(state, dtype=np.float64)
        b, n, lm = s.shape[0], self.n_agents, self.n_landmarks
        cuts = np.cumsum([2 * n, 2 * n, 2 * lm, 2 * lm])
        ap, av, lp, lv, t = np.split(s, cuts, axis=1)
        return {
            "agent_pos": ap.reshape(b, n, 2),
            "agent_vel": av.reshape(b, n, 2),
            "landmark_pos": lp.reshape(b, lm, 2),
            "landmark_vel": lv.reshape(b, lm, 2),
            "t": t[:, 0],
        }


def permutations(n: int, k: int | None = None) -> np.ndarray:
    """All ordered selections of ``k`` of ``n`` indices, ``[P, k]`` (assignment search)."""
    return np.array(list(itertools.permutations(range(n), n if k is None else k)), dtype=np.intp)
