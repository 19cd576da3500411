"""Submission files: export a store to JSON, import JSON into a store (all or nothing).

Export writes schema version 2 (each return array base64 of its little-endian bytes, so a
file is no larger than the data); import reads versions 1 and 2. A path ending in ``.gz`` is
gzip-compressed JSON."""

from __future__ import annotations

import contextlib
import gzip
import os
import zlib
from collections.abc import Collection
from pathlib import Path
from typing import Any, BinaryIO

from coopbench.results.errors import StoreError
from coopbench.results.store import Store
from coopbench.results.submission import (
    SCHEMA_VERSION,
    canonical_json,
    encode_submission,
    loads_strict,
)

__all__ = ["export_file", "import_document", "import_file", "read_json"]


def export_file(
    store: Store, path: str | os.PathLike[str], run_keys: Collection[str] | None = None
) -> Path:
    """Write the finished submissions (all, or those of ``run_keys``) to a JSON file (an
    array, one submission per line, schema version 2; gzip-compressed when the path ends in
    ``.gz``), atomically (a temporary file renamed into place), one run at a time. Returns
    the path."""
    out = Path(path)
    metas = store.metas() if run_keys is None else store.metas_of(run_keys)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as raw, _maybe_gzip(raw, out.suffix == ".gz") as fh:
            fh.write(b"[" if metas else b"[]\n")
            for i, key in enumerate(sorted(metas)):
                doc = encode_submission(store.decoded(key, metas[key]), SCHEMA_VERSION)
                fh.write(b",\n" if i else b"\n")
                fh.write(canonical_json(doc).encode("utf-8"))
            if metas:
                fh.write(b"\n]\n")
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StoreError(f"{out}: cannot write: {exc.strerror}") from None
    return out


def _maybe_gzip(raw: BinaryIO, compress: bool) -> contextlib.AbstractContextManager[Any]:
    """``raw`` itself, or a gzip stream into it (reproducible: no timestamp)."""
    if not compress:
        return contextlib.nullcontext(raw)
    return gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0)


def import_file(store: Store, path: str | os.PathLike[str]) -> int:
    """Import a JSON file (``.gz``: gzip-compressed) holding one submission or an array of
    them, all or nothing. Returns how many were new (importing the same file twice adds
    nothing)."""
    return import_document(store, read_json(path), path)


def read_json(path: str | os.PathLike[str]) -> Any:
    """The parsed JSON of a file (``.gz``: gzip-compressed); ``StoreError`` naming it."""
    src = Path(path)
    try:
        raw = src.read_bytes()
        if src.suffix == ".gz":
            raw = gzip.decompress(raw)
    except OSError as exc:
        raise StoreError(f"{src}: cannot read: {exc.strerror or exc}") from None
    except (EOFError, zlib.error):
        raise StoreError(f"{src}: cannot read: truncated or corrupt gzip data") from None
    return loads_strict(raw, str(src))


def import_document(store: Store, doc: Any, path: str | os.PathLike[str]) -> int:
    """Import parsed submissions (one or a list) read from ``path``, all or nothing."""
    src = Path(path)
    docs = doc if isinstance(doc, list) else [doc]
    if not docs:
        return 0
    try:
        return store.import_submissions(docs)
    except StoreError as exc:
        raise type(exc)(f"{src}: {exc}") from None
