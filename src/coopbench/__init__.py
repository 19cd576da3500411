"""coopbench: cooperative particle tasks, reference baselines, a common harness and a leaderboard.

Subpackages never import each other upward: ``envs`` (tasks, no torch), ``algorithms``
and ``baselines`` (learners), ``harness`` (budgets, evaluation, sweeps), ``leaderboard``
(store and publishing). See ``docs/``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("coopbench")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"
