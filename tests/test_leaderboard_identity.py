"""Entry identity: which runs pool into one entry and how colliding labels are shown."""

from __future__ import annotations

import hashlib
import json

import pytest

from coopbench.leaderboard import Store, aggregate, render_markdown
from leaderboard_fakes import fake_submission


def _run(key, seed=0, config=None, path=None, eval_seed=None, label="MAPPO", level=0.5):
    doc = fake_submission(key, seed=seed, curve=lambda s: level * s / 100, name=label)
    if config is not None:
        doc["algorithm"]["config"] = config
        text = json.dumps(config, sort_keys=True).encode()
        doc["algorithm"]["config_hash"] = hashlib.sha256(text).hexdigest()[:16]
    if path is not None:
        doc["algorithm"]["path"] = path
    if eval_seed is not None:
        doc["protocol"]["eval_seed"] = eval_seed
    return doc


def test_same_label_two_configs_are_two_readable_entries():
    a = {"lr": 0.0003, "hidden": [64, 64], "epochs": 10}
    b = {"lr": 0.001, "hidden": [64, 64], "epochs": 10}
    runs = [_run(f"a{s}", s, a, level=0.2) for s in range(3)]
    runs += [_run(f"b{s}", s, b, level=0.8) for s in range(3)]
    board = aggregate(runs, reps=100)
    shown = {e.display: e for e in board.entries}
    assert set(shown) == {"MAPPO (lr=0.0003)", "MAPPO (lr=0.001)"}
    assert {e.label for e in board.entries} == {"MAPPO"}
    assert shown["MAPPO (lr=0.0003)"].final.point == pytest.approx(0.2)
    assert shown["MAPPO (lr=0.001)"].final.point == pytest.approx(0.8)
    assert {len(e.runs) for e in board.entries} == {3}
    assert not any(e.foreign for e in board.entries)
    text = render_markdown(board)
    assert "MAPPO \\(lr=0.0003\\)" in text and "MAPPO \\(lr=0.001\\)" in text
    # select matches the raw label (both entries) or one display name.
    assert len(board.select(labels=["MAPPO"]).entries) == 2
    assert [e.display for e in board.select(labels=["MAPPO (lr=0.001)"]).entries] == [
        "MAPPO (lr=0.001)"
    ]


def test_at_most_three_differing_keys_are_named():
    a = {f"k{i}": i for i in range(5)}
    b = {f"k{i}": i + 1 for i in range(5)}
    board = aggregate([_run("a", 0, a), _run("b", 0, b)], reps=50)
    assert {e.display for e in board.entries} == {
        "MAPPO (k0=0, k1=1, k2=2, ...)",
        "MAPPO (k0=1, k1=2, k2=3, ...)",
    }


def test_label_of_another_algorithm_is_separate_and_marked():
    ours = [_run(f"ours{s}", s, path="coopbench.algorithms.mappo:MAPPO") for s in range(2)]
    theirs = [_run(f"theirs{s}", s, path="mypkg.algos:MAPPO", level=0.9) for s in range(3)]
    board = aggregate(ours + theirs, reps=50)
    by_path = {e.algorithm_path: e for e in board.entries}
    assert set(by_path) == {"coopbench.algorithms.mappo:MAPPO", "mypkg.algos:MAPPO"}
    mine, other = by_path["coopbench.algorithms.mappo:MAPPO"], by_path["mypkg.algos:MAPPO"]
    assert (mine.display, mine.foreign, len(mine.runs)) == ("MAPPO", False, 2)
    assert other.foreign and other.display == "MAPPO [other: mypkg.algos:MAPPO]"
    assert len(other.runs) == 3
    assert "MAPPO \\[other: mypkg.algos:MAPPO\\]" in render_markdown(board)


def test_identical_config_and_path_pool():
    board = aggregate([_run(f"r{s}", s, {"lr": 0.001}) for s in range(4)], reps=50)
    (e,) = board.entries
    assert (e.display, e.label, len(e.runs), e.foreign) == ("MAPPO", "MAPPO", 4, False)
    assert e.protocol == {
        "tier": "quick",
        "budget": 100,
        "eval_interval": 20,
        "eval_episodes": 4,
        "eval_seed": 1234,
    }
    assert (e.task_version, e.task_kwargs) == (1, {"continuous_actions": False})
    assert e.algorithm_path == "tests.fake:MAPPO" and e.config_hash == e.config_hashes[0]


def test_different_eval_seed_is_apart():
    board = aggregate([_run("a", 0), _run("b", 1, eval_seed=99)], reps=50)
    assert sorted(e.display for e in board.entries) == [
        "MAPPO (eval_seed=1234)",
        "MAPPO (eval_seed=99)",
    ]
    assert [len(e.runs) for e in board.entries] == [1, 1]


def test_store_and_documents_give_the_same_board(tmp_path):
    runs = [_run(f"a{s}", s, {"lr": 0.1}, level=0.3 + s / 10) for s in range(3)]
    runs += [_run("x", 0, path="mypkg:X")]
    with Store(tmp_path / "s.db") as store:
        store.import_submissions(runs)
        from_store = aggregate(store, reps=100)
    from_docs = aggregate(runs, reps=100)
    assert render_markdown(from_store) == render_markdown(from_docs)
    for a, b in zip(from_store.entries, from_docs.entries, strict=True):
        assert (a.display, a.final, a.auc, a.absolute) == (b.display, b.final, b.auc, b.absolute)


def test_every_committed_run_keeps_its_identity_under_todays_code():
    """A config field added after a run was made must leave that run's recorded config (hence
    its config hash and run key) as it was, or ``coopbench bench`` with the same settings no
    longer finds the committed run and the board splits one config into two entries: fields
    added later are declared ``omit_at_default`` (``harness.config.config_dict``)."""
    import gzip
    from pathlib import Path

    from coopbench.algorithms.registry import get_algorithm
    from coopbench.harness.config import config_dict

    root = Path(__file__).resolve().parents[1] / "results"
    changed = set()
    for file in sorted(root.rglob("*.json.gz")):
        for sub in json.loads(gzip.decompress(file.read_bytes())):
            algo = sub["algorithm"]
            cls = get_algorithm(algo["path"])
            values = {k: tuple(v) if isinstance(v, list) else v for k, v in algo["config"].items()}
            today = config_dict(cls.Config(**values))
            if today != algo["config"]:
                diff = sorted(set(today) ^ set(algo["config"]))
                changed.add((file.name, algo["name"], tuple(diff)))
    assert not changed, f"recorded configs that today's code records differently: {changed}"
