"""``GET /health``, ``GET /ready``, ``GET /`` and ``GET /objects/{key}``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from services.common import db
from services.common.logging import get_logger
from services.common.storage import LocalObjectStorage, verify_local_signature
from services.gateway.deps import Ctx, Storage
from services.gateway.products.platform.schemas import Health, Readiness, ServiceInfo
from services.gateway.shared.errors import ApiError
from services.gateway.shared.timefmt import utc_timestamp
from services.gateway.shared.version import earshot_version

log = get_logger("earshot.gateway.platform")

router = APIRouter()

HealthContributor = Callable[[], Awaitable[dict[str, Any]]]


@router.get("/health", response_model=Health)
async def health(request: Request) -> dict[str, Any]:
    """Liveness: the process answers; products add their detailed status (engines, queues)."""
    body: dict[str, Any] = {"status": "healthy", "timestamp": utc_timestamp()}
    contributors: list[HealthContributor] = getattr(request.app.state, "health_contributors", [])
    for contributor in contributors:
        try:
            extra = await asyncio.wait_for(contributor(), 2)
        except Exception as exc:  # a product's detail must not break liveness
            log.warning("gateway.health_contributor_failed", error=str(exc))
            continue
        body.update({k: v for k, v in extra.items() if k not in ("status", "timestamp")})
    return body


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
async def ready(ctx: Ctx) -> JSONResponse:
    """Readiness: the bus, the database and object storage all answer."""
    checks: dict[str, str] = {}
    for name, probe in (
        ("bus", ctx.runtime.bus.check()),
        ("database", db.check(ctx.engine)),
        ("storage", ctx.runtime.storage.check()),
    ):
        try:
            await asyncio.wait_for(probe, 5)
            checks[name] = "ok"
        except Exception as exc:  # any failure means not ready
            checks[name] = f"error: {type(exc).__name__}: {exc}"[:300]
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ok else "unavailable", "checks": checks, "timestamp": utc_timestamp()},
        status_code=200 if ok else 503,
    )


@router.get("/", response_model=ServiceInfo)
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
