"""coopbench leaderboard: results store, submission schema, aggregation and publishing.

>>> from coopbench.leaderboard import Store, render_markdown
>>> with Store("coopbench.db") as store:
...     print(render_markdown(store.submissions()))

See ``docs/leaderboard.md``. Nothing here imports an algorithm. Names are resolved lazily
(PEP 562), so ``from coopbench.leaderboard.store import Store`` in a sweep worker loads only
the store, not the aggregation, plotting or templating modules.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from coopbench.leaderboard.errors import StoreError, SubmissionError

_EXPORTS = {
    "DEFAULT_THRESHOLD": "scoring",
    "Entry": "scoring",
    "Leaderboard": "scoring",
    "RunScores": "scoring",
    "aggregate": "scoring",
    "probability_of_improvement": "scoring",
    "run_scores": "scoring",
    "write_html": "html",
    "render_markdown": "markdown",
    "export_marl_eval": "marl_eval",
    "to_marl_eval": "marl_eval",
    "Store": "store",
    "export_file": "files",
    "import_file": "files",
    "load_schema": "submission",
    "validate_submission": "submission",
    "WandbError": "wandb_mirror",
    "mirror_to_wandb": "wandb_mirror",
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
    "to_marl_eval",
    "validate_submission",
    "write_html",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'coopbench.leaderboard' has no attribute {name!r}")
    value = getattr(import_module(f"coopbench.leaderboard.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
