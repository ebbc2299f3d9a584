"""The gateway's lifecycle: at start it opens the database engine, the gRPC clients, the token
verifier and every product (their consumer groups and background work); at stop it closes
them in reverse. Routes and products live in ``app.py`` and ``products/``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from services.common import db
from services.common.bus import Subscription
from services.common.events import EventPayload
from services.common.logging import get_logger
from services.common.runtime import Runtime
from services.gateway.app import PRODUCTS, create_app
from services.gateway.clients import Clients
from services.gateway.shared.durable import DurableJobs
from services.gateway.shared.jobs import JobRepository
from services.gateway.shared.product import GatewayContext, Product
from services.gateway.shared.tokens import TokenVerifier, load_gateway_auth_config
from services.gateway.shared.uploads import MULTIPART_OVERHEAD, BodyLimitMiddleware

__all__ = ["GatewayService", "migrate"]

log = get_logger("earshot.gateway")

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version_gateway"


async def migrate(database_url: str) -> None:
    """Upgrade the gateway's tables to the newest revision."""
    await asyncio.to_thread(db.run_migrations, database_url, MIGRATIONS, VERSION_TABLE)


class GatewayService:
    """The product API. ``app`` is the ASGI application (``app.py``); :meth:`start` and
    :meth:`stop` are its lifecycle.

    Attributes:
        ctx: the :class:`GatewayContext` once started.
        products: the started products by name.
        health_contributors: extra ``GET /health`` sections (e.g. the media worker's in one process).
    """

    name = "gateway"

    def __init__(self) -> None:
        self.app = create_app(self)
        self.ctx: GatewayContext | None = None
        self.tokens: TokenVerifier | None = None
        self.products: dict[str, Product] = self.app.state.products
        self.health_contributors: list[Callable[[], Awaitable[dict[str, Any]]]] = (
            self.app.state.health_contributors
        )
        self._subs: list[tuple[Product, list[Subscription]]] = []
        self._request_timeout_s = 120.0
        self._durable: DurableJobs | None = None
        self._durable_sub: Subscription | None = None

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self, runtime: Runtime) -> None:
        """Open the engine and clients; start every product (consumers first, then its start()).

        Raises:
            ConfigurationError: an invalid gateway or product setting.
        """
        auth_config = load_gateway_auth_config()
        settings = runtime.settings
        self.app.state.json_limits = (settings.max_json_bytes, settings.max_json_depth)
        engine = db.create_engine(runtime.settings.effective_database_url)
        clients = Clients.open(runtime, auth_timeout_s=auth_config.rpc_timeout_s)
        sessions = db.session_factory(engine)
        durable = DurableJobs(runtime, sessions)
        self.ctx = ctx = GatewayContext(
            runtime=runtime,
            engine=engine,
            sessions=sessions,
            clients=clients,
            jobs=JobRepository(sessions, durable),
            durable=durable,
            request_timeout_s=runtime.settings.request_timeout_s,
        )
        self.tokens = TokenVerifier(runtime, clients.auth, auth_config)
        self.app.state.ctx = ctx
        self.app.state.tokens = self.tokens
        try:
            for product_type in PRODUCTS:
                product = product_type(ctx)
                await runtime.bus.ensure_topics(list(product.publishes))
                subs = [
                    await table.subscribe(runtime.bus, runtime.instance_id) for table in product.consumers()
                ]
                self._subs.append((product, subs))
                self.products[product.name] = product
                await product.start()
                self.health_contributors.append(product.health)
            # durable jobs last: every product's consumers are subscribed before the relay
            # publishes what the previous process left in the outbox
            table = durable.consumers(ctx.jobs.extend_lease)
            self._durable_sub = await table.subscribe(runtime.bus, runtime.instance_id)
            await durable.start()
            self._durable = durable
            if self.app.middleware_stack is None:  # not yet serving: the limits come from settings
                overrides = {k: v for p in self.products.values() for k, v in p.body_limits().items()}
                self.app.add_middleware(
                    BodyLimitMiddleware,
                    limit=runtime.settings.max_file_size_bytes + MULTIPART_OVERHEAD,
                    overrides=overrides,
                )
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop every product in reverse (its work, then its consumer groups), the verifier,
        the clients and the engine."""
        if self._durable is not None:
            await self._durable.stop()
            self._durable = None
        if self._durable_sub is not None:
            with contextlib.suppress(Exception):
                await self._durable_sub.close()
            self._durable_sub = None
        for product, subs in reversed(self._subs):
            try:
                await product.stop()
            except Exception as exc:  # keep stopping
                log.error("gateway.product_stop_failed", product=product.name, error=str(exc))
            for sub in subs:
                with contextlib.suppress(Exception):
                    await sub.close()
            self.products.pop(product.name, None)
            with contextlib.suppress(ValueError):
                self.health_contributors.remove(product.health)
        self._subs.clear()
        if self.tokens is not None:
            await self.tokens.close()
        if self.ctx is not None:
            await self.ctx.clients.close()
            await self.ctx.engine.dispose()

    # --- conveniences for operators' tools and tests -----------------------------------------
    @property
    def runtime(self) -> Runtime:
        """The runtime the gateway was started on."""
        assert self.ctx is not None, "the gateway is not started"
        return self.ctx.runtime

    @property
    def jobs(self) -> JobRepository:
        """The ``jobs`` table's repository."""
        assert self.ctx is not None, "the gateway is not started"
        return self.ctx.jobs

    @property
    def request_timeout_s(self) -> float:
        """How long a synchronous route waits for its job (``EARSHOT_REQUEST_TIMEOUT_S``)."""
        return self.ctx.request_timeout_s if self.ctx is not None else self._request_timeout_s

    @request_timeout_s.setter
    def request_timeout_s(self, value: float) -> None:
        self._request_timeout_s = value
        if self.ctx is not None:
            self.ctx.request_timeout_s = value

    async def publish(self, payload: EventPayload) -> None:
        """Publish from the gateway with the current trace context."""
        assert self.ctx is not None, "the gateway is not started"
        await self.ctx.publish(payload)
