"""Safe checkpoints: tensors and plain data only, loaded with ``weights_only=True``.

``torch.load(weights_only=True)`` refuses arbitrary pickled objects, so opening a
checkpoint from an untrusted leaderboard submission cannot run code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn


def save_checkpoint(path: str | Path, modules: dict[str, nn.Module], meta: dict[str, Any]) -> None:
    """Write the state dicts of ``modules`` and JSON-like ``meta`` to ``path`` atomically."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    payload = {"meta": meta, "state": {k: m.state_dict() for k, m in modules.items()}}
    torch.save(payload, tmp)
    tmp.replace(target)


def load_checkpoint(path: str | Path, modules: dict[str, nn.Module]) -> dict[str, Any]:
    """Load state dicts into ``modules`` (names must match) and return the stored meta."""
    try:
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt file, foreign pickle, missing file
        raise ValueError(f"cannot read checkpoint {str(path)!r}: {exc}") from None
    state = payload.get("state", {}) if isinstance(payload, dict) else {}
    missing = sorted(set(modules) - set(state))
    if missing:
        raise ValueError(f"checkpoint {str(path)!r} lacks {missing}; it holds {sorted(state)}")
    for name, module in modules.items():
        module.load_state_dict(state[name])
    return payload.get("meta", {})
