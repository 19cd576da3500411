"""``coopbench leaderboard import`` of marl-eval JSON: round trip through our exporter,
external-protocol entries kept apart, BenchMARL's layout, and hostile files refused whole."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from coopbench.cli import main
from coopbench.envs import make_batched
from coopbench.harness.protocol import PROTOCOLS
from coopbench.leaderboard import aggregate, export_marl_eval, render_markdown
from coopbench.leaderboard.suites import suite_board
from coopbench.results.store import Store
from leaderboard_fakes import fake_submission

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COOPBENCH_DB", raising=False)


def one_line_error(capsys, rc, match):
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert match in err, err
    return err


def tier_run(key, task, seed, name, level, continuous=False, policies=None):
    """A fake run under the real quick tier (schedule, episodes, eval seed, task kwargs)."""
    proto = PROTOCOLS["quick"]
    doc = fake_submission(
        run_key=key,
        task=task,
        seed=seed,
        name=name,
        policies=policies,
        continuous=continuous,
        curve=lambda s: level * s / proto.budget + 0.01 * seed,
        absolute_level=level + 0.02 * seed,
        budget=proto.budget,
        eval_interval=proto.eval_interval,
        eval_episodes=proto.eval_episodes,
        absolute_episodes=proto.absolute_episodes,
    )
    doc["protocol"] = proto.as_dict()
    doc["task"]["kwargs"] = dict(make_batched(task, 1, continuous_actions=continuous).task.kwargs)
    return doc


def store_of(path, docs):
    with Store(path) as store:
        store.import_submissions(docs)
    return path


def store_runs(path):
    with Store(path) as store:
        return store.run_summaries()


def by_name(entries):
    return {(e.task, e.continuous, e.tier, e.budget, e.label): e for e in entries}


def test_round_trip_through_our_exporter_lands_ranked_where_it_was(capsys, tmp_path):
    two = {
        "default": {"label": "Two", "centralised": False, "privileged": False},
        "local": {"label": "Two-local", "centralised": False, "privileged": False},
    }
    docs = [tier_run(f"a{s}", "spread", s, "Alpha", 0.6) for s in range(3)]
    docs += [tier_run(f"b{s}", "spread", s, "Two", 0.3, policies=two) for s in range(2)]
    docs += [tier_run(f"c{s}", "pf", s, "Alpha", 0.8, continuous=True) for s in range(2)]
    ours = store_of(tmp_path / "ours.db", docs)
    with Store(ours) as store:
        export_marl_eval(store, tmp_path / "me.json")
    assert main(["leaderboard", "import", "--db", "theirs.db", "me.json"]) == 0
    assert "9 new" in capsys.readouterr().out  # 7 runs, one with two policies: 9 (run, policy)
    assert main(["leaderboard", "import", "--db", "theirs.db", "me.json"]) == 0
    assert "0 new" in capsys.readouterr().out  # idempotent
    with Store(ours) as a, Store(tmp_path / "theirs.db") as b:
        mine, theirs = aggregate(a), aggregate(b)
    assert not theirs.unranked and not theirs.skipped  # the tier matched: ranked
    assert by_name(mine.entries).keys() == by_name(theirs.entries).keys()
    for name, e in by_name(mine.entries).items():
        t = by_name(theirs.entries)[name]
        assert t.seeds == e.seeds and t.protocol == e.protocol and t.kind == ""
        for metric in ("final", "auc", "absolute", "steps"):
            assert sorted(t.scores(metric)) == pytest.approx(sorted(e.scores(metric)), abs=1e-12)
        assert t.final.point == pytest.approx(e.final.point, abs=1e-12)
        np.testing.assert_allclose(t.curve_iqm, e.curve_iqm, atol=1e-12)


def external_doc(budget=1000, interval=200, episodes=4, absolute=8, first=0):
    rng = np.random.default_rng(0)
    run = {
        f"step_{i}": {"step_count": s, "return": rng.normal(-60, 5, episodes).tolist()}
        for i, s in enumerate(range(first, budget + 1, interval))
    }
    run["absolute_metrics"] = {"return": rng.normal(-50, 5, absolute).tolist()}
    return {f"coopbench_quick_{budget}": {"spread": {"Outside": {"seed_3": run}}}}


def test_other_protocols_are_external_and_never_ranked(capsys, tmp_path):
    ranked = [tier_run(f"a{s}", "spread", s, "Outside", 0.5) for s in range(2)]
    db = store_of(tmp_path / "mixed.db", ranked)
    (tmp_path / "ext.json").write_text(json.dumps(external_doc()))
    assert main(["leaderboard", "import", "--db", str(db), "ext.json"]) == 0
    with Store(db) as store:
        board = aggregate(store)
        [meta] = [m for m in store.metas().values() if m["protocol"].get("kind")]
    assert meta["protocol"]["kind"] == "external" and meta["seed"] == 3
    assert meta["protocol"]["budget"] == 1000 and meta["protocol"]["eval_interval"] == 200
    assert [e.label for e in board.entries] == ["Outside"] and len(board.entries[0].runs) == 2
    assert board.entries[0].display == "Outside"  # the external label renames nothing
    [ext] = board.unranked
    assert ext.kind == "external" and ext.budget == 1000 and np.isfinite(ext.auc.point)
    only_external = aggregate(r for r in store_runs(db) if r.meta["protocol"].get("kind"))
    assert only_external.unranked and suite_board(only_external, "all", curves=False) == []
    text = render_markdown(board)
    table, unranked = text.split("## Evaluation-only and external-protocol entries")
    assert "Outside" in table and table.count("| spread |") == 1
    row = "| spread | discrete | external | budget 1,000, 6 evaluations of 4 episodes |"
    assert row in unranked


def benchmarl_doc():
    """What BenchMARL's JsonWriter writes: step_<iteration>, frames as step_count (the first
    evaluation after the first batch), the mean over agents, absolute = [max so far]."""
    run = {"absolute_metrics": {"return": [-10.0], "agents_return": [-10.0]}}
    for it in (0, 5, 10):
        run[f"step_{it}"] = {
            "step_count": 6000 * (it + 1),
            "return": [-20.0 + it, -22.0 + it, -24.0 + it],
            "agents_return": [-20.0, -22.0, -24.0],
        }
    return {"pettingzoo": {"simple_spread": {"mappo": {"seed_1": run}}}}


def test_benchmarl_layout_with_task_map_and_agent_mean_returns(capsys, tmp_path):
    (tmp_path / "bm.json").write_text(json.dumps(benchmarl_doc()))  # other metrics ignored
    rc = main(["leaderboard", "import", "--db", "b.db", "bm.json"])
    one_line_error(capsys, rc, "'simple_spread' is not a coopbench task")
    assert not (tmp_path / "b.db").exists() or not Store(tmp_path / "b.db").run_keys()
    args = ["--task-map", "simple_spread=spread", "--returns", "agent-mean"]
    assert main(["leaderboard", "import", "--db", "b.db", "bm.json", *args]) == 0
    n = make_batched("spread", 1).task.n_agents
    with Store(tmp_path / "b.db") as store:
        [doc] = store.submissions()
        board = aggregate(store)
    assert doc["protocol"]["kind"] == "external" and doc["seed"] == 1
    assert [p["step"] for p in doc["evaluations"]["default"]] == [6000, 36000, 66000]
    assert doc["evaluations"]["default"][0]["returns"] == [-20.0 * n, -22.0 * n, -24.0 * n]
    assert doc["absolute"]["default"] == [-10.0 * n]
    [e] = board.unranked
    assert not board.entries and e.label == "mappo" and not np.isfinite(e.auc.point)
    assert "| - |" in render_markdown(board)  # no AUC: the curve does not start at 0
    one_line_error(capsys, main(["leaderboard", "verify", "b.db"]), "external runs are not re-run")


GOOD = external_doc()


def hostile(edit):
    doc = json.loads(json.dumps(GOOD))
    runs = doc["coopbench_quick_1000"]["spread"]["Outside"]
    runs["seed_4"] = json.loads(json.dumps(runs["seed_3"]))  # a valid run, then the bad one
    edit(runs["seed_4"], doc)
    return json.dumps(doc)


def _set(path, value):
    def edit(run, doc):
        target = run
        for k in path[:-1]:
            target = target[k]
        target[path[-1]] = value

    return edit


HOSTILE = {
    "not an object": ("[1, 2", "malformed JSON"),
    "a list of lists": ("[[1]]", "expected a non-empty JSON object, got list"),
    "returns as text": (hostile(_set(["step_1", "return"], "x")), "step_1/return"),
    "boolean returns": (hostile(_set(["step_1", "return"], [True] * 4)), "step_1/return"),
    "NaN": (hostile(_set(["step_1", "return"], [12345.5] * 4)).replace("12345.5", "NaN"), "NaN"),
    "huge return": (hostile(_set(["step_1", "return"], [1e300] * 4)), "within"),
    "no absolute": (hostile(lambda r, d: r.pop("absolute_metrics")), "absolute_metrics"),
    "step count text": (hostile(_set(["step_2", "step_count"], "9")), "step_count"),
    "decreasing steps": (hostile(_set(["step_2", "step_count"], 1)), "strictly increase"),
    "episodes vary": (hostile(_set(["step_2", "return"], [1.0])), "different numbers"),
    "unknown key": (hostile(_set(["steps"], {})), "expected step_<i>"),
    "a run not an object": (hostile(lambda r, d: r.clear()), "non-empty JSON object"),
    "past its budget": (hostile(_set(["step_5", "step_count"], 5000)), "past the budget"),
    "label too long": (
        json.dumps(
            {
                "coopbench_quick_1000": {
                    "spread": {
                        "x" * 300: {
                            "s": GOOD["coopbench_quick_1000"]["spread"]["Outside"]["seed_3"]
                        }
                    }
                }
            }
        ),
        "submission",
    ),
    "empty algorithms": (json.dumps({"e": {"spread": {}}}), "non-empty JSON object"),
    "unknown task": (
        json.dumps(
            {
                "e": {
                    "chess": {
                        "a": {"r": GOOD["coopbench_quick_1000"]["spread"]["Outside"]["seed_3"]}
                    }
                }
            }
        ),
        "'chess' is not a coopbench task",
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_are_one_line_errors_and_nothing_is_stored(capsys, tmp_path, name):
    text, match = HOSTILE[name]
    (tmp_path / "bad.json").write_text(text)
    rc = main(["leaderboard", "import", "--db", "c.db", "--format", "marl-eval", "bad.json"])
    one_line_error(capsys, rc, match)
    with Store(tmp_path / "c.db") as store:
        assert store.run_keys() == []  # the valid run of the same file was not stored either


def test_bad_task_map_is_one_line(capsys, tmp_path):
    (tmp_path / "ext.json").write_text(json.dumps(external_doc()))
    rc = main(["leaderboard", "import", "--db", "d.db", "ext.json", "--task-map", "nothing"])
    one_line_error(capsys, rc, "--task-map 'nothing' is not NAME=TASK")


@pytest.mark.slow
def test_committed_board_is_unchanged(capsys, tmp_path):
    """``leaderboard show`` on the re-imported committed results is the committed table."""
    files = sorted(str(p) for p in (ROOT / "results" / "standard").glob("*.json.gz"))
    assert files
    assert main(["leaderboard", "import", "--db", "std.db", *files]) == 0
    capsys.readouterr()
    assert main(["leaderboard", "show", "--db", "std.db"]) == 0
    shown = capsys.readouterr().out
    assert shown == (ROOT / "results" / "standard" / "leaderboard.md").read_text()


@pytest.mark.slow
def test_committed_before_after_table_is_unchanged():
    """``results/tuning/before_after.py`` on the committed runs gives the committed table (it
    also fails when the board's preset disagrees with a ``_before`` / ``_trial`` file)."""
    script = ROOT / "results" / "tuning" / "before_after.py"
    made = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    assert made.stdout == (ROOT / "results" / "tuning" / "before_after.md").read_text()
