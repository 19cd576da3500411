"""The thread policy: one torch thread per run unless overridden, restored after, recorded."""

import gzip
import hashlib
import json
import os
from pathlib import Path

import pytest
import torch

from coopbench.harness import run_experiment
from coopbench.harness.protocol import EVAL_SEED, TierProtocol
from coopbench.harness.sweep import Job, run_sweep
from coopbench.harness.threads import THREADS_ENV, resolve_threads, thread_policy
from coopbench.results import Store

ALGO = "tests.fixtures.threads_algo:ThreadsAlgo"
TINY = TierProtocol("quick", budget=200, eval_interval=100, eval_episodes=4, eval_seed=EVAL_SEED)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def two_threads(monkeypatch):
    """torch at two threads and no policy variables set, as a user's session may be."""
    monkeypatch.delenv(THREADS_ENV, raising=False)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.setenv(var, "2")
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(1)


def _learn_threads(result) -> int:
    return int(result.logs[0]["torch_threads"])


def test_learn_runs_under_one_thread_by_default_and_torch_is_restored(two_threads):
    result = run_experiment("spread", ALGO, 0, TINY)
    assert _learn_threads(result) == 1
    assert torch.get_num_threads() == 2
    assert os.environ["OMP_NUM_THREADS"] == "2"
    assert THREADS_ENV not in os.environ
    recorded = result.meta["provenance"]["threads"]
    assert recorded["requested"] == 1 and recorded["torch_intra_op"] == 1
    assert recorded["env"] == dict.fromkeys(
        ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"), "1"
    )


def test_threads_argument_and_environment_override_the_default(two_threads, monkeypatch):
    torch.set_num_threads(1)
    assert _learn_threads(run_experiment("spread", ALGO, 0, TINY, threads=2)) == 2
    monkeypatch.setenv(THREADS_ENV, "3")
    result = run_experiment("spread", ALGO, 0, TINY)
    assert _learn_threads(result) == 3
    assert result.meta["provenance"]["threads"]["torch_intra_op"] == 3
    assert _learn_threads(run_experiment("spread", ALGO, 0, TINY, threads=2)) == 2  # arg wins
    assert torch.get_num_threads() == 1


@pytest.mark.parametrize("bad", [0, -1, "two", 1.5, True])
def test_bad_thread_counts_are_refused_in_one_line(bad, monkeypatch):
    with pytest.raises(ValueError, match=r"threads=.*expected a positive integer"):
        resolve_threads(bad)
    monkeypatch.setenv(THREADS_ENV, str(bad))
    with pytest.raises(ValueError, match=THREADS_ENV):
        resolve_threads()


def test_policy_restores_after_an_error(two_threads):
    with pytest.raises(RuntimeError), thread_policy(3):
        assert torch.get_num_threads() == 3
        raise RuntimeError("boom")
    assert torch.get_num_threads() == 2
    assert os.environ["OMP_NUM_THREADS"] == "2"


def test_submission_records_threads_and_provenance(tmp_path, two_threads):
    with Store(tmp_path / "r.db") as store:
        run_experiment("spread", ALGO, 0, TINY, sink=store, threads=2)
        (doc,) = store.submissions()
    prov = doc["provenance"]
    assert prov["threads"]["requested"] == 2
    assert prov["threads"]["torch_intra_op"] == 2
    assert prov["threads"]["env"]["OMP_NUM_THREADS"] == "2"
    source = (ROOT / "tests" / "fixtures" / "threads_algo.py").read_bytes()
    assert prov["algorithm_source_sha256"] == hashlib.sha256(source).hexdigest()
    assert prov["platform"]["python_version"] == doc["versions"]["python"]
    assert prov["git_commit"] == doc["git_commit"]
    assert isinstance(prov["git_dirty"], bool) == (doc["git_commit"] is not None)


def test_a_source_tree_never_installed_still_stores_its_runs(tmp_path, monkeypatch):
    # no coopbench distribution (PYTHONPATH=src): the run must not train and then fail
    # validation at the end for want of a version string
    from coopbench.harness import metadata

    real = metadata.metadata.version

    def version(package):
        if package == "coopbench":
            raise metadata.metadata.PackageNotFoundError(package)
        return real(package)

    monkeypatch.setattr(metadata.metadata, "version", version)
    monkeypatch.setattr(metadata, "__version__", "0+unknown", raising=False)  # __init__ fallback
    with Store(tmp_path / "r.db") as store:
        run_experiment("spread", "random", 0, TINY, sink=store)
        (doc,) = store.submissions()
    assert doc["coopbench_version"] == doc["provenance"]["coopbench_version"] == "0+unknown"


def test_builtin_records_no_source_hash_and_keeps_its_run_key():
    result = run_experiment("spread", "random", 0, TINY)
    assert result.meta["provenance"]["algorithm_source_sha256"] is None
    # the committed standard-tier results resume: their keys are still the keys of these jobs
    path = ROOT / "results" / "standard" / "mappo_ippo.json.gz"
    if not path.exists():
        pytest.skip("committed results not in this checkout")
    docs = json.loads(gzip.decompress(path.read_bytes()))
    doc = next(d for d in docs if d["algorithm"]["name"] == "mappo" and d["task"]["id"] == "spread")
    kwargs = tuple(sorted(doc["task"]["kwargs"].items()))
    job = Job("spread", "mappo", doc["seed"], "standard", task_kwargs=kwargs)
    assert job.key() == doc["run_key"]


def test_sequential_sweep_runs_under_the_policy_and_restores(tmp_path, two_threads):
    db = str(tmp_path / "s.db")
    run_sweep(["spread"], [ALGO], 2, budget=200, db_path=db, progress=False, threads=2)
    assert torch.get_num_threads() == 2
    with Store(db) as store:
        recorded = [d["provenance"]["threads"] for d in store.submissions()]
    assert [(t["requested"], t["torch_intra_op"]) for t in recorded] == [(2, 2), (2, 2)]


def test_pool_workers_get_the_policy_environment(tmp_path, two_threads, monkeypatch):
    # spawn workers import the fixture algorithm through the parent's sys.path
    monkeypatch.syspath_prepend(str(ROOT))
    db = str(tmp_path / "p.db")
    outcomes = run_sweep(["spread"], [ALGO], 2, budget=200, db_path=db, workers=2, progress=False)
    assert [o["status"] for o in outcomes] == ["done", "done"], outcomes
    with Store(db) as store:
        recorded = [d["provenance"]["threads"] for d in store.submissions()]
    assert len(recorded) == 2
    for t in recorded:
        assert t["torch_intra_op"] == 1
        assert t["env"] == dict.fromkeys(
            ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"), "1"
        )


def test_cli_threads_option_reaches_the_submission(tmp_path, two_threads, capsys):
    from coopbench.cli import main

    db = str(tmp_path / "c.db")
    assert main(["train", "--task", "spread", "--algo", ALGO, "--budget", "200", "--threads",
                 "2", "--db", db]) == 0  # fmt: skip
    with Store(db) as store:
        (doc,) = store.submissions()
    assert doc["provenance"]["threads"]["torch_intra_op"] == 2
    assert torch.get_num_threads() == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--threads", "0"])
    assert exit_info.value.code == 2
    assert "--threads: 0 is invalid; expected a positive integer" in capsys.readouterr().err
