"""The interview coach's lifecycle: transcription of answers and the consumer that resolves the
long ones.

An answer of up to :data:`SYNC_LIMIT_S` seconds goes over the transcription gRPC
``Transcribe`` (inline bytes, word timestamps and voice activity); a longer one is stored as
``uploads/<job>.<ext>``, requested with ``earshot.transcription.requested.v1``
(``voice_activity=True``) and waited for by this replica's consumer group
(``gateway.interviews.<instance>``, from the end of the log); the upload and the transcript
are deleted on every path, and the temp copy is removed by the route's temp folder.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from earshot.transcription.v1 import transcription_pb2
from fastapi import Depends, UploadFile
from starlette.requests import HTTPConnection

from services.common.events import (
    TRANSCRIPTION_EVENTS,
    TRANSCRIPTION_REQUESTS,
    TranscriptionCompleted,
    TranscriptionFailed,
    TranscriptionRequested,
)
from services.common.storage import ObjectNotFound
from services.common.transcript import Transcript
from services.gateway.clients.transcription import transcript_from_reply
from services.gateway.products.interviews.schemas import MAX_AUDIO_BYTES, FileMeta
from services.gateway.shared.consumers import ConsumerTable, On
from services.gateway.shared.errors import ApiError
from services.gateway.shared.openapi import answers
from services.gateway.shared.product import GatewayContext, Product
from services.gateway.shared.uploads import ReceivedAudio, save_audio

__all__ = ["ANSWER_FORMATS", "SYNC_LIMIT_S", "InterviewsDep", "InterviewsProduct"]

SYNC_LIMIT_S = 60.0
"""Longest answer sent to ``Transcribe`` (the service's synchronous limit); longer: job events."""

ANSWER_FORMATS = ["wav", "mp3", "m4a", "flac", "webm", "ogg"]
"""Containers accepted for answers (sniffed from the content; the seed's list plus ogg)."""


class InterviewsProduct(Product):
    """State of the interview coach: the waiter of long answers' transcription jobs."""

    name = "interviews"
    publishes = (TRANSCRIPTION_REQUESTS,)

    def __init__(self, ctx: GatewayContext) -> None:
        super().__init__(ctx)
        from services.gateway.shared.waiter import JobWaiter

        self.waiter: JobWaiter[TranscriptionCompleted | TranscriptionFailed] = JobWaiter()

    def consumers(self) -> Sequence[ConsumerTable]:
        """This replica's waiter: group ``gateway.interviews.<instance>``, from the end of the log."""
        return (
            ConsumerTable(
                "gateway.interviews.{instance}",
                (
                    On(TRANSCRIPTION_EVENTS, TranscriptionCompleted, self.waiter.resolve),
                    On(TRANSCRIPTION_EVENTS, TranscriptionFailed, self.waiter.resolve),
                ),
                from_latest=True,
            ),
        )

    async def stop(self) -> None:
        """Fail the requests still waiting."""
        self.waiter.cancel_all()

    async def receive(self, upload: UploadFile, tmp: Path) -> ReceivedAudio:
        """Copy and validate an answer (25 MB, content sniffed, fully decoded, at most
        ``MAX_AUDIO_DURATION_S``).

        Raises:
            ApiError: 400 bad format / empty / not audio / corrupt / too long; 413 over 25 MB.
        """
        settings = self.ctx.settings.model_copy(
            update={"allowed_extensions": ANSWER_FORMATS, "max_file_size_mb": MAX_AUDIO_BYTES / (1024 * 1024)}
        )
        if upload.filename and "." not in upload.filename:
            upload.filename = f"{upload.filename}.{_guess_extension(upload)}"
        return await save_audio(upload, "answer", settings, tmp, max_duration_s=settings.max_audio_duration_s)

    async def transcribe(self, received: ReceivedAudio, language: str) -> Transcript:
        """Transcribe an answer with word timestamps and voice activity (module docstring).

        Raises:
            ApiError: 400 for a refused language or unusable audio; 503/504.
        """
        if received.info.duration_s <= SYNC_LIMIT_S:
            message = transcription_pb2.TranscribeRequest(
                audio=await asyncio.to_thread(received.path.read_bytes),
                language=language,
                word_timestamps=True,
                voice_activity=True,
            )
            try:
                reply = await self.ctx.clients.transcription.transcribe(message, self.ctx.request_timeout_s)
            except ApiError as exc:
                if exc.status in (400, 404, 422):
                    raise ApiError(400, "Transcription refused", exc.details) from None
                raise
            return transcript_from_reply(reply)
        return await self._via_job(received, language)

    async def _via_job(self, received: ReceivedAudio, language: str) -> Transcript:
        rt = self.runtime
        job_id = str(uuid.uuid4())
        audio_key = f"uploads/{job_id}.{received.extension}"
        transcript_key = f"transcripts/{job_id}.json"
        timeout = self.ctx.request_timeout_s + received.info.duration_s
        try:
            async with self.waiter.waiting(job_id) as fut:
                await rt.storage.put_file(audio_key, received.path)
                request = TranscriptionRequested(
                    job_id=job_id,
                    audio_key=audio_key,
                    language=language,
                    word_timestamps=True,
                    purpose="interview",
                    voice_activity=True,
                )
                # the job (its lease: this request's timeout) and its request commit together
                async with self.ctx.durable.outbox.transaction() as session:
                    await self.ctx.jobs.submit(
                        session,
                        job_id,
                        "transcription",
                        request,
                        replayable=False,
                        objects=[audio_key, transcript_key],
                        lease_s=timeout + 60,
                    )
                try:
                    result = await asyncio.wait_for(fut, timeout)
                except TimeoutError:
                    await self.ctx.jobs.set_status(job_id, "timed_out", "timeout")
                    raise ApiError(
                        504, "Timeout", f"the transcription did not finish within {timeout:.0f} s"
                    ) from None
            if isinstance(result, TranscriptionFailed):
                await self.ctx.jobs.set_status(job_id, "failed", result.error[:64])
                raise ApiError(400, "Transcription failed", f"{result.error}: {result.details}")
            transcript_key = result.transcript_key
            transcript = Transcript.model_validate_json(await rt.storage.get(transcript_key))
            await self.ctx.jobs.set_status(job_id, "succeeded")
            return transcript
        finally:
            for key in (audio_key, transcript_key):
                try:
                    await rt.storage.delete(key)
                except ObjectNotFound:
                    pass


def file_meta(upload: UploadFile, received: ReceivedAudio) -> FileMeta:
    """What the response tells about the uploaded file (the audio itself is not kept)."""
    return FileMeta(
        filename=upload.filename or "",
        content_type=upload.content_type,
        format=received.extension,
        size_bytes=received.size,
        duration_s=round(received.info.duration_s, 3),
        sample_rate=received.info.sample_rate,
        channels=received.info.channels,
    )


def _guess_extension(upload: UploadFile) -> str:
    subtype = (upload.content_type or "").split("/")[-1].lower()
    return {"mpeg": "mp3", "x-wav": "wav", "wave": "wav", "mp4": "m4a", "x-m4a": "m4a"}.get(subtype, subtype)


@answers(503, 504)  # its database, storage or services may be unavailable
async def interviews_product(conn: HTTPConnection) -> InterviewsProduct:
    """Dependency: this replica's :class:`InterviewsProduct`."""
    product: InterviewsProduct = conn.app.state.products[InterviewsProduct.name]
    return product


InterviewsDep = Annotated[InterviewsProduct, Depends(interviews_product)]
