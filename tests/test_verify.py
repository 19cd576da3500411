"""``coopbench leaderboard verify``: re-run sampled submissions and compare them."""

from __future__ import annotations

import copy
import gzip
import json

import pytest

from coopbench.cli import main
from coopbench.harness import run_experiment
from coopbench.harness.protocol import EVAL_SEED, TierProtocol
from coopbench.harness.repeat import recorded_protocol
from coopbench.leaderboard.verify import (
    VerifyError,
    compare,
    load_submissions,
    sample_runs,
    verify_runs,
)
from coopbench.results import Store, export_file

TINY = TierProtocol("quick", budget=200, eval_interval=100, eval_episodes=8, eval_seed=EVAL_SEED)
USER = "tests.fixtures.mod:Algo"


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    """A store with two cheap runs: ``random`` (built-in) and a user algorithm."""
    path = tmp_path_factory.mktemp("verify") / "runs.db"
    with Store(path) as store:
        run_experiment("spread", "random", 3, TINY, sink=store)
        run_experiment("spread", USER, 1, TINY, sink=store, threads=2)
    return path


@pytest.fixture(scope="module")
def docs(store_path):
    with Store(store_path) as store:
        return store.submissions()


def _tamper(doc: dict) -> dict:
    """A copy of ``doc`` with one evaluation return edited (the submission-format detail)."""
    doc = copy.deepcopy(doc)
    policy = next(iter(doc["evaluations"]))
    doc["evaluations"][policy][-1]["returns"][0] += 0.5
    return doc


def _write(tmp_path, docs, name="runs.json") -> str:
    path = tmp_path / name
    text = json.dumps(docs).encode()
    path.write_bytes(gzip.compress(text) if name.endswith(".gz") else text)
    return str(path)


def test_untouched_runs_are_bit_identical_from_a_file_and_a_store(tmp_path, store_path, docs):
    with Store(store_path) as store:
        path = export_file(store, tmp_path / "runs.json.gz")
    results = verify_runs(load_submissions(path), runs=5)
    assert sorted(r.algorithm for r in results) == ["fixture-bandit", "random"]
    for r in results:
        assert r.identical and r.matches and r.differs == [] and r.notes == []
        assert r.expectation == "bit-identical" and r.max_mean_diff == 0
    assert {r.algorithm: r.threads for r in results} == {"fixture-bandit": 2, "random": 1}
    assert main(["leaderboard", "verify", str(store_path), "--runs", "1"]) == 0


def test_a_tampered_return_is_reported_not_matching(tmp_path, docs, capsys):
    tampered = [_tamper(d) if d["algorithm"]["name"] == "random" else d for d in docs]
    (result,) = verify_runs(tampered, runs=1, entry="Random")
    assert not result.identical and not result.matches
    assert result.expectation == "bit-identical"
    assert result.max_mean_diff == pytest.approx(0.5 / TINY.eval_episodes)
    assert result.notes == ["1 of 4 points differ"]  # 3 evaluation points + absolute
    path = _write(tmp_path, tampered)
    assert main(["leaderboard", "verify", path, "--runs", "2"]) == 1
    out = capsys.readouterr().out
    assert "1 of 2 sampled run(s) match" in out
    assert "re-running spread random seed 3 (quick, 200 steps)" in out


def test_other_environment_is_compared_statistically(docs):
    (doc,) = [d for d in docs if d["algorithm"]["name"] == "random"]
    older = copy.deepcopy(doc)
    older["versions"]["torch"] = "0.0.1"
    (result,) = verify_runs([older], runs=1)
    assert result.identical and result.matches  # identical numbers match whatever differs
    assert result.differs == ["version torch: 0.0.1 → " + doc["versions"]["torch"]]
    assert result.expectation == "statistical"

    shifted = copy.deepcopy(older)
    for point in shifted["evaluations"]["default"]:
        point["returns"] = [r + 500.0 for r in point["returns"]]
    (result,) = verify_runs([shifted], runs=1)
    assert not result.identical and not result.matches
    assert result.p_value < 1e-6 and result.max_mean_diff == pytest.approx(500.0)

    nudged = _tamper(older)  # a tiny change is within the noise of another platform
    (result,) = verify_runs([nudged], runs=1)
    assert not result.identical and result.matches and result.p_value > 0.5


def test_missing_provenance_assumes_one_thread_and_says_so(docs):
    (doc,) = [d for d in docs if d["algorithm"]["name"] == "random"]
    old = {k: v for k, v in doc.items() if k != "provenance"}
    (result,) = verify_runs([old], runs=1)
    assert result.identical and result.threads == 1
    assert any("1 thread" in n for n in result.notes)
    assert any("provenance" in n for n in result.notes)


def test_a_config_that_no_longer_resolves_the_same_is_noted(docs):
    (doc,) = [d for d in docs if d["algorithm"]["name"] == "fixture-bandit"]
    edited = copy.deepcopy(doc)
    edited["algorithm"]["config_hash"] = "0" * 64
    (result,) = verify_runs([edited], runs=1)
    assert result.identical
    assert result.notes == ["the resolved config differs from the recorded one"]


def test_structure_mismatch_is_not_a_match(docs):
    doc = docs[0]
    other = copy.deepcopy(doc)
    other["evaluations"]["default"] = other["evaluations"]["default"][:-1]
    assert compare(doc, other) == (False, float("inf"), None, 0, 0)


def test_sample_is_seeded_and_filtered_by_entry(docs):
    shuffled = list(reversed(docs))
    assert sample_runs(docs, 1, seed=5) == sample_runs(shuffled, 1, seed=5)
    assert len(sample_runs(docs, 10)) == len(docs)
    (only,) = sample_runs(docs, 10, entry="Random")
    assert only["algorithm"]["name"] == "random"
    with pytest.raises(VerifyError, match=r"unknown entry label 'PPO'.*Random"):
        sample_runs(docs, 1, entry="PPO")


def test_recorded_protocol_round_trips(docs):
    assert recorded_protocol(docs[0]) == TINY


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: str(tmp / "missing.json"), "no such file"),
        (lambda tmp: _corrupt(tmp / "bad.json", b"{not json"), "bad.json"),
        (lambda tmp: _corrupt(tmp / "bad.json.gz", b"\x1f\x8b truncated"), "bad.json.gz"),
        (lambda tmp: _corrupt(tmp / "bad.db", b"not a database" * 100), "bad.db"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, make, message):
    assert main(["leaderboard", "verify", make(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_unknown_entry_is_exit_2(store_path, capsys):
    assert main(["leaderboard", "verify", str(store_path), "--entry", "Nope"]) == 2
    assert "unknown entry label 'Nope'" in capsys.readouterr().err


def _corrupt(path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def test_verify_of_a_store_records_verdicts_that_the_site_marks(tmp_path, docs):
    """A store's verdicts are kept (``Store.verifications``) and shown on the site's tables:
    ``verified 1/1`` for the untouched run, ``verification FAILED`` for the tampered one."""
    from coopbench.leaderboard import write_site

    random_docs = [d for d in docs if d["algorithm"]["name"] == "random"]
    for name, chosen, code, mark in (
        ("good.db", random_docs, 0, "verified 1/1"),
        ("bad.db", [_tamper(d) for d in random_docs], 1, "verification FAILED 1/1"),
    ):
        path = tmp_path / name
        with Store(path) as store:
            store.import_submissions(chosen)
        assert main(["leaderboard", "verify", str(path), "--runs", "1"]) == code
        with Store(path) as store:
            (verdict,) = store.verifications().values()
            assert verdict["matches"] is (code == 0)
            index = write_site(store, tmp_path / f"site-{name}", downloads=False)
        task_page = next((index.parent / "tasks").glob("*.html")).read_text()
        assert mark in task_page
        assert not list((index.parent / "entries").glob("*.json.gz"))
