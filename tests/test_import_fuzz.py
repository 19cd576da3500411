"""Fuzzed importer: malformed and hostile submission files through ``coopbench leaderboard
import``. Every file either imports (hostile text in a free-text field is stored as data) or
fails with exit code 2 and one stderr line, and a failed import stores nothing at all."""

from __future__ import annotations

import base64
import copy
import gzip
import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from coopbench.cli import main
from coopbench.results import Store
from coopbench.results.submission import decode_submission, encode_submission
from leaderboard_fakes import fake_submission

HOSTILE = [
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "a\x00b",
    "\u202eexe.txt",
    "x" * 100_000,
    "",
    "${HOME}`rm -rf /`",
    "\ud800",
]
JUNK: list[Any] = [None, True, -1, 2**70, 1.5, "s", [], {}, [1, "a"], {"k": None}]
_COUNTER = itertools.count()


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into ``doc`` (return lists are leaves, not walked)."""
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list) and not (doc and isinstance(doc[0], (int, float))):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _set(doc: Any, path: tuple, value: Any) -> None:
    for p in path[:-1]:
        doc = doc[p]
    doc[path[-1]] = value


def _base(version: int) -> dict:
    doc = fake_submission(f"fuzz-{next(_COUNTER)}", notes="n")
    doc["provenance"] = {"git": "abc"}
    return encode_submission(decode_submission(doc), version) if version == 2 else doc


def _blob(values: np.ndarray, dtype: str = "float64") -> dict:
    return {"dtype": dtype, "b64": base64.b64encode(values.astype(dtype).tobytes()).decode()}


@st.composite
def mutated(draw: st.DrawFn) -> dict:
    """A submission with one hostile or malformed change."""
    doc = _base(draw(st.sampled_from([1, 2])))
    kind = draw(st.sampled_from(["text", "junk", "nonfinite", "blob", "delete"]))
    paths = _paths(doc)
    if kind == "text":
        strings = [p for p in paths if isinstance(_get(doc, p), str)]
        value = draw(st.sampled_from(HOSTILE) | st.text(max_size=50))
        _set(doc, draw(st.sampled_from(strings)), value)
    elif kind == "junk":
        _set(doc, draw(st.sampled_from(paths)), draw(st.sampled_from(JUNK)))
    elif kind == "delete":
        path = draw(st.sampled_from(paths))
        parent = _get(doc, path[:-1])
        if isinstance(parent, dict):
            del parent[path[-1]]
    elif kind == "nonfinite":
        bad = draw(st.sampled_from([math.nan, math.inf, -math.inf, 1e13]))
        values = np.full(4, 1.0)
        values[draw(st.integers(0, 3))] = bad
        returns = values.tolist() if doc["schema_version"] == 1 else _blob(values)
        doc["evaluations"]["default"][draw(st.integers(0, 5))]["returns"] = returns
    else:
        blob = draw(
            st.sampled_from(
                [
                    _blob(np.ones(3)),
                    _blob(np.ones(5), "float32"),
                    {"dtype": "int8", "b64": "AAAA"},
                    {"dtype": "float64", "b64": "%%%%"},
                    {"dtype": "float64", "b64": "AAAAAAAAAA"},
                    {"dtype": "float64"},
                    {"dtype": "float64", "b64": "", "extra": 1},
                ]
            )
        )
        doc["absolute"]["default"] = blob
    return doc


def _get(doc: Any, path: tuple) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def _store_state(db: Path) -> dict:
    with Store(db) as store:
        return {k: store.decoded(k)["wall_time_s"] for k in store.run_keys()} | {
            "_hashes": store._conn.execute("SELECT run_key, content_hash FROM runs").fetchall()
        }


def _import(capsys, db: Path, path: Path) -> tuple[int, str]:
    rc = main(["leaderboard", "import", "--db", str(db), str(path)])
    err = capsys.readouterr().err
    return rc, err


def _check_failed(rc: int, err: str, before: dict, db: Path) -> None:
    assert rc == 2, err
    assert err.count("\n") == 1 and err.startswith("coopbench: error: "), err
    assert "Traceback" not in err
    assert _store_state(db) == before


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fuzz") / "store.db"
    with Store(path) as store:
        store.import_submission(fake_submission("seeded"))
    return path


_FIXTURES_OK = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]  # capsys is drained


@settings(max_examples=150, deadline=None, suppress_health_check=_FIXTURES_OK)
@given(doc=mutated(), gz=st.booleans())
def test_hostile_submissions_fail_cleanly_or_import(doc, gz, db, tmp_path_factory, capsys):
    path = tmp_path_factory.mktemp("f") / ("in.json.gz" if gz else "in.json")
    valid = _base(2)
    text = json.dumps([valid, doc]).encode()  # NaN/inf reach the file as bare constants
    path.write_bytes(gzip.compress(text) if gz else text)
    before = _store_state(db)
    rc, err = _import(capsys, db, path)
    event(f"exit code {rc}")
    if rc == 0:
        with Store(db) as store:
            stored = store.submissions([doc["run_key"]], schema_version=doc["schema_version"])
        assert stored == [json.loads(json.dumps(doc))]  # stored as data, byte for byte
        return
    _check_failed(rc, err, before, db)


@settings(max_examples=40, deadline=None, suppress_health_check=_FIXTURES_OK)
@given(cut=st.floats(0.0, 0.999), gz=st.booleans())
def test_truncated_files(cut, gz, db, tmp_path_factory, capsys):
    path = tmp_path_factory.mktemp("t") / ("cut.json.gz" if gz else "cut.json")
    text = json.dumps([_base(1), _base(2)]).encode()
    data = gzip.compress(text) if gz else text
    path.write_bytes(data[: int(len(data) * cut)])
    before = _store_state(db)
    _check_failed(*_import(capsys, db, path), before, db)


def test_huge_arrays_are_refused(db, tmp_path, capsys):
    doc = _base(2)
    doc["evaluations"]["default"][0]["returns"] = _blob(np.zeros(1_000_001), "float32")
    path = tmp_path / "huge.json"
    path.write_text(json.dumps([_base(2), doc]))
    before = _store_state(db)
    rc, err = _import(capsys, db, path)
    _check_failed(rc, err, before, db)
    assert "1,000,001" in err
    bad = copy.deepcopy(_base(1))
    bad["absolute"]["default"] = [0.5] * 100_000
    path.write_text(json.dumps(bad))
    rc, err = _import(capsys, db, path)
    _check_failed(rc, err, before, db)
    assert "absolute_episodes = 8" in err


@pytest.mark.parametrize("where", ["notes", "key", "label"])
def test_unpaired_surrogates_are_refused_in_one_line(where, db, tmp_path, capsys):
    """JSON's ``"\\ud800"`` parses to a lone surrogate, which SQLite and stderr cannot encode:
    one error line (the character shown escaped), exit 2, nothing stored. Found by the fuzzer."""
    doc = _base(3)
    if where == "notes":
        doc["notes"] = "ok \ud800"
    elif where == "key":
        doc["algorithm"]["config"]["\udfff"] = 1
    else:
        doc["policies"]["default"]["label"] = "\ud800"
    path = tmp_path / "surrogate.json"
    path.write_bytes(json.dumps([_base(2), doc]).encode())  # ensure_ascii: "\ud800" escapes
    before = _store_state(db)
    rc, err = _import(capsys, db, path)
    _check_failed(rc, err, before, db)
    assert "UTF-8" in err and ("\\ud800" in err or "\\udfff" in err)
