"""Contract tests of the event bus: one suite, run against the in-memory bus and a real
Apache Kafka broker (KRaft).

Order per key, redelivery after a failure and after a consumer crash, partitions split
across members of one group, dead-letter after retries, binary-mode CloudEvents headers
(also read by a third-party client, Debian's ``kcat``), offsets committed after handling,
and the bus metrics.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from prometheus_client import REGISTRY

from services.common.bus import (
    ATTEMPTS_HEADER,
    ERROR_HEADER,
    ORIGINAL_TOPIC_HEADER,
    EventBus,
    KafkaBus,
    MemoryBus,
    RetryPolicy,
    create_bus,
    partition_for,
)
from services.common.events import Envelope, TranscriptionRequested, dead_letter_topic
from tests.integration import infra

PARTITIONS = 4
TIMEOUT_S = 20.0


def event(job: str, n: int) -> Envelope:
    return Envelope(type="test.event.v1", source="/tests", key=job, data={"n": n, "job": job})


async def wait_until(cond, timeout: float = TIMEOUT_S) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


@dataclass
class Message:
    """One stored message, the same shape for both implementations (key as text)."""

    headers: dict[str, bytes]
    key: str | None
    value: bytes


@pytest.fixture(params=["memory", "kafka"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[EventBus]:
    retry = RetryPolicy(max_attempts=3, base_s=0.001, max_s=0.01)
    b: EventBus
    if request.param == "memory":
        b = MemoryBus(partitions=PARTITIONS, retry=retry)
    else:
        servers: infra.Endpoints = request.getfixturevalue("servers")
        b = KafkaBus(servers.kafka, partitions=PARTITIONS, retry=retry, client_id="contract-tests")
    await b.start()
    yield b
    await b.stop()


@pytest.fixture
async def topic(bus: EventBus) -> str:
    """A fresh topic per test (Kafka keeps history), created with its dead-letter topic."""
    name = f"test.topic.{uuid.uuid4().hex[:10]}"
    await bus.ensure_topics([name])
    return name


def group(topic: str, name: str = "g") -> str:
    return f"{topic}.{name}"


async def messages(bus: EventBus, topic: str) -> list[Message]:
    """Every message retained on ``topic``, partition by partition."""
    if isinstance(bus, MemoryBus):
        return [
            Message(dict(m.headers), m.key if isinstance(m.key, str | None) else m.key.decode(), m.value)
            for m in bus.messages(topic)
        ]
    assert isinstance(bus, KafkaBus)
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bus.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: dict[int, list[Message]] = {p: [] for p in range(PARTITIONS)}
        deadline = asyncio.get_running_loop().time() + TIMEOUT_S

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in tps])

        while await behind():
            assert asyncio.get_running_loop().time() < deadline, "could not read the topic back"
            for tp, records in (await consumer.getmany(timeout_ms=200)).items():
                for r in records:
                    key = r.key.decode() if r.key is not None else None
                    out[tp.partition].append(Message(dict(r.headers or []), key, r.value))
        return [m for p in range(PARTITIONS) for m in out[p]]
    finally:
        await consumer.stop()


async def committed(bus: EventBus, topic: str, group_name: str) -> int:
    """Sum over partitions of the group's committed offsets on ``topic``."""
    if isinstance(bus, MemoryBus):
        g = bus._groups[group_name]
        return sum(g.committed.get((topic, p), 0) for p in range(PARTITIONS))
    assert isinstance(bus, KafkaBus)
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bus.bootstrap, group_id=group_name, enable_auto_commit=False
    )
    await consumer.start()
    try:
        total = 0
        for p in range(PARTITIONS):
            total += await consumer.committed(TopicPartition(topic, p)) or 0
        return total
    finally:
        await consumer.stop()


async def wait_committed(bus: EventBus, topic: str, group_name: str, expected: int) -> None:
    """Commits follow the handler (at least once): wait until the group committed ``expected``."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT_S
    while (got := await committed(bus, topic, group_name)) != expected:
        assert asyncio.get_running_loop().time() < deadline, f"committed {got}, expected {expected}"
        await asyncio.sleep(0.05)


async def end_offsets(bus: EventBus, topic: str) -> int:
    if isinstance(bus, MemoryBus):
        return sum(bus.end_offsets(topic))
    return len(await messages(bus, topic))


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- the contract -----------------------------------------------------------------------------


async def test_order_kept_per_key(bus: EventBus, topic: str) -> None:
    seen: dict[str, list[int]] = {}

    async def handler(e: Envelope) -> None:
        await asyncio.sleep(0.001 * (e.data["n"] % 3))
        seen.setdefault(e.key, []).append(e.data["n"])

    await bus.subscribe([topic], group(topic), handler)
    for n in range(30):
        for job in ("a", "b", "c"):
            await bus.publish(topic, event(job, n))
    await wait_until(lambda: sum(len(v) for v in seen.values()) == 90)
    assert all(v == list(range(30)) for v in seen.values())


async def test_publish_many_keeps_order_and_writes_nothing_when_one_event_is_invalid(
    bus: EventBus, topic: str
) -> None:
    seen: list[int] = []

    async def handler(e: Envelope) -> None:
        seen.append(e.data["n"])

    await bus.subscribe([topic], group(topic), handler)
    bad = Envelope(type="test.event.v1", source="/tests", key="a", data={"n": object()})
    with pytest.raises(ValueError, match="not JSON"):
        await bus.publish_many(topic, [event("a", 0), bad])
    await bus.publish_many(topic, [event("a", n) for n in range(1, 101)])
    await wait_until(lambda: len(seen) == 100)
    assert seen == list(range(1, 101))  # the batch before the invalid event was not written
    assert metric("earshot_events_produced_total", topic=topic) == 100


async def test_failed_handler_gets_event_again(bus: EventBus, topic: str) -> None:
    calls: list[int] = []

    async def flaky(e: Envelope) -> None:
        calls.append(e.data["n"])
        if len(calls) == 1:
            raise RuntimeError("crash before commit")

    await bus.subscribe([topic], group(topic), flaky)
    await bus.publish(topic, event("a", 7))
    await wait_until(lambda: len(calls) == 2)
    assert calls == [7, 7]
    assert await messages(bus, dead_letter_topic(topic)) == []


async def test_consumer_crashing_before_commit_gets_the_event_again(bus: EventBus, topic: str) -> None:
    started = asyncio.Event()
    second: list[int] = []

    async def hangs(e: Envelope) -> None:
        started.set()
        await asyncio.sleep(3600)  # the "process" dies here, before the commit

    async def works(e: Envelope) -> None:
        second.append(e.data["n"])

    crashed = await bus.subscribe([topic], group(topic), hangs)
    await bus.publish(topic, event("job-crash", 42))
    await asyncio.wait_for(started.wait(), TIMEOUT_S)
    await crashed.close()  # consumer gone mid-handler: nothing committed
    await bus.subscribe([topic], group(topic), works)
    await wait_until(lambda: second == [42])
    await wait_committed(bus, topic, group(topic), 1)


async def test_two_members_split_partitions_and_handle_each_event_once(bus: EventBus, topic: str) -> None:
    got: dict[str, list[str]] = {"m1": [], "m2": []}

    def member(name: str):  # type: ignore[no-untyped-def]
        async def h(e: Envelope) -> None:
            got[name].append(e.id)

        return h

    s1 = await bus.subscribe([topic], group(topic), member("m1"))
    s2 = await bus.subscribe([topic], group(topic), member("m2"))
    # The group has settled when the two members own disjoint halves of the partitions.
    await wait_until(
        lambda: (
            bool(s1.assignment())
            and bool(s2.assignment())
            and not (s1.assignment() & s2.assignment())
            and len(s1.assignment() | s2.assignment()) == PARTITIONS
        )
    )
    events = [event(f"job{i}", i) for i in range(40)]
    for e in events:
        await bus.publish(topic, e)
    await wait_until(lambda: len(got["m1"]) + len(got["m2"]) == 40)
    await asyncio.sleep(0.02 if isinstance(bus, MemoryBus) else 1.0)
    all_ids = got["m1"] + got["m2"]
    assert sorted(all_ids) == sorted(e.id for e in events)  # each once
    assert got["m1"] and got["m2"]  # both members took a share


async def test_every_group_gets_every_event(bus: EventBus, topic: str) -> None:
    a: list[int] = []
    b: list[int] = []

    async def ha(e: Envelope) -> None:
        a.append(e.data["n"])

    async def hb(e: Envelope) -> None:
        b.append(e.data["n"])

    await bus.subscribe([topic], group(topic, "ga"), ha)
    await bus.subscribe([topic], group(topic, "gb"), hb)
    for n in range(5):
        await bus.publish(topic, event("k", n))
    await wait_until(lambda: len(a) == 5 and len(b) == 5)
    assert a == b == list(range(5))


async def test_poison_event_lands_on_dead_letter_topic_with_error_header(bus: EventBus, topic: str) -> None:
    attempts: list[int] = []
    after: list[int] = []

    async def handler(e: Envelope) -> None:
        if e.data["n"] == 1:
            attempts.append(1)
            raise ValueError("cannot handle n=1")
        after.append(e.data["n"])

    failed_before = metric("earshot_events_failed_total", topic=topic, group=group(topic))
    await bus.subscribe([topic], group(topic), handler)
    await bus.publish(topic, event("k", 1))
    await bus.publish(topic, event("k", 2))
    await wait_until(lambda: after == [2])
    assert len(attempts) == 3
    [parked] = await messages(bus, dead_letter_topic(topic))
    assert parked.headers[ERROR_HEADER].decode() == "ValueError: cannot handle n=1"
    assert parked.headers[ATTEMPTS_HEADER] == b"3"
    assert parked.headers[ORIGINAL_TOPIC_HEADER] == topic.encode()
    assert parked.key == "k"
    assert json.loads(parked.value) == {"n": 1, "job": "k"}
    assert metric("earshot_events_failed_total", topic=topic, group=group(topic)) - failed_before == 3
    assert metric("earshot_events_dead_lettered_total", topic=topic, group=group(topic)) == 1
    assert metric("earshot_events_produced_total", topic=dead_letter_topic(topic)) == 1


async def test_messages_are_binary_mode_cloudevents(bus: EventBus, topic: str) -> None:
    payload = TranscriptionRequested(job_id="job-1", audio_key="uploads/job-1.flac")
    await bus.publish(
        topic, Envelope.of(payload, "/earshot/gateway", traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01")
    )
    [msg] = await messages(bus, topic)
    assert msg.key == "job-1"
    assert msg.headers["ce_specversion"] == b"1.0"
    assert msg.headers["ce_type"] == b"earshot.transcription.requested.v1"
    assert msg.headers["ce_source"] == b"/earshot/gateway"
    assert msg.headers["content-type"] == b"application/json"
    assert msg.headers["ce_traceparent"].startswith(b"00-1111")
    assert json.loads(msg.value)["audio_key"] == "uploads/job-1.flac"
    from cloudevents.kafka import KafkaMessage

    back = Envelope.from_message(KafkaMessage(msg.headers, msg.key, msg.value))
    assert back.payload(TranscriptionRequested) == payload


async def test_from_latest_skips_history(bus: EventBus, topic: str) -> None:
    seen: list[int] = []

    async def h(e: Envelope) -> None:
        seen.append(e.data["n"])

    await bus.publish(topic, event("k", 1))
    await bus.subscribe([topic], group(topic, "late"), h, from_latest=True)
    await bus.publish(topic, event("k", 2))
    await wait_until(lambda: seen == [2])


async def test_consumed_events_are_committed_and_counted(bus: EventBus, topic: str) -> None:
    done: list[int] = []

    async def h(e: Envelope) -> None:
        done.append(1)

    await bus.subscribe([topic], group(topic), h)
    for n in range(50):
        await bus.publish(topic, event(f"k{n}", n))
    await wait_until(lambda: len(done) == 50)
    await wait_until(lambda: metric("earshot_events_consumed_total", topic=topic, group=group(topic)) == 50)
    await wait_committed(bus, topic, group(topic), 50)
    assert await end_offsets(bus, topic) == 50
    assert metric("earshot_events_produced_total", topic=topic) == 50
    lags = [
        s.value
        for m in REGISTRY.collect()
        if m.name == "earshot_consumer_lag"
        for s in m.samples
        if s.labels.get("topic") == topic
    ]
    assert lags and all(v == 0 for v in lags)
    if isinstance(bus, MemoryBus):  # the memory bus also forgets what every group consumed
        await asyncio.sleep(0.01)
        assert bus.messages(topic) == []


async def test_kcat_reads_cloudevents_headers(servers: infra.Endpoints) -> None:
    """A third-party Kafka client (Debian's kcat) sees standard binary-mode CloudEvents."""
    bus = KafkaBus(servers.kafka, partitions=PARTITIONS, client_id="contract-kcat")
    await bus.start()
    try:
        topic = f"test.kcat.{uuid.uuid4().hex[:10]}"
        await bus.ensure_topics([topic])
        payload = TranscriptionRequested(job_id="job-kcat", audio_key="uploads/job-kcat.flac")
        envelope = Envelope.of(payload, "/earshot/gateway")
        await bus.publish(topic, envelope)
    finally:
        await bus.stop()
    result = await asyncio.to_thread(
        subprocess.run,
        [infra.kcat(), "-C", "-b", servers.kafka, "-t", topic, "-o", "beginning", "-e", "-q", "-J"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stdout.splitlines() if line.strip()]
    record = json.loads(line)
    flat = record["headers"]
    headers = dict(zip(flat[0::2], flat[1::2], strict=True))
    assert record["key"] == "job-kcat"
    assert record["partition"] in range(PARTITIONS)
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_type"] == "earshot.transcription.requested.v1"
    assert headers["ce_source"] == "/earshot/gateway"
    assert headers["ce_id"] == envelope.id
    assert headers["content-type"] == "application/json"
    assert "ce_time" in headers
    assert json.loads(record["payload"]) == payload.model_dump(mode="json")


# --- pure helpers (no implementation behind them) ---------------------------------------------


async def test_keys_land_on_the_same_partition_on_both_buses(bus: EventBus, topic: str) -> None:
    keys = [f"job-{i}" for i in range(24)] + [str(uuid.uuid4()) for _ in range(8)]
    for k in keys:
        await bus.publish(topic, event(k, 0))
    await bus.publish_many(topic, [event(k, 1) for k in keys])
    placed: dict[str, set[int]] = {}
    if isinstance(bus, MemoryBus):
        for p in range(PARTITIONS):
            for m in bus._topic(topic)[p].log:
                placed.setdefault(str(m.key), set()).add(p)
    else:
        assert isinstance(bus, KafkaBus)
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(bootstrap_servers=bus.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            deadline = asyncio.get_running_loop().time() + TIMEOUT_S
            read = 0
            while read < 2 * len(keys):
                assert asyncio.get_running_loop().time() < deadline, "could not read the topic back"
                for tp, records in (await consumer.getmany(timeout_ms=200)).items():
                    for r in records:
                        placed.setdefault(r.key.decode(), set()).add(tp.partition)
                        read += 1
        finally:
            await consumer.stop()
    assert placed == {k: {partition_for(k, PARTITIONS)} for k in keys}


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
