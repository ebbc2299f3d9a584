"""The event loop every Earshot process runs on: uvloop when installed, else asyncio's own.

uvloop (libuv; https://github.com/MagicStack/uvloop) comes with ``uvicorn[standard]``, a core
dependency, together with httptools, the HTTP parser uvicorn then picks. uvicorn only chooses
the loop itself when it creates it (``uvicorn.run``); our processes create theirs, so they
ask for it here. ``EARSHOT_EVENT_LOOP=asyncio`` forces the standard loop (to rule the loop out
when chasing a bug).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_name() -> str:
    """``"uvloop"`` when :func:`run` will use uvloop, else ``"asyncio"``."""
    if os.environ.get("EARSHOT_EVENT_LOOP", "auto").strip().lower() == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on a new event loop (uvloop when available) and return its result.

    Raises:
        whatever ``main`` raises.
    """
    if loop_name() == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)
