"""Transcription service: the job consumer and the gRPC ``TranscriptionService``.

Consumes ``earshot.transcription.requested.v1`` (group ``transcription``): fetches the
recording from object storage, runs the chosen engine (local Whisper, OpenAI or
Gemini; see :mod:`services.transcription.engine` and :mod:`services.transcription.cloud`),
publishes ``earshot.transcription.progress.v1`` while it runs, stores the transcript
JSON at ``transcripts/<job_id>.json`` and publishes ``earshot.transcription.completed.v1``
(or ``...failed.v1`` for bad audio or a refused request).

gRPC: ``Transcribe`` (clips up to 60 s) and ``ListModels``.

Idempotent by job id: when the transcript object already exists (a redelivery),
the completion is published again without transcribing twice.
"""

from __future__ import annotations

import asyncio
import time

import grpc
from earshot.transcription.v1 import transcription_pb2, transcription_pb2_grpc

from services.common import audio, publishing, telemetry
from services.common.bus import Subscription
from services.common.events import (
    TRANSCRIPTION_REQUESTS,
    Envelope,
    TranscriptionCompleted,
    TranscriptionFailed,
    TranscriptionProgress,
    TranscriptionRequested,
)
from services.common.logging import bind, get_logger, unbind
from services.common.rpc import GrpcServer, start_server
from services.common.runtime import Runtime
from services.common.storage import ObjectNotFound
from services.common.transcript import Transcript
from services.transcription import vad
from services.transcription.config import TranscriptionSettings, load_transcription_settings
from services.transcription.engine import (
    Engine,
    EngineConfig,
    EngineError,
    ModelError,
    TranscribeOptions,
    WhisperEngine,
    get_engine,
)

log = get_logger("earshot.transcription")

GROUP = "transcription"
GRPC_SERVICE_NAME = "earshot.transcription.v1.TranscriptionService"
MAX_SYNC_CLIP_S = 60.0
OPENAI_ALIAS = "whisper-1"  # what OpenAI-compatible clients send; served by the default engine
OPENAI_MODELS = ("gpt-4o-transcribe", "gpt-4o-mini-transcribe")
PROGRESS_STEP = 2.0  # publish progress every 2 percentage points at most


def background_model_name(setting: str) -> str:
    """The model id the background model is listed under (``whisper-base`` for ``base``)."""
    if setting in ("tiny.en", "base"):
        return f"whisper-{setting}"
    return setting.rstrip("/").rsplit("/", 1)[-1]


def transcript_key(job_id: str) -> str:
    """Object key of a job's transcript JSON."""
    return f"transcripts/{job_id}.json"


def to_proto(
    transcript: Transcript, processing_s: float, engine: str = "", model: str = ""
) -> transcription_pb2.TranscribeResponse:
    """Convert the transcript model to its gRPC message."""
    return transcription_pb2.TranscribeResponse(
        language=transcript.language,
        duration=transcript.duration,
        text=transcript.text,
        processing_s=processing_s,
        engine=engine,
        model=model,
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
        speech=[transcription_pb2.SpeechInterval(start=i.start, end=i.end) for i in transcript.speech or []],
    )


def check_options(options: TranscribeOptions) -> None:
    """Reject option combinations no engine can serve.

    Raises:
        EngineError: (client error) bad speaker bounds (a bound below 1, min above max,
            ``num_speakers`` outside the bounds) or temperature.
    """
    low, high = options.min_speakers, options.max_speakers
    if (low is not None and low < 1) or (high is not None and high < 1):
        raise EngineError(
            "invalid_speakers", "min_speakers and max_speakers must be at least 1", client_error=True
        )
    if low is not None and high is not None and low > high:
        raise EngineError("invalid_speakers", "min_speakers must not exceed max_speakers", client_error=True)
    exact = options.num_speakers
    if exact is not None and not (max(1, low or 1) <= exact <= (high or exact)):
        raise EngineError(
            "invalid_speakers",
            "num_speakers must be at least 1 and within min_speakers..max_speakers when those are given",
            client_error=True,
        )
    if options.temperature is not None and not 0 <= options.temperature <= 1:
        raise EngineError("invalid_temperature", "temperature must be between 0 and 1", client_error=True)


class _Servicer(transcription_pb2_grpc.TranscriptionServiceServicer):
    def __init__(self, service: TranscriptionService) -> None:
        self.service = service

    async def Transcribe(  # noqa: N802 - gRPC method name
        self, request: transcription_pb2.TranscribeRequest, context: grpc.aio.ServicerContext
    ) -> transcription_pb2.TranscribeResponse:
        rt = self.service.runtime
        options = TranscribeOptions(
            language=request.language or None,
            word_timestamps=request.word_timestamps,
            prompt=request.prompt or None,
            temperature=request.temperature if request.HasField("temperature") else None,
            diarize=request.diarize,
            min_speakers=request.min_speakers or None,
            max_speakers=request.max_speakers or None,
            num_speakers=request.num_speakers or None,
            participants=tuple(request.participants),
            voice_activity=request.voice_activity,
        )
        try:
            check_options(options)
            engine, options = self.service.resolve(request.model or None, request.engine or None, options)
            if isinstance(engine, WhisperEngine):
                engine.check_language(options.language)
        except EngineError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{exc.code}: {exc.details}")
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
                # Header-level check only: the engine's decode validates the whole stream.
                info = await asyncio.to_thread(audio.probe, path, verify=False)
                if info.duration_s > MAX_SYNC_CLIP_S:
                    await context.abort(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        f"clip is {info.duration_s:.1f} s; Transcribe takes at most {MAX_SYNC_CLIP_S:.0f} s, "
                        "longer audio goes through transcription job events",
                    )
                started = time.perf_counter()
                transcript = await asyncio.to_thread(engine.transcribe_file, path, options)
                if request.voice_activity and transcript.speech is None:  # a cloud engine's
                    speech = await asyncio.to_thread(vad.file_speech_intervals, path)
                    transcript = transcript.model_copy(update={"speech": speech})
            except audio.AudioError as exc:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{exc.code}: {exc.details}")
            except EngineError as exc:
                status = grpc.StatusCode.INVALID_ARGUMENT if exc.client_error else grpc.StatusCode.UNAVAILABLE
                await context.abort(status, f"{exc.code}: {exc.details}")
        return to_proto(
            transcript, time.perf_counter() - started, engine.name, options.model or engine.model_name
        )

    async def ListModels(  # noqa: N802 - gRPC method name
        self, request: transcription_pb2.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> transcription_pb2.ListModelsResponse:
        return transcription_pb2.ListModelsResponse(
            models=[
                transcription_pb2.Model(id=model_id, engine=engine, owned_by=owner)
                for model_id, engine, owner in self.service.models()
            ],
            default_model=OPENAI_ALIAS,
        )


class TranscriptionService:
    """The transcription capability service (see module docstring).

    Args:
        engine: a local engine to use instead of loading one from settings (tests).
        config: transcription settings; None reads them from the environment.
    """

    name = "transcription"

    def __init__(
        self, engine: WhisperEngine | None = None, config: TranscriptionSettings | None = None
    ) -> None:
        self._engine = engine
        self._background: WhisperEngine | None = None
        self._config = config
        self._cloud: dict[str, Engine] = {}
        self._sub: Subscription | None = None
        self._grpc: GrpcServer | None = None
        self.runtime: Runtime

    @property
    def config(self) -> TranscriptionSettings:
        """The transcription settings (read on first use)."""
        if self._config is None:
            self._config = load_transcription_settings()
        return self._config

    @property
    def engine(self) -> WhisperEngine:
        """The shared local Whisper engine (loaded on first use)."""
        if self._engine is None:
            s = self.runtime.settings
            c = self.config
            self._engine = get_engine(
                EngineConfig(
                    model=s.whisper_model,
                    compute_type=s.whisper_compute_type,
                    cpu_threads=s.whisper_threads,
                    beam_size=s.whisper_beam_size,
                    cache_dir=c.model_cache_dir,
                    diarizer=c.diarizer,
                    segmentation=c.diarizer_segmentation,
                ),
                long_audio_s=c.long_audio_s,
                window_s=c.window_s,
                batch_size=c.batch_size,
                max_speakers=c.max_speakers,
            )
        return self._engine

    @property
    def background_engine(self) -> WhisperEngine:
        """The local engine for background jobs (``EARSHOT_TRANSCRIPTION_BACKGROUND_MODEL``,
        beam ``..._BACKGROUND_BEAM_SIZE``), loaded on first use; the interactive engine
        when both settings name the same model and beam."""
        if self._background is None:
            s = self.runtime.settings
            c = self.config
            config = EngineConfig(
                model=c.background_model,
                compute_type=s.whisper_compute_type,
                cpu_threads=s.whisper_threads,
                beam_size=c.background_beam_size,
                cache_dir=c.model_cache_dir,
                diarizer=c.diarizer,
                segmentation=c.diarizer_segmentation,
            )
            try:
                self._background = get_engine(
                    config,
                    long_audio_s=c.long_audio_s,
                    window_s=c.window_s,
                    batch_size=c.batch_size,
                    max_speakers=c.max_speakers,
                )
            except ModelError as exc:  # a missing model package must not stop meetings
                log.warning("transcription.background_model_unavailable", details=str(exc))
                self._background = self.engine
        return self._background

    def cloud_engine(self, name: str) -> Engine:
        """The OpenAI or Gemini engine (built on first use).

        Raises:
            EngineError: (client error) the engine has no API key configured.
        """
        engine = self._cloud.get(name)
        if engine is not None:
            return engine
        c = self.config
        if name == "openai" and c.openai_api_key:
            from services.transcription.cloud import OpenAIEngine

            engine = OpenAIEngine(
                c.openai_api_key, c.openai_base_url, c.openai_transcription_model, c.cloud_timeout_s
            )
        elif name == "gemini" and c.gemini_api_key:
            from services.transcription.cloud import GeminiEngine

            engine = GeminiEngine(
                c.gemini_api_key, c.gemini_base_url, c.gemini_transcription_model, c.cloud_timeout_s
            )
        else:
            raise EngineError(
                "engine_unavailable",
                f"the {name} engine is not configured (set its API key)",
                client_error=True,
            )
        self._cloud[name] = engine
        return engine

    def models(self) -> list[tuple[str, str, str]]:
        """``(id, engine, owned_by)`` of every model callers may name."""
        c = self.config
        out = [(OPENAI_ALIAS, c.engine, "earshot"), (self.engine.model_name, "local", "earshot")]
        out.append((background_model_name(c.background_model), "local", "earshot"))
        if c.openai_api_key:
            names = dict.fromkeys([*OPENAI_MODELS, c.openai_transcription_model])
            out += [(m, "openai", "openai") for m in names if m != OPENAI_ALIAS]
        if c.gemini_api_key:
            out.append((c.gemini_transcription_model, "gemini", "google"))
        return list({m[0]: m for m in out}.values())

    def resolve(
        self, model: str | None, engine_name: str | None, options: TranscribeOptions
    ) -> tuple[Engine, TranscribeOptions]:
        """Pick the engine for a request and fill ``options.model`` for it.

        ``engine_name`` wins; else the model id decides (``whisper-1`` is the default
        engine); else the default engine.

        Raises:
            EngineError: (client error) unknown engine or model, or an engine without key.
        """
        from dataclasses import replace

        if engine_name and engine_name not in ("local", "openai", "gemini"):
            raise EngineError(
                "unknown_engine",
                f"unknown engine {engine_name!r}; use local, openai or gemini",
                client_error=True,
            )
        known = {m[0]: m[1] for m in self.models()}
        if engine_name is None:
            if model is None:
                engine_name = self.config.engine
            elif model in known:
                engine_name = known[model]
            else:
                raise EngineError("model_not_found", f"the model {model!r} does not exist", client_error=True)
        if engine_name == "local":
            if model is not None and model == background_model_name(self.config.background_model):
                if model != self.engine.model_name:
                    return self.background_engine, replace(options, model=None)
            if model not in (None, OPENAI_ALIAS, self.engine.model_name):
                raise EngineError(
                    "model_not_found", f"the local engine has no model {model!r}", client_error=True
                )
            return self.engine, replace(options, model=None)
        cloud = self.cloud_engine(engine_name)
        pick = None if model in (None, OPENAI_ALIAS) and engine_name == "gemini" else model
        return cloud, replace(options, model=pick)

    async def start(self, runtime: Runtime) -> None:
        """Load the model, start gRPC and join the ``transcription`` consumer group."""
        self.runtime = runtime
        s = runtime.settings
        _ = self.config
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
            with telemetry.child_span("transcription.job", "earshot.transcription"):
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
        options = TranscribeOptions(
            language=request.language,
            word_timestamps=request.word_timestamps,
            prompt=request.prompt,
            temperature=request.temperature,
            diarize=request.diarize,
            min_speakers=request.min_speakers,
            max_speakers=request.max_speakers,
            num_speakers=request.num_speakers,
            participants=tuple(request.participants),
            voice_activity=request.voice_activity,
        )
        try:
            check_options(options)
            engine, options = self.resolve(request.model, request.engine, options)
            if engine is self.engine and request.model is None and self.config.background(request.purpose):
                engine = await asyncio.to_thread(lambda: self.background_engine)
            if isinstance(engine, WhisperEngine):
                engine.check_language(options.language)
        except EngineError as exc:
            await self._fail(request, exc.code, exc.details)
            return
        with rt.temp_dir("stt-") as tmp:
            path = tmp / "audio"
            try:
                await rt.storage.get_to_file(request.audio_key, path)
            except ObjectNotFound:
                await self._fail(request, "audio_missing", "the recording is no longer in storage")
                return
            started = time.perf_counter()
            report = self._progress_reporter(request.job_id)
            try:
                transcript = await asyncio.to_thread(engine.transcribe_file, path, options, report)
                if request.voice_activity and transcript.speech is None:  # a cloud engine's
                    speech = await asyncio.to_thread(vad.file_speech_intervals, path)
                    transcript = transcript.model_copy(update={"speech": speech})
            except audio.AudioError as exc:
                await self._fail(request, exc.code, exc.details)
                return
            except EngineError as exc:
                if not exc.client_error and exc.code == "provider_unavailable":
                    raise  # transient: let the bus retry, then dead-letter
                await self._fail(request, exc.code, exc.details)
                return
        elapsed = time.perf_counter() - started
        report(transcript.duration, transcript.duration)  # 100 % (engines may stop at the last word)
        await rt.storage.put(key, transcript.model_dump_json().encode(), "application/json")
        log.info(
            "transcription.done",
            job_id=request.job_id,
            engine=engine.name,
            audio_s=round(transcript.duration, 2),
            seconds=round(elapsed, 3),
            words=len(transcript.words),
        )
        await self._publish_completed(request, key, transcript, elapsed)

    def _progress_reporter(self, job_id: str):  # type: ignore[no-untyped-def]
        """A thread-safe ``progress(done_s, total_s)`` that publishes TranscriptionProgress
        events on the service's loop, at most every ``PROGRESS_STEP`` percentage points."""
        loop = asyncio.get_running_loop()
        last = [-PROGRESS_STEP]
        trace_context = telemetry.inject()  # the job's trace, read here: the engine's thread has none

        def report(done_s: float, total_s: float) -> None:
            percent = 100.0 if total_s <= 0 else min(100.0, max(0.0, 100.0 * done_s / total_s))
            if percent - last[0] < PROGRESS_STEP and percent < 100.0:
                return
            if percent >= 100.0 and last[0] >= 100.0:
                return
            last[0] = percent
            payload = TranscriptionProgress(
                job_id=job_id,
                percent=round(percent, 1),
                processed_s=round(max(done_s, 0.0), 3),
                duration_s=round(max(total_s, 0.0), 3),
            )
            envelope = Envelope.of(payload, self.runtime.source(self.name), **trace_context)
            asyncio.run_coroutine_threadsafe(self.runtime.bus.publish(payload.topic, envelope), loop)

        return report

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
        await publishing.publish(self.runtime, self.name, payload)

    async def _fail(self, request: TranscriptionRequested, code: str, details: str) -> None:
        log.warning("transcription.failed", job_id=request.job_id, error=code, details=details)
        payload = TranscriptionFailed(job_id=request.job_id, error=code, details=details)
        await publishing.publish(self.runtime, self.name, payload)
