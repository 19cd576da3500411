"""Episode returns as compact arrays: checked on the way in, stored as little-endian bytes.

A return array is kept as ``float32`` when every value round-trips exactly through float32
(most team returns do: the environments sum float32 rewards), else as ``float64``; either way
decoding gives back the very same float64 values, so nothing is lost. In a submission file
(schema version 2) an array is ``{"dtype": "float32", "b64": "<base64 of the bytes>"}``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

import numpy as np

from coopbench.results.errors import SubmissionError

__all__ = [
    "DTYPES",
    "MAX_ABS",
    "MAX_LEN",
    "Summary",
    "array_digest",
    "decode",
    "decode_blob",
    "encode",
    "summary",
    "to_b64",
    "to_returns",
]

DTYPES = {"float32": np.dtype("<f4"), "float64": np.dtype("<f8")}
MAX_ABS = 1e12  # the schema's bound on a team return
MAX_LEN = 1_000_000  # the schema's bound on the episodes of one array
_NUMBER = (int, float)

Summary = tuple[int, float, float, float, float]  # n, mean, std, min, max


def _checked(values: np.ndarray, what: str) -> np.ndarray:
    if values.ndim != 1 or not 1 <= values.size <= MAX_LEN:
        raise SubmissionError(
            f"{what}: expected 1 to {MAX_LEN:,} returns, got {values.size:,} (shape {values.shape})"
        )
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise SubmissionError(f"{what}/{i} is {values[i]}, every return must be finite")
    big = np.abs(values) > MAX_ABS
    if big.any():
        i = int(np.argmax(big))
        raise SubmissionError(f"{what}/{i} is {values[i]:g}, expected |return| <= 1e12")
    return values


def to_returns(values: Any, what: str) -> np.ndarray:
    """A checked float64 array from a JSON list of numbers, a numpy array or a v2 blob."""
    if isinstance(values, dict):
        return decode_blob(values, what)
    if isinstance(values, np.ndarray):
        if values.dtype.kind not in "fiu":
            raise SubmissionError(f"{what}: expected numbers, got an array of {values.dtype}")
        return _checked(values.astype(np.float64, copy=False), what)
    if not isinstance(values, (list, tuple)):
        raise SubmissionError(f"{what}: expected a list of numbers, got {type(values).__name__}")
    kinds = set(map(type, values))
    if not kinds <= {int, float}:
        i = next(i for i, v in enumerate(values) if type(v) not in _NUMBER)
        raise SubmissionError(f"{what}/{i}: expected a number, got {values[i]!r:.60}")
    try:
        array = np.array(values, dtype=np.float64)
    except OverflowError:
        raise SubmissionError(f"{what}: an integer return is too large") from None
    return _checked(array, what)


def encode(values: np.ndarray) -> tuple[str, bytes]:
    """``(dtype, little-endian bytes)``: float32 when exact for every value, else float64."""
    narrow = values.astype(DTYPES["float32"])
    if np.array_equal(narrow.astype(np.float64), values):
        return "float32", narrow.tobytes()
    return "float64", values.astype(DTYPES["float64"]).tobytes()


def decode(dtype: str, data: bytes) -> np.ndarray:
    """The float64 array stored as ``(dtype, bytes)`` by :func:`encode`."""
    return np.frombuffer(data, dtype=DTYPES[dtype]).astype(np.float64)


def to_b64(values: np.ndarray) -> dict[str, str]:
    """The schema-2 JSON form of a return array."""
    dtype, data = encode(values)
    return {"dtype": dtype, "b64": base64.b64encode(data).decode("ascii")}


def decode_blob(blob: Any, what: str) -> np.ndarray:
    """A checked float64 array from a schema-2 blob ``{"dtype", "b64"}``."""
    if not isinstance(blob, dict) or set(blob) != {"dtype", "b64"}:
        raise SubmissionError(f"{what}: expected an object with keys dtype and b64")
    dtype, text = blob["dtype"], blob["b64"]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise SubmissionError(f"{what}: dtype {dtype!r:.40} is not one of {sorted(DTYPES)}")
    if not isinstance(text, str):
        raise SubmissionError(f"{what}: b64 must be a string, got {type(text).__name__}")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SubmissionError(f"{what}: b64 is not valid base64") from None
    size = DTYPES[dtype].itemsize
    if len(data) % size:
        raise SubmissionError(
            f"{what}: {len(data)} bytes is not a whole number of {dtype} values ({size} bytes)"
        )
    return _checked(decode(dtype, data), what)


def summary(values: np.ndarray) -> Summary:
    """The per-point summary columns: ``(n, mean, std, min, max)``."""
    return (
        int(values.size),
        float(values.mean()),
        float(values.std()),
        float(values.min()),
        float(values.max()),
    )


def array_digest(values: np.ndarray) -> str:
    """SHA-256 of the float64 little-endian bytes: the same for every form of one array."""
    return hashlib.sha256(values.astype(DTYPES["float64"]).tobytes()).hexdigest()
