"""How the ANC routes show parameters, metrics, classifications and sessions (JSON)."""

from __future__ import annotations

from typing import Any, Literal

from earshot.anc.v1 import anc_pb2
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection

from services.gateway.products.anc.models import AncMetric, AncSession
from services.gateway.shared.openapi import FileField, OptionalFileField
from services.gateway.shared.timefmt import iso_z

__all__ = [
    "ClassifyForm",
    "OpenStreamBody",
    "ProcessAudioForm",
    "classification_json",
    "metric_json",
    "metrics_json",
    "params_dict",
    "session_json",
    "stream_metrics_json",
    "ws_url",
]


def params_dict(p: anc_pb2.FilterParams) -> dict[str, Any]:
    """Resolved protobuf parameters -> the JSON the API returns."""
    out: dict[str, Any] = {"taps": p.taps, "mu": p.mu}
    if p.algorithm == "fdaf":
        out.update(block_size=p.block_size, constrained=not p.unconstrained)
    if p.algorithm == "ale":
        out["delay"] = p.delay
    return out


def classification_json(c: anc_pb2.Classification) -> dict[str, Any]:
    """A noise classification: label, confidence, probabilities (largest first), emergency flag."""
    return {
        "noise_type": c.label,
        "confidence": round(c.confidence, 4),
        "top_class": c.top_class,
        "probabilities": dict(sorted(c.probabilities.items(), key=lambda kv: -kv[1])),
        "emergency": c.emergency,
        "windows": c.windows,
    }


def metrics_json(m: anc_pb2.Metrics) -> dict[str, Any]:
    """A processed file's metrics (dB, ms, dBFS)."""
    return {
        "attenuation_db": round(m.attenuation_db, 2),
        "steady_state_attenuation_db": round(m.steady_state_attenuation_db, 2),
        "octave_bands_db": {b.centre_hz: round(b.attenuation_db, 2) for b in m.octave_bands},
        "convergence_time_ms": None if m.convergence_time_ms < 0 else round(m.convergence_time_ms, 2),
        "input_rms_dbfs": round(m.input_rms_db, 2),
        "output_rms_dbfs": round(m.output_rms_db, 2),
        "processing_ms": round(m.processing_ms, 3),
        "realtime_factor": round(m.realtime_factor, 2),
        "resets": m.resets,
        "samples": m.samples,
    }


def stream_metrics_json(m: anc_pb2.StreamMetrics) -> dict[str, Any]:
    """A live stream's metrics update (``metrics_update`` event)."""
    c = m.classification
    return {
        "blocks": m.blocks,
        "samples": m.samples,
        "attenuation_db": round(m.attenuation_db, 2),
        "recent_attenuation_db": round(m.recent_attenuation_db, 2),
        "convergence_time_ms": None if m.convergence_time_ms < 0 else m.convergence_time_ms,
        "dsp_ms_mean": round(m.dsp_ms_mean, 4),
        "dsp_ms_max": round(m.dsp_ms_max, 4),
        "resets": m.resets,
        "noise_type": c.label,
        "confidence": round(c.confidence, 4),
        "emergency": c.emergency,
    }


def ws_url(conn: HTTPConnection, session_id: str) -> str:
    """The WebSocket URL of a stream session, on the host the client called."""
    base = str(conn.base_url).rstrip("/")
    scheme = "wss" if base.startswith("https") else "ws"
    return f"{scheme}://{base.split('://', 1)[1]}/api/audio/stream/{session_id}/ws"


def session_json(row: AncSession, conn: HTTPConnection) -> dict[str, Any]:
    """One session as the API shows it."""
    out: dict[str, Any] = {
        "session_id": row.id,
        "kind": row.kind,
        "status": row.status,
        "algorithm": row.algorithm,
        "params": row.params,
        "sample_rate": row.sample_rate,
        "samples": row.samples,
        "duration_s": round(row.samples / row.sample_rate, 3) if row.sample_rate else 0.0,
        "output_key": row.output_key,
        "noise_type": row.noise_class,
        "emergency": row.emergency,
        "created_at": iso_z(row.created_at),
        "ended_at": iso_z(row.ended_at),
    }
    if row.kind == "stream":
        out["websocket_url"] = ws_url(conn, row.id)
    if row.progress is not None:  # a batch job
        out["progress"] = round(row.progress, 1)
    if row.error:
        out["error"] = {"code": row.error, "details": row.error_details}
    return out


def metric_json(r: AncMetric) -> dict[str, Any]:
    """One metrics record as the API shows it."""
    return {
        "kind": r.kind,
        "attenuation_db": r.attenuation_db,
        "steady_state_attenuation_db": r.steady_state_attenuation_db,
        "convergence_time_ms": r.convergence_time_ms,
        "octave_bands_db": r.octave_bands,
        "samples": r.samples,
        "dsp_ms_mean": r.dsp_ms_mean,
        "noise_type": r.noise_class,
        "confidence": r.confidence,
        "emergency": r.emergency,
        "recorded_at": iso_z(r.recorded_at),
    }


# --- response models (OpenAPI; routes return the dicts above, validated against these) -------
class Classification(BaseModel):
    """A noise classification of the primary channel."""

    noise_type: str = Field(description="Class, or 'unknown' below the confidence threshold.")
    confidence: float
    top_class: str
    probabilities: dict[str, float] = Field(description="Every class, largest first.")
    emergency: bool = Field(description="A siren or an alarm was heard.")
    windows: int = Field(description="1 s windows classified.")


class ClassifyResult(Classification):
    """``POST /api/ml/classify``."""

    model: str
    processing_ms: float
    timestamp: str


class FileMetrics(BaseModel):
    """Metrics of a processed file (dB, ms, dBFS)."""

    attenuation_db: float
    steady_state_attenuation_db: float
    octave_bands_db: dict[str, float] = Field(description="ISO 266 octave-band centre (Hz) -> dB.")
    convergence_time_ms: float | None = Field(description="Time to 20 dB attenuation; null if never.")
    input_rms_dbfs: float
    output_rms_dbfs: float
    processing_ms: float
    realtime_factor: float
    resets: int
    samples: int


class OutputRef(BaseModel):
    """The processed WAV in object storage."""

    key: str
    url: str = Field(description="Presigned URL, valid one hour.")
    format: str
    channels: int


class ProcessResult(BaseModel):
    """``POST /api/audio/process`` for a recording up to 60 s."""

    session_id: str
    status: str
    algorithm: str
    params: dict[str, Any]
    sample_rate: int
    duration_s: float
    output: OutputRef
    metrics: FileMetrics
    classification: Classification | None
    timestamp: str


class BatchQueued(BaseModel):
    """``POST /api/audio/process`` for a recording over 60 s: a queued batch job (202)."""

    session_id: str
    job_id: str
    status: str
    status_url: str
    algorithm: str
    params: dict[str, Any]
    sample_rate: int
    duration_s: float
    timestamp: str


class StreamOpened(BaseModel):
    """``POST /api/audio/stream``: connect to ``websocket_url`` with the token."""

    session_id: str
    status: str
    algorithm: str
    params: dict[str, Any]
    sample_rate: int
    channels: int = Field(description="2: interleaved primary/reference; 1: ale.")
    format: str = Field(description="f32le: float32 little-endian PCM.")
    websocket_url: str
    timestamp: str


class MetricRecord(BaseModel):
    """One stored metrics record (``final`` or a live ``update``)."""

    kind: str
    attenuation_db: float
    steady_state_attenuation_db: float | None
    convergence_time_ms: float | None
    octave_bands_db: dict[str, Any]
    samples: int
    dsp_ms_mean: float | None
    noise_type: str | None
    confidence: float | None
    emergency: bool
    recorded_at: str | None


class BatchError(BaseModel):
    """Why a batch job failed."""

    code: str
    details: str | None


class Session(BaseModel):
    """One ANC session; ``websocket_url`` (streams), ``progress`` (batch jobs) and ``error``
    (failed jobs) appear only when they apply."""

    session_id: str
    kind: str
    status: str
    algorithm: str
    params: dict[str, Any]
    sample_rate: int
    samples: int
    duration_s: float
    output_key: str | None
    noise_type: str | None
    emergency: bool
    created_at: str | None
    ended_at: str | None
    websocket_url: str | None = None
    progress: float | None = None
    error: BatchError | None = None


class SessionDetail(Session):
    """``GET /api/audio/sessions/{id}``: the session, its output URL and its latest metrics."""

    output_url: str | None = None
    metrics: MetricRecord | None = None


class SessionList(BaseModel):
    """``GET /api/audio/sessions``: the caller's sessions, newest first."""

    sessions: list[Session]
    total: int


class SessionMetrics(BaseModel):
    """``GET /api/metrics/sessions/{id}``."""

    session_id: str
    status: str
    metrics: list[MetricRecord]
    latest: MetricRecord | None


class AlgorithmTotals(BaseModel):
    """Final-metrics totals of one algorithm."""

    sessions: int
    mean_attenuation_db: float


class MetricsSummary(BaseModel):
    """``GET /api/metrics/summary``: totals over the caller's sessions."""

    total_sessions: int
    file_sessions: int
    stream_sessions: int
    active_streams: int
    audio_processed_s: float
    mean_attenuation_db: float | None
    best_attenuation_db: float | None
    emergencies: int
    noise_types: dict[str, int]
    by_algorithm: dict[str, AlgorithmTotals]
    timestamp: str


class SystemStatus(BaseModel):
    """``GET /api/status``."""

    status: str = Field(description="'operational' or 'degraded'.")
    checks: dict[str, str]
    anc: dict[str, Any]
    active_streams: int
    timestamp: str


class ModelInfo(BaseModel):
    """A model the anc service runs."""

    name: str
    version: str
    type: str
    classes: list[str]
    description: str
    parameters: dict[str, str]


class ModelList(BaseModel):
    """``GET /api/ml/models``."""

    models: list[ModelInfo]
    default_algorithm: str
    fft_backend: str


# --- request bodies (OpenAPI documentation; the routes parse and validate) ---------------------
Algorithm = Literal["nlms", "fdaf", "fxnlms", "lms", "ale"]


MIN_STREAM_RATE = 1000
"""Lowest PCM rate a stream may announce (Hz)."""
MAX_STREAM_RATE = 384_000
"""Highest PCM rate a stream may announce (Hz); anything above would overflow nothing but
is no audio a microphone produces (and 2**31 would overflow the 32-bit proto field)."""


class FilterFields(BaseModel):
    """Adaptive-filter parameters; unset ones take the anc service's defaults (ranges are
    checked there, ``ResolveParams``: 400 with the reason)."""

    algorithm: Algorithm | None = Field(
        None, description="Adaptive filter (default ANC_DEFAULT_ALGORITHM, nlms); ale needs a mono input."
    )
    taps: int | None = Field(
        None, ge=1, le=16384, description="Filter length (default ANC_FILTER_TAPS, 512)."
    )
    mu: float | None = Field(
        None,
        gt=0,
        le=1000,
        description="Step size (default EARSHOT_ANC_MU, 0.5; ale 0.05, fxnlms 0.1); at most 2 unless lms.",
    )
    block_size: int | None = Field(
        None, ge=1, le=65536, description="fdaf block, a power of two (default ANC_BLOCK_SIZE, 1024)."
    )
    delay: int | None = Field(
        None, ge=1, le=65536, description="ale decorrelation delay, samples (default 64)."
    )
    constrained: bool | None = Field(None, description="fdaf gradient constraint (default true).")


class ProcessAudioForm(FilterFields):
    """``multipart/form-data``: either ``audio`` (stereo: channel 0 the primary/error microphone,
    channel 1 the reference; mono with ``algorithm=ale``) or ``primary`` + ``reference`` (two
    mono files of the same rate and length). WAV, FLAC, MP3, OGG or M4A (``ALLOWED_EXTENSIONS``),
    each at most ``MAX_FILE_SIZE`` MB (25); up to 60 s are processed at once, longer recordings
    (up to 4 h) become a batch job (202)."""

    audio: OptionalFileField = Field(None, description="Stereo recording, or mono with ale.")
    primary: OptionalFileField = Field(None, description="Primary (error) microphone, mono.")
    reference: OptionalFileField = Field(None, description="Reference microphone, mono.")
    classify: bool | None = Field(None, description="Also classify the noise (default false).")


class OpenStreamBody(FilterFields):
    """Optional JSON object; an empty body takes every default."""

    sample_rate: int | None = Field(
        None,
        ge=MIN_STREAM_RATE,
        le=MAX_STREAM_RATE,
        description="Hz of the PCM the client will stream (default ANC_SAMPLE_RATE, 48000).",
    )


class ClassifyForm(BaseModel):
    """``multipart/form-data`` with one recording (stereo is mixed down), at most 60 s and
    ``MAX_FILE_SIZE`` MB."""

    audio: FileField = Field(description="WAV, FLAC, MP3, OGG or M4A.")
