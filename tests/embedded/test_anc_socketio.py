"""Seed 004's live protocol over Socket.IO (``/socket.io/``), driven by python-socketio's
``AsyncClient`` as a Flask-SocketIO client would: authenticated ``connect``, ``audio_chunk``
with acknowledgements, ``processed_audio`` and ``metrics_update`` back, ``disconnect``
closing the session with its final metrics, on the same streaming core as the WebSocket."""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import Any

import httpx
import numpy as np
import pytest
import socketio

from services.gateway.products.anc.models import AncSession
from services.gateway.products.anc.repository import AncRepository
from tests.conftest import Embedded
from tests.embedded.test_anc_api import RATE, scene

BLOCK = 1024


async def account(client: httpx.AsyncClient) -> dict[str, str]:
    reply = await client.post(
        "/api/users",
        json={"email": f"sio-{uuid.uuid4().hex[:10]}@example.com", "password": "sturdy-password-42"},
    )
    assert reply.status_code == 201, reply.text
    return {"Authorization": f"Bearer {reply.json()['access_token']}"}


async def open_session(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    reply = await client.post(
        "/api/audio/stream",
        json={"algorithm": "fdaf", "taps": 256, "block_size": 256, "sample_rate": RATE},
        headers=headers,
    )
    assert reply.status_code == 201, reply.text
    return str(reply.json()["session_id"])


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].split(" ", 1)[1]


async def refused(embedded: Embedded, **connect: Any) -> dict[str, Any]:
    """Connect and expect a refusal; the server's ``connect_error`` payload."""
    sio = socketio.AsyncClient(reconnection=False)
    errors: asyncio.Queue[Any] = asyncio.Queue()
    sio.on("connect_error", errors.put)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio.connect(embedded.url, transports=["websocket"], wait_timeout=10, **connect)
    payload = await asyncio.wait_for(errors.get(), 10)
    await sio.disconnect()
    assert payload["message"] == f"{payload['data']['error']}: {payload['data']['details']}"
    return dict(payload["data"])


def repo(embedded: Embedded) -> AncRepository:
    return AncRepository(embedded.gateway.ctx.sessions)


async def until_closed(embedded: Embedded, session_id: str) -> AncSession:
    """The session once the server handled the disconnect (bounded wait, no timing assertion)."""
    row = None
    for _ in range(200):
        row = await repo(embedded).get(session_id, None)
        assert row is not None
        if row.status == "closed":
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"session {session_id} was not closed: {row and row.status}")


async def test_live_stream_over_socketio(embedded: Embedded, client: httpx.AsyncClient) -> None:
    headers = await account(client)
    sid = await open_session(client, headers)
    primary, ref, _ = scene(4.0)
    frames = np.stack([primary, ref], axis=1).astype("<f4")
    processed: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    updates: list[dict[str, Any]] = []
    events: list[str] = []

    sio = socketio.AsyncClient(reconnection=False)

    @sio.event
    async def connect() -> None:
        events.append("connect")

    @sio.event
    async def disconnect(*_: Any) -> None:
        events.append("disconnect")

    @sio.on("processed_audio")
    async def on_processed(data: dict[str, Any]) -> None:
        await processed.put(data)

    @sio.on("metrics_update")
    async def on_metrics(data: dict[str, Any]) -> None:
        updates.append(data)

    await sio.connect(
        embedded.url,
        auth={"token": token_of(headers), "session_id": sid},
        transports=["websocket"],
        wait_timeout=10,
    )
    out: list[np.ndarray] = []
    n_blocks = primary.size // BLOCK
    for i in range(n_blocks):
        chunk = frames[i * BLOCK : (i + 1) * BLOCK].tobytes()
        # Binary attachments and base64 in JSON are both accepted.
        payload: Any = chunk if i % 2 == 0 else {"data": base64.b64encode(chunk).decode()}
        ack = await sio.call("audio_chunk", payload, timeout=10)
        assert ack == {"accepted": True, "session_id": sid, "sequence": i + 1}
        reply = await asyncio.wait_for(processed.get(), 10)
        assert reply["session_id"] == sid and reply["sequence"] == i + 1
        assert reply["format"] == "f32le" and reply["channels"] == 1
        out.append(np.frombuffer(reply["data"], dtype="<f4"))
        if i == 5:  # garbage: refused in the acknowledgement, the connection stays up
            bad = await sio.call("audio_chunk", b"\x00\x01\x02", timeout=10)
            assert bad["accepted"] is False and "float32" in bad["details"]
            nan = await sio.call("audio_chunk", np.array([[np.nan, 0.0]], dtype="<f4").tobytes(), timeout=10)
            assert nan["accepted"] is False and "NaN" in nan["details"]
            words = await sio.call("audio_chunk", {"data": "not base64!"}, timeout=10)
            assert words["accepted"] is False
    await sio.disconnect()
    assert events == ["connect", "disconnect"]
    assert all(o.size == BLOCK for o in out)
    assert updates and updates[-1]["session_id"] == sid
    assert updates[-1]["attenuation_db"] > 10 and "noise_type" in updates[-1]
    session = await until_closed(embedded, sid)
    assert session.samples == n_blocks * BLOCK and session.ended_at is not None
    kinds = [m.kind for m in await repo(embedded).metrics(sid)]
    assert kinds.count("final") == 1 and kinds.count("update") >= 1
    # A closed session cannot be streamed again.
    again = await refused(embedded, auth={"token": token_of(headers), "session_id": sid})
    assert again["status"] == 409


async def test_connect_is_authenticated(embedded: Embedded, client: httpx.AsyncClient) -> None:
    alice, bob = await account(client), await account(client)
    sid = await open_session(client, alice)
    no_token = await refused(embedded, auth={"session_id": sid})
    assert no_token["status"] == 401 and set(no_token) == {"status", "error", "details"}
    forged = await refused(embedded, auth={"token": "eyJhbGciOiJFZERTQSJ9.e30.c2ln", "session_id": sid})
    assert forged["status"] == 401
    others = await refused(embedded, auth={"token": token_of(bob), "session_id": sid})
    assert others["status"] == 404
    unknown = await refused(embedded, auth={"token": token_of(alice), "session_id": "nope"})
    assert unknown["status"] == 404
    # A signed-out token is refused at connect.
    bye = await client.post("/api/auth/logout", headers=alice)
    assert bye.status_code == 200
    revoked = await refused(embedded, auth={"token": token_of(alice), "session_id": sid})
    assert revoked["status"] == 401
    # Nothing was streamed: the session is still open and Alice's.
    row = await repo(embedded).get(sid, None)
    assert row is not None and row.status == "open" and row.owner != "anonymous"


async def test_token_in_the_handshake_headers_or_query(embedded: Embedded, client: httpx.AsyncClient) -> None:
    headers = await account(client)
    for how in ("header", "query"):
        sid = await open_session(client, headers)
        sio = socketio.AsyncClient(reconnection=False)
        if how == "header":
            await sio.connect(
                f"{embedded.url}?session_id={sid}", headers=headers, transports=["websocket"], wait_timeout=10
            )
        else:
            await sio.connect(
                f"{embedded.url}?session_id={sid}&token={token_of(headers)}",
                transports=["polling"],
                wait_timeout=10,
            )
        ack = await sio.call("audio_chunk", np.zeros((BLOCK, 2), dtype="<f4").tobytes(), timeout=10)
        assert ack["accepted"] is True, ack
        await sio.disconnect()
        await until_closed(embedded, sid)
