"""Transcription service: the job consumer and the gRPC ``TranscriptionService``.

Consumes ``earshot.transcription.requested.v1`` (group ``transcription``): fetches the
recording from object storage, decodes it to 16 kHz mono, runs the engine, stores
the transcript JSON at ``transcripts/<job_id>.json`` and publishes
``earshot.transcription.completed.v1`` (or ``...failed.v1`` for bad audio).

Idempotent by job id: when the transcript object already exists (a redelivery),
the completion is published again without transcribing twice.
"""

from __future__ import annotations

import asyncio
import time

import grpc
from earshot.transcription.v1 import transcription_pb2, transcription_pb2_grpc

from services.common import audio, telemetry
from services.common.bus import Subscription
from services.common.events import (
    TRANSCRIPTION_REQUESTS,
    Envelope,
    TranscriptionCompleted,
    TranscriptionFailed,
    TranscriptionRequested,
)
from services.common.logging import bind, get_logger, unbind
from services.common.rpc import GrpcServer, start_server
from services.common.runtime import Runtime
from services.common.storage import ObjectNotFound
from services.common.transcript import Transcript
from services.transcription.engine import EngineConfig, WhisperEngine, get_engine

log = get_logger("earshot.transcription")

GROUP = "transcription"
GRPC_SERVICE_NAME = "earshot.transcription.v1.TranscriptionService"
MAX_SYNC_CLIP_S = 60.0


def transcript_key(job_id: str) -> str:
    """Object key of a job's transcript JSON."""
    return f"transcripts/{job_id}.json"


def to_proto(transcript: Transcript, processing_s: float) -> transcription_pb2.TranscribeResponse:
    """Convert the transcript model to its gRPC message."""
    return transcription_pb2.TranscribeResponse(
        language=transcript.language,
        duration=transcript.duration,
        text=transcript.text,
        processing_s=processing_s,
        segments=[
            transcription_pb2.Segment(
                id=s.id,
                start=s.start,
                end=s.end,
                text=s.text,
                speaker=s.speaker or "",
                words=[
                    transcription_pb2.Word(word=w.word, start=w.start, end=w.end, probability=w.probability)
                    for w in s.words
                ],
            )
            for s in transcript.segments
        ],
    )


class _Servicer(transcription_pb2_grpc.TranscriptionServiceServicer):
    def __init__(self, service: TranscriptionService) -> None:
        self.service = service

    async def Transcribe(  # noqa: N802 - gRPC method name
        self, request: transcription_pb2.TranscribeRequest, context: grpc.aio.ServicerContext
    ) -> transcription_pb2.TranscribeResponse:
        rt = self.service.runtime
        with rt.temp_dir("grpc-") as tmp:
            path = tmp / "clip"
            source = request.WhichOneof("source")
            if source == "audio":
                path.write_bytes(request.audio)
            elif source == "audio_key":
                try:
                    await rt.storage.get_to_file(request.audio_key, path)
                except ObjectNotFound:
                    await context.abort(grpc.StatusCode.NOT_FOUND, f"no object {request.audio_key!r}")
            else:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "give audio or audio_key")
            try:
                info = await asyncio.to_thread(audio.probe, path)
                if info.duration_s > MAX_SYNC_CLIP_S:
                    await context.abort(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        f"clip is {info.duration_s:.1f} s; Transcribe takes at most {MAX_SYNC_CLIP_S:.0f} s, "
                        "longer audio goes through transcription job events",
                    )
                samples = await asyncio.to_thread(audio.decode, path)
            except audio.AudioError as exc:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{exc.code}: {exc.details}")
        started = time.perf_counter()
        transcript = await self.service.engine.transcribe(
            samples, language=request.language or None, word_timestamps=request.word_timestamps
        )
        return to_proto(transcript, time.perf_counter() - started)


class TranscriptionService:
    """The transcription capability service (see module docstring)."""

    name = "transcription"

    def __init__(self, engine: WhisperEngine | None = None) -> None:
        self._engine = engine
        self._sub: Subscription | None = None
        self._grpc: GrpcServer | None = None
        self.runtime: Runtime

    @property
    def engine(self) -> WhisperEngine:
        """The shared Whisper engine (loaded on first use)."""
        if self._engine is None:
            s = self.runtime.settings
            self._engine = get_engine(
                EngineConfig(
                    model=s.whisper_model,
                    compute_type=s.whisper_compute_type,
                    cpu_threads=s.whisper_threads,
                    beam_size=s.whisper_beam_size,
                )
            )
        return self._engine

    async def start(self, runtime: Runtime) -> None:
        """Load the model, start gRPC and join the ``transcription`` consumer group."""
        self.runtime = runtime
        s = runtime.settings
        await asyncio.to_thread(lambda: self.engine)  # load before taking work
        self._grpc = await start_server(
            s.grpc_host,
            runtime.grpc_port(self.name),
            [
                lambda srv: transcription_pb2_grpc.add_TranscriptionServiceServicer_to_server(
                    _Servicer(self), srv
                )
            ],
            [GRPC_SERVICE_NAME],
        )
        runtime.grpc_targets[self.name] = f"{s.grpc_host}:{self._grpc.port}"
        await runtime.bus.ensure_topics([TRANSCRIPTION_REQUESTS])
        self._sub = await runtime.bus.subscribe([TRANSCRIPTION_REQUESTS], GROUP, self.handle)

    async def stop(self) -> None:
        """Leave the group, then stop gRPC gracefully."""
        if self._sub:
            await self._sub.close()
        if self._grpc:
            await self._grpc.stop()

    async def handle(self, envelope: Envelope) -> None:
        """Handle one transcription request (idempotent by job id)."""
        if envelope.type != TranscriptionRequested.event_type:
            return
        request = envelope.payload(TranscriptionRequested)
        bind(job_id=request.job_id)
        try:
            with telemetry.span_from(envelope.extensions, "transcription.job", "earshot.transcription"):
                await self._process(request)
        finally:
            unbind("job_id")

    async def _process(self, request: TranscriptionRequested) -> None:
        rt = self.runtime
        key = transcript_key(request.job_id)
        try:
            existing = Transcript.model_validate_json(await rt.storage.get(key))
            log.info("transcription.redelivered", job_id=request.job_id)
            await self._publish_completed(request, key, existing, 0.0)
            return
        except ObjectNotFound:
            pass
        with rt.temp_dir("stt-") as tmp:
            path = tmp / "audio"
            try:
                await rt.storage.get_to_file(request.audio_key, path)
            except ObjectNotFound:
                await self._fail(request, "audio_missing", "the recording is no longer in storage")
                return
            try:
                samples = await asyncio.to_thread(audio.decode, path)
            except audio.AudioError as exc:
                await self._fail(request, exc.code, exc.details)
                return
        started = time.perf_counter()
        transcript = await self.engine.transcribe(
            samples, language=request.language, word_timestamps=request.word_timestamps
        )
        elapsed = time.perf_counter() - started
        await rt.storage.put(key, transcript.model_dump_json().encode(), "application/json")
        log.info(
            "transcription.done",
            job_id=request.job_id,
            audio_s=round(transcript.duration, 2),
            seconds=round(elapsed, 3),
            words=len(transcript.words),
        )
        await self._publish_completed(request, key, transcript, elapsed)

    async def _publish_completed(
        self, request: TranscriptionRequested, key: str, transcript: Transcript, elapsed: float
    ) -> None:
        payload = TranscriptionCompleted(
            job_id=request.job_id,
            audio_key=request.audio_key,
            transcript_key=key,
            language=transcript.language,
            duration=transcript.duration,
            word_count=len(transcript.words),
            processing_s=round(elapsed, 4),
            purpose=request.purpose,
        )
        await self.runtime.bus.publish(
            payload.topic, Envelope.of(payload, self.runtime.source(self.name), **telemetry.inject())
        )

    async def _fail(self, request: TranscriptionRequested, code: str, details: str) -> None:
        log.warning("transcription.failed", job_id=request.job_id, error=code, details=details)
        payload = TranscriptionFailed(job_id=request.job_id, error=code, details=details)
        await self.runtime.bus.publish(
            payload.topic, Envelope.of(payload, self.runtime.source(self.name), **telemetry.inject())
        )
