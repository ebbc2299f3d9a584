"""Routes of the console: the page and its assets under ``/console/``, and the browser side
of ``GET /`` (a client that prefers ``text/html`` is redirected to ``/console/``; API clients
keep seed 002's JSON, answered by the photos product's ``GET /``) and of the web surface's
OAuth callbacks (a browser coming back from Google or Microsoft gets the console page, which
finishes the sign-in through the API's JSON callback).

Every console response carries a Content-Security-Policy that allows only the gateway's own
origin (scripts, styles, media, connections), so the page cannot load or send anything
elsewhere even by mistake.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope

from services.gateway.shared.errors import ApiError

STATIC = Path(__file__).parent / "static"
"""The console's files (``index.html``, ``app.css``, ``app.js``, ``vendor/``)."""

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' blob: data:; connect-src 'self' blob:; "
    "worker-src 'self' blob:; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
"""Only the gateway's origin. ``style-src 'unsafe-inline'`` is for the style elements
wavesurfer.js puts in its shadow DOM; scripts are never inline."""

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".md": "text/plain; charset=utf-8",
    "": "text/plain; charset=utf-8",  # LICENSE files
}


def prefers_html(accept: str) -> bool:
    """True when an ``Accept`` header ranks ``text/html`` strictly above ``application/json``.

    Quality values per RFC 9110 section 12.5.1; the most specific range matching a type
    gives its quality (``text/html`` over ``text/*`` over ``*/*``). A browser's navigation
    (``text/html,...,*/*;q=0.8``) prefers HTML; ``*/*`` (curl, httpx) and ``application/json``
    do not, so API clients keep the JSON answer.
    """
    ranges: list[tuple[str, float]] = []
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if not media:
            continue
        q = 1.0
        for param in fields[1:]:
            if param.lower().startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        ranges.append((media, q))

    def quality(media_type: str) -> float:
        main = media_type.split("/")[0]
        best: tuple[int, float] = (-1, 0.0)
        for media, q in ranges:
            specificity = (
                2 if media == media_type else 1 if media == f"{main}/*" else 0 if media == "*/*" else -1
            )
            if specificity > best[0]:
                best = (specificity, q)
        return best[1]

    html = quality("text/html")
    return html > 0 and html > quality("application/json")


class BrowserRoute(APIRoute):
    """An API route that matches only requests whose ``Accept`` prefers HTML (:func:`prefers_html`);
    any other request falls through to the next route with the same path."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Starlette's match, narrowed to browsers."""
        match, child = super().matches(scope)
        if match is Match.NONE or scope.get("type") != "http":
            return match, child
        accept = dict(scope.get("headers") or []).get(b"accept", b"").decode("latin-1")
        return (match, child) if prefers_html(accept) else (Match.NONE, {})


browser_router = APIRouter(route_class=BrowserRoute, include_in_schema=False)
"""Routes for browsers only; included before the product routers that serve the same paths."""

router = APIRouter(tags=["console"], include_in_schema=False)


@browser_router.get("/")
async def root_for_browsers() -> RedirectResponse:
    """``GET /`` from a browser: 307 to the console."""
    return RedirectResponse("/console/", status_code=307)


@browser_router.get("/api/v1/web/auth/google/callback")
async def google_callback_for_browsers() -> FileResponse:
    """The provider's redirect back to the web surface, opened by a browser: the console page,
    which finishes the sign-in by asking the same URL for JSON (the API's callback) and keeps
    the tokens in memory. API clients (``Accept: application/json``) reach the API route directly."""
    return _file(STATIC / "index.html", cache="no-store")


@browser_router.get("/api/v1/web/auth/microsoft/callback")
async def microsoft_callback_for_browsers() -> FileResponse:
    """As :func:`google_callback_for_browsers`, for Microsoft."""
    return _file(STATIC / "index.html", cache="no-store")


@router.get("/console")
async def console_without_slash() -> RedirectResponse:
    """``/console`` -> ``/console/`` (relative asset URLs need the slash)."""
    return RedirectResponse("/console/", status_code=308)


@router.get("/console/")
async def console_page() -> FileResponse:
    """The single page (``static/index.html``); navigation inside it uses the URL fragment."""
    return _file(STATIC / "index.html", cache="no-cache")


@router.get("/console/{asset:path}")
async def console_asset(asset: str) -> FileResponse:
    """A file of the console (``app.js``, ``app.css``, ``vendor/...``). 404 for anything outside
    ``static/`` or missing."""
    root = STATIC.resolve()
    path = (root / asset).resolve()
    if not path.is_relative_to(root) or not path.is_file() or path.name.startswith("."):
        raise ApiError(404, "Not found", f"the console has no file '{asset}'")
    vendored = "vendor" in path.relative_to(root).parts
    return _file(path, cache="public, max-age=86400" if vendored else "no-cache")


def _file(path: Path, cache: str) -> FileResponse:
    headers: dict[str, Any] = {**SECURITY_HEADERS, "Cache-Control": cache}
    return FileResponse(
        path, media_type=_MEDIA_TYPES.get(path.suffix, "application/octet-stream"), headers=headers
    )
