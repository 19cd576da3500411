"""Thesis ch. 2 reproduction: mutual Q-learning on CartPole, all trials vectorised.

``CartPoleBatch`` re-implements gymnasium's CartPole-v1 (Euler integration, reward 1
per step including the failing one, 500-step limit) for n worlds in numpy; a test
checks it against ``gymnasium.make("CartPole-v1")`` step for step. v1 (500 steps),
not v0 (200): the thesis reports mean evaluation returns of 218 and 240, above v0's
cap of 200.

``run_mutual`` trains every (config, trial) agent at once: estimators with the same m
share one ``BatchedMLP`` and one Adam (Adam is element-wise, so this equals one
optimiser per network). The setup of §2.1 (``CartPoleSetup``): 4 → 4 → 8 → 2 leaky-ReLU network,
100 replay tuples per step in batches of 32, Adam defaults, learning after 100
tuples, ε = 1.0 × 0.999 per learning step (min 0.01), γ = 1, no target network,
5000 steps, every 100 steps 5 greedy evaluation episodes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from coopbench.algorithms.mutual import BatchedMLP, mutual_q_loss, omega

GRAVITY, MASSCART, MASSPOLE, LENGTH, FORCE_MAG, TAU = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
TOTAL_MASS = MASSCART + MASSPOLE
POLEMASS_LENGTH = MASSPOLE * LENGTH
X_THRESHOLD, THETA_THRESHOLD = 2.4, 12 * 2 * np.pi / 360
MAX_STEPS = 500  # CartPole-v1 time limit


class CartPoleBatch:
    """n independent CartPole-v1 worlds; ``step`` resets finished worlds itself.

    ``step(actions [n]) -> (obs, reward, terminated, truncated, next_obs)``: ``next_obs``
    is the observation the transition ends in; ``obs`` is the one to act on next
    (a fresh reset where the episode ended).
    """

    def __init__(self, n: int, rng: np.random.Generator) -> None:
        self.n, self.rng = n, rng
        self.state = np.zeros((n, 4))
        self.t = np.zeros(n, dtype=np.int64)
        self.reset_worlds(np.ones(n, dtype=bool))

    def reset_worlds(self, mask: np.ndarray) -> None:
        self.state[mask] = self.rng.uniform(-0.05, 0.05, (int(mask.sum()), 4))
        self.t[mask] = 0

    def obs(self) -> np.ndarray:
        return self.state.astype(np.float32)

    def physics(self, actions: np.ndarray) -> np.ndarray:
        """gymnasium's CartPole equations (Euler); returns the terminated flags."""
        x, x_dot, theta, theta_dot = self.state.T
        force = np.where(actions == 1, FORCE_MAG, -FORCE_MAG)
        cos, sin = np.cos(theta), np.sin(theta)
        temp = (force + POLEMASS_LENGTH * np.square(theta_dot) * sin) / TOTAL_MASS
        thetaacc = (GRAVITY * sin - cos * temp) / (
            LENGTH * (4.0 / 3.0 - MASSPOLE * np.square(cos) / TOTAL_MASS)
        )
        xacc = temp - POLEMASS_LENGTH * thetaacc * cos / TOTAL_MASS
        self.state = np.stack(
            [
                x + TAU * x_dot,
                x_dot + TAU * xacc,
                theta + TAU * theta_dot,
                theta_dot + TAU * thetaacc,
            ],
            axis=1,
        )
        x, theta = self.state[:, 0], self.state[:, 2]
        return (np.abs(x) > X_THRESHOLD) | (np.abs(theta) > THETA_THRESHOLD)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, ...]:
        terminated = self.physics(np.asarray(actions))
        self.t += 1
        truncated = (self.t >= MAX_STEPS) & ~terminated
        next_obs = self.obs()
        self.reset_worlds(terminated | truncated)
        return self.obs(), np.ones(self.n, np.float32), terminated, truncated, next_obs


def evaluate_greedy(act, n_agents: int, episodes: int, rng: np.random.Generator) -> np.ndarray:
    """Mean return of ``episodes`` greedy episodes per agent; ``act(obs [A, E, 4]) -> [A, E]``."""
    env = CartPoleBatch(n_agents * episodes, rng)
    returns = np.zeros(n_agents * episodes)
    alive = np.ones(n_agents * episodes, dtype=bool)
    while alive.any():
        actions = act(env.obs().reshape(n_agents, episodes, 4)).reshape(-1)
        terminated = env.physics(actions)
        env.t += 1
        returns += alive
        alive &= ~terminated & (env.t < MAX_STEPS)
    return returns.reshape(n_agents, episodes).mean(1)


@dataclass
class MutualConfig:
    """One curve of ch. 2: m estimators, weight C or the schedule ω(i; μ, σ) of eq. 2.4."""

    label: str  # name in the result table
    m: int = 1  # number of mutually learning estimators (1 = plain DQN)
    c: float = 1.0  # constant weight C of the mutual term (eq. 2.2)
    mu: float | None = None  # ω schedule centre μ (eq. 2.4); None = constant C
    sigma: float = 250.0  # ω schedule width σ
    detach_others: bool = True  # Q_k a fixed target inside D (see algorithms.mutual)

    def weight(self, step: int) -> float:
        return self.c if self.mu is None else self.c * omega(step, self.mu, self.sigma)


@dataclass
class CartPoleSetup:
    """The §2.1 training setup; every default is the thesis's."""

    steps: int = 5000  # simulation steps per trial
    hidden: tuple[int, ...] = (4, 8)  # 4 inputs → linear+leaky (4) → 8 leaky → 2 linear
    tuples_per_step: int = 100  # replay tuples sampled at each step
    batch_size: int = 32  # tuples per Adam update (100 = 32+32+32+4)
    learning_starts: int = 100  # no learning before this many tuples
    eps_start: float = 1.0  # ε-greedy start
    eps_decay: float = 0.999  # ε multiplied after every learning step
    eps_min: float = 0.01  # ε floor
    gamma: float = 1.0  # no discounting
    eval_every: int = 100  # steps between evaluations
    eval_episodes: int = 5  # greedy episodes per evaluation


CH2_CONFIGS = (
    MutualConfig("DQN", m=1, c=0.0),
    MutualConfig("m=2 C=0.5", m=2, c=0.5),
    MutualConfig("m=2 C=1", m=2, c=1.0),
    MutualConfig("m=2 C=2", m=2, c=2.0),
    MutualConfig("m=10 C=1", m=10, c=1.0),
    MutualConfig("m=2 ω(μ=2500)", m=2, mu=2500.0),
    MutualConfig("m=2 ω(μ=4000)", m=2, mu=4000.0),
    MutualConfig("m=2 C=1 joint D", m=2, c=1.0, detach_others=False),
    MutualConfig("m=10 C=1 joint D", m=10, c=1.0, detach_others=False),
)


class _Group:
    """All agents with the same (m, detach): one BatchedMLP of K = agents × m networks."""

    def __init__(self, rows: list[int], cfgs: list[MutualConfig], proto: CartPoleSetup, gen):
        self.rows = np.asarray(rows)  # agent indices into the global batch
        self.cfgs, self.m = cfgs, cfgs[0].m
        self.detach = cfgs[0].detach_others
        self.net = BatchedMLP(len(rows) * self.m, (4, *proto.hidden, 2), gen)
        self.opt = torch.optim.Adam(self.net.parameters())

    def q(self, obs: torch.Tensor) -> torch.Tensor:
        """``obs [a, B, 4]`` → Q of every estimator ``[a, m, B, 2]``."""
        a, b = obs.shape[:2]
        x = obs.unsqueeze(1).expand(a, self.m, b, 4).reshape(a * self.m, b, 4)
        return self.net(x).reshape(a, self.m, b, 2)

    def update(self, batch: dict[str, torch.Tensor], step: int, gamma: float) -> None:
        s, a, r, s2, term = (batch[k][self.rows] for k in ("s", "a", "r", "s2", "term"))
        q_sa = self.q(s).gather(-1, a[:, None, :, None].expand(-1, self.m, -1, 1))[..., 0]
        with torch.no_grad():  # v̂_i(s') = max_a Q_i(s', a), no target network in ch. 2
            target = r[:, None] + gamma * (1 - term[:, None]) * self.q(s2).max(-1).values
        w = torch.tensor([c.weight(step) for c in self.cfgs], dtype=torch.float32)
        loss = mutual_q_loss(q_sa, target, w[:, None], self.detach)
        self.opt.zero_grad()
        loss.sum().backward()
        self.opt.step()


def run_mutual(configs, trials: int, seed: int, proto: CartPoleSetup | None = None) -> dict:
    """Train ``trials`` agents per config in lockstep; return evaluation curves per config."""
    proto = proto or CartPoleSetup()
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    agent_cfg = [c for c in configs for _ in range(trials)]
    n = len(agent_cfg)
    groups: dict[tuple[int, bool], list[int]] = {}
    for i, c in enumerate(agent_cfg):
        groups.setdefault((c.m, c.detach_others), []).append(i)
    nets = [_Group(rows, [agent_cfg[i] for i in rows], proto, gen) for rows in groups.values()]
    env = CartPoleBatch(n, rng)
    mem = {
        "s": np.zeros((n, proto.steps, 4), np.float32),
        "a": np.zeros((n, proto.steps), np.int64),
        "r": np.zeros((n, proto.steps), np.float32),
        "s2": np.zeros((n, proto.steps, 4), np.float32),
        "term": np.zeros((n, proto.steps), np.float32),
    }
    eps, obs = proto.eps_start, env.obs()
    curve_steps, curves = [], []

    def greedy(o: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = np.zeros(o.shape[:2], np.int64)
            for g in nets:  # act on Q_1 alone (§2.1)
                out[g.rows] = g.q(torch.from_numpy(o[g.rows]))[:, 0].argmax(-1).numpy()
            return out

    arange = np.arange(n)[:, None]
    for t in range(proto.steps):
        actions = greedy(obs[:, None])[:, 0]
        explore = rng.random(n) < eps
        actions[explore] = rng.integers(0, 2, int(explore.sum()))
        next_obs_, r, term, _, next_obs = env.step(actions)
        for k, v in (("s", obs), ("a", actions), ("r", r), ("s2", next_obs), ("term", term)):
            mem[k][:, t] = v
        obs = next_obs_
        if t + 1 >= proto.learning_starts:  # learn once 100 tuples are stored
            idx = rng.integers(0, t + 1, (n, proto.tuples_per_step))
            for lo in range(0, proto.tuples_per_step, proto.batch_size):
                sel = idx[:, lo : lo + proto.batch_size]
                batch = {k: torch.from_numpy(v[arange, sel]) for k, v in mem.items()}
                for g in nets:
                    g.update(batch, t + 1, proto.gamma)
            eps = max(eps * proto.eps_decay, proto.eps_min)
        if (t + 1) % proto.eval_every == 0:
            curve_steps.append(t + 1)
            curves.append(evaluate_greedy(greedy, n, proto.eval_episodes, rng))
    scores = np.stack(curves, 1)  # [agents, points]
    return {
        "protocol": asdict(proto),
        "steps": curve_steps,
        "curves": {
            c.label: {"config": asdict(c), "scores": scores[i * trials : (i + 1) * trials].tolist()}
            for i, c in enumerate(configs)
        },
    }
