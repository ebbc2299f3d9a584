"""Meeting memos (seed 003): templates, mounted under ``/api/v1/mobile`` and ``/api/v1/web``.

The default templates (seeded by revision 0005) are shared and read-only (PUT/DELETE: 403);
a user's own templates are theirs alone (another user's: 404).
"""

from __future__ import annotations

import math
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from services.gateway.deps import CurrentUser
from services.gateway.products.meetings.models import MeetingTemplate
from services.gateway.products.meetings.schemas import (
    PageNo,
    TemplateIn,
    TemplateOut,
    TemplatePage,
)
from services.gateway.products.meetings.service import MeetingsDep
from services.gateway.shared.errors import ApiError
from services.gateway.shared.openapi import errors

router = APIRouter()

READ_ONLY = errors(404, described={403: "A shared default template (read-only)"})
"""Errors of the routes that change a template."""

Limit = Annotated[int, Query(ge=1, le=1000, description="Items per page, 1..1000.")]


def _pages(total: int, limit: int) -> int:
    return math.ceil(total / limit) if total else 0


# --- templates ----------------------------------------------------------------------------------
@router.get("/templates", response_model=TemplatePage)
async def list_templates(
    user: CurrentUser,
    product: MeetingsDep,
    page: PageNo = 1,
    limit: Limit = 20,
    search: Annotated[str | None, Query(max_length=200)] = None,
) -> TemplatePage:
    """The shared default templates and the caller's own."""
    rows, total = await product.templates.listing(user.id, "all", search, page, limit)
    return TemplatePage(
        data=[TemplateOut.of(t) for t in rows],
        total=total,
        page=page,
        limit=limit,
        total_pages=_pages(total, limit),
    )


@router.get("/templates/defaults", response_model=list[TemplateOut])
async def default_templates(user: CurrentUser, product: MeetingsDep) -> list[TemplateOut]:
    """The shared, read-only default templates."""
    rows, _ = await product.templates.listing(user.id, "defaults", None, 1, 1000)
    return [TemplateOut.of(t) for t in rows]


@router.get("/templates/user", response_model=list[TemplateOut])
async def user_templates(user: CurrentUser, product: MeetingsDep) -> list[TemplateOut]:
    """The caller's own templates."""
    rows, _ = await product.templates.listing(user.id, "user", None, 1, 1000)
    return [TemplateOut.of(t) for t in rows]


@router.post("/templates", response_model=TemplateOut, status_code=201)
async def create_template(body: TemplateIn, user: CurrentUser, product: MeetingsDep) -> TemplateOut:
    """Create a template of the caller's."""
    row = MeetingTemplate(
        id=str(uuid.uuid4()),
        title=body.title.strip(),
        description=body.description,
        transcription_prompt=body.transcription_prompt,
        summary_prompt=body.summary_prompt,
        key_points_prompt=[p for p in body.key_points_prompt if p.strip()],
        speaker_diarization=body.speaker_diarization,
        keywords=[],
        created_by=user.id,
        is_default=False,
        is_active=True,
    )
    return TemplateOut.of(await product.templates.add(row))


async def _template(product: object, template_id: uuid.UUID, user_id: str, *, write: bool) -> MeetingTemplate:
    row = await product.templates.visible(str(template_id), user_id)  # type: ignore[attr-defined]
    if row is None:
        raise ApiError(404, "Not found", f"no template {template_id}")
    if write and row.created_by is None:
        raise ApiError(403, "Read-only template", "default templates are shared and cannot be changed")
    return row  # type: ignore[no-any-return]


@router.get("/templates/{template_id}", response_model=TemplateOut, responses=errors(404))
async def get_template(template_id: uuid.UUID, user: CurrentUser, product: MeetingsDep) -> TemplateOut:
    """A default template or one of the caller's."""
    return TemplateOut.of(await _template(product, template_id, user.id, write=False))


@router.put("/templates/{template_id}", response_model=TemplateOut, responses=READ_ONLY)
async def update_template(
    template_id: uuid.UUID, body: TemplateIn, user: CurrentUser, product: MeetingsDep
) -> TemplateOut:
    """Change one of the caller's templates (defaults are read-only: 403)."""
    row = await _template(product, template_id, user.id, write=True)
    row.title = body.title.strip()
    row.description = body.description
    row.transcription_prompt = body.transcription_prompt
    row.summary_prompt = body.summary_prompt
    row.key_points_prompt = [p for p in body.key_points_prompt if p.strip()]
    row.speaker_diarization = body.speaker_diarization
    return TemplateOut.of(await product.templates.save(row))


@router.delete("/templates/{template_id}", status_code=204, responses=READ_ONLY)
async def delete_template(template_id: uuid.UUID, user: CurrentUser, product: MeetingsDep) -> Response:
    """Delete one of the caller's templates (defaults are read-only: 403)."""
    row = await _template(product, template_id, user.id, write=True)
    await product.templates.delete(row.id)
    return Response(status_code=204)
