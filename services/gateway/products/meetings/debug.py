"""``GET /api/v1/mobile/debug/routes``: the route table, only with ``EARSHOT_DEBUG_ROUTES=true``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from services.gateway.deps import CurrentUser
from services.gateway.products.meetings.service import MeetingsDep
from services.gateway.shared.errors import ApiError
from services.gateway.shared.openapi import errors

router = APIRouter()


class RouteEntry(BaseModel):
    """One documented route."""

    path: str
    methods: list[str]
    name: str


class RouteTable(BaseModel):
    """The route table."""

    routes: list[RouteEntry]
    total: int


# --- debug ----------------------------------------------------------------------------------------
@router.get(
    "/api/v1/mobile/debug/routes",
    response_model=RouteTable,
    responses=errors(described={404: "The debug routes are disabled (EARSHOT_DEBUG_ROUTES)"}),
)
async def debug_routes(request: Request, user: CurrentUser, product: MeetingsDep) -> RouteTable:
    """The route table (path, methods, operation id of every documented route, as the OpenAPI
    document lists them); 404 unless ``EARSHOT_DEBUG_ROUTES=true``."""
    if not product.settings.debug_routes:
        raise ApiError(404, "Not found", "the debug routes are disabled (EARSHOT_DEBUG_ROUTES)")
    routes = [
        {
            "path": path,
            "methods": sorted(m.upper() for m in ops),
            "name": next(iter(ops.values())).get("operationId", ""),
        }
        for path, ops in request.app.openapi().get("paths", {}).items()
    ]
    return RouteTable(routes=[RouteEntry.model_validate(r) for r in routes], total=len(routes))
