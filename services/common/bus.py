"""The event bus: one interface, two implementations (in-memory and Apache Kafka).

Semantics, the same for both (they share the retry/dead-letter code):

* ``publish(topic, envelope)`` writes a CloudEvents binary-mode message keyed by
  ``envelope.key`` (the job id). Events with one key land on one partition and keep
  their order.
* ``subscribe(topics, group, handler)`` joins consumer group ``group``. Each event is
  handled by one member of each group; members of a group split the partitions. The
  handler runs inside a span whose parent is the event's ``traceparent``
  (:func:`services.common.telemetry.traced_handler`), so what it publishes or calls joins
  the producer's trace.
* At-least-once delivery: the offset is committed only after the handler returns.
  A handler that raises is retried with exponential backoff and jitter
  (``base * 2**attempt + jitter``, capped); after ``max_attempts`` the event is parked
  on ``<topic>.dlq`` with the error in the ``x-earshot-error`` header and then
  committed. Handlers must therefore be idempotent by job id.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import random
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from cloudevents.kafka import KafkaMessage

from services.common import metrics, telemetry
from services.common.events import Envelope, dead_letter_topic
from services.common.kafka_groups import delete_group
from services.common.kafka_lag import poll_lag
from services.common.logging import get_logger

Handler = Callable[[Envelope], Awaitable[None]]
"""An async event handler. Raising means "not done": the event is delivered again."""

ERROR_HEADER = "x-earshot-error"
ATTEMPTS_HEADER = "x-earshot-attempts"
ORIGINAL_TOPIC_HEADER = "x-earshot-original-topic"

log = get_logger("earshot.bus")


@dataclass(slots=True)
class RetryPolicy:
    """Retry schedule for failing handlers.

    Attributes:
        max_attempts: deliveries before the event goes to the dead-letter topic (>= 1).
        base_s: first backoff, seconds; attempt ``n`` waits ``base_s * 2**n`` plus jitter.
        max_s: cap on one backoff, seconds.
    """

    max_attempts: int = 4
    base_s: float = 0.2
    max_s: float = 30.0

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        return min(self.base_s * (2**attempt) + random.uniform(0, self.base_s), self.max_s)


class Subscription:
    """A handle on one group membership; ``await close()`` leaves the group.

    Args:
        close: leaves the group.
        assignment: returns the ``(topic, partition)`` pairs this member owns right now
            (optional; an empty set when not given).
    """

    def __init__(
        self,
        close: Callable[[], Awaitable[None]],
        assignment: Callable[[], set[tuple[str, int]]] | None = None,
    ) -> None:
        self._close = close
        self._assignment = assignment
        self._closed = False

    def assignment(self) -> set[tuple[str, int]]:
        """The ``(topic, partition)`` pairs this member consumes now (changes on rebalance)."""
        return set() if self._closed or self._assignment is None else self._assignment()

    async def close(self) -> None:
        """Stop consuming; events in flight finish first. Idempotent."""
        if not self._closed:
            self._closed = True
            await self._close()


class EventBus(abc.ABC):
    """Publish and consume CloudEvents by topic and consumer group."""

    def __init__(self, *, partitions: int = 6, retry: RetryPolicy | None = None) -> None:
        self.partitions = partitions
        self.retry = retry or RetryPolicy()

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect (no-op for memory)."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Close every subscription and the producer."""

    @abc.abstractmethod
    async def ensure_topics(self, topics: Sequence[str]) -> None:
        """Create topics (and their dead-letter topics) if missing."""

    @abc.abstractmethod
    async def publish(self, topic: str, envelope: Envelope) -> None:
        """Write one event; returns once the broker acknowledged it (``acks=all`` on Kafka)."""

    @abc.abstractmethod
    async def subscribe(
        self, topics: Sequence[str], group: str, handler: Handler, *, from_latest: bool = False
    ) -> Subscription:
        """Join consumer group ``group`` on ``topics`` and start handling events.

        Args:
            from_latest: a group with no committed offsets starts at the end of the log
                (Kafka's ``auto.offset.reset=latest``) instead of the beginning.
        """

    @abc.abstractmethod
    async def check(self) -> None:
        """Readiness: raise if the bus cannot be used."""

    async def _deliver(self, topic: str, message: KafkaMessage, handler: Handler, group: str) -> None:
        """Run ``handler`` with retries; park on the dead-letter topic when retries run out.

        Never raises except on cancellation: when this returns, the offset may be committed.
        Counts ``earshot_events_consumed/failed/dead_lettered_total`` and times the handler.
        """
        start = time.perf_counter()
        try:
            await self._deliver_once(topic, message, handler, group)
        finally:
            metrics.EVENT_HANDLE_SECONDS.labels(topic, group).observe(time.perf_counter() - start)
        metrics.EVENTS_CONSUMED.labels(topic, group).inc()

    async def _deliver_once(self, topic: str, message: KafkaMessage, handler: Handler, group: str) -> None:
        try:
            envelope = Envelope.from_message(message)
        except ValueError as exc:
            log.warning("bus.undecodable_event", topic=topic, group=group, error=str(exc))
            metrics.EVENTS_FAILED.labels(topic, group).inc()
            metrics.EVENTS_DEAD_LETTERED.labels(topic, group).inc()
            await self._dead_letter(topic, message, f"undecodable: {exc}", 1)
            return
        last_error = ""
        for attempt in range(self.retry.max_attempts):
            try:
                await handler(envelope)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a handler failure of any kind is retried
                metrics.EVENTS_FAILED.labels(topic, group).inc()
                last_error = f"{type(exc).__name__}: {exc}"[:1000]
                log.warning(
                    "bus.handler_failed",
                    topic=topic,
                    group=group,
                    event_id=envelope.id,
                    job_id=envelope.key,
                    attempt=attempt + 1,
                    error=last_error,
                )
                if attempt + 1 < self.retry.max_attempts:
                    await asyncio.sleep(self.retry.backoff(attempt))
        metrics.EVENTS_DEAD_LETTERED.labels(topic, group).inc()
        await self._dead_letter(topic, message, last_error, self.retry.max_attempts)

    async def _dead_letter(self, topic: str, message: KafkaMessage, error: str, attempts: int) -> None:
        headers = dict(message.headers)
        headers[ERROR_HEADER] = error.encode()
        headers[ATTEMPTS_HEADER] = str(attempts).encode()
        headers[ORIGINAL_TOPIC_HEADER] = topic.encode()
        log.error("bus.dead_lettered", topic=topic, error=error, attempts=attempts)
        await self._publish_raw(dead_letter_topic(topic), KafkaMessage(headers, message.key, message.value))

    @abc.abstractmethod
    async def _publish_raw(self, topic: str, message: KafkaMessage) -> None: ...

    async def delete_group(self, group: str) -> None:
        """Forget consumer group ``group`` and its committed offsets once no member is left
        (per-replica groups, at stop). The memory bus forgets a group with its last member."""
        return None


def partition_for(key: str | bytes | None, partitions: int) -> int:
    """Partition of a key: CRC32 of its UTF-8 bytes modulo the partition count."""
    if key is None:
        return random.randrange(partitions)
    raw = key.encode() if isinstance(key, str) else key
    return zlib.crc32(raw) % partitions


# --- in-memory ----------------------------------------------------------------------------
@dataclass
class _Partition:
    log: deque[KafkaMessage] = field(default_factory=deque)
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
    a group first subscribes are kept (up to ``retention`` per partition) and delivered
    from the start, like Kafka's ``auto.offset.reset=earliest``.
    """

    def __init__(self, *, partitions: int = 6, retry: RetryPolicy | None = None, retention: int = 10_000):
        super().__init__(partitions=partitions, retry=retry)
        self.retention = retention
        self._topics: dict[str, list[_Partition]] = {}
        self._groups: dict[str, _Group] = {}
        self._stopped = False

    def _topic(self, topic: str) -> list[_Partition]:
        parts = self._topics.get(topic)
        if parts is None:
            parts = self._topics[topic] = [_Partition() for _ in range(self.partitions)]
        return parts

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

    async def ensure_topics(self, topics: Sequence[str]) -> None:
        for t in topics:
            self._topic(t)
            self._topic(dead_letter_topic(t))

    async def check(self) -> None:
        if self._stopped:
            raise RuntimeError("memory bus is stopped")

    async def publish(self, topic: str, envelope: Envelope) -> None:
        await self._publish_raw(topic, envelope.to_message())

    async def _publish_raw(self, topic: str, message: KafkaMessage) -> None:
        if self._stopped:
            raise RuntimeError("memory bus is stopped")
        index = partition_for(message.key, self.partitions)
        part = self._topic(topic)[index]
        part.log.append(message)
        self._trim(topic, part)
        part.changed.set()
        metrics.EVENTS_PRODUCED.labels(topic).inc()
        for g in self._groups.values():
            if topic in g.topics:
                lag = part.end_offset - g.committed.get((topic, index), part.base_offset)
                metrics.CONSUMER_LAG.labels(topic, str(index), g.name).set(lag)

    def _trim(self, topic: str, part: _Partition) -> None:
        index = self._topic(topic).index(part)
        groups = [g for g in self._groups.values() if topic in g.topics]
        if groups:
            floor = min(g.committed.get((topic, index), 0) for g in groups)
        else:
            floor = part.end_offset - self.retention
        while part.log and part.base_offset < floor:
            part.log.popleft()
            part.base_offset += 1

    def end_offsets(self, topic: str) -> list[int]:
        """Next offset per partition (for tests and lag)."""
        return [p.end_offset for p in self._topic(topic)]

    def messages(self, topic: str) -> list[KafkaMessage]:
        """Every retained message of a topic, partition by partition (for tests)."""
        return [m for p in self._topic(topic) for m in p.log]

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
                g.tasks.append(
                    asyncio.create_task(self._run(g, topic, index), name=f"bus:{group}:{topic}:{index}")
                )

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

        def assignment() -> set[tuple[str, int]]:
            if handler not in g.members:
                return set()
            n = len(g.members)
            return {(t, i) for t in g.topics for i in range(self.partitions) if g.members[i % n] is handler}

        return Subscription(close, assignment)

    async def _run(self, g: _Group, topic: str, index: int) -> None:
        part = self._topic(topic)[index]
        while True:
            offset = g.committed[(topic, index)]
            if offset >= part.end_offset or not g.members:
                part.changed.clear()
                await part.changed.wait()
                continue
            message = part.log[offset - part.base_offset]
            handler = g.members[index % len(g.members)]
            await self._deliver(topic, message, handler, g.name)
            g.committed[(topic, index)] = offset + 1
            metrics.CONSUMER_LAG.labels(topic, str(index), g.name).set(part.end_offset - offset - 1)
            self._trim(topic, part)


# --- Kafka ----------------------------------------------------------------------------------
class KafkaBus(EventBus):
    """Apache Kafka through aiokafka.

    Producer: idempotent (``enable_idempotence=True``), ``acks=all``. Consumers: one
    ``AIOKafkaConsumer`` per subscription with ``group_id``, auto-commit off; offsets
    are committed per partition after the handler succeeded (or the event was
    dead-lettered). Partitions of one poll are handled concurrently, events within a
    partition in order. Topics are created at start with ``partitions`` and
    ``replication`` (plus their ``.dlq`` topics). ``subscribe`` returns once the group
    assigned this member its partitions (raises ``TimeoutError`` after
    ``assign_timeout_s``, 30 s, e.g. when the topics do not exist). A commit refused
    because the group rebalanced is logged and the event is redelivered to the
    partition's new owner (at least once). Commits are batched per partition: at the end
    of each fetched batch, or after any event once ``commit_interval_s`` (0.2 s) passed
    since the last commit, so a crash redoes at most that much already-handled work.

    Args:
        bootstrap: ``host:port[,host:port]``.
        client_id: names this process in the broker's logs.
        namespace: when set, every topic and consumer group on the broker is prefixed with
            ``"<namespace>."`` (several environments or test sessions on one cluster);
            handlers and metrics still see the plain topic names.
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        partitions: int = 6,
        replication: int = 1,
        retry: RetryPolicy | None = None,
        client_id: str = "earshot",
        namespace: str = "",
    ) -> None:
        super().__init__(partitions=partitions, retry=retry)
        self.bootstrap = bootstrap
        self.namespace = namespace
        self._prefix = f"{namespace}." if namespace else ""
        self.replication = replication
        self.client_id = client_id
        self._producer: Any = None
        self._subscriptions: list[Subscription] = []
        self.assign_timeout_s = 30.0
        self.lag_interval_s = 15.0  # how often consumer lag is read from the broker, seconds
        self.commit_interval_s = 0.2

    async def start(self) -> None:
        from aiokafka import AIOKafkaProducer

        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                client_id=self.client_id,
                enable_idempotence=True,
                acks="all",
                linger_ms=2,
            )
            await producer.start()
            self._producer = producer

    async def stop(self) -> None:
        for sub in list(self._subscriptions):
            await sub.close()
        self._subscriptions.clear()
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def ensure_topics(self, topics: Sequence[str]) -> None:
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic
        from aiokafka.errors import TopicAlreadyExistsError

        wanted = [self._prefix + t for topic in topics for t in (topic, dead_letter_topic(topic))]
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=self.client_id)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [t for t in wanted if t not in existing]
            if missing:
                try:
                    await admin.create_topics(
                        [
                            NewTopic(t, num_partitions=self.partitions, replication_factor=self.replication)
                            for t in missing
                        ]
                    )
                except TopicAlreadyExistsError:
                    pass  # another replica won the race
        finally:
            await admin.close()

    async def check(self) -> None:
        if self._producer is None:
            raise RuntimeError("kafka producer not started")
        await self._producer.client.fetch_all_metadata()

    async def publish(self, topic: str, envelope: Envelope) -> None:
        await self._publish_raw(topic, envelope.to_message())

    async def _publish_raw(self, topic: str, message: KafkaMessage) -> None:
        if self._producer is None:
            raise RuntimeError("KafkaBus.start() was not awaited")
        key = message.key.encode() if isinstance(message.key, str) else message.key
        value = message.value.encode() if isinstance(message.value, str) else message.value
        await self._producer.send_and_wait(
            self._prefix + topic, value=value, key=key, headers=list(message.headers.items())
        )
        metrics.EVENTS_PRODUCED.labels(topic).inc()

    async def subscribe(
        self, topics: Sequence[str], group: str, handler: Handler, *, from_latest: bool = False
    ) -> Subscription:
        handler = telemetry.traced_handler(handler, group)  # the event's trace around the handler
        from aiokafka import AIOKafkaConsumer, TopicPartition
        from aiokafka.errors import CommitFailedError

        consumer = AIOKafkaConsumer(
            *(self._prefix + t for t in topics),
            bootstrap_servers=self.bootstrap,
            group_id=self._prefix + group,
            client_id=self.client_id,
            enable_auto_commit=False,
            auto_offset_reset="latest" if from_latest else "earliest",
            max_poll_interval_ms=600_000,
        )
        await consumer.start()
        try:
            # Wait for the group to assign partitions, then resolve every position now (the
            # committed offset, or the log end with from_latest), so that events published
            # after subscribe() returns are seen.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.assign_timeout_s
            while not consumer.assignment():
                if loop.time() > deadline:
                    raise TimeoutError(
                        f"group {group!r} got no partitions of {list(topics)} in {self.assign_timeout_s:g} s"
                        " (do the topics exist?)"
                    )
                await asyncio.sleep(0.05)
            for tp in consumer.assignment():
                await consumer.position(tp)
        except BaseException:
            await consumer.stop()
            raise

        prefix = len(self._prefix)

        def record_lag(tp: TopicPartition, committed: int) -> None:
            end = consumer.highwater(tp)
            if end is not None:
                metrics.CONSUMER_LAG.labels(tp.topic[prefix:], str(tp.partition), group).set(
                    max(end - committed, 0)
                )

        async def commit(tp: TopicPartition, offset: int) -> bool:
            try:
                await consumer.commit({tp: offset})
            except CommitFailedError as exc:
                # The group rebalanced while we worked: the partition's new owner gets
                # the uncommitted events again (at least once). Drop this stale batch.
                log.warning("bus.commit_failed", topic=tp.topic, group=group, error=str(exc))
                return False
            record_lag(tp, offset)
            return True

        async def handle_partition(tp: TopicPartition, records: list[Any]) -> None:
            # Offsets are committed only after their handler returned: at the end of the
            # partition's batch, or at once after any record when commit_interval_s passed
            # since the last commit (slow jobs are committed one by one).
            pending: int | None = None
            last_commit = time.monotonic()
            for record in records:
                headers = {k: bytes(v) for k, v in (record.headers or [])}
                message = KafkaMessage(headers, record.key, record.value)
                await self._deliver(tp.topic[prefix:], message, handler, group)
                pending = record.offset + 1
                if time.monotonic() - last_commit >= self.commit_interval_s:
                    if not await commit(tp, pending):
                        return
                    pending, last_commit = None, time.monotonic()
            if pending is not None:
                await commit(tp, pending)

        async def run() -> None:
            while True:
                try:
                    batches = await consumer.getmany(timeout_ms=500, max_records=50)
                    if batches:
                        await asyncio.gather(*(handle_partition(tp, recs) for tp, recs in batches.items()))
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # broker away, rebalance, ...: keep consuming
                    log.warning("bus.consume_failed", group=group, error=f"{type(exc).__name__}: {exc}")
                    await asyncio.sleep(1.0)

        task = asyncio.create_task(run(), name=f"kafka:{group}:{','.join(topics)}")
        # broker-side lag of every owned partition, idle ones included (services.common.kafka_lag)
        lag_task = asyncio.create_task(poll_lag(consumer, group, prefix, self.lag_interval_s))

        async def close() -> None:
            for t in (lag_task, task):
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            await consumer.stop()
            if sub in self._subscriptions:
                self._subscriptions.remove(sub)

        def assignment() -> set[tuple[str, int]]:
            return {(tp.topic[prefix:], tp.partition) for tp in consumer.assignment()}

        sub = Subscription(close, assignment)
        self._subscriptions.append(sub)
        return sub

    async def delete_group(self, group: str) -> None:
        """Delete the group on the broker (``DeleteGroups``; see services.common.kafka_groups).

        Raises:
            GroupNotDeleted: it still has members; aiokafka errors when the broker is away.
        """
        await delete_group(self.bootstrap, self._prefix + group, self.client_id)


def create_bus(
    url: str,
    *,
    partitions: int = 6,
    replication: int = 1,
    retry: RetryPolicy | None = None,
    client_id: str = "earshot",
    namespace: str = "",
) -> EventBus:
    """Build a bus from its URL: ``memory://`` or ``kafka://host:port[,host:port]``.

    ``namespace`` prefixes Kafka topics and groups (see :class:`KafkaBus`); the memory bus,
    private to one process, ignores it.

    Raises:
        ValueError: for any other scheme or a Kafka URL without hosts.
    """
    parsed = urlparse(url)
    if parsed.scheme == "memory":
        return MemoryBus(partitions=partitions, retry=retry)
    if parsed.scheme == "kafka":
        hosts = url.split("://", 1)[1].strip("/")
        if not hosts:
            raise ValueError("kafka bus URL needs hosts: kafka://host:9092")
        return KafkaBus(
            hosts,
            partitions=partitions,
            replication=replication,
            retry=retry,
            client_id=client_id,
            namespace=namespace,
        )
    raise ValueError(f"unknown bus URL scheme {parsed.scheme!r}: use memory:// or kafka://")
