"""The analysis service on the embedded platform: analysis events per kind, the CLI, and the
quality bars on real recordings transcribed by the platform's own Whisper (weekly_sync, jfk)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path

import grpc
import pytest
from earshot.transcription.v1 import transcription_pb2, transcription_pb2_grpc

from services.common.analysis_results import InterviewResult, MeetingAnalysis, TemperatureResult
from services.common.events import (
    ANALYSIS_COMPLETED_TYPES,
    ANALYSIS_EVENTS,
    ANALYSIS_REQUESTED_TYPES,
    AnalysisCompleted,
    AnalysisCompletedV2,
    AnalysisFailed,
    AnalysisRequestedV2,
    Envelope,
)
from services.common.transcript import Segment, Transcript, Word
from tests.conftest import FIXTURES, JFK, Embedded
from tests.unit.test_analysis_meeting import check_weekly_sync, stm_transcript

WEEKLY = FIXTURES / "weekly_sync.wav"
ROOT = Path(__file__).resolve().parents[2]


def rttm_turns() -> list[tuple[float, float, str]]:
    turns = []
    for line in (FIXTURES / "weekly_sync.rttm").read_text().splitlines():
        parts = line.split()
        start, dur, speaker = float(parts[3]), float(parts[4]), parts[7]
        turns.append((start, start + dur, speaker))
    return turns


def label_speakers(transcript: Transcript, turns: list[tuple[float, float, str]]) -> Transcript:
    """Give each recognised word the reference speaker whose turn is nearest its midpoint
    (stands in for diarization + the product's speaker naming), then re-cut segments."""

    def speaker_at(t: float) -> str:
        return min(turns, key=lambda tr: 0 if tr[0] <= t <= tr[1] else min(abs(t - tr[0]), abs(t - tr[1])))[2]

    segments: list[Segment] = []
    for word in transcript.words:
        who = speaker_at((word.start + word.end) / 2)
        if segments and segments[-1].speaker == who:
            last = segments[-1]
            last.words.append(word)
            last.end = word.end
            last.text = f"{last.text} {word.word.strip()}"
        else:
            segments.append(
                Segment(
                    id=len(segments),
                    start=word.start,
                    end=word.end,
                    text=word.word.strip(),
                    speaker=who,
                    words=[word],
                )
            )
    return Transcript(
        language=transcript.language, duration=transcript.duration, text=transcript.text, segments=segments
    )


async def transcribe(embedded: Embedded, path: Path) -> Transcript:
    """The platform's own Whisper via gRPC Transcribe (word timestamps on)."""
    data = await asyncio.to_thread(path.read_bytes)
    async with grpc.aio.insecure_channel(embedded.runtime.grpc_target("transcription")) as ch:
        reply = await transcription_pb2_grpc.TranscriptionServiceStub(ch).Transcribe(
            transcription_pb2.TranscribeRequest(audio=data, word_timestamps=True), timeout=120
        )
    return Transcript(
        language=reply.language,
        duration=reply.duration,
        text=reply.text,
        segments=[
            Segment(
                id=s.id,
                start=s.start,
                end=s.end,
                text=s.text,
                words=[
                    Word(word=w.word, start=w.start, end=w.end, probability=w.probability) for w in s.words
                ],
            )
            for s in reply.segments
        ],
    )


@pytest.fixture(scope="session")
async def weekly_transcript(embedded: Embedded) -> Transcript:
    return label_speakers(await transcribe(embedded, WEEKLY), rttm_turns())


@pytest.fixture(scope="session")
async def jfk_transcript(embedded: Embedded) -> Transcript:
    return await transcribe(embedded, JFK)


async def request_analysis(
    embedded: Embedded,
    kind: str,
    transcript: Transcript | None,
    options: dict | None = None,
    version: str = "v2",
) -> AnalysisCompletedV2 | AnalysisFailed:
    """Store the transcript, publish analysis.requested (``version``, the data as given: the
    consumer validates it), wait for the result event; clean up."""
    rt = embedded.runtime
    job = str(uuid.uuid4())
    key = f"transcripts/{job}.json"
    done: asyncio.Future[AnalysisCompletedV2 | AnalysisFailed] = asyncio.get_running_loop().create_future()

    async def observe(envelope: Envelope) -> None:
        if envelope.key != job or done.done():
            return
        if envelope.type == AnalysisCompleted.event_type:
            done.set_exception(AssertionError("the analysis service still publishes v1"))
        elif envelope.type in ANALYSIS_COMPLETED_TYPES:
            done.set_result(AnalysisCompletedV2.from_envelope(envelope))
        elif envelope.type == AnalysisFailed.event_type:
            done.set_result(envelope.payload(AnalysisFailed))

    sub = await rt.bus.subscribe([ANALYSIS_EVENTS], f"test-{job}", observe, from_latest=True)
    try:
        if transcript is not None:
            await rt.storage.put(key, transcript.model_dump_json().encode(), "application/json")
        data = {"job_id": job, "kind": kind, "transcript_key": key, "options": options or {}}
        request = Envelope(
            type=f"earshot.analysis.requested.{version}", source="/tests", key=job, subject=job, data=data
        )
        assert request.type in ANALYSIS_REQUESTED_TYPES
        await rt.bus.publish(AnalysisRequestedV2.topic, request)
        return await asyncio.wait_for(done, 60)
    finally:
        await sub.close()
        await rt.storage.delete(key)


async def test_meeting_event_on_weekly_sync_meets_the_quality_bar(
    embedded: Embedded, weekly_transcript: Transcript
) -> None:
    result = await request_analysis(embedded, "meeting", weekly_transcript, {"meeting_date": "2026-11-16"})
    assert isinstance(result, AnalysisCompletedV2), result
    assert result.kind == "meeting" and result.analyzer == "local"
    analysis = result.result
    assert isinstance(analysis, MeetingAnalysis)
    check_weekly_sync(analysis)
    assert (
        analysis.template_suggestion
        and analysis.template_suggestion.suggested_template_name == "Team Meeting"
    )


async def test_interview_event_pace_and_pause_match_jfk_word_timestamps(
    embedded: Embedded, jfk_transcript: Transcript
) -> None:
    result = await request_analysis(
        embedded, "interview", jfk_transcript, {"question": "What should citizens do for their country?"}
    )
    assert isinstance(result, AnalysisCompletedV2), result
    assert result.kind == "interview" and isinstance(result.result, InterviewResult)
    # computed independently from the word timestamps
    words = sorted(jfk_transcript.words, key=lambda w: w.start)
    span = max(w.end for w in words) - words[0].start
    gaps = [b.start - a.end for a, b in zip(words, words[1:], strict=False)]
    pauses = [g for g in gaps if g >= 0.25]
    pace = result.result.results.pace
    pause = result.result.results.pause
    assert pace is not None and pause is not None
    assert pace.words == len(words) >= 20
    assert pace.wpm == pytest.approx(len(words) / span * 60, abs=0.1)
    assert pause.pause_count == len(pauses) >= 1
    assert pause.total_pause_s == pytest.approx(sum(pauses), abs=0.01)
    assert pause.max_pause_s == pytest.approx(max(pauses), abs=0.01)
    assert len(pause.long_pauses) == sum(g >= 1.5 for g in gaps)
    assert pause.speaking_ratio == pytest.approx(sum(w.end - w.start for w in words) / span, abs=1e-3)
    assert result.result.results.domain and result.result.results.communication
    assert result.result.errors == {} and result.result.language == "en"


async def test_temperature_event_still_works_and_reports_language(embedded: Embedded) -> None:
    text = "You never listen to me! Shut up, you liar! This is ridiculous!"
    t = Transcript(duration=5.0, text=text, segments=[Segment(id=0, start=0, end=5, text=text)])
    result = await request_analysis(embedded, "temperature", t)
    assert isinstance(result, AnalysisCompletedV2) and result.kind == "temperature"
    assert isinstance(result.result, TemperatureResult)
    assert result.result.temperature > 40 and result.result.language == "en"


async def test_a_v1_request_is_still_served(embedded: Embedded) -> None:
    result = await request_analysis(
        embedded, "interview", stm_transcript(), {"analysis_types": ["communication"]}, version="v1"
    )
    assert isinstance(result, AnalysisCompletedV2) and isinstance(result.result, InterviewResult)
    assert result.result.results.communication and result.result.results.pace is None


@pytest.mark.parametrize("version", ["v2", "v1"])
async def test_bad_events_fail_cleanly(embedded: Embedded, version: str) -> None:
    t = stm_transcript()
    bad = await request_analysis(embedded, "interview", t, {"analysis_types": ["telepathy"]}, version)
    assert isinstance(bad, AnalysisFailed) and bad.kind == "interview" and bad.error == "bad_request"
    assert "analysis_types" in bad.details
    bad_date = await request_analysis(embedded, "meeting", t, {"meeting_date": "someday"}, version)
    assert isinstance(bad_date, AnalysisFailed) and "meeting_date" in bad_date.details
    missing = await request_analysis(embedded, "meeting", None)
    assert isinstance(missing, AnalysisFailed) and missing.error == "transcript_missing"
    empty = await request_analysis(embedded, "meeting", Transcript(duration=3.0, text="", segments=[]))
    assert isinstance(empty, AnalysisCompletedV2) and isinstance(empty.result, MeetingAnalysis)
    assert empty.result.summary == ""
    assert embedded.temp_leftovers() == []


def test_cli_analyze_runs_transcription_then_analysis(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "services.cli", "analyze", str(JFK), "--kind", "interview", "--json"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "EARSHOT_LOG_LEVEL": "warning"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    words = [w for s in out["transcript"]["segments"] for w in s["words"]]
    assert out["kind"] == "interview" and out["analyzer"] == "local"
    assert out["result"]["results"]["pace"]["words"] == len(words) >= 20
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio at all")
    proc = subprocess.run(
        [sys.executable, "-m", "services.cli", "analyze", str(bad), "--kind", "meeting"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert proc.returncode == 1 and "notes.wav" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "services.cli", "analyze", str(JFK), "--kind", "horoscope"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert proc.returncode == 2 and "--kind" in proc.stderr
