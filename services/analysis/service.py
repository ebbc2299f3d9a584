"""Analysis service: consumes analysis requests and publishes results; serves gRPC ``Analyze``.

Consumes ``earshot.analysis.requested.v1`` (group ``analysis``) for the kinds
``temperature``, ``meeting`` and ``interview``: reads the transcript JSON from storage
(for temperature also the recording's loudness dynamics when its key is given), runs
the kind's analyzer (:class:`services.analysis.engine.AnalysisEngine`, local or
provider-backed) and publishes ``earshot.analysis.completed.v1`` (the result inline: it
is small) or ``earshot.analysis.failed.v1`` (bad options, a failed provider). The local
analyzers are deterministic, so a redelivery recomputes the same result.

``earshot.analysis.v1.AnalysisService/Analyze`` serves synchronous callers with every
kind of :data:`services.analysis.engine.KINDS`.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import grpc
from earshot.analysis.v1 import analysis_pb2, analysis_pb2_grpc
from google.protobuf import json_format, struct_pb2
from pydantic import ValidationError

from services.analysis.config import load_analysis_settings
from services.analysis.engine import KINDS, TRANSCRIPT_KINDS, AnalysisEngine, transcript_from_text
from services.analysis.providers import ProviderError
from services.analysis.temperature import (
    AudioDynamics,
    LLMTemperatureAnalyzer,
    LocalTemperatureAnalyzer,
    TemperatureAnalyzer,
    compute_audio_dynamics,
)
from services.common import audio, publishing, telemetry
from services.common.bus import Subscription
from services.common.events import (
    ANALYSIS_REQUESTS,
    AnalysisCompleted,
    AnalysisFailed,
    AnalysisRequested,
    Envelope,
)
from services.common.logging import bind, get_logger, unbind
from services.common.rpc import GrpcServer, start_server
from services.common.runtime import Runtime
from services.common.storage import ObjectNotFound
from services.common.transcript import Transcript

log = get_logger("earshot.analysis")

GROUP = "analysis"
GRPC_SERVICE_NAME = "earshot.analysis.v1.AnalysisService"


def create_temperature_analyzer(name: str) -> TemperatureAnalyzer:
    """The temperature analyzer named by ``EARSHOT_TEMPERATURE_ANALYZER``
    (``local``, ``openai``, ``anthropic`` or ``gemini``; providers read their keys from the
    environment, see :mod:`services.analysis.config`).

    Raises:
        ValueError: for an unknown name.
        services.common.settings.ConfigurationError: the provider's API key is not set.
    """
    if name == "local":
        return LocalTemperatureAnalyzer()
    if name in ("openai", "anthropic", "gemini"):
        from services.analysis.providers import create_provider

        provider = create_provider(name, load_analysis_settings())
        assert provider is not None
        return LLMTemperatureAnalyzer(provider)
    raise ValueError(f"unknown temperature analyzer {name!r}")


def _grpc_code(exc: ProviderError) -> grpc.StatusCode:
    if exc.code == "timeout":
        return grpc.StatusCode.DEADLINE_EXCEEDED
    if exc.code in ("context_length_exceeded", "bad_request"):
        return grpc.StatusCode.INVALID_ARGUMENT
    if exc.code == "auth":
        return grpc.StatusCode.FAILED_PRECONDITION
    return grpc.StatusCode.UNAVAILABLE


class _Servicer(analysis_pb2_grpc.AnalysisServiceServicer):
    def __init__(self, service: AnalysisService) -> None:
        self.service = service

    async def Analyze(  # noqa: N802 - gRPC method name
        self, request: analysis_pb2.AnalyzeRequest, context: grpc.aio.ServicerContext
    ) -> analysis_pb2.AnalyzeResponse:
        svc = self.service
        kind = request.kind
        if kind not in KINDS:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"unknown kind {kind!r}; choose from {', '.join(KINDS)}"
            )
        source = request.WhichOneof("input")
        transcript: Transcript | None = None
        try:
            if source == "transcript_json":
                transcript = Transcript.model_validate_json(request.transcript_json)
            elif source == "transcript_key":
                transcript = Transcript.model_validate_json(
                    await svc.runtime.storage.get(request.transcript_key)
                )
            elif source == "text":
                transcript = transcript_from_text(request.text)
        except ObjectNotFound:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no object {request.transcript_key!r}")
        except ValidationError as exc:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"transcript does not match the schema: {exc.error_count()} errors, first: "
                f"{exc.errors()[0]['msg']}",
            )
        if kind in TRANSCRIPT_KINDS and transcript is None:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"kind {kind!r} needs transcript_json, transcript_key or text",
            )
        options = json_format.MessageToDict(request.options) if request.HasField("options") else {}
        dynamics = await svc._dynamics(request.audio_key or None) if kind == "temperature" else None
        started = time.perf_counter()
        try:
            analyzer, result = await svc.engine.analyze(kind, transcript, _integral(options), dynamics)
        except ProviderError as exc:
            await context.abort(_grpc_code(exc), f"{exc.code}: {exc.details}")
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, _first_line(exc))
        message = struct_pb2.Struct()
        message.update(json.loads(json.dumps(result)))
        return analysis_pb2.AnalyzeResponse(
            kind=kind, analyzer=analyzer, result=message, processing_s=time.perf_counter() - started
        )


def _integral(value: Any) -> Any:
    """protobuf Struct numbers are doubles: turn 5.0 back into 5 so integer fields validate."""
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _first_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"invalid options: {where}: {err['msg']}" if where else f"invalid options: {err['msg']}"
    return str(exc).splitlines()[0]


class AnalysisService:
    """The analysis capability service (see module docstring)."""

    name = "analysis"

    def __init__(self, engine: AnalysisEngine | None = None) -> None:
        self._sub: Subscription | None = None
        self._grpc: GrpcServer | None = None
        self._engine = engine
        self.runtime: Runtime
        self.engine: AnalysisEngine
        self.temperature: TemperatureAnalyzer

    async def start(self, runtime: Runtime) -> None:
        """Pick the analyzers, start gRPC ``AnalysisService`` and join the ``analysis`` group.

        Raises:
            services.common.settings.ConfigurationError: a chosen provider has no API key.
        """
        self.runtime = runtime
        self.engine = self._engine or AnalysisEngine(
            load_analysis_settings(), runtime.settings.temperature_analyzer
        )
        self.temperature = self.engine.temperature
        await asyncio.to_thread(self.engine.warm_up)
        s = runtime.settings
        self._grpc = await start_server(
            s.grpc_host,
            runtime.grpc_port(self.name),
            [lambda srv: analysis_pb2_grpc.add_AnalysisServiceServicer_to_server(_Servicer(self), srv)],
            [GRPC_SERVICE_NAME],
        )
        runtime.grpc_targets[self.name] = f"{s.grpc_host}:{self._grpc.port}"
        await runtime.bus.ensure_topics([ANALYSIS_REQUESTS])
        self._sub = await runtime.bus.subscribe([ANALYSIS_REQUESTS], GROUP, self.handle)

    async def stop(self) -> None:
        """Leave the consumer group, stop gRPC gracefully, close provider clients."""
        if self._sub:
            await self._sub.close()
        if self._grpc:
            await self._grpc.stop()
        if self._engine is None and getattr(self, "engine", None) is not None:
            await self.engine.aclose()

    async def handle(self, envelope: Envelope) -> None:
        """Handle one analysis request."""
        if envelope.type != AnalysisRequested.event_type:
            return
        request = envelope.payload(AnalysisRequested)
        bind(job_id=request.job_id)
        try:
            with telemetry.span_from(
                envelope.extensions, "analysis.job", "earshot.analysis", kind=request.kind
            ):
                await self._process(request)
        finally:
            unbind("job_id")

    async def _dynamics(self, audio_key: str | None) -> AudioDynamics | None:
        if not audio_key:
            return None
        with self.runtime.temp_dir("ana-") as tmp:
            path = tmp / "audio"
            try:
                await self.runtime.storage.get_to_file(audio_key, path)
                samples = await asyncio.to_thread(audio.decode, path)
            except (ObjectNotFound, audio.AudioError) as exc:
                log.info("analysis.no_audio_features", reason=str(exc))
                return None
        return await asyncio.to_thread(compute_audio_dynamics, samples, 16_000)

    async def _process(self, request: AnalysisRequested) -> None:
        try:
            transcript = Transcript.model_validate_json(
                await self.runtime.storage.get(request.transcript_key)
            )
        except ObjectNotFound:
            await self._publish(
                AnalysisFailed(
                    job_id=request.job_id,
                    kind=request.kind,
                    error="transcript_missing",
                    details="the transcript is no longer in storage",
                )
            )
            return
        except ValidationError as exc:
            await self._publish(
                AnalysisFailed(
                    job_id=request.job_id,
                    kind=request.kind,
                    error="bad_transcript",
                    details=f"transcript does not match the schema: {exc.error_count()} errors",
                )
            )
            return
        dynamics = await self._dynamics(request.audio_key) if request.kind == "temperature" else None
        try:
            analyzer, result = await self.engine.analyze(request.kind, transcript, request.options, dynamics)
        except ProviderError as exc:
            log.warning("analysis.provider_failed", kind=request.kind, error=exc.code, details=exc.details)
            await self._publish(
                AnalysisFailed(
                    job_id=request.job_id,
                    kind=request.kind,
                    error=f"provider_{exc.code}",
                    details=f"the analysis provider failed: {exc.details}"[:500],
                )
            )
            return
        except ValueError as exc:
            await self._publish(
                AnalysisFailed(
                    job_id=request.job_id, kind=request.kind, error="bad_request", details=_first_line(exc)
                )
            )
            return
        log.info("analysis.done", kind=request.kind, analyzer=analyzer)
        await self._publish(
            AnalysisCompleted(job_id=request.job_id, kind=request.kind, analyzer=analyzer, result=result)
        )

    async def _publish(self, payload: AnalysisCompleted | AnalysisFailed) -> None:
        await publishing.publish(self.runtime, self.name, payload)
