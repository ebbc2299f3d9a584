"""``create_app``: the gateway's FastAPI application -- middleware, error handlers and THE table
of product routers (:data:`ROUTERS`) and product lifecycles (:data:`PRODUCTS`).

Adding a product: a package under ``products/`` (see docs/development.md), one line per
router in :data:`ROUTERS`, and its :class:`~services.gateway.shared.product.Product`
subclass in :data:`PRODUCTS` when it keeps state or consumes events.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi.utils import generate_unique_id

from services.common import metrics
from services.common.access_log import AccessLogMiddleware
from services.common.asgi import JsonLimitsMiddleware, RequestContextMiddleware
from services.gateway.products.accounts import anc as accounts_anc
from services.gateway.products.accounts import interview_coach as accounts_interview_coach
from services.gateway.products.accounts import router as accounts
from services.gateway.products.accounts import surface as accounts_surface
from services.gateway.products.accounts.service import AccountsProduct
from services.gateway.products.anc import router as anc
from services.gateway.products.anc.service import AncProduct
from services.gateway.products.anc.socketio import SOCKETIO_PATH, socketio_app
from services.gateway.products.anc.stream import PROTOCOLS_MARKDOWN
from services.gateway.products.console import router as console
from services.gateway.products.docs import router as docs
from services.gateway.products.interviews import router as interviews
from services.gateway.products.interviews.consumers import InterviewsProduct
from services.gateway.products.meetings import crm as meetings_crm
from services.gateway.products.meetings import debug as meetings_debug
from services.gateway.products.meetings import router as meetings
from services.gateway.products.meetings import templates as meetings_templates
from services.gateway.products.meetings.service import MeetingsProduct
from services.gateway.products.openai import router as openai
from services.gateway.products.openai.service import OpenAIProduct
from services.gateway.products.photos import router as photos
from services.gateway.products.photos.service import PhotoProduct
from services.gateway.products.platform import router as platform
from services.gateway.products.temperature import router as temperature
from services.gateway.products.temperature.service import TemperatureProduct
from services.gateway.shared.errors import install_error_handlers
from services.gateway.shared.openapi import install_openapi
from services.gateway.shared.product import Product
from services.gateway.shared.routing import skip_unreachable_routers
from services.gateway.shared.version import earshot_version

__all__ = ["ASGI_MOUNTS", "PRODUCTS", "ROUTERS", "Mount", "create_app"]


API_DESCRIPTION = (
    """Earshot's gateway: the REST, WebSocket and Socket.IO APIs of every Earshot product.

Errors are `{error, details, timestamp}` (the OpenAI-compatible `/v1` routes answer OpenAI's
error shape). Routes that store a user's records take an access token
(`Authorization: Bearer <token>` from register, login, refresh or OAuth); another user's
record answers 404. The stateless routes (`POST /analyze-audio`, `POST /api/ml/classify`,
`POST /v1/audio/transcriptions`, `GET /v1/models`) are open unless `EARSHOT_API_KEYS` is set;
then they take an API key (`Authorization: Bearer <key>` or `X-API-Key`) or an access token.
These pages (`/docs`, `/redoc`) load nothing from outside the gateway.
"""
    + PROTOCOLS_MARKDOWN
)
"""The OpenAPI ``info.description`` (Markdown)."""


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
    Mount(docs.router),  # /docs, /redoc (offline assets), /api/docs and /swagger aliases
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
    Mount(meetings.router, "/api/v1/mobile", ["meeting memos (mobile)"], meetings.surface_operation_id),
    Mount(meetings.router, "/api/v1/web", ["meeting memos (web)"], meetings.surface_operation_id),
    Mount(
        meetings_templates.router,
        "/api/v1/mobile",
        ["meeting templates (mobile)"],
        meetings.surface_operation_id,
    ),
    Mount(
        meetings_templates.router,
        "/api/v1/web",
        ["meeting templates (web)"],
        meetings.surface_operation_id,
    ),
    Mount(meetings_crm.router, "/api/v1/crm", ["meeting memos: CRM"]),
    Mount(meetings_debug.router, tags=["meeting memos: debug"]),
    Mount(openai.router, prefix="/v1", tags=["OpenAI-compatible speech to text"]),
    Mount(interviews.router, tags=["interview coach"]),
)
"""Every product router, in one place (order = OpenAPI order)."""

ASGI_MOUNTS: tuple[tuple[str, Callable[[], Any]], ...] = (
    # Seed 004's Flask-SocketIO clients: python-socketio's server beside the raw ANC WebSocket.
    (SOCKETIO_PATH, socketio_app),
)
"""Non-FastAPI ASGI applications mounted under a path (not in the OpenAPI document)."""

PRODUCTS: tuple[type[Product], ...] = (
    AccountsProduct,
    TemperatureProduct,
    AncProduct,
    PhotoProduct,
    OpenAIProduct,
    InterviewsProduct,
    MeetingsProduct,
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
        description=API_DESCRIPTION,
        # Swagger UI and ReDoc are served offline by products/docs (no CDN).
        docs_url=None,
        redoc_url=None,
        # Our RequestContextMiddleware opens each request's span (W3C traceparent in, trace
        # ids in logs); FastAPI's own telemetry would add a second span and metrics per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.gateway = gateway
    app.state.products = {}
    app.state.health_contributors = []
    install_error_handlers(app, seed_detail_prefixes=meetings.SEED_ERROR_PREFIXES)
    app.add_middleware(metrics.MetricsMiddleware, service="gateway")
    # inside the request context (request id and trace ids in the log context): one line per request
    app.add_middleware(AccessLogMiddleware)
    app.add_route("/metrics", metrics.metrics_endpoint, include_in_schema=False)

    # JSON bodies: size (413) and nesting (400) checked before any route parses them
    # (limits from settings, app.state.json_limits, set at start).
    app.add_middleware(JsonLimitsMiddleware)
    # Pure ASGI (no BaseHTTPMiddleware): request id, log context and the request's span.
    app.add_middleware(RequestContextMiddleware, scope_name="earshot.gateway")

    for mount in ROUTERS:
        app.include_router(
            mount.router,
            prefix=mount.prefix,
            tags=list(mount.tags),
            generate_unique_id_function=mount.operation_id,
        )
    for path, factory in ASGI_MOUNTS:
        app.mount(path, factory())
    # every operation's error answers: those its dependencies, body and security add
    install_openapi(app)
    # each request tries only the product routers whose paths can match it (issue 18)
    skip_unreachable_routers(app)
    return app
