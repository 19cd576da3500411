"""The thread policy of every run: one torch intra-op thread unless asked otherwise.

Small networks gain nothing from several intra-op threads — they mostly spin (measured: a
20k-step run of a small algorithm took 35 s with two threads and 2.8 s with one on a busy
two-core machine) — and the thread count changes the order of floating-point sums, so a run
is only bit-for-bit repeatable under the thread count it was made with. ``run_experiment``
applies the policy around every run (so ``coopbench train``, ``bench``, the sweeps and the
Python API all share it) and records what was in force in the submission's
``provenance.threads``.

The count is, in order: the ``threads=`` argument (``--threads N`` on the CLI), else
``$COOPBENCH_THREADS``, else 1. Inside the policy torch uses that many intra-op threads,
the ``OMP_NUM_THREADS``/``MKL_NUM_THREADS``/``OPENBLAS_NUM_THREADS`` variables say the same
to libraries loaded later and to worker processes, and, when threadpoolctl is installed,
the BLAS pools already loaded are limited too. Everything is restored on exit.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

THREADS_ENV = "COOPBENCH_THREADS"
BLAS_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

__all__ = [
    "BLAS_ENV",
    "THREADS_ENV",
    "resolve_threads",
    "thread_policy",
    "thread_settings",
    "worker_env",
]


def _check(value: Any, where: str) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if isinstance(value, bool) or n < 1 or str(n) != str(value).strip():
        raise ValueError(f"{where}={value!r} is invalid; expected a positive integer")
    return n


def resolve_threads(threads: int | None = None) -> int:
    """The thread count in force: ``threads``, else ``$COOPBENCH_THREADS``, else 1."""
    if threads is not None:
        return _check(threads, "threads")
    env = os.environ.get(THREADS_ENV)
    return 1 if env in (None, "") else _check(env, THREADS_ENV)


def worker_env(threads: int | None = None) -> dict[str, str]:
    """The environment variables a worker process needs for the policy (set before torch or
    numpy load there)."""
    n = str(resolve_threads(threads))
    return {THREADS_ENV: n, **dict.fromkeys(BLAS_ENV, n)}


@contextmanager
def thread_policy(threads: int | None = None) -> Iterator[int]:
    """Apply the thread policy (see the module docstring) and restore everything after.
    Yields the thread count."""
    n = resolve_threads(threads)
    saved_env = {var: os.environ.get(var) for var in (THREADS_ENV, *BLAS_ENV)}
    torch = sys.modules.get("torch")  # an algorithm using torch has imported it by now
    saved_torch = torch.get_num_threads() if torch is not None else None
    with ExitStack() as stack:
        os.environ.update(worker_env(n))
        stack.callback(_restore_env, saved_env)
        if torch is not None:
            torch.set_num_threads(n)
            stack.callback(torch.set_num_threads, saved_torch)
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            pass
        else:
            stack.enter_context(threadpool_limits(limits=n))
        yield n


def _restore_env(saved: dict[str, str | None]) -> None:
    for var, value in saved.items():
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value


def thread_settings(requested: int | None = None) -> dict[str, Any]:
    """The thread settings in force now, as recorded in ``provenance.threads``: the policy's
    count, torch's intra/inter-op threads (None when torch is not loaded), the BLAS
    environment variables and, with threadpoolctl, the loaded BLAS/OpenMP pools."""
    torch = sys.modules.get("torch")
    settings: dict[str, Any] = {
        "requested": resolve_threads(requested),
        "torch_intra_op": torch.get_num_threads() if torch is not None else None,
        "torch_inter_op": torch.get_num_interop_threads() if torch is not None else None,
        "env": {var: os.environ.get(var) for var in BLAS_ENV},
        "blas": None,
    }
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return settings
    settings["blas"] = [
        {k: str(pool.get(k)) for k in ("user_api", "internal_api", "version", "num_threads")}
        for pool in threadpool_info()
    ]
    return settings
