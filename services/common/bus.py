"""The event bus: one interface, two implementations (in-memory and Apache Kafka).

Semantics, the same for both (they share the retry/dead-letter code):

* ``publish(topic, envelope)`` writes a CloudEvents binary-mode message keyed by
  ``envelope.key`` (the job id). Events with one key land on one partition (CRC32 of
  the key modulo the topic's partition count, on both buses: :func:`partition_for`) and
  keep their order.
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
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple
from urllib.parse import urlparse

from cloudevents.kafka import KafkaMessage

from services.common import event_codec, metrics, telemetry
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
        self._consumer_metrics: dict[tuple[str, str], _ConsumerMetrics] = {}
        self._produced: dict[str, Any] = {}
        self._produced_pending: dict[str, int] = {}  # topic -> events not yet counted
        self._lag: dict[tuple[str, int, str], Any] = {}

    # Prometheus children looked up once per label set: ``labels()`` costs several
    # microseconds, a few times per event on the hot path.
    def _metrics_of(self, topic: str, group: str) -> _ConsumerMetrics:
        found = self._consumer_metrics.get((topic, group))
        if found is None:
            found = self._consumer_metrics[(topic, group)] = _ConsumerMetrics(
                consumed=metrics.EVENTS_CONSUMED.labels(topic, group),
                failed=metrics.EVENTS_FAILED.labels(topic, group),
                dead_lettered=metrics.EVENTS_DEAD_LETTERED.labels(topic, group),
                handle_seconds=metrics.HistogramBatch(metrics.EVENT_HANDLE_SECONDS.labels(topic, group)),
            )
        return found

    def _produced_counter(self, topic: str) -> Any:
        found = self._produced.get(topic)
        if found is None:
            found = self._produced[topic] = metrics.EVENTS_PRODUCED.labels(topic)
        return found

    def _count_produced(self, topic: str) -> None:
        """One more event written to ``topic`` by ``publish``: added to
        ``earshot_events_produced_total`` at the end of this event-loop iteration
        (:meth:`_flush_produced`), with the others published meanwhile, not once per event
        (a counter increment takes a lock and costs about as much as the rest of a
        publish). A scrape, another request, always comes after."""
        pending = self._produced_pending
        if not pending:
            asyncio.get_running_loop().call_soon(self._flush_produced)
        pending[topic] = pending.get(topic, 0) + 1

    def _flush_produced(self) -> None:
        """Add the pending produced counts to their counters."""
        for topic, n in self._produced_pending.items():
            self._produced_counter(topic).inc(n)
        self._produced_pending.clear()

    def _lag_gauge(self, topic: str, partition: int, group: str) -> Any:
        found = self._lag.get((topic, partition, group))
        if found is None:
            found = self._lag[(topic, partition, group)] = metrics.CONSUMER_LAG.labels(
                topic, str(partition), group
            )
        return found

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

    async def publish_many(self, topic: str, envelopes: Sequence[Envelope]) -> None:
        """Write several events in order; returns once the broker acknowledged all of them.

        Every event is encoded (and so validated) before the first is written: an invalid
        one raises ``ValueError`` and nothing is written. On Kafka the events share
        producer batches and their acknowledgements are awaited together, which is much
        cheaper than one ``publish`` per event. A broker error part way through raises and
        may leave the first events written (consumers are idempotent: publish again).
        """
        messages = [envelope.to_message() for envelope in envelopes]
        for message in messages:
            await self._publish_raw(topic, message)

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

    async def _deliver(
        self,
        topic: str,
        headers: Iterable[tuple[str, bytes]],
        key: str | bytes | None,
        value: bytes | str | None,
        handler: Handler,
        group: str,
        counters: _ConsumerMetrics,
        stored: _Stored | None = None,
    ) -> None:
        """Validate, then run ``handler`` with retries; park on the dead-letter topic when
        retries run out (or at once when the message is not a valid CloudEvent).

        ``headers``, ``key``, ``value``: the binary-mode message's parts (a
        ``KafkaMessage`` is built only when the event goes to the dead-letter topic).
        ``counters``: the Prometheus children of ``(topic, group)`` (:meth:`_metrics_of`).
        ``stored``: the event as the memory bus keeps an event published in this process,
        attributes validated at publication, so only the data is decoded (a fresh copy per
        delivery); ``headers`` is then empty (built only if the event is dead-lettered).

        Never raises except on cancellation: when this returns, the offset may be committed.
        Counts ``earshot_events_failed/dead_lettered_total`` and times the handler; the caller
        counts ``earshot_events_consumed_total``, once per run of deliveries (a counter
        increment costs about as much as the rest of the bookkeeping of an event).
        """
        start = time.perf_counter()
        try:
            try:
                if stored is None:
                    envelope = event_codec.decode(headers, key, value)
                else:
                    envelope = stored.envelope()
            except ValueError as exc:
                log.warning("bus.undecodable_event", topic=topic, group=group, error=str(exc))
                counters.failed.inc()
                counters.dead_lettered.inc()
                message = (
                    KafkaMessage(dict(headers), key, value or b"") if stored is None else stored.message()
                )
                await self._dead_letter(topic, message, f"undecodable: {exc}", 1)
            else:
                try:
                    await handler(envelope)  # the common case: no retry machinery on the way
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a handler failure of any kind is retried
                    if stored is None:
                        message = KafkaMessage(dict(headers), key, value or b"")
                    else:
                        message = stored.message()
                    await self._retry(topic, message, envelope, handler, group, exc)
        finally:
            counters.handle_seconds.observe(time.perf_counter() - start)

    async def _retry(
        self,
        topic: str,
        message: KafkaMessage,
        envelope: Envelope,
        handler: Handler,
        group: str,
        first_error: Exception,
    ) -> None:
        """Attempts 2..``max_attempts`` after the first one raised ``first_error``, then the DLQ."""
        counters = self._metrics_of(topic, group)
        error: Exception | None = first_error
        last_error = ""
        for attempt in range(self.retry.max_attempts):
            if attempt:
                try:
                    await handler(envelope)
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # a handler failure of any kind is retried
                    error = exc
            counters.failed.inc()
            last_error = f"{type(error).__name__}: {error}"[:1000]
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
        counters.dead_lettered.inc()
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


@dataclass(slots=True, frozen=True)
class _ConsumerMetrics:
    """The Prometheus children of one (topic, group); handler times are added up locally
    (:class:`~services.common.metrics.HistogramBatch`) and written with the consumed count."""

    consumed: Any
    failed: Any
    dead_lettered: Any
    handle_seconds: metrics.HistogramBatch

    def count_consumed(self, n: int) -> None:
        """``n`` more events handled: count them and publish the handler times observed so far."""
        if n:
            self.consumed.inc(n)
        self.handle_seconds.flush()


class _Stored(NamedTuple):
    """One event of a memory partition.

    Published here: its key, encoded data and validated attributes; the binary-mode headers
    are built only when asked for (:meth:`message`: the dead-letter topic, tests). Raw
    messages (dead letters): key, value and headers. A tuple of strings and bytes, which the
    garbage collector stops tracking, where a ``KafkaMessage`` with its header dict and a
    slotted attributes object were four tracked objects per retained event.
    """

    key: str | bytes | None
    value: bytes | str | None
    headers: dict[str, bytes] | None = None  # a raw message's; None: published here
    type: str = ""
    source: str = ""
    id: str = ""
    time: str = ""
    subject: str | None = None
    extensions: tuple[tuple[str, str], ...] = ()

    @classmethod
    def published(cls, e: Envelope) -> _Stored:
        """``e`` as kept when published (its data encoded, and so validated).

        Raises:
            ValueError: see :func:`services.common.event_codec.encode_value`.
        """
        return cls(
            e.key,
            event_codec.encode_value(e),
            None,
            e.type,
            e.source,
            e.id,
            e.time,
            e.subject,
            tuple(e.extensions.items()) if e.extensions else (),
        )

    def envelope(self) -> Envelope:
        """A new :class:`Envelope` with a fresh copy of the data (only for events published here).

        Raises:
            ValueError: the value is not a JSON object.
        """
        return Envelope(
            self.type,
            self.source,
            self.key,  # type: ignore[arg-type]  # published events have a str key
            event_codec.decode_data(self.value),
            self.id,
            self.time,
            self.subject,
            dict(self.extensions) if self.extensions else {},
        )

    def message(self) -> KafkaMessage:
        """The event as a binary-mode Kafka message (what Kafka would hold)."""
        if self.headers is not None:
            return KafkaMessage(self.headers, self.key, self.value or b"")
        headers = event_codec.encode_headers(
            self.id, self.source, self.type, self.time, self.subject, self.extensions
        )
        return KafkaMessage(headers, self.key, self.value or b"")


def _bytes(text: str | bytes | None) -> bytes | None:
    return text.encode() if isinstance(text, str) else text


def partition_for(key: str | bytes | None, partitions: int) -> int:
    """Partition of a key: CRC32 of its UTF-8 bytes modulo the partition count."""
    if key is None:
        return random.randrange(partitions)
    raw = key.encode() if isinstance(key, str) else key
    return zlib.crc32(raw) % partitions


# --- in-memory ----------------------------------------------------------------------------
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
    partition's new owner (at least once). Commits are batched: the offsets handled in one
    poll (at most ``max_poll_records``, 500, events) are committed in one request once every
    partition of the poll is done, sent in the background while the next poll is handled
    (one request in flight; see :class:`_Committer`; flushed at ``close``), and a partition
    commits by itself after any event once ``commit_interval_s`` (0.2 s) passed since its
    last commit, so a crash redoes at most that much already-handled work. A poll that
    fails half way (the dead-letter topic cannot be written, say) is fetched again from its
    first event.

    Args:
        bootstrap: ``host:port[,host:port]``.
        client_id: names this process in the broker's logs.
        namespace: when set, every topic and consumer group on the broker is prefixed with
            ``"<namespace>."`` (several environments or test sessions on one cluster);
            handlers and metrics still see the plain topic names.
    """

    PRODUCER_SETTINGS: ClassVar[dict[str, Any]] = {
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 2,
    }
    """``AIOKafkaProducer`` settings (also the bare producer of benchmarks/bus.py)."""

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
        self.close_commit_timeout_s = 10.0  # at close, how long the last commit may take, seconds
        self.max_poll_records = 500

    async def start(self) -> None:
        from aiokafka import AIOKafkaProducer

        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap, client_id=self.client_id, **self.PRODUCER_SETTINGS
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()  # a failed start leaves its client open (and logs it later)
                raise
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
        # _publish_raw inlined, with aiokafka's send_and_wait: two coroutine frames fewer to
        # pass through when the acknowledgement resumes the caller, on every event
        message = envelope.to_message()
        if self._producer is None:
            raise RuntimeError("KafkaBus.start() was not awaited")
        name, key = self._prefix + topic, _bytes(message.key)
        partition = self._partition_of(name, key)
        if partition is None:
            partition = await self._partition_slow(name, key)
        ack = await self._producer.send(
            name, value=message.value, key=key, headers=list(message.headers.items()), partition=partition
        )
        await ack
        self._count_produced(topic)

    async def publish_many(self, topic: str, envelopes: Sequence[Envelope]) -> None:
        """See :meth:`EventBus.publish_many`: every send queued into producer batches, then
        every acknowledgement awaited together."""
        messages = [envelope.to_message() for envelope in envelopes]
        if self._producer is None:
            raise RuntimeError("KafkaBus.start() was not awaited")
        send, name = self._producer.send, self._prefix + topic
        acks = []
        for m in messages:
            key = _bytes(m.key)
            partition = self._partition_of(name, key)
            if partition is None:
                partition = await self._partition_slow(name, key)
            acks.append(
                await send(name, value=m.value, key=key, headers=list(m.headers.items()), partition=partition)
            )
        await asyncio.gather(*acks)
        self._produced_counter(topic).inc(len(acks))  # one increment per batch

    async def _publish_raw(self, topic: str, message: KafkaMessage) -> None:
        if self._producer is None:
            raise RuntimeError("KafkaBus.start() was not awaited")
        name, key = self._prefix + topic, _bytes(message.key)
        partition = self._partition_of(name, key)
        if partition is None:
            partition = await self._partition_slow(name, key)
        await self._producer.send_and_wait(
            name,
            value=_bytes(message.value),
            key=key,
            headers=list(message.headers.items()),
            partition=partition,
        )
        self._produced_counter(topic).inc()

    def _partition_of(self, name: str, key: bytes | None) -> int | None:
        """The partition of ``key`` on broker topic ``name``: :func:`partition_for` (CRC32 modulo
        the topic's partition count, as on the memory bus), or None when the producer has no
        metadata for the topic yet (then :meth:`_partition_slow`).

        Why not aiokafka's default partitioner (Java's murmur2): it is pure Python, 2.4 us
        for a 9-byte key and 7.5 us for a job id (a 36-character UUID), against 0.1 us for
        ``zlib.crc32``, on every event. Keys keep their partition as long as every producer
        of a topic uses this function (all of Earshot's do, through this class).
        """
        parts = self._producer.client.cluster.partitions_for_topic(name)
        return partition_for(key, len(parts)) if parts else None

    async def _partition_slow(self, name: str, key: bytes | None) -> int:
        """:meth:`_partition_of` after waiting for the topic's metadata (first publish to it).

        Raises:
            KafkaTimeoutError: the topic's metadata did not come in time.
        """
        return partition_for(key, len(await self._producer.partitions_for(name)))

    async def subscribe(
        self, topics: Sequence[str], group: str, handler: Handler, *, from_latest: bool = False
    ) -> Subscription:
        handler = telemetry.traced_handler(handler, group)  # the event's trace around the handler
        from aiokafka import AIOKafkaConsumer, TopicPartition
        from aiokafka.errors import CommitFailedError, IllegalStateError

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
                self._lag_gauge(tp.topic[prefix:], tp.partition, group).set(max(end - committed, 0))

        async def commit(offsets: dict[TopicPartition, int]) -> bool:
            """Commit ``offsets`` (next offset per partition) in one request; the offsets of
            partitions this member no longer owns are dropped (their new owner redelivers)."""
            assigned = consumer.assignment()
            offsets = {tp: o for tp, o in offsets.items() if tp in assigned}
            if not offsets:
                return False
            try:
                await consumer.commit(offsets)
            except (CommitFailedError, IllegalStateError) as exc:
                # The group rebalanced while we worked: the partition's new owner gets
                # the uncommitted events again (at least once). Drop this stale batch.
                log.warning("bus.commit_failed", topics=list(topics), group=group, error=str(exc))
                return False
            for tp, offset in offsets.items():
                record_lag(tp, offset)
            return True

        async def handle_partition(tp: TopicPartition, records: list[Any]) -> int | None:
            """Handle one partition's records in order; returns the offset still to commit.

            Offsets are committed only after their handler returned. A partition whose
            handlers are slow commits by itself once ``commit_interval_s`` passed since its
            last commit (slow jobs are committed one by one); the rest is committed with the
            other partitions of the poll, in one request, by the caller.
            """
            pending: int | None = None
            last_commit = time.monotonic()
            topic = tp.topic[prefix:]
            deliver = self._deliver
            counters = self._metrics_of(topic, group)
            interval = self.commit_interval_s
            handled = 0
            try:
                for record in records:
                    # the record's (str, bytes) header pairs are decoded as they are
                    await deliver(
                        topic, record.headers or (), record.key, record.value, handler, group, counters
                    )
                    handled += 1
                    pending = record.offset + 1
                    if time.monotonic() - last_commit >= interval:
                        await committer.flush()  # an older background commit lands first
                        if not await commit({tp: pending}):
                            return None
                        pending, last_commit = None, time.monotonic()
            finally:
                counters.count_consumed(handled)
            return pending

        committer = _Committer(commit, group)

        def rewind(batches: dict[TopicPartition, list[Any]]) -> None:
            """Fetch a failed poll again from its first event (at least once)."""
            for tp, records in batches.items():
                with contextlib.suppress(Exception):  # partition revoked meanwhile: its new owner has it
                    consumer.seek(tp, records[0].offset)

        async def run() -> None:
            while True:
                batches: dict[TopicPartition, list[Any]] = {}
                try:
                    batches = await consumer.getmany(timeout_ms=500, max_records=self.max_poll_records)
                    if not batches:
                        continue
                    if len(batches) == 1:
                        [(tp, records)] = batches.items()
                        done = [await handle_partition(tp, records)]
                    else:
                        done = await asyncio.gather(
                            *(handle_partition(tp, records) for tp, records in batches.items())
                        )
                    offsets = {tp: o for tp, o in zip(batches, done, strict=True) if o is not None}
                    if offsets:
                        committer.add(offsets)  # sent while the next poll is handled
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # broker away, rebalance, ...: keep consuming
                    log.warning("bus.consume_failed", group=group, error=f"{type(exc).__name__}: {exc}")
                    rewind(batches)
                    await asyncio.sleep(1.0)

        task = asyncio.create_task(run(), name=f"kafka:{group}:{','.join(topics)}")
        # broker-side lag of every owned partition, idle ones included (services.common.kafka_lag)
        lag_task = asyncio.create_task(poll_lag(consumer, group, prefix, self.lag_interval_s))

        async def close() -> None:
            for t in (lag_task, task):
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            await committer.close(self.close_commit_timeout_s)  # what was handled is committed
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


class _Committer:
    """Commits a Kafka consumer's offsets in the background, one request at a time.

    The consume loop hands over the offsets of each poll once its handlers returned
    (:meth:`add`) and goes on to the next poll instead of waiting for the broker's answer;
    offsets that pile up meanwhile are merged (the newest per partition) into the next
    request. A request that fails for another reason than a rebalance (``commit`` then
    returns False and logs) is retried after ``retry_s`` with its offsets merged back, so
    the last handled offsets get committed even when no event follows; after ``attempts``
    failures in a row they are dropped with a warning (at least once: redelivered later).

    Args:
        commit: ``async (offsets) -> bool``, one OffsetCommit request (False: refused
            because the group rebalanced: dropped, the partition's new owner redelivers).
        group: for log lines.
    """

    def __init__(
        self,
        commit: Callable[[dict[Any, int]], Awaitable[bool]],
        group: str,
        retry_s: float = 1.0,
        attempts: int = 5,
    ) -> None:
        self._commit = commit
        self._group = group
        self._retry_s = retry_s
        self._attempts = attempts
        self._pending: dict[Any, int] = {}
        self._task: asyncio.Task[None] | None = None

    def add(self, offsets: dict[Any, int]) -> None:
        """Commit ``offsets`` (next offset per partition) soon; returns at once."""
        self._pending.update(offsets)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name=f"kafka-commit:{self._group}")

    async def _drain(self) -> None:
        failures = 0
        while self._pending:
            offsets, self._pending = self._pending, {}
            try:
                await self._commit(offsets)
                failures = 0
            except asyncio.CancelledError:
                self._merge_back(offsets)
                raise
            except Exception as exc:  # broker away: try again (newer offsets win)
                failures += 1
                error = f"{type(exc).__name__}: {exc}"
                if failures >= self._attempts:
                    log.warning("bus.commit_dropped", group=self._group, error=error, attempts=failures)
                    failures = 0
                    continue
                log.warning("bus.commit_retry", group=self._group, error=error, attempt=failures)
                self._merge_back(offsets)
                await asyncio.sleep(self._retry_s)

    def _merge_back(self, offsets: dict[Any, int]) -> None:
        for tp, offset in offsets.items():
            self._pending.setdefault(tp, offset)

    async def flush(self) -> None:
        """Wait until every offset handed over so far is committed (or dropped)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def close(self, timeout_s: float) -> None:
        """Flush for at most ``timeout_s`` seconds, then give up (at least once: the
        partitions' next owner redelivers what is not committed)."""
        try:
            await asyncio.wait_for(self.flush(), timeout_s)
        except TimeoutError:
            log.warning("bus.commit_abandoned", group=self._group, timeout_s=timeout_s)
            if self._task is not None:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task


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
