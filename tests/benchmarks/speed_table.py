"""Print the speed ratio table of docs/speed.md: our faces vs mpe2 and VMAS, one process.

    python tests/benchmarks/speed_table.py [--rounds 5] [--seconds 0.3] [--sizes 1,32,...]

Every comparison times its peers in interleaved rounds (ours, peer, ours, peer, ...)
so a busy shared CPU slows both alike; each row gives the median rate of each peer
and the median and range of the per-round ratios. Both kernels of ours are timed
when numba is installed (``numba`` is the default path, ``numpy`` the fallback).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import speed_goals
import speed_peers as peers

from coopbench.envs import TASKS, kernels


def seconds_per_call(run: Callable[[], None], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        run()
    return (time.perf_counter() - start) / calls


def calibrate(run: Callable[[], None], seconds: float) -> int:
    """Calls of ``run`` that take about ``seconds`` (after one warm-up call)."""
    run()
    return max(1, math.ceil(seconds / seconds_per_call(run, 1)))


def compare(runners: dict[str, peers.Runner], rounds: int, seconds: float) -> dict[str, list]:
    """Env steps per second of each runner, per round, the runners interleaved."""
    calls = {name: calibrate(run, seconds) for name, (run, _) in runners.items()}
    rates: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(rounds):
        for name, (run, steps) in runners.items():
            rates[name].append(steps / seconds_per_call(run, calls[name]))
    return rates


def with_kernel(kernel: str, build: Callable[[], peers.Runner]) -> peers.Runner:
    os.environ[kernels.ENV_VAR] = kernel
    try:
        return build()
    finally:
        del os.environ[kernels.ENV_VAR]


def machine() -> str:
    cpu = platform.processor() or "?"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        lines = cpuinfo.read_text().splitlines()
        models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
        cpu = models[0] if models else cpu
    versions = []
    for pkg in ("numpy", "numba", "mpe2", "vmas", "torch"):
        try:
            versions.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{pkg} -")
    return (
        f"CPU: {cpu}; nproc {os.cpu_count()}; load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}; Python {platform.python_version()}; "
        + ", ".join(versions)
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds")
    parser.add_argument("--seconds", type=float, default=0.3, help="seconds per timed round")
    parser.add_argument("--sizes", default="1,32,1024,4096,16384", help="batch sizes B")
    parser.add_argument("--torch-threads", type=int, default=1, help="VMAS torch threads")
    parser.add_argument(
        "--tasks",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time every task's batched face at B = 1 and 1024 (ours only)",
    )
    args = parser.parse_args(argv)
    ours_kernels = ["numba", "numpy"] if kernels.HAVE_NUMBA else ["numpy"]

    rows, judged = [], []

    def row(face, b, peer, rates, group) -> None:
        for kernel in ours_kernels:
            ours = rates[kernel]
            ratios = [o / p for o, p in zip(ours, rates[peer], strict=True)]
            ratio = statistics.median(ratios)
            goal = speed_goals.goal_of(group)
            # the median per-round ratio, judged against the goal (peer rate = ours / ratio)
            judged.append(speed_goals.GoalRow(f"{group} ({kernel})", ratio, peer, 1.0, goal))
            met = judged[-1].status
            rows.append(
                f"| {face} | {b} | {kernel} | {statistics.median(ours):,.0f} | {peer} | "
                f"{statistics.median(rates[peer]):,.0f} | **{ratio:.1f}x** "
                f"({min(ratios):.1f}-{max(ratios):.1f}) | >= {goal:g}x | "
                f"{'**' + met + '**' if met == speed_goals.MISSED else met} |"
            )
        print(f"measured {face} B={b}", file=sys.stderr, flush=True)

    episodes = 4
    runners = {k: with_kernel(k, lambda: peers.ours_pettingzoo(episodes)) for k in ours_kernels}
    runners["mpe2"] = peers.mpe2_pettingzoo(episodes)
    row("PettingZoo", 1, "mpe2", compare(runners, args.rounds, args.seconds), "pettingzoo spread")

    vmas = peers.have_vmas()
    if vmas:
        import torch

        torch.set_num_threads(args.torch_threads)
    for b in (int(x) for x in args.sizes.split(",")):
        runners = {k: with_kernel(k, lambda b=b: peers.ours_batched(b, 1)) for k in ours_kernels}
        if not vmas:
            rates = compare(runners, args.rounds, args.seconds)
            for kernel in ours_kernels:
                rows.append(
                    f"| batched | {b} | {kernel} | {statistics.median(rates[kernel]):,.0f}"
                    " | VMAS not installed | | | | |"
                )
            continue
        runners["vmas"] = peers.vmas_batched(b, 1)
        rates = compare(runners, args.rounds, args.seconds)
        row("batched", b, "vmas", rates, f"batched spread B={b}")
        del runners

    task_rows = []
    for task in TASKS if args.tasks else ():
        for b in (1, 1024):
            runners = {
                k: with_kernel(k, lambda b=b, task=task: peers.ours_batched(b, 1, task=task))
                for k in ours_kernels
            }
            rates = compare(runners, args.rounds, args.seconds)
            cells = " | ".join(f"{statistics.median(rates[k]):,.0f}" for k in ours_kernels)
            task_rows.append(f"| `{task}` | {b} | {cells} |")
            print(f"measured {task} B={b}", file=sys.stderr, flush=True)

    print(
        f"<!-- {machine()}; VMAS torch threads {args.torch_threads}; "
        f"{args.rounds} rounds of ~{args.seconds}s -->"
    )
    print(
        "| face | B | ours (kernel) | ours env-steps/s | peer | peer env-steps/s "
        "| ratio, median (range) | goal | met |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\n{speed_goals.summary(judged)}")
    if task_rows:
        print("\nEvery task's batched face, random discrete actions (env-steps/s):\n")
        print("| task | B | " + " | ".join(ours_kernels) + " |")
        print("|---|---|" + "---|" * len(ours_kernels))
        print("\n".join(task_rows))


if __name__ == "__main__":
    main()
