"""Test-session settings shared by every test module."""

import os
import sys

import pytest
from hypothesis import settings

# CI runs the fuzz tests on fixed examples (the same inputs on every run); elsewhere
# hypothesis explores new ones each time. HYPOTHESIS_PROFILE=ci reproduces CI locally.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI") or os.environ.get("HYPOTHESIS_PROFILE") == "ci":
    settings.load_profile("ci")

# Learning-test thresholds are calibrated with one intra-op thread (what the sweep workers
# use), and the tests' small networks only lose time to extra threads; torch reads this
# when it is first imported, after conftest loads.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One torch thread for every test, whatever the environment says (torch not imported
    yet: the variable above applies when it is)."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
