"""Submission files: export a store to JSON, import JSON into a store (all or nothing)."""

from __future__ import annotations

import os
from pathlib import Path

from coopbench.leaderboard.errors import StoreError
from coopbench.leaderboard.store import Store
from coopbench.leaderboard.submission import canonical_json, loads_strict

__all__ = ["export_file", "import_file"]


def export_file(store: Store, path: str | os.PathLike[str]) -> Path:
    """Write every finished submission to a JSON file (an array, one submission per line),
    atomically (a temporary file renamed into place). Returns the path."""
    out = Path(path)
    lines = [canonical_json(doc) for doc in store.submissions()]
    text = "[\n" + ",\n".join(lines) + "\n]\n" if lines else "[]\n"
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StoreError(f"{out}: cannot write: {exc.strerror}") from None
    return out


def import_file(store: Store, path: str | os.PathLike[str]) -> int:
    """Import a JSON file holding one submission or an array of them, all or nothing.
    Returns how many were new (importing the same file twice adds nothing)."""
    src = Path(path)
    try:
        raw = src.read_bytes()
    except OSError as exc:
        raise StoreError(f"{src}: cannot read: {exc.strerror}") from None
    doc = loads_strict(raw, str(src))
    docs = doc if isinstance(doc, list) else [doc]
    if not docs:
        return 0
    try:
        return store.import_submissions(docs)
    except StoreError as exc:
        raise type(exc)(f"{src}: {exc}") from None
