"""Argument checks shared by the whole package (one message style for bad input)."""

from __future__ import annotations

from typing import Any

import numpy as np


def expected_int(minimum: int) -> str:
    """How ``check_int`` describes the integers it accepts, e.g. ``"a positive integer"``."""
    if minimum == 1:
        return "a positive integer"
    if minimum == 0:
        return "a non-negative integer"
    return f"an integer >= {minimum}"


def check_int(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` as an ``int`` when it is an integer (not a bool) ``>= minimum``.

    Otherwise ``ValueError("{name}={value!r} is invalid; expected a positive integer")``
    (the expectation worded for ``minimum``).
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}={value!r} is invalid; expected {expected_int(minimum)}")
    return int(value)
