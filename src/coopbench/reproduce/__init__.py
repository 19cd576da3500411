"""One-command reproductions of Reid's mutual RL thesis on CartPole-v1.

``run("thesis-mutual-q", trials=20, out="results/thesis")`` reproduces chapter 2
(DQN, mutual m=2 with C = 0.5/1/2, m=10, the two ω schedules, and the two variants
of D with gradients through both estimators); ``"thesis-heterogeneous"`` chapter 3
(DQL vs ADP vs algorithm 1); ``"thesis"`` both. Each writes ``NAME.json``,
``NAME.png`` (curves with 95% intervals) and ``NAME.md`` (table beside the thesis).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from coopbench.harness.threads import resolve_threads
from coopbench.reproduce import report
from coopbench.reproduce.cartpole import CH2_CONFIGS, CartPoleSetup, run_mutual
from coopbench.reproduce.heterogeneous import run_heterogeneous
from coopbench.validation import check_int

NAMES = ("thesis-mutual-q", "thesis-heterogeneous", "thesis")

# (claim, a, b, window, thesis's direction of a − b; "?" = the thesis makes no claim)
CH2_CLAIMS = [
    ("m=2 beats DQN", "m=2 C=1", "DQN", "final", ">"),
    ("m=2 beats DQN", "m=2 C=1", "DQN", "late", ">"),
    ("m=10 beats m=2", "m=10 C=1", "m=2 C=1", "late", ">"),
    ("m=10 beats DQN", "m=10 C=1", "DQN", "late", ">"),
    ("C=0.5 ≈ no effect", "m=2 C=0.5", "DQN", "late", "≈"),
    ("C=2 hurts early", "m=2 C=2", "DQN", "early", "<"),
    ("C=1 best of C", "m=2 C=1", "m=2 C=2", "late", ">"),
    ("ω(μ=2500) above DQN", "m=2 ω(μ=2500)", "DQN", "final", ">"),
    ("ω(μ=2500) below constant C", "m=2 ω(μ=2500)", "m=2 C=1", "final", "<"),
    ("ω(μ=4000) above DQN", "m=2 ω(μ=4000)", "DQN", "final", ">"),
    ("detached vs joint D (m=2)", "m=2 C=1", "m=2 C=1 joint D", "late", "?"),
    ("detached vs joint D (m=10)", "m=10 C=1", "m=10 C=1 joint D", "late", "?"),
]
CH3_CLAIMS = [
    ("ADP beats DQL early", "ADP", "DQL", "early", ">"),
    ("DQL beats ADP late", "DQL", "ADP", "late", ">"),
    ("algorithm 1 hurt early", "Algorithm 1", "DQL", "early", "<"),
    ("algorithm 1 beats DQL late", "Algorithm 1", "DQL", "late", ">"),
    ("algorithm 1 beats ADP late", "Algorithm 1", "ADP", "late", ">"),
]

PANELS = {  # plot panel → curves (the thesis's figures 2.1, 2.3-2.6 and 3.1-3.2)
    "Fig. 2.1/2.4: estimators (C = 1)": ["DQN", "m=2 C=1", "m=10 C=1"],
    "Fig. 2.3: weight C (m = 2)": ["DQN", "m=2 C=0.5", "m=2 C=1", "m=2 C=2"],
    "Fig. 2.5/2.6: ω schedules (m = 2)": ["DQN", "m=2 C=1", "m=2 ω(μ=2500)", "m=2 ω(μ=4000)"],
    "D with Q_k detached or joint": ["m=2 C=1", "m=2 C=1 joint D", "m=10 C=1", "m=10 C=1 joint D"],
    "Fig. 3.1/3.2: DQL, ADP, algorithm 1": ["DQL", "ADP", "Algorithm 1"],
}


def _chapter2(trials: int, seed: int, steps: int) -> dict:
    torch.set_num_threads(resolve_threads())  # the thread policy (default 1)
    return run_mutual(CH2_CONFIGS, trials, seed, CartPoleSetup(steps=steps))


def _chapter3(trials: int, seed: int, steps: int) -> dict:
    torch.set_num_threads(resolve_threads())  # the thread policy (default 1)
    return run_heterogeneous(trials, seed, steps=steps)


def _parallel(fn, trials: int, workers: int, steps: int) -> dict:
    """Split the trials over ``workers`` processes (seeds 0..workers-1) and merge the curves."""
    chunks = [len(c) for c in np.array_split(np.arange(trials), workers) if len(c)]
    if len(chunks) == 1:
        return fn(trials, 0, steps)
    with ProcessPoolExecutor(len(chunks)) as pool:
        parts = list(pool.map(fn, chunks, range(len(chunks)), [steps] * len(chunks)))
    merged = parts[0]
    for part in parts[1:]:
        for label, curve in part["curves"].items():
            merged["curves"][label]["scores"] += curve["scores"]
    return merged


def run(
    name: str,
    trials: int = 20,
    out: str | Path = "results/thesis",
    workers: int = 1,
    steps: int = 5000,
) -> dict[str, str]:
    """Run reproduction ``name`` with ``trials`` per config; returns the written file paths.

    ``steps`` (default 5000, the thesis's) exists for smoke tests.
    """
    if name not in NAMES:
        raise ValueError(f"unknown reproduction {name!r}; expected one of {NAMES}")
    for arg, value, minimum in (
        ("trials", trials, 1),
        ("workers", workers, 1),
        ("steps", steps, 100),
    ):
        check_int(value, arg, minimum)
    summaries = {}
    if name in ("thesis-mutual-q", "thesis"):
        result = _parallel(_chapter2, trials, workers, steps)
        summaries["Chapter 2: mutual Q-learning"] = report.summarise(result, CH2_CLAIMS)
    if name in ("thesis-heterogeneous", "thesis"):
        result = _parallel(_chapter3, trials, workers, steps)
        summaries["Chapter 3: heterogeneous mutual learning"] = report.summarise(result, CH3_CLAIMS)
    return report.write(summaries, Path(out), name, PANELS)
