"""ADP agent of thesis §3.2.2, vectorised over independent agents (numpy only).

The state space is cut into 7 evenly sized bins per dimension; the agent counts its
transitions ⟨s̄, a, r, s̄'⟩ and estimates P(s̄' | s̄, a) = N(s̄, a, s̄') / N(s̄, a) and the
mean reward empirically; after every step it runs value iteration with γ = 0.99
until the largest update is below 0.01. Q_ADP(s̄, a) = R̂(s̄, a) + γ Σ P V(s̄')
(eq. 3.1 with the reward made explicit). Episode ends go to an absorbing terminal
state of value 0. Unvisited (s̄, a) pairs and states have value 0.

Bin ranges for CartPole (the thesis does not give them): position ±2.4 and angle
±12° (the failure limits), cart velocity ±3 and pole angular velocity ±3.5; values
outside fall into the outer bins. The bin centroid μ_s̄ of eq. 3.3 is the mean of the
continuous states the agent has seen in that bin.
"""

from __future__ import annotations

import numpy as np

from coopbench.validation import check_int

CARTPOLE_BOUNDS = np.array([[-2.4, 2.4], [-3.0, 3.0], [-0.2094395, 0.2094395], [-3.5, 3.5]])


def discretise(obs: np.ndarray, bins: int, bounds: np.ndarray) -> np.ndarray:
    """Flat bin index of each state ``obs [..., d]`` (``bins`` per dimension, clipped)."""
    low, high = bounds[:, 0], bounds[:, 1]
    idx = np.clip(np.floor((obs - low) / (high - low) * bins), 0, bins - 1).astype(np.int64)
    return (idx * bins ** np.arange(obs.shape[-1])).sum(-1)


class BatchedADP:
    """n independent tabular model-based agents over ``n_states`` bins and ``n_actions``."""

    def __init__(
        self, n: int, n_states: int, n_actions: int, gamma: float = 0.99, tol: float = 0.01
    ) -> None:
        for name, size in (("n", n), ("n_states", n_states), ("n_actions", n_actions)):
            check_int(size, name)
        if not 0 <= gamma < 1 or tol <= 0:
            raise ValueError(f"gamma={gamma}, tol={tol}: expected 0 ≤ gamma < 1 and tol > 0")
        self.n, self.S, self.A, self.gamma, self.tol = n, n_states, n_actions, gamma, tol
        self.terminal = n_states  # absorbing terminal state index
        self.n_sa = np.zeros((n, n_states, n_actions))  # N(s̄, a)
        self.state_sum = np.zeros((n, n_states, 0))  # Σ continuous states per bin (lazy)
        self.V = np.zeros((n, n_states + 1))
        self.Q = np.zeros((n, n_states, n_actions))
        self._keys: dict[int, int] = {}
        # value iteration runs over the visited states only, in compact ids
        self._cid = np.full(n * (n_states + 1), -1, np.int64)  # flat (agent, s̄) → compact id
        self._full: list[int] = []  # compact id → flat (agent, s̄)
        self._row = np.zeros(0, np.int64)  # compact (s̄, a) of each distinct transition
        self._col = np.zeros(0, np.int64)  # compact s̄' of each distinct transition
        self._count = np.zeros(0)  # N(s̄, a, s̄')
        self._rsum = np.zeros(0)  # Σ r over those transitions
        self._size = 0

    def visits(self) -> np.ndarray:
        """N_s̄: how often each agent has visited each bin, ``[n, S]``."""
        return self.n_sa.sum(-1)

    def centroid(self, agents: np.ndarray, s: np.ndarray) -> np.ndarray:
        """μ_s̄: mean continuous state seen in bin ``s`` by each agent (0 when unseen)."""
        total = self.state_sum[agents, s]
        return total / np.maximum(self.visits()[agents, s], 1)[:, None]

    def observe(self, agents, s, a, r, s2, terminal, obs: np.ndarray | None = None) -> None:
        """Count one transition per listed agent; ``obs`` (continuous s) feeds the centroids."""
        agents, s, a = np.asarray(agents), np.asarray(s), np.asarray(a)
        nxt = np.where(terminal, self.terminal, s2)
        if obs is not None:
            if self.state_sum.shape[-1] != obs.shape[-1]:
                self.state_sum = np.zeros((self.n, self.S, obs.shape[-1]))
            np.add.at(self.state_sum, (agents, s), obs)
        np.add.at(self.n_sa, (agents, s, a), 1.0)
        rows = self._compact(agents * (self.S + 1) + s) * self.A + a
        cols = self._compact(agents * (self.S + 1) + nxt)
        for row, col, rew in zip(rows.tolist(), cols.tolist(), np.asarray(r).tolist(), strict=True):
            key = row * (self.n * (self.S + 1)) + col
            i = self._keys.get(key)
            if i is None:
                i = self._keys[key] = self._size
                self._grow()
                self._row[i], self._col[i] = row, col
                self._size += 1
            self._count[i] += 1
            self._rsum[i] += rew

    def _compact(self, flat: np.ndarray) -> np.ndarray:
        for f in flat[self._cid[flat] < 0].tolist():
            if self._cid[f] < 0:
                self._cid[f] = len(self._full)
                self._full.append(f)
        return self._cid[flat]

    def _grow(self) -> None:
        if self._size < len(self._row):
            return
        cap = max(1024, 2 * len(self._row))
        for name in ("_row", "_col", "_count", "_rsum"):
            old = getattr(self, name)
            new = np.zeros(cap, old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def probabilities(self, agent: int) -> np.ndarray:
        """Empirical P(s̄' | s̄, a) of one agent, ``[S, A, S + 1]`` (last column = terminal)."""
        full = np.asarray(self._full, np.int64)
        k = self._size
        src, dst = full[self._row[:k] // self.A], full[self._col[:k]]
        mine = src // (self.S + 1) == agent
        counts = np.zeros((self.S, self.A, self.S + 1))
        s_, a_, d_ = (
            src[mine] % (self.S + 1),
            self._row[:k][mine] % self.A,
            dst[mine] % (self.S + 1),
        )
        np.add.at(counts, (s_, a_, d_), self._count[:k][mine])
        return counts / np.maximum(self.n_sa[agent], 1)[..., None]

    def solve(self, max_iterations: int = 10_000) -> int:
        """Value iteration (warm-started) until max |ΔV| < tol; returns the sweeps taken."""
        k, nc = self._size, len(self._full)
        full = np.asarray(self._full, np.int64)
        agent, state = full // (self.S + 1), full % (self.S + 1)
        live = state != self.terminal  # the terminal state keeps value 0
        n_sa = np.zeros((nc, self.A))
        n_sa[live] = self.n_sa[agent[live], state[live]]
        denom = np.maximum(n_sa.reshape(-1), 1)
        row, col, count = self._row[:k], self._col[:k], self._count[:k]
        reward = np.bincount(row, self._rsum[:k], minlength=nc * self.A) / denom
        # self-loop elimination: Q_a(s) = R + γ(p_self V(s) + Σ_{s'≠s} P V(s')) is solved
        # for V(s) per action, which has the same fixed point and contracts faster
        loop = row // self.A == col
        p_self = np.bincount(row, count * loop, minlength=nc * self.A) / denom
        scale = 1.0 / (1.0 - self.gamma * p_self)
        other = count * ~loop
        v = self.V[agent, state]
        sweeps = max_iterations
        for sweep in range(1, max_iterations + 1):
            backup = np.bincount(row, other * v[col], minlength=nc * self.A) / denom
            q = ((reward + self.gamma * backup) * scale).reshape(nc, self.A)
            new_v = np.where(live, q.max(-1), 0.0)
            delta = np.abs(new_v - v).max(initial=0.0)
            v = new_v
            if delta < self.tol:
                sweeps = sweep
                break
        backup = np.bincount(row, count * v[col], minlength=nc * self.A) / denom
        q = (reward + self.gamma * backup).reshape(nc, self.A)  # eq. 3.1 at the solution
        self.V[agent, state] = v
        self.Q[agent[live], state[live]] = q[live]
        return sweeps
