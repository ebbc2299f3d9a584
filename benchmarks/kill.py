"""Benchmark: the embedded kill scenario of issue 15, figures as JSON.

Starts ``earshot up`` on a fresh data folder, submits jobs of every kind, SIGKILLs it mid-job
and restarts it ``ROUNDS`` times (default 10), lets it finish and prints what became of the
jobs: submitted / succeeded / failed (with reasons) / lost / stuck per kind, duplicated
result rows, objects and temp folders left, orphan processes, start-up and settle times
(``tests/embedded/kill_harness.py``). The assertions are in ``tests/embedded/test_kill.py``.

Usage: python benchmarks/kill.py [ROUNDS]
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "proto"))

from tests.embedded.kill_harness import run  # noqa: E402


def main() -> None:
    """Run the scenario and print its figures as one JSON object."""
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    with tempfile.TemporaryDirectory(prefix="earshot-kill-") as tmp:
        figures = run(Path(tmp), rounds=rounds)
    print(json.dumps({"benchmark": "kill", "mode": "embedded", **figures.as_dict()}))


if __name__ == "__main__":
    main()
