"""CloudEvents 1.0 envelope, the event catalogue and its payload models.

Events travel in CloudEvents *binary mode* (CloudEvents Kafka protocol binding 1.0):
the attributes go in ``ce_*`` headers (``ce_id``, ``ce_source``, ``ce_type``,
``ce_specversion``, ``ce_time``, ``ce_subject``, ``ce_traceparent``), the payload is
the JSON message value (``content-type: application/json``) and the Kafka key is
the job id. Conversion is :mod:`services.common.event_codec` (byte for byte what the
CloudEvents SDK's ``cloudevents.kafka`` produces, at a fraction of its cost).

Large data never travels in an event: payloads carry object-storage keys.
"""

from __future__ import annotations

import builtins
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

from cloudevents.kafka import KafkaMessage
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.common import event_codec
from services.common.analysis_results import (
    InterviewRequest,
    InterviewResult,
    MeetingAnalysis,
    MeetingRequest,
    TemperatureRequest,
    TemperatureResult,
)
from services.common.timefmt import utc_timestamp

SPEC_VERSION = "1.0"


class EventPayload(BaseModel):
    """Base of every payload model: its CloudEvents ``type`` and the topic it goes to."""

    model_config = ConfigDict(extra="forbid")

    event_type: ClassVar[str]
    topic: ClassVar[str]

    job_id: str = Field(description="Job id; also the Kafka message key.")


P = TypeVar("P", bound=EventPayload)


@dataclass(slots=True)
class Envelope:
    """One CloudEvent: attributes plus a JSON-able ``data`` dict.

    Attributes:
        type: reverse-DNS event type, e.g. ``earshot.transcription.completed.v1``.
        source: URI-reference of the producer, e.g. ``/earshot/transcription``.
        key: partition key (the job id); events with one key keep their order.
        data: the payload as a JSON object.
        id: unique event id (UUID4 by default).
        time: RFC 3339 UTC time of the occurrence.
        subject: optional subject (the job id by default).
        extensions: extra CloudEvents attributes such as ``traceparent``.
    """

    type: str
    source: str
    key: str
    data: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: str = field(default_factory=lambda: utc_timestamp(seconds=False))
    subject: str | None = None
    extensions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, payload: EventPayload, source: str, **extensions: str) -> Envelope:
        """Wrap a payload model, keyed and subjected by its job id."""
        return cls(
            type=payload.event_type,
            source=source,
            key=payload.job_id,
            subject=payload.job_id,
            data=payload.model_dump(mode="json"),
            extensions=dict(extensions),
        )

    def payload(self, model: builtins.type[P]) -> P:
        """Validate ``data`` into ``model``.

        Raises:
            pydantic.ValidationError: when the data does not match the schema.
            ValueError: when this event's type is not the model's.
        """
        if self.type != model.event_type:
            raise ValueError(f"event type {self.type!r} is not {model.event_type!r}")
        return model.model_validate(self.data)

    # --- CloudEvents binary mode -------------------------------------------------------
    def to_message(self) -> KafkaMessage:
        """Encode as a binary-mode Kafka message (``ce_*`` headers, JSON value, key).

        Raises:
            ValueError: ``data`` is not JSON-serialisable or id/source/type is empty.
        """
        return event_codec.encode(self)

    @classmethod
    def from_message(cls, message: KafkaMessage) -> Envelope:
        """Decode and validate a binary-mode Kafka message (see :mod:`services.common.event_codec`).

        Raises:
            ValueError: when required attributes are missing or empty, ``specversion`` is
                not 1.0, the content type is not JSON or the body is not a JSON object.
        """
        return event_codec.decode(message.headers.items(), message.key, message.value)


# --- topics -------------------------------------------------------------------------------
TRANSCRIPTION_REQUESTS = "earshot.transcription.requests"
TRANSCRIPTION_EVENTS = "earshot.transcription.events"
ANALYSIS_REQUESTS = "earshot.analysis.requests"
ANALYSIS_EVENTS = "earshot.analysis.events"


def dead_letter_topic(topic: str) -> str:
    """Name of the dead-letter topic for ``topic`` (``<topic>.dlq``)."""
    return f"{topic}.dlq"


# --- payloads -----------------------------------------------------------------------------
class TranscriptionRequested(EventPayload):
    """Ask the transcription service to transcribe an uploaded recording."""

    event_type: ClassVar[str] = "earshot.transcription.requested.v1"
    topic: ClassVar[str] = TRANSCRIPTION_REQUESTS

    audio_key: str = Field(description="Object key of the recording in storage.")
    language: str | None = Field(None, description="ISO 639-1 code; None lets the engine detect it.")
    word_timestamps: bool = True
    purpose: str = Field("transcript", description="What the requester will do with it, e.g. 'temperature'.")
    model: str | None = Field(None, description="Model id (see gRPC ListModels); None: the default.")
    engine: str | None = Field(None, description="'local', 'openai' or 'gemini'; None: by model or default.")
    prompt: str | None = Field(None, description="Text to condition the decoder on (names, spelling).")
    temperature: float | None = Field(None, ge=0, le=1, description="Sampling temperature; None/0 greedy.")
    diarize: bool = Field(False, description="Label segments and words with speakers.")
    min_speakers: int | None = Field(None, ge=1, le=32, description="Lower bound on the speaker count.")
    max_speakers: int | None = Field(None, ge=1, le=32, description="Upper bound on the speaker count.")
    voice_activity: bool = Field(
        False, description="Also store the recording's speech intervals (Silero VAD) on the transcript."
    )


class TranscriptionProgress(EventPayload):
    """How far a transcription job has got (published while it runs; gateways may forward it)."""

    event_type: ClassVar[str] = "earshot.transcription.progress.v1"
    topic: ClassVar[str] = TRANSCRIPTION_EVENTS

    percent: float = Field(ge=0, le=100, description="Share of the audio transcribed, 0-100.")
    processed_s: float = Field(ge=0, description="Seconds of audio transcribed so far.")
    duration_s: float = Field(ge=0, description="Duration of the recording, seconds.")


class TranscriptionCompleted(EventPayload):
    """A transcript is ready in storage (JSON of services.common.transcript.Transcript)."""

    event_type: ClassVar[str] = "earshot.transcription.completed.v1"
    topic: ClassVar[str] = TRANSCRIPTION_EVENTS

    audio_key: str
    transcript_key: str
    language: str
    duration: float = Field(ge=0, description="Audio duration in seconds.")
    word_count: int = Field(ge=0)
    processing_s: float = Field(ge=0, description="Wall time the engine took, seconds.")
    purpose: str = "transcript"


class JobFailed(EventPayload):
    """Common shape of failure events: a machine code and a human sentence."""

    event_type: ClassVar[str] = "earshot.job.failed.v1"
    topic: ClassVar[str] = ""

    error: str = Field(description="Short machine-readable code, e.g. 'corrupt_audio'.")
    details: str = Field(description="Human-readable explanation, safe to show to the client.")


class TranscriptionFailed(JobFailed):
    """The transcription of a job failed for good."""

    event_type: ClassVar[str] = "earshot.transcription.failed.v1"
    topic: ClassVar[str] = TRANSCRIPTION_EVENTS


AnalysisKind = Literal["temperature", "meeting", "interview"]
"""What an analysis event is about: conversation temperature (seed 000), a meeting's summary,
key points and action items (seed 003), or an interview answer's complete analysis (seed 001)."""


class AnalysisRequested(EventPayload):
    """Deprecated (v2 types the options); the analysis service still accepts it until it is removed."""

    event_type: ClassVar[str] = "earshot.analysis.requested.v1"
    topic: ClassVar[str] = ANALYSIS_REQUESTS

    kind: AnalysisKind = "temperature"
    transcript_key: str
    audio_key: str | None = Field(None, description="Recording, for acoustic features (loudness).")
    options: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Kind-specific options: meeting {meeting_date, template, templates}; interview "
            "{question, expected_concepts, analysis_types, window_s}."
        ),
    )


AnalysisOptions = TemperatureRequest | MeetingRequest | InterviewRequest
"""The typed options of an analysis request, by kind."""

OPTION_MODELS: dict[str, type[TemperatureRequest] | type[MeetingRequest] | type[InterviewRequest]] = {
    "temperature": TemperatureRequest,
    "meeting": MeetingRequest,
    "interview": InterviewRequest,
}
"""The options model of each analysis kind."""


def _typed_by_kind(data: Any, field_name: str, models: dict[str, Any]) -> Any:
    """Validate ``data[field_name]`` (a JSON object) with the model of ``data["kind"]``."""
    if isinstance(data, dict) and isinstance(data.get(field_name), dict):
        model = models.get(str(data.get("kind", "temperature")))
        if model is not None:
            data = {**data, field_name: model.model_validate(data[field_name])}
    return data


class AnalysisRequestedV2(EventPayload):
    """Ask for an analysis of a stored transcript, with options typed by kind; replaces v1."""

    # The analysis service accepts v1 too (read either with :meth:`from_envelope`).

    event_type: ClassVar[str] = "earshot.analysis.requested.v2"
    topic: ClassVar[str] = ANALYSIS_REQUESTS

    kind: AnalysisKind = "temperature"
    transcript_key: str
    audio_key: str | None = Field(None, description="Recording, for acoustic features (loudness).")
    options: AnalysisOptions = Field(
        default_factory=TemperatureRequest,
        description="TemperatureRequest (none), MeetingRequest {meeting_date, template, templates} or "
        "InterviewRequest {question, expected_concepts, analysis_types, window_s}, as given by `kind`.",
    )

    @model_validator(mode="before")
    @classmethod
    def _options_of_kind(cls, data: Any) -> Any:
        """Validate JSON ``options`` with the model of ``kind`` (default: that model's defaults)."""
        if isinstance(data, dict) and "options" not in data:
            data = {**data, "options": {}}
        return _typed_by_kind(data, "options", OPTION_MODELS)

    @model_validator(mode="after")
    def _check_kind(self) -> AnalysisRequestedV2:
        expected = OPTION_MODELS[self.kind]
        if type(self.options) is not expected:
            raise ValueError(f"{self.kind} options must be a {expected.__name__}")
        return self

    @classmethod
    def from_envelope(cls, envelope: Envelope) -> AnalysisRequestedV2:
        """The typed request of a v2 event, or of a v1 event (its ``options`` dict validated).

        Raises:
            ValueError: neither request type, or options not matching the kind's model
                (pydantic's ``ValidationError`` is a ``ValueError``).
        """
        if envelope.type == cls.event_type:
            return envelope.payload(cls)
        if envelope.type == AnalysisRequested.event_type:
            v1 = envelope.payload(AnalysisRequested)
            return cls.model_validate(v1.model_dump())
        raise ValueError(f"event type {envelope.type!r} is not an analysis request")


ANALYSIS_REQUESTED_TYPES: tuple[str, ...] = (
    "earshot.analysis.requested.v2",
    "earshot.analysis.requested.v1",
)
"""Request event types the analysis service accepts (v1 stays readable until it is removed)."""


class AnalysisCompleted(EventPayload):
    """Deprecated (v2 types the result); consumers still accept it until it is removed."""

    event_type: ClassVar[str] = "earshot.analysis.completed.v1"
    topic: ClassVar[str] = ANALYSIS_EVENTS

    kind: AnalysisKind = "temperature"
    analyzer: str = Field(description="Which analyzer produced it, e.g. 'local'.")
    result: dict[str, Any]


AnalysisResult = TemperatureResult | MeetingAnalysis | InterviewResult
"""The typed result of an analysis, by kind."""

RESULT_MODELS: dict[str, type[TemperatureResult] | type[MeetingAnalysis] | type[InterviewResult]] = {
    "temperature": TemperatureResult,
    "meeting": MeetingAnalysis,
    "interview": InterviewResult,
}
"""The result model of each analysis kind."""


class AnalysisCompletedV2(EventPayload):
    """An analysis result typed by kind (services/common/analysis_results.py); replaces v1."""

    # v1 events stay readable: consumers turn either version into this model with
    # :meth:`from_envelope`.

    event_type: ClassVar[str] = "earshot.analysis.completed.v2"
    topic: ClassVar[str] = ANALYSIS_EVENTS

    kind: AnalysisKind = "temperature"
    analyzer: str = Field(description="Which analyzer produced it, e.g. 'local'.")
    result: AnalysisResult = Field(
        description="TemperatureResult, MeetingAnalysis or InterviewResult, as given by `kind`."
    )

    @model_validator(mode="before")
    @classmethod
    def _result_of_kind(cls, data: Any) -> Any:
        """Validate a JSON ``result`` with the model of ``kind`` (never a best-guess union match)."""
        return _typed_by_kind(data, "result", RESULT_MODELS)

    @model_validator(mode="after")
    def _check_kind(self) -> AnalysisCompletedV2:
        expected = RESULT_MODELS[self.kind]
        if not isinstance(self.result, expected):
            raise ValueError(f"a {self.kind} result must be a {expected.__name__}")
        return self

    @classmethod
    def from_envelope(cls, envelope: Envelope) -> AnalysisCompletedV2:
        """The typed completion of a v2 event, or of a v1 event (its ``result`` dict validated).

        Raises:
            ValueError: the envelope is neither completion type, or its result does not match
                its kind's model (pydantic's ``ValidationError`` is a ``ValueError``).
        """
        if envelope.type == cls.event_type:
            return envelope.payload(cls)
        if envelope.type == AnalysisCompleted.event_type:
            v1 = envelope.payload(AnalysisCompleted)
            return cls(job_id=v1.job_id, kind=v1.kind, analyzer=v1.analyzer, result=v1.result)  # type: ignore[arg-type]
        raise ValueError(f"event type {envelope.type!r} is not an analysis completion")


ANALYSIS_COMPLETED_TYPES: tuple[str, ...] = (
    "earshot.analysis.completed.v2",
    "earshot.analysis.completed.v1",
)
"""Completion event types a consumer accepts (v1 stays readable until it is removed)."""


class AnalysisFailed(JobFailed):
    """An analysis failed for good."""

    event_type: ClassVar[str] = "earshot.analysis.failed.v1"
    topic: ClassVar[str] = ANALYSIS_EVENTS

    kind: AnalysisKind = "temperature"


# --- auth (issue 4) -----------------------------------------------------------------------
AUTH_EVENTS = "earshot.auth.events"


class UserRegistered(EventPayload):
    """A new account exists (password registration or first OAuth sign-in).

    ``job_id`` carries the user id (the message key), so one user's events keep their order.
    """

    event_type: ClassVar[str] = "earshot.auth.user_registered.v1"
    topic: ClassVar[str] = AUTH_EVENTS

    user_id: str
    email: str
    auth_provider: str = Field(description="'password', 'google' or 'microsoft'.")


class SessionRevoked(EventPayload):
    """Sessions (refresh-token families) were revoked: logout, refresh-token reuse, disabled account.

    Every gateway replica refuses access tokens whose ``sid`` claim is listed, until
    ``expires_at``. ``job_id`` carries the user id (the message key).
    """

    event_type: ClassVar[str] = "earshot.auth.session_revoked.v1"
    topic: ClassVar[str] = AUTH_EVENTS

    user_id: str
    session_ids: list[str] = Field(description="Revoked session ids (access-token 'sid' claims).")
    reason: Literal["logout", "refresh_token_reuse", "user_disabled"]
    expires_at: int = Field(description="Unix seconds after which the session's access tokens expire anyway.")


# --- media (issue 7) ----------------------------------------------------------------------
MEDIA_REQUESTS = "earshot.media.requests"
MEDIA_EVENTS = "earshot.media.events"

MediaStage = Literal["analyzing", "composing", "rendering"]


class MediaRenderRequested(EventPayload):
    """Ask the media service to turn a stored photo into a music video (``job_id`` = task id)."""

    event_type: ClassVar[str] = "earshot.media.render_requested.v1"
    topic: ClassVar[str] = MEDIA_REQUESTS

    photo_key: str = Field(description="Object key of the photo in storage.")
    captions: bool = Field(True, description="Burn the lyric lines into the video as captions.")
    attempt: int = Field(1, ge=1, description="1 for the first request; higher when a stuck task is retried.")


class MediaProgress(EventPayload):
    """A render moved on: its stage and overall percentage."""

    event_type: ClassVar[str] = "earshot.media.progress.v1"
    topic: ClassVar[str] = MEDIA_EVENTS

    stage: MediaStage
    progress: int = Field(ge=0, le=100, description="Overall percentage done, 0-100.")
    attempt: int = Field(1, ge=1)


class MediaCompleted(EventPayload):
    """The music video and its soundtrack are in storage; small metadata travels inline."""

    event_type: ClassVar[str] = "earshot.media.completed.v1"
    topic: ClassVar[str] = MEDIA_EVENTS

    attempt: int = Field(1, ge=1)
    video_key: str = Field(description="Object key of the MP4 (H.264 + AAC).")
    music_key: str = Field(description="Object key of the soundtrack (MP3).")
    title: str
    mood: str
    lyrics: str
    music_prompt: str = Field(description="Genre, tempo, key and instruments, as one line.")
    analysis: dict[str, Any] = Field(description="Photo measures: brightness, contrast, colours...")
    lyrics_engine: str = Field(description="'local' or 'claude'.")
    music_engine: str = Field(description="'local' or 'suno'.")
    duration_s: float = Field(ge=0, description="Video duration, seconds.")
    width: int = Field(ge=1, description="Video frame width, pixels.")
    height: int = Field(ge=1, description="Video frame height, pixels.")
    video_size: int = Field(ge=0, description="MP4 size, bytes.")
    music_size: int = Field(ge=0, description="Soundtrack size, bytes.")
    processing_s: float = Field(ge=0, description="Wall time of the render, seconds.")
    warnings: list[str] = Field(
        default_factory=list, description="E.g. a cloud engine replaced by the local one."
    )


class MediaFailed(JobFailed):
    """A render failed for good; ``error`` is a code such as ``music_provider_failed``."""

    event_type: ClassVar[str] = "earshot.media.failed.v1"
    topic: ClassVar[str] = MEDIA_EVENTS

    attempt: int = Field(1, ge=1)
    stage: MediaStage | None = Field(None, description="The stage that failed, when known.")


# --- anc (issue 6) ------------------------------------------------------------------------
ANC_REQUESTS = "earshot.anc.requests"
ANC_EVENTS = "earshot.anc.events"


class AncProcessRequested(EventPayload):
    """Ask the anc service to process a long recording in blocks (``job_id`` = session id).

    The gateway has validated the input (channels, rate, lengths, NaN/Inf, parameters).
    """

    event_type: ClassVar[str] = "earshot.anc.process_requested.v1"
    topic: ClassVar[str] = ANC_REQUESTS

    primary_key: str = Field(
        description="Object key of the input: a stereo file (0: primary, 1: reference), a mono "
        "file for 'ale', or the primary microphone's mono file when reference_key is set."
    )
    reference_key: str | None = Field(None, description="Object key of the reference microphone's mono file.")
    output_key: str = Field(description="Where to write the processed mono 16-bit WAV.")
    sample_rate: int = Field(ge=1, description="Native sample rate of the input, Hz.")
    params: dict[str, Any] = Field(
        description="Resolved filter parameters: algorithm, taps, mu, block_size, delay, unconstrained."
    )
    classify: bool = Field(False, description="Classify the noise of the primary channel (first 30 s).")


class AncProgress(EventPayload):
    """How far a batch ANC job has got."""

    event_type: ClassVar[str] = "earshot.anc.progress.v1"
    topic: ClassVar[str] = ANC_EVENTS

    percent: float = Field(ge=0, le=100, description="Share of the recording processed, 0-100.")
    processed_s: float = Field(ge=0, description="Seconds of audio processed so far.")
    duration_s: float = Field(ge=0, description="Duration of the recording, seconds.")


class AncProcessCompleted(EventPayload):
    """A batch ANC job is done: the processed WAV is in storage; its metrics travel inline."""

    event_type: ClassVar[str] = "earshot.anc.process_completed.v1"
    topic: ClassVar[str] = ANC_EVENTS

    output_key: str
    sample_rate: int = Field(ge=1)
    samples: int = Field(ge=0, description="Samples per channel processed.")
    algorithm: str
    metrics: dict[str, Any] = Field(
        description="As POST /api/audio/process: attenuation_db, steady_state_attenuation_db, "
        "octave_bands_db, convergence_time_ms, input_rms_db, output_rms_db, processing_ms, "
        "realtime_factor, resets, samples."
    )
    classification: dict[str, Any] | None = Field(None, description="Noise class of the primary channel.")


class AncProcessFailed(JobFailed):
    """A batch ANC job failed for good (``error`` e.g. ``corrupt_audio``, ``invalid_audio``)."""

    event_type: ClassVar[str] = "earshot.anc.process_failed.v1"
    topic: ClassVar[str] = ANC_EVENTS


# --- meetings (issue 12, seed 003) ---------------------------------------------------------
MEETING_REQUESTS = "earshot.meetings.requests"
MEETING_EVENTS = "earshot.meetings.events"

MeetingStage = Literal["queued", "transcribing", "naming", "analyzing", "completed", "failed"]


class MeetingProcessingRequested(EventPayload):
    """Process an uploaded meeting (``job_id`` = meeting id): transcription with diarization,
    speaker naming, analysis. Consumed by the gateway's meeting pipeline (group ``gateway.meetings``)."""

    event_type: ClassVar[str] = "earshot.meeting.processing_requested.v1"
    topic: ClassVar[str] = MEETING_REQUESTS

    user_id: str = Field(description="Owner of the meeting.")
    attempt: int = Field(1, ge=1, description="1 for the first run; higher for a retry.")


class MeetingProgress(EventPayload):
    """A meeting moved on: its stage and overall percentage (pushed to its WebSocket)."""

    event_type: ClassVar[str] = "earshot.meeting.progress.v1"
    topic: ClassVar[str] = MEETING_EVENTS

    stage: MeetingStage
    percent: float = Field(ge=0, le=100, description="Overall percentage done, 0-100.")
    attempt: int = Field(1, ge=1)


class MeetingCompleted(EventPayload):
    """A meeting's transcript, summary, action items and analytics are stored (status COMPLETED)."""

    event_type: ClassVar[str] = "earshot.meeting.completed.v1"
    topic: ClassVar[str] = MEETING_EVENTS

    user_id: str
    title: str
    duration_s: float = Field(ge=0, description="Recording duration, seconds.")
    speakers: list[str] = Field(description="Speaker names as stored.")
    action_items: int = Field(ge=0, description="How many action items were found.")
    analyzer: str = Field(description="Which analyzer produced the summary, e.g. 'local'.")


class MeetingFailed(JobFailed):
    """A meeting failed for good after its retries (status FAILED with this error)."""

    event_type: ClassVar[str] = "earshot.meeting.failed.v1"
    topic: ClassVar[str] = MEETING_EVENTS

    user_id: str
    attempt: int = Field(1, ge=1, description="The attempt that failed last.")


CATALOGUE: tuple[type[EventPayload], ...] = (
    TranscriptionRequested,
    TranscriptionProgress,
    TranscriptionCompleted,
    TranscriptionFailed,
    AnalysisRequested,
    AnalysisRequestedV2,
    AnalysisCompleted,
    AnalysisCompletedV2,
    AnalysisFailed,
    UserRegistered,
    SessionRevoked,
    MediaRenderRequested,
    MediaProgress,
    MediaCompleted,
    MediaFailed,
    AncProcessRequested,
    AncProgress,
    AncProcessCompleted,
    AncProcessFailed,
    MeetingProcessingRequested,
    MeetingProgress,
    MeetingCompleted,
    MeetingFailed,
)
"""Every event type Earshot publishes (docs/events.md is generated from this)."""

TOPICS: tuple[str, ...] = tuple(dict.fromkeys(m.topic for m in CATALOGUE))
