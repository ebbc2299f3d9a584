"""``create_app``: the gateway's FastAPI application -- middleware, error handlers and THE table
of product routers (:data:`ROUTERS`) and product lifecycles (:data:`PRODUCTS`).

Adding a product: a package under ``products/`` (see docs/development.md), one line per
router in :data:`ROUTERS`, and its :class:`~services.gateway.shared.product.Product`
subclass in :data:`PRODUCTS` when it keeps state or consumes events.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.routing import APIRoute
from fastapi.utils import generate_unique_id

from services.common import metrics, telemetry
from services.common.logging import bind, unbind
from services.gateway.products.accounts import anc as accounts_anc
from services.gateway.products.accounts import interview_coach as accounts_interview_coach
from services.gateway.products.accounts import router as accounts
from services.gateway.products.accounts import surface as accounts_surface
from services.gateway.products.accounts.service import AccountsProduct
from services.gateway.products.anc import router as anc
from services.gateway.products.anc.service import AncProduct
from services.gateway.products.console import router as console
from services.gateway.products.interviews import router as interviews
from services.gateway.products.interviews.consumers import InterviewsProduct
from services.gateway.products.openai import router as openai
from services.gateway.products.openai.service import OpenAIProduct
from services.gateway.products.photos import router as photos
from services.gateway.products.photos.service import PhotoProduct
from services.gateway.products.platform import router as platform
from services.gateway.products.temperature import router as temperature
from services.gateway.products.temperature.service import TemperatureProduct
from services.gateway.shared.errors import install_error_handlers
from services.gateway.shared.product import Product
from services.gateway.shared.version import earshot_version

__all__ = ["PRODUCTS", "ROUTERS", "Mount", "create_app"]


@dataclass(frozen=True)
class Mount:
    """One router of the table: where it is mounted and how OpenAPI groups it.

    Attributes:
        router: the product's ``APIRouter`` (paths written literally in its decorators).
        prefix: prepended to every path ("" for none).
        tags: OpenAPI tags of its operations.
        operation_id: builds operation ids (for a router mounted twice, so ids stay unique).
    """

    router: APIRouter
    prefix: str = ""
    tags: Sequence[str] = ()
    operation_id: Callable[[APIRoute], str] = field(default=generate_unique_id)


ROUTERS: tuple[Mount, ...] = (
    # Browser-only routes first: a request whose Accept does not prefer HTML falls through
    # to the product route with the same path (GET /, the web OAuth callbacks).
    Mount(console.browser_router, tags=["console"]),
    Mount(console.router, tags=["console"]),
    Mount(platform.router, tags=["platform"]),
    Mount(temperature.router, tags=["conversation temperature"]),
    Mount(anc.router, tags=["active noise cancellation"]),
    Mount(accounts.router, tags=["auth"]),
    Mount(accounts_interview_coach.router, tags=["auth: interview coach"]),
    Mount(accounts_anc.router, tags=["auth: anc"]),
    Mount(
        accounts_surface.router,
        prefix="/api/v1/mobile",
        tags=["auth: meeting memos (mobile)"],
        operation_id=accounts_surface.surface_operation_id,
    ),
    Mount(
        accounts_surface.router,
        prefix="/api/v1/web",
        tags=["auth: meeting memos (web)"],
        operation_id=accounts_surface.surface_operation_id,
    ),
    Mount(photos.router, tags=["photo to music video"]),
    Mount(openai.router, prefix="/v1", tags=["OpenAI-compatible speech to text"]),
    Mount(interviews.router, tags=["interview coach"]),
)
"""Every product router, in one place (order = OpenAPI order)."""

PRODUCTS: tuple[type[Product], ...] = (
    AccountsProduct,
    TemperatureProduct,
    AncProduct,
    PhotoProduct,
    OpenAIProduct,
    InterviewsProduct,
)
"""Every product lifecycle, started in this order and stopped in reverse."""


def create_app(gateway: Any = None) -> FastAPI:
    """The gateway's ASGI application.

    Args:
        gateway: the owning :class:`~services.gateway.service.GatewayService` (kept on
            ``app.state.gateway`` for operators' tools); routes never use it: they take
            dependencies from :mod:`services.gateway.deps`.
    """
    app = FastAPI(
        title="Earshot",
        version=earshot_version(),
        description="Earshot's gateway: the REST and WebSocket APIs of every Earshot product.",
    )
    app.state.gateway = gateway
    app.state.products = {}
    app.state.health_contributors = []
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

    for mount in ROUTERS:
        app.include_router(
            mount.router,
            prefix=mount.prefix,
            tags=list(mount.tags),
            generate_unique_id_function=mount.operation_id,
        )
    return app
