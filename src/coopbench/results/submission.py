"""Submission documents: the published JSON schema, validation and canonical hashing.

A submission is one run (task x algorithm x seed) of the protocol: everything needed to
reproduce it (versions, resolved config and its hash, git commit, seed, protocol, hardware)
plus the raw per-episode team returns of every evaluation point and of the absolute-metric
re-evaluation. Schema version 2 (what export writes) holds each return array as
``{"dtype": "float32"|"float64", "b64": base64 of the little-endian bytes}``; version 1
(still imported) as a JSON list. ``schema.json`` is strict (``additionalProperties:
false``); a document that carries derived numbers (scores, AUC, IQM, ...) is *rejected*,
never trusted: the leaderboard recomputes them from the raw returns
(``coopbench.leaderboard.scoring``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import numpy as np
from jsonschema.exceptions import best_match

from coopbench.results.arrays import array_digest, to_b64, to_returns
from coopbench.results.errors import SubmissionError

__all__ = [
    "RUN_FIELDS",
    "SCHEMA_VERSION",
    "SCHEMA_VERSIONS",
    "canonical_json",
    "content_hash",
    "decode_submission",
    "encode_submission",
    "load_schema",
    "loads_strict",
    "run_meta",
    "validate_meta",
    "validate_submission",
]

SCHEMA_VERSION = 2  # what export writes
SCHEMA_VERSIONS = (1, 2)  # what import reads
# Fields produced by the run itself; everything else of a submission is the run's ``meta``.
RUN_FIELDS = ("schema_version", "run_key", "evaluations", "absolute", "wall_time_s")


def run_meta(doc: dict[str, Any]) -> dict[str, Any]:
    """A submission's ``meta``: everything but the fields the run itself produced
    (``RUN_FIELDS``)."""
    return {k: v for k, v in doc.items() if k not in RUN_FIELDS}


_MAX_POINTS = 100_000  # schema: evaluations/*/maxItems
_MAX_STEP = 1_000_000_000_000  # schema: evaluations/*/*/step/maximum
# Derived fields people are tempted to include; named in the rejection message.
_DERIVED_HINT = {"final_score", "final_scores", "auc", "iqm", "score", "scores", "normalised"}


@cache
def load_schema() -> dict[str, Any]:
    """The published submission schema (``coopbench/leaderboard/schema.json``)."""
    text = resources.files("coopbench.results").joinpath("schema.json").read_text()
    return json.loads(text)


@cache
def _validators() -> tuple[jsonschema.protocols.Validator, jsonschema.protocols.Validator]:
    schema = load_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    meta = copy.deepcopy(schema)
    meta["required"] = [k for k in schema["required"] if k not in RUN_FIELDS]
    for key in RUN_FIELDS:
        meta["properties"].pop(key)
    return cls(schema), cls(meta)


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _where(path: Any) -> str:
    return "/".join(str(p) for p in path) or "<document>"


def _check_text(text: str, path: tuple[Any, ...], what: str) -> None:
    """Reject text that is not valid UTF-8 (an unpaired surrogate: JSON's ``"\\ud800"``
    parses to one, and neither SQLite nor a terminal can take it). Named with ``ascii()``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise SubmissionError(
            f"{what}: {_where(path)} holds {text[exc.start : exc.end]!a} at position "
            f"{exc.start}: text must be valid UTF-8 (an unpaired surrogate is not)"
        ) from None


def _check_values(value: Any, path: tuple[Any, ...], what: str) -> None:
    """Reject NaN/inf (JSON Schema's ``number`` admits them once parsed) and text that is
    not valid UTF-8, anywhere in the document (keys included)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SubmissionError(f"{what}: {_where(path)} is {value}, every number must be finite")
    elif isinstance(value, str):
        _check_text(value, path, what)
    elif isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str):
                _check_text(k, path, what)
            _check_values(v, (*path, k), what)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_values(v, (*path, i), what)


def _schema_check(validator: Any, doc: Any, what: str) -> None:
    if not isinstance(doc, dict):
        raise SubmissionError(f"{what}: expected a JSON object, got {type(doc).__name__}")
    _check_values(doc, (), what)
    error = best_match(validator.iter_errors(doc))
    if error is None:
        return
    msg = f"{what}: {_where(error.absolute_path)}: {_one_line(error.message)}"
    derived = sorted(_DERIVED_HINT & set(doc))
    if derived:
        msg += f" (derived fields {derived} are not accepted: they are recomputed from raw returns)"
    raise SubmissionError(msg)


def _check_started_at(doc: dict[str, Any], what: str) -> None:
    try:
        datetime.fromisoformat(doc["started_at"].replace("Z", "+00:00"))
    except ValueError:
        raise SubmissionError(
            f"{what}: started_at {doc['started_at']!r} is not an ISO 8601 date-time"
        ) from None


def validate_meta(meta: Any, what: str = "run meta") -> None:
    """Check a run's ``meta`` (a submission without the run fields) against the schema."""
    _schema_check(_validators()[1], meta, what)
    _check_started_at(meta, what)


def _split(doc: dict[str, Any]) -> tuple[dict[str, Any], dict[tuple[Any, ...], Any]]:
    """A copy of ``doc`` whose return lists are one-element placeholders (so the schema check
    does not walk millions of numbers), and the lists and blobs taken out, by location."""
    arrays: dict[tuple[Any, ...], Any] = {}
    skeleton = dict(doc)
    evaluations = doc.get("evaluations")
    if isinstance(evaluations, dict):
        skeleton["evaluations"] = out = {}
        for policy, points in evaluations.items():
            if not isinstance(points, list):
                out[policy] = points
                continue
            out[policy] = []
            for i, point in enumerate(points):
                if isinstance(point, dict) and "returns" in point:
                    arrays["evaluations", policy, i] = point["returns"]
                    point = {**point, "returns": _placeholder(point["returns"])}
                out[policy].append(point)
            if all(map(_plain_point, points)) and len(points) <= _MAX_POINTS:
                out[policy] = out[policy][:1]  # the schema checks one of identical shapes
    absolute = doc.get("absolute")
    if isinstance(absolute, dict):
        skeleton["absolute"] = {}
        for policy, values in absolute.items():
            arrays["absolute", policy] = values
            skeleton["absolute"][policy] = _placeholder(values)
    return skeleton, arrays


def _plain_point(point: Any) -> bool:
    """An evaluation point the schema would accept if its ``returns`` are accepted."""
    return (
        isinstance(point, dict)
        and point.keys() == {"step", "returns"}
        and type(point["step"]) is int
        and 0 <= point["step"] <= _MAX_STEP
    )


def _placeholder(values: Any) -> Any:
    return [0.0] if isinstance(values, list) else values


def decode_submission(doc: Any, what: str | None = None) -> dict[str, Any]:
    """Validate a submission (schema version 1 or 2) and return it with every return array
    decoded to a float64 numpy array (the form the store writes and hashes).

    Beyond the schema: every number is finite; version 1 holds returns as JSON lists and
    version 2 as ``{"dtype", "b64"}`` blobs; ``policies``, ``evaluations`` and ``absolute``
    name the same policies; each policy's evaluation steps start at 0, strictly increase and
    stay within the budget; every evaluation point has ``protocol.eval_episodes`` returns and
    every absolute entry ``protocol.absolute_episodes``. Raises ``SubmissionError``.
    """
    if what is None:
        key = doc.get("run_key") if isinstance(doc, dict) else None
        what = f"submission {_one_line(key, 80)!r}" if isinstance(key, str) else "submission"
    if not isinstance(doc, dict):
        raise SubmissionError(f"{what}: expected a JSON object, got {type(doc).__name__}")
    skeleton, arrays = _split(doc)
    _schema_check(_validators()[0], skeleton, what)
    _check_started_at(doc, what)
    version = doc["schema_version"]
    decoded: dict[tuple[Any, ...], np.ndarray] = {}
    for where, raw in arrays.items():
        path = f"{what}: {'/'.join(map(str, where))}" + ("/returns" if len(where) == 3 else "")
        if isinstance(raw, list) != (version == 1):
            form = "JSON lists of numbers" if version == 1 else "{dtype, b64} objects"
            raise SubmissionError(f"{path}: schema_version {version} stores returns as {form}")
        decoded[where] = to_returns(raw, path)
    names = set(doc["policies"])
    for field in ("evaluations", "absolute"):
        if set(doc[field]) != names:
            raise SubmissionError(
                f"{what}: {field} covers policies {sorted(doc[field])}, "
                f"expected exactly those in policies {sorted(names)}"
            )
    proto = doc["protocol"]
    out = dict(doc)
    out["evaluations"] = {}
    out["absolute"] = {}
    for policy, points in doc["evaluations"].items():
        _check_steps(what, policy, [p["step"] for p in points], proto)
        out["evaluations"][policy] = []
        for i, point in enumerate(points):
            values = decoded["evaluations", policy, i]
            if values.size != proto["eval_episodes"]:
                raise SubmissionError(
                    f"{what}: evaluations/{policy}/{i}/returns has {values.size} "
                    f"episodes, expected protocol.eval_episodes = {proto['eval_episodes']}"
                )
            out["evaluations"][policy].append({"step": point["step"], "returns": values})
        values = decoded["absolute", policy]
        if values.size != proto["absolute_episodes"]:
            raise SubmissionError(
                f"{what}: absolute/{policy} has {values.size} episodes, "
                f"expected protocol.absolute_episodes = {proto['absolute_episodes']}"
            )
        out["absolute"][policy] = values
    return out


def _check_steps(what: str, policy: str, steps: list[int], proto: dict[str, Any]) -> None:
    """Steps start at 0 (an ``external`` run's first evaluation may come later), strictly
    increase and stay within the budget; an ``evaluation-only`` run has one point, at 0."""
    budget, kind = proto["budget"], proto.get("kind")
    if kind == "evaluation-only" and steps != [0]:
        raise SubmissionError(
            f"{what}: evaluations/{policy} of an evaluation-only run must be one point at "
            f"step 0, got steps {steps[:5]}"
        )
    if steps[0] != 0 and kind != "external":
        raise SubmissionError(f"{what}: evaluations/{policy} must start at step 0, got {steps[0]}")
    for i in range(1, len(steps)):
        if steps[i] <= steps[i - 1]:
            raise SubmissionError(
                f"{what}: evaluations/{policy} steps must strictly increase, got "
                f"{steps[i - 1]} then {steps[i]} at index {i}"
            )
    if steps[-1] > budget:
        raise SubmissionError(
            f"{what}: evaluations/{policy} has step {steps[-1]} past the budget {budget}"
        )


def validate_submission(doc: Any, what: str | None = None) -> None:
    """Check a submission (see :func:`decode_submission`); raises ``SubmissionError``."""
    decode_submission(doc, what)


def encode_submission(doc: dict[str, Any], version: int = SCHEMA_VERSION) -> dict[str, Any]:
    """The JSON form of a decoded submission: returns as lists (version 1) or blobs (2)."""
    if version not in SCHEMA_VERSIONS:
        raise SubmissionError(f"schema_version must be one of {SCHEMA_VERSIONS}, got {version!r}")
    form = (lambda a: a.tolist()) if version == 1 else to_b64
    return {
        **doc,
        "schema_version": version,
        "evaluations": {
            policy: [{"step": p["step"], "returns": form(p["returns"])} for p in points]
            for policy, points in doc["evaluations"].items()
        },
        "absolute": {policy: form(v) for policy, v in doc["absolute"].items()},
    }


def canonical_json(doc: Any) -> str:
    """Deterministic JSON text (sorted keys, no spaces, NaN refused) used for hashing/storage."""
    try:
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SubmissionError(f"not JSON-serialisable: {_one_line(exc)}") from None


def content_hash(doc: dict[str, Any]) -> str:
    """SHA-256 of a submission's canonical decoded content: the canonical JSON of everything
    but ``schema_version``, each return array replaced by the SHA-256 of its float64 bytes.
    A run hashes the same whatever form (schema version 1 or 2, decoded) it arrives in."""
    skeleton, arrays = _split(doc)
    skeleton.pop("schema_version", None)
    skeleton["evaluations"] = {
        policy: [
            {"step": p["step"], "returns": _digest(arrays["evaluations", policy, i])}
            for i, p in enumerate(points)
        ]
        for policy, points in doc["evaluations"].items()
    }
    skeleton["absolute"] = {p: _digest(arrays["absolute", p]) for p in doc["absolute"]}
    return hashlib.sha256(canonical_json(skeleton).encode()).hexdigest()


def _digest(values: Any) -> str:
    return array_digest(to_returns(values, "returns"))


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed (every number must be finite)")


def loads_strict(text: str | bytes, source: str) -> Any:
    """Parse JSON, refusing NaN/Infinity; errors name ``source`` and the position."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise SubmissionError(
            f"{source}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise SubmissionError(f"{source}: malformed JSON: {_one_line(exc)}") from None
