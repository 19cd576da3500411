"""The wandb mirror against the real wandb package, offline (no network, no account).

Each mirrored submission becomes an offline run under ``$WANDB_DIR/wandb/offline-run-*-ID``;
its ``run-ID.wandb`` transaction log is read back with wandb's own reader
(``wandb leet inspect --json``: one JSON record per line) and every logged number is
compared with the leaderboard's.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from coopbench.leaderboard import mirror_to_wandb, run_scores
from coopbench.results.submission import RUN_FIELDS, content_hash
from leaderboard_fakes import fake_submission

wandb = pytest.importorskip("wandb")


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """wandb offline, writing only under ``tmp_path``, with no credentials anywhere."""
    for var in ("WANDB_API_KEY", "WANDB_BASE_URL", "WANDB_ENTITY", "WANDB_PROJECT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    for var in ("WANDB_DIR", "WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(var, str(tmp_path))
    return tmp_path


def _records(directory, doc) -> list[dict]:
    """The records of the offline run mirrored from ``doc``, via ``wandb leet inspect``."""
    run_id = content_hash(doc)[:32]
    (log,) = (directory / "wandb").glob(f"offline-run-*/run-{run_id}.wandb")
    out = subprocess.run(
        [sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(log)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def _history(records) -> dict[int, dict]:
    return {r["history"]["step"]["num"]: r["history"]["item"] for r in records if "history" in r}


def _summary(records) -> dict:
    merged: dict = {}
    for r in records:
        if r["type"] == "summary":
            merged.update(r["summary"]["update"])
    return merged


def _docs() -> list[dict]:
    two_policies = {
        "default": {"label": "algo", "centralised": False, "privileged": False},
        "greedy": {"label": "algo-greedy", "centralised": True, "privileged": False},
    }
    return [
        fake_submission("run-a", curve=lambda step: step / 100, seed=0),
        fake_submission(
            "run-b",
            curve=lambda step: 0.5 - step / 400,
            absolute_level=0.25,
            seed=1,
            policies=two_policies,
            task="pf",
        ),
    ]


def test_offline_runs_hold_the_leaderboard_numbers(offline):
    docs = _docs()
    assert mirror_to_wandb(docs, project="coopbench-test", directory=offline) == len(docs)
    for doc in docs:
        records = _records(offline, doc)
        (run,) = [r["run"] for r in records if r["type"] == "run"]
        assert run["project"] == "coopbench-test" and run["display_name"] == doc["run_key"]
        config = run["config"]["update"]
        assert {k: config[k] for k in doc if k not in RUN_FIELDS} == {
            k: v for k, v in doc.items() if k not in RUN_FIELDS
        }
        history, summary, scores = _history(records), _summary(records), run_scores(doc)
        for policy, evals in doc["evaluations"].items():
            assert sorted(history) == [p["step"] for p in evals]
            for i, point in enumerate(evals):
                row = history[point["step"]]
                assert row[f"{policy}/team_return_mean"] == pytest.approx(
                    np.mean(point["returns"]), rel=1e-12
                )
                assert row[f"{policy}/normalised_score"] == pytest.approx(
                    scores[policy].curve[i], rel=1e-12, abs=1e-12
                )
            s = scores[policy]
            expected = {
                "absolute_team_return_mean": float(np.mean(doc["absolute"][policy])),
                "absolute_normalised": s.absolute,
                "final_normalised": s.final,
                "auc_normalised": s.auc,
            }
            for name, value in expected.items():
                assert summary[f"{policy}/{name}"] == pytest.approx(value, rel=1e-12, abs=1e-12)


def test_mirroring_twice_resumes_the_same_run_id(offline):
    doc = _docs()[0]
    mirror_to_wandb([doc], directory=offline)
    mirror_to_wandb([doc], directory=offline)
    logs = list((offline / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(logs) == 2  # one offline log per mirroring, both of the one run id
    assert {log.name for log in logs} == {f"run-{content_hash(doc)[:32]}.wandb"}


def test_training_logs_and_steps_taken_are_mirrored(offline):
    doc = _docs()[0]
    budget = doc["protocol"]["budget"]
    doc["steps_taken"] = budget
    doc["logs"] = {"step": [1, budget], "metrics": {"loss": [0.5, None], "ent": [1.0, 2.0]}}
    assert mirror_to_wandb([doc], directory=offline) == 1
    records = _records(offline, doc)
    history = _history(records)
    assert history[1]["train/loss"] == 0.5 and history[1]["train/ent"] == 1.0
    assert history[budget]["train/ent"] == 2.0 and "train/loss" not in history[budget]
    assert history[budget]["default/team_return_mean"] == pytest.approx(
        np.mean(doc["evaluations"]["default"][-1]["returns"])
    )
    assert _summary(records)["steps_taken"] == budget
