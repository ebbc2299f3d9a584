"""Event bus throughput, our buses against the bare transports under them, no-op handler.

Four pipelines, 6 partitions each, measured in the same run and interleaved run by run (bus,
bare, bus, bare ...) so that load from elsewhere on the machine hits both alike:

* ``kafka.bus``: ``KafkaBus``, what services use: CloudEvents binary mode validated on every
  delivery, idempotent producer with ``acks=all`` (each ``publish`` awaits its
  acknowledgement; up to ``--in-flight`` publishes at once), commit after the handler,
  retry and dead-letter machinery, metrics.
* ``kafka.bare``: bare aiokafka on the same broker and topic layout, producer with the same
  settings, batching through ``send()`` futures; a consumer group reading with ``getmany``
  (auto-commit) and calling the no-op handler on raw records. The same encoded bytes travel.
* ``memory.bus``: ``MemoryBus`` with the same producer loop as ``kafka.bus``.
* ``memory.bare``: an ``asyncio.Queue`` per partition (CRC32 of the key), one consumer task
  per queue calling the no-op handler on the producer's ``Envelope``.

In every pipeline the producer builds one ``Envelope`` per event (the caller's work is the same);
events/s = events / (last receipt - first send), on a fresh consumer group per run. A
calibration run sizes the event count so that each run times at least a second; then
``--runs`` runs give the median and spread. ``*_vs_bare`` is the ratio of the medians (issue
18: >= 0.7, and ``kafka.bus`` >= 10,000 events/s); ``targets`` gives each verdict (``met``).
Everything runs on the services' event loop (:mod:`services.common.eventloop`: uvloop), with
the start-up heap frozen as in the services (:func:`services.platform.freeze_startup_heap`).
Each pipeline also reports this process's CPU per event (producer and consumer, not the
broker) and ``*_vs_bare_by_cpu``, the ratio of CPU costs: what other load on a shared machine
moves least. The buses' end-to-end latency at low load is probed one event at a time
(``--probes``). The pipelines above run without the OpenTelemetry SDK (a library user's
setting); ``traced`` then repeats ``bus`` against ``bare`` with the SDK installed as every
Earshot service installs it (:func:`services.common.telemetry.configure_tracing`, no exporter:
spans dropped but given ids), which is what a deployed service pays per event
(``--traced-runs``, 0 to skip). Needs ``EARSHOT_TEST_KAFKA`` (``make bench``
sets it from ``deploy/local/infra.sh``). Prints one JSON object (see benchmarks/common.py).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cloudevents.kafka import KafkaMessage  # noqa: E402

from benchmarks.common import MIN_SECONDS, emit, percentile, scaled, summary  # noqa: E402
from services.common import event_codec, telemetry  # noqa: E402
from services.common.bus import EventBus, KafkaBus, MemoryBus, partition_for  # noqa: E402
from services.common.eventloop import loop_name, run  # noqa: E402
from services.common.events import Envelope  # noqa: E402
from services.common.logging import configure_logging  # noqa: E402
from services.platform import freeze_startup_heap  # noqa: E402

PARTITIONS = 6


@dataclass
class Run:
    """One pipeline run: what was received and when."""

    events: int
    sent_at: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    last: float = 0.0
    cpu_start: float = 0.0  # process CPU seconds (time.process_time) at the first send
    cpu_end: float = 0.0  # ... at the last receipt
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def started(self) -> float:
        """Mark the first send: returns its wall-clock time (and notes the CPU time)."""
        self.cpu_start = time.process_time()
        return time.perf_counter()

    def receive(self, key: str | bytes) -> None:
        """The no-op handler's only bookkeeping: receipt time and latency of event ``key``."""
        now = time.perf_counter()
        i = int(key[4:])  # "job-<i>"
        self.latencies.append(now - self.sent_at[i])
        self.last = now
        if len(self.latencies) >= self.events:
            self.cpu_end = time.process_time()
            self.done.set()


def make_envelope(run: Run, i: int) -> Envelope:
    run.sent_at.append(time.perf_counter())
    return Envelope(type="bench.event.v1", source="/bench", key=f"job-{i}", data={"n": i})


async def produce_concurrently(
    run: Run, publish: Callable[[Envelope], Awaitable[None]], in_flight: int
) -> float:
    """The services' way: each ``publish`` awaits its acknowledgement; ``in_flight`` publishers
    take the next event as soon as theirs is acknowledged (a pool, not a task per event
    behind a semaphore, whose wake-ups cost O(waiters) each in Python 3.11)."""
    counter = iter(range(run.events))

    async def publisher() -> None:
        for i in counter:
            await publish(make_envelope(run, i))

    start = run.started()
    await asyncio.gather(*(publisher() for _ in range(min(in_flight, run.events))))
    return start


async def produce_in_batches(
    run: Run, publish_many: Callable[[list[Envelope]], Awaitable[None]], batch: int
) -> float:
    """Batches of ``batch`` events through ``publish_many``, each acknowledged before the next."""
    start = run.started()
    for first in range(0, run.events, batch):
        await publish_many([make_envelope(run, i) for i in range(first, min(first + batch, run.events))])
    return start


def result(run: Run, start: float, produced_at: float) -> dict[str, float]:
    seconds = run.last - start
    return {
        "events": run.events,
        "seconds": round(seconds, 3),
        "events_per_s": run.events / seconds,
        "producer_events_per_s": run.events / (produced_at - start),
        "latency_p50_ms": percentile(run.latencies, 50) * 1000,
        "latency_p99_ms": percentile(run.latencies, 99) * 1000,
        # CPU of this process (producer and consumer; not the broker's) per event: what other
        # load on a shared machine moves least
        "cpu_us_per_event": (run.cpu_end - run.cpu_start) * 1e6 / run.events,
    }


async def bus_run(
    bus: EventBus, topic: str, events: int, in_flight: int, batched: bool = False
) -> dict[str, float]:
    run = Run(events)

    async def no_op(envelope: Envelope) -> None:
        run.receive(envelope.key)

    sub = await bus.subscribe([topic], f"bench-{uuid.uuid4().hex[:8]}", no_op, from_latest=True)
    try:
        if batched:
            start = await produce_in_batches(run, lambda batch: bus.publish_many(topic, batch), in_flight)
        else:
            start = await produce_concurrently(run, lambda e: bus.publish(topic, e), in_flight)
        produced = time.perf_counter()
        await asyncio.wait_for(run.done.wait(), 300)
    finally:
        await sub.close()
    return result(run, start, produced)


async def bus_probes(bus: EventBus, topic: str, probes: int) -> dict[str, float]:
    """End-to-end latency with one event in flight at a time."""
    run = Run(1)

    async def h(envelope: Envelope) -> None:
        run.receive(envelope.key)

    sub = await bus.subscribe([topic], f"probe-{uuid.uuid4().hex[:8]}", h, from_latest=True)
    latencies = []
    try:
        for _ in range(probes):
            run.sent_at.clear()
            run.latencies.clear()
            run.done.clear()
            await bus.publish(topic, make_envelope(run, 0))
            await asyncio.wait_for(run.done.wait(), 30)
            latencies.extend(run.latencies)
    finally:
        await sub.close()
    return {
        "probes": probes,
        "latency_p50_ms": round(percentile(latencies, 50) * 1000, 3),
        "latency_p99_ms": round(percentile(latencies, 99) * 1000, 3),
    }


async def bare_kafka_run(bootstrap: str, topic: str, events: int) -> dict[str, float]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    run = Run(events)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bare-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="latest",
    )
    await consumer.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **KafkaBus.PRODUCER_SETTINGS)
    await producer.start()
    try:
        while not consumer.assignment():
            await asyncio.sleep(0.05)
        for tp in consumer.assignment():
            await consumer.position(tp)

        async def consume() -> None:
            while not run.done.is_set():
                for records in (await consumer.getmany(timeout_ms=100)).values():
                    for record in records:
                        run.receive(record.key)

        consuming = asyncio.create_task(consume())
        start = run.started()
        futures = []
        for i in range(events):
            m = event_codec.encode(make_envelope(run, i))
            key = m.key.encode() if isinstance(m.key, str) else m.key
            futures.append(await producer.send(topic, m.value, key=key, headers=list(m.headers.items())))
        await asyncio.gather(*futures)
        produced = time.perf_counter()
        await asyncio.wait_for(run.done.wait(), 300)
        await consuming
    finally:
        await producer.stop()
        await consumer.stop()
    return result(run, start, produced)


async def bare_queue_run(events: int, in_flight: int) -> dict[str, float]:
    run = Run(events)
    queues: list[asyncio.Queue[KafkaMessage]] = [asyncio.Queue() for _ in range(PARTITIONS)]

    async def no_op(message: KafkaMessage) -> None:
        run.receive(message.key or "")

    async def consume(q: asyncio.Queue[KafkaMessage]) -> None:
        while True:
            await no_op(await q.get())

    async def publish(envelope: Envelope) -> None:
        message = event_codec.encode(envelope)  # the same bytes as on Kafka
        await queues[partition_for(message.key, PARTITIONS)].put(message)

    tasks = [asyncio.create_task(consume(q)) for q in queues]
    try:
        start = await produce_concurrently(run, publish, in_flight)
        produced = time.perf_counter()
        await asyncio.wait_for(run.done.wait(), 300)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return result(run, start, produced)


async def compare(
    label: str, pipelines: dict[str, Callable[[int], Awaitable[dict[str, float]]]], events: int, runs: int
) -> dict[str, Any]:
    """Size the event count on the ``bare`` pipeline (the fastest) so that every run times at
    least ``MIN_SECONDS``, then run the pipelines in turn ``runs`` times."""
    # Sized with headroom (2 s for the bare pipeline), again until a warm-up run is long enough:
    # a machine shared with other work gets faster or slower between runs.
    for _ in range(4):
        warm = await pipelines["bare"](events)
        if warm["seconds"] >= 1.5 * MIN_SECONDS:
            break
        events = scaled(events, warm["seconds"], target=2 * MIN_SECONDS)
    got: dict[str, list[dict[str, float]]] = {name: [] for name in pipelines}
    for _ in range(runs):
        for name, pipeline in pipelines.items():
            got[name].append(await pipeline(events))
    out: dict[str, Any] = {"events_per_run": events}
    for name, results in got.items():
        too_short = [r["seconds"] for r in results if r["seconds"] < MIN_SECONDS]
        if too_short:
            print(f"{label}.{name}: runs of {too_short} s are under {MIN_SECONDS} s", file=sys.stderr)
        out[name] = {
            "events_per_s": summary([r["events_per_s"] for r in results]),
            "producer_events_per_s": summary([r["producer_events_per_s"] for r in results]),
            "seconds_per_run": summary([r["seconds"] for r in results], 3),
            "loaded_latency_p50_ms": summary([r["latency_p50_ms"] for r in results], 2),
            "loaded_latency_p99_ms": summary([r["latency_p99_ms"] for r in results], 2),
            "cpu_us_per_event": summary([r["cpu_us_per_event"] for r in results], 2),
        }
    bare = out["bare"]["events_per_s"]["median"]
    bare_cpu = out["bare"]["cpu_us_per_event"]["median"]
    for name in pipelines:
        if name != "bare":
            out[f"{name}_vs_bare"] = round(out[name]["events_per_s"]["median"] / bare, 3)
            # bare CPU per event / ours: the throughput ratio a CPU-bound run on a quiet machine gives
            out[f"{name}_vs_bare_by_cpu"] = round(bare_cpu / out[name]["cpu_us_per_event"]["median"], 3)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="first guess; scaled to >= 1 s per run")
    parser.add_argument("--in-flight", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--traced-runs", type=int, default=3, help="runs with the tracing SDK (0: skip)")
    args = parser.parse_args()
    configure_logging("error")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # stdout carries the JSON only
    freeze_startup_heap()  # as every earshot process does once started (services.platform)
    bootstrap = os.environ.get("EARSHOT_TEST_KAFKA")
    if not bootstrap:
        sys.exit("set EARSHOT_TEST_KAFKA=host:port (make bench does: deploy/local/infra.sh up)")

    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    kafka = KafkaBus(bootstrap, partitions=PARTITIONS, namespace=namespace, client_id="bench")
    await kafka.start()
    try:
        await kafka.ensure_topics(["bench.bus", "bench.bare"])
        bare_topic = f"{namespace}.bench.bare"  # the bus prefixes its topics with the namespace
        kafka_result = await compare(
            "kafka",
            {
                "bus": lambda n: bus_run(kafka, "bench.bus", n, args.in_flight),
                "bus_publish_many": lambda n: bus_run(kafka, "bench.bus", n, args.in_flight, batched=True),
                "bare": lambda n: bare_kafka_run(bootstrap, bare_topic, n),
            },
            args.events,
            args.runs,
        )
        kafka_result["bus_unloaded"] = await bus_probes(kafka, "bench.bus", args.probes)
    finally:
        await kafka.stop()

    async def memory_run(n: int, batched: bool = False) -> dict[str, float]:
        memory = MemoryBus(partitions=PARTITIONS)
        await memory.start()
        try:
            return await bus_run(memory, "bench.bus", n, args.in_flight, batched)
        finally:
            await memory.stop()

    memory_result = await compare(
        "memory",
        {
            "bus": memory_run,
            "bus_publish_many": lambda n: memory_run(n, batched=True),
            "bare": lambda n: bare_queue_run(n, args.in_flight),
        },
        args.events,
        args.runs,
    )
    memory = MemoryBus(partitions=PARTITIONS)
    await memory.start()
    try:
        memory_result["bus_unloaded"] = await bus_probes(memory, "bench.bus", args.probes)
    finally:
        await memory.stop()

    traced: dict[str, Any] = {}
    if args.traced_runs:
        # Last: the SDK cannot be uninstalled from this process once installed.
        telemetry.configure_tracing("earshot-bench")
        kafka = KafkaBus(bootstrap, partitions=PARTITIONS, namespace=namespace, client_id="bench")
        await kafka.start()
        try:
            traced["kafka"] = _ratio_only(
                await compare(
                    "kafka.traced",
                    {
                        "bus": lambda n: bus_run(kafka, "bench.bus", n, args.in_flight),
                        "bare": lambda n: bare_kafka_run(bootstrap, bare_topic, n),
                    },
                    args.events,
                    args.traced_runs,
                )
            )
        finally:
            await kafka.stop()
        traced["memory"] = _ratio_only(
            await compare(
                "memory.traced",
                {"bus": memory_run, "bare": lambda n: bare_queue_run(n, args.in_flight)},
                args.events,
                args.traced_runs,
            )
        )

    kafka_bus = kafka_result["bus"]["events_per_s"]["median"]
    emit(
        "bus",
        {
            "handler": "no-op",
            "partitions": PARTITIONS,
            "in_flight": args.in_flight,
            "runs": args.runs,
            "event_loop": loop_name(),
            "kafka": {"bootstrap": bootstrap, **kafka_result},
            "memory": memory_result,
            "traced": traced,
            "targets": {
                "kafka_bus_events_per_s": verdict(kafka_bus, 10_000),
                "kafka_bus_vs_bare": verdict(kafka_result["bus_vs_bare"], 0.7),
                "memory_bus_vs_bare": verdict(memory_result["bus_vs_bare"], 0.7),
            },
        },
    )


def _ratio_only(result: dict[str, Any]) -> dict[str, Any]:
    """The traced comparison's figures worth reading: events/s and CPU per event, and ratios."""
    return {
        "events_per_run": result["events_per_run"],
        **{
            name: {k: result[name][k] for k in ("events_per_s", "cpu_us_per_event")}
            for name in ("bus", "bare")
        },
        "bus_vs_bare": result["bus_vs_bare"],
        "bus_vs_bare_by_cpu": result["bus_vs_bare_by_cpu"],
    }


def verdict(value: float, at_least: float) -> dict[str, Any]:
    """A target of issue 18 as the report states it: the median measured, the bar, met or not."""
    return {"value": value, "target": f">= {at_least:g}", "met": value >= at_least}


if __name__ == "__main__":
    run(main())
