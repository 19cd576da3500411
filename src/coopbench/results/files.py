"""Submission files: export a store to JSON, import JSON into a store (all or nothing).

A path ending in ``.gz`` is gzip-compressed JSON (a standard-tier matrix holds every
evaluation episode's return and is tens of MB as plain text, a few as ``.json.gz``)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from coopbench.results.errors import StoreError
from coopbench.results.store import Store
from coopbench.results.submission import canonical_json, loads_strict

__all__ = ["export_file", "import_file"]


def export_file(store: Store, path: str | os.PathLike[str]) -> Path:
    """Write every finished submission to a JSON file (an array, one submission per line;
    gzip-compressed when the path ends in ``.gz``), atomically (a temporary file renamed
    into place). Returns the path."""
    out = Path(path)
    lines = [canonical_json(doc) for doc in store.submissions()]
    text = "[\n" + ",\n".join(lines) + "\n]\n" if lines else "[]\n"
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        data = text.encode("utf-8")
        tmp.write_bytes(gzip.compress(data, mtime=0) if out.suffix == ".gz" else data)
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StoreError(f"{out}: cannot write: {exc.strerror}") from None
    return out


def import_file(store: Store, path: str | os.PathLike[str]) -> int:
    """Import a JSON file (``.gz``: gzip-compressed) holding one submission or an array of
    them, all or nothing. Returns how many were new (importing the same file twice adds
    nothing)."""
    src = Path(path)
    try:
        raw = src.read_bytes()
        if src.suffix == ".gz":
            raw = gzip.decompress(raw)
    except OSError as exc:
        raise StoreError(f"{src}: cannot read: {exc.strerror or exc}") from None
    except EOFError:
        raise StoreError(f"{src}: cannot read: truncated gzip data") from None
    doc = loads_strict(raw, str(src))
    docs = doc if isinstance(doc, list) else [doc]
    if not docs:
        return 0
    try:
        return store.import_submissions(docs)
    except StoreError as exc:
        raise type(exc)(f"{src}: {exc}") from None
