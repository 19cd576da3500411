"""What ``hooks.log`` records and ``steps_taken`` are kept with the run: thinned by a stated
rule, stored, exported and imported unchanged, checked on the way in."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from coopbench.harness.protocol import TierProtocol
from coopbench.harness.run import AlgorithmError, run_experiment
from coopbench.results import SubmissionError
from coopbench.results.diagnostics import MAX_LOG_POINTS, log_rows, thin_logs
from coopbench.results.files import export_file, import_file
from coopbench.results.store import Store
from coopbench.results.submission import content_hash, validate_submission

TINY = TierProtocol("test", budget=200, eval_interval=100, eval_episodes=4, eval_seed=1)


def test_few_records_are_kept_as_logged():
    logs = thin_logs([{"step": 10, "loss": 1.0}, {"step": 20, "loss": 0.5, "ent": 2.0}])
    assert logs == {"step": [10, 20], "metrics": {"loss": [1.0, 0.5], "ent": [None, 2.0]}}
    assert thin_logs([]) is None


def test_many_records_become_group_means_at_the_group_s_last_step():
    n = MAX_LOG_POINTS * 5 + 3
    rng = np.random.default_rng(0)
    loss = rng.normal(size=n)
    records = [{"step": 10 * i, "loss": float(v)} for i, v in enumerate(loss)]
    records[7]["loss"] = math.nan  # left out of its group's mean
    logs = thin_logs(records)
    assert len(logs["step"]) == MAX_LOG_POINTS
    groups = np.array_split(np.arange(n), MAX_LOG_POINTS)
    assert logs["step"] == [10 * int(g[-1]) for g in groups]
    assert 7 in groups[1]  # groups of 6 first, then of 5
    expected = np.mean([loss[i] for i in groups[1] if i != 7])
    assert logs["metrics"]["loss"][1] == pytest.approx(expected)
    assert logs["metrics"]["loss"][-1] == pytest.approx(loss[groups[-1]].mean())


def test_run_keeps_steps_taken_and_logs_through_export_and_import(tmp_path):
    with Store(tmp_path / "a.db") as store:
        result = run_experiment("spread", "tests.fixtures.threads_algo:ThreadsAlgo", 0, TINY,
                                sink=store)  # fmt: skip
        (doc,) = store.submissions()
        out = export_file(store, tmp_path / "runs.json")
    assert doc["steps_taken"] == result.steps_taken == 200
    assert doc["logs"] == thin_logs(result.logs)
    rows = log_rows(doc["logs"])
    assert rows[0] == (0, {"torch_threads": 1.0})  # the fixture logs its threads first
    assert [step for step, _ in rows] == [r["step"] for r in result.logs]
    assert doc == result.submission
    with Store(tmp_path / "b.db") as other:
        assert import_file(other, out) == 1
        (back,) = other.submissions()
    assert back == doc
    assert content_hash(back) == content_hash(doc)


def test_bad_metric_name_fails_the_run_in_one_line():
    from tests.fixtures.mod import Algo

    class BadName(Algo):
        def learn(self, env, hooks):
            hooks.log(**{"loss value": 1.0})

    import tests.fixtures.mod as mod

    mod.BadName = BadName
    try:
        with pytest.raises(AlgorithmError, match=r"metric name 'loss value' is invalid"):
            run_experiment("spread", "tests.fixtures.mod:BadName", 0, TINY)
    finally:
        del mod.BadName


def _doc(tmp_path):
    with Store(tmp_path / "c.db") as store:
        run_experiment("spread", "tests.fixtures.threads_algo:ThreadsAlgo", 0, TINY, sink=store)
        (doc,) = store.submissions()
    return doc


def test_inconsistent_logs_or_steps_are_rejected(tmp_path):
    doc = _doc(tmp_path)
    bad = copy.deepcopy(doc)
    bad["logs"]["metrics"]["torch_threads"].append(1.0)
    with pytest.raises(SubmissionError, match=r"torch_threads has \d+ values, expected one per"):
        validate_submission(bad)
    bad = copy.deepcopy(doc)
    bad["steps_taken"] = 201
    with pytest.raises(SubmissionError, match="steps_taken 201 is past the budget 200"):
        validate_submission(bad)
    bad = copy.deepcopy(doc)
    bad["logs"]["step"][-1] = 500
    with pytest.raises(SubmissionError, match="past the budget"):
        validate_submission(bad)


def test_submission_without_the_fields_stays_valid(tmp_path):
    doc = _doc(tmp_path)
    old = {k: v for k, v in doc.items() if k not in ("logs", "steps_taken")}
    validate_submission(old)
    with Store(tmp_path / "d.db") as store:
        assert store.import_submission(old)
        (back,) = store.submissions()
    assert "logs" not in back and "steps_taken" not in back
