"""Verify submissions by re-running them: ``coopbench leaderboard verify FILE_OR_STORE``.

A sample of runs (seeded) is re-run through the harness from what each submission records
(``coopbench.harness.rerun``: task, algorithm path and full config, seed, protocol, thread
count) and compared with it:

* **bit-identical** — every evaluation return and every absolute-metric return is equal.
  A run matches when it is, whatever else differs.
* otherwise, when the re-run's software versions, platform, coopbench commit (and dirty
  flag), user-algorithm source hash, CPU and threads all equal the recorded ones, the run
  should have been bit-identical: it does **not** match (edited numbers, or a run that was
  not made as recorded).
* when some of those differ (listed in ``differs``), floating-point results may legitimately
  differ, so the comparison is statistical: the per-point difference of mean team returns,
  and a two-sample (Welch) test of the final point's and the absolute metric's returns per
  policy; the run is *consistent* (matches) when no test rejects at ``ALPHA``.

``verify_runs`` returns one ``VerifyResult`` per sampled run, for the CLI's table and for a
site that marks verified entries. The leaderboard imports no algorithm: the harness does the
re-run.
"""

from __future__ import annotations

import math
import random
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from coopbench.results import Store, StoreError, SubmissionError, import_file

ALPHA = 0.01  # significance level of each statistical test

__all__ = [
    "ALPHA",
    "Comparison",
    "VerifyError",
    "VerifyResult",
    "compare",
    "describe",
    "environment_differences",
    "load_submissions",
    "sample_runs",
    "verify_runs",
    "verify_table",
]


class VerifyError(ValueError):
    """Bad input to verify: a missing or corrupt file, an unknown entry label."""


@dataclass
class VerifyResult:
    """The verdict on one re-run submission."""

    run_key: str
    task: str
    algorithm: str  # the recorded algorithm name
    labels: list[str]  # entry labels of its policies
    seed: int
    threads: int  # thread count of the re-run (the recorded one, else 1)
    identical: bool  # every evaluation and absolute return equal
    differs: list[str] = field(default_factory=list)  # environment items that differ
    max_mean_diff: float = 0.0  # largest |difference of mean team return| over points, policies
    p_value: float | None = None  # smallest p of the final-point/absolute tests (None: not run)
    notes: list[str] = field(default_factory=list)  # e.g. provenance missing, structure differs
    wall_time_s: float = 0.0  # of the re-run

    @property
    def expectation(self) -> str:
        """``"bit-identical"`` when nothing in the environment differs, else ``"statistical"``."""
        return "statistical" if self.differs else "bit-identical"

    @property
    def matches(self) -> bool:
        """Identical, or (environment differs) statistically consistent."""
        if self.identical:
            return True
        return bool(self.differs) and self.p_value is not None and self.p_value >= ALPHA


def load_submissions(source: str | Path) -> list[dict[str, Any]]:
    """The submissions of a ``.json``/``.json.gz`` file (validated) or a results store."""
    path = Path(source)
    if not path.exists():
        raise VerifyError(f"{path}: no such file; expected a submission file or a store")
    try:
        if not path.name.endswith((".json", ".json.gz")):
            with Store(path) as store:
                return store.submissions()
        with tempfile.TemporaryDirectory(prefix="coopbench-verify-") as tmp:
            with Store(Path(tmp) / "verify.db") as store:
                import_file(store, path)
                return store.submissions()
    except (StoreError, SubmissionError) as exc:
        raise VerifyError(str(exc)) from None


def describe(doc: dict[str, Any]) -> str:
    """One line naming a submission's run, e.g. ``spread mappo seed 0 (quick, 100000 steps)``."""
    p = doc["protocol"]
    return (
        f"{doc['task']['id']} {doc['algorithm']['name']} seed {doc['seed']} "
        f"({p['tier']}, {p['budget']} steps)"
    )


def _labels(doc: dict[str, Any]) -> list[str]:
    return sorted({p["label"] for p in doc["policies"].values()})


def sample_runs(
    docs: Sequence[dict[str, Any]], runs: int, seed: int = 0, entry: str | None = None
) -> list[dict[str, Any]]:
    """``runs`` submissions drawn without replacement (seeded, independent of file order),
    only of entry label ``entry`` when given. Evaluation-only and external runs
    (``protocol.kind``) were not trained by the harness and are never sampled."""
    pool = sorted((d for d in docs if not d["protocol"].get("kind")), key=lambda d: d["run_key"])
    if entry is not None:
        known = sorted({label for d in pool for label in _labels(d)})
        pool = [d for d in pool if entry in _labels(d)]
        if not pool:
            raise VerifyError(f"unknown entry label {entry!r}; expected one of {known}")
    if not pool:
        raise VerifyError(
            "no finished submissions to verify (evaluation-only and external runs are not re-run)"
        )
    return random.Random(seed).sample(pool, min(runs, len(pool)))


def _environment(doc: dict[str, Any]) -> dict[str, Any]:
    prov = doc.get("provenance") or {}
    env: dict[str, Any] = {f"version {k}": v for k, v in doc["versions"].items()}
    env["coopbench commit"] = doc.get("git_commit")
    env["cpu"] = doc.get("hardware", {}).get("cpu")
    if prov:
        env["dirty tree"] = prov.get("git_dirty")
        env["algorithm source"] = prov.get("algorithm_source_sha256")
        env.update({f"platform {k}": v for k, v in (prov.get("platform") or {}).items()})
    return env


def environment_differences(recorded: dict[str, Any], rerun: dict[str, Any]) -> list[str]:
    """What differs between the environments of two submissions, e.g. ``"version torch:
    2.2.0 → 2.3.1"``. A recorded run without provenance compares versions, commit and CPU."""
    old, new = _environment(recorded), _environment(rerun)
    return [f"{k}: {old[k]} → {new.get(k)}" for k in old if old[k] != new.get(k)]


def _welch_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p of Welch's test of equal means (normal approximation: hundreds of
    episodes per sample). Equal constant samples give 1, unequal ones 0."""
    se = 0.0
    if min(len(a), len(b)) > 1:
        se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    diff = abs(float(a.mean() - b.mean()))
    if se == 0:
        return 1.0 if diff == 0 else 0.0
    return math.erfc(diff / se / math.sqrt(2))


class Comparison(NamedTuple):
    """Two submissions of the same run, compared number for number."""

    identical: bool  # every evaluation and absolute return equal
    max_mean_diff: float  # largest |difference of mean team return| over points (inf: no match)
    p_value: float | None  # smallest p of the final-point/absolute tests (None: shapes differ)
    differing: int  # evaluation points and absolute metrics (over policies) that differ
    points: int  # evaluation points and absolute metrics compared


def compare(recorded: dict[str, Any], rerun: dict[str, Any]) -> Comparison:
    """Compare two submissions of the same run; not comparable (policies or evaluation
    steps differ) gives ``Comparison(False, inf, None, 0, 0)``."""
    old_ev, new_ev = recorded["evaluations"], rerun["evaluations"]
    same_shape = set(old_ev) == set(new_ev) == set(recorded["absolute"]) == set(rerun["absolute"])
    same_shape = same_shape and all(
        [p["step"] for p in old_ev[n]] == [p["step"] for p in new_ev[n]] for n in old_ev
    )
    if not same_shape:
        return Comparison(False, math.inf, None, 0, 0)
    max_diff, p_min, differing, points = 0.0, 1.0, 0, 0
    for name in old_ev:
        evals = zip(old_ev[name], new_ev[name], strict=True)
        pairs = [(a["returns"], b["returns"]) for a, b in evals]
        absolute = (recorded["absolute"][name], rerun["absolute"][name])
        for x, y in (*pairs, absolute):
            x, y = np.asarray(x, float), np.asarray(y, float)
            differing += not (x.shape == y.shape and np.array_equal(x, y))
            points += 1
        for x, y in pairs:
            max_diff = max(max_diff, abs(float(np.mean(x) - np.mean(y))))
        for x, y in (pairs[-1], absolute):
            p_min = min(p_min, _welch_p(np.asarray(x, float), np.asarray(y, float)))
    return Comparison(differing == 0, max_diff, p_min, differing, points)


def verify_runs(
    docs: Sequence[dict[str, Any]],
    runs: int = 3,
    seed: int = 0,
    entry: str | None = None,
    rerun: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> list[VerifyResult]:
    """Re-run ``runs`` sampled submissions (see ``sample_runs``) and compare each with its
    re-run (see the module docstring). ``rerun`` defaults to ``coopbench.harness.rerun``;
    ``progress`` is called with each submission before its re-run. A site can mark an
    entry verified when every ``VerifyResult.matches`` of its runs."""
    if rerun is None:
        from coopbench.harness.repeat import rerun
    from coopbench.harness.repeat import recorded_threads

    results = []
    for doc in sample_runs(docs, runs, seed, entry):
        notes, threads = [], recorded_threads(doc)
        if threads is None:
            notes.append("no thread settings recorded: re-run with 1 thread")
        if not doc.get("provenance"):
            notes.append("no provenance recorded: platform not compared")
        if progress is not None:
            progress(doc)
        new = rerun(doc)
        c = compare(doc, new)
        if c.p_value is None:
            notes.append("policies or evaluation steps differ from the recorded run")
        elif not c.identical:
            notes.append(f"{c.differing} of {c.points} points differ")
        if new["algorithm"]["config_hash"] != doc["algorithm"]["config_hash"]:
            notes.append("the resolved config differs from the recorded one")
        results.append(
            VerifyResult(
                run_key=doc["run_key"],
                task=doc["task"]["id"],
                algorithm=doc["algorithm"]["name"],
                labels=_labels(doc),
                seed=doc["seed"],
                threads=threads or 1,
                identical=c.identical,
                differs=environment_differences(doc, new),
                max_mean_diff=c.max_mean_diff,
                p_value=c.p_value,
                notes=notes,
                wall_time_s=float(new["wall_time_s"]),
            )
        )
    return results


def verdict_text(r: VerifyResult) -> str:
    """The verdict in words: ``bit-identical``, ``consistent``, ``not consistent`` or
    ``differs (expected bit-identical)``."""
    if r.identical:
        return "bit-identical"
    if r.differs:
        return "consistent" if r.matches else "not consistent"
    return "differs (expected bit-identical)"


def verify_table(results: Sequence[VerifyResult]) -> Any:
    """The results as a rich ``Table`` (one row per run)."""
    from rich.table import Table

    table = Table(title="coopbench verify: sampled runs re-run from their submissions")
    for col in ("run", "task", "entry", "seed", "threads", "result", "max |Δ mean|", "p",
                "re-run s", "differs / notes"):  # fmt: skip
        table.add_column(col)
    for r in results:
        colour = "green" if r.identical else "yellow" if r.matches else "red"
        verdict = f"[{colour}]{verdict_text(r)}[/]"
        table.add_row(
            r.run_key[:8],
            r.task,
            ", ".join(r.labels),
            str(r.seed),
            str(r.threads),
            verdict,
            f"{r.max_mean_diff:.4g}",
            "-" if r.p_value is None else f"{r.p_value:.3g}",
            f"{r.wall_time_s:.1f}",
            "; ".join(r.differs + r.notes) or "-",
        )
    return table
