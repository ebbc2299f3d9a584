"""The transcription service on the embedded platform: its job events and its gRPC API."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import jiwer
import pytest
from earshot.transcription.v1 import transcription_pb2, transcription_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from services.common.events import (
    TRANSCRIPTION_EVENTS,
    Envelope,
    TranscriptionCompleted,
    TranscriptionFailed,
    TranscriptionRequested,
)
from services.common.transcript import Transcript
from tests.conftest import JFK, JFK_REFERENCE, Embedded
from tests.embedded.test_bad_input import wav_bytes

NORMALISE = jiwer.Compose(
    [
        jiwer.ToLowerCase(),
        jiwer.RemovePunctuation(),
        jiwer.RemoveMultipleSpaces(),
        jiwer.Strip(),
        jiwer.ReduceToListOfListOfWords(),
    ]
)


def wer(reference: str, hypothesis: str) -> float:
    return float(
        jiwer.wer(reference, hypothesis, reference_transform=NORMALISE, hypothesis_transform=NORMALISE)
    )


async def run_job(embedded: Embedded, data: bytes, name: str) -> TranscriptionCompleted | TranscriptionFailed:
    """Publish a transcription request and wait for its result event."""
    rt = embedded.runtime
    job_id = str(uuid.uuid4())
    done: asyncio.Future[TranscriptionCompleted | TranscriptionFailed] = (
        asyncio.get_running_loop().create_future()
    )

    async def observe(envelope: Envelope) -> None:
        if envelope.key != job_id or done.done():
            return
        if envelope.type == TranscriptionCompleted.event_type:
            done.set_result(envelope.payload(TranscriptionCompleted))
        elif envelope.type == TranscriptionFailed.event_type:
            done.set_result(envelope.payload(TranscriptionFailed))

    sub = await rt.bus.subscribe([TRANSCRIPTION_EVENTS], f"test-{job_id}", observe, from_latest=True)
    key = f"uploads/{job_id}-{name}"
    await rt.storage.put(key, data)
    try:
        request = TranscriptionRequested(job_id=job_id, audio_key=key)
        await rt.bus.publish(request.topic, Envelope.of(request, "/tests"))
        return await asyncio.wait_for(done, 60)
    finally:
        await sub.close()
        await rt.storage.delete(key)


async def test_jfk_transcript_event_matches_reference(embedded: Embedded) -> None:
    result = await run_job(embedded, JFK.read_bytes(), "jfk.flac")
    assert isinstance(result, TranscriptionCompleted)
    assert result.language == "en"
    assert result.duration == pytest.approx(11.0, abs=0.1)
    transcript = Transcript.model_validate_json(await embedded.runtime.storage.get(result.transcript_key))
    await embedded.runtime.storage.delete(result.transcript_key)
    error = wer(JFK_REFERENCE, transcript.text)
    assert error <= 0.10, (error, transcript.text)
    words = transcript.words
    assert result.word_count == len(words) >= 20
    assert all(0 <= w.start <= w.end <= 11.1 for w in words)
    assert [w.start for w in words] == sorted(w.start for w in words)


async def test_corrupt_audio_job_fails_cleanly(embedded: Embedded) -> None:
    result = await run_job(embedded, b"definitely not audio" * 50, "bad.wav")
    assert isinstance(result, TranscriptionFailed)
    assert result.error == "unsupported_audio" or result.error.endswith("audio")
    assert result.details


async def test_redelivery_does_not_transcribe_twice(embedded: Embedded) -> None:
    rt = embedded.runtime
    job_id = str(uuid.uuid4())
    key = f"uploads/{job_id}.flac"
    await rt.storage.put(key, JFK.read_bytes())
    request = TranscriptionRequested(job_id=job_id, audio_key=key)
    service = embedded.platform.services["transcription"]
    try:
        await service.handle(Envelope.of(request, "/tests"))
        first = await rt.storage.stat(f"transcripts/{job_id}.json")
        await rt.storage.delete(key)  # a redelivery must not need the audio any more
        await service.handle(Envelope.of(request, "/tests"))
        again = await rt.storage.stat(f"transcripts/{job_id}.json")
        assert again.etag == first.etag
    finally:
        await rt.storage.delete(key)
        await rt.storage.delete(f"transcripts/{job_id}.json")


@pytest.fixture
async def channel(embedded: Embedded):  # type: ignore[no-untyped-def]
    target = embedded.runtime.grpc_targets["transcription"]
    async with grpc.aio.insecure_channel(target) as ch:
        yield ch


async def test_grpc_transcribe_inline_clip(channel: grpc.aio.Channel) -> None:
    stub = transcription_pb2_grpc.TranscriptionServiceStub(channel)
    reply = await stub.Transcribe(
        transcription_pb2.TranscribeRequest(audio=JFK.read_bytes(), word_timestamps=True), timeout=60
    )
    assert wer(JFK_REFERENCE, reply.text) <= 0.10
    assert reply.duration == pytest.approx(11.0, abs=0.1)
    assert reply.segments and reply.segments[0].words


async def test_grpc_rejects_bad_audio_and_long_clips(channel: grpc.aio.Channel) -> None:
    stub = transcription_pb2_grpc.TranscriptionServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await stub.Transcribe(transcription_pb2.TranscribeRequest(audio=b"nope" * 100), timeout=10)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.Transcribe(transcription_pb2.TranscribeRequest(audio_key="uploads/none.flac"), timeout=10)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as too_long:
        await stub.Transcribe(transcription_pb2.TranscribeRequest(audio=wav_bytes(61)), timeout=10)
    assert too_long.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "at most 60 s" in (too_long.value.details() or "")


async def test_grpc_health_and_reflection(channel: grpc.aio.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    status = await health.Check(
        health_pb2.HealthCheckRequest(service="earshot.transcription.v1.TranscriptionService"), timeout=5
    )
    assert status.status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    responses = reflection.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    names = [s.name async for r in responses for s in r.list_services_response.service]
    assert "earshot.transcription.v1.TranscriptionService" in names
    assert "grpc.health.v1.Health" in names
