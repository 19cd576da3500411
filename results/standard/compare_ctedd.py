"""CTEDD vs MADDPG-1/-3 on one task, standard tier, continuous actions (the paper's comparison).

Reads a results store, prints a markdown report: the leaderboard rows, probability of
improvement (final score and AUC) for the paper's pairs, and the env steps each entry's IQM
curve needs to reach MADDPG-3's final IQM (the paper's "about half the samples" claim on CN-V1).
With --sigma-ablation it reports the paper's figure 6 instead: CTEDD with σ learned by eq. 5
against fixed σ = 0.4, 0.6, 0.8 (runs made with `--set fixed_sigma=...`).
With --plot it draws the four tasks' learning curves (IQM, 95% band) into one figure.
Usage: python results/standard/compare_ctedd.py STORE.db TASK > results/standard/ctedd_TASK.md
       python results/standard/compare_ctedd.py STORE.db pf --sigma-ablation > ...
       python results/standard/compare_ctedd.py STORE.db --plot results/standard/ctedd_curves.png
"""

from __future__ import annotations

import sys

import numpy as np

from coopbench.leaderboard import Store
from coopbench.leaderboard.scoring import aggregate, probability_of_improvement

LABELS = ("CTEDD-G", "CTEDD-L-1", "CTEDD-L-3", "MADDPG-1", "MADDPG-3")
PAIRS = (("CTEDD-G", "MADDPG-3"), ("CTEDD-G", "MADDPG-1"), ("CTEDD-L-3", "MADDPG-3"),
         ("CTEDD-L-1", "MADDPG-1"), ("CTEDD-G", "CTEDD-L-3"))  # fmt: skip


def text(iv) -> str:
    return f"{iv.point:.2f} [{iv.low:.2f}, {iv.high:.2f}]"


def first_step_reaching(entry, level: float) -> str:
    hit = np.nonzero(entry.curve_iqm >= level)[0]
    return f"{int(entry.curve_steps[hit[0]]):,}" if hit.size else f">{entry.budget:,}"


def load_board(db: str):
    with Store(db) as store:
        return aggregate(store.submissions(), validate=False)


def task_rows(board, task: str, labels) -> dict:
    rows = {e.label: e for e in board.entries
            if e.task == task and e.continuous and e.tier == "standard"}  # fmt: skip
    missing = [label for label in labels if label not in rows]
    if missing:
        sys.exit(f"no standard-tier continuous {task} runs in the store for {missing}")
    return rows


def main(db: str, task: str) -> None:
    rows = task_rows(load_board(db), task, LABELS)
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


def sigma_ablation(db: str, task: str) -> None:
    """Figure 6: learning (CTEDD-G) and testing (CTEDD-L-3) with eq. 5 vs fixed σ."""
    variants = ("", " (σ=0.4)", " (σ=0.6)", " (σ=0.8)")
    labels = [f"CTEDD-{p}{v}" for p in ("G", "L-3") for v in variants]
    rows = task_rows(load_board(db), task, labels)
    early = (100_000, 200_000, 300_000)
    print(f"# CTEDD figure 6 ablation on {task}: σ by eq. 5 vs fixed σ, standard tier\n")
    print(f"`python results/standard/compare_ctedd.py STORE.db {task} --sigma-ablation`;")
    print("normalised team return, IQM over seeds [95% stratified-bootstrap CI]; the early")
    print("columns are the IQM curve at that many env steps (learning speed).\n")
    heads = " | ".join(f"IQM at {s // 1000}k" for s in early)
    print(f"| entry | seeds | final IQM [95% CI] | AUC IQM [95% CI] | {heads} |")
    print("|---|---|---|---|" + "---|" * len(early))
    for label in labels:
        e = rows[label]
        at = " | ".join(f"{np.interp(s, e.curve_steps, e.curve_iqm):.2f}" for s in early)
        print(f"| {label} | {len(e.runs)} | {text(e.final)} | {text(e.auc)} | {at} |")
    print("\n| eq. 5 vs fixed σ | P(eq. 5 > fixed), final [95% CI] | P(eq. 5 > fixed), AUC |")
    print("|---|---|---|")
    for p in ("G", "L-3"):
        for v in variants[1:]:
            a, b = rows[f"CTEDD-{p}"], rows[f"CTEDD-{p}{v}"]
            f, u = (probability_of_improvement(a, b, m) for m in ("final", "auc"))
            print(f"| CTEDD-{p} vs CTEDD-{p}{v} | {text(f)} | {text(u)} |")


def plot(db: str, out: str) -> None:
    """The paper's figures 2-5 in one: IQM learning curves with 95% bands, four tasks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = ("cn-v1", "cn-v2", "pf", "pp")
    board = load_board(db)
    fig, axes = plt.subplots(1, len(tasks), figsize=(16, 3.8))
    for ax, task in zip(axes, tasks, strict=True):
        rows = task_rows(board, task, LABELS)
        for label in LABELS:
            e = rows[label]
            ax.plot(e.curve_steps, e.curve_iqm, label=label, lw=1.2)
            ax.fill_between(e.curve_steps, e.curve_low, e.curve_high, alpha=0.2)
        ax.set(title=f"{task}, 5 seeds", xlabel="env steps", ylim=(-0.5, None))
        ax.axhline(0.0, color="grey", lw=0.6, ls=":")
    axes[0].set_ylabel("normalised team return (IQM, 95% CI)")
    axes[-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[2] == "--plot":
        plot(sys.argv[1], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[3] == "--sigma-ablation":
        sigma_ablation(sys.argv[1], sys.argv[2])
    elif len(sys.argv) == 3:
        main(sys.argv[1], sys.argv[2])
    else:
        sys.exit(__doc__)
