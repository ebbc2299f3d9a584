"""Worker processes that die with their parent.

A worker started by a :class:`~concurrent.futures.ProcessPoolExecutor` (media's ``spawn``
pool) outlives a parent that is killed (``SIGKILL``, OOM) or exits without shutting the pool
down: it is re-parented and keeps its memory (hundreds of MB of models) forever.
:func:`die_with_parent` is the pool's ``initializer``: a daemon thread polls the parent's pid
(``os.getppid()`` changes when the parent dies and the worker is re-parented) and ends the
worker at once. Polling works whichever way the parent ends and on every POSIX system; Linux's
``PR_SET_PDEATHSIG`` is not used because it fires when the parent *thread* that spawned the
worker ends, not the parent process (prctl(2)).
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["POLL_S", "die_with_parent"]

POLL_S = 0.5
"""Seconds between two checks of the parent pid."""


def die_with_parent(parent_pid: int, poll_s: float = POLL_S) -> None:
    """Make the calling process exit (status 1, no clean-up) as soon as ``parent_pid`` is no
    longer its parent. Call it first thing in the worker (a pool ``initializer``).

    Args:
        parent_pid: the pid of the process that started this one (``os.getpid()`` in the parent,
            passed through ``initargs``).
        poll_s: seconds between checks (the worker ends at most this long after the parent).
    """
    if os.getppid() != parent_pid:  # the parent died before we got here
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="earshot-parent-watchdog", daemon=True).start()
