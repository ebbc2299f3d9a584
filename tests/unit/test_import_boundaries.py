"""A service never imports another: import-linter's contracts from pyproject.toml."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_hold() -> None:
    exe = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(exe), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"Contracts: \d+ kept, 0 broken", result.stdout), result.stdout
    for contract in (
        "Services never import one another",
        "The shared kernel imports no service",
        "Gateway products never import one another",
        "Gateway shared code, clients and dependencies import no product",
        "Media: the render workers never import the pipeline",
    ):
        assert contract in result.stdout, contract
