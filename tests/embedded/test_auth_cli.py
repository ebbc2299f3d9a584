"""``earshot users create|list|disable|enable`` as a real command on its own database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def earshot(data_dir: Path, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EARSHOT_DATA_DIR": str(data_dir), "EARSHOT_LOG_LEVEL": "warning"}
    if password is not None:
        env["EARSHOT_USER_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "users", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_users_commands(tmp_path: Path) -> None:
    created = earshot(tmp_path, "create", "Ops@Example.com", "--name", "Ops", password="sturdy-password-42")
    assert created.returncode == 0, created.stderr
    user = json.loads(created.stdout)
    assert user["email"] == "ops@example.com" and user["is_active"] is True

    duplicate = earshot(tmp_path, "create", "ops@example.com", password="sturdy-password-42")
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    weak = earshot(tmp_path, "create", "weak@example.com", password="123")
    assert weak.returncode == 1 and "at least 8" in weak.stderr

    disabled = earshot(tmp_path, "disable", "ops@example.com")
    assert disabled.returncode == 0 and json.loads(disabled.stdout)["is_active"] is False
    listed = earshot(tmp_path, "list", "--json")
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["email"], r["is_active"]) for r in rows] == [("ops@example.com", False)]
    assert earshot(tmp_path, "enable", user["id"]).returncode == 0
    table = earshot(tmp_path, "list")
    assert "ops@example.com" in table.stdout and "active" in table.stdout

    missing = earshot(tmp_path, "disable", "nobody@example.com")
    assert missing.returncode == 1 and "no user" in missing.stderr


@pytest.mark.parametrize("args", [["create"], ["frobnicate"]])
def test_users_bad_usage(tmp_path: Path, args: list[str]) -> None:
    assert earshot(tmp_path, *args).returncode == 2
