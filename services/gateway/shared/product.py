"""The product lifecycle: how a product's state, consumers and background tasks start and stop.

Decision (see docs/architecture.md, "Gateway layout"): a product that keeps state or
consumes events has ONE :class:`Product` subclass (in its ``service.py``). ``app.py`` lists
its factory beside its routers; at start :class:`~services.gateway.service.GatewayService`

1. builds the :class:`GatewayContext` (engine, session factory, clients, job records),
2. instantiates every product with it (settings are validated here: a bad value stops start-up),
3. creates the topics in :attr:`Product.publishes`, joins every :meth:`Product.consumers` table,
4. awaits :meth:`Product.start` (background tasks, recovery),

and at stop, in reverse order, awaits :meth:`Product.stop` then leaves its consumer groups.
``GET /health`` merges every :meth:`Product.health`. Routes reach their product with a
dependency (``request.app.state.products[name]``), never through module globals, and nothing
is created on a first request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.common.events import EventPayload
from services.common.runtime import Runtime
from services.common.settings import Settings
from services.gateway.clients import Clients
from services.gateway.shared.consumers import ConsumerTable
from services.gateway.shared.durable import DurableJobs
from services.gateway.shared.jobs import JobRepository
from services.gateway.shared.publish import publish

__all__ = ["GatewayContext", "Product"]


@dataclass
class GatewayContext:
    """What one gateway replica opened at start, shared by its products and dependencies.

    Attributes:
        runtime: bus, storage, settings, instance id.
        engine: the database engine.
        sessions: ``AsyncSession`` factory (``expire_on_commit=False``).
        clients: the gRPC clients.
        jobs: the ``jobs`` table's repository.
        request_timeout_s: how long a synchronous route waits for its job (``EARSHOT_REQUEST_TIMEOUT_S``).
        durable: the outbox relay and lease sweeper (``shared/durable.py``); a product writes a
            job's request with ``jobs.submit`` inside ``durable.outbox.transaction()``.
    """

    runtime: Runtime
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clients: Clients
    jobs: JobRepository
    request_timeout_s: float
    durable: DurableJobs

    @property
    def settings(self) -> Settings:
        """The platform settings."""
        return self.runtime.settings

    async def publish(self, payload: EventPayload) -> None:
        """Publish from the gateway with the current trace (:mod:`services.gateway.shared.publish`)."""
        await publish(self.runtime, payload)


class Product:
    """Base of a product's lifecycle object (module docstring). Override what the product needs.

    Args:
        ctx: the replica's context.
    """

    name: ClassVar[str] = ""
    """Key in ``app.state.products`` and in logs."""

    publishes: ClassVar[Sequence[str]] = ()
    """Topics the product publishes on (created at start)."""

    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx

    @property
    def runtime(self) -> Runtime:
        """The replica's runtime."""
        return self.ctx.runtime

    def consumers(self) -> Sequence[ConsumerTable]:
        """The product's consumer groups and their handler tables (joined before :meth:`start`)."""
        return ()

    async def start(self) -> None:
        """Start background work (after the consumers are subscribed)."""

    async def stop(self) -> None:
        """Stop background work (before the consumers are closed)."""

    def body_limits(self) -> dict[str, int]:
        """``{path prefix: bytes}`` request-body limits of the product's routes that differ from
        ``MAX_FILE_SIZE`` (the gateway's body-limit middleware); none by default."""
        return {}

    async def health(self) -> dict[str, Any]:
        """Keys added to ``GET /health`` (e.g. queue depths); empty by default."""
        return {}
