"""The console's routes on the embedded gateway: the page and its assets with a same-origin
Content-Security-Policy, nothing outside ``static/``, and ``GET /`` negotiated (browsers to
``/console/``, API clients keep seed 002's JSON)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest

from services.gateway.products.console.router import STATIC

pytestmark = pytest.mark.embedded

BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


async def test_root_redirects_browsers_and_answers_json_to_api_clients(client: httpx.AsyncClient) -> None:
    browser = await client.get("/", headers=BROWSER)
    assert browser.status_code == 307 and browser.headers["location"] == "/console/"
    for accept in ("*/*", "application/json"):
        api = await client.get("/", headers={"accept": accept})
        assert api.status_code == 200
        assert api.json()["service"] == "Earshot" and api.json()["status"] == "healthy"
    assert "/" in (await client.get("/openapi.json")).json()["paths"]  # the JSON route is documented


async def test_the_page_and_its_assets(client: httpx.AsyncClient) -> None:
    page = await client.get("/console/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert "http" not in csp  # no other origin is allowed
    assert "<script" in page.text and "https://" not in page.text and "http://" not in page.text
    assert (await client.get("/console")).headers["location"] == "/console/"
    js = await client.get("/console/app.js")
    assert js.headers["content-type"].startswith("text/javascript")
    assert js.headers["cache-control"] == "no-cache"
    manifest = json.loads((STATIC / "vendor" / "chart.js" / "SOURCE.json").read_text())
    chart = await client.get("/console/vendor/chart.js/chart.umd.min.js")
    assert hashlib.sha256(chart.content).hexdigest() == manifest["sha256"]["chart.umd.min.js"]
    assert "max-age" in chart.headers["cache-control"]
    assert (await client.get("/console/vendor/chart.js/LICENSE.md")).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/console/nope.js",
        "/console/../router.py",
        "/console/%2e%2e/router.py",
        "/console/vendor",
        "/console/..%2f..%2fpyproject.toml",
    ],
)
async def test_nothing_outside_static_is_served(client: httpx.AsyncClient, path: str) -> None:
    res = await client.get(path)
    assert res.status_code == 404
    assert set(res.json()) == {"error", "details", "timestamp"}


async def test_a_browser_back_from_the_provider_gets_the_page(client: httpx.AsyncClient) -> None:
    for provider in ("google", "microsoft"):
        path = f"/api/v1/web/auth/{provider}/callback?code=c&state=s"
        page = await client.get(path, headers=BROWSER)
        assert page.status_code == 200 and "/console/app.js" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        api = await client.get(path, headers={"accept": "application/json"})
        assert api.status_code >= 400 and set(api.json()) == {"error", "details", "timestamp"}


def test_every_file_the_page_names_exists() -> None:
    html = (STATIC / "index.html").read_text()
    import re

    refs = re.findall(r'(?:src|href)="/console/([^"#]+)"', html)
    assert len(refs) == 7
    for ref in refs:
        assert (STATIC / ref).is_file(), ref
    assert Path(STATIC / "app.js").read_text().count("https://") == 0
