"""The path pre-check of included routers (services.gateway.shared.routing) changes no match."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from starlette.routing import Match
from starlette.testclient import TestClient

from services.gateway.app import create_app
from services.gateway.shared.routing import _PathPrecheck, skip_unreachable_routers

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")


def _concrete(template: str) -> list[str]:
    """Request paths for a route template: parameters filled, with and without a trailing slash."""
    path = re.sub(r"\{[^}:]+:path\}", "a/b.txt", template)
    path = re.sub(r"\{[^}]+\}", "x1", path)
    return [path, path.rstrip("/") + "/" if not path.endswith("/") else path.rstrip("/") or "/"]


def _first_match(app: FastAPI, scope: dict[str, Any], guarded: bool) -> tuple[int, str, str | None]:
    """(index of the top-level route that matches, FULL/PARTIAL, the endpoint's name) as
    Starlette's router would pick it, with or without the pre-checks."""
    partial: tuple[int, str, str | None] | None = None
    for i, route in enumerate(app.router.routes):
        match, child = route.matches(dict(scope)) if guarded else type(route).matches(route, dict(scope))
        endpoint = child.get("endpoint")
        name = getattr(endpoint, "__qualname__", None)
        if match == Match.FULL:
            return i, "full", name
        if match == Match.PARTIAL and partial is None:
            partial = (i, "partial", name)
    return partial or (-1, "none", None)


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app()


def test_almost_every_product_router_gets_a_precheck(app: FastAPI) -> None:
    checks = [r for r in app.router.routes if isinstance(vars(r).get("matches"), _PathPrecheck)]
    assert len(checks) >= 20  # a FastAPI upgrade that drops the included-router class shows here
    assert skip_unreachable_routers(app) == 0  # idempotent


def test_every_path_and_method_matches_the_same_route_as_without_the_precheck(app: FastAPI) -> None:
    templates = set(app.openapi()["paths"]) | {"/", "/console/", "/nope", "/api/nope/x", "/v1/models/x/y"}
    templates |= {"/api/audio/stream/{session_id}/ws", "/objects/{key:path}"}
    compared = 0
    for template in sorted(templates):
        for path in _concrete(template):
            for method in METHODS:
                for root_path in ("", "/behind-proxy"):
                    scope = {
                        "type": "http",
                        "method": method,
                        "path": root_path + path,
                        "root_path": root_path,
                        "headers": [(b"accept", b"text/html")] if method == "GET" else [],
                        "query_string": b"",
                        "app": app,
                    }
                    assert _first_match(app, scope, True) == _first_match(app, scope, False), (method, path)
                    compared += 1
    assert compared > 1000


def test_a_route_added_after_start_up_is_found() -> None:
    router = APIRouter()

    @router.get("/first")
    async def first() -> dict[str, str]:
        return {"route": "first"}

    app = FastAPI()
    app.include_router(router, prefix="/p")
    assert skip_unreachable_routers(app) == 1
    client = TestClient(app)
    assert client.get("/p/first").json() == {"route": "first"}
    assert client.get("/p/later/7").status_code == 404

    @router.get("/later/{n}")
    async def later(n: int) -> dict[str, int]:
        return {"n": n}

    assert client.get("/p/later/7").json() == {"n": 7}  # indexed again after the change
    assert client.get("/p/first/").status_code in (200, 307)  # slash redirect still finds it
