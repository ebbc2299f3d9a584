"""Photo routes: a token owns its task; an anonymous upload is reachable by its id only; the
anonymous library is listed only with EARSHOT_PHOTOS_PUBLIC_LIBRARY."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from services.gateway.products.photos.service import PhotoProduct
from tests.conftest import FIXTURES
from tests.unit.gateway.conftest import UnitGateway, bearer

PHOTO = {"photo": base64.b64encode((FIXTURES / "coffee.png").read_bytes()).decode()}


async def _upload(gw: UnitGateway, name: str | None) -> str:
    reply = await gw.client.post("/upload-photo", json=PHOTO, headers=bearer(name) if name else {})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["task_id"])


@pytest.fixture
def public_library(gw: UnitGateway) -> Iterator[None]:
    product = gw.service.products["photos"]
    assert isinstance(product, PhotoProduct)
    product.settings = product.settings.model_copy(update={"public_library": True})
    yield


async def test_a_user_sees_only_their_own_tasks(gw: UnitGateway) -> None:
    alice, bob, anonymous = await _upload(gw, "alice"), await _upload(gw, "bob"), await _upload(gw, None)
    library = (await gw.client.get("/photos", headers=bearer("alice"))).json()
    assert [p["task_id"] for p in library["photos"]] == [alice] and library["total"] == 1
    for path in (
        f"/photos/{alice}",
        f"/photos/{alice}/status",
        f"/photos/{alice}/download",
        f"/photos/{alice}/music",
    ):
        assert (await gw.client.get(path, headers=bearer("bob"))).status_code == 404, path
        assert (await gw.client.get(path)).status_code == 404, path  # anonymous: another user's task
    assert (await gw.client.delete(f"/photos/{alice}", headers=bearer("bob"))).status_code == 404
    assert (await gw.client.get(f"/photos/{alice}", headers=bearer("alice"))).status_code == 200
    # the owner's download before the render is done: 409, not 404
    assert (await gw.client.get(f"/photos/{alice}/download", headers=bearer("alice"))).status_code == 409
    # an anonymous task is reachable by its id, by anyone, and in nobody's library
    assert (await gw.client.get(f"/photos/{anonymous}/status")).status_code == 200
    assert (await gw.client.get(f"/photos/{anonymous}", headers=bearer("bob"))).status_code == 200
    assert anonymous not in [
        p["task_id"] for p in (await gw.client.get("/photos", headers=bearer("bob"))).json()["photos"]
    ]
    assert bob in [
        p["task_id"] for p in (await gw.client.get("/photos", headers=bearer("bob"))).json()["photos"]
    ]


async def test_the_anonymous_library_is_closed_by_default(gw: UnitGateway) -> None:
    await _upload(gw, None)
    closed = await gw.client.get("/photos")
    assert closed.status_code == 401 and "task id" in closed.json()["details"]
    assert (
        await gw.client.get("/photos", headers={"Authorization": "Bearer revoked-alice"})
    ).status_code == 401


async def test_the_public_library_lists_anonymous_tasks_only(gw: UnitGateway, public_library: None) -> None:
    anonymous, mine = await _upload(gw, None), await _upload(gw, "dave")
    listed = [p["task_id"] for p in (await gw.client.get("/photos", params={"limit": 200})).json()["photos"]]
    assert anonymous in listed and mine not in listed


async def test_an_invalid_token_is_refused_not_ignored(gw: UnitGateway) -> None:
    reply = await gw.client.post("/upload-photo", json=PHOTO, headers={"Authorization": "Bearer revoked-x"})
    assert reply.status_code == 401
    task = await _upload(gw, None)
    assert (
        await gw.client.get(f"/photos/{task}", headers={"Authorization": "Bearer revoked-x"})
    ).status_code == 401


async def test_delete_removes_the_task_and_its_photo(gw: UnitGateway) -> None:
    task = await _upload(gw, "erin")
    stored = [o.key for o in await gw.runtime.storage.list("photos/")]
    assert any(k.startswith(f"photos/{task}.") for k in stored)
    assert (await gw.client.delete(f"/photos/{task}", headers=bearer("erin"))).status_code == 204
    assert (await gw.client.get(f"/photos/{task}", headers=bearer("erin"))).status_code == 404
    assert not any(o.key.startswith(f"photos/{task}.") for o in await gw.runtime.storage.list("photos/"))
