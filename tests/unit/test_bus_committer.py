"""The Kafka bus's background offset committer (services.common.bus._Committer), without a broker."""

from __future__ import annotations

import asyncio

from services.common.bus import _Committer


async def test_offsets_handed_over_while_a_commit_is_in_flight_are_merged_into_the_next() -> None:
    sent: list[dict[str, int]] = []
    gate = asyncio.Event()

    async def commit(offsets: dict[str, int]) -> bool:
        sent.append(dict(offsets))
        await gate.wait()
        return True

    c = _Committer(commit, "g")
    c.add({"p0": 10})
    await asyncio.sleep(0)  # the first request is in flight
    c.add({"p0": 20, "p1": 5})
    c.add({"p1": 7})
    gate.set()
    await c.flush()
    assert sent == [{"p0": 10}, {"p0": 20, "p1": 7}]  # newest offset per partition, one request


async def test_a_failed_commit_is_retried_and_newer_offsets_win() -> None:
    sent: list[dict[str, int]] = []

    async def commit(offsets: dict[str, int]) -> bool:
        sent.append(dict(offsets))
        if len(sent) == 1:
            c.add({"p1": 3})  # handed over while the failing request was in flight
            raise ConnectionError("broker away")
        return True

    c = _Committer(commit, "g", retry_s=0.0)
    c.add({"p0": 10, "p1": 1})
    await c.flush()
    assert sent == [{"p0": 10, "p1": 1}, {"p1": 3, "p0": 10}]


async def test_offsets_are_dropped_after_the_last_attempt() -> None:
    calls = 0

    async def commit(offsets: dict[str, int]) -> bool:
        nonlocal calls
        calls += 1
        raise ConnectionError("broker away")

    c = _Committer(commit, "g", retry_s=0.0, attempts=3)
    c.add({"p0": 10})
    await c.close(timeout_s=5)
    assert calls == 3


async def test_close_gives_up_after_its_timeout() -> None:
    async def commit(offsets: dict[str, int]) -> bool:
        await asyncio.sleep(3600)
        return True

    c = _Committer(commit, "g")
    c.add({"p0": 1})
    await c.close(timeout_s=0.05)  # returns: the stuck request is cancelled
    await c.flush()  # nothing left in flight
