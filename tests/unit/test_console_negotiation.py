"""``GET /`` content negotiation of the console (``prefers_html``) and the vendored files' manifests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from services.gateway.products.console.router import prefers_html

ROOT = Path(__file__).resolve().parents[2]

CHROME = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SAFARI = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize("accept", [CHROME, FIREFOX, SAFARI, "text/html", "text/*, application/json;q=0.5"])
def test_browsers_prefer_html(accept: str) -> None:
    assert prefers_html(accept)


@pytest.mark.parametrize(
    "accept",
    [
        "",
        "*/*",
        "application/json",
        "application/json, text/html",  # a tie keeps the API answer
        "text/html;q=0.5, application/json",
        "text/html;q=0, */*",
        "text/html;q=abc",
        "application/*, text/html;q=0.9",
        ",,;",
    ],
)
def test_api_clients_keep_json(accept: str) -> None:
    assert not prefers_html(accept)


def test_vendored_files_match_their_manifests() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "fetch_console_vendor.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
