"""Speed of the task environments against their peers (docs/speed.md).

Run with ``pytest tests/benchmarks -m bench``; pytest-benchmark groups each
comparison (``pettingzoo spread``, ``batched spread B=...``), both peers of a group
are measured in the same run and make the same number of env steps per round, so
the table's relative time column is the speed ratio; ``extra_info["env_steps_per_s"]``
holds the rates; the session ends with every ratio next to its goal (``conftest.py``,
misses marked). The ratio table of docs/speed.md, with interleaved rounds:
``python tests/benchmarks/speed_table.py``. Speed is reported, never asserted.
"""

from __future__ import annotations

import pytest
import speed_peers as peers

pytestmark = pytest.mark.bench
BATCH_SIZES = (1, 32, 1024, 4096, 16384)
ROUNDS = 5


def measure(benchmark, record_rate, runner: peers.Runner, group: str, who: str) -> None:
    run, env_steps = runner
    benchmark.group = group
    benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    benchmark.extra_info["env_steps_per_call"] = env_steps
    benchmark.extra_info["env_steps_per_s"] = env_steps / benchmark.stats.stats.median
    record_rate(group, who, benchmark.extra_info["env_steps_per_s"])  # ratio vs goal at the end


@pytest.mark.parametrize("peer", ["coopbench", "mpe2"])
def test_pettingzoo_face(benchmark, record_rate, peer: str) -> None:
    factory = peers.ours_pettingzoo if peer == "coopbench" else peers.mpe2_pettingzoo
    measure(benchmark, record_rate, factory(episodes=20), "pettingzoo spread", peer)


@pytest.mark.parametrize("num_envs", BATCH_SIZES)
@pytest.mark.parametrize("peer", ["coopbench", "vmas"])
def test_batched_face(benchmark, record_rate, peer: str, num_envs: int) -> None:
    if peer == "vmas" and not peers.have_vmas():
        pytest.skip("VMAS is not installed: pip install 'coopbench[bench]'")
    episodes = peers.episodes_for(num_envs, target_env_steps=25_000, most=10)
    if peer == "vmas":
        import torch

        torch.set_num_threads(1)  # like our single-threaded numpy/numba step
        runner = peers.vmas_batched(num_envs, episodes)
    else:
        runner = peers.ours_batched(num_envs, episodes)
    measure(benchmark, record_rate, runner, f"batched spread B={num_envs}", peer)
