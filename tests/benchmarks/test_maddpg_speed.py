"""MADDPG training throughput on spread: env steps per second including updates.

Run: ``pytest tests/benchmarks/test_maddpg_speed.py -m bench -s``. Each case trains on a
budget env for ``BUDGET`` env steps after a warm-up buffer of ``learning_starts``
transitions, so the measured time covers acting, env stepping and the updates at the
configured ratio. One torch thread, as in the quick-tier measurements of the docs.
"""

import dataclasses
import time

import pytest
import torch

from coopbench.baselines.maddpg import MADDPG, MADDPGConfig
from coopbench.envs import make_batched
from coopbench.harness.budget import BudgetEnv

BUDGET = 20_000

CASES = {
    # reference ratio: one update (batch 1024) per 100 transitions
    "reference": dict(learning_starts=1_000),
    # the quick-tier preset's ratio and batch
    "quick": dict(MADDPG.preset("spread", "quick"), learning_starts=1_000),
    # the reference ratio with messages (MADDPG-3)
    "reference-comm3": dict(learning_starts=1_000, comm_dim=3),
}


class _NoHooks:
    def log(self, **metrics: float) -> None:
        return None


def train_once(overrides: dict, continuous: bool) -> tuple[float, float]:
    """(env steps per wall-clock second, env steps per CPU second of this process)."""
    config = dataclasses.replace(MADDPGConfig(), **overrides)
    env = make_batched("spread", config.num_envs, continuous_actions=continuous)
    algo = MADDPG(env.task, config, seed=0)
    budget_env = BudgetEnv(env, BUDGET, [BUDGET], lambda *_: None)
    wall, cpu = time.perf_counter(), time.process_time()
    algo.learn(budget_env, _NoHooks())
    steps = budget_env.steps_taken
    return steps / (time.perf_counter() - wall), steps / (time.process_time() - cpu)


@pytest.mark.bench
@pytest.mark.parametrize("continuous", [False, True], ids=["discrete", "continuous"])
@pytest.mark.parametrize("case", list(CASES))
def test_maddpg_throughput(benchmark, record_rate, case, continuous):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rate, cpu_rate = benchmark.pedantic(train_once, args=(CASES[case], continuous), rounds=1)
    finally:
        torch.set_num_threads(threads)
    benchmark.extra_info["env_steps_per_s"] = round(rate)
    benchmark.extra_info["env_steps_per_cpu_s"] = round(cpu_rate)  # robust on a shared machine
    kind = "continuous" if continuous else "discrete"
    record_rate(f"maddpg {case} {kind}", "coopbench", rate)  # no peer: listed without a goal
    print(f"\nMADDPG {case} {kind}: {rate:.0f} env steps/s, {cpu_rate:.0f} per CPU second")
    assert rate > 0 and cpu_rate > 0
