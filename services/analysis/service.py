"""Analysis service: consumes analysis requests and publishes results.

Consumes ``earshot.analysis.requested.v1`` (group ``analysis``). For ``temperature``
it reads the transcript JSON from storage, measures loudness dynamics from the
recording when its key is given, scores with the configured analyzer and
publishes ``earshot.analysis.completed.v1`` (the result inline: it is small) or
``earshot.analysis.failed.v1``. Deterministic, so a redelivery recomputes the same result.
"""

from __future__ import annotations

import asyncio

from pydantic import ValidationError

from services.analysis.temperature import (
    AudioDynamics,
    LocalTemperatureAnalyzer,
    TemperatureAnalyzer,
    compute_audio_dynamics,
)
from services.common import audio, telemetry
from services.common.bus import Subscription
from services.common.events import (
    ANALYSIS_REQUESTS,
    AnalysisCompleted,
    AnalysisFailed,
    AnalysisRequested,
    Envelope,
)
from services.common.logging import bind, get_logger, unbind
from services.common.runtime import Runtime
from services.common.storage import ObjectNotFound
from services.common.transcript import Transcript

log = get_logger("earshot.analysis")

GROUP = "analysis"


def create_temperature_analyzer(name: str) -> TemperatureAnalyzer:
    """The temperature analyzer named by ``EARSHOT_TEMPERATURE_ANALYZER``.

    Raises:
        ValueError: for an unknown name.
    """
    if name == "local":
        return LocalTemperatureAnalyzer()
    raise ValueError(f"unknown temperature analyzer {name!r}")


class AnalysisService:
    """The analysis capability service (see module docstring)."""

    name = "analysis"

    def __init__(self) -> None:
        self._sub: Subscription | None = None
        self.runtime: Runtime
        self.temperature: TemperatureAnalyzer

    async def start(self, runtime: Runtime) -> None:
        """Pick the analyzers and join the ``analysis`` consumer group."""
        self.runtime = runtime
        self.temperature = create_temperature_analyzer(runtime.settings.temperature_analyzer)
        await runtime.bus.ensure_topics([ANALYSIS_REQUESTS])
        self._sub = await runtime.bus.subscribe([ANALYSIS_REQUESTS], GROUP, self.handle)

    async def stop(self) -> None:
        """Leave the consumer group."""
        if self._sub:
            await self._sub.close()

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
                    error="transcript_missing",
                    details="the transcript is no longer in storage",
                )
            )
            return
        except ValidationError as exc:
            await self._publish(
                AnalysisFailed(
                    job_id=request.job_id,
                    error="bad_transcript",
                    details=f"transcript does not match the schema: {exc.error_count()} errors",
                )
            )
            return
        dynamics = await self._dynamics(request.audio_key)
        result = await self.temperature.analyze(transcript, dynamics)
        log.info(
            "analysis.done", kind=request.kind, temperature=result.temperature, confidence=result.confidence
        )
        await self._publish(
            AnalysisCompleted(
                job_id=request.job_id,
                kind=request.kind,
                analyzer=self.temperature.name,
                result=result.model_dump(mode="json"),
            )
        )

    async def _publish(self, payload: AnalysisCompleted | AnalysisFailed) -> None:
        await self.runtime.bus.publish(
            payload.topic, Envelope.of(payload, self.runtime.source(self.name), **telemetry.inject())
        )
