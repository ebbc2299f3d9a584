"""The one place the gateway reads Earshot's version (OpenAPI ``info.version``, ``GET /``)."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version

__all__ = ["earshot_version"]


@cache
def earshot_version() -> str:
    """The installed ``earshot`` distribution's version, ``"0.0.0"`` when it is not installed."""
    try:
        return version("earshot")
    except PackageNotFoundError:
        return "0.0.0"
