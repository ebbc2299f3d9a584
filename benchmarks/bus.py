"""Event bus throughput and latency through a real Kafka broker, no-op handler.

Producer to consumer through ``KafkaBus`` (the code services use: CloudEvents binary mode,
idempotent producer with ``acks=all``, commit after each handled event), on a fresh topic
with 6 partitions in its own namespace. Two runs:

* **throughput**: ``--events`` events published with up to ``--in-flight`` publishes
  awaiting their acknowledgement at once; events/s = events / (last receipt - first send);
  end-to-end latency (publish call to handler call) p50/p99 under that load;
* **latency**: ``--probes`` events one at a time (the next is sent after the previous
  arrived), so p50/p99 show the unloaded path.

The in-memory bus runs the same two measurements as a reference. Needs
``EARSHOT_TEST_KAFKA`` (``make bench`` sets it from ``deploy/local/infra.sh``).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.common.bus import EventBus, KafkaBus, MemoryBus  # noqa: E402
from services.common.events import Envelope  # noqa: E402
from services.common.logging import configure_logging  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def measure(bus: EventBus, events: int, in_flight: int, probes: int) -> dict[str, float]:
    topic = "bench.bus"
    await bus.ensure_topics([topic])
    received: list[float] = []
    latencies: list[float] = []
    arrived = asyncio.Event()
    expected = events

    async def no_op(envelope: Envelope) -> None:
        now = time.perf_counter()
        latencies.append(now - envelope.data["sent"])
        received.append(now)
        if len(received) >= expected:
            arrived.set()

    await bus.subscribe([topic], "bench", no_op)
    # Throughput under load.
    semaphore = asyncio.Semaphore(in_flight)

    async def send(i: int) -> None:
        async with semaphore:
            data = {"n": i, "sent": time.perf_counter()}
            await bus.publish(
                topic, Envelope(type="bench.event.v1", source="/bench", key=f"job-{i}", data=data)
            )

    start = time.perf_counter()
    await asyncio.gather(*(send(i) for i in range(events)))
    produced = time.perf_counter() - start
    await asyncio.wait_for(arrived.wait(), 300)
    elapsed = received[-1] - start
    loaded = list(latencies)
    # Unloaded latency: one event at a time.
    latencies.clear()
    for i in range(probes):
        received.clear()
        arrived.clear()
        expected = 1
        data = {"n": i, "sent": time.perf_counter()}
        await bus.publish(
            topic, Envelope(type="bench.event.v1", source="/bench", key=f"probe-{i}", data=data)
        )
        await asyncio.wait_for(arrived.wait(), 30)
    return {
        "events": events,
        "events_per_s": round(events / elapsed, 1),
        "producer_events_per_s": round(events / produced, 1),
        "loaded_latency_p50_ms": round(percentile(loaded, 50) * 1000, 2),
        "loaded_latency_p99_ms": round(percentile(loaded, 99) * 1000, 2),
        "latency_p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "latency_p99_ms": round(percentile(latencies, 99) * 1000, 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--in-flight", type=int, default=500)
    parser.add_argument("--probes", type=int, default=200)
    args = parser.parse_args()
    configure_logging("error")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # stdout carries the JSON only
    bootstrap = os.environ.get("EARSHOT_TEST_KAFKA")
    if not bootstrap:
        sys.exit("set EARSHOT_TEST_KAFKA=host:port (make bench does: deploy/local/infra.sh up)")

    kafka = KafkaBus(bootstrap, partitions=6, namespace=f"bench-{uuid.uuid4().hex[:8]}", client_id="bench")
    await kafka.start()
    try:
        kafka_result = await measure(kafka, args.events, args.in_flight, args.probes)
    finally:
        await kafka.stop()
    memory = MemoryBus(partitions=6)
    await memory.start()
    try:
        memory_result = await measure(memory, args.events, args.in_flight, args.probes)
    finally:
        await memory.stop()
    print(
        json.dumps(
            {
                "benchmark": "bus",
                "handler": "no-op",
                "partitions": 6,
                "kafka": {"bootstrap": bootstrap, **kafka_result},
                "memory": memory_result,
                "kafka_vs_memory_events_per_s": round(
                    kafka_result["events_per_s"] / memory_result["events_per_s"], 4
                ),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
