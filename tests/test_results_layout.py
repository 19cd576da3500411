"""Store layout 2 and submission schema 2: compact arrays that lose nothing, the upgrade from
layout-1 stores, schema-1 files still importing, one content hash whatever the form."""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from coopbench.leaderboard import (
    Store,
    StoreError,
    SubmissionError,
    aggregate,
    export_file,
    import_file,
)
from coopbench.results import arrays, layout
from coopbench.results.submission import content_hash, decode_submission, encode_submission
from leaderboard_fakes import fake_meta, fake_submission

FIXTURE = Path(__file__).parent / "fixtures" / "submission_v1.json.gz"
# The layout-1 DDL exactly as coopbench wrote it before layout 2 (do not edit: it is history).
LAYOUT_1 = """
CREATE TABLE runs (
    run_key      TEXT PRIMARY KEY,
    meta         TEXT NOT NULL,
    finished     INTEGER NOT NULL DEFAULT 0 CHECK (finished IN (0, 1)),
    submission   TEXT,
    content_hash TEXT,
    updated_at   TEXT NOT NULL
);
CREATE TABLE evals (
    run_key TEXT NOT NULL REFERENCES runs(run_key) ON DELETE CASCADE,
    policy  TEXT NOT NULL,
    step    INTEGER NOT NULL,
    returns TEXT NOT NULL,
    PRIMARY KEY (run_key, policy, step)
) WITHOUT ROWID;
"""


def _awkward(n: int, seed: int) -> list[float]:
    """Returns that need float64 (thirds), tiny and huge magnitudes, and negative zero."""
    rng = np.random.default_rng(seed)
    values = (rng.normal(size=n) / 3.0).tolist()
    values[:3] = [-0.0, 1e-300, 9.99e11]
    return values


def _write_layout_1(path: Path, finished: list[dict], partial: dict) -> None:
    """A layout-1 store written with the old code's SQL and JSON encoding."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(LAYOUT_1)
    conn.execute("PRAGMA application_id = 1131376496")
    conn.execute("PRAGMA user_version = 1")
    for doc in finished:
        meta = {
            k: v
            for k, v in doc.items()
            if k not in {"schema_version", "run_key", "evaluations", "absolute", "wall_time_s"}
        }
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
        conn.execute(
            "INSERT INTO runs VALUES (?, ?, 1, ?, ?, '2026-01-01T00:00:00+00:00')",
            (doc["run_key"], json.dumps(meta, sort_keys=True), text, "old-hash"),
        )
        for policy, points in doc["evaluations"].items():
            for p in points:
                conn.execute(
                    "INSERT INTO evals VALUES (?, ?, ?, ?)",
                    (doc["run_key"], policy, p["step"], json.dumps(p["returns"])),
                )
    conn.execute(
        "INSERT INTO runs (run_key, meta, finished, updated_at) VALUES (?, ?, 0, 'x')",
        (partial["key"], json.dumps(partial["meta"])),
    )
    conn.execute(
        "INSERT INTO evals VALUES (?, 'default', 0, ?)",
        (partial["key"], json.dumps(partial["returns"])),
    )
    conn.close()


def _doc(key: str, seed: int) -> dict:
    doc = fake_submission(key, seed=seed)
    for i, p in enumerate(doc["evaluations"]["default"]):
        p["returns"] = _awkward(4, seed * 100 + i)
    doc["absolute"]["default"] = _awkward(8, seed * 100 + 99)
    return doc


def test_upgrade_from_layout_1_is_bit_identical(tmp_path):
    path = tmp_path / "old.db"
    docs = [_doc(f"k{i}", i) for i in range(3)]
    partial = {"key": "half", "meta": fake_meta(seed=9), "returns": _awkward(4, 7)}
    _write_layout_1(path, docs, partial)
    with Store(path) as store:  # opening upgrades
        assert store.submissions() == docs  # every return bit-identical (== on floats)
        for got, want in zip(store.submissions(), docs, strict=True):
            for a, b in zip(got["absolute"]["default"], want["absolute"]["default"], strict=True):
                assert np.float64(a).tobytes() == np.float64(b).tobytes()  # -0.0 kept
        assert store.unfinished() == ["half"]
        assert store.evaluations("half") == {
            "default": [{"step": 0, "returns": partial["returns"]}]
        }
        assert store.import_submissions(docs) == 0  # same content hash as a fresh import
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (layout.VERSION,)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {*layout.TABLES, "verifications", "training"}


def test_failed_upgrade_leaves_the_old_store(tmp_path):
    path = tmp_path / "old.db"
    doc = _doc("k0", 0)
    _write_layout_1(path, [doc], {"key": "p", "meta": fake_meta(), "returns": [1.0] * 4})
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE evals SET returns = '[1.0, \"x\"]' WHERE run_key = 'p'")
    before = path.read_bytes()
    with pytest.raises(StoreError, match=r"cannot upgrade from layout 1.*expected a number"):
        Store(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM runs").fetchone() == (2,)
    assert len(path.read_bytes()) == len(before)


def test_arrays_lose_nothing_and_use_float32_when_exact():
    exact = np.array([0.5, -3.25, 1024.0, 0.0])
    assert arrays.encode(exact)[0] == "float32"
    inexact = np.array([0.1, 1 / 3])
    assert arrays.encode(inexact)[0] == "float64"
    for values in (exact, inexact, np.array(_awkward(50, 1))):
        dtype, data = arrays.encode(values)
        assert arrays.decode(dtype, data).tobytes() == values.tobytes()
        assert arrays.decode_blob(arrays.to_b64(values), "x").tobytes() == values.tobytes()


def test_v1_fixture_imports_and_v2_reexport_is_already_present(tmp_path):
    with Store(tmp_path / "a.db") as store:
        assert import_file(store, FIXTURE) == 1
        out = export_file(store, tmp_path / "v2.json.gz")
        original = json.loads(gzip.decompress(FIXTURE.read_bytes()))
        assert store.submissions() == original
    exported = json.loads(gzip.decompress(out.read_bytes()))
    assert exported[0]["schema_version"] == 2
    blob = exported[0]["evaluations"]["default"][0]["returns"]
    assert set(blob) == {"dtype", "b64"}
    assert content_hash(exported[0]) == content_hash(original[0])
    assert out.stat().st_size <= FIXTURE.stat().st_size * 1.2  # no larger than the data
    with Store(tmp_path / "a.db") as store:
        assert import_file(store, out) == 0  # already present, not a conflict
    with Store(tmp_path / "b.db") as store:
        assert import_file(store, out) == 1
        assert store.submissions() == original


def test_export_selected_runs_and_metas(tmp_path):
    docs = [fake_submission(f"k{i}", seed=i, notes=f"run {i}") for i in range(3)]
    docs[1]["provenance"] = {"git_dirty": False}
    with Store(tmp_path / "a.db") as store:
        store.import_submissions(docs)
        metas = store.metas()
        path = export_file(store, tmp_path / "one.json", run_keys=["k1"])
        with pytest.raises(StoreError, match="no finished run 'nope'"):
            export_file(store, tmp_path / "x.json", run_keys=["nope"])
    assert sorted(metas) == ["k0", "k1", "k2"]
    assert metas["k1"]["provenance"] == {"git_dirty": False}
    assert metas["k2"]["wall_time_s"] == 12.5 and metas["k2"]["seed"] == 2
    assert "evaluations" not in metas["k0"]
    (only,) = json.loads(path.read_text())
    assert encode_submission(decode_submission(only), 1) == docs[1]


def test_run_summaries_score_like_the_documents(tmp_path):
    docs = [_doc(f"k{i}", i) for i in range(4)]
    with Store(tmp_path / "a.db") as store:
        store.import_submissions(docs)
        summaries = store.run_summaries()
    assert [s.run_key for s in summaries] == ["k0", "k1", "k2", "k3"]
    steps, means = summaries[0].curves["default"]
    want = [np.mean(p["returns"]) for p in docs[0]["evaluations"]["default"]]
    np.testing.assert_array_equal(steps, [0, 20, 40, 60, 80, 100])
    np.testing.assert_array_equal(means, want)
    a, b = aggregate(summaries, reps=100).entries[0], aggregate(docs, reps=100).entries[0]
    assert (a.final, a.auc, a.absolute) == (b.final, b.auc, b.absolute)
    np.testing.assert_array_equal(a.curve_high, b.curve_high)


@pytest.mark.parametrize(
    ("blob", "match"),
    [
        ({"dtype": "float16", "b64": "AAAA"}, "float16"),
        ({"dtype": "float32", "b64": "not base64!"}, "base64"),
        ({"dtype": "float64", "b64": "AAAAAAAAAAA="}, "eval_episodes = 4"),
        ({"dtype": "float64", "b64": "AAAAAAA="}, "whole number of float64"),
        ({"dtype": "float32", "b64": "AADAfw=="}, "is nan"),
        ({"dtype": "float32", "b64": "AACAfw=="}, "is inf"),
        ([1.0, 2.0, 3.0, 4.0], "schema_version 2 stores returns as"),
    ],
)
def test_bad_v2_blobs(blob, match):
    doc = encode_submission(decode_submission(fake_submission()), 2)
    doc["evaluations"]["default"][1]["returns"] = blob
    with pytest.raises(SubmissionError, match=match):
        decode_submission(doc)


def test_bad_blob_after_the_first_point_is_caught_in_code():
    """The schema sees one representative point; every other blob is checked in code."""
    doc = encode_submission(decode_submission(fake_submission()), 2)
    for bad, match in (([], "dtype"), ({"a": 1}, "dtype"), ("float16", "float16")):
        doc["evaluations"]["default"][3]["returns"]["dtype"] = bad
        with pytest.raises(SubmissionError, match=match):
            decode_submission(doc)
    doc["evaluations"]["default"][3]["returns"] = {"dtype": "float64", "b64": 7}
    with pytest.raises(SubmissionError, match="b64 must be a string"):
        decode_submission(doc)


def test_a_layout_2_store_without_verifications_gains_the_table(tmp_path):
    """Stores written before ``verifications`` joined layout 2 open and can record verdicts."""
    path = tmp_path / "old2.db"
    with Store(path) as store:
        store.import_submissions([fake_submission("r0", seed=0)])
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE verifications")
    with Store(path) as store:
        store.record_verification("r0", True, "bit-identical")
        assert store.verifications()["r0"]["matches"] is True
        with pytest.raises(StoreError, match="no finished run"):
            store.record_verification("nope", True, "x")
