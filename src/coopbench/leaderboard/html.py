"""The leaderboard as a static HTML site: one ``index.html`` plus learning-curve PNGs.

Rendered with jinja2 (``autoescape=True``: every user-supplied string, from algorithm names
and labels to config values and notes, is HTML-escaped) and a Content-Security-Policy that
forbids scripts altogether. Curves (IQM over seeds of the normalised score at each evaluation
step, with the 95% stratified-bootstrap band) are drawn with matplotlib's Agg canvas, one PNG
per (task, action kind, tier), next to ``index.html``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from coopbench.leaderboard.markdown import SCORE_NOTE, flags_text, interval_text, steps_text
from coopbench.leaderboard.scoring import DEFAULT_THRESHOLD, Entry, aggregate

__all__ = ["write_html"]


def _plain(text: str) -> str:
    """Keep matplotlib from reading ``$...$`` in user text as mathtext (which may raise)."""
    return str(text).replace("\\", "\\\\").replace("$", r"\$")


def _plot(entries: list[Entry], title: str, path: Path) -> None:
    from matplotlib.figure import Figure  # Agg via savefig; pyplot's global state untouched

    fig = Figure(figsize=(7.0, 4.2), layout="constrained")
    ax = fig.subplots()
    for e in entries:
        line = ax.plot(e.curve_steps, e.curve_iqm, label=_plain(e.label)[:60])[0]
        ax.fill_between(e.curve_steps, e.curve_low, e.curve_high, alpha=0.2, color=line.get_color())
    ax.axhline(0.0, color="grey", ls=":", lw=1)
    ax.axhline(1.0, color="grey", ls="--", lw=1)
    ax.set_xlabel("env steps")
    ax.set_ylabel("normalised team return (IQM, 95% CI)")
    ax.set_title(_plain(title))
    ax.legend(fontsize="small", loc="best")
    fig.savefig(path, dpi=100)


def _row(e: Entry, plot: str) -> dict[str, Any]:
    return {
        "task": e.task,
        "actions": "continuous" if e.continuous else "discrete",
        "tier": e.tier,
        "budget": f"{e.budget:,}",
        "label": e.label,
        "algorithms": ", ".join(e.algorithms),
        "flags": flags_text(e),
        "seeds": len(e.runs),
        "final": interval_text(e.final),
        "auc": interval_text(e.auc),
        "steps": steps_text(e),
        "absolute": interval_text(e.absolute),
        "plot": plot,
    }


def _run(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "run_key": doc["run_key"],
        "task": doc["task"]["id"],
        "algorithm": doc["algorithm"]["name"],
        "labels": ", ".join(sorted({p["label"] for p in doc["policies"].values()})),
        "seed": doc["seed"],
        "tier": doc["protocol"]["tier"],
        "budget": doc["protocol"]["budget"],
        "config": json.dumps(doc["algorithm"]["config"], sort_keys=True),
        "config_hash": doc["algorithm"]["config_hash"],
        "git_commit": doc["git_commit"] or "-",
        "wall_time": f"{doc['wall_time_s']:.1f}",
        "notes": doc.get("notes", ""),
    }


def write_html(
    submissions: Iterable[dict[str, Any]],
    out_dir: str | os.PathLike[str],
    threshold: float = DEFAULT_THRESHOLD,
    reps: int = 2000,
    seed: int = 0,
    tasks: Collection[str] | None = None,
    labels: Collection[str] | None = None,
) -> Path:
    """Write ``out_dir/index.html`` and its curve PNGs; returns the path of ``index.html``.

    ``tasks`` / ``labels`` publish a subset (``Leaderboard.select``); the runs table then
    lists only the runs behind the entries shown.
    """
    docs = list(submissions)
    board = aggregate(docs, threshold=threshold, reps=reps, seed=seed).select(tasks, labels)
    if tasks is not None or labels is not None:
        shown = {r.run_key for e in board.entries for r in e.runs}
        docs = [d for d in docs if d["run_key"] in shown]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plots, rows = [], []
    for i, ((task, continuous, tier, budget), entries) in enumerate(board.groups().items()):
        name = f"curve-{i}.png"  # never derived from user text
        kind = "continuous" if continuous else "discrete"
        title = f"{task} ({kind} actions), tier {tier}, budget {budget:,}"
        _plot(entries, title, out / name)
        plots.append({"file": name, "title": title})
        rows += [_row(e, name) for e in entries]
    env = Environment(
        loader=PackageLoader("coopbench.leaderboard", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
    )
    text = env.get_template("index.html.j2").render(
        note=SCORE_NOTE,
        threshold=f"{board.threshold:g}",
        rows=rows,
        plots=plots,
        runs=[_run(d) for d in sorted(docs, key=lambda d: d["run_key"])],
        skipped=board.skipped,
    )
    index = out / "index.html"
    index.write_text(text, encoding="utf-8")
    return index
