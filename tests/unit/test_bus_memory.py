"""Contract tests of the event bus, run here against the in-memory implementation.

The same assertions hold for Kafka (the distributed-mode issue runs them against a
real broker): order per key, redelivery after a failure, partitions split across
members of one group, dead-letter after retries, CloudEvents headers.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from services.common.bus import (
    ATTEMPTS_HEADER,
    ERROR_HEADER,
    ORIGINAL_TOPIC_HEADER,
    MemoryBus,
    RetryPolicy,
    create_bus,
    partition_for,
)
from services.common.events import Envelope, TranscriptionRequested, dead_letter_topic

TOPIC = "test.topic"


def event(job: str, n: int) -> Envelope:
    return Envelope(type="test.event.v1", source="/tests", key=job, data={"n": n, "job": job})


async def wait_until(cond, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


@pytest.fixture
async def bus():  # type: ignore[no-untyped-def]
    b = MemoryBus(partitions=4, retry=RetryPolicy(max_attempts=3, base_s=0.001, max_s=0.01))
    await b.start()
    await b.ensure_topics([TOPIC])
    yield b
    await b.stop()


async def test_order_kept_per_key(bus: MemoryBus) -> None:
    seen: dict[str, list[int]] = {}

    async def handler(e: Envelope) -> None:
        await asyncio.sleep(0.001 * (e.data["n"] % 3))
        seen.setdefault(e.key, []).append(e.data["n"])

    await bus.subscribe([TOPIC], "g", handler)
    for n in range(30):
        for job in ("a", "b", "c"):
            await bus.publish(TOPIC, event(job, n))
    await wait_until(lambda: sum(len(v) for v in seen.values()) == 90)
    assert all(v == list(range(30)) for v in seen.values())


async def test_failed_handler_gets_event_again(bus: MemoryBus) -> None:
    calls: list[int] = []

    async def flaky(e: Envelope) -> None:
        calls.append(e.data["n"])
        if len(calls) == 1:
            raise RuntimeError("crash before commit")

    await bus.subscribe([TOPIC], "g", flaky)
    await bus.publish(TOPIC, event("a", 7))
    await wait_until(lambda: len(calls) == 2)
    assert calls == [7, 7]
    assert bus.messages(dead_letter_topic(TOPIC)) == []


async def test_two_members_split_partitions_and_handle_each_event_once(bus: MemoryBus) -> None:
    got: dict[str, list[str]] = {"m1": [], "m2": []}

    def member(name: str):  # type: ignore[no-untyped-def]
        async def h(e: Envelope) -> None:
            got[name].append(e.id)

        return h

    await bus.subscribe([TOPIC], "g", member("m1"))
    await bus.subscribe([TOPIC], "g", member("m2"))
    events = [event(f"job{i}", i) for i in range(40)]
    for e in events:
        await bus.publish(TOPIC, e)
    await wait_until(lambda: len(got["m1"]) + len(got["m2"]) == 40)
    await asyncio.sleep(0.02)
    all_ids = got["m1"] + got["m2"]
    assert sorted(all_ids) == sorted(e.id for e in events)  # each once
    assert got["m1"] and got["m2"]  # both members took a share


async def test_every_group_gets_every_event(bus: MemoryBus) -> None:
    a: list[int] = []
    b: list[int] = []

    async def ha(e: Envelope) -> None:
        a.append(e.data["n"])

    async def hb(e: Envelope) -> None:
        b.append(e.data["n"])

    await bus.subscribe([TOPIC], "ga", ha)
    await bus.subscribe([TOPIC], "gb", hb)
    for n in range(5):
        await bus.publish(TOPIC, event("k", n))
    await wait_until(lambda: len(a) == 5 and len(b) == 5)


async def test_poison_event_lands_on_dead_letter_topic_with_error_header(bus: MemoryBus) -> None:
    attempts: list[int] = []
    after: list[int] = []

    async def handler(e: Envelope) -> None:
        if e.data["n"] == 1:
            attempts.append(1)
            raise ValueError("cannot handle n=1")
        after.append(e.data["n"])

    await bus.subscribe([TOPIC], "g", handler)
    await bus.publish(TOPIC, event("k", 1))
    await bus.publish(TOPIC, event("k", 2))
    await wait_until(lambda: after == [2])
    assert len(attempts) == 3
    [parked] = bus.messages(dead_letter_topic(TOPIC))
    assert parked.headers[ERROR_HEADER].decode() == "ValueError: cannot handle n=1"
    assert parked.headers[ATTEMPTS_HEADER] == b"3"
    assert parked.headers[ORIGINAL_TOPIC_HEADER] == TOPIC.encode()
    assert json.loads(parked.value) == {"n": 1, "job": "k"}


async def test_messages_are_binary_mode_cloudevents(bus: MemoryBus) -> None:
    payload = TranscriptionRequested(job_id="job-1", audio_key="uploads/job-1.flac")
    await bus.publish(
        TOPIC, Envelope.of(payload, "/earshot/gateway", traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01")
    )
    [msg] = bus.messages(TOPIC)
    assert msg.key == "job-1"
    assert msg.headers["ce_specversion"] == b"1.0"
    assert msg.headers["ce_type"] == b"earshot.transcription.requested.v1"
    assert msg.headers["ce_source"] == b"/earshot/gateway"
    assert msg.headers["content-type"] == b"application/json"
    assert msg.headers["ce_traceparent"].startswith(b"00-1111")
    assert json.loads(msg.value)["audio_key"] == "uploads/job-1.flac"
    back = Envelope.from_message(msg)
    assert back.payload(TranscriptionRequested) == payload


async def test_from_latest_skips_history(bus: MemoryBus) -> None:
    seen: list[int] = []

    async def h(e: Envelope) -> None:
        seen.append(e.data["n"])

    await bus.publish(TOPIC, event("k", 1))
    await bus.subscribe([TOPIC], "late", h, from_latest=True)
    await bus.publish(TOPIC, event("k", 2))
    await wait_until(lambda: seen == [2])


async def test_consumed_events_are_trimmed(bus: MemoryBus) -> None:
    done: list[int] = []

    async def h(e: Envelope) -> None:
        done.append(1)

    await bus.subscribe([TOPIC], "g", h)
    for n in range(50):
        await bus.publish(TOPIC, event(f"k{n}", n))
    await wait_until(lambda: len(done) == 50)
    await asyncio.sleep(0.01)
    assert bus.messages(TOPIC) == []
    assert sum(bus.end_offsets(TOPIC)) == 50


def test_partition_is_stable_per_key() -> None:
    assert partition_for("job-1", 6) == partition_for("job-1", 6)
    assert {partition_for(f"j{i}", 6) for i in range(100)} == set(range(6))


def test_create_bus_by_url() -> None:
    assert isinstance(create_bus("memory://"), MemoryBus)
    assert create_bus("kafka://localhost:9092").bootstrap == "localhost:9092"  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="unknown bus URL"):
        create_bus("redis://x")
    with pytest.raises(ValueError, match="needs hosts"):
        create_bus("kafka://")
