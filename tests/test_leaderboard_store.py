"""The SQLite results store: round trips, WAL, resumability, idempotence, bad files."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from coopbench.leaderboard import Store, StoreError, SubmissionError
from coopbench.results import store as store_mod
from leaderboard_fakes import fake_meta, fake_submission, level_returns


def _fill(store: Store, key: str, meta: dict, steps=(0, 20, 40, 60, 80, 100)) -> None:
    store.begin_run(key, meta)
    for s in steps:
        store.add_eval(key, "default", s, level_returns("spread", s / 100, 4))


def _rows(path, sql: str, *args):
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, args).fetchall()


def test_round_trip_and_wal(tmp_path):
    path = tmp_path / "r.db"
    meta = fake_meta(seed=3)
    with Store(path) as store:
        assert not store.is_finished("k")
        _fill(store, "k", meta)
        assert not store.is_finished("k")
        assert store.unfinished() == ["k"]
        doc = store.finish_run("k", {"default": level_returns("spread", 1.0, 8)}, 1.5)
        assert store.is_finished("k")
        assert store.submissions() == [doc]
        assert store.unfinished() == []
    expected = fake_submission("k", seed=3, wall_time_s=1.5)
    assert doc == expected
    assert _rows(path, "PRAGMA journal_mode") == [("wal",)]
    assert _rows(path, "PRAGMA application_id") == [(store_mod.APPLICATION_ID,)]
    with Store(path) as again:  # reopening sees the finished run
        assert again.submissions() == [expected]


def test_default_path_env_var(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COOPBENCH_DB", raising=False)
    with Store() as store:
        assert store.path.name == "coopbench.db"
    assert (tmp_path / "coopbench.db").exists()
    monkeypatch.setenv("COOPBENCH_DB", str(tmp_path / "env.db"))
    Store().close()
    assert (tmp_path / "env.db").exists()


def test_begin_run_discards_partial_rows(tmp_path):
    path = tmp_path / "r.db"
    with Store(path) as store:
        _fill(store, "k", fake_meta(), steps=(0, 20, 40))
        _fill(store, "other", fake_meta(seed=1), steps=(0, 20))
        store.begin_run("k", fake_meta())  # resumed after a crash
        assert store.evaluations("k") == {}
        assert len(store.evaluations("other")["default"]) == 2
        _fill(store, "k", fake_meta())
        store.finish_run("k", {"default": level_returns("spread", 1.0, 8)}, 1.0)
        with pytest.raises(StoreError, match="already finished"):
            store.begin_run("k", fake_meta())
    assert _rows(path, "SELECT COUNT(*) FROM evals WHERE run_key = 'k'") == [(6,)]


def test_duplicate_add_eval_never_duplicates(tmp_path):
    path = tmp_path / "r.db"
    with Store(path) as store:
        _fill(store, "k", fake_meta(), steps=(0,))
        store.add_eval("k", "default", 0, level_returns("spread", 0.0, 4))  # identical: no-op
        with pytest.raises(StoreError, match="different evaluation"):
            store.add_eval("k", "default", 0, level_returns("spread", 0.5, 4))
    assert _rows(path, "SELECT COUNT(*) FROM evals") == [(1,)]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("nope", "default", 0, [1.0] * 4), "unknown run"),
        (("k", "ghost", 0, [1.0] * 4), "unknown policy"),
        (("k", "default", 0, [1.0, float("nan"), 1.0, 1.0]), "finite"),
        (("k", "default", 0, [1.0, float("inf"), 1.0, 1.0]), "finite"),
        (("k", "default", 0, [1.0] * 3), "eval_episodes = 4"),
        (("k", "default", -1, [1.0] * 4), "step must be >= 0"),
        (("k", "default", 1.5, [1.0] * 4), "step must be an integer"),
        (("k", "default", 0, ["a"] * 4), "sequence of numbers"),
        (("", "default", 0, [1.0] * 4), "run_key"),
    ],
)
def test_add_eval_bad_input(tmp_path, args, match):
    with Store(tmp_path / "r.db") as store:
        store.begin_run("k", fake_meta())
        with pytest.raises(StoreError, match=match):
            store.add_eval(*args)
        assert store.evaluations("k") == {}


def test_begin_run_validates_meta(tmp_path):
    with Store(tmp_path / "r.db") as store:
        bad = fake_meta()
        bad["seed"] = "zero"
        with pytest.raises(SubmissionError, match="seed"):
            store.begin_run("k", bad)
        assert store.unfinished() == []


def test_finish_run_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "r.db"
    with Store(path) as store:
        _fill(store, "k", fake_meta(), steps=(20, 40))  # no step-0 evaluation
        with pytest.raises(SubmissionError, match="start at step 0"):
            store.finish_run("k", {"default": level_returns("spread", 1.0, 8)}, 1.0)
        assert not store.is_finished("k")
        store.add_eval("k", "default", 0, level_returns("spread", 0.0, 4))
        with pytest.raises(SubmissionError, match="absolute_episodes"):
            store.finish_run("k", {"default": [1.0]}, 1.0)

        def boom(*a, **k):
            raise RuntimeError("crash while finishing")

        monkeypatch.setattr(store_mod, "content_hash", boom)
        with pytest.raises(RuntimeError):
            store.finish_run("k", {"default": level_returns("spread", 1.0, 8)}, 1.0)
        monkeypatch.undo()
        assert not store.is_finished("k") and store.submissions() == []
        store.finish_run("k", {"default": level_returns("spread", 1.0, 8)}, 1.0)
        with pytest.raises(StoreError, match="already finished"):
            store.finish_run("k", {"default": level_returns("spread", 1.0, 8)}, 1.0)
        with pytest.raises(StoreError, match="already finished"):
            store.add_eval("k", "default", 60, level_returns("spread", 0.0, 4))
    assert _rows(path, "SELECT finished FROM runs") == [(1,)]


def test_import_twice_is_idempotent(tmp_path):
    doc = fake_submission("k")
    with Store(tmp_path / "r.db") as store:
        _fill(store, "k", fake_meta(), steps=(0,))  # an unfinished run of the same key
        assert store.import_submission(doc) is True
        assert store.import_submission(json.loads(json.dumps(doc))) is False
        assert store.submissions() == [doc]
        assert len(store.evaluations("k")["default"]) == 6
        changed = fake_submission("k", wall_time_s=99.0)
        with pytest.raises(StoreError, match="different content"):
            store.import_submission(changed)
        assert store.submissions() == [doc]


def test_import_is_all_or_nothing(tmp_path, monkeypatch):
    docs = [fake_submission(f"k{i}", seed=i) for i in range(3)]
    with Store(tmp_path / "r.db") as store:
        real = Store._write_finished
        calls = []

        def flaky(self, conn, doc, digest):
            calls.append(doc["run_key"])
            if len(calls) == 2:
                raise KeyboardInterrupt("killed mid-import")
            real(self, conn, doc, digest)

        monkeypatch.setattr(Store, "_write_finished", flaky)
        with pytest.raises(KeyboardInterrupt):
            store.import_submissions(docs)
        assert store.submissions() == [] and store.unfinished() == []
        monkeypatch.undo()
        bad = [*docs[:2], {**docs[2], "seed": -1}]
        with pytest.raises(SubmissionError, match="seed"):
            store.import_submissions(bad)
        assert store.submissions() == []
        assert store.import_submissions(docs) == 3
        assert store.import_submissions(docs) == 0


def test_corrupt_file(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(StoreError, match=r"junk\.db: not a SQLite database"):
        Store(path)


def test_damaged_sqlite_pages(tmp_path):
    path = tmp_path / "bad.db"
    with Store(path) as store:
        store.import_submissions([fake_submission(f"k{i}", seed=i) for i in range(20)])
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = bytearray(path.read_bytes())
    raw[100:] = os.urandom(len(raw) - 100)  # keep the 100-byte header, trash every page
    path.write_bytes(bytes(raw))
    with pytest.raises(StoreError, match=r"bad\.db: .*(corrupt|malformed|not a database)"):
        with Store(path) as store:
            store.submissions()


def test_foreign_sqlite_file(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    before = path.read_bytes()
    with pytest.raises(StoreError, match=r"not a coopbench results store.*customers"):
        Store(path)
    assert path.read_bytes() == before  # untouched, not converted to WAL


def test_newer_store_layout(tmp_path):
    path = tmp_path / "new.db"
    Store(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer coopbench"):
        Store(path)


def test_directory_and_locked(tmp_path):
    with pytest.raises(StoreError, match="is a directory"):
        Store(tmp_path)
    path = tmp_path / "r.db"
    Store(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with Store(path, timeout=0.2) as store, pytest.raises(StoreError, match="locked"):
            store.begin_run("k", fake_meta())
    finally:
        holder.execute("ROLLBACK")
        holder.close()


_WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from leaderboard_fakes import fake_meta, level_returns
    from coopbench.leaderboard import Store
    wid = int(sys.argv[1])
    with Store({db!r}) as store:
        for r in range(3):
            key = f"w{{wid}}-r{{r}}"
            store.begin_run(key, fake_meta(seed=wid * 10 + r))
            for s in range(0, 101, 20):
                store.add_eval(key, "default", s, level_returns("spread", s / 100, 4))
            store.finish_run(key, {{"default": level_returns("spread", 1.0, 8)}}, 1.0)
    """
)


def test_a_store_created_by_another_process_midway_through_opening_is_not_foreign(
    tmp_path, monkeypatch
):
    """Opening a new file while another process creates the store in it: the id, version and
    tables are read in one transaction, so the opener never sees the tables without the id
    (it used to call the file "a foreign SQLite database", a flaky concurrent-writers test)."""
    import threading

    from coopbench.results import store as store_module

    db = str(tmp_path / "new.db")
    connect, started = sqlite3.connect, []

    class Interleaved(sqlite3.Connection):
        def execute(self, sql, *args):  # the other process initialises after the first read
            out = super().execute(sql, *args)
            if sql == "PRAGMA application_id" and not started:
                other = threading.Thread(target=lambda: Store(db).close())
                started.append(other)
                other.start()
                other.join(timeout=1.0)  # done at once unless this read holds the file
            return out

    def first_interleaved(*args, **kw):
        return connect(*args, **kw, **({} if started else {"factory": Interleaved}))

    monkeypatch.setattr(store_module.sqlite3, "connect", first_interleaved)
    with Store(db) as store:
        assert store.metas() == {}
    started[0].join(timeout=30)
    assert not started[0].is_alive()


def test_concurrent_writers(tmp_path):
    db = str(tmp_path / "shared.db")
    script = _WRITER.format(tests=os.path.dirname(__file__), db=db)
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(w)], stderr=subprocess.PIPE)
        for w in range(3)
    ]
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    with Store(db) as store:
        subs = store.submissions()
    assert sorted(s["run_key"] for s in subs) == [f"w{w}-r{r}" for w in range(3) for r in range(3)]
    assert _rows(db, "SELECT COUNT(*) FROM evals") == [(9 * 6,)]


_KILLED = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from leaderboard_fakes import fake_meta, level_returns
    from coopbench.leaderboard import Store
    with Store({db!r}) as store:
        store.begin_run("k", fake_meta(budget=10**9, eval_interval=1))
        print("ready", flush=True)
        for s in range(10**9):
            store.add_eval("k", "default", s, level_returns("spread", 0.5, 4))
    """
)


def test_kill_9_mid_write_loses_nothing_committed(tmp_path):
    db = str(tmp_path / "killed.db")
    script = _KILLED.format(tests=os.path.dirname(__file__), db=db)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"ready"
    time.sleep(0.5)  # a few hundred commits in, then kill -9 mid-stream
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert _rows(db, "PRAGMA integrity_check") == [("ok",)]
    with Store(db) as store:
        steps = [p["step"] for p in store.evaluations("k")["default"]]
        assert steps and steps == list(range(len(steps)))  # a gap-free prefix
        assert store.unfinished() == ["k"] and not store.is_finished("k")
        store.begin_run("k", fake_meta())  # the resumed run starts clean
        assert store.evaluations("k") == {}
