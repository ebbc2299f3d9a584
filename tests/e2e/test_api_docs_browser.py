"""``/docs`` and ``/redoc`` render in headless Chromium with the network off: every host but
loopback resolves to nothing and every proxied request goes to a closed port, so the pages
render only if all their assets come from the gateway. The rendered DOM is checked for what
only the JavaScript produces (operations of the OpenAPI document)."""

from __future__ import annotations

import asyncio
import os
import shutil

import pytest

from tests.conftest import Embedded

CHROMIUM = os.environ.get("EARSHOT_CHROMIUM", "/usr/bin/chromium")
OFFLINE = (
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1",
)


async def rendered_dom(url: str) -> str:
    """The DOM of ``url`` after its scripts ran (20 s of virtual time), Chromium offline.

    Raises:
        RuntimeError: Chromium is missing (Debian's ``chromium`` package) or failed.
    """
    if not shutil.which(CHROMIUM):
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install chromium (or set EARSHOT_CHROMIUM)")
    proc = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        *OFFLINE,
        "--virtual-time-budget=20000",
        "--dump-dom",
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    if proc.returncode != 0:
        raise RuntimeError(f"chromium exited with {proc.returncode}: {err.decode()[-500:]}")
    return out.decode()


@pytest.mark.parametrize(
    ("page", "rendered_marker"),
    [("/docs", "opblock-summary"), ("/redoc", "menu-content")],
)
async def test_docs_render_offline(embedded: Embedded, page: str, rendered_marker: str) -> None:
    dom = await rendered_dom(embedded.url + page)
    assert rendered_marker in dom, f"{page} did not render offline"
    # Operations come from /openapi.json through the page's JavaScript, never from the HTML.
    assert "/analyze-audio" in dom and "/v1/audio/transcriptions" in dom
