"""The OpenAI-compatible transcription flow: upload validation, gRPC for clips, job events for
long recordings, and the waiter of those jobs (group ``gateway.openai.<instance>``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from earshot.transcription.v1 import transcription_pb2
from fastapi import Depends, Request
from starlette.datastructures import UploadFile
from starlette.requests import HTTPConnection

from services.common import audio
from services.common.events import (
    TRANSCRIPTION_EVENTS,
    TRANSCRIPTION_REQUESTS,
    TranscriptionCompleted,
    TranscriptionFailed,
    TranscriptionProgress,
    TranscriptionRequested,
)
from services.common.storage import ObjectNotFound
from services.common.transcript import Transcript
from services.gateway.clients.transcription import transcript_from_reply
from services.gateway.products.openai.schemas import (
    OPENAI_EXTENSIONS,
    SYNC_LIMIT_S,
    Invalid,
    TranscriptionParams,
    client_error,
)
from services.gateway.shared.consumers import ConsumerTable, On
from services.gateway.shared.errors import ApiError
from services.gateway.shared.openapi import answers
from services.gateway.shared.product import GatewayContext, Product
from services.gateway.shared.uploads import copy_upload, is_multipart, parse_form, too_large_error
from services.gateway.shared.waiter import JobWaiter

__all__ = ["OpenAIDep", "OpenAIProduct"]


class OpenAIProduct(Product):
    """State of the OpenAI-compatible routes: the waiter of long transcription jobs."""

    name = "openai"
    publishes = (TRANSCRIPTION_REQUESTS,)

    def __init__(self, ctx: GatewayContext) -> None:
        super().__init__(ctx)
        self.waiter: JobWaiter[TranscriptionCompleted | TranscriptionFailed] = JobWaiter()

    def consumers(self) -> Sequence[ConsumerTable]:
        """This replica's waiter: group ``gateway.openai.<instance>``, from the end of the log."""
        return (
            ConsumerTable(
                "gateway.openai.{instance}",
                (
                    On(TRANSCRIPTION_EVENTS, TranscriptionProgress, self.on_progress),
                    On(TRANSCRIPTION_EVENTS, TranscriptionCompleted, self.waiter.resolve),
                    On(TRANSCRIPTION_EVENTS, TranscriptionFailed, self.waiter.resolve),
                ),
                from_latest=True,
            ),
        )

    async def on_progress(self, event: TranscriptionProgress) -> None:
        """Remember how far a waited-for job has got."""
        self.waiter.note_progress(event.job_id, event.percent)

    async def stop(self) -> None:
        """Fail the requests still waiting."""
        self.waiter.cancel_all()

    async def receive(self, request: Request, tmp: Path) -> tuple[TranscriptionParams, Path, audio.AudioInfo]:
        """Parse and validate the multipart body (OpenAI's fields) into ``tmp``.

        Raises:
            ApiError: 400 (OpenAI-shaped :class:`Invalid`) for a missing or bad file or field; 413.
        """
        settings = self.ctx.settings
        if not is_multipart(request):
            raise Invalid(400, "Invalid request", "send multipart/form-data with the audio in 'file'", "file")
        form = await parse_form(
            request,
            too_large_error(settings),
            max_files=2,
            max_fields=30,
            malformed=lambda exc: Invalid(
                400, "Invalid request", f"the multipart body could not be parsed: {exc}"
            ),
        )
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise Invalid(
                    400, "Invalid request", "you must provide a file parameter", "file", "missing_file"
                )
            params = TranscriptionParams(form)
            name = upload.filename or ""
            ext = name.rsplit(".", 1)[1].lower() if "." in name else ""
            if ext and ext not in OPENAI_EXTENSIONS:
                raise Invalid(
                    400,
                    "Invalid file format",
                    f"Invalid file format. Supported formats: {OPENAI_EXTENSIONS!r}".replace("'", '"'),
                    "file",
                    "invalid_file_format",
                )
            path = tmp / "upload"
            size = await asyncio.to_thread(copy_upload, upload, path, settings.max_file_size_bytes)
        finally:
            await form.close()
        if size < 0:
            raise too_large_error(settings)
        if size == 0:
            raise Invalid(400, "Empty file", "the uploaded file is empty (0 bytes)", "file", "empty_file")
        try:
            # Headers first: clips for gRPC are validated by the service's full decode (nothing
            # is stored on that path); longer files are decoded fully here before being stored.
            limit = settings.openai_max_audio_duration_s
            info = await asyncio.to_thread(audio.probe, path, verify=False, max_duration_s=limit)
            if info.duration_s > SYNC_LIMIT_S:
                # the decoded stream decides (a header can understate the length)
                info = await asyncio.to_thread(audio.probe, path, max_duration_s=limit)
        except audio.AudioTooLong as exc:
            raise Invalid(400, "Audio too long", exc.details, "file", exc.code) from None
        except audio.AudioError as exc:
            raise Invalid(400, "Invalid file", f"{exc.details}", "file", exc.code) from None
        return params, path, info

    async def via_grpc(self, path: Path, params: TranscriptionParams, want_words: bool) -> Transcript:
        """Transcribe a clip (at most ``SYNC_LIMIT_S``) with ``Transcribe``.

        Raises:
            ApiError: OpenAI-shaped 400/404 for a refused request or unknown model; 503/504.
        """
        message = transcription_pb2.TranscribeRequest(
            audio=await asyncio.to_thread(path.read_bytes),
            language=params.language or "",
            word_timestamps=want_words,
            model=params.model or "",
            prompt=params.prompt or "",
            diarize=params.diarize,
            min_speakers=params.min_speakers or 0,
            max_speakers=params.max_speakers or 0,
            num_speakers=params.num_speakers or 0,
            engine=params.engine or "",
        )
        if params.temperature is not None:
            message.temperature = params.temperature
        try:
            reply = await self.ctx.clients.transcription.transcribe(message, self.ctx.request_timeout_s)
        except ApiError as exc:
            if exc.status in (400, 404):
                raise client_error(exc.details) from None
            raise ApiError(exc.status, "Transcription unavailable", exc.details) from None
        return transcript_from_reply(reply)

    async def via_job(
        self, path: Path, info: audio.AudioInfo, params: TranscriptionParams, want_words: bool
    ) -> Transcript:
        """Transcribe a long recording through the job events; upload and transcript are
        deleted on every path.

        Raises:
            ApiError: OpenAI-shaped 400 for unusable audio; 504 after the request timeout plus
                the recording's duration.
        """
        rt, jobs = self.runtime, self.ctx.jobs
        job_id = str(uuid.uuid4())
        audio_key = f"uploads/{job_id}.{info.format}"
        transcript_key = ""
        timeout = self.ctx.request_timeout_s + info.duration_s
        try:
            async with self.waiter.waiting(job_id) as fut:
                await rt.storage.put_file(audio_key, path)
                request = TranscriptionRequested(
                    job_id=job_id,
                    audio_key=audio_key,
                    language=params.language,
                    word_timestamps=want_words,
                    purpose="openai",
                    model=params.model,
                    engine=params.engine,
                    prompt=params.prompt,
                    temperature=params.temperature,
                    diarize=params.diarize,
                    min_speakers=params.min_speakers,
                    max_speakers=params.max_speakers,
                    num_speakers=params.num_speakers,
                )
                # the job (its lease: this request's timeout) and its request commit together
                async with self.ctx.durable.outbox.transaction() as session:
                    await jobs.submit(
                        session,
                        job_id,
                        "transcription",
                        request,
                        replayable=False,
                        objects=[audio_key, f"transcripts/{job_id}.json"],
                        lease_s=timeout + 60,
                    )
                try:
                    result = await asyncio.wait_for(fut, timeout)
                except TimeoutError:
                    await jobs.set_status(job_id, "timed_out", "timeout")
                    raise ApiError(
                        504, "Timeout", f"the transcription did not finish within {timeout:.0f} s"
                    ) from None
            if isinstance(result, TranscriptionFailed):
                await jobs.set_status(job_id, "failed", result.error[:64])
                if result.error in ("corrupt_audio", "unsupported_audio", "empty_audio"):
                    raise Invalid(400, "Invalid file", result.details, "file", result.error)
                raise client_error(f"{result.error}: {result.details}")
            transcript_key = result.transcript_key
            transcript = Transcript.model_validate_json(await rt.storage.get(transcript_key))
            await jobs.set_status(job_id, "succeeded")
            return transcript
        finally:
            for key in (audio_key, transcript_key or f"transcripts/{job_id}.json"):
                try:
                    await rt.storage.delete(key)
                except ObjectNotFound:
                    pass

    async def models(self) -> list[dict[str, Any]]:
        """The speech-to-text models, as OpenAI's model objects.

        Raises:
            ApiError: 503 when the transcription service cannot be reached.
        """
        try:
            reply = await self.ctx.clients.transcription.list_models()
        except ApiError as exc:
            raise ApiError(503, "Transcription unavailable", exc.details) from None
        return [{"id": m.id, "object": "model", "created": 0, "owned_by": m.owned_by} for m in reply.models]


@answers(503, 504)  # its database, storage or services may be unavailable
async def openai_product(conn: HTTPConnection) -> OpenAIProduct:
    """Dependency: this replica's :class:`OpenAIProduct`."""
    product: OpenAIProduct = conn.app.state.products[OpenAIProduct.name]
    return product


OpenAIDep = Annotated[OpenAIProduct, Depends(openai_product)]
