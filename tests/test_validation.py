"""The one integer check of the package, and that its users report through it."""

from __future__ import annotations

import numpy as np
import pytest

from coopbench.algorithms.replay import ReplayBuffer
from coopbench.envs import make_batched
from coopbench.validation import check_int


def test_check_int_accepts_integers_at_or_above_minimum() -> None:
    assert check_int(3, "n") == 3
    assert check_int(np.int64(1), "n") == 1 and type(check_int(np.int64(1), "n")) is int
    assert check_int(0, "seed", minimum=0) == 0


@pytest.mark.parametrize(
    ("value", "minimum", "message"),
    [
        (0, 1, "n=0 is invalid; expected a positive integer"),
        (-1, 0, "n=-1 is invalid; expected a non-negative integer"),
        (99, 100, "n=99 is invalid; expected an integer >= 100"),
        (True, 1, "n=True is invalid; expected a positive integer"),
        (2.0, 1, "n=2.0 is invalid; expected a positive integer"),
        ("3", 1, "n='3' is invalid; expected a positive integer"),
        (None, 1, "n=None is invalid; expected a positive integer"),
    ],
)
def test_check_int_rejects_naming_value_and_expectation(value, minimum, message) -> None:
    with pytest.raises(ValueError) as err:
        check_int(value, "n", minimum)
    assert str(err.value) == message


def test_users_share_the_message() -> None:
    """A float capacity or world count used to pass (``int()``-ed or compared) or fail with
    another wording; every user now rejects it through ``check_int``."""
    with pytest.raises(
        ValueError, match=r"^capacity=2\.5 is invalid; expected a positive integer$"
    ):
        ReplayBuffer(2.5, {"x": ((1,), np.float32)})
    with pytest.raises(ValueError, match=r"^num_envs=0 is invalid; expected a positive integer$"):
        make_batched("cn-v1", 0)
    with pytest.raises(ValueError, match=r"^cn-v1: max_cycles=0 is invalid; expected a positive"):
        make_batched("cn-v1", 1, max_cycles=0)
