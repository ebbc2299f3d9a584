"""The bus interface and what both implementations share: retries, the dead-letter topic,
metrics, the stored form of an event and the partition of a key (see :mod:`services.common.bus`)."""

from __future__ import annotations

import abc
import asyncio
import random
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from cloudevents.kafka import KafkaMessage

from services.common import event_codec, metrics
from services.common.events import Envelope, dead_letter_topic
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
