"""ANC routes with a fake anc client: every per-user route for two users, an anonymous caller
and a signed-out token (404 for another user's id, 401 without a valid token)."""

from __future__ import annotations

import pytest

from tests.unit.gateway.conftest import UnitGateway, bearer, wav

REVOKED = {"Authorization": "Bearer revoked-alice"}


async def _process(gw: UnitGateway, name: str) -> str:
    reply = await gw.client.post(
        "/api/audio/process",
        files={"audio": ("noise.wav", wav(channels=2), "audio/wav")},
        data={"algorithm": "nlms", "classify": "false"},
        headers=bearer(name),
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["session_id"])


async def test_a_file_is_processed_for_its_owner(gw: UnitGateway) -> None:
    sid = await _process(gw, "alice")
    body = (await gw.client.get(f"/api/audio/sessions/{sid}", headers=bearer("alice"))).json()
    assert body["status"] == "completed" and body["metrics"]["attenuation_db"] == pytest.approx(6.02)
    assert gw.anc.calls[:2] == ["ResolveParams", "Process"]
    stored = await gw.runtime.storage.list("anc/outputs/")
    assert f"anc/outputs/{sid}.wav" in [o.key for o in stored]


async def test_each_user_sees_only_their_own_sessions(gw: UnitGateway) -> None:
    alice = await _process(gw, "alice")
    bob_stream = await gw.client.post("/api/audio/stream", json={"algorithm": "nlms"}, headers=bearer("bob"))
    assert bob_stream.status_code == 201
    bob = bob_stream.json()["session_id"]

    mine = (await gw.client.get("/api/audio/sessions", headers=bearer("alice"))).json()
    assert alice in [s["session_id"] for s in mine["sessions"]] and bob not in [
        s["session_id"] for s in mine["sessions"]
    ]
    theirs = (await gw.client.get("/api/audio/sessions", headers=bearer("bob"))).json()
    assert [s["session_id"] for s in theirs["sessions"]] == [bob]
    assert (await gw.client.get("/api/metrics/summary", headers=bearer("bob"))).json()["file_sessions"] == 0

    for method, path in (
        ("GET", f"/api/audio/sessions/{alice}"),
        ("GET", f"/api/metrics/sessions/{alice}"),
        ("DELETE", f"/api/audio/sessions/{alice}"),
    ):
        other = await gw.client.request(method, path, headers=bearer("bob"))
        assert other.status_code == 404, (method, path)  # never 403, never the record
        assert other.json()["details"] == f"no session {alice!r}"
    assert (await gw.client.get(f"/api/audio/sessions/{alice}", headers=bearer("alice"))).status_code == 200


@pytest.mark.parametrize(
    "headers", [{}, REVOKED, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic x"}]
)
async def test_every_per_user_route_needs_a_valid_token(gw: UnitGateway, headers: dict[str, str]) -> None:
    sid = await _process(gw, "alice")
    for method, path in (
        ("GET", "/api/audio/sessions"),
        ("GET", f"/api/audio/sessions/{sid}"),
        ("DELETE", f"/api/audio/sessions/{sid}"),
        ("GET", f"/api/metrics/sessions/{sid}"),
        ("GET", "/api/metrics/summary"),
        ("POST", "/api/audio/stream"),
        ("POST", "/api/audio/process"),
    ):
        reply = await gw.client.request(method, path, headers=headers)
        assert reply.status_code == 401, (method, path, reply.text)
        assert reply.headers["WWW-Authenticate"].startswith('Bearer realm="earshot"')
        assert set(reply.json()) == {"error", "details", "timestamp"}
    assert (await gw.client.get(f"/api/audio/sessions/{sid}", headers=bearer("alice"))).status_code == 200


async def test_stateless_routes_stay_open(gw: UnitGateway) -> None:
    classify = await gw.client.post(
        "/api/ml/classify", files={"audio": ("n.wav", wav(channels=1), "audio/wav")}
    )
    assert classify.status_code == 200 and classify.json()["noise_type"] == "hvac"
    assert (await gw.client.get("/api/ml/models")).status_code == 200
    assert (await gw.client.get("/api/status")).json()["checks"]["anc"] == "ok"


async def test_delete_removes_the_session_its_metrics_and_its_output(gw: UnitGateway) -> None:
    sid = await _process(gw, "alice")
    gone = await gw.client.delete(f"/api/audio/sessions/{sid}", headers=bearer("alice"))
    assert gone.status_code == 204
    assert (await gw.client.get(f"/api/audio/sessions/{sid}", headers=bearer("alice"))).status_code == 404
    assert (await gw.client.get(f"/api/metrics/sessions/{sid}", headers=bearer("alice"))).status_code == 404
    assert f"anc/outputs/{sid}.wav" not in [o.key for o in await gw.runtime.storage.list("anc/outputs/")]
    assert (await gw.client.delete(f"/api/audio/sessions/{sid}", headers=bearer("alice"))).status_code == 404


async def test_bad_parameters_store_nothing(gw: UnitGateway) -> None:
    before = (await gw.client.get("/api/audio/sessions", headers=bearer("carol"))).json()["total"]
    bad = await gw.client.post("/api/audio/stream", json={"algorithm": "bogus"}, headers=bearer("carol"))
    assert bad.status_code == 400 and bad.json()["error"] == "Invalid parameters"
    assert (await gw.client.get("/api/audio/sessions", headers=bearer("carol"))).json()["total"] == before
    page = await gw.client.get("/api/audio/sessions", params={"limit": 0}, headers=bearer("carol"))
    assert page.status_code == 400
