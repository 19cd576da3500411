"""Suite rankings as markdown: the aggregate table, the entries not ranked and the
probability-of-improvement matrix (terminal, README, GitHub). User text is escaped as in the
per-task table (``markdown.escape_cell``)."""

from __future__ import annotations

from coopbench.leaderboard.markdown import escape_cell, interval_text
from coopbench.leaderboard.suites import SuiteBoard, row_names

__all__ = ["METRIC_NAMES", "SUITE_NOTE", "render_suite_markdown"]

METRIC_NAMES = {"final": "Final score", "auc": "AUC", "absolute": "Absolute metric"}
AGGREGATE_NAMES = {
    "iqm": "IQM",
    "median": "median",
    "mean": "mean",
    "optimality_gap": "optimality gap",
}
SUITE_NOTE = (
    "Scores are normalised team returns (0 = uniform random policy, 1 = the task's scripted "
    "heuristic), aggregated over the runs x tasks score matrix of each entry (one run per seed "
    "run on every task): IQM over all runs, median and mean over tasks of the per-task mean, "
    "and optimality gap = 1 - mean(min(score, 1)), the shortfall from the heuristic (lower is "
    "better). [95% stratified-bootstrap CI]: runs resampled within each task."
)


def _title(sb: SuiteBoard) -> str:
    kind = "continuous" if sb.continuous else "discrete"
    return (
        f"## Suite {sb.suite} ({', '.join(sb.tasks)}), {kind} actions, "
        f"ranked by {METRIC_NAMES[sb.metric]} IQM"
    )


def _ranking(sb: SuiteBoard, names: list[str]) -> list[str]:
    metrics = list(sb.rows[0].aggregates)
    header = ["Rank", "Entry", "Flags", "Tier", "Budget (env steps)", "Seeds"] + [
        f"{METRIC_NAMES[m]} {AGGREGATE_NAMES[a]} [95% CI]" for m in metrics for a in AGGREGATE_NAMES
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for rank, (row, name) in enumerate(zip(sb.rows, names, strict=True), 1):
        cells = [str(rank), escape_cell(name), row.flags, escape_cell(row.tier), f"{row.budget:,}"]
        cells.append(str(len(row.seeds)))
        cells += [
            interval_text(getattr(row.aggregates[m], a)) for m in metrics for a in AGGREGATE_NAMES
        ]
        lines.append("| " + " | ".join(cells) + " |")
    dropped = [(n, r.dropped) for n, r in zip(names, sb.rows, strict=True) if r.dropped]
    if dropped:
        lines.append("")
        lines += [
            f"- {escape_cell(n)}: {k} run(s) left out (their seed was not run on every task)"
            for n, k in dropped
        ]
    return lines


def _poi(sb: SuiteBoard, names: list[str]) -> list[str]:
    header = ["P(row beats column)"] + [escape_cell(n) for n in names]
    lines = [
        f"Probability of improvement on {METRIC_NAMES[sb.metric]}: the chance that a run of the "
        "row entry beats a run of the column entry on a task (ties count half), averaged over "
        "tasks [95% bootstrap CI].",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for name, cells in zip(names, sb.poi, strict=True):
        row = [escape_cell(name)] + ["-" if iv is None else interval_text(iv) for iv in cells]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def render_suite_markdown(suite_boards: list[SuiteBoard]) -> str:
    """The suite rankings (``suites.suite_board``) as markdown, one section per board."""
    lines = ["# coopbench suite rankings", "", SUITE_NOTE]
    for sb in suite_boards:
        lines += ["", _title(sb), ""]
        names = row_names(sb.rows)
        if sb.rows:
            lines += _ranking(sb, names) + [""] + _poi(sb, names)
        else:
            lines.append("No entry ran every task of the suite.")
        if sb.incomplete:
            lines += ["", "Not ranked (did not run every task of the suite):", ""]
            lines += [
                f"- {escape_cell(i.label)} ({escape_cell(i.tier)}, {i.budget:,} env steps): "
                f"{escape_cell(i.reason)}"
                for i in sb.incomplete
            ]
    return "\n".join(lines) + "\n"
