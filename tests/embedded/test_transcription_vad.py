"""Voice activity with the transcript (for the interview coach's pause analysis): Silero VAD
speech intervals on jfk.flac, over gRPC ``Transcribe`` and over the job events."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from earshot.transcription.v1 import transcription_pb2, transcription_pb2_grpc

from services.common.events import (
    TRANSCRIPTION_EVENTS,
    Envelope,
    TranscriptionCompleted,
    TranscriptionRequested,
)
from services.common.transcript import SpeechInterval, Transcript
from services.transcription.vad import file_speech_intervals
from tests.conftest import JFK, Embedded


def pauses(speech: list[SpeechInterval]) -> list[float]:
    return [b.start - a.end for a, b in zip(speech, speech[1:], strict=False)]


def test_vad_finds_the_pauses_word_timestamps_hide() -> None:
    speech = file_speech_intervals(JFK)
    gaps = pauses(speech)
    assert len(gaps) == 3 and sum(gaps) == pytest.approx(2.8, abs=0.15)
    assert 0 < speech[0].start < 1 and 10 < speech[-1].end <= 11.0


async def test_grpc_transcribe_returns_speech_intervals(embedded: Embedded) -> None:
    target = embedded.runtime.grpc_targets["transcription"]
    async with grpc.aio.insecure_channel(target) as channel:
        stub = transcription_pb2_grpc.TranscriptionServiceStub(channel)
        plain = await stub.Transcribe(
            transcription_pb2.TranscribeRequest(audio=JFK.read_bytes(), word_timestamps=True), timeout=60
        )
        with_vad = await stub.Transcribe(
            transcription_pb2.TranscribeRequest(
                audio=JFK.read_bytes(), word_timestamps=True, voice_activity=True
            ),
            timeout=60,
        )
    assert list(plain.speech) == []
    speech = [SpeechInterval(start=i.start, end=i.end) for i in with_vad.speech]
    assert len(pauses(speech)) == 3 and with_vad.text == plain.text


async def test_job_stores_speech_intervals_on_the_transcript(embedded: Embedded) -> None:
    rt = embedded.runtime
    job_id = str(uuid.uuid4())
    key = f"uploads/{job_id}.flac"
    await rt.storage.put(key, JFK.read_bytes())
    done: asyncio.Future[TranscriptionCompleted] = asyncio.get_running_loop().create_future()

    async def on_event(envelope: Envelope) -> None:
        if envelope.key == job_id and not done.done() and envelope.type == TranscriptionCompleted.event_type:
            done.set_result(envelope.payload(TranscriptionCompleted))

    sub = await rt.bus.subscribe([TRANSCRIPTION_EVENTS], f"vad-{job_id}", on_event, from_latest=True)
    try:
        request = TranscriptionRequested(job_id=job_id, audio_key=key, voice_activity=True)
        await rt.bus.publish(request.topic, Envelope.of(request, "/tests"))
        result = await asyncio.wait_for(done, 60)
        transcript = Transcript.model_validate_json(await rt.storage.get(result.transcript_key))
        await rt.storage.delete(result.transcript_key)
    finally:
        await sub.close()
        await rt.storage.delete(key)
    assert transcript.speech is not None and len(pauses(transcript.speech)) == 3
