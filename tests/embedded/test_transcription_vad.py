"""Voice activity with the transcript (for the interview coach's pause analysis): Silero VAD
speech intervals on jfk.flac, over gRPC ``Transcribe`` and over the job events; Silero runs
once per recording (the decoder's VAD filter and the pause intervals share its pass)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from earshot.transcription.v1 import transcription_pb2, transcription_pb2_grpc
from faster_whisper.vad import SileroVADModel, VadOptions, get_speech_timestamps

from services.common import audio
from services.common.events import (
    TRANSCRIPTION_EVENTS,
    Envelope,
    TranscriptionCompleted,
    TranscriptionRequested,
)
from services.common.transcript import SpeechInterval, Transcript
from services.transcription import vad
from services.transcription.vad import file_speech_intervals
from tests.conftest import FIXTURES, JFK, Embedded


def pauses(speech: list[SpeechInterval]) -> list[float]:
    return [b.start - a.end for a, b in zip(speech, speech[1:], strict=False)]


@pytest.fixture
def silero_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Length (samples) of the audio given to each Silero VAD network run, in this process."""
    calls: list[int] = []
    original = SileroVADModel.__call__

    def counting(self: SileroVADModel, samples: np.ndarray, *args: object, **kwargs: object) -> np.ndarray:
        calls.append(int(samples.shape[0]))
        return original(self, samples, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(SileroVADModel, "__call__", counting)
    yield calls


def answer_72s(path: Path) -> np.ndarray:
    """Write a 72 s answer (weekly sync, then a heated talk) to ``path``; its samples."""
    parts = [
        audio.decode(FIXTURES / "weekly_sync.wav", 16000),
        audio.decode(FIXTURES / "heated_conversation.flac", 16000),
    ]
    samples = np.concatenate(parts)[: 72 * 16000].astype(np.float32)
    path.write_bytes(audio.wav_bytes(samples, 16000))
    return samples


def test_speech_timestamps_from_probabilities_equal_faster_whisper() -> None:
    samples = audio.decode(JFK, 16000).astype(np.float32)
    probs = vad.speech_probabilities(samples)
    for options in (
        VadOptions(),
        vad.pause_options(),
        VadOptions(max_speech_duration_s=3, min_silence_duration_ms=160),
        VadOptions(min_silence_duration_ms=500, min_speech_duration_ms=250),
    ):
        assert vad.speech_timestamps(probs, len(samples), options) == get_speech_timestamps(samples, options)


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


async def run_job(embedded: Embedded, key: str, **fields: object) -> Transcript:
    rt = embedded.runtime
    job_id = key.split("/")[-1].split(".")[0]
    done: asyncio.Future[TranscriptionCompleted] = asyncio.get_running_loop().create_future()

    async def on_event(envelope: Envelope) -> None:
        if envelope.key == job_id and not done.done() and envelope.type == TranscriptionCompleted.event_type:
            done.set_result(envelope.payload(TranscriptionCompleted))

    sub = await rt.bus.subscribe([TRANSCRIPTION_EVENTS], f"vad-{job_id}", on_event, from_latest=True)
    try:
        request = TranscriptionRequested(job_id=job_id, audio_key=key, **fields)  # type: ignore[arg-type]
        await rt.bus.publish(request.topic, Envelope.of(request, "/tests"))
        result = await asyncio.wait_for(done, 120)
        transcript = Transcript.model_validate_json(await rt.storage.get(result.transcript_key))
        await rt.storage.delete(result.transcript_key)
    finally:
        await sub.close()
        await rt.storage.delete(key)
    return transcript


async def test_long_answer_runs_silero_once(
    embedded: Embedded, silero_calls: list[int], tmp_path: Path
) -> None:
    """A 72 s answer with voice activity (the interview coach's long path): one Silero pass
    over the recording serves the decoder's VAD filter and the pause intervals, which equal a
    separate pass's."""
    samples = answer_72s(tmp_path / "answer.wav")
    key = f"uploads/{uuid.uuid4()}.wav"
    await embedded.runtime.storage.put(key, (tmp_path / "answer.wav").read_bytes())
    transcript = await run_job(embedded, key, word_timestamps=True, purpose="interview", voice_activity=True)
    assert len(silero_calls) == 1 and silero_calls[0] == pytest.approx(len(samples), abs=512)
    assert transcript.duration == pytest.approx(72.0, abs=0.1) and len(transcript.words) > 100
    assert transcript.speech == vad.speech_intervals(samples)


async def test_grpc_voice_activity_runs_silero_once(embedded: Embedded, silero_calls: list[int]) -> None:
    target = embedded.runtime.grpc_targets["transcription"]
    async with grpc.aio.insecure_channel(target) as channel:
        stub = transcription_pb2_grpc.TranscriptionServiceStub(channel)
        reply = await stub.Transcribe(
            transcription_pb2.TranscribeRequest(
                audio=JFK.read_bytes(), word_timestamps=True, voice_activity=True
            ),
            timeout=60,
        )
    assert len(silero_calls) == 1
    assert [SpeechInterval(start=i.start, end=i.end) for i in reply.speech] == file_speech_intervals(JFK)
