"""Test-session settings shared by every test module."""

import os

# Learning-test thresholds are calibrated with one intra-op thread (what the sweep
# workers use); torch reads this when it is first imported, after conftest loads.
os.environ.setdefault("OMP_NUM_THREADS", "1")
