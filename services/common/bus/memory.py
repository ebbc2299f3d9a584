"""The in-memory bus: Kafka's semantics in one process (see :mod:`services.common.bus`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cloudevents.kafka import KafkaMessage

from services.common import telemetry
from services.common.bus.base import EventBus, Handler, RetryPolicy, Subscription, _Stored, partition_for
from services.common.events import Envelope, dead_letter_topic


@dataclass
class _Partition:
    index: int
    # a list: indexing is O(1) and a trim drops a prefix with one memmove (``del log[:k]``)
    log: list[_Stored] = field(default_factory=list)
    base_offset: int = 0  # offset of log[0]
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def end_offset(self) -> int:
        return self.base_offset + len(self.log)


@dataclass
class _Group:
    name: str
    members: list[Handler] = field(default_factory=list)
    committed: dict[tuple[str, int], int] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    topics: set[str] = field(default_factory=set)


class MemoryBus(EventBus):
    """In-process bus with Kafka's semantics: partitions, consumer groups, ordering per key,
    commit after success, retry then dead-letter.

    Members of a group take partitions round-robin (``partition % members``), looked up
    at each delivery, so joining or leaving rebalances at once. Events published before
    a group first subscribes are kept (the last ``retention`` per partition, trimmed
    ``_TRIM_EVERY`` at a time) and delivered from the start, like Kafka's
    ``auto.offset.reset=earliest``. Events are validated and their data encoded when
    published, as on Kafka, and kept as :class:`_Stored` tuples (the binary-mode headers are
    built only for the dead-letter topic and :meth:`messages`); each delivery decodes the
    data afresh, so a handler never sees another one's copy (the attributes validated at
    publication are reused rather than parsed from headers).
    Events every group consumed are forgotten after each run of deliveries (at most
    ``_TRIM_EVERY`` events later).
    """

    _TRIM_EVERY = 256

    def __init__(self, *, partitions: int = 6, retry: RetryPolicy | None = None, retention: int = 10_000):
        super().__init__(partitions=partitions, retry=retry)
        self.retention = retention
        self._topics: dict[str, list[_Partition]] = {}
        self._groups: dict[str, _Group] = {}
        self._groups_of: dict[str, list[_Group]] = {}  # topic -> groups subscribed to it
        self._stopped = False

    def _topic(self, topic: str) -> list[_Partition]:
        parts = self._topics.get(topic)
        if parts is None:
            parts = self._topics[topic] = [_Partition(i) for i in range(self.partitions)]
        return parts

    def _index_groups(self) -> None:
        self._groups_of = {}
        for g in self._groups.values():
            for t in g.topics:
                self._groups_of.setdefault(t, []).append(g)

    async def start(self) -> None:
        self._stopped = False

    async def stop(self) -> None:
        self._stopped = True
        for group in list(self._groups.values()):
            for task in group.tasks:
                task.cancel()
            for task in group.tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            group.tasks.clear()
        self._groups.clear()
        self._index_groups()

    async def ensure_topics(self, topics: Sequence[str]) -> None:
        for t in topics:
            self._topic(t)
            self._topic(dead_letter_topic(t))

    async def check(self) -> None:
        if self._stopped:
            raise RuntimeError("memory bus is stopped")

    async def publish(self, topic: str, envelope: Envelope) -> None:
        self._append(topic, _Stored.published(envelope))
        self._count_produced(topic)

    async def publish_many(self, topic: str, envelopes: Sequence[Envelope]) -> None:
        encoded = [_Stored.published(e) for e in envelopes]  # all valid first
        for stored in encoded:
            self._append(topic, stored)
        self._produced_counter(topic).inc(len(encoded))  # one increment per batch

    async def _publish_raw(self, topic: str, message: KafkaMessage) -> None:
        self._append(topic, _Stored(message.key, message.value, dict(message.headers)))
        self._produced_counter(topic).inc()

    def _append(self, topic: str, stored: _Stored) -> None:
        if self._stopped:
            raise RuntimeError("memory bus is stopped")
        index = partition_for(stored.key, self.partitions)
        part = self._topic(topic)[index]
        part.log.append(stored)
        if len(part.log) > self.retention + self._TRIM_EVERY and topic not in self._groups_of:
            self._trim(topic, part)
        part.changed.set()

    def _trim(self, topic: str, part: _Partition) -> None:
        """Forget what every group of ``topic`` committed (or, with no group, all but ``retention``)."""
        groups = self._groups_of.get(topic)
        if groups:
            floor = min(g.committed.get((topic, part.index), 0) for g in groups)
        else:
            floor = part.end_offset - self.retention
        drop = min(floor - part.base_offset, len(part.log))
        if drop > 0:
            del part.log[:drop]
            part.base_offset += drop

    def end_offsets(self, topic: str) -> list[int]:
        """Next offset per partition (for tests and lag)."""
        return [p.end_offset for p in self._topic(topic)]

    def messages(self, topic: str) -> list[KafkaMessage]:
        """Every retained message of a topic, partition by partition (for tests)."""
        return [stored.message() for p in self._topic(topic) for stored in p.log]

    async def subscribe(
        self, topics: Sequence[str], group: str, handler: Handler, *, from_latest: bool = False
    ) -> Subscription:
        handler = telemetry.traced_handler(handler, group)  # the event's trace around the handler
        g = self._groups.get(group)
        if g is None:
            g = self._groups[group] = _Group(group)
        g.members.append(handler)
        for topic in topics:
            if topic in g.topics:
                continue
            g.topics.add(topic)
            for index in range(self.partitions):
                part = self._topic(topic)[index]
                g.committed.setdefault((topic, index), part.end_offset if from_latest else part.base_offset)
                # earshot_consumer_lag read when scraped: nothing to update per event
                self._lag_gauge(topic, index, group).set_function(_lag_of(g, topic, part))
                g.tasks.append(
                    asyncio.create_task(self._run(g, topic, index), name=f"bus:{group}:{topic}:{index}")
                )
        self._index_groups()

        async def close() -> None:
            if handler in g.members:
                g.members.remove(handler)
            if not g.members:
                for task in g.tasks:
                    task.cancel()
                for task in g.tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                self._groups.pop(group, None)
                self._index_groups()

        def assignment() -> set[tuple[str, int]]:
            if handler not in g.members:
                return set()
            n = len(g.members)
            return {(t, i) for t in g.topics for i in range(self.partitions) if g.members[i % n] is handler}

        return Subscription(close, assignment)

    async def _run(self, g: _Group, topic: str, index: int) -> None:
        part = self._topic(topic)[index]
        key = (topic, index)
        committed = g.committed
        members = g.members  # changed in place by subscribe/close: looked up per event
        counters = self._metrics_of(topic, g.name)
        deliver = self._deliver
        since_trim = 0  # events delivered since the last trim (and not yet counted as consumed)
        try:
            while True:
                offset = committed[key]
                if offset >= part.end_offset or not members:
                    counters.count_consumed(since_trim)
                    self._trim(topic, part)  # caught up: forget what every group consumed
                    since_trim = 0
                    part.changed.clear()
                    await part.changed.wait()
                    continue
                stored = part.log[offset - part.base_offset]
                handler = members[index % len(members)]
                if stored.headers is None:  # published here: attributes already validated
                    await deliver(topic, (), stored.key, stored.value, handler, g.name, counters, stored)
                else:
                    await deliver(
                        topic, stored.headers.items(), stored.key, stored.value, handler, g.name, counters
                    )
                committed[key] = offset + 1  # commit after the handler
                since_trim += 1
                if since_trim >= self._TRIM_EVERY:
                    counters.count_consumed(since_trim)
                    self._trim(topic, part)
                    since_trim = 0
        finally:
            counters.count_consumed(since_trim)


def _lag_of(g: _Group, topic: str, part: _Partition) -> Callable[[], float]:
    """``earshot_consumer_lag`` of group ``g`` on one memory partition, computed when scraped."""
    key = (topic, part.index)

    def lag() -> float:
        return float(max(part.end_offset - g.committed.get(key, part.end_offset), 0))

    return lag
