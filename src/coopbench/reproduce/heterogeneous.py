"""Thesis ch. 3 reproduction: DQL vs ADP vs heterogeneous mutual learning (algorithm 1).

All three agent kinds run ``trials`` times in lockstep on CartPole-v1 worlds. DQL
(§3.2.1): 4 → 8 → 2 leaky-ReLU network, 100 replay tuples per step in batches of 32,
Adam defaults, γ = 0.99, target network copied every 100 steps, ε-greedy as in ch. 2.
ADP (§3.2.2): ``adp.BatchedADP`` with 7 bins per dimension, ε-greedy on Q_ADP.
Algorithm 1 (§3.2.3): a DQL agent acting, and an ADP agent seeing the same
transitions; after each transition the DQL loss gains eq. 3.3,
``KL(P(Q_DQL(s)) ‖ P(Q_ADP(s̄))) · I_ADP(s) · sqrt(cos(s, μ_s̄))`` on the current state,
with insistence I = 1 − 1/√N_s̄ (eq. 3.2). The term is added to the loss of the
step's first replay mini-batch, so one Adam step per mini-batch as for plain DQL.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from coopbench.algorithms.mutual import BatchedMLP
from coopbench.reproduce.adp import CARTPOLE_BOUNDS, BatchedADP, discretise
from coopbench.reproduce.cartpole import CartPoleBatch, evaluate_greedy

KINDS = ("DQL", "ADP", "Algorithm 1")
BINS = 7  # bins per state dimension (§3.2.2)


def insistence(visits: np.ndarray) -> np.ndarray:
    """I(s | ADP) = 1 − 1/√N_s (eq. 3.2); 0 for unvisited states."""
    return np.where(visits > 0, 1.0 - 1.0 / np.sqrt(np.maximum(visits, 1)), 0.0)


def similarity(s: np.ndarray, centroid: np.ndarray) -> np.ndarray:
    """sqrt of the cosine similarity of s and the bin centroid (eq. 3.3); 0 if cos ≤ 0."""
    norm = np.linalg.norm(s, axis=-1) * np.linalg.norm(centroid, axis=-1)
    cos = np.where(norm > 0, (s * centroid).sum(-1) / np.maximum(norm, 1e-12), 0.0)
    return np.sqrt(np.clip(cos, 0.0, 1.0))


def mutual_term(q_dql: torch.Tensor, q_adp: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Eq. 3.3 per state: ``weight · KL(softmax(Q_DQL) ‖ softmax(Q_ADP))``, ``[B]``."""
    log_p = F.log_softmax(q_dql, -1)
    log_q = F.log_softmax(q_adp, -1)
    return weight * (log_p.exp() * (log_p - log_q)).sum(-1)


def run_heterogeneous(
    trials: int,
    seed: int,
    steps: int = 5000,
    eval_every: int = 100,
    eval_episodes: int = 5,
    gamma: float = 0.99,  # discount of both agents (§3.2.1, §3.2.2)
    target_every: int = 100,  # target network copy period (§3.2.1)
    tuples_per_step: int = 100,  # replay tuples per step
    batch_size: int = 32,  # tuples per Adam update
    learning_starts: int = 100,  # tuples stored before learning
) -> dict:
    """Train ``trials`` agents of each kind in lockstep; return evaluation curves per kind."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    n = 3 * trials
    dql_rows = np.r_[0:trials, 2 * trials : 3 * trials]  # DQL and algorithm 1 agents
    adp_rows = np.arange(trials, 3 * trials)  # ADP and algorithm 1 agents
    net = BatchedMLP(2 * trials, (4, 8, 2), gen)
    target = BatchedMLP(2 * trials, (4, 8, 2), gen)
    target.load_state_dict(net.state_dict())
    opt = torch.optim.Adam(net.parameters())
    adp = BatchedADP(2 * trials, BINS**4, 2, gamma)
    env = CartPoleBatch(n, rng)
    nd = 2 * trials
    mem = {
        "s": np.zeros((nd, steps, 4), np.float32),
        "a": np.zeros((nd, steps), np.int64),
        "r": np.zeros((nd, steps), np.float32),
        "s2": np.zeros((nd, steps, 4), np.float32),
        "term": np.zeros((nd, steps), np.float32),
    }
    eps, obs = 1.0, env.obs()
    curves, sweeps = [], []

    def greedy(o: np.ndarray) -> np.ndarray:
        """Greedy actions ``[A, E]`` for observations ``[A, E, 4]`` of all 3·trials agents."""
        out = np.zeros(o.shape[:2], np.int64)
        with torch.no_grad():
            out[dql_rows] = net(torch.from_numpy(o[dql_rows])).argmax(-1).numpy()
        bins = discretise(o[trials : 2 * trials], BINS, CARTPOLE_BOUNDS)
        out[trials : 2 * trials] = adp.Q[np.arange(trials)[:, None], bins].argmax(-1)
        return out

    arange = np.arange(nd)[:, None]
    for t in range(steps):
        actions = greedy(obs[:, None])[:, 0]
        explore = rng.random(n) < eps
        actions[explore] = rng.integers(0, 2, int(explore.sum()))
        following, r, term, _, next_obs = env.step(actions)
        for k, v in (("s", obs), ("a", actions), ("r", r), ("s2", next_obs), ("term", term)):
            mem[k][:, t] = v[dql_rows]
        s_bin = discretise(obs[adp_rows], BINS, CARTPOLE_BOUNDS)
        agents = np.arange(nd)
        adp.observe(agents, s_bin, actions[adp_rows], r[adp_rows],
                    discretise(next_obs[adp_rows], BINS, CARTPOLE_BOUNDS), term[adp_rows],
                    obs[adp_rows])  # fmt: skip
        sweeps.append(adp.solve())
        if t + 1 >= learning_starts:
            idx = rng.integers(0, t + 1, (nd, tuples_per_step))
            for lo in range(0, tuples_per_step, batch_size):
                b = {k: torch.from_numpy(v[arange, idx[:, lo : lo + batch_size]])
                     for k, v in mem.items()}  # fmt: skip
                q_sa = net(b["s"]).gather(-1, b["a"][..., None])[..., 0]
                with torch.no_grad():
                    y = b["r"] + gamma * (1 - b["term"]) * target(b["s2"]).max(-1).values
                loss = (y - q_sa).pow(2).mean(-1).sum()
                if lo == 0:  # algorithm 1: eq. 3.3 on the state just experienced
                    alg = np.arange(trials, nd)  # ADP index of the algorithm-1 agents
                    sb = s_bin[trials:]
                    w = insistence(adp.visits()[alg, sb]) * similarity(
                        obs[adp_rows][trials:], adp.centroid(alg, sb)
                    )
                    q_dql = net(torch.from_numpy(obs[dql_rows][:, None]))[trials:, 0]
                    q_adp = torch.from_numpy(adp.Q[alg, sb]).float()
                    loss = loss + mutual_term(q_dql, q_adp, torch.from_numpy(w).float()).sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
            eps = max(eps * 0.999, 0.01)
        if (t + 1) % target_every == 0:
            target.load_state_dict(net.state_dict())
        obs = following
        if (t + 1) % eval_every == 0:
            curves.append(evaluate_greedy(greedy, n, eval_episodes, rng))
    scores = np.stack(curves, 1)
    return {
        "protocol": {
            "steps": steps,
            "eval_every": eval_every,
            "eval_episodes": eval_episodes,
            "gamma": gamma,
            "target_every": target_every,
            "bins": BINS,
            "tuples_per_step": tuples_per_step,
            "batch_size": batch_size,
            "learning_starts": learning_starts,
        },
        "steps": list(range(eval_every, steps + 1, eval_every)),
        "value_iteration_sweeps_mean": float(np.mean(sweeps)),
        "curves": {
            kind: {"scores": scores[i * trials : (i + 1) * trials].tolist()}
            for i, kind in enumerate(KINDS)
        },
    }
