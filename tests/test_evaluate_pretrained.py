"""``coopbench evaluate``: a pre-trained policy scored on the fixed evaluation worlds and
stored as an evaluation-only entry, never ranked with runs trained under the budget."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from coopbench.cli import main
from coopbench.envs import heuristic_policy, make_batched, reference_returns
from coopbench.harness.evaluate import evaluate_policy
from coopbench.harness.protocol import PROTOCOLS
from coopbench.leaderboard import aggregate, render_markdown, write_site
from coopbench.results.store import Store

TASK = "spread"
POLICY = """
import numpy as np
from coopbench.envs import heuristic_policy


class Scripted:
    privileged = True  # reads the global state

    def __init__(self, spec):
        self.act = heuristic_policy(spec.task_id, **spec.kwargs)

    def __call__(self, obs, state):
        return self.act(state)


def load(spec):
    return Scripted(spec)


def both(spec):
    return {"default": Scripted(spec), "idle": lambda obs: np.zeros(obs.shape[:2], dtype=int)}


def wrong_shape(spec):
    return lambda obs: np.zeros(3, dtype=int)


def raises(spec):
    raise RuntimeError("weights file missing")


def not_a_policy(spec):
    return 42
"""


@pytest.fixture(autouse=True)
def _env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COOPBENCH_DB", raising=False)
    (tmp_path / "mypolicy.py").write_text(textwrap.dedent(POLICY))
    monkeypatch.delitem(sys.modules, "mypolicy", raising=False)
    yield
    sys.modules.pop("mypolicy", None)
    while str(tmp_path) in sys.path:  # the cwd the command made importable
        sys.path.remove(str(tmp_path))


def one_line_error(capsys, rc, match):
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert match in err, err


def test_evaluate_scores_on_the_tier_worlds_and_stores_evaluation_only(capsys, tmp_path):
    """The module is found from the current folder (no PYTHONPATH), scored like a trained
    run's final and absolute metrics, stored flagged, shown apart, ranked nowhere."""
    assert main(["evaluate", "--task", TASK, "--policy", "mypolicy:load", "--label", "Mine"]) == 0
    assert "evaluation-only" in capsys.readouterr().out
    with Store(tmp_path / "coopbench.db") as store:
        [doc] = store.submissions()
        board = aggregate(store)
    proto = PROTOCOLS["quick"]
    assert doc["protocol"] == {"kind": "evaluation-only", **proto.as_dict()}
    assert doc["policies"] == {
        "default": {"label": "Mine", "centralised": False, "privileged": True}
    }
    [point] = doc["evaluations"]["default"]
    assert point["step"] == 0 and len(point["returns"]) == proto.eval_episodes
    spec = make_batched(TASK, 1).task
    scripted = heuristic_policy(TASK)

    def policy(obs, state):
        return scripted(state)

    policy.privileged = True
    want = evaluate_policy(policy, spec, proto.eval_episodes, proto.eval_seed)
    np.testing.assert_array_equal(point["returns"], want)
    absolute = evaluate_policy(policy, spec, proto.absolute_episodes, proto.absolute_seed)
    np.testing.assert_array_equal(doc["absolute"]["default"], absolute)
    source = (tmp_path / "mypolicy.py").read_bytes()
    import hashlib

    digest = hashlib.sha256(source).hexdigest()
    assert doc["provenance"]["policy_source_sha256"] == digest
    assert doc["algorithm"]["config"] == {"source_sha256": digest}
    assert not board.entries  # ranked: nothing
    [e] = board.unranked
    ref = reference_returns(TASK)
    assert e.kind == "evaluation-only" and e.display == "Mine" and e.privileged
    assert e.final.point == pytest.approx(
        (want.mean() - ref["random"]) / (ref["heuristic"] - ref["random"])
    )
    assert not np.isfinite(e.auc.point)  # no sample-efficiency number
    text = render_markdown(board)
    assert "## Evaluation-only and external-protocol entries (not ranked)" in text
    row = next(line for line in text.splitlines() if "| Mine |" in line)
    assert "| evaluation-only |" in row and "| - |" in row  # AUC left out


def test_same_file_is_the_same_run_and_an_edit_is_a_new_one(capsys, tmp_path, monkeypatch):
    args = ["evaluate", "--task", TASK, "--policy", "mypolicy:both"]
    assert main(args) == 0
    assert main(args) == 0
    assert "already evaluated" in capsys.readouterr().out
    with (tmp_path / "mypolicy.py").open("a") as fh:
        fh.write("\n# retrained weights\n")
    monkeypatch.delitem(sys.modules, "mypolicy")
    assert main(args) == 0
    with Store(tmp_path / "coopbench.db") as store:
        docs = store.submissions()
    assert len(docs) == 2
    assert docs[0]["algorithm"]["config_hash"] != docs[1]["algorithm"]["config_hash"]
    labels = {p["label"] for p in docs[0]["policies"].values()}
    assert labels == {"mypolicy:both", "mypolicy:both-idle"}


def test_unranked_entry_renames_no_ranked_entry_and_sits_apart_on_the_site(capsys, tmp_path):
    common = ["--task", TASK, "--db", "a.db"]
    assert main(["train", *common, "--algo", "heuristic", "--budget", "20"]) == 0
    assert main(["evaluate", *common, "--policy", "mypolicy:load", "--label", "Heuristic"]) == 0
    with Store(tmp_path / "a.db") as store:
        board = aggregate(store)
        index = write_site(store, tmp_path / "site", downloads=False).read_text()
    assert [e.display for e in board.entries] == ["Heuristic"]  # no "(config ...)" suffix
    assert [e.display for e in board.unranked] == ["Heuristic"]
    assert board.select(None, ["Heuristic"]).unranked
    ranked, unranked = index.split("Evaluation-only and external-protocol entries (not ranked)")
    assert "evaluation-only" not in ranked and "evaluation-only" in unranked
    assert main(["leaderboard", "show", "--db", "a.db", "--suite", "all"]) == 0
    # through marl-eval and back: still evaluation-only; the --budget 20 run matches no tier
    assert (
        main(["leaderboard", "export", "--db", "a.db", "--format", "marl-eval", "--out", "m"]) == 0
    )
    assert main(["leaderboard", "import", "--db", "b.db", "m"]) == 0
    with Store(tmp_path / "b.db") as store:
        back = aggregate(store)
    assert not back.entries
    kinds = {e.kind: e for e in back.unranked}
    assert kinds.keys() == {"evaluation-only", "external"}
    assert kinds["evaluation-only"].final == board.unranked[0].final
    assert kinds["external"].final.point == board.entries[0].final.point


@pytest.mark.parametrize(
    ("path", "match"),
    [
        ("nowhere:load", "cannot import policy module 'nowhere'"),
        ("mypolicy:absent", "has no callable 'absent'"),
        ("mypolicy", "is not 'package.module:function'"),
        ("mypolicy:raises", "mypolicy:raises(spec) raised RuntimeError: weights file missing"),
        ("mypolicy:not_a_policy", "returned int for policy 'default'"),
        ("mypolicy:wrong_shape", "returned actions of shape (3,) on spread; expected (500, 3)"),
    ],
)
def test_bad_policies_are_one_line_errors_and_store_nothing(capsys, tmp_path, path, match):
    rc = main(["evaluate", "--task", TASK, "--policy", path, "--db", "b.db"])
    one_line_error(capsys, rc, match)
    if Path("b.db").exists():
        with Store("b.db") as store:
            assert store.run_keys() == [] and store.unfinished() == []


def test_unknown_task_and_tier_are_one_line(capsys):
    one_line_error(capsys, main(["evaluate", "--task", "chess", "--policy", "m:f"]), "chess")
    rc = main(["evaluate", "--task", TASK, "--policy", "mypolicy:load", "--tier", "huge"])
    one_line_error(capsys, rc, "unknown protocol tier 'huge'")
