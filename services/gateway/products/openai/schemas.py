"""Request parsing, errors and rendering of the OpenAI-compatible routes (OpenAI's schemas)."""

from __future__ import annotations

import math
from typing import Any, Literal

from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from services.common import languages, subtitles
from services.common.transcript import Segment, Transcript
from services.gateway.shared.errors import ApiError
from services.gateway.shared.openapi import FileField
from services.gateway.shared.timefmt import utc_timestamp

__all__ = [
    "GRANULARITIES",
    "OPENAI_EXTENSIONS",
    "RESPONSE_FORMATS",
    "SYNC_LIMIT_S",
    "Invalid",
    "OpenAIErrorBody",
    "OpenAIErrorDetail",
    "TranscriptionParams",
    "client_error",
    "openai_error",
    "render",
]

RESPONSE_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
GRANULARITIES = ("word", "segment")
# The extensions OpenAI's endpoint accepts; the content is sniffed as well.
OPENAI_EXTENSIONS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
SYNC_LIMIT_S = 60.0  # gRPC Transcribe takes clips up to 60 s; longer audio goes through job events

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    503: "server_error",
    504: "server_error",
}


class OpenAIErrorDetail(BaseModel):
    """OpenAI's ``error`` object."""

    message: str
    type: str = Field(description="invalid_request_error or server_error.")
    param: str | None = Field(None, description="The request field concerned, when one is.")
    code: str | None = Field(None, description="A machine-readable reason, e.g. model_not_found.")


class OpenAIErrorBody(BaseModel):
    """The error answer of the ``/v1`` routes: OpenAI's shape plus Earshot's ``details`` and
    ``timestamp`` (:func:`openai_error`)."""

    error: OpenAIErrorDetail
    details: str = Field(description="The message again, as Earshot's other routes put it.")
    timestamp: str = Field(description="ISO 8601 UTC, with Z.")


def openai_error(
    status: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An error in OpenAI's shape plus Earshot's ``details`` / ``timestamp`` (``headers``:
    e.g. the ``WWW-Authenticate`` challenge of a 401)."""
    return JSONResponse(
        {
            "error": {
                "message": message,
                "type": _ERROR_TYPES.get(
                    status, "server_error" if status >= 500 else "invalid_request_error"
                ),
                "param": param,
                "code": code,
            },
            "details": message,
            "timestamp": utc_timestamp(),
        },
        status_code=status,
        headers=headers,
    )


class Invalid(ApiError):
    """A 4xx with the OpenAI parameter it concerns."""

    def __init__(
        self, status: int, error: str, details: str, param: str | None = None, code: str | None = None
    ):
        super().__init__(status, error, details)
        self.param = param
        self.code = code


def _bool(value: str | None, name: str) -> bool:
    if value is None or value == "":
        return False
    if value.lower() in ("true", "1", "yes", "on"):
        return True
    if value.lower() in ("false", "0", "no", "off"):
        return False
    raise Invalid(400, "Invalid request", f"{name} must be true or false", name, "invalid_value")


def _int(value: str | None, name: str, low: int, high: int) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise Invalid(400, "Invalid request", f"{name} must be an integer", name, "invalid_value") from None
    if not low <= number <= high:
        raise Invalid(
            400, "Invalid request", f"{name} must be between {low} and {high}", name, "invalid_value"
        )
    return number


class TranscriptionParams:
    """Validated form fields of one request."""

    def __init__(self, form: Any) -> None:
        def text(name: str) -> str | None:
            value = form.get(name)
            if value is None or isinstance(value, UploadFile):
                return None
            return str(value).strip() or None

        self.model = text("model")
        if not self.model:
            raise Invalid(
                400, "Invalid request", "you must provide a model parameter", "model", "missing_model"
            )
        self.response_format = text("response_format") or "json"
        if self.response_format not in RESPONSE_FORMATS:
            raise Invalid(
                400,
                "Invalid request",
                f"response_format must be one of {', '.join(RESPONSE_FORMATS)}",
                "response_format",
                "invalid_value",
            )
        language = text("language")
        if language is not None and not languages.is_known(language):
            raise Invalid(
                400,
                "Invalid request",
                f"language {language!r} is not a supported ISO-639-1 code",
                "language",
                "invalid_language_format",
            )
        self.language = language.lower() if language else None
        self.prompt = text("prompt")
        temperature = text("temperature")
        self.temperature: float | None = None
        if temperature is not None:
            try:
                self.temperature = float(temperature)
            except ValueError:
                self.temperature = math.nan
            if not (0 <= self.temperature <= 1):
                raise Invalid(
                    400,
                    "Invalid request",
                    "temperature must be between 0 and 1",
                    "temperature",
                    "invalid_value",
                )
        grains = [
            str(g).strip()
            for g in form.getlist("timestamp_granularities[]") + form.getlist("timestamp_granularities")
        ]
        grains = [g for g in grains if g]
        for g in grains:
            if g not in GRANULARITIES:
                raise Invalid(
                    400,
                    "Invalid request",
                    f"timestamp_granularities[] items must be 'word' or 'segment', not {g!r}",
                    "timestamp_granularities",
                    "invalid_value",
                )
        if grains and self.response_format != "verbose_json":
            raise Invalid(
                400,
                "Invalid request",
                "timestamp_granularities is only supported with response_format verbose_json",
                "timestamp_granularities",
                "invalid_value",
            )
        self.words = "word" in grains
        self.segments = not grains or "segment" in grains
        self.diarize = _bool(text("diarize"), "diarize")
        self.min_speakers = _int(text("min_speakers"), "min_speakers", 1, 32)
        self.max_speakers = _int(text("max_speakers"), "max_speakers", 1, 32)
        if self.min_speakers and self.max_speakers and self.min_speakers > self.max_speakers:
            raise Invalid(
                400, "Invalid request", "min_speakers exceeds max_speakers", "min_speakers", "invalid_value"
            )
        self.engine = text("engine")
        if self.engine is not None and self.engine not in ("local", "openai", "gemini"):
            raise Invalid(
                400, "Invalid request", "engine must be local, openai or gemini", "engine", "invalid_value"
            )


def client_error(details: str) -> Invalid:
    """The OpenAI-shaped 400/404 for a transcription service refusal ``"<code>: <message>"``."""
    code, _, message = details.partition(": ")
    if not message:
        code, message = "invalid_request", details
    param = {
        "model_not_found": "model",
        "unsupported_language": "language",
        "unknown_engine": "engine",
        "corrupt_audio": "file",
        "unsupported_audio": "file",
        "empty_audio": "file",
    }.get(code)
    return Invalid(400 if code != "model_not_found" else 404, "Invalid request", message, param, code)


# --- rendering -----------------------------------------------------------------------------------
def render(transcript: Transcript, params: TranscriptionParams) -> Response:
    """The response body for ``params.response_format`` (OpenAI's schemas)."""
    fmt = params.response_format
    usage = {"type": "duration", "seconds": math.ceil(transcript.duration)}
    if fmt == "text":
        return PlainTextResponse(subtitles.to_text(transcript, speakers=params.diarize) + "\n")
    if fmt == "srt":
        return PlainTextResponse(subtitles.to_srt(transcript), media_type="application/x-subrip")
    if fmt == "vtt":
        return PlainTextResponse(subtitles.to_vtt(transcript), media_type="text/vtt")
    if fmt == "json":
        return JSONResponse({"text": transcript.text, "usage": usage})
    body: dict[str, Any] = {
        "task": "transcribe",
        "language": languages.name_of(transcript.language),
        "duration": round(transcript.duration, 3),
        "text": transcript.text,
    }
    if params.segments:
        body["segments"] = [
            {
                "id": s.id,
                "seek": 0,
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "tokens": [],
                "temperature": params.temperature or 0.0,
                "avg_logprob": _avg_logprob(s),
                "compression_ratio": 1.0,
                "no_speech_prob": 0.0,
                **({"speaker": s.speaker} if s.speaker else {}),
            }
            for s in transcript.segments
        ]
    if params.words:
        body["words"] = [
            {"word": w.word, "start": w.start, "end": w.end, **({"speaker": s.speaker} if s.speaker else {})}
            for s in transcript.segments
            for w in s.words
        ]
    body["usage"] = usage
    return JSONResponse(body)


def _avg_logprob(segment: Segment) -> float:
    if not segment.words:
        return 0.0
    return round(sum(math.log(max(w.probability, 1e-6)) for w in segment.words) / len(segment.words), 4)


class TranscriptionForm(BaseModel):
    """``multipart/form-data`` as OpenAI's ``POST /v1/audio/transcriptions`` (plus Earshot's
    ``diarize``, ``min_speakers``, ``max_speakers``, ``engine``). The file: WAV, MP3, M4A, FLAC
    or OGG, at most ``MAX_FILE_SIZE`` MB (25); recordings over 60 s run as a job."""

    file: FileField = Field(description="The recording.")
    model: str = Field(description="whisper-1 or a model id from GET /v1/models.")
    language: str | None = Field(None, description="ISO-639-1 code, e.g. en.")
    prompt: str | None = Field(None, description="Text to guide the model's style.")
    response_format: Literal["json", "text", "srt", "verbose_json", "vtt"] = "json"
    temperature: float | None = Field(None, ge=0, le=1)
    timestamp_granularities: list[Literal["word", "segment"]] | None = Field(
        None,
        alias="timestamp_granularities[]",
        description="word and/or segment; only with response_format=verbose_json.",
    )
    diarize: bool | None = Field(None, description="Earshot: label speakers.")
    min_speakers: int | None = Field(None, ge=1, le=32, description="Earshot: diarization lower bound.")
    max_speakers: int | None = Field(None, ge=1, le=32, description="Earshot: diarization upper bound.")
    engine: Literal["local", "openai", "gemini"] | None = Field(None, description="Earshot: engine to use.")


# --- response models (OpenAI's shapes) ------------------------------------------------------------
class ModelObject(BaseModel):
    """One model, as OpenAI's model object."""

    id: str = Field(description="whisper-1, or an engine's model id.")
    object: Literal["model"] = "model"
    created: int = Field(description="Unix seconds (0: not known).")
    owned_by: str


class ModelList(BaseModel):
    """``GET /v1/models``."""

    object: Literal["list"] = "list"
    data: list[ModelObject]


class Usage(BaseModel):
    """Billing-style usage: the audio's duration, whole seconds."""

    type: Literal["duration"] = "duration"
    seconds: int


class SegmentOut(BaseModel):
    """A ``verbose_json`` segment (``speaker`` with ``diarize``)."""

    id: int
    seek: int
    start: float = Field(description="Seconds.")
    end: float = Field(description="Seconds.")
    text: str
    tokens: list[int]
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float
    speaker: str | None = None


class WordOut(BaseModel):
    """A ``verbose_json`` word (``timestamp_granularities[]=word``)."""

    word: str
    start: float = Field(description="Seconds.")
    end: float = Field(description="Seconds.")
    speaker: str | None = None


class TranscriptionOut(BaseModel):
    """``response_format=json`` (``text``, ``usage``) or ``verbose_json`` (also ``task``,
    ``language``, ``duration``, ``segments``, ``words``); ``text``, ``srt`` and ``vtt`` answer
    plain text."""

    text: str
    usage: Usage | None = None
    task: Literal["transcribe"] | None = None
    language: str | None = Field(None, description="English name of the language, e.g. english.")
    duration: float | None = Field(None, description="Seconds.")
    segments: list[SegmentOut] | None = None
    words: list[WordOut] | None = None
