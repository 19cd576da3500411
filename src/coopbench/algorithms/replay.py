"""A replay buffer over batched envs: one ``add`` stores B worlds' transitions at once.

Fields are named numpy arrays with a leading capacity axis; ``add`` writes a
``[B, ...]`` batch into the ring, ``sample`` draws uniformly with the caller's
generator, ``ordered`` yields the stored transitions in the order they were
written (CTEDD's chronological distillation, §4.2).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from coopbench.validation import check_int


class ReplayBuffer:
    """Fixed-capacity ring of transitions with per-field shapes and dtypes."""

    def __init__(self, capacity: int, fields: dict[str, tuple[tuple[int, ...], type]]) -> None:
        self.capacity = check_int(capacity, "capacity")
        self.data = {
            name: np.zeros((self.capacity, *shape), dtype=dtype)
            for name, (shape, dtype) in fields.items()
        }
        self.size = 0
        self.written = 0  # transitions ever added (the chronological index)
        self._next = 0

    def __len__(self) -> int:
        return self.size

    def add(self, **batch: np.ndarray) -> None:
        """Append a batch ``{field: [B, ...]}``; every field must be given."""
        missing = set(self.data) - set(batch)
        if missing:
            raise ValueError(f"replay add is missing fields {sorted(missing)}")
        b = len(next(iter(batch.values())))
        if b > self.capacity:
            raise ValueError(f"batch of {b} exceeds the replay capacity {self.capacity}")
        idx = (self._next + np.arange(b)) % self.capacity
        for name, value in batch.items():
            self.data[name][idx] = value
        self._next = (self._next + b) % self.capacity
        self.size = min(self.size + b, self.capacity)
        self.written += b

    def sample(self, batch_size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Uniform sample with replacement of ``batch_size`` stored transitions."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        idx = rng.integers(0, self.size, batch_size)
        return {name: arr[idx] for name, arr in self.data.items()}

    def ordered(self, start: int, batch_size: int) -> Iterator[dict[str, np.ndarray]]:
        """Consecutive mini-batches of the transitions written since ``start`` (a ``written``
        count), oldest first; transitions already overwritten are skipped."""
        first = max(start, self.written - self.size)
        for lo in range(first, self.written, batch_size):
            hi = min(lo + batch_size, self.written)
            idx = np.arange(lo, hi) % self.capacity
            yield {name: arr[idx] for name, arr in self.data.items()}
