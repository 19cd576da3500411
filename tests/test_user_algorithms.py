"""A user's algorithm module as a new user runs it: found in the current directory without
``PYTHONPATH``, a clear hint when it cannot be found, and an edited module is a new run."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coopbench.algorithms.registry import add_search_path, get_algorithm
from coopbench.harness.metadata import algorithm_source_sha256, run_key, run_metadata
from coopbench.harness.run import prepare_run
from coopbench.results.store import Store

ROOT = Path(__file__).resolve().parents[1]
EXE = shutil.which("coopbench")
CMD = [EXE] if EXE else [sys.executable, "-m", "coopbench.cli"]
# a user's module: the fixture bandit under a new name (its own file is what gets hashed)
SOURCE = 'from tests.fixtures.mod import Algo\n\n\nclass MyAlgo(Algo):\n    name = "myalgo"\n'


@pytest.fixture
def isolated_path(monkeypatch):
    """``sys.path`` restored after the test (the registry extends it), the test's modules
    forgotten."""
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", os.curdir)])
    yield
    for name in [m for m in sys.modules if m.startswith("user_algo_")]:
        del sys.modules[name]


def _write(folder: Path, name: str, text: str = SOURCE) -> Path:
    path = folder / f"{name}.py"
    path.write_text(text)
    return path


def test_module_in_the_current_directory_is_found(tmp_path, monkeypatch, isolated_path):
    _write(tmp_path, "user_algo_cwd")
    monkeypatch.chdir(tmp_path)
    cls = get_algorithm("user_algo_cwd:MyAlgo")
    assert cls.name == "myalgo"
    assert Path(sys.modules["user_algo_cwd"].__file__).parent == tmp_path


def test_search_path_added_once_and_last(tmp_path, isolated_path):
    before = list(sys.path)
    add_search_path(tmp_path)
    add_search_path(str(tmp_path) + os.sep)
    assert sys.path == [*before, str(tmp_path)]


def test_missing_module_names_the_folder_and_the_fixes(tmp_path, monkeypatch, isolated_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError) as err:
        get_algorithm("no_such_user_algo:MyAlgo")
    text = str(err.value)
    assert "\n" not in text
    assert "'no_such_user_algo'" in text
    assert str(tmp_path) in text  # the current directory was searched
    assert "no_such_user_algo.py" in text
    assert "PYTHONPATH=" in text and "pip install -e" in text


def _key(algo: str) -> str:
    cls, config, protocol, spec = prepare_run("spread", algo, 0, "quick", budget=200)
    return run_key(run_metadata(spec, algo, cls, config, 0, protocol))


def test_edited_module_is_a_new_run_key(tmp_path, monkeypatch, isolated_path):
    path = _write(tmp_path, "user_algo_edit")
    monkeypatch.chdir(tmp_path)
    first = _key("user_algo_edit:MyAlgo")
    assert _key("user_algo_edit:MyAlgo") == first  # same file: same key
    cls = get_algorithm("user_algo_edit:MyAlgo")
    assert algorithm_source_sha256(cls) == hashlib.sha256(path.read_bytes()).hexdigest()
    path.write_text(SOURCE + "# tuned the exploration\n")
    assert _key("user_algo_edit:MyAlgo") != first


def test_coopbench_classes_have_no_source_hash():
    assert algorithm_source_sha256(get_algorithm("mappo")) is None
    assert algorithm_source_sha256(get_algorithm("coopbench.baselines.mappo:MAPPO")) is None
    assert _key("coopbench.baselines.mappo:MAPPO") == _key("mappo")


def _train(folder: Path, db: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COOPBENCH_DB": ""}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])  # not folder
    argv = ["train", "--task", "spread", "--algo", "myalgo:MyAlgo", "--budget", "100"]
    return subprocess.run(
        [*CMD, *argv, "--db", str(db)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_console_script_finds_the_module_and_reruns_it_after_an_edit(tmp_path):
    user = tmp_path / "project"
    user.mkdir()
    path = _write(user, "myalgo")
    db = tmp_path / "runs.db"
    first = _train(user, db)
    assert first.returncode == 0, first.stderr
    again = _train(user, db)
    assert "already finished" in again.stdout
    path.write_text(SOURCE + "# edited\n")
    edited = _train(user, db)
    assert edited.returncode == 0, edited.stderr
    assert "already finished" not in edited.stdout
    with Store(db) as store:
        docs = store.submissions()
    hashes = {d["provenance"]["algorithm_source_sha256"] for d in docs}
    assert len(docs) == 2
    assert hashes == {
        hashlib.sha256(SOURCE.encode()).hexdigest(),
        hashlib.sha256(path.read_bytes()).hexdigest(),
    }


def test_sweep_job_resolves_the_module_from_the_folder_it_was_planned_in(
    tmp_path, monkeypatch, isolated_path
):
    from coopbench.harness.sweep import Job

    _write(tmp_path, "user_algo_job")
    monkeypatch.chdir(tmp_path)
    job = Job("spread", "user_algo_job:MyAlgo", 0, "quick", budget=200)
    elsewhere = tmp_path / "worker"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # a Ray worker's working directory
    assert job.key() == _key_in(tmp_path, monkeypatch)


def _key_in(folder: Path, monkeypatch) -> str:
    monkeypatch.chdir(folder)
    return _key("user_algo_job:MyAlgo")
