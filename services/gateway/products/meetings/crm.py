"""Meeting memos (seed 003): templates (under both surfaces), the CRM (``/api/v1/crm``) and
the debug route table (``GET /api/v1/mobile/debug/routes``, only with ``EARSHOT_DEBUG_ROUTES=true``).

**Mapping a speaker to a profile** (``POST /api/v1/crm/speaker-profiles/{id}/map``) renames
that speaker to the profile's full name across all the caller's meetings (segments,
participants, action-item owners, analytics; one transaction) *and* links the name to the
profile (``speaker_names``), so the speaker list shows the profile and later renames keep
it. Renaming is the choice because the seed's CRM lists speakers by name: a mapping that only
linked would leave "Speaker 1" in transcripts the user already identified.
"""

from __future__ import annotations

import math
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.gateway.deps import CurrentUser
from services.gateway.products.meetings.models import MeetingTemplate, SpeakerProfile
from services.gateway.products.meetings.schemas import (
    MapResult,
    MapSpeaker,
    MeetingOut,
    MeetingPage,
    ProfileIn,
    ProfileOut,
    ProfilePage,
    SpeakerEntry,
    SpeakerList,
    TemplateIn,
    TemplateOut,
    TemplatePage,
)
from services.gateway.products.meetings.service import MeetingsDep
from services.gateway.shared.errors import ApiError

templates_router = APIRouter()
crm_router = APIRouter()
debug_router = APIRouter()

Limit = Annotated[int, Query(ge=1, le=1000, description="Items per page, 1..1000.")]
PageNo = Annotated[int, Query(ge=1, description="1-based page number.")]


def _pages(total: int, limit: int) -> int:
    return math.ceil(total / limit) if total else 0


# --- templates ----------------------------------------------------------------------------------
@templates_router.get("/templates", response_model=TemplatePage)
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


@templates_router.get("/templates/defaults", response_model=list[TemplateOut])
async def default_templates(user: CurrentUser, product: MeetingsDep) -> list[TemplateOut]:
    """The shared, read-only default templates."""
    rows, _ = await product.templates.listing(user.id, "defaults", None, 1, 1000)
    return [TemplateOut.of(t) for t in rows]


@templates_router.get("/templates/user", response_model=list[TemplateOut])
async def user_templates(user: CurrentUser, product: MeetingsDep) -> list[TemplateOut]:
    """The caller's own templates."""
    rows, _ = await product.templates.listing(user.id, "user", None, 1, 1000)
    return [TemplateOut.of(t) for t in rows]


@templates_router.post("/templates", response_model=TemplateOut, status_code=201)
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


@templates_router.get("/templates/{template_id}", response_model=TemplateOut)
async def get_template(template_id: uuid.UUID, user: CurrentUser, product: MeetingsDep) -> TemplateOut:
    """A default template or one of the caller's."""
    return TemplateOut.of(await _template(product, template_id, user.id, write=False))


@templates_router.put("/templates/{template_id}", response_model=TemplateOut)
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


@templates_router.delete("/templates/{template_id}", status_code=204)
async def delete_template(template_id: uuid.UUID, user: CurrentUser, product: MeetingsDep) -> Response:
    """Delete one of the caller's templates (defaults are read-only: 403)."""
    row = await _template(product, template_id, user.id, write=True)
    await product.templates.delete(row.id)
    return Response(status_code=204)


# --- CRM ------------------------------------------------------------------------------------------
@crm_router.get("/speakers", response_model=SpeakerList)
async def list_speakers(user: CurrentUser, product: MeetingsDep) -> SpeakerList:
    """Every speaker name of the caller's meetings with its meeting count and linked profile."""
    counts: dict[str, int] = {}
    for record in await product.meetings.with_speaker(user.id):
        for name in dict.fromkeys(record.speakers or []):
            counts[name] = counts.get(name, 0) + 1
    profiles = await product.profiles.all(user.id)
    by_name: dict[str, SpeakerProfile] = {}
    for p in profiles:
        for name in [p.full_name, *(p.speaker_names or [])]:
            by_name.setdefault(name.lower(), p)
    speakers = [
        SpeakerEntry(
            speaker_name=name,
            meeting_count=n,
            profile=ProfileOut.of(by_name[name.lower()]) if name.lower() in by_name else None,
        )
        for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return SpeakerList(speakers=speakers, total=len(speakers))


@crm_router.get("/speakers/{speaker_name}/meetings", response_model=MeetingPage)
async def speaker_meetings(
    speaker_name: str, user: CurrentUser, product: MeetingsDep, page: PageNo = 1, limit: Limit = 20
) -> MeetingPage:
    """The caller's meetings where ``speaker_name`` speaks or is a participant, newest first."""
    rows = await product.meetings.with_speaker(user.id, speaker_name)
    chunk = rows[(page - 1) * limit : page * limit]
    return MeetingPage(
        data=[MeetingOut.of(r) for r in chunk],
        total=len(rows),
        page=page,
        limit=limit,
        total_pages=_pages(len(rows), limit),
    )


@crm_router.get("/speaker-profiles", response_model=ProfilePage)
async def list_profiles(
    user: CurrentUser,
    product: MeetingsDep,
    page: PageNo = 1,
    limit: Limit = 20,
    search: Annotated[str | None, Query(max_length=200)] = None,
) -> ProfilePage:
    """The caller's CRM profiles (``search`` in names, e-mail, company)."""
    rows, total = await product.profiles.page(user.id, page, limit, search)
    return ProfilePage(
        data=[ProfileOut.of(p) for p in rows],
        total=total,
        page=page,
        limit=limit,
        total_pages=_pages(total, limit),
    )


@crm_router.post("/speaker-profiles", response_model=ProfileOut, status_code=201)
async def create_profile(body: ProfileIn, user: CurrentUser, product: MeetingsDep) -> ProfileOut:
    """Create a CRM profile."""
    row = SpeakerProfile(id=str(uuid.uuid4()), user_id=user.id, speaker_names=[], **body.model_dump())
    return ProfileOut.of(await product.profiles.add(row))


async def _profile(product: object, profile_id: uuid.UUID, user_id: str) -> SpeakerProfile:
    row = await product.profiles.get(str(profile_id), user_id)  # type: ignore[attr-defined]
    if row is None:
        raise ApiError(404, "Not found", f"no speaker profile {profile_id}")
    return row  # type: ignore[no-any-return]


@crm_router.get("/speaker-profiles/{profile_id}", response_model=ProfileOut)
async def get_profile(profile_id: uuid.UUID, user: CurrentUser, product: MeetingsDep) -> ProfileOut:
    """One of the caller's profiles."""
    return ProfileOut.of(await _profile(product, profile_id, user.id))


@crm_router.put("/speaker-profiles/{profile_id}", response_model=ProfileOut)
async def update_profile(
    profile_id: uuid.UUID, body: ProfileIn, user: CurrentUser, product: MeetingsDep
) -> ProfileOut:
    """Change one of the caller's profiles."""
    row = await _profile(product, profile_id, user.id)
    for key, value in body.model_dump().items():
        setattr(row, key, value)
    return ProfileOut.of(await product.profiles.save(row))


@crm_router.delete("/speaker-profiles/{profile_id}", status_code=204)
async def delete_profile(profile_id: uuid.UUID, user: CurrentUser, product: MeetingsDep) -> Response:
    """Delete one of the caller's profiles (meetings keep their speaker names)."""
    row = await _profile(product, profile_id, user.id)
    await product.profiles.delete(row.id)
    return Response(status_code=204)


@crm_router.post("/speaker-profiles/{profile_id}/map", response_model=MapResult)
async def map_speaker(
    profile_id: uuid.UUID, body: MapSpeaker, user: CurrentUser, product: MeetingsDep
) -> MapResult:
    """Map a speaker name to the profile: renamed to its full name in all the caller's meetings,
    and linked (see the module docstring). 404 when no meeting of the caller has that speaker."""
    row = await _profile(product, profile_id, user.id)
    name = body.speaker_name.strip()
    if not await product.meetings.with_speaker(user.id, name):
        raise ApiError(404, "Not found", f"no meeting of yours has the speaker {name!r}")
    full = row.full_name
    updated = await product.meetings.rename_speakers(user.id, {name: full}) if name != full else 0
    row.speaker_names = list(dict.fromkeys([*(row.speaker_names or []), name, full]))
    saved = await product.profiles.save(row)
    return MapResult(
        profile=ProfileOut.of(saved), speaker_name=name, renamed_to=full, meetings_updated=updated
    )


# --- debug ----------------------------------------------------------------------------------------
@debug_router.get("/api/v1/mobile/debug/routes")
async def debug_routes(request: Request, user: CurrentUser, product: MeetingsDep) -> dict[str, object]:
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
    return {"routes": routes, "total": len(routes)}
