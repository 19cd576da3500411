"""What training several seeds in one process with stacked networks can gain: one Adam update
of K seeds' networks stacked as ``BatchedMLP`` members (one ``baddbmm`` per layer, the
``vmap``-over-seeds lever) against the same K updates made one network at a time.

Run: ``pytest tests/benchmarks/test_seed_batching_speed.py -m bench -s`` (one torch thread).
Shapes are the standard presets': DQN's Q-network (batch 512 agent transitions, 128×128
leaky-ReLU, a TD loss against a target network) and a MAPPO minibatch (600 rows = 32 worlds ×
25 steps × 3 agents / 4 minibatches through 64×64). The ratio is the most stacking can speed
up the update, which dominates these baselines' training time (docs/scale-out.md, "What the
standard leaderboard costs"). Reported, never asserted.
"""

from __future__ import annotations

import time

import pytest
import torch

from coopbench.algorithms.mutual import BatchedMLP

SEEDS = 5
UPDATES = 200
SHAPES = {  # name -> (rows per update, layer sizes); cn-v1 obs 18 + 3 agent ids
    "dqn": (512, (21, 128, 128, 5)),
    "mappo": (600, (21, 64, 64, 5)),
}


def _updates_per_s(members: int, copies: int, rows: int, sizes: tuple[int, ...]) -> float:
    """Seed-updates per second: ``copies`` groups of ``members`` stacked networks, each group
    stepped once per update (``members * copies`` seeds in all)."""
    gen = torch.Generator().manual_seed(0)
    groups = []
    for _ in range(copies):
        net, target = BatchedMLP(members, sizes, gen), BatchedMLP(members, sizes, gen)
        groups.append((net, target, torch.optim.Adam(net.parameters(), lr=5e-4)))
    x = torch.randn(members, rows, sizes[0], generator=gen)
    actions = torch.randint(0, sizes[-1], (members, rows, 1), generator=gen)
    rewards = torch.randn(members, rows, generator=gen)

    def step() -> None:
        for net, target, opt in groups:
            q = net(x).gather(-1, actions)[..., 0]
            with torch.no_grad():
                y = rewards + 0.9 * target(x).max(-1).values
            loss = (y - q).pow(2).mean(-1).sum()  # seeds' losses summed: gradients stay apart
            opt.zero_grad()
            loss.backward()
            opt.step()

    for _ in range(20):
        step()
    start = time.perf_counter()
    for _ in range(UPDATES):
        step()
    return UPDATES * members * copies / (time.perf_counter() - start)


@pytest.mark.bench
@pytest.mark.parametrize("shape", list(SHAPES))
def test_seed_stacked_update_against_separate_updates(benchmark, record_rate, shape):
    rows, sizes = SHAPES[shape]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        separate = _updates_per_s(1, SEEDS, rows, sizes)
        stacked = benchmark.pedantic(_updates_per_s, args=(SEEDS, 1, rows, sizes), rounds=1)
    finally:
        torch.set_num_threads(threads)
    group = f"{shape} update x{SEEDS} seeds"  # rates in seed-updates per second
    record_rate(group, "coopbench", stacked)  # ours: the seeds stacked
    record_rate(group, "separate", separate)  # the peer: one network at a time
    benchmark.extra_info["stacked_over_separate"] = round(stacked / separate, 2)
    print(f"\n{group}: stacked {stacked:.0f}, separate {separate:.0f} seed-updates/s, "
          f"ratio {stacked / separate:.2f}")  # fmt: skip
    assert stacked > 0 and separate > 0
