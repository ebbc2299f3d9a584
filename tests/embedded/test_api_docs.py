"""``/docs`` and ``/redoc`` work offline: every asset URL in the pages (and in the CSS they
load) stays on the gateway and answers 200; seed 004's ``/api/docs`` and ``/swagger``
redirect to ``/docs``."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from tests.conftest import Embedded

URL_ATTRIBUTES = {"src", "href", "spec-url", "data", "poster", "srcset", "action"}


class _Urls(HTMLParser):
    """Collect every URL-carrying attribute of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in URL_ATTRIBUTES and v]


def page_urls(html: str) -> list[str]:
    """URLs of a page: tag attributes, ``url: '...'`` in inline scripts, and any absolute URL."""
    parser = _Urls()
    parser.feed(html)
    inline = re.findall(r"""\burl:\s*['"]([^'"]+)['"]""", html)
    absolute = re.findall(r"""(?:https?:)?//[^\s'"<>)]+""", html)
    return parser.urls + inline + absolute


def assert_local(base: str, urls: list[str]) -> list[str]:
    """Resolve each URL against the gateway and fail for one on another host."""
    host = urlsplit(base).netloc
    resolved = []
    for url in urls:
        full = urljoin(base + "/", url)
        assert urlsplit(full).netloc == host, f"{url!r} leaves the gateway"
        resolved.append(full)
    return resolved


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_pages_load_every_asset_from_the_gateway(
    client: httpx.AsyncClient, embedded: Embedded, page: str
) -> None:
    html = await client.get(page)
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    assets = assert_local(embedded.url, page_urls(html.text))
    scripts = [u for u in assets if u.endswith(".js")]
    assert scripts, "the page loads no script"
    assert any(u.endswith("/openapi.json") for u in assets)
    for url in assets:
        answer = await client.get(url)
        assert answer.status_code == 200, url
        assert answer.content, url
        if url.endswith(".css"):
            # A stylesheet may pull fonts or images: only inline data or the gateway itself.
            for ref in re.findall(r"""url\(\s*['"]?([^'")]+)""", answer.text):
                if not ref.startswith("data:"):
                    assert_local(embedded.url, [ref])
            assert "@import" not in answer.text


async def test_swagger_ui_does_not_call_the_online_validator(client: httpx.AsyncClient) -> None:
    html = (await client.get("/docs")).text
    assert '"validatorUrl": null' in html


async def test_seed_004_documentation_addresses_redirect_to_docs(client: httpx.AsyncClient) -> None:
    for alias in ("/api/docs", "/swagger"):
        answer = await client.get(alias)
        assert answer.status_code == 307
        assert answer.headers["location"] == "/docs"
        followed = await client.get(alias, follow_redirects=True)
        assert followed.status_code == 200 and "swagger-ui" in followed.text


async def test_unknown_asset_is_a_json_404(client: httpx.AsyncClient) -> None:
    answer = await client.get("/static/docs/../../pyproject.toml")
    assert answer.status_code == 404
    answer = await client.get("/static/docs/jquery.js")
    assert answer.status_code == 404
    assert set(answer.json()) == {"error", "details", "timestamp"}


async def test_docs_pages_are_not_operations(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not {"/docs", "/redoc", "/swagger", "/api/docs"} & set(paths)
