"""Learning-curve figures of the site, drawn with matplotlib's Agg canvas.

A panel (one ``(task, action kind, tier, budget)`` group) with more than ``PER_FIGURE``
entries is split into several figures of at most ``PER_FIGURE`` curves each, in the order
of the task table (final-score IQM, best first): the first figure holds the top entries, the
next ones the following ranks. Every entry stays in the task table; the figures only keep each
plot readable (about six distinguishable colours and a legend that does not hide the lines).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from coopbench.leaderboard.scoring import Entry

__all__ = ["PER_FIGURE", "chunks", "plot_entries", "plot_seeds"]

PER_FIGURE = 6  # curves per figure; more entries are split over several figures
DPI = 90  # 720 x 378 pixels: readable and cheap to draw
_YLABEL = "normalised team return"


def _plain(text: str) -> str:
    """Keep matplotlib from reading ``$...$`` in user text as mathtext (which may raise)."""
    return str(text).replace("$", r"\$")


def _short(text: str, limit: int = 32) -> str:
    """A legend label: plain text, cut to ``limit`` characters."""
    text = _plain(" ".join(str(text).split()))
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def chunks(entries: Sequence[Entry], size: int = PER_FIGURE) -> list[tuple[str, list[Entry]]]:
    """``entries`` (already ranked) cut into figures of at most ``size`` curves, each with a
    caption naming the ranks it holds (``"all 4 entries"``, ``"ranks 1-6 of 15"``, ...)."""
    n = len(entries)
    if n <= size:
        return [(f"all {n} entries" if n != 1 else "1 entry", list(entries))]
    return [
        (f"ranks {i + 1}-{min(i + size, n)} of {n}", list(entries[i : i + size]))
        for i in range(0, n, size)
    ]


def _figure(title: str):
    from matplotlib.figure import Figure  # Agg via savefig; pyplot's global state untouched

    fig = Figure(figsize=(8.0, 4.2))
    ax = fig.subplots()
    # Fixed margins (a constrained layout costs a second draw): the legend sits at the right.
    fig.subplots_adjust(left=0.10, right=0.74, top=0.92, bottom=0.12)
    ax.axhline(0.0, color="grey", ls=":", lw=1)
    ax.axhline(1.0, color="grey", ls="--", lw=1)
    ax.set_xlabel("env steps")
    ax.set_title(_plain(title), fontsize="medium")
    ax.grid(alpha=0.3)
    return fig, ax


def plot_entries(
    entries: Sequence[Entry], title: str, path: Path, name: Callable[[Entry], str]
) -> None:
    """IQM curve and 95% band of each entry, legend ``name(entry)`` outside the axes."""
    fig, ax = _figure(title)
    for e in entries:
        line = ax.plot(e.curve_steps, e.curve_iqm, label=_short(name(e)), lw=1.8)[0]
        ax.fill_between(e.curve_steps, e.curve_low, e.curve_high, alpha=0.2, color=line.get_color())
    ax.set_ylabel(f"{_YLABEL} (IQM)")
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.savefig(path, dpi=DPI)


def plot_seeds(entry: Entry, title: str, path: Path) -> None:
    """One entry: each seed's curve (thin) under the IQM curve and its 95% band."""
    fig, ax = _figure(title)
    for r in entry.runs:
        ax.plot(r.steps, r.curve, lw=0.8, alpha=0.6, label=f"seed {r.seed}")
    ax.plot(entry.curve_steps, entry.curve_iqm, color="black", lw=2.0, label="IQM")
    ax.fill_between(entry.curve_steps, entry.curve_low, entry.curve_high, color="black", alpha=0.15)
    ax.set_ylabel(_YLABEL)
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.savefig(path, dpi=DPI)
