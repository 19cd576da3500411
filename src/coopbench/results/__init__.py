"""coopbench results: the SQLite results store, the submission format and submission files.

The harness writes runs here and the leaderboard reads them, so both import this package
and neither imports the other: data flows envs -> algorithms -> harness -> results ->
leaderboard.

>>> from coopbench.results import Store
>>> with Store("coopbench.db") as store:
...     docs = store.submissions()
"""

from coopbench.results.errors import StoreError, SubmissionError
from coopbench.results.files import export_file, import_file
from coopbench.results.reading import RunSummary
from coopbench.results.store import Store
from coopbench.results.submission import load_schema, validate_submission

__all__ = [
    "RunSummary",
    "Store",
    "StoreError",
    "SubmissionError",
    "export_file",
    "import_file",
    "load_schema",
    "validate_submission",
]
