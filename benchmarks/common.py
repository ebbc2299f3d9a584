"""What every benchmark shares: repeated timed runs, their median and spread, and the report.

Rules (docs/development.md, "Benchmarks"): a figure times at least ``MIN_SECONDS`` of work,
is the median of several runs and comes with its spread; a peer a benchmark compares
against is installed or the benchmark fails (:func:`require`), never skipped.

:func:`emit` prints the report as JSON on stdout and, when ``EARSHOT_BENCH_RESULTS`` names a
directory (``make bench`` sets ``benchmarks/results``), also writes ``<name>.json`` there,
with the machine, the commit, the date and the load average at the end of the run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MIN_SECONDS = 1.0
"""Shortest stretch of work one measured figure may time, seconds."""


def summary(values: Sequence[float], digits: int = 1) -> dict[str, Any]:
    """Median of several runs with their spread.

    Returns:
        ``{"median", "min", "max", "spread_pct", "runs"}``; ``spread_pct`` is
        ``(max - min) / median`` in percent.

    Raises:
        ValueError: with no values.
    """
    if not values:
        raise ValueError("no runs to summarise")
    median = statistics.median(values)
    spread = (max(values) - min(values)) / median * 100 if median else 0.0
    return {
        "median": round(median, digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "spread_pct": round(spread, 1),
        "runs": [round(v, digits) for v in values],
    }


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile, ``q`` in 0..100 (``values`` unsorted).

    Raises:
        ValueError: with no values.
    """
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def scaled(count: int, seconds: float, target: float = MIN_SECONDS * 1.3) -> int:
    """Work count that should take ``target`` seconds, given that ``count`` took ``seconds``."""
    return max(count, int(count * target / max(seconds, 1e-6)) + 1)


def rates(work: Callable[[], object], units: float, runs: int = 5) -> tuple[list[float], float]:
    """Time ``work`` (``units`` of work per call) in ``runs`` runs of at least ``MIN_SECONDS``.

    Each run calls ``work`` until ``MIN_SECONDS`` have passed and counts units per second
    over the whole run, so no figure rests on a few milliseconds of timing.

    Returns:
        (units per second of each run, seconds of the shortest run).
    """
    out: list[float] = []
    shortest = float("inf")
    for _ in range(runs):
        calls, started = 0, time.perf_counter()
        while True:
            work()
            calls += 1
            elapsed = time.perf_counter() - started
            if elapsed >= MIN_SECONDS:
                break
        out.append(calls * units / elapsed)
        shortest = min(shortest, elapsed)
    return out, shortest


def apt_install(packages: list[str]) -> bool:
    """Install Debian ``packages`` (one ``apt-get update`` first) when running as root with
    apt-get; False (nothing tried) otherwise. Failures are left to the caller's check."""
    if not shutil.which("apt-get") or os.geteuid() != 0:
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        subprocess.run(cmd, check=False, env=env, stdout=subprocess.DEVNULL)
    return True


def require(program: str, apt_package: str) -> str:
    """Path of ``program``, installed from Debian's ``apt_package`` when missing.

    Raises:
        SystemExit: it is missing and cannot be installed (the benchmark stops loudly).
    """
    found = shutil.which(program)
    if found:
        return found
    print(f"{program} missing: apt-get install {apt_package}", file=sys.stderr)
    if apt_install([apt_package]):
        found = shutil.which(program)
    if not found:
        sys.exit(f"{program} is required by this benchmark: install Debian's {apt_package} (apt-get)")
    return found


def machine() -> dict[str, Any]:
    """Where the figures come from: CPU, cores, memory, OS, Python."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
        "hostname": platform.node(),
    }


def commit() -> str | None:
    """The checked-out commit (with ``-dirty`` when the work tree has changes), or None."""
    try:
        sha = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return sha + ("-dirty" if dirty else "")


def emit(name: str, result: dict[str, Any]) -> dict[str, Any]:
    """Print the report of benchmark ``name`` as JSON (and write it under ``EARSHOT_BENCH_RESULTS``).

    Adds ``benchmark``, ``date`` (UTC, ISO 8601), ``commit``, ``machine`` and
    ``load_average`` (1, 5, 15 min: other work on the machine skews figures).
    """
    report = {
        "benchmark": name,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "commit": commit(),
        "machine": machine(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        **result,
    }
    text = json.dumps(report, indent=2)
    print(text)
    out_dir = os.environ.get("EARSHOT_BENCH_RESULTS")
    if out_dir:
        path = Path(out_dir)
        path.mkdir(parents=True, exist_ok=True)
        (path / f"{name}.json").write_text(text + "\n")
    return report
