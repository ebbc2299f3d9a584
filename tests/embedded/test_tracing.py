"""One trace per request, end to end: the HTTP request's span is the only root, and every
event hop (the bus restores the event's traceparent around each handler) and gRPC call of
the flow hangs below it. Spans are read from the SDK's in-memory exporter."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.common import telemetry
from tests.conftest import Embedded, SignedIn

JFK = Path(__file__).resolve().parents[1] / "fixtures" / "jfk.flac"


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = telemetry.configure_tracing("earshot-tests")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


def _trace_of(exporter: InMemorySpanExporter, trace_id: int) -> list[ReadableSpan]:
    return [
        s for s in exporter.get_finished_spans() if s.context is not None and s.context.trace_id == trace_id
    ]


async def _one_tree(spans: InMemorySpanExporter, root_name: str, wanted: set[str]) -> None:
    """Exactly one finished root span named ``root_name``; once the spans named ``wanted``
    have ended in its trace, every span of the trace hangs below another one of it."""
    roots = [s for s in spans.get_finished_spans() if s.parent is None and s.name == root_name]
    assert len(roots) == 1, [s.name for s in spans.get_finished_spans() if s.parent is None]
    assert roots[0].context is not None
    trace_id = roots[0].context.trace_id
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


async def test_temperature_flow_is_one_trace(spans: InMemorySpanExporter, client: httpx.AsyncClient) -> None:
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
    await _one_tree(spans, "POST /analyze-audio", wanted)


async def test_anc_batch_job_is_one_trace(
    spans: InMemorySpanExporter, signed_in: SignedIn, embedded: Embedded
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
        await _one_tree(spans, "POST /api/audio/process", wanted)
    finally:  # other modules expect an empty object store
        for info in await embedded.runtime.storage.list("anc/"):
            await embedded.runtime.storage.delete(info.key)
