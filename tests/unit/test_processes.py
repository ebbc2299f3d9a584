"""Pool workers die with their parent, whether it is SIGKILLed or exits without shutting the
pool down; checked through /proc (a zombie counts as dead). Bounded in time, no wall-clock
assertion: the test polls until the workers are gone or its deadline passes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

PARENT = r"""
import multiprocessing, os, sys, time
from concurrent.futures import ProcessPoolExecutor
from services.common.processes import die_with_parent

def pid():
    return os.getpid()

if __name__ == "__main__":
    pool = ProcessPoolExecutor(
        max_workers=2,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=die_with_parent,
        initargs=(os.getpid(), 0.1),
    )
    pids = {pool.submit(pid).result() for _ in range(4)}
    pids |= {p.pid for p in pool._processes.values()}
    print(" ".join(map(str, sorted(pids))), flush=True)
    if sys.argv[1] == "exit":
        os._exit(0)  # ends without shutting the pool down
    time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def _wait_gone(pids: list[int], deadline_s: float) -> list[int]:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        left = [p for p in pids if _alive(p)]
        if not left:
            return []
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


@pytest.mark.parametrize("how", ["sigkill", "exit"])
def test_workers_die_with_their_parent(tmp_path: Path, how: str) -> None:
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    parent = subprocess.Popen(
        [sys.executable, str(script), how], stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path
    )
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        workers = [int(p) for p in line.split()]
        assert workers and all(_alive(p) for p in workers), line
        if how == "sigkill":
            parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        assert _wait_gone(workers, deadline_s=30) == []
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=10)
        for pid in workers if "workers" in locals() else []:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
