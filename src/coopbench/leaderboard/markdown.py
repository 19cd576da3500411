"""The leaderboard as a markdown table (terminal, README, GitHub).

Every user-supplied string is escaped for markdown *and* inline HTML, so a hostile label
renders as literal text on GitHub and in any markdown viewer.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable
from typing import Any

from coopbench.leaderboard.presets import TUNED_FLAG, TUNING_NOTE, runs_tuned_preset
from coopbench.leaderboard.scoring import DEFAULT_THRESHOLD, Entry, Leaderboard, aggregate
from coopbench.stats import Interval

__all__ = [
    "SCORE_NOTE",
    "UNRANKED_HEADER",
    "UNRANKED_NOTE",
    "UNRANKED_TITLE",
    "escape_cell",
    "flags_text",
    "protocol_text",
    "render_markdown",
    "steps_text",
    "unranked_values",
]

SCORE_NOTE = (
    "Scores are normalised team returns (team return = sum over agents and steps of the "
    "per-agent rewards, per episode): 0 = uniform random policy, 1 = the task's scripted "
    "heuristic. IQM over seeds with [95% stratified-bootstrap CI], the seed being the "
    "resampling unit. AUC = area under the normalised learning curve / budget."
)
_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}()#+!|~])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def escape_cell(text: Any) -> str:
    """One-line, markdown- and HTML-inert text for a table cell."""
    flat = _CONTROL.sub(" ", str(text)).strip()
    return _MD_SPECIAL.sub(r"\\\1", html.escape(flat, quote=True))


def interval_text(iv: Interval, digits: int = 2) -> str:
    return f"{iv.point:.{digits}f} [{iv.low:.{digits}f}, {iv.high:.{digits}f}]"


def steps_text(entry: Entry) -> str:
    """Lower median of steps-to-threshold over seeds, ``>budget`` when that run is censored."""
    value = f">{entry.budget:,}" if entry.steps_censored else f"{entry.steps_median:,}"
    return f"{value} ({entry.reached}/{len(entry.runs)} reached)"


def flags_text(entry: Entry) -> str:
    flags = []
    if entry.centralised:
        flags.append("centralised (reads the global state)")
    if entry.privileged:
        flags.append("privileged (uses global state)")
    if runs_tuned_preset(entry):
        flags.append(TUNED_FLAG)
    return ", ".join(flags) or "-"


UNRANKED_TITLE = "Evaluation-only and external-protocol entries (not ranked)"
UNRANKED_NOTE = (
    "Not trained under a tier's budget and schedule, so never ranked with the table above: "
    "evaluation-only entries are given (pre-trained) policies scored on the tier's evaluation "
    "worlds (no learning curve, no AUC); external entries were produced elsewhere (imported) "
    "under the protocol shown."
)
UNRANKED_HEADER = (
    "Task",
    "Actions",
    "Kind",
    "Protocol",
    "Algorithm",
    "Flags",
    "Runs",
    "Final score (norm. team return) IQM [95% CI]",
    "AUC (norm. team return) IQM [95% CI]",
    "Absolute metric (norm. team return) IQM [95% CI]",
)


_USER_TEXT = (0, 3, 4)  # task, protocol, name: escaped in markdown


def protocol_text(entry: Entry) -> str:
    """How an unranked entry was evaluated (worlds, budget, evaluations, episodes)."""
    p = entry.protocol
    if entry.kind == "evaluation-only":
        return f"evaluation worlds of the {p['tier']} tier, {p['eval_episodes']:,} episodes"
    runs = entry.runs
    points = ", ".join(sorted({str(len(r.steps)) for r in runs}))
    return f"budget {entry.budget:,}, {points} evaluations of {p['eval_episodes']:,} episodes"


def unranked_values(e: Entry) -> list[str]:
    """The cells of an unranked entry's row (``UNRANKED_HEADER``), unescaped."""
    return [
        e.task,
        "continuous" if e.continuous else "discrete",
        e.kind,
        protocol_text(e),
        e.display,
        flags_text(e),
        str(len(e.runs)),
        interval_text(e.final),
        interval_text(e.auc) if math.isfinite(e.auc.point) else "-",
        interval_text(e.absolute),
    ]


def _unranked_lines(entries: Iterable[Entry]) -> list[str]:
    lines = [f"## {UNRANKED_TITLE}", "", UNRANKED_NOTE, ""]
    lines.append("| " + " | ".join(UNRANKED_HEADER) + " |")
    lines.append("|" + "|".join("---" for _ in UNRANKED_HEADER) + "|")
    for e in entries:
        cells = [escape_cell(v) if i in _USER_TEXT else v for i, v in enumerate(unranked_values(e))]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _leaderboard(source: Leaderboard | Iterable[dict[str, Any]], **kw: Any) -> Leaderboard:
    return source if isinstance(source, Leaderboard) else aggregate(source, **kw)


def render_markdown(
    submissions: Leaderboard | Iterable[dict[str, Any]],
    threshold: float = DEFAULT_THRESHOLD,
    reps: int = 2000,
    seed: int = 0,
) -> str:
    """The leaderboard table (one row per entry) with the score conventions spelled out."""
    board = _leaderboard(submissions, threshold=threshold, reps=reps, seed=seed)
    thr = f"{board.threshold:g}"
    header = [
        "Task",
        "Actions",
        "Tier",
        "Budget (env steps)",
        "Algorithm",
        "Flags",
        "Seeds",
        "Final score (norm. team return) IQM [95% CI]",
        "AUC (norm. team return) IQM [95% CI]",
        f"Env steps to score {thr} (median)",
        "Absolute metric (norm. team return) IQM [95% CI]",
    ]
    lines = [
        "# coopbench leaderboard",
        "",
        SCORE_NOTE,
        "",
        TUNING_NOTE,
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for e in board.entries:
        row = [
            escape_cell(e.task),
            "continuous" if e.continuous else "discrete",
            escape_cell(e.tier),
            f"{e.budget:,}",
            escape_cell(e.display),
            flags_text(e),
            str(len(e.runs)),
            interval_text(e.final),
            interval_text(e.auc),
            steps_text(e),
            interval_text(e.absolute),
        ]
        lines.append("| " + " | ".join(row) + " |")
    if not board.entries:
        lines.append("| " + " | ".join("-" for _ in header) + " |")
    if board.unranked:
        lines += ["", *_unranked_lines(board.unranked)]
    if board.skipped:
        lines += ["", "Runs not scored (no reference returns apply):", ""]
        lines += [f"- {escape_cell(key)}: {escape_cell(why)}" for key, why in board.skipped]
    return "\n".join(lines) + "\n"
