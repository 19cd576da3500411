"""The library versions an adapter supports, checked in one line."""

from __future__ import annotations

from packaging.version import Version


def check_version(
    adapter: str, package: str, found: str, supported: tuple[Version, Version]
) -> None:
    """Raise ``ImportError`` (one line) unless ``low <= found < high``."""
    low, high = supported
    if not low <= Version(found) < high:
        raise ImportError(
            f"{adapter} supports {package} >={low},<{high}; found {package} {found} "
            "(pip install 'coopbench[benchmarl]' installs a supported one)"
        )
