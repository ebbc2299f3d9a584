"""Composition root: which services run in this process, on which runtime.

``earshot up`` runs every service in one process on one shared runtime (the embedded
mode: in-memory bus, SQLite, local folder). ``earshot serve SERVICE`` runs one service
on its own runtime (the distributed mode: Kafka, PostgreSQL, MinIO by URL). This
module is the only place that imports more than one service package.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import pkgutil
import signal
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import uvicorn
from pydantic_settings import BaseSettings

from services.common.http_server import guarded_protocol
from services.common.logging import configure_logging, get_logger
from services.common.runtime import Runtime, Service, create_runtime
from services.common.settings import Settings, load_settings_class
from services.common.startup import wait_for_database, wait_for_grpc
from services.common.telemetry import configure_tracing, shutdown_tracing

log = get_logger("earshot.platform")

# Services in start order: capability services first, the gateway (which takes
# requests) last.
SERVICES: tuple[str, ...] = ("auth", "transcription", "analysis", "anc", "media", "gateway")


def build_service(name: str) -> Service:
    """Instantiate one service by name.

    Raises:
        ValueError: unknown service name.
    """
    if name == "auth":
        from services.auth.service import AuthService

        return AuthService()
    if name == "gateway":
        from services.gateway.service import GatewayService

        return GatewayService()
    if name == "transcription":
        from services.transcription.service import TranscriptionService

        return TranscriptionService()
    if name == "analysis":
        from services.analysis.service import AnalysisService

        return AnalysisService()
    if name == "anc":
        from services.anc.service import AncService

        return AncService()
    if name == "media":
        from services.media.service import MediaService

        return MediaService()
    raise ValueError(f"unknown service {name!r}; choose from {', '.join(SERVICES)}")


def settings_classes(services: Sequence[str]) -> list[type[BaseSettings]]:
    """Every settings class of ``services`` (all their modules imported, migrations aside), after
    the platform's own :class:`~services.common.settings.Settings`.

    Raises:
        ValueError: unknown service name.
    """

    def subclasses(cls: type[BaseSettings]) -> list[type[BaseSettings]]:
        return [c for sub in cls.__subclasses__() for c in (sub, *subclasses(sub))]

    for name in services:
        if name not in SERVICES:
            raise ValueError(f"unknown service {name!r}; choose from {', '.join(SERVICES)}")
        package = importlib.import_module(f"services.{name}")
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if ".migrations" not in module.name:
                importlib.import_module(module.name)
    prefixes = tuple(f"services.{name}." for name in services)
    found = [c for c in subclasses(BaseSettings) if c.__module__.startswith(prefixes)]
    return [Settings, *dict.fromkeys(sorted(found, key=lambda c: (c.__module__, c.__name__)))]


def check_settings(services: Sequence[str]) -> None:
    """Read every settings class of ``services`` once, so that an invalid variable stops start-up
    (instead of failing the first request that reads it).

    Raises:
        ConfigurationError: one line naming the variable and why.
        ValueError: unknown service name.
    """
    for model in settings_classes(services):
        label = "" if model is Settings else model.__module__.split(".")[1]
        load_settings_class(model, label)


# Services that keep tables (they wait for the database at start-up), and the gRPC services
# each service calls (it waits for those not running in the same process).
DATABASE_USERS: frozenset[str] = frozenset({"gateway", "auth"})
GRPC_CALLS: dict[str, tuple[str, ...]] = {"gateway": ("auth", "transcription", "analysis", "anc")}


async def migrate(settings: Settings) -> None:
    """Run every service's database migrations (``earshot migrate``), after waiting for the
    database for up to ``settings.startup_timeout_s``.

    Raises:
        DependencyUnavailable: the database stayed unreachable (one line).
    """
    await wait_for_database(settings.effective_database_url, settings.startup_timeout_s)
    from services.gateway.service import migrate as migrate_gateway

    await migrate_gateway(settings.effective_database_url)
    from services.auth.service import migrate as migrate_auth

    await migrate_auth(settings.effective_database_url)


class Platform:
    """A set of services started on one runtime, in order, and stopped in reverse."""

    def __init__(
        self, settings: Settings, services: Sequence[str] = SERVICES, *, run_migrations: bool = True
    ):
        self.settings = settings
        self.names = list(services)
        self.run_migrations = run_migrations
        self.services: dict[str, Service] = {name: build_service(name) for name in self.names}
        if "media" in self.services and "gateway" in self.services:
            # In one process the gateway's /health also shows the media worker's engines and slots.
            gateway: Any = self.services["gateway"]
            gateway.health_contributors.append(self.services["media"].health)  # type: ignore[attr-defined]
        self.runtime: Runtime | None = None

    @property
    def gateway(self) -> Any:
        """The gateway service, when this process runs it."""
        return self.services.get("gateway")

    async def start(self) -> Runtime:
        """Wait for the dependencies, build the runtime, migrate (embedded mode), start every
        service (each after the gRPC services it calls that run elsewhere answer).

        Raises:
            DependencyUnavailable: Kafka, the database, object storage or a configured gRPC
                target stayed unreachable for ``EARSHOT_STARTUP_TIMEOUT_S`` (one line).
        """
        timeout_s = self.settings.startup_timeout_s
        if DATABASE_USERS.intersection(self.names):
            await wait_for_database(self.settings.effective_database_url, timeout_s)
        if self.run_migrations and "gateway" in self.services:
            await migrate(self.settings)
        self.runtime = await create_runtime(self.settings, client_id=f"earshot-{'-'.join(self.names)}")
        started: list[str] = []
        try:
            for name, service in self.services.items():
                await self._wait_for_callees(name, self.runtime)
                await service.start(self.runtime)
                started.append(name)
                log.info("service.started", service=name)
        except BaseException:
            # leave nothing half started: stop what did start, then the runtime
            self.services = {name: self.services[name] for name in started}
            await self.stop()
            raise
        return self.runtime

    async def _wait_for_callees(self, name: str, runtime: Runtime) -> None:
        """Wait for every gRPC service ``name`` calls that runs in another process and has a
        target; a callee with no target is logged (its routes answer 503)."""
        for callee in GRPC_CALLS.get(name, ()):
            if callee in runtime.grpc_targets:
                continue  # served by this process
            target = getattr(self.settings, f"{callee}_grpc_target", None)
            if not target:
                log.warning(
                    "startup.no_grpc_target",
                    service=name,
                    callee=callee,
                    setting=f"EARSHOT_{callee.upper()}_GRPC_TARGET",
                    effect="routes that need it answer 503",
                )
                continue
            await wait_for_grpc(callee, str(target), self.settings.startup_timeout_s)

    async def stop(self) -> None:
        """Stop services in reverse order, then the runtime."""
        for name, service in reversed(self.services.items()):
            try:
                await service.stop()
            except Exception as exc:  # keep stopping the others
                log.error("service.stop_failed", service=name, error=str(exc))
        if self.runtime is not None:
            await self.runtime.close()
            self.runtime = None


async def serve(settings: Settings, services: Sequence[str], *, run_migrations: bool) -> None:
    """Run services until SIGINT/SIGTERM; with the gateway, serve HTTP on ``host:port``."""
    configure_logging(settings.log_level, settings.log_format)
    configure_tracing(
        "earshot" if len(services) > 1 else f"earshot-{services[0]}",
        settings.otlp_endpoint,
        settings.otlp_protocol,
    )
    platform = Platform(settings, services, run_migrations=run_migrations)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await platform.start()
    freeze_startup_heap()
    metrics_server = None
    if platform.gateway is None and settings.metrics_port:
        # Processes without HTTP (workers, gRPC services) expose Prometheus metrics here;
        # the gateway serves them on its own port at /metrics.
        from services.common.metrics import start_metrics_server

        metrics_server = start_metrics_server(settings.metrics_host, settings.metrics_port)
        log.info("metrics.listening", url=f"http://{settings.metrics_host}:{settings.metrics_port}/metrics")
    try:
        if platform.gateway is not None:
            config = uvicorn.Config(
                platform.gateway.app,
                host=settings.host,
                port=settings.port,
                log_config=None,
                access_log=False,
                lifespan="off",
                http=_http_protocol(settings),
            )
            server = _Server(config)
            log.info("gateway.listening", url=f"http://{settings.host}:{settings.port}", docs="/docs")
            serving = asyncio.create_task(server.serve())
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            server.should_exit = True  # finish requests in flight, then return
            await serving
            stopping.cancel()
        else:
            await stop.wait()
    finally:
        log.info("platform.stopping", services=list(services))
        if metrics_server is not None:
            metrics_server.shutdown()
            metrics_server.server_close()
        await platform.stop()
        shutdown_tracing()


def freeze_startup_heap() -> int:
    """Move every object alive after start-up (modules, the app, models, caches) out of the
    garbage collector's reach (``gc.freeze``), after one full collection.

    A full (generation 2) collection walks every tracked object: with the gateway's imports
    that is hundreds of thousands, tens of milliseconds during which no request is served,
    the largest part of ``GET /api/me``'s p99 (issue 18). Frozen objects are never walked
    again; what requests allocate is collected as before. (Python documentation, ``gc.freeze``:
    "freeze all the objects tracked by gc ... ignored for all future collections".)

    Returns:
        the number of objects frozen.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


@contextlib.asynccontextmanager
async def running(
    settings: Settings, services: Sequence[str] = SERVICES, *, run_migrations: bool = True
) -> AsyncIterator[Platform]:
    """Start services and, with the gateway, HTTP on ``settings.host:settings.port`` inside the
    current event loop; stop both on exit. Used by tests, benchmarks and the CLI's in-process mode.

    Raises:
        RuntimeError: the HTTP server could not start (port taken...).
    """
    platform = Platform(settings, services, run_migrations=run_migrations)
    await platform.start()
    server: _Server | None = None
    task: asyncio.Task[None] | None = None
    try:
        if platform.gateway is not None:
            server = _Server(
                uvicorn.Config(
                    platform.gateway.app,
                    host=settings.host,
                    port=settings.port,
                    log_config=None,
                    access_log=False,
                    lifespan="off",
                    http=_http_protocol(settings),
                )
            )
            task = asyncio.create_task(server.serve())
            while not server.started:
                if task.done():
                    raise RuntimeError(f"HTTP server did not start on {settings.host}:{settings.port}")
                await asyncio.sleep(0.01)
        yield platform
    finally:
        if server is not None and task is not None:
            server.should_exit = True
            with contextlib.suppress(BaseException):
                await task
        await platform.stop()


def _http_protocol(settings: Settings) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol with the slow-client guards (:mod:`services.common.http_server`)."""
    return guarded_protocol(
        settings.http_header_timeout_s, settings.http_min_body_rate, settings.http_body_grace_s
    )


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: :func:`serve` owns SIGINT/SIGTERM so that the
    services stop gracefully after the HTTP server drained."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
