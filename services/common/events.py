"""CloudEvents 1.0 envelope, the event catalogue and its payload models.

Events travel in CloudEvents *binary mode* (CloudEvents Kafka protocol binding 1.0):
the attributes go in ``ce_*`` headers (``ce_id``, ``ce_source``, ``ce_type``,
``ce_specversion``, ``ce_time``, ``ce_subject``, ``ce_traceparent``), the payload is
the JSON message value (``content-type: application/json``) and the Kafka key is
the job id. Conversion uses the CloudEvents SDK (``cloudevents.kafka``).

Large data never travels in an event: payloads carry object-storage keys.
"""

from __future__ import annotations

import builtins
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, TypeVar

from cloudevents.http import CloudEvent
from cloudevents.kafka import KafkaMessage, from_binary, to_binary
from pydantic import BaseModel, ConfigDict, Field

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
    time: str = field(default_factory=lambda: datetime.now(UTC).isoformat().replace("+00:00", "Z"))
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
        """Encode as a binary-mode Kafka message (``ce_*`` headers, JSON value, key)."""
        attributes: dict[str, Any] = {
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "specversion": SPEC_VERSION,
            "time": self.time,
            "datacontenttype": "application/json",
            "partitionkey": self.key,
        }
        if self.subject:
            attributes["subject"] = self.subject
        attributes.update(self.extensions)
        event = CloudEvent(attributes, self.data)
        return to_binary(event, data_marshaller=lambda d: json.dumps(d, separators=(",", ":")).encode())

    @classmethod
    def from_message(cls, message: KafkaMessage) -> Envelope:
        """Decode a binary-mode Kafka message.

        Raises:
            ValueError: when required attributes are missing or the body is not a JSON object.
        """
        try:
            event = from_binary(message, data_unmarshaller=lambda b: json.loads(b) if b else {})
        except Exception as exc:  # the SDK raises several exception types
            raise ValueError(f"not a binary-mode CloudEvent: {exc}") from exc
        attrs = dict(event.get_attributes())
        data = event.get_data()
        if not isinstance(data, dict):
            raise ValueError("CloudEvent data must be a JSON object")
        known = {"id", "source", "type", "specversion", "time", "subject", "datacontenttype", "partitionkey"}
        key = message.key.decode() if isinstance(message.key, bytes) else (message.key or "")
        return cls(
            type=attrs["type"],
            source=attrs["source"],
            key=key,
            data=data,
            id=attrs["id"],
            time=attrs.get("time") or "",
            subject=attrs.get("subject"),
            extensions={k: str(v) for k, v in attrs.items() if k not in known and v is not None},
        )


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


class AnalysisRequested(EventPayload):
    """Ask the analysis service for an analysis of a transcript."""

    event_type: ClassVar[str] = "earshot.analysis.requested.v1"
    topic: ClassVar[str] = ANALYSIS_REQUESTS

    kind: Literal["temperature"] = "temperature"
    transcript_key: str
    audio_key: str | None = Field(None, description="Recording, for acoustic features (loudness).")


class AnalysisCompleted(EventPayload):
    """An analysis result; small, so it travels inline."""

    event_type: ClassVar[str] = "earshot.analysis.completed.v1"
    topic: ClassVar[str] = ANALYSIS_EVENTS

    kind: Literal["temperature"] = "temperature"
    analyzer: str = Field(description="Which analyzer produced it, e.g. 'local'.")
    result: dict[str, Any]


class AnalysisFailed(JobFailed):
    """An analysis failed for good."""

    event_type: ClassVar[str] = "earshot.analysis.failed.v1"
    topic: ClassVar[str] = ANALYSIS_EVENTS

    kind: Literal["temperature"] = "temperature"


CATALOGUE: tuple[type[EventPayload], ...] = (
    TranscriptionRequested,
    TranscriptionCompleted,
    TranscriptionFailed,
    AnalysisRequested,
    AnalysisCompleted,
    AnalysisFailed,
)
"""Every event type Earshot publishes (docs/events.md is generated from this)."""

TOPICS: tuple[str, ...] = tuple(dict.fromkeys(m.topic for m in CATALOGUE))
