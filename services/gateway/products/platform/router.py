"""The platform's probes and service routes: ``GET /livez``, ``GET /ready``, ``GET /health``,
``GET /`` and ``GET /objects/{key}``.

Probes are cheap (issue 18): Kubernetes, load balancers and dashboards call them often and
in parallel. ``/livez`` touches nothing (no database, no bus); ``/ready`` checks the bus,
the database and storage concurrently, each within :data:`CHECK_DEADLINE_S`, and serves
its answer for :data:`PROBE_TTL_S`; ``/health`` computes the products' details (queue
depths from the database...) at most once per :data:`PROBE_TTL_S`, however many callers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from services.common import db
from services.common.health import Cached, check_dependencies
from services.common.logging import get_logger
from services.common.storage import LocalObjectStorage, verify_local_signature
from services.gateway.deps import Ctx, Storage
from services.gateway.products.platform.schemas import Health, Liveness, Readiness, ServiceInfo
from services.gateway.shared.errors import ApiError
from services.gateway.shared.openapi import NO_ERRORS
from services.gateway.shared.timefmt import utc_timestamp
from services.gateway.shared.version import earshot_version

log = get_logger("earshot.gateway.platform")

router = APIRouter()

HealthContributor = Callable[[], Awaitable[dict[str, Any]]]

PROBE_TTL_S = 1.0
"""How long ``/ready`` and the products' ``/health`` details are served again, seconds."""
CHECK_DEADLINE_S = 1.0
"""Time allowed to each readiness check (bus, database, storage, each gRPC service's
health check), seconds."""
CONTRIBUTOR_DEADLINE_S = 2.0
"""Time allowed to each product's ``/health`` details, seconds."""


def _cached(request: Request, name: str, compute: Callable[[], Awaitable[Any]]) -> Cached[Any]:
    """The app's :class:`Cached` probe ``name`` (made on first use; one per replica)."""
    state = request.app.state
    probes: dict[str, Cached[Any]] | None = getattr(state, "probes", None)
    if probes is None:
        probes = state.probes = {}
    probe = probes.get(name)
    if probe is None:
        probe = probes[name] = Cached(compute, PROBE_TTL_S)
    return probe


@router.get("/livez", response_model=Liveness, openapi_extra=NO_ERRORS)
async def livez() -> dict[str, str]:
    """Liveness: the process answers. Touches nothing (no database, no bus, no storage)."""
    return {"status": "alive"}


@router.get("/health", response_model=Health, openapi_extra=NO_ERRORS)
async def health(request: Request) -> dict[str, Any]:
    """Status, timestamp and the products' details (engines, queue depth, running tasks,
    version); the details are computed at most once per second."""
    state = request.app.state

    async def details() -> dict[str, Any]:
        contributors: list[HealthContributor] = getattr(state, "health_contributors", [])

        async def one(contributor: HealthContributor) -> dict[str, Any]:
            try:
                return await asyncio.wait_for(contributor(), CONTRIBUTOR_DEADLINE_S)
            except Exception as exc:  # a product's detail must not break liveness
                log.warning("gateway.health_contributor_failed", error=str(exc))
                return {}

        merged: dict[str, Any] = {}
        for extra in await asyncio.gather(*(one(c) for c in contributors)):
            merged.update({k: v for k, v in extra.items() if k not in ("status", "timestamp", "version")})
        return merged

    extra = await _cached(request, "health", details).get()
    return {"status": "healthy", "timestamp": utc_timestamp(), "version": earshot_version(), **extra}


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
async def ready(request: Request, ctx: Ctx) -> JSONResponse:
    """Readiness: the bus, the database, object storage and every gRPC service the gateway
    calls (``grpc.<service>``: ``grpc.health.v1``) answer, each within a second; ``checks``
    names the one down (the answer is reused for a second)."""

    state = request.app.state
    state.ready_ctx = ctx  # the newest context: a restarted gateway has a new one

    async def checks() -> dict[str, str]:
        current = state.ready_ctx
        return await check_dependencies(
            {
                "bus": current.runtime.bus.check,
                "database": lambda: db.check(current.engine),
                "storage": current.runtime.storage.check,
                **current.clients.readiness_checks(CHECK_DEADLINE_S),
            },
            CHECK_DEADLINE_S,
        )

    results = await _cached(request, "ready", checks).get()
    ok = all(v == "ok" for v in results.values())
    return JSONResponse(
        {"status": "ready" if ok else "unavailable", "checks": results, "timestamp": utc_timestamp()},
        status_code=200 if ok else 503,
    )


@router.get("/", response_model=ServiceInfo, openapi_extra=NO_ERRORS)
async def root() -> ServiceInfo:
    """Service health check (seed 002's ``GET /``): name, version and where to look next."""
    return ServiceInfo(
        service="Earshot",
        status="healthy",
        version=earshot_version(),
        timestamp=utc_timestamp(),
        docs="/docs",
        health="/health",
    )


@router.get("/objects/{key:path}", include_in_schema=False)
async def presigned_object(key: str, expires: int, signature: str, storage: Storage) -> FileResponse:
    """Serve a local-storage object for a presigned URL (HMAC and expiry checked)."""
    if not isinstance(storage, LocalObjectStorage):
        raise ApiError(404, "Not found", "presigned objects are served by the object store itself")
    if not verify_local_signature(storage.signing_key, key, expires, signature):
        raise ApiError(403, "Forbidden", "the URL signature is invalid or has expired")
    try:
        path = storage.open_path(key)
    except (KeyError, ValueError):
        raise ApiError(404, "Not found", "no such object") from None
    if not path.is_file():
        raise ApiError(404, "Not found", "no such object")
    return FileResponse(path)
