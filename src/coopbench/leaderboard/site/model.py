"""What the site's pages show: entry names and file names, table rows, per-run details.

File names never come from user text: an entry's page is named by a hash of its identity,
a task page by the task's id in coopbench's task registry (a scored task is always there) and
by a counter otherwise.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from coopbench.envs import TASKS
from coopbench.leaderboard.markdown import flags_text, interval_text, steps_text
from coopbench.leaderboard.scoring import Entry, Leaderboard
from coopbench.results.submission import run_meta

__all__ = [
    "Group",
    "TaskPage",
    "display",
    "entry_row",
    "run_rows",
    "site_structure",
    "submission_metas",
    "variants",
]


def display(entry: Entry) -> str:
    """The name an entry is shown under everywhere on the site: its disambiguated name."""
    return entry.display


def verified_text(e: Entry, verified: Mapping[str, Mapping[str, Any]]) -> str:
    """What ``coopbench leaderboard verify`` found for an entry's runs, e.g. ``verified 2/5``
    (re-run and matched), ``verification FAILED 1/5``; empty when none was re-run."""
    found = [verified[r.run_key]["matches"] for r in e.runs if r.run_key in verified]
    if not found:
        return ""
    if not all(found):
        return f"verification FAILED {found.count(False)}/{len(e.runs)}"
    return f"verified {len(found)}/{len(e.runs)}"


def flags_with_verification(e: Entry, verified: Mapping[str, Mapping[str, Any]]) -> str:
    """The entry's flags followed by its verification mark."""
    return " · ".join(t for t in (flags_text(e), verified_text(e, verified)) if t)


def submission_metas(submissions: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each submission's meta plus ``wall_time_s``, by run key: the ``metas`` of
    ``write_html``, as ``Store.metas()`` gives them."""
    return {d["run_key"]: {**run_meta(d), "wall_time_s": d["wall_time_s"]} for d in submissions}


def actions(continuous: bool) -> str:
    """The action kind as shown on the site."""
    return "continuous" if continuous else "discrete"


@dataclass
class Group:
    """The entries of one ``(task, action kind, tier, budget)``, ranked by final-score IQM."""

    tier: str
    budget: int
    entries: list[Entry]  # best final IQM first
    figures: list[dict[str, str]] = field(default_factory=list)  # file, caption


@dataclass
class TaskPage:
    """One task page: a task and action kind, all its tiers and budgets."""

    task: str
    continuous: bool
    file: str  # relative to the site root, e.g. "tasks/pf-continuous.html"
    groups: list[Group]

    @property
    def title(self) -> str:
        """E.g. ``pf (continuous actions)``."""
        return f"{self.task} ({actions(self.continuous)} actions)"


def _rank_key(e: Entry) -> tuple[float, str]:
    return (-e.final.point, display(e))


def site_structure(board: Leaderboard) -> tuple[list[TaskPage], dict[int, str]]:
    """Task pages (in board order) and every entry's page stem, keyed by ``id(entry)``."""
    groups: dict[tuple[str, bool, str, int], list[Entry]] = {}
    for e in board.entries:
        groups.setdefault((e.task, e.continuous, e.tier, e.budget), []).append(e)
    pages: dict[tuple[str, bool], TaskPage] = {}
    for (task, continuous, tier, budget), entries in groups.items():
        if (task, continuous) not in pages:
            stem = task if task in TASKS else f"task-{len(pages)}"
            file = f"tasks/{stem}-{actions(continuous)}.html"
            pages[task, continuous] = TaskPage(task, continuous, file, [])
        pages[task, continuous].groups.append(Group(tier, budget, sorted(entries, key=_rank_key)))
    stems: dict[int, str] = {}
    taken: set[str] = set()
    for e in board.entries:
        ident = [e.task, e.continuous, e.tier, e.budget, e.label, display(e)]
        ident.append(sorted(r.run_key for r in e.runs))
        digest = hashlib.sha256(json.dumps(ident).encode()).hexdigest()
        stem = digest[:12]
        if stem in taken:  # the same identity twice, or a 48-bit collision
            stem = f"{stem}-{len(taken)}"
        taken.add(stem)
        stems[id(e)] = stem
    return list(pages.values()), stems


def entry_row(
    e: Entry, rank: int, stem: str, verified: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """One table row: the entry's name, link, flags and scores (text plus sort keys)."""
    return {
        "rank": rank,
        "name": display(e),
        "stem": stem,
        "algorithms": ", ".join(e.algorithms),
        "flags": flags_with_verification(e, verified),
        "seeds": len(e.runs),
        "seed_list": ", ".join(str(s) for s in e.seeds),
        "final": interval_text(e.final),
        "final_sort": f"{e.final.point:.6g}",
        "auc": interval_text(e.auc),
        "auc_sort": f"{e.auc.point:.6g}",
        "steps": steps_text(e),
        "steps_sort": e.budget + 1 if e.steps_censored else e.steps_median,
        "absolute": interval_text(e.absolute),
        "absolute_sort": f"{e.absolute.point:.6g}",
    }


def run_rows(e: Entry, metas: Mapping[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-seed numbers of an entry with each run's start time, wall time and commit."""
    rows = []
    for r in e.runs:
        meta = metas[r.run_key]
        steps = f">{r.budget:,}" if r.censored else f"{r.steps_to_threshold:,}"
        rows.append(
            {
                "seed": r.seed,
                "run_key": r.run_key,
                "run_short": r.run_key[:12] + ("\u2026" if len(r.run_key) > 12 else ""),
                "final": f"{r.final:.3f}",
                "auc": f"{r.auc:.3f}",
                "steps": steps,
                "absolute": f"{r.absolute:.3f}",
                "started_at": str(meta.get("started_at", "-"))[:16].replace("T", " "),
                "wall_time": f"{meta['wall_time_s']:.0f}" if "wall_time_s" in meta else "-",
                "git_commit": (meta.get("git_commit") or "-")[:12],
            }
        )
    return rows


def variants(
    e: Entry, metas: Mapping[str, dict[str, Any]], get: Callable[[dict[str, Any]], Any]
) -> list[dict[str, Any]]:
    """The distinct values of ``get(meta)`` over an entry's runs, each with the seeds that share
    it, its runs' metas and its pretty-printed JSON."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in e.runs:
        meta = metas[r.run_key]
        out.setdefault(json.dumps(get(meta), indent=2, sort_keys=True), []).append(meta)
    return [
        {"seeds": ", ".join(str(m["seed"]) for m in group), "metas": group, "json": text}
        for text, group in out.items()
    ]
