"""Before / after per leaderboard entry: every tuned preset against the hand preset.

Each pair is one file of ``results/tuning/`` against the entry of the same label and task on
the leaderboard (``results/standard/*.json.gz``), standard tier, seeds 0-4:

- ``ALGO_TASK_before.json.gz``: the hand preset's runs, made on the same code as the tuned
  ones, which replaced them on the board (the tuned preset held);
- ``ALGO_TASK_before_v1.json.gz``: the same under the task's version 1, used only where no
  such re-run exists (re-scored against version 2's references, docs/tasks.md §5);
- ``ALGO_TASK_trialN_seeds0-4.json.gz``: a tuned config's hold-out runs that did not hold,
  so the hand preset stayed on the board.

Probability of improvement: P(a tuned run beats a hand-preset run), Agarwal et al. 2021,
with its 95% bootstrap interval; scores are IQMs over the 5 seeds [95% CI].
Usage: python results/tuning/before_after.py > results/tuning/before_after.md
"""

from __future__ import annotations

import re
from pathlib import Path

from coopbench.leaderboard.markdown import interval_text
from coopbench.leaderboard.presets import runs_todays_config, runs_tuned_preset
from coopbench.leaderboard.scoring import Entry, aggregate, probability_of_improvement
from coopbench.results.files import read_json

RESULTS = Path(__file__).resolve().parents[1]
PAIRED = re.compile(r"^.+?_(?P<kind>before|before_v1|trial\d+_seeds0-4)\.json\.gz$")
TASK_ORDER = ("spread", "cn-v1", "cn-v2", "pf", "pp")
Key = tuple[bool, str, str]  # (continuous, label, task)
HEADER = """# Tuned presets: before and after, per leaderboard entry

<!-- generated: python results/tuning/before_after.py > results/tuning/before_after.md -->

Standard tier (1M env steps), seeds 0-4, IQM of the normalised score [95% CI];
P = probability that a tuned run beats a hand-preset run [95% CI]. *On the board*:
which preset the leaderboard runs (the tuned one only where its hold-out held; the
rule and every study: docs/baselines/tuning.md). (c): continuous actions; "hand: v1":
the hand preset's runs were made under the task's version 1 (re-scored against version 2).

| entry | task | on the board | final, hand | final, tuned | P final | AUC, hand | AUC, tuned | P AUC | other side's runs |
|---|---|---|---|---|---|---|---|---|---|"""  # noqa: E501


def entries(paths: list[Path]) -> dict[Key, Entry]:
    """Standard-tier entries of the runs in ``paths``, one per (family, label, task)."""
    runs = [doc for path in paths for doc in read_json(path)]
    out: dict[Key, Entry] = {}
    for e in aggregate(runs).entries:
        if e.tier != "standard":
            continue
        key = (e.continuous, e.label, e.task)
        if key in out:
            raise SystemExit(f"two {e.label} entries on {e.task} in {[p.name for p in paths]}")
        out[key] = e
    return out


def pairs(board: dict[Key, Entry]) -> list[tuple[Key, Entry, Entry, str, bool]]:
    """(key, hand, tuned, the other side's file, tuned preset on the board) per entry."""
    found: dict[Key, tuple[int, Entry, Entry, str, bool]] = {}
    for path in sorted((RESULTS / "tuning").glob("*.json.gz")):
        match = PAIRED.match(path.name)
        if match is None:
            continue
        kind = match["kind"]
        rank = {"before": 0, "before_v1": 1}.get(kind, 2)
        for key, other in entries([path]).items():
            if key not in board:
                raise SystemExit(f"{path.name}: no {key[1]} entry on {key[2]} on the board")
            held = kind.startswith("before")
            if held != runs_tuned_preset(board[key]):
                state = "does not run" if held else "runs"
                raise SystemExit(
                    f"{path.name}: the board's {key[1]} on {key[2]} {state} its tuned preset"
                )
            if key in found and found[key][0] <= rank:
                continue
            hand, tuned = (other, board[key]) if held else (board[key], other)
            found[key] = (rank, hand, tuned, path.name, held)
    return [(k, *found[k][1:]) for k in sorted(found, key=_order)]


def _order(key: Key) -> tuple:
    continuous, label, task = key
    return continuous, label, TASK_ORDER.index(task) if task in TASK_ORDER else len(TASK_ORDER)


def _entry(continuous: bool, label: str) -> str:
    return label + (" (c)" if continuous else "")


def _name(key: Key) -> str:
    continuous, label, task = key
    return f"{_entry(continuous, label)} `{task}`"


def main() -> None:
    print(HEADER)
    board = entries(sorted((RESULTS / "standard").glob("*.json.gz")))
    found = pairs(board)
    for (continuous, label, task), hand, tuned, name, held in found:
        version = (
            "" if hand.task_version == tuned.task_version else f" (hand: v{hand.task_version})"
        )
        cells = [
            _entry(continuous, label),
            f"`{task}`{version}",
            "**tuned**" if held else "hand",
            interval_text(hand.final),
            interval_text(tuned.final),
            interval_text(probability_of_improvement(tuned, hand, "final")),
            interval_text(hand.auc),
            interval_text(tuned.auc),
            interval_text(probability_of_improvement(tuned, hand, "auc")),
            f"`{name}`",
        ]
        print("| " + " | ".join(cells) + " |")
    paired = {key for key, *_ in found}
    alone = [
        k for k in sorted(board, key=_order) if k not in paired and runs_todays_config(board[k])
    ]
    print("\nNo pair, so today's hand preset is on the board (not tuned yet, or no tuned config")
    print("beat it at the 1M check): " + ", ".join(_name(k) for k in alone) + ".")


if __name__ == "__main__":
    main()
