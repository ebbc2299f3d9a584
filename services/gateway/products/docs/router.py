"""Swagger UI and ReDoc, offline: every asset is served by the gateway itself.

FastAPI's own ``/docs`` and ``/redoc`` load Swagger UI, ReDoc, their CSS, a favicon and
(ReDoc) Google Fonts from CDNs, so on a machine without Internet access the pages stay
blank. Here the JavaScript and CSS come from the ``fastapi-offline`` PyPI package
(Swagger UI, Apache-2.0; ReDoc, MIT; the package, MIT), served under
``/static/docs/<file>``; ReDoc is rendered with the system font stack (no web fonts are
fetched), and Swagger UI's online validator badge is turned off (``validatorUrl: null``).

Routes:

* ``GET /docs``: Swagger UI; ``GET /docs/oauth2-redirect``: its OAuth2 redirect page.
* ``GET /redoc``: ReDoc.
* ``GET /api/docs`` and ``GET /swagger`` (seed 004's addresses): 307 to ``/docs``.
* ``GET /static/docs/{asset}``: the four asset files.

The application must be created with ``docs_url=None, redoc_url=None`` so FastAPI's CDN
pages are not registered as well.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

ASSETS = Path(fastapi_offline.__file__).parent / "static"
"""Folder of the packaged Swagger UI and ReDoc files."""

ASSET_NAMES = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png"})
_MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
STATIC_PREFIX = "/static/docs"

router = APIRouter(include_in_schema=False)


def _root(request: Request) -> str:
    return str(request.scope.get("root_path") or "").rstrip("/")


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI for ``/openapi.json``, with every asset from this gateway."""
    root = _root(request)
    app = request.app
    return get_swagger_ui_html(
        openapi_url=f"{root}{app.openapi_url}",
        title=f"{app.title} - Swagger UI",
        oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
        swagger_js_url=f"{root}{STATIC_PREFIX}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{STATIC_PREFIX}/swagger-ui.css",
        swagger_favicon_url=f"{root}{STATIC_PREFIX}/favicon.png",
        swagger_ui_parameters={"validatorUrl": None, **(app.swagger_ui_parameters or {})},
    )


@router.get("/docs/oauth2-redirect")
async def swagger_ui_oauth2_redirect() -> HTMLResponse:
    """Swagger UI's OAuth2 redirect page (no external asset)."""
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    """ReDoc for ``/openapi.json``, with its bundle from this gateway and no web fonts."""
    root = _root(request)
    app = request.app
    return get_redoc_html(
        openapi_url=f"{root}{app.openapi_url}",
        title=f"{app.title} - ReDoc",
        redoc_js_url=f"{root}{STATIC_PREFIX}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{STATIC_PREFIX}/favicon.png",
        with_google_fonts=False,
    )


@router.get("/api/docs")
async def api_docs_alias(request: Request) -> RedirectResponse:
    """Seed 004's documentation address: redirects to ``/docs``."""
    return RedirectResponse(f"{_root(request)}/docs", status_code=307)


@router.get("/swagger")
async def swagger_alias(request: Request) -> RedirectResponse:
    """Seed 004's Swagger UI address: redirects to ``/docs``."""
    return RedirectResponse(f"{_root(request)}/docs", status_code=307)


@router.get("/static/docs/{asset}")
async def docs_asset(asset: str) -> FileResponse:
    """One packaged asset (``Cache-Control`` one day).

    Raises:
        HTTPException: 404 for any other name (only the four files are served).
    """
    if asset not in ASSET_NAMES:
        raise HTTPException(404, f"no documentation asset named {asset!r}")
    path = ASSETS / asset
    return FileResponse(
        path,
        media_type=_MEDIA_TYPES[path.suffix],
        headers={"Cache-Control": "public, max-age=86400"},
    )
