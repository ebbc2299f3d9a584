"""The gateway: FastAPI product API, job records, and the result waiter.

Event flow of a synchronous job (``POST /analyze-audio``):

1. the route stores the upload and publishes ``transcription.requested``;
2. the *orchestrator* (consumer group ``gateway``, one member handles each event)
   turns ``transcription.completed`` into ``analysis.requested``;
3. the *waiter* (consumer group ``gateway.<instance>``, one per replica, starting at
   the end of the log) resolves the replica's pending request when
   ``analysis.completed`` or a ``*.failed`` event arrives.

A late completion for a job that is already finished (timed out, failed) only
triggers clean-up of the objects it left.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse

from services.common import db, metrics, telemetry
from services.common.bus import Subscription
from services.common.events import (
    ANALYSIS_EVENTS,
    ANALYSIS_REQUESTS,
    TRANSCRIPTION_EVENTS,
    TRANSCRIPTION_REQUESTS,
    AnalysisCompleted,
    AnalysisFailed,
    AnalysisRequested,
    Envelope,
    EventPayload,
    TranscriptionCompleted,
    TranscriptionFailed,
)
from services.common.logging import bind, get_logger, unbind
from services.common.runtime import Runtime
from services.common.storage import LocalObjectStorage, verify_local_signature
from services.gateway.errors import ApiError, install_error_handlers, utc_timestamp
from services.gateway.jobs import JobRepository
from services.gateway.uploads import MULTIPART_OVERHEAD, BodyLimitMiddleware

log = get_logger("earshot.gateway")

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version_gateway"
TERMINAL = {"succeeded", "failed", "timed_out"}


async def migrate(database_url: str) -> None:
    """Upgrade the gateway's tables to the newest revision."""
    await asyncio.to_thread(db.run_migrations, database_url, MIGRATIONS, VERSION_TABLE)


class GatewayService:
    """The product API (see module docstring). ``app`` is the ASGI application."""

    name = "gateway"

    def __init__(self) -> None:
        self.runtime: Runtime
        self.jobs: JobRepository
        self._engine: Any = None
        self._pending: dict[str, asyncio.Future[EventPayload]] = {}
        self._subs: list[Subscription] = []
        self.request_timeout_s = 120.0
        # Product hooks: awaited at the end of start(), at the beginning of stop() (in
        # reverse), and by GET /health, whose answer each contributor extends with keys.
        self.start_hooks: list[Callable[[Runtime], Awaitable[None]]] = []
        self.stop_hooks: list[Callable[[], Awaitable[None]]] = []
        self.health_contributors: list[Callable[[], Awaitable[dict[str, Any]]]] = []
        self.app = self._build_app()

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self, runtime: Runtime) -> None:
        """Open the database, join the orchestrator group and this replica's waiter group."""
        self.runtime = runtime
        self.request_timeout_s = runtime.settings.request_timeout_s
        self._engine = db.create_engine(runtime.settings.effective_database_url)
        self.jobs = JobRepository(db.session_factory(self._engine))
        if self.app.middleware_stack is None:  # not yet serving: the limit comes from settings
            self.app.add_middleware(
                BodyLimitMiddleware, limit=runtime.settings.max_file_size_bytes + MULTIPART_OVERHEAD
            )
        bus = runtime.bus
        await bus.ensure_topics(
            [TRANSCRIPTION_REQUESTS, TRANSCRIPTION_EVENTS, ANALYSIS_REQUESTS, ANALYSIS_EVENTS]
        )
        self._subs.append(await bus.subscribe([TRANSCRIPTION_EVENTS], "gateway", self._orchestrate))
        self._subs.append(
            await bus.subscribe(
                [TRANSCRIPTION_EVENTS, ANALYSIS_EVENTS],
                f"gateway.{runtime.instance_id}",
                self._resolve,
                from_latest=True,
            )
        )
        for hook in self.start_hooks:
            await hook(runtime)

    async def stop(self) -> None:
        """Leave the consumer groups, fail pending requests, close the database."""
        for stop_hook in reversed(self.stop_hooks):
            try:
                await stop_hook()
            except Exception as exc:  # keep stopping
                log.error("gateway.stop_hook_failed", error=str(exc))
        for sub in self._subs:
            await sub.close()
        self._subs.clear()
        for fut in self._pending.values():
            if not fut.done():
                fut.cancel()
        if self._engine is not None:
            await self._engine.dispose()

    # --- event handlers ------------------------------------------------------------------
    async def _orchestrate(self, envelope: Envelope) -> None:
        if envelope.type != TranscriptionCompleted.event_type:
            return
        done = envelope.payload(TranscriptionCompleted)
        if done.purpose != "temperature":
            return  # not a gateway flow; its requester owns the transcript
        job = await self.jobs.get(done.job_id)
        if job is None or job.status in TERMINAL:
            # Nobody waits any more: remove what the late work left behind.
            await self.runtime.storage.delete(done.transcript_key)
            await self.runtime.storage.delete(done.audio_key)
            return
        await self.publish(
            AnalysisRequested(
                job_id=done.job_id,
                kind="temperature",
                transcript_key=done.transcript_key,
                audio_key=done.audio_key,
            )
        )

    async def _resolve(self, envelope: Envelope) -> None:
        fut = self._pending.get(envelope.key)
        if fut is None or fut.done():
            return
        for model in (AnalysisCompleted, AnalysisFailed, TranscriptionFailed):
            if envelope.type == model.event_type:
                fut.set_result(envelope.payload(model))
                return

    async def publish(self, payload: EventPayload) -> None:
        """Publish a payload on its topic, with the current trace context."""
        await self.runtime.bus.publish(
            payload.topic, Envelope.of(payload, self.runtime.source(self.name), **telemetry.inject())
        )

    @asynccontextmanager
    async def waiting(self, job_id: str) -> AsyncIterator[asyncio.Future[EventPayload]]:
        """Register a future resolved by this job's final event; unregistered on exit."""
        fut: asyncio.Future[EventPayload] = asyncio.get_running_loop().create_future()
        self._pending[job_id] = fut
        try:
            yield fut
        finally:
            self._pending.pop(job_id, None)

    # --- app -------------------------------------------------------------------------------
    def _build_app(self) -> FastAPI:
        from services.gateway import anc as anc_routes
        from services.gateway import auth, photos, temperature
        from services.gateway.openai_compat import router as openai_router
        from services.gateway.products.console import router as console

        app = FastAPI(
            title="Earshot",
            version=_version(),
            description="Earshot's gateway: the REST and WebSocket APIs of every Earshot product.",
        )
        app.state.gateway = self
        install_error_handlers(app)
        app.add_middleware(metrics.MetricsMiddleware, service="gateway")
        app.add_route("/metrics", metrics.metrics_endpoint, include_in_schema=False)

        @app.middleware("http")
        async def request_context(request: Request, call_next: Any) -> Response:
            request_id = request.headers.get("x-request-id") or f"req_{time.time_ns():x}"
            bind(request_id=request_id)
            try:
                with telemetry.span_from(
                    request.headers,
                    f"{request.method} {request.url.path}",
                    "earshot.gateway",
                    **{"http.method": request.method, "http.target": request.url.path},
                ):
                    response: Response = await call_next(request)
            finally:
                unbind("request_id")
            response.headers["X-Request-ID"] = request_id
            return response

        @app.get("/health", tags=["platform"])
        async def health() -> dict[str, Any]:
            """Liveness: the process answers; products add their detailed status (engines, queues)."""
            body: dict[str, Any] = {"status": "healthy", "timestamp": utc_timestamp()}
            for contributor in self.health_contributors:
                try:
                    extra = await asyncio.wait_for(contributor(), 2)
                except Exception as exc:  # a product's detail must not break liveness
                    log.warning("gateway.health_contributor_failed", error=str(exc))
                    continue
                body.update({k: v for k, v in extra.items() if k not in ("status", "timestamp")})
            return body

        @app.get("/ready", tags=["platform"])
        async def ready() -> Response:
            """Readiness: the bus, the database and object storage all answer."""
            from fastapi.responses import JSONResponse

            checks: dict[str, str] = {}
            for name, probe in (
                ("bus", self.runtime.bus.check()),
                ("database", db.check(self._engine)),
                ("storage", self.runtime.storage.check()),
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

        @app.get("/objects/{key:path}", tags=["platform"], include_in_schema=False)
        async def presigned_object(key: str, expires: int, signature: str) -> FileResponse:
            """Serve a local-storage object for a presigned URL (HMAC and expiry checked)."""
            storage = self.runtime.storage
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

        # Browser-only routes first: they fall through to the product routes for API clients.
        app.include_router(console.browser_router)
        app.include_router(console.router)
        app.include_router(temperature.router)
        app.include_router(anc_routes.router)
        app.include_router(auth.router)
        app.include_router(photos.router)
        app.include_router(openai_router)
        photos.install(self, app)
        anc_routes.install(self)
        return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("earshot")
    except PackageNotFoundError:
        return "0.0.0"
