"""Request routing without trying every product router: a path pre-check per included router.

FastAPI (0.165) keeps each ``app.include_router(...)`` as one nested router, and a request is
matched against every route of every router included before the one that serves it (scope
keys set and restored, the route's regular expression run), then matched again inside that
router. With the gateway's 22 product routers that was 36 route matches for ``GET /api/me``
(70 us on the benchmark machine, 250 us for ``/v1/models``, the 21st router): the largest
part of the authenticated hot path's CPU (issue 18, py-spy profile in docs/auth.md).

:func:`skip_unreachable_routers` gives each included router a pre-check that answers
"no match" at once when the request path cannot match any of its routes: a route without
path parameters matches only its own path, a route with parameters only paths that start
with its literal head (the text before the first ``{``), a mount only paths under it.
Trailing slashes are ignored on both sides, so Starlette's slash redirects still find their
route. When the pre-check lets a request through, FastAPI matches it exactly as before, so
matching decides nothing new: the pre-check only skips routers that FastAPI would have tried
and refused. A router whose routes change after start-up is indexed again; a router with a
route the pre-check cannot reason about (a host route, low-priority routes) is always tried.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from starlette.routing import Match, Mount

from services.common.logging import get_logger

log = get_logger("earshot.gateway.routing")

Scope = dict[str, Any]


class _PathPrecheck:
    """``matches`` of one included router, behind a check of the request path.

    Args:
        router: FastAPI's included-router route (``fastapi.routing._IncludedRouter``).
        route_path: Starlette's ``get_route_path`` (the path without ``root_path``).
    """

    __slots__ = ("_always", "_exact", "_matches", "_prefixes", "_route_path", "_router", "_version")

    def __init__(self, router: Any, route_path: Callable[[Scope], str]) -> None:
        self._router = router
        self._matches = type(router).matches.__get__(router)  # FastAPI's own, bound
        self._route_path = route_path
        self._version: object = object()  # no index yet
        self._always = True
        self._exact: frozenset[str] = frozenset()
        self._prefixes: tuple[str, ...] = ()

    def _index(self) -> None:
        exact: set[str] = set()
        prefixes: list[str] = []
        always = bool(self._router.effective_low_priority_routes())
        for context in self._router.effective_route_contexts():
            route = context.starlette_route
            path = getattr(route, "path", None) if route is not None else context.path
            if not isinstance(path, str) or not path.startswith("/"):
                always = True  # a host route or something new: no pre-check for this router
                break
            if isinstance(context.original_route, Mount):
                prefixes.append(path.rstrip("/"))
            elif "{" in path:
                prefixes.append(path.split("{", 1)[0].rstrip("/"))
            else:
                exact.add(path.rstrip("/"))
        self._always, self._exact, self._prefixes = always, frozenset(exact), tuple(prefixes)

    def __call__(self, scope: Scope) -> tuple[Match, Scope]:
        version = self._router.original_router._get_routes_version()
        if version != self._version:
            self._index()
            self._version = version
        if not self._always:
            path = self._route_path(scope).rstrip("/")
            if path not in self._exact and not path.startswith(self._prefixes):
                return Match.NONE, {}
        return self._matches(scope)


def skip_unreachable_routers(app: FastAPI) -> int:
    """Install the path pre-check on every router included in ``app`` (module docstring).

    Relies on FastAPI's included-router class (``fastapi.routing._IncludedRouter``, FastAPI
    >= 0.165); with a FastAPI that has none, nothing is installed and routing is FastAPI's
    alone (logged). Idempotent.

    Returns:
        the number of routers given a pre-check.
    """
    try:
        from fastapi.routing import _IncludedRouter  # type: ignore[attr-defined]
        from starlette._utils import get_route_path
    except ImportError as exc:
        log.warning("routing.precheck_unavailable", error=str(exc))
        return 0
    installed = 0
    for route in app.router.routes:
        if isinstance(route, _IncludedRouter) and not isinstance(vars(route).get("matches"), _PathPrecheck):
            # an instance attribute shadows the method, on this route object only
            vars(route)["matches"] = _PathPrecheck(route, get_route_path)
            installed += 1
    return installed
