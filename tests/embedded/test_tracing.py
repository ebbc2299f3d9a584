"""One trace per request, end to end, for every flow (temperature, transcription, photo
render, ANC batch, meetings, interview answers): the HTTP request's span is the only root,
every event the flow publishes carries ``ce_traceparent`` of that trace, and every event hop
(the bus restores the event's traceparent around each handler) and gRPC call of the flow
hangs below the request. Spans are read from the SDK's in-memory exporter, events from a
recorder wrapped around the bus's publish."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.common import telemetry
from services.common.bus import MemoryBus
from services.common.events import Envelope
from tests.conftest import Embedded, SignedIn

JFK = Path(__file__).resolve().parents[1] / "fixtures" / "jfk.flac"


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = telemetry.configure_tracing("earshot-tests")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


@dataclass
class Published:
    """The events published on the embedded bus during a test, as ``(topic, envelope)``."""

    bus: MemoryBus
    events: list[tuple[str, Envelope]] = field(default_factory=list)

    def consumed(self, topic: str) -> bool:
        """Whether a consumer group reads ``topic`` (so each of its events gets a ``process`` span)."""
        return bool(self.bus._groups_of.get(topic))


@pytest.fixture
def published(embedded: Embedded) -> Iterator[Published]:
    """Records every event published on the embedded bus while the test runs."""
    bus = embedded.runtime.bus
    assert isinstance(bus, MemoryBus)
    seen = Published(bus)
    publish, publish_many = bus.publish, bus.publish_many

    async def recording_publish(topic: str, envelope: Envelope) -> None:
        seen.events.append((topic, envelope))
        await publish(topic, envelope)

    async def recording_publish_many(topic: str, envelopes: Sequence[Envelope]) -> None:
        seen.events.extend((topic, e) for e in envelopes)
        await publish_many(topic, envelopes)

    bus.publish, bus.publish_many = recording_publish, recording_publish_many  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        del bus.publish, bus.publish_many  # the class's methods again


def _trace_id_of(envelope: Envelope) -> int:
    """The trace id of an event's W3C ``traceparent`` (``00-<trace id>-<span id>-<flags>``)."""
    traceparent = envelope.extensions.get("traceparent", "")
    assert traceparent.count("-") == 3, (envelope.type, envelope.extensions)
    return int(traceparent.split("-")[1], 16)


def _events_of_trace(published: Published, trace_id: int) -> list[tuple[str, Envelope]]:
    """The recorded events of ``trace_id``; fails on any event without ``traceparent``."""
    missing = [e.type for _, e in published.events if "traceparent" not in e.extensions]
    assert missing == [], missing  # every publish carries ce_traceparent
    return [(topic, e) for topic, e in published.events if _trace_id_of(e) == trace_id]


def _trace_of(exporter: InMemorySpanExporter, trace_id: int) -> list[ReadableSpan]:
    return [
        s for s in exporter.get_finished_spans() if s.context is not None and s.context.trace_id == trace_id
    ]


async def _one_tree(
    spans: InMemorySpanExporter,
    root_name: str,
    wanted: set[str],
    published: Published | None = None,
    key: str | None = None,
) -> int:
    """Exactly one finished root span named ``root_name``; once the spans named ``wanted``
    have ended in its trace, every span of the trace hangs below another one of it. With
    ``published``: every recorded event carries a ``traceparent``, and each event keyed
    ``key`` (the flow's job id) is of the request's trace and has a ``process`` span in it.

    Returns:
        The request's trace id.
    """
    roots: list[ReadableSpan] = []
    for _ in range(200):  # the request's span ends just after the answer was sent
        roots = [s for s in spans.get_finished_spans() if s.parent is None and s.name == root_name]
        if roots:
            break
        await asyncio.sleep(0.05)
    assert len(roots) == 1, [s.name for s in spans.get_finished_spans() if s.parent is None]
    assert roots[0].context is not None
    trace_id = roots[0].context.trace_id
    if published is not None:
        of_trace = _events_of_trace(published, trace_id)
        keyed = {e.type for _, e in published.events if e.key == key}
        assert keyed and keyed <= {e.type for _, e in of_trace}, (sorted(keyed), of_trace)
        # each event a group reads was handled inside the request's trace
        wanted = wanted | {f"{e.type} process" for topic, e in of_trace if published.consumed(topic)}
    for _ in range(200):  # the last handlers' spans end just after the answer
        if wanted <= {s.name for s in _trace_of(spans, trace_id)}:
            break
        await asyncio.sleep(0.05)
    trace = _trace_of(spans, trace_id)
    assert wanted <= {s.name for s in trace}, sorted({s.name for s in trace})
    ids = {s.context.span_id for s in trace if s.context is not None}
    assert [s for s in trace if s.parent is None] == roots  # one root: the request
    orphans = [s.name for s in trace if s.parent is not None and s.parent.span_id not in ids]
    assert orphans == []  # every other span hangs below a span of this trace: one tree
    names = {s.context.span_id: s.name for s in trace if s.context is not None}
    for span in trace:  # a job's work hangs below the event that asked for it
        if span.name in JOB_SPANS:
            assert span.parent is not None and names[span.parent.span_id] == JOB_SPANS[span.name], span.name
    return trace_id


JOB_SPANS = {
    "transcription.job": "earshot.transcription.requested.v1 process",
    "analysis.job": "earshot.analysis.requested.v2 process",
    "media.render": "earshot.media.render_requested.v1 process",
}
"""The span of a worker's job and the ``process`` span it must hang below."""


def _key_of(published: Published, event_type: str) -> str:
    """The key (job id) of the one recorded event of ``event_type``."""
    [key] = {e.key for _, e in published.events if e.type == event_type}
    return key


async def test_temperature_flow_is_one_trace(
    spans: InMemorySpanExporter, client: httpx.AsyncClient, published: Published
) -> None:
    spans.clear()
    with JFK.open("rb") as fh:
        response = await client.post("/analyze-audio", files={"audio": ("jfk.flac", fh)})
    assert response.status_code == 200, response.text
    wanted = {
        "earshot.transcription.requested.v1 process",
        "earshot.transcription.completed.v1 process",
        "earshot.analysis.requested.v2 process",
        "earshot.analysis.completed.v2 process",
    }
    key = _key_of(published, "earshot.transcription.requested.v1")
    await _one_tree(spans, "POST /analyze-audio", wanted, published, key)


async def test_long_transcription_is_one_trace(
    spans: InMemorySpanExporter, client: httpx.AsyncClient, published: Published
) -> None:
    """``/v1/audio/transcriptions`` with 66 s (over the 60 s gRPC limit): the job events."""
    from services.common import audio
    from tests.embedded.test_transcription_openai_api import wav

    samples = np.concatenate([audio.decode(JFK), np.zeros(16000 * 55, np.float32)])
    spans.clear()
    response = await client.post(
        "/v1/audio/transcriptions",
        files={"file": ("long.wav", wav(samples), "audio/wav")},
        data={"model": "whisper-1"},
    )
    assert response.status_code == 200, response.text
    assert "ask not" in response.json()["text"].lower()
    wanted = {
        "earshot.transcription.requested.v1 process",  # the transcription worker's job
        "earshot.transcription.completed.v1 process",  # the gateway's waiter
    }
    key = _key_of(published, "earshot.transcription.requested.v1")
    await _one_tree(spans, "POST /v1/audio/transcriptions", wanted, published, key)


async def test_photo_render_is_one_trace(
    spans: InMemorySpanExporter, client: httpx.AsyncClient, published: Published, embedded: Embedded
) -> None:
    from tests.embedded.test_media_api import COFFEE, remove_media_objects, wait_terminal

    spans.clear()
    response = await client.post(
        "/upload-photo",
        files={"photo": ("coffee.png", COFFEE.read_bytes(), "image/png")},
        data={"captions": "false"},
    )
    assert response.status_code == 200, response.text
    task_id = response.json()["task_id"]
    try:
        final = await wait_terminal(client, task_id)
        assert final["status"] == "done", final
        wanted = {"earshot.media.render_requested.v1 process"}  # the media worker's render
        await _one_tree(spans, "POST /upload-photo", wanted, published, task_id)
    finally:  # other modules expect storage they can account for
        await remove_media_objects(embedded)


async def test_meeting_is_one_trace(
    spans: InMemorySpanExporter, signed_in: SignedIn, published: Published
) -> None:
    from tests.embedded.test_meetings_api import wait_status

    client = signed_in.client
    spans.clear()
    response = await client.post(
        "/api/v1/mobile/meetings/",
        data={"title": "Trace me"},
        files={"audio_file": ("jfk.flac", JFK.read_bytes(), "audio/flac")},
    )
    assert response.status_code == 201, response.text
    meeting_id = response.json()["id"]
    done = await wait_status(client, f"/api/v1/mobile/meetings/{meeting_id}", {})
    assert done["status"] == "COMPLETED", done
    wanted = {
        "earshot.meeting.processing_requested.v1 process",
        "earshot.transcription.requested.v1 process",
        "earshot.transcription.completed.v1 process",
        "earshot.analysis.requested.v2 process",
        "earshot.analysis.completed.v2 process",
        "earshot.meeting.completed.v1 process",  # this replica's WebSocket push
    }
    await _one_tree(spans, "POST /api/v1/mobile/meetings/", wanted, published, meeting_id)


async def test_interview_answer_is_one_trace(
    spans: InMemorySpanExporter, client: httpx.AsyncClient, published: Published
) -> None:
    """A 66 s answer to ``/api/transcribe-whisper`` goes through the job events; its
    analysis (``/api/complete-analysis``) is gRPC calls below the request's span."""
    from services.common import audio
    from tests.embedded.test_interviews_api import account

    alice = await account(client, "tracer")
    created = await client.post("/api/interviews/create", headers=alice, json={"track": "data_science"})
    iid = created.json()["interviewId"]
    questions = await client.post(
        "/api/interviews/generate-questions", headers=alice, json={"interviewId": iid, "count": 1}
    )
    assert questions.status_code == 200, questions.text
    attempts = (await client.get(f"/api/interviews/{iid}/question-attempts", headers=alice)).json()["items"]
    attempt = attempts[0]["question_attempt_id"]
    answer = audio.wav_bytes(np.concatenate([audio.decode(JFK), np.zeros(16000 * 55, np.float32)]), 16000)
    spans.clear()
    reply = await client.post(
        "/api/transcribe-whisper",
        headers=alice,
        files={"file": ("answer.wav", answer, "audio/wav")},
        data={"question_attempt_id": attempt, "language": "en"},
    )
    assert reply.status_code == 200, reply.text
    wanted = {
        "earshot.transcription.requested.v1 process",
        "earshot.transcription.completed.v1 process",  # this replica's waiter
    }
    key = _key_of(published, "earshot.transcription.requested.v1")
    await _one_tree(spans, "POST /api/transcribe-whisper", wanted, published, key)

    spans.clear()
    analysis = await client.post(
        "/api/complete-analysis", headers=alice, json={"question_attempt_id": attempt}
    )
    assert analysis.status_code == 200, analysis.text
    trace_id = await _one_tree(spans, "POST /api/complete-analysis", set())
    grpc_calls = [s for s in _trace_of(spans, trace_id) if (s.attributes or {}).get("rpc.system") == "grpc"]
    assert grpc_calls, [s.name for s in _trace_of(spans, trace_id)]  # the analysis service's spans


async def test_anc_batch_job_is_one_trace(
    spans: InMemorySpanExporter, signed_in: SignedIn, embedded: Embedded, published: Published
) -> None:
    from tests.embedded.test_anc_api import _wait_done, long_scene, wav_i16

    client = signed_in.client  # the ANC routes store a user's records
    spans.clear()
    primary, ref = long_scene(80.0)
    response = await client.post(
        "/api/audio/process",
        files={"audio": ("long.wav", wav_i16(np.vstack([primary, ref])), "audio/wav")},
        data={"algorithm": "fdaf", "taps": "32", "block_size": "256"},
    )
    assert response.status_code == 202, response.text
    done = await _wait_done(client, response.json()["status_url"])
    assert done["status"] == "completed", done
    wanted = {
        "earshot.anc.process_requested.v1 process",  # the ANC worker's job
        "earshot.anc.progress.v1 process",
        "earshot.anc.process_completed.v1 process",  # the gateway records the result
    }
    try:
        key = _key_of(published, "earshot.anc.process_requested.v1")
        await _one_tree(spans, "POST /api/audio/process", wanted, published, key)
    finally:  # other modules expect an empty object store
        for info in await embedded.runtime.storage.list("anc/"):
            await embedded.runtime.storage.delete(info.key)
