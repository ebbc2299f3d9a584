"""The Apache Kafka bus, through aiokafka (see :mod:`services.common.bus`)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar

from cloudevents.kafka import KafkaMessage

from services.common import telemetry
from services.common.bus.base import EventBus, Handler, RetryPolicy, Subscription, _bytes, log, partition_for
from services.common.events import Envelope, dead_letter_topic
from services.common.kafka_groups import delete_group
from services.common.kafka_lag import poll_lag


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
