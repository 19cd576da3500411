"""Submission documents: the published JSON schema, validation and canonical hashing.

A submission is one run (task x algorithm x seed) of the protocol: everything needed to
reproduce it (versions, resolved config and its hash, git commit, seed, protocol, hardware)
plus the raw per-episode team returns of every evaluation point and of the absolute-metric
re-evaluation. ``schema.json`` is strict (``additionalProperties: false``); a document that
carries derived numbers (scores, AUC, IQM, ...) is *rejected*, never trusted: the leaderboard
recomputes them from the raw returns (``aggregate.py``).
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
from jsonschema.exceptions import best_match

from coopbench.results.errors import SubmissionError

__all__ = [
    "RUN_FIELDS",
    "SCHEMA_VERSION",
    "canonical_json",
    "content_hash",
    "load_schema",
    "loads_strict",
    "validate_meta",
    "validate_submission",
]

SCHEMA_VERSION = 1
# Fields produced by the run itself; everything else of a submission is the run's ``meta``.
RUN_FIELDS = ("schema_version", "run_key", "evaluations", "absolute", "wall_time_s")
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


def _check_finite(value: Any, path: tuple[Any, ...], what: str) -> None:
    """Reject NaN/inf anywhere (JSON Schema's ``number`` admits them once parsed)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SubmissionError(f"{what}: {_where(path)} is {value}, every number must be finite")
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_finite(v, (*path, k), what)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_finite(v, (*path, i), what)


def _schema_check(validator: Any, doc: Any, what: str) -> None:
    if not isinstance(doc, dict):
        raise SubmissionError(f"{what}: expected a JSON object, got {type(doc).__name__}")
    _check_finite(doc, (), what)
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


def validate_submission(doc: Any, what: str | None = None) -> None:
    """Validate a submission against ``schema.json`` and the rules JSON Schema cannot state.

    Beyond the schema: every number is finite; ``policies``, ``evaluations`` and ``absolute``
    name the same policies; each policy's evaluation steps start at 0, strictly increase and
    stay within the budget; every evaluation point has ``protocol.eval_episodes`` returns and
    every absolute entry ``protocol.absolute_episodes``. Raises ``SubmissionError``.
    """
    if what is None:
        key = doc.get("run_key") if isinstance(doc, dict) else None
        what = f"submission {_one_line(key, 80)!r}" if isinstance(key, str) else "submission"
    _schema_check(_validators()[0], doc, what)
    _check_started_at(doc, what)
    names = set(doc["policies"])
    for field in ("evaluations", "absolute"):
        if set(doc[field]) != names:
            raise SubmissionError(
                f"{what}: {field} covers policies {sorted(doc[field])}, "
                f"expected exactly those in policies {sorted(names)}"
            )
    proto = doc["protocol"]
    for policy, points in doc["evaluations"].items():
        steps = [p["step"] for p in points]
        if steps[0] != 0:
            raise SubmissionError(
                f"{what}: evaluations/{policy} must start at step 0, got {steps[0]}"
            )
        for i in range(1, len(steps)):
            if steps[i] <= steps[i - 1]:
                raise SubmissionError(
                    f"{what}: evaluations/{policy} steps must strictly increase, got "
                    f"{steps[i - 1]} then {steps[i]} at index {i}"
                )
        if steps[-1] > proto["budget"]:
            raise SubmissionError(
                f"{what}: evaluations/{policy} has step {steps[-1]} past the budget "
                f"{proto['budget']}"
            )
        for i, point in enumerate(points):
            if len(point["returns"]) != proto["eval_episodes"]:
                raise SubmissionError(
                    f"{what}: evaluations/{policy}/{i}/returns has {len(point['returns'])} "
                    f"episodes, expected protocol.eval_episodes = {proto['eval_episodes']}"
                )
        if len(doc["absolute"][policy]) != proto["absolute_episodes"]:
            raise SubmissionError(
                f"{what}: absolute/{policy} has {len(doc['absolute'][policy])} episodes, "
                f"expected protocol.absolute_episodes = {proto['absolute_episodes']}"
            )


def canonical_json(doc: Any) -> str:
    """Deterministic JSON text (sorted keys, no spaces, NaN refused) used for hashing/storage."""
    try:
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SubmissionError(f"not JSON-serialisable: {_one_line(exc)}") from None


def content_hash(doc: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON: two imports of the same submission hash the same."""
    return hashlib.sha256(canonical_json(doc).encode()).hexdigest()


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
