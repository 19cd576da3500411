"""Summaries of the thesis reproductions: 95% intervals, claims, plot and markdown table.

Intervals are percentile bootstraps of the mean over independent trials (10 000
resamples, seeded; ``coopbench.stats``); a difference between two configs resamples each config's
trials independently. "final" is the evaluation at the last step (mean of 5 greedy
episodes per trial), "peak" the maximum of the mean learning curve, "late" the mean
over the last 10 evaluations (the last 1000 steps).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from coopbench.stats import bootstrap_difference_ci, stratified_bootstrap, stratified_bootstrap_ci

REPS = 10_000
BAND_REPS = 2_000  # the curves' bands: a picture, not a reported number

# The thesis's reported numbers (ch. 2 §2.2.1 and §2.2.3); others are qualitative.
THESIS = {
    "DQN": "final ≈ 194",
    "m=2 C=1": "final ≈ 218; above DQN after step 2500",
    "m=10 C=1": "peak ≈ 240 (+27% over DQN, +15% over m=2)",
    "m=2 C=0.5": "≈ no effect vs DQN",
    "m=2 C=2": "hinders learning early",
    "m=2 ω(μ=2500)": "final above DQN, below constant C=1",
    "m=2 ω(μ=4000)": "grows like constant C=1",
    "DQL": "ADP better early, DQL better late",
    "ADP": "better than DQL early",
    "Algorithm 1": "hurt early, moderately above both late",
}


def boot_mean(x: np.ndarray, rng: np.random.Generator) -> list[float]:
    """[mean, low, high] of a 95% bootstrap interval of the mean of ``x [trials]``."""
    return list(stratified_bootstrap_ci(x, np.mean, REPS, seed=rng))


def boot_diff(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> list[float]:
    """[mean(x) − mean(y), low, high], trials of x and y resampled independently."""
    return list(bootstrap_difference_ci(x, y, np.mean, REPS, seed=rng))


def summarise(result: dict, comparisons: list[tuple[str, ...]], seed: int = 0) -> dict:
    """Add per-config statistics and claims ``(claim, a, b, window, expect)`` to ``result``.

    ``window`` is ``final``, ``late`` (last 10 evaluations) or ``early`` (first half);
    ``expect`` is the thesis's direction of a − b: ``>``, ``<``, ``≈`` or ``?`` (none).
    """
    rng = np.random.default_rng(seed)
    steps = np.asarray(result["steps"])
    half = steps <= max(steps[-1] // 2, steps[0])

    def window(label: str, which: str) -> np.ndarray:
        s = np.asarray(result["curves"][label]["scores"])
        return {"final": s[:, -1], "late": s[:, -10:].mean(1), "early": s[:, half].mean(1)}[which]

    stats = {}
    for label, curve in result["curves"].items():
        s = np.asarray(curve["scores"])
        mean_curve = s.mean(0)
        stats[label] = {
            "trials": len(s),
            "final": boot_mean(s[:, -1], rng),
            "late": boot_mean(window(label, "late"), rng),
            "early": boot_mean(window(label, "early"), rng),
            "peak": float(mean_curve.max()),
            "peak_step": int(steps[mean_curve.argmax()]),
            "thesis": THESIS.get(label, ""),
        }
    claims = []
    for claim, a, b, which, expect in comparisons:
        if a in result["curves"] and b in result["curves"]:
            diff = boot_diff(window(a, which), window(b, which), rng)
            verdict = ">" if diff[1] > 0 else "<" if diff[2] < 0 else "≈"
            holds = "—" if expect == "?" else "yes" if verdict == expect else "no"
            claims.append({"claim": claim, "a": a, "b": b, "window": which, "diff": diff,
                           "verdict": verdict, "expect": expect, "holds": holds})  # fmt: skip
    return {**result, "stats": stats, "claims": claims}


def _fmt(v: list[float]) -> str:
    return f"{v[0]:.1f} [{v[1]:.1f}, {v[2]:.1f}]"


def markdown(summary: dict, title: str) -> str:
    """Table of every config beside the thesis's numbers, then the claim comparisons."""
    lines = [f"## {title}", "", "| config | trials | final | last 1000 steps | first half | "
             "peak of mean (step) | thesis |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for label, st in summary["stats"].items():
        lines.append(
            f"| {label} | {st['trials']} | {_fmt(st['final'])} | {_fmt(st['late'])} | "
            f"{_fmt(st['early'])} | {st['peak']:.1f} ({st['peak_step']}) | {st['thesis']} |"
        )
    lines += [
        "",
        "| claim | a − b | window | difference [95% CI] | observed | thesis | holds |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in summary["claims"]:
        lines.append(
            f"| {c['claim']} | {c['a']} − {c['b']} | {c['window']} | {_fmt(c['diff'])} | "
            f"a {c['verdict']} b | a {c['expect']} b | {c['holds']} |"
        )
    return "\n".join(lines) + "\n"


def plot(summaries: dict[str, dict], path: Path, panels: dict[str, list[str]]) -> None:
    """Learning curves (mean and 95% bootstrap band per evaluation step); one panel per
    entry of ``panels`` (panel title → config labels), or one per summary if it has none."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = [(t, s["steps"], s["curves"]) for t, s in summaries.items()]
    chosen = [
        (title, steps, {k: c[k] for k in labels if k in c})
        for title, labels in panels.items()
        for _, steps, c in curves
        if any(k in c for k in labels)
    ] or curves
    cols = min(3, len(chosen))
    rows = -(-len(chosen) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.5 * cols, 4.2 * rows), squeeze=False)
    for ax in axes.flat[len(chosen) :]:
        ax.set_axis_off()
    for ax, (title, steps, group) in zip(axes.flat, chosen, strict=False):
        for label, curve in group.items():
            s = np.asarray(curve["scores"])  # [trials, steps]; a trial keeps its whole curve
            mean, low, high = stratified_bootstrap(
                s.T[:, :, None], lambda a: a.mean(axis=(-2, -1)), BAND_REPS, seed=0
            )
            (line,) = ax.plot(steps, mean, label=label, lw=1.2)
            ax.fill_between(steps, low, high, color=line.get_color(), alpha=0.15)
        ax.set(title=title, xlabel="training step", ylabel="greedy evaluation return")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(
    summaries: dict[str, dict], out: Path, stem: str, panels: dict[str, list[str]] | None = None
) -> dict[str, str]:
    """Write ``stem.json``, ``stem.png`` and ``stem.md`` into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {k: str(out / f"{stem}.{k}") for k in ("json", "png", "md")}
    Path(paths["json"]).write_text(json.dumps(summaries, indent=1))
    plot(summaries, Path(paths["png"]), panels or {})
    Path(paths["md"]).write_text("\n".join(markdown(s, t) for t, s in summaries.items()))
    return paths
