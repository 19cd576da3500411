"""CTEDD vs MADDPG-1/-3 on one task, standard tier, continuous actions (issue 7's comparison).

Reads a results store, prints a markdown report: the leaderboard rows, probability of
improvement (final score and AUC) for the paper's pairs, and the env steps each entry's IQM
curve needs to reach MADDPG-3's final IQM (the paper's "about half the samples" claim on CN-V1).
Usage: python results/standard/compare_ctedd.py STORE.db TASK > results/standard/ctedd_TASK.md
"""

from __future__ import annotations

import sys

import numpy as np

from coopbench.leaderboard import Store
from coopbench.leaderboard.aggregate import aggregate, probability_of_improvement

LABELS = ("CTEDD-G", "CTEDD-L-1", "CTEDD-L-3", "MADDPG-1", "MADDPG-3")
PAIRS = (("CTEDD-G", "MADDPG-3"), ("CTEDD-G", "MADDPG-1"), ("CTEDD-L-3", "MADDPG-3"),
         ("CTEDD-L-1", "MADDPG-1"), ("CTEDD-G", "CTEDD-L-3"))  # fmt: skip


def text(iv) -> str:
    return f"{iv.point:.2f} [{iv.low:.2f}, {iv.high:.2f}]"


def first_step_reaching(entry, level: float) -> str:
    hit = np.nonzero(entry.curve_iqm >= level)[0]
    return f"{int(entry.curve_steps[hit[0]]):,}" if hit.size else f">{entry.budget:,}"


def main(db: str, task: str) -> None:
    with Store(db) as store:
        board = aggregate(store.submissions(), validate=False)
    rows = {e.label: e for e in board.entries
            if e.task == task and e.continuous and e.tier == "standard"}  # fmt: skip
    missing = [label for label in LABELS if label not in rows]
    if missing:
        sys.exit(f"{db}: no standard-tier continuous {task} runs for {missing}")
    print(f"# CTEDD vs MADDPG-1/-3 on {task}: standard tier, continuous actions\n")
    print(f"`python results/standard/compare_ctedd.py STORE.db {task}`; normalised team return,")
    print("IQM over seeds [95% stratified-bootstrap CI], the seed as resampling unit.\n")
    print("| entry | seeds | final IQM [95% CI] | AUC IQM [95% CI] | absolute IQM [95% CI] |")
    print("|---|---|---|---|---|")
    for label in LABELS:
        e = rows[label]
        cells = " | ".join(text(iv) for iv in (e.final, e.auc, e.absolute))
        print(f"| {label} | {len(e.runs)} | {cells} |")
    print("\n| a vs b | P(a > b), final [95% CI] | P(a > b), AUC [95% CI] |\n|---|---|---|")
    for a, b in PAIRS:
        f, u = (probability_of_improvement(rows[a], rows[b], m) for m in ("final", "auc"))
        print(f"| {a} vs {b} | {text(f)} | {text(u)} |")
    level = rows["MADDPG-3"].final.point
    print(f"\nEnv steps for the IQM curve to reach MADDPG-3's final IQM ({level:.2f}):\n")
    print("| entry | first evaluation step at or above it |\n|---|---|")
    for label in LABELS:
        print(f"| {label} | {first_step_reaching(rows[label], level)} |")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
