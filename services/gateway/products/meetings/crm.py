"""Meeting memos (seed 003): the CRM, mounted under ``/api/v1/crm``.

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

from fastapi import APIRouter, Query, Response

from services.gateway.deps import CurrentUser
from services.gateway.products.meetings.models import SpeakerProfile
from services.gateway.products.meetings.schemas import (
    MapResult,
    MapSpeaker,
    MeetingOut,
    MeetingPage,
    PageNo,
    ProfileIn,
    ProfileOut,
    ProfilePage,
    SpeakerEntry,
    SpeakerList,
)
from services.gateway.products.meetings.service import MeetingsDep
from services.gateway.shared.errors import ApiError
from services.gateway.shared.openapi import errors

router = APIRouter()

Limit = Annotated[int, Query(ge=1, le=1000, description="Items per page, 1..1000.")]


def _pages(total: int, limit: int) -> int:
    return math.ceil(total / limit) if total else 0


# --- CRM ------------------------------------------------------------------------------------------
@router.get("/speakers", response_model=SpeakerList)
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


@router.get("/speakers/{speaker_name}/meetings", response_model=MeetingPage)
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


@router.get("/speaker-profiles", response_model=ProfilePage)
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


@router.post("/speaker-profiles", response_model=ProfileOut, status_code=201)
async def create_profile(body: ProfileIn, user: CurrentUser, product: MeetingsDep) -> ProfileOut:
    """Create a CRM profile."""
    row = SpeakerProfile(id=str(uuid.uuid4()), user_id=user.id, speaker_names=[], **body.model_dump())
    return ProfileOut.of(await product.profiles.add(row))


async def _profile(product: object, profile_id: uuid.UUID, user_id: str) -> SpeakerProfile:
    row = await product.profiles.get(str(profile_id), user_id)  # type: ignore[attr-defined]
    if row is None:
        raise ApiError(404, "Not found", f"no speaker profile {profile_id}")
    return row  # type: ignore[no-any-return]


@router.get("/speaker-profiles/{profile_id}", response_model=ProfileOut, responses=errors(404))
async def get_profile(profile_id: uuid.UUID, user: CurrentUser, product: MeetingsDep) -> ProfileOut:
    """One of the caller's profiles."""
    return ProfileOut.of(await _profile(product, profile_id, user.id))


@router.put("/speaker-profiles/{profile_id}", response_model=ProfileOut, responses=errors(404))
async def update_profile(
    profile_id: uuid.UUID, body: ProfileIn, user: CurrentUser, product: MeetingsDep
) -> ProfileOut:
    """Change one of the caller's profiles."""
    row = await _profile(product, profile_id, user.id)
    for key, value in body.model_dump().items():
        setattr(row, key, value)
    return ProfileOut.of(await product.profiles.save(row))


@router.delete("/speaker-profiles/{profile_id}", status_code=204, responses=errors(404))
async def delete_profile(profile_id: uuid.UUID, user: CurrentUser, product: MeetingsDep) -> Response:
    """Delete one of the caller's profiles (meetings keep their speaker names)."""
    row = await _profile(product, profile_id, user.id)
    await product.profiles.delete(row.id)
    return Response(status_code=204)


@router.post(
    "/speaker-profiles/{profile_id}/map",
    response_model=MapResult,
    responses=errors(described={404: "No such profile, or no meeting of the caller has the speaker"}),
)
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
