"""Conversation temperature's lifecycle and flow.

Event flow of one request (synchronous for the client, as seed 000 documents it):

1. the route stores the upload and publishes ``transcription.requested``;
2. the *orchestrator* (consumer group ``gateway``, one member handles each event) turns
   ``transcription.completed`` (purpose ``temperature``) into ``analysis.requested``;
3. the *waiter* (group ``gateway.<instance>``, one per replica, from the end of the log)
   resolves the replica's pending request on ``analysis.completed`` or a ``*.failed`` event.

A late completion for a job that is already finished (timed out, failed) only triggers
clean-up of the objects it left. Stateless as the seed promises: the upload and the
transcript are deleted on every path; only a content-free job record (id, status, timings,
error code) is kept.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Depends
from starlette.requests import HTTPConnection

from services.common import metrics
from services.common.analysis_results import TemperatureResult
from services.common.events import (
    ANALYSIS_EVENTS,
    ANALYSIS_REQUESTS,
    TRANSCRIPTION_EVENTS,
    TRANSCRIPTION_REQUESTS,
    AnalysisCompleted,
    AnalysisCompletedV2,
    AnalysisFailed,
    AnalysisRequestedV2,
    EventPayload,
    TranscriptionCompleted,
    TranscriptionFailed,
    TranscriptionRequested,
)
from services.common.logging import bind, get_logger, unbind
from services.gateway.products.temperature.schemas import TemperatureResponse
from services.gateway.shared.consumers import ConsumerTable, On
from services.gateway.shared.errors import ApiError
from services.gateway.shared.openapi import answers
from services.gateway.shared.product import GatewayContext, Product
from services.gateway.shared.timefmt import utc_timestamp
from services.gateway.shared.uploads import ReceivedAudio
from services.gateway.shared.waiter import JobWaiter

log = get_logger("earshot.gateway.temperature")

LEASE_MARGIN_S = 60.0
"""A synchronous job's lease is its request's timeout plus this (s): it only expires when the
replica holding the request died (docs/jobs.md)."""


class TemperatureProduct(Product):
    """Orchestrator and waiter of the temperature flow (module docstring)."""

    name = "temperature"
    publishes = (TRANSCRIPTION_REQUESTS, ANALYSIS_REQUESTS)

    def __init__(self, ctx: GatewayContext) -> None:
        super().__init__(ctx)
        self.waiter: JobWaiter[EventPayload] = JobWaiter()

    def consumers(self) -> Sequence[ConsumerTable]:
        """The orchestrator (group ``gateway``) and this replica's waiter (``gateway.<instance>``)."""
        return (
            ConsumerTable(
                "gateway", (On(TRANSCRIPTION_EVENTS, TranscriptionCompleted, self.on_transcribed),)
            ),
            ConsumerTable(
                "gateway.{instance}",
                (
                    On(ANALYSIS_EVENTS, AnalysisCompleted, self.waiter.resolve),
                    On(ANALYSIS_EVENTS, AnalysisCompletedV2, self.waiter.resolve),
                    On(ANALYSIS_EVENTS, AnalysisFailed, self.waiter.resolve),
                    On(TRANSCRIPTION_EVENTS, TranscriptionFailed, self.waiter.resolve),
                ),
                from_latest=True,
            ),
        )

    async def stop(self) -> None:
        """Fail the requests still waiting."""
        self.waiter.cancel_all()

    async def on_transcribed(self, done: TranscriptionCompleted) -> None:
        """Orchestrator: a temperature job's transcript is ready; request its analysis."""
        if done.purpose != "temperature":
            return  # not this flow; its requester owns the transcript
        request = AnalysisRequestedV2(
            job_id=done.job_id,
            kind="temperature",
            transcript_key=done.transcript_key,
            audio_key=done.audio_key,
        )
        # the job's next step and its request commit together (transactional outbox)
        async with self.ctx.durable.outbox.transaction() as session:
            active = await self.ctx.jobs.advance(session, done.job_id, request, replayable=False)
        if not active:
            # Nobody waits any more: remove what the late work left behind.
            await _cleanup(self.runtime.storage, done.transcript_key, done.audio_key)

    async def analyze(self, job_id: str, received: ReceivedAudio) -> TemperatureResponse:
        """Store the accepted upload, run the flow and wait for its result.

        Raises:
            ApiError: 422 when transcription or analysis could not use the audio; 504 after
                ``EARSHOT_REQUEST_TIMEOUT_S``.
        """
        rt, jobs = self.runtime, self.ctx.jobs
        audio_key = f"uploads/{job_id}.{received.extension}"
        transcript_key = f"transcripts/{job_id}.json"
        status: str = "failed"
        error: str | None = "rejected"
        created = False
        timeout_s = self.ctx.request_timeout_s
        try:
            await rt.storage.put_file(audio_key, received.path, f"audio/{received.extension}")
            async with self.waiter.waiting(job_id) as fut:
                # the job (its lease: this request's timeout) and its first request commit together
                async with self.ctx.durable.outbox.transaction() as session:
                    await jobs.submit(
                        session,
                        job_id,
                        "temperature",
                        TranscriptionRequested(job_id=job_id, audio_key=audio_key, purpose="temperature"),
                        replayable=False,
                        objects=[audio_key, transcript_key],
                        lease_s=timeout_s + LEASE_MARGIN_S,
                    )
                created = True
                try:
                    outcome = await asyncio.wait_for(fut, timeout_s)
                except TimeoutError:
                    status, error = "timed_out", "timeout"
                    raise ApiError(
                        504,
                        "Analysis timed out",
                        f"no result within {timeout_s:g} s; try a shorter recording",
                    ) from None
            if isinstance(outcome, AnalysisCompleted | AnalysisCompletedV2):
                # v1 carries a dict, v2 a TemperatureResult: one model reads both.
                result = TemperatureResult.model_validate(
                    outcome.result if isinstance(outcome.result, dict) else outcome.result.model_dump()
                )
                status, error = "succeeded", None
                return TemperatureResponse(
                    temperature=result.temperature,
                    confidence=result.confidence,
                    timestamp=utc_timestamp(),
                    analysis_summary=result.analysis_summary,
                )
            assert isinstance(outcome, TranscriptionFailed | AnalysisFailed)
            error = outcome.error
            raise ApiError(422, "Audio processing failed", outcome.details)
        finally:
            if created:
                await jobs.set_status(job_id, status, error)
            await asyncio.shield(_cleanup(rt.storage, audio_key, transcript_key))


async def run(product: TemperatureProduct, receive: Any) -> TemperatureResponse:
    """Time and label one request: ``receive(tmp)`` validates the upload in a temp folder that
    is removed on every path; the job's outcome goes to ``earshot_jobs_*`` metrics."""
    rt = product.runtime
    job_id = str(uuid.uuid4())
    bind(job_id=job_id)
    started = time.perf_counter()
    label = "rejected"
    try:
        with rt.temp_dir("upload-") as tmp:
            received: ReceivedAudio = await receive(tmp)
            label = "failed"
            answer = await product.analyze(job_id, received)
            label = "succeeded"
            return answer
    except ApiError as exc:
        if exc.status == 504:
            label = "timed_out"
        raise
    finally:
        metrics.observe_job("gateway", "temperature", label, time.perf_counter() - started)
        unbind("job_id")


async def _cleanup(storage: Any, *keys: str) -> None:
    for key in keys:
        try:
            await storage.delete(key)
        except Exception as exc:  # clean-up must not mask the answer; it is logged
            log.error("gateway.cleanup_failed", key=key, error=str(exc))


@answers(503, 504)  # its database, storage or services may be unavailable
async def temperature_product(conn: HTTPConnection) -> TemperatureProduct:
    """Dependency: this replica's :class:`TemperatureProduct`."""
    product: TemperatureProduct = conn.app.state.products[TemperatureProduct.name]
    return product


TemperatureDep = Annotated[TemperatureProduct, Depends(temperature_product)]
