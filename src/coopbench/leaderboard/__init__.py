"""coopbench leaderboard: results store, submission schema, aggregation and publishing.

>>> from coopbench.leaderboard import Store, render_markdown
>>> with Store("coopbench.db") as store:
...     print(render_markdown(store.submissions()))

See ``docs/leaderboard.md``. The store and submission format live in ``coopbench.results``
(re-exported here); nothing here imports an algorithm. Names are resolved lazily
(PEP 562), so ``from coopbench.results.store import Store`` in a sweep worker loads only
the store, not the aggregation, plotting or templating modules.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from coopbench.results.errors import StoreError, SubmissionError

_EXPORTS = {
    "DEFAULT_THRESHOLD": "coopbench.leaderboard.scoring",
    "Entry": "coopbench.leaderboard.scoring",
    "Leaderboard": "coopbench.leaderboard.scoring",
    "RunScores": "coopbench.leaderboard.scoring",
    "aggregate": "coopbench.leaderboard.scoring",
    "probability_of_improvement": "coopbench.leaderboard.scoring",
    "run_scores": "coopbench.leaderboard.scoring",
    "write_html": "coopbench.leaderboard.html",
    "write_site": "coopbench.leaderboard.html",
    "submission_metas": "coopbench.leaderboard.html",
    "render_markdown": "coopbench.leaderboard.markdown",
    "export_marl_eval": "coopbench.leaderboard.marl_eval",
    "to_marl_eval": "coopbench.leaderboard.marl_eval",
    "Store": "coopbench.results",
    "export_file": "coopbench.results",
    "import_file": "coopbench.results",
    "load_schema": "coopbench.results",
    "validate_submission": "coopbench.results",
    "WandbError": "coopbench.leaderboard.wandb_mirror",
    "mirror_to_wandb": "coopbench.leaderboard.wandb_mirror",
}

__all__ = [
    "DEFAULT_THRESHOLD",
    "Entry",
    "Leaderboard",
    "RunScores",
    "Store",
    "StoreError",
    "SubmissionError",
    "WandbError",
    "aggregate",
    "export_file",
    "export_marl_eval",
    "import_file",
    "load_schema",
    "mirror_to_wandb",
    "probability_of_improvement",
    "render_markdown",
    "run_scores",
    "submission_metas",
    "to_marl_eval",
    "validate_submission",
    "write_html",
    "write_site",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'coopbench.leaderboard' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
