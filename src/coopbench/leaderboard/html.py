"""The leaderboard as a static, multi-page HTML site.

Layout of ``out_dir`` (see ``docs/site.md``)::

    index.html                 overview: tasks, top entries per task, suite rankings, and
                               the unranked (evaluation-only, external-protocol) entries
    tasks/<task>-<kind>.html   one task and action kind: full tables and learning curves
    entries/<id>.html          one entry: scores per seed, config, provenance, command
    entries/<id>.json.gz       its submissions (when ``write_submissions`` is given)
    img/*.png                  curves (matplotlib, Agg canvas)
    style.css, sort.js         static; the pages read fine without the script

Rendered with jinja2 (``autoescape=True``: every user-supplied string, from labels to config
values and notes, is HTML-escaped) under a Content-Security-Policy that allows images, styles
and scripts from the site itself only (no inline script, style or event handler). File names
never come from user text.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from coopbench.leaderboard.markdown import (
    SCORE_NOTE,
    UNRANKED_HEADER,
    UNRANKED_NOTE,
    UNRANKED_TITLE,
    interval_text,
    steps_text,
    unranked_values,
)
from coopbench.leaderboard.presets import TUNING_NOTE
from coopbench.leaderboard.scoring import Leaderboard
from coopbench.leaderboard.site import figures
from coopbench.leaderboard.site.model import (
    TaskPage,
    actions,
    display,
    entry_row,
    flags_with_verification,
    run_rows,
    site_structure,
    submission_metas,
    variants,
)
from coopbench.leaderboard.site.reproduce import reproduce_command

__all__ = ["submission_metas", "write_html", "write_site"]

TOP = 5  # entries per group in the overview's compact tables
STATIC = ("style.css", "sort.js")
_PROVENANCE = ("versions", "git_commit", "hardware", "provenance")


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("coopbench.leaderboard", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["id"] = id  # rows are keyed by the entry object
    return env


def _figure_jobs(pages: list[TaskPage], stems: dict[int, str], out: Path) -> list[tuple]:
    """Every figure to draw, as ``(function, *args)``: per group, its entries cut into
    readable figures (recorded in ``group.figures``); per entry, its seeds."""
    jobs: list[tuple] = []
    for page in pages:
        for g in page.groups:
            title = f"{page.title}, tier {g.tier}, budget {g.budget:,}"
            for caption, chunk in figures.chunks(g.entries):
                name = f"img/curves-{len(jobs)}.png"
                jobs.append((figures.plot_entries, chunk, title, out / name, display))
                g.figures.append({"file": name, "caption": f"{title}: {caption}"})
            for e in g.entries:
                entry_title = f"{display(e)} on {page.title}"
                jobs.append((figures.plot_seeds, e, entry_title, out / f"img/{stems[id(e)]}.png"))
    return jobs


def _entry_context(
    e, page: TaskPage, group, stem: str, metas, verified, files: bool
) -> dict[str, Any]:
    missing = [r.run_key for r in e.runs if r.run_key not in metas]
    if missing:
        raise ValueError(f"no meta for run {missing[0]!r}; metas must hold every run shown")
    configs = variants(e, metas, lambda m: m["algorithm"]["config"])
    for c in configs:
        c["command"] = reproduce_command(c["metas"])
    notes = sorted({metas[r.run_key].get("notes") or "" for r in e.runs} - {""})
    return {
        "name": display(e),
        "label": e.label,
        "stem": stem,
        "task_page": page,
        "tier": group.tier,
        "budget": f"{group.budget:,}",
        "actions": actions(e.continuous),
        "algorithms": ", ".join(e.algorithms),
        "config_hashes": ", ".join(e.config_hashes),
        "flags": flags_with_verification(e, verified),
        "final": interval_text(e.final),
        "auc": interval_text(e.auc),
        "steps": steps_text(e),
        "absolute": interval_text(e.absolute),
        "runs": run_rows(e, metas),
        "configs": configs,
        "provenance": variants(e, metas, lambda m: {k: m[k] for k in _PROVENANCE if k in m}),
        "notes": notes,
        "download": f"{stem}.json.gz" if files else None,
    }


def write_html(
    board: Leaderboard,
    out_dir: str | os.PathLike[str],
    *,
    metas: Mapping[str, dict[str, Any]],
    write_submissions: Callable[[Sequence[str], Path], None] | None = None,
    suite_sections: Sequence[Markup] = (),
    verified: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """Write the site of ``board`` into ``out_dir``; returns the path of ``index.html``.

    ``metas[run_key]`` is each run's submission without its returns (task, algorithm with
    config, policies, seed, protocol, versions, git_commit, hardware, started_at, optional
    notes and provenance, wall_time_s); every run of the board must have one.
    ``write_submissions(run_keys, path)``, when given, writes each entry's downloadable
    submission file. ``suite_sections`` are ready-made, escaped HTML fragments shown under
    "Suite rankings" on the index (the section is left out when there are none).
    ``verified[run_key]`` (``Store.verifications()``) marks the entries whose runs were re-run
    by ``coopbench leaderboard verify``.
    """
    verified = verified or {}
    out = Path(out_dir)
    for sub in ("tasks", "entries", "img"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    static = resources.files("coopbench.leaderboard.site") / "static"
    for name in STATIC:
        (out / name).write_bytes((static / name).read_bytes())
    pages, stems = site_structure(board)
    env = _environment()
    common = {
        "note": SCORE_NOTE,
        "tuning_note": TUNING_NOTE,
        "threshold": f"{board.threshold:g}",
        "pages": pages,
    }

    def render(template: str, path: str, root: str, **context: Any) -> None:
        text = env.get_template(template).render(root=root, **common, **context)
        (out / path).write_text(text, encoding="utf-8")

    contexts = [
        _entry_context(e, page, g, stems[id(e)], metas, verified, write_submissions is not None)
        for page in pages
        for g in page.groups
        for e in g.entries
    ]  # before any figure: a missing meta fails fast
    jobs = _figure_jobs(pages, stems, out)
    rows = {
        id(e): entry_row(e, rank, stems[id(e)], verified)
        for page in pages
        for g in page.groups
        for rank, e in enumerate(g.entries, 1)
    }
    written: dict[tuple[str, ...], Path] = {}  # run keys -> their download
    # One thread draws the figures (each its own Agg canvas) while this one writes the pages
    # and downloads: compressing and writing files mostly runs outside the GIL.
    with ThreadPoolExecutor(max_workers=1) as pool:
        drawn = [pool.submit(*job) for job in jobs]
        for page in pages:
            render("task.html.j2", page.file, "../", page=page, rows=rows)
        for ctx in contexts:
            render("entry.html.j2", f"entries/{ctx['stem']}.html", "../", entry=ctx)
            if write_submissions is not None:
                keys = tuple(sorted({run["run_key"] for run in ctx["runs"]}))
                target = out / "entries" / ctx["download"]
                if keys in written:  # another policy of the same runs: the same file
                    shutil.copyfile(written[keys], target)
                else:
                    write_submissions(list(keys), target)
                    written[keys] = target
        render(
            "index.html.j2",
            "index.html",
            "",
            rows=rows,
            top=TOP,
            suite_sections=list(suite_sections),
            skipped=board.skipped,
            unranked=[unranked_values(e) for e in board.unranked],
            unranked_title=UNRANKED_TITLE,
            unranked_note=UNRANKED_NOTE,
            unranked_header=UNRANKED_HEADER,
            runs=len({r.run_key for e in board.entries for r in e.runs}),
        )
        for future in drawn:
            future.result()
    return out / "index.html"


def write_site(
    store: Any,
    out_dir: str | os.PathLike[str],
    *,
    tasks: Collection[str] | None = None,
    labels: Collection[str] | None = None,
    downloads: bool = True,
) -> Path:
    """The site of a results ``Store`` (only ``tasks`` / entries named in ``labels`` when
    given): per-task entries, the suite rankings of every suite whose tasks are all on the
    board (``leaderboard.suites``), verification marks, and with ``downloads`` each entry's
    submission file. Returns the path of ``index.html``."""
    from coopbench.leaderboard.scoring import aggregate
    from coopbench.leaderboard.suite_html import render_suite_section
    from coopbench.leaderboard.suites import SUITES, suite_board
    from coopbench.results.files import export_file

    board = aggregate(store).select(tasks, labels)
    out = Path(out_dir)
    present = {e.task for e in board.entries}
    sections = [
        render_suite_section(sb, out)
        for name, suite_tasks in SUITES.items()
        if set(suite_tasks) <= present
        for sb in suite_board(board, name)
    ]

    def write_submissions(keys: Sequence[str], path: Path) -> None:
        export_file(store, path, run_keys=keys)

    return write_html(
        board,
        out,
        metas=store.metas(),
        write_submissions=write_submissions if downloads else None,
        suite_sections=sections,
        verified=store.verifications(),
    )
