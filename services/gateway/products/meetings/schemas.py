"""Request and response models of the meeting memos, in seed 003's field names."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, Field

from services.gateway.products.meetings.models import MeetingRecord, MeetingTemplate, SpeakerProfile

MAX_PAGE = 1_000_000
PageNo = Annotated[int, Query(ge=1, le=MAX_PAGE, description="1-based page number, 1..1000000.")]
"""The ``page`` query parameter of the meeting lists (bounded: its offset must fit the database)."""


def iso(value: datetime | None) -> str | None:
    """ISO 8601 UTC with a ``Z`` (None stays None)."""
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


class TranscriptSegment(BaseModel):
    """One transcript segment: speaker, text, ``M:SS`` times (seed) and seconds."""

    speaker: str | None = None
    text: str
    start_time: str
    end_time: str
    start: float = Field(0.0, description="Seconds from the start.")
    end: float = Field(0.0, description="Seconds from the start.")


class ActionItemOut(BaseModel):
    """An action item: the seed's ``{task, assigned_to, due_date}`` plus ``id`` and ``status``."""

    id: str
    task: str
    assigned_to: str | None = None
    due_date: str | None = Field(None, description="YYYY-MM-DD resolved against the meeting date.")
    status: Literal["open", "done"] = "open"


class MeetingOut(BaseModel):
    """The seed's meeting record ("Meeting Creation Response") plus analytics and errors."""

    id: str
    title: str
    description: str | None = None
    participants: list[str] = Field(default_factory=list)
    transcription: list[TranscriptSegment] = Field(default_factory=list)
    summary: str | None = None
    key_points: str | None = Field(None, description="Numbered lines, '1. ...\\n2. ...'.")
    action_items: list[ActionItemOut] = Field(default_factory=list)
    audio_filename: str | None = None
    s3_audio_path: str | None = Field(None, description="Object key of the playback audio.")
    templateid: str | None = None
    custom_template_points: str | None = None
    status: Literal["PENDING", "PROCESSING", "COMPLETED", "FAILED"]
    analytics_status: Literal["PENDING", "PROCESSING", "COMPLETED", "FAILED"]
    analytics_data: dict[str, Any] | None = None
    error: str | None = None
    is_processed: bool = False
    speakers: list[str] = Field(default_factory=list)
    duration_s: float | None = None
    language: str | None = None
    user_id: str
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, r: MeetingRecord) -> MeetingOut:
        """From a row."""
        return cls(
            id=r.id,
            title=r.title,
            description=r.description,
            participants=list(r.participants or []),
            transcription=[TranscriptSegment.model_validate(s) for s in r.transcription or []],
            summary=r.summary,
            key_points=r.key_points,
            action_items=[ActionItemOut.model_validate(i) for i in r.action_items or []],
            audio_filename=r.audio_filename,
            s3_audio_path=r.s3_audio_path,
            templateid=r.templateid,
            custom_template_points=r.custom_template_points,
            status=r.status,  # type: ignore[arg-type]
            analytics_status=r.analytics_status,  # type: ignore[arg-type]
            analytics_data=r.analytics_data,
            error=r.error,
            is_processed=bool(r.is_processed),
            speakers=list(r.speakers or []),
            duration_s=r.duration_s,
            language=r.language,
            user_id=r.user_id,
            created_at=iso(r.created_at) or "",
            updated_at=iso(r.updated_at) or "",
        )


class MeetingPage(BaseModel):
    """The seed's paginated list."""

    data: list[MeetingOut]
    total: int
    page: int
    limit: int
    total_pages: int


class MeetingUpdate(BaseModel):
    """``PUT /meetings/{id}``: the fields a user may change."""

    title: str | None = Field(None, min_length=1, max_length=300)
    description: str | None = None
    participants: list[str] | None = None


class SpeakerRename(BaseModel):
    """``PUT /meetings/{id}/speaker-names``."""

    old_speaker_name: str = Field(min_length=1, max_length=200)
    new_speaker_name: str = Field(min_length=1, max_length=200)


class SpeakerRenameBulk(BaseModel):
    """``PUT /meetings/{id}/speaker-names/bulk``."""

    speaker_updates: dict[str, str] = Field(min_length=1)


class AudioUrl(BaseModel):
    """A presigned URL of the meeting's audio."""

    url: str
    expires_in: int = Field(description="Seconds the URL stays valid.")
    meeting_id: str


class SuggestedTitle(BaseModel):
    """``POST /meetings/suggest-title``."""

    suggested_title: str


class SuggestedDescription(BaseModel):
    """``POST /meetings/suggest-description``."""

    suggested_description: str


class AlternativeTemplateOut(BaseModel):
    """A runner-up template."""

    template_id: str
    template_name: str
    confidence: float


class TemplateSuggestionOut(BaseModel):
    """``POST /meetings/suggest-template`` (the seed's shape)."""

    suggested_template_id: str
    suggested_template_name: str
    confidence: float
    reason: str
    alternative_templates: list[AlternativeTemplateOut] = Field(default_factory=list)


class TemplateIn(BaseModel):
    """``POST /templates`` and ``PUT /templates/{id}``."""

    title: str = Field(min_length=1, max_length=200)
    description: str | None = None
    transcription_prompt: str | None = None
    summary_prompt: str | None = None
    key_points_prompt: list[str] = Field(default_factory=list)
    speaker_diarization: str | None = None


class TemplateOut(BaseModel):
    """A template as the API shows it."""

    id: str
    title: str
    description: str | None = None
    transcription_prompt: str | None = None
    summary_prompt: str | None = None
    key_points_prompt: list[str] = Field(default_factory=list)
    speaker_diarization: str | None = None
    created_by: str | None = None
    is_default: bool
    is_active: bool = True
    created_at: str | None = None
    updated_at: str | None = None

    @classmethod
    def of(cls, t: MeetingTemplate) -> TemplateOut:
        """From a row."""
        return cls(
            id=t.id,
            title=t.title,
            description=t.description,
            transcription_prompt=t.transcription_prompt,
            summary_prompt=t.summary_prompt,
            key_points_prompt=list(t.key_points_prompt or []),
            speaker_diarization=t.speaker_diarization,
            created_by=t.created_by,
            is_default=t.is_default,
            is_active=t.is_active,
            created_at=iso(t.created_at),
            updated_at=iso(t.updated_at),
        )


class TemplatePage(BaseModel):
    """A page of templates."""

    data: list[TemplateOut]
    total: int
    page: int
    limit: int
    total_pages: int


class ProfileIn(BaseModel):
    """``POST``/``PUT /api/v1/crm/speaker-profiles``."""

    first_name: str = Field(min_length=1, max_length=100)
    middle_name: str | None = Field(None, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    email: str | None = Field(None, max_length=255)
    phone: str | None = Field(None, max_length=50)
    company: str | None = Field(None, max_length=200)
    designation: str | None = Field(None, max_length=200)
    notes: str | None = None


class ProfileOut(ProfileIn):
    """A CRM profile."""

    id: str
    full_name: str
    speaker_names: list[str] = Field(default_factory=list)
    created_at: str | None = None
    updated_at: str | None = None

    @classmethod
    def of(cls, p: SpeakerProfile) -> ProfileOut:
        """From a row."""
        return cls(
            id=p.id,
            first_name=p.first_name,
            middle_name=p.middle_name,
            last_name=p.last_name,
            email=p.email,
            phone=p.phone,
            company=p.company,
            designation=p.designation,
            notes=p.notes,
            full_name=p.full_name,
            speaker_names=list(p.speaker_names or []),
            created_at=iso(p.created_at),
            updated_at=iso(p.updated_at),
        )


class ProfilePage(BaseModel):
    """A page of CRM profiles."""

    data: list[ProfileOut]
    total: int
    page: int
    limit: int
    total_pages: int


class SpeakerEntry(BaseModel):
    """One speaker of the user's meetings."""

    speaker_name: str
    meeting_count: int
    profile: ProfileOut | None = None


class SpeakerList(BaseModel):
    """``GET /api/v1/crm/speakers``."""

    speakers: list[SpeakerEntry]
    total: int


class MapSpeaker(BaseModel):
    """``POST /api/v1/crm/speaker-profiles/{id}/map``."""

    speaker_name: str = Field(min_length=1, max_length=200)


class MapResult(BaseModel):
    """What a mapping did."""

    profile: ProfileOut
    speaker_name: str
    renamed_to: str
    meetings_updated: int


class BackgroundStatus(BaseModel):
    """``GET /meetings/transcription/status``: the background service's health."""

    running: bool
    scope: Literal["user", "all"]
    queue_depth: int = Field(description="Meetings PENDING.")
    processing: int
    completed: int
    failed: int
    last_error: str | None = None
    last_error_meeting_id: str | None = None
    consumer_lag: int | None = Field(None, description="Requests not yet consumed (bus lag), when known.")
    websocket_clients: int = 0


class BackgroundAction(BaseModel):
    """Answer of the background-service controls."""

    message: str
    running: bool
    queued: int = 0


class ActionItemRow(ActionItemOut):
    """An action item with its meeting."""

    meeting_id: str
    meeting_title: str


class ActionItemList(BaseModel):
    """``GET /action-items``."""

    data: list[ActionItemRow]
    total: int


class ActionItemPatch(BaseModel):
    """``PATCH /action-items/{id}``."""

    status: Literal["open", "done"]
