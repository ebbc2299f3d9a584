"""Consumer lag from the broker (log end minus committed, polled) on a real Kafka broker:
every assigned partition has a series (idle ones at 0), events waiting behind a stuck
handler show up without any commit, and the series go when the member leaves."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY

from services.common.bus import KafkaBus
from services.common.events import Envelope
from tests.integration import infra

PARTITIONS = 4


def lag_series(topic: str, group: str) -> dict[str, float]:
    return {
        s.labels["partition"]: s.value
        for m in REGISTRY.collect()
        if m.name == "earshot_consumer_lag"
        for s in m.samples
        if s.labels.get("topic") == topic and s.labels.get("group") == group
    }


async def wait_until(cond, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@pytest.fixture
async def bus(servers: infra.Endpoints) -> AsyncIterator[KafkaBus]:
    b = KafkaBus(servers.kafka, partitions=PARTITIONS, client_id="lag-tests")
    b.lag_interval_s = 0.2
    await b.start()
    yield b
    await b.stop()


async def test_lag_is_read_from_the_broker_for_every_owned_partition(bus: KafkaBus) -> None:
    topic, group = f"test.lag.{uuid.uuid4().hex[:10]}", f"lag-{uuid.uuid4().hex[:6]}"
    await bus.ensure_topics([topic])
    release = asyncio.Event()

    async def stuck(envelope: Envelope) -> None:
        await release.wait()

    sub = await bus.subscribe([topic], group, stuck)
    # idle: every owned partition is reported, at 0
    await wait_until(lambda: len(lag_series(topic, group)) == PARTITIONS)
    assert set(lag_series(topic, group).values()) == {0}
    for n in range(4):
        await bus.publish(
            topic, Envelope(type="test.event.v1", source="/tests", key="same-key", data={"n": n})
        )
    # the handler never returns, nothing is committed: the poll still sees 4 waiting
    await wait_until(lambda: sum(lag_series(topic, group).values()) == 4)
    release.set()
    await wait_until(lambda: sum(lag_series(topic, group).values()) == 0)
    await sub.close()
    assert lag_series(topic, group) == {}  # a member that left reports nothing


async def _groups(bootstrap: str) -> set[str]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {g[0] if isinstance(g, tuple) else g.group_id for g in await admin.list_consumer_groups()}
    finally:
        await admin.close()


async def test_a_per_replica_group_is_deleted_when_the_replica_stops(bus: KafkaBus) -> None:
    from services.common.events import AncProgress
    from services.gateway.shared.consumers import ConsumerTable, On

    topic = f"test.groups.{uuid.uuid4().hex[:10]}"
    AncProgressHere = type("AncProgressHere", (AncProgress,), {"topic": topic})

    async def ignore(payload: object) -> None:
        return None

    instance = f"replica-{uuid.uuid4().hex[:6]}"
    shared = ConsumerTable(f"shared-{instance}", (On(topic, AncProgressHere, ignore),))
    per_replica = ConsumerTable("gw.{instance}", (On(topic, AncProgressHere, ignore),), from_latest=True)
    subs = [await shared.subscribe(bus, instance), await per_replica.subscribe(bus, instance)]
    assert {f"shared-{instance}", f"gw.{instance}"} <= await _groups(bus.bootstrap)
    for sub in subs:
        await sub.close()
    groups = await _groups(bus.bootstrap)
    assert f"gw.{instance}" not in groups  # the replica's own group went with it
    assert f"shared-{instance}" in groups  # a shared group keeps its offsets
