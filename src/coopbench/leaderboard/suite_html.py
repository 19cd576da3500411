"""Suite rankings for the static site: matplotlib figures (Agg, PNG) and an HTML fragment.

``render_suite_section`` returns a ``<section>`` for the site's index to include: the ranking
table, the entries not ranked, the probability-of-improvement matrix and ``<img>`` tags (paths
relative to ``out_dir``) for the figures of ``write_suite_figures``. It is rendered by jinja2
with autoescape on and has no script and no inline style, so it fits a Content-Security-Policy
of ``default-src 'none'; img-src 'self'; style-src 'self'``. User text in the figures is drawn
with mathtext off (``parse_math=False``), so a ``$`` in a label is literal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from coopbench.leaderboard.markdown import interval_text
from coopbench.leaderboard.suite_markdown import AGGREGATE_NAMES, METRIC_NAMES, SUITE_NOTE
from coopbench.leaderboard.suites import SuiteBoard, row_names

__all__ = ["render_suite_section", "write_suite_figures"]

_SCORE = "normalised team return (0 = random, 1 = heuristic)"


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure  # Agg via savefig; pyplot's global state untouched

    return Figure(figsize=(width, height), layout="constrained")


def _legend(ax: Any) -> None:
    for text in ax.legend(fontsize="small", loc="best").get_texts():
        text.set_parse_math(False)


def _profile(sb: SuiteBoard, names: list[str], path: Path) -> None:
    fig = _figure(7.0, 4.2)
    ax = fig.subplots()
    for row, name in zip(sb.rows, names, strict=True):
        line = ax.plot(sb.taus, row.profile, label=name[:60])[0]
        ax.fill_between(
            sb.taus, row.profile_low, row.profile_high, alpha=0.2, color=line.get_color()
        )
    ax.axvline(1.0, color="grey", ls="--", lw=1)
    ax.set_xlabel(f"{METRIC_NAMES[sb.metric]} threshold tau ({_SCORE})")
    ax.set_ylabel("fraction of runs with score > tau")
    ax.set_ylim(-0.02, 1.02)
    _legend(ax)
    fig.savefig(path, dpi=100)


def _poi_heatmap(sb: SuiteBoard, names: list[str], path: Path) -> None:
    k = len(sb.rows)
    fig = _figure(2.5 + 1.1 * k, 1.5 + 0.9 * k)
    ax = fig.subplots()
    grid = np.array([[np.nan if iv is None else iv.point for iv in row] for row in sb.poi])
    image = ax.imshow(grid, vmin=0.0, vmax=1.0, cmap="RdBu")
    for i, row in enumerate(sb.poi):
        for j, iv in enumerate(row):
            if iv is not None:
                text = f"{iv.point:.2f}\n[{iv.low:.2f}, {iv.high:.2f}]"
                ax.text(j, i, text, ha="center", va="center", fontsize="small")
    ax.set_xticks(range(k), [n[:30] for n in names], rotation=30, ha="right", parse_math=False)
    ax.set_yticks(range(k), [n[:30] for n in names], parse_math=False)
    ax.set_xlabel("column entry Y")
    ax.set_ylabel("row entry X")
    ax.set_title(f"P(X > Y) on {METRIC_NAMES[sb.metric]} [95% CI]")
    fig.colorbar(image, ax=ax, shrink=0.8)
    fig.savefig(path, dpi=100)


def _curves(sb: SuiteBoard, names: list[str], path: Path) -> None:
    fig = _figure(7.0, 4.2)
    ax = fig.subplots()
    for row, name in zip(sb.rows, names, strict=True):
        c = row.curve
        line = ax.plot(c.steps, c.iqm, label=name[:60])[0]
        ax.fill_between(c.steps, c.low, c.high, alpha=0.2, color=line.get_color())
    ax.axhline(0.0, color="grey", ls=":", lw=1)
    ax.axhline(1.0, color="grey", ls="--", lw=1)
    ax.set_xlabel("env steps")
    ax.set_ylabel("normalised score, IQM over tasks x seeds")
    ax.set_title("0 = random (dotted), 1 = heuristic (dashed), 95% CI bands", fontsize="small")
    _legend(ax)
    fig.savefig(path, dpi=100)


def _intervals(sb: SuiteBoard, names: list[str], path: Path) -> None:
    """One panel per aggregate, one row per entry: point and 95% interval (as rliable's
    ``plot_interval_estimates``)."""
    k = len(sb.rows)
    fig = _figure(11.0, 1.2 + 0.4 * k)
    axes = fig.subplots(1, len(AGGREGATE_NAMES), sharey=True)
    for ax, (attr, title) in zip(axes, AGGREGATE_NAMES.items(), strict=True):
        for y, row in enumerate(sb.rows):
            iv = getattr(row.aggregates[sb.metric], attr)
            color = f"C{y % 10}"
            ax.hlines(y, iv.low, iv.high, color=color, lw=6, alpha=0.6)
            ax.vlines(iv.point, y - 0.3, y + 0.3, color="black", lw=1.5)
        ax.set_title(title)
        ax.set_xlabel(METRIC_NAMES[sb.metric])
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(k), [n[:30] for n in names], parse_math=False)
    axes[0].set_ylim(k - 0.5, -0.5)  # rank 1 on top
    fig.savefig(path, dpi=100)


def write_suite_figures(sb: SuiteBoard, out_dir: Path) -> dict[str, Path]:
    """Write the PNG figures of a suite board into ``out_dir``: ``intervals`` (aggregates of
    the ranking metric with their intervals), ``poi`` (probability-of-improvement heatmap),
    ``profile`` (performance profiles with bootstrap bands) and ``curves`` (aggregated
    sample-efficiency curves; only when the board has them). File names are built from the
    suite, action kind and metric, never from user text. Returns ``{figure: path}``; no
    figure for a board without ranked rows."""
    if not sb.rows:
        return {}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"suite-{sb.suite}-{'continuous' if sb.continuous else 'discrete'}-{sb.metric}"
    names = row_names(sb.rows)
    drawers = {"intervals": _intervals, "poi": _poi_heatmap, "profile": _profile}
    if all(r.curve is not None for r in sb.rows):
        drawers["curves"] = _curves
    paths = {}
    for key, draw in drawers.items():
        paths[key] = out / f"{stem}-{key}.png"
        draw(sb, names, paths[key])
    return paths


def render_suite_section(sb: SuiteBoard, out_dir: Path) -> Markup:
    """Write the board's figures into ``out_dir`` and return its HTML ``<section>``."""
    figures = write_suite_figures(sb, out_dir)
    names = row_names(sb.rows)
    metrics = list(sb.rows[0].aggregates) if sb.rows else []
    env = Environment(
        loader=PackageLoader("coopbench.leaderboard", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
    )
    rows = [
        {
            "name": name,
            "algorithms": ", ".join(row.algorithms),
            "tier": row.tier,
            "budget": f"{row.budget:,}",
            "flags": row.flags,
            "seeds": len(row.seeds),
            "dropped": row.dropped,
            "cells": [
                interval_text(getattr(row.aggregates[m], a))
                for m in metrics
                for a in AGGREGATE_NAMES
            ],
            "poi": ["-" if iv is None else interval_text(iv) for iv in poi],
        }
        for row, name, poi in zip(sb.rows, names, sb.poi, strict=True)
    ]
    text = env.get_template("suite_section.html.j2").render(
        suite=sb.suite,
        tasks=", ".join(sb.tasks),
        kind="continuous" if sb.continuous else "discrete",
        metric=METRIC_NAMES[sb.metric],
        metric_key=sb.metric,
        note=SUITE_NOTE,
        headers=[
            f"{METRIC_NAMES[m]} {a} [95% CI]" for m in metrics for a in AGGREGATE_NAMES.values()
        ],
        rows=rows,
        names=names,
        incomplete=sb.incomplete,
        figures={key: path.name for key, path in figures.items()},
    )
    return Markup(text)
