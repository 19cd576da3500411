"""Submission documents: schema validation, hostile input, JSON files in and out."""

from __future__ import annotations

import copy
import json

import pytest

from coopbench.leaderboard import (
    Store,
    StoreError,
    SubmissionError,
    export_file,
    import_file,
    load_schema,
    validate_submission,
)
from coopbench.results.submission import content_hash, loads_strict
from leaderboard_fakes import fake_submission

HOSTILE = "<script>document.title='pwned'</script>\"'><img src=x onerror=alert(1)> $\\frac{a$ |"


def _edit(path: str, value):
    doc = fake_submission()
    *parents, last = path.split("/")
    node = doc
    for p in parents:
        node = node[int(p)] if p.isdigit() else node[p]
    if value is KeyError:
        del node[last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return doc


def test_schema_is_published_and_strict():
    schema = load_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) >= {"run_key", "evaluations", "absolute", "protocol", "seed"}
    validate_submission(fake_submission())


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        ("seed", KeyError, "'seed' is a required property"),
        ("seed", -1, "seed"),
        ("seed", 1.5, "seed"),
        ("seed", True, "seed"),
        ("schema_version", 2, "schema_version"),
        ("final_score", 0.9, "derived fields"),
        ("algorithm/name", "", "algorithm/name"),
        ("algorithm/name", "x" * 201, "algorithm/name"),
        ("algorithm/surprise", 1, "algorithm"),
        ("notes", "n" * 5000, "notes"),
        ("task/id", "Bad Task!", "task/id"),
        ("protocol/budget", 0, "protocol/budget"),
        ("protocol/tier", "<b>", "protocol/tier"),
        ("started_at", "2026-13-45T99:99", "started_at"),
        ("evaluations/default/0/mean", 5.0, "evaluations/default/0"),
        ("evaluations/default/0/returns", [], "evaluations/default/0/returns"),
        ("evaluations/default/0/returns/1", "1.0", "evaluations/default/0/returns/1"),
        ("evaluations/default/0/returns/1", float("nan"), "returns/1 is nan"),
        ("evaluations/default/0/returns/1", float("inf"), "returns/1 is inf"),
        ("absolute/default/0", float("-inf"), "absolute/default/0 is -inf"),
        ("wall_time_s", float("nan"), "wall_time_s is nan"),
        ("evaluations/default/0/step", 10, "start at step 0"),
        ("evaluations/default/2/step", 20, "strictly increase"),
        ("evaluations/default/5/step", 120, "past the budget"),
        ("evaluations/default/1/returns", [1.0, 2.0], "eval_episodes = 4"),
        ("absolute/default", [1.0], "absolute_episodes = 8"),
        ("absolute/ghost", [1.0] * 8, "absolute covers policies"),
        ("policies/default/privileged", "yes", "privileged"),
        ("hardware/gpu", {"nested": 1}, "hardware/gpu"),
    ],
)
def test_bad_submissions_name_the_problem(path, value, match):
    doc = _edit(path, value)
    with pytest.raises(SubmissionError, match=match) as info:
        validate_submission(doc)
    assert "\n" not in str(info.value) and len(str(info.value)) < 600


def test_not_an_object():
    with pytest.raises(SubmissionError, match="expected a JSON object"):
        validate_submission([1, 2])


def test_hostile_strings_are_data(tmp_path):
    doc = fake_submission("<k>'\"", name=HOSTILE, notes=HOSTILE)
    doc["policies"]["default"]["label"] = HOSTILE
    doc["algorithm"]["config"]["x"] = HOSTILE
    with Store(tmp_path / "r.db") as store:
        assert store.import_submission(doc)
        assert store.submissions() == [doc]


def test_content_hash_ignores_key_order():
    doc = fake_submission()
    shuffled = json.loads(json.dumps(doc, sort_keys=True))
    assert content_hash(shuffled) == content_hash(doc)
    assert content_hash(fake_submission(seed=1)) != content_hash(doc)


def test_loads_strict_refuses_nan_and_garbage():
    with pytest.raises(SubmissionError, match=r"f\.json: malformed JSON at line 1 column"):
        loads_strict('{"a": ', "f.json")
    with pytest.raises(SubmissionError, match="NaN is not allowed"):
        loads_strict('{"a": NaN}', "f.json")
    with pytest.raises(SubmissionError, match="Infinity is not allowed"):
        loads_strict("[-Infinity]", "f.json")
    with pytest.raises(SubmissionError, match="malformed JSON"):
        loads_strict(b"\xff\xfe\x00garbage", "f.json")


def test_export_import_file_round_trip(tmp_path):
    docs = [fake_submission(f"k{i}", seed=i) for i in range(3)]
    with Store(tmp_path / "a.db") as a:
        assert a.import_submissions(docs) == 3
        out = export_file(a, tmp_path / "subs.json")
    with Store(tmp_path / "b.db") as b:
        assert import_file(b, out) == 3
        assert import_file(b, out) == 0  # the same file twice changes nothing
        assert b.submissions() == docs
    single = tmp_path / "one.json"
    single.write_text(json.dumps(fake_submission("solo")))
    with Store(tmp_path / "b.db") as b:
        assert import_file(b, single) == 1
        assert len(b.submissions()) == 4


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "malformed JSON"),
        ('[{"run_key": "x"}]', "required property"),
        ("[1, 2]", "expected a JSON object"),
        ('{"seed": NaN}', "NaN is not allowed"),
    ],
)
def test_import_file_bad_input_writes_nothing(tmp_path, text, match):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with Store(tmp_path / "r.db") as store:
        with pytest.raises(SubmissionError, match=match) as info:
            import_file(store, path)
        assert "bad.json" in str(info.value)
        assert store.submissions() == []


def test_import_file_partial_batch_rolls_back(tmp_path):
    docs = [fake_submission(f"k{i}", seed=i) for i in range(3)]
    bad = copy.deepcopy(docs)
    bad[2]["evaluations"]["default"][3]["returns"][0] = 1e13  # out of the schema's range
    path = tmp_path / "batch.json"
    path.write_text(json.dumps(bad))
    with Store(tmp_path / "r.db") as store:
        with pytest.raises(
            SubmissionError, match=r"submission #2: evaluations/default/3/returns/0"
        ):
            import_file(store, path)
        assert store.submissions() == []


def test_import_missing_file(tmp_path):
    with Store(tmp_path / "r.db") as store, pytest.raises(StoreError, match="cannot read"):
        import_file(store, tmp_path / "absent.json")


def test_gzip_export_import_round_trip_and_corrupt_gzip(tmp_path):
    docs = [fake_submission(f"k{i}", seed=i) for i in range(3)]
    with Store(tmp_path / "a.db") as a:
        a.import_submissions(docs)
        plain = export_file(a, tmp_path / "subs.json")
        packed = export_file(a, tmp_path / "subs.json.gz")
    assert packed.read_bytes()[:2] == b"\x1f\x8b"  # gzip magic
    assert len(packed.read_bytes()) < len(plain.read_bytes())
    with Store(tmp_path / "b.db") as b:
        assert import_file(b, packed) == 3
        assert b.submissions() == docs
    broken = {"bad.json.gz": b"not gzip at all", "cut.json.gz": packed.read_bytes()[:40]}
    for name, data in broken.items():
        (tmp_path / name).write_bytes(data)
        with Store(tmp_path / "c.db") as c:
            with pytest.raises(StoreError, match=f"{name}: cannot read"):
                import_file(c, tmp_path / name)
            assert c.submissions() == []
