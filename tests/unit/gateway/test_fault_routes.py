"""Storage and database faults through the real gateway app (issue 15 part 3): every route
answers 503 naming the dependency in the JSON error shape, ``/ready`` names it, nothing is
stored half way, and the next request after the fault works (no restart)."""

from __future__ import annotations

import base64
import errno
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from services.common.storage import DEFAULT_CONTENT_TYPE, ObjectInfo, ObjectStorage, StorageUnavailable
from tests.conftest import FIXTURES
from tests.unit.gateway.conftest import UnitGateway, bearer
from tests.unit.test_faults import Fault, short_read_only_ttl  # noqa: F401 - autouse fixture

PHOTO = {"photo": base64.b64encode((FIXTURES / "coffee.png").read_bytes()).decode()}


class FailingStorage(ObjectStorage):
    """The real store, or a failure on every call while ``failure`` is set: a folder that
    became read-only (raw ``OSError``, as a careless adapter would let through), an S3 service
    that refuses writes (``StorageUnavailable``)."""

    def __init__(self, real: ObjectStorage) -> None:
        self.real = real
        self.failure: BaseException | None = None

    def _fail(self) -> None:
        if self.failure is not None:
            raise self.failure

    async def put(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> ObjectInfo:
        self._fail()
        return await self.real.put(key, data, content_type)

    async def put_file(self, key: str, path: Any, content_type: str = DEFAULT_CONTENT_TYPE) -> ObjectInfo:
        self._fail()
        return await self.real.put_file(key, path, content_type)

    async def get(self, key: str) -> bytes:
        self._fail()
        return await self.real.get(key)

    async def get_to_file(self, key: str, path: Any) -> None:
        self._fail()
        await self.real.get_to_file(key, path)

    async def stat(self, key: str) -> ObjectInfo:
        self._fail()
        return await self.real.stat(key)

    async def delete(self, key: str) -> None:
        self._fail()
        await self.real.delete(key)

    async def list(self, prefix: str = "") -> list[ObjectInfo]:
        return await self.real.list(prefix)  # the test's own view of what was stored

    async def presigned_get_url(self, key: str, expires: timedelta) -> str:
        return await self.real.presigned_get_url(key, expires)

    async def check(self) -> None:
        if self.failure is not None:
            raise StorageUnavailable(f"probe failed: {self.failure}")
        await self.real.check()


@pytest.fixture
def storage(gw: UnitGateway) -> Iterator[FailingStorage]:
    runtime = gw.service.runtime
    real = runtime.storage
    failing = FailingStorage(real)
    runtime.storage = failing
    yield failing
    runtime.storage = real


def _assert_unavailable(reply: Any, dependency: str) -> None:
    assert reply.status_code == 503, reply.text
    body = reply.json()
    assert set(body) >= {"error", "details", "timestamp"}, body
    assert body["error"] == f"{dependency.capitalize()} unavailable"
    assert dependency in body["details"]
    assert reply.headers["retry-after"] == "5"


async def _ready(gw: UnitGateway) -> dict[str, Any]:
    probes = getattr(gw.service.app.state, "probes", {})
    if "ready" in probes:
        probes["ready"].clear()  # the answer is reused for a second: ask afresh
    reply = await gw.client.get("/ready")
    body: dict[str, Any] = reply.json()
    body["status_code"] = reply.status_code
    return body


async def _photo_ids(gw: UnitGateway, name: str) -> list[str]:
    reply = await gw.client.get("/photos", headers=bearer(name))
    assert reply.status_code == 200, reply.text
    return [p["task_id"] for p in reply.json()["photos"]]


@pytest.mark.parametrize(
    "failure",
    [
        OSError(errno.EROFS, "Read-only file system"),
        PermissionError(errno.EACCES, "Permission denied"),
        StorageUnavailable("bucket refuses writes"),
    ],
    ids=["read-only", "permission", "s3-refuses"],
)
async def test_storage_fault_is_503_and_recovers(
    gw: UnitGateway, storage: FailingStorage, failure: BaseException
) -> None:
    name = f"st-{type(failure).__name__.lower()}"
    objects_before = len(await storage.list("photos/"))
    storage.failure = failure
    for _ in range(2):
        _assert_unavailable(
            await gw.client.post("/upload-photo", json=PHOTO, headers=bearer(name)), "storage"
        )
    ready = await _ready(gw)
    assert ready["status_code"] == 503 and ready["checks"]["storage"].startswith("error")
    assert ready["checks"]["database"] == "ok"
    assert await _photo_ids(gw, name) == []  # no task row without its photo
    assert (await gw.client.get("/health")).status_code == 200

    storage.failure = None
    reply = await gw.client.post("/upload-photo", json=PHOTO, headers=bearer(name))
    assert reply.status_code == 200, reply.text
    assert await _photo_ids(gw, name) == [reply.json()["task_id"]]
    assert len(await storage.list("photos/")) == objects_before + 1
    assert (await _ready(gw))["checks"]["storage"] == "ok"


@pytest.mark.parametrize("mode", ["read-only", "full", "journal", "unreachable"])
async def test_database_fault_is_503_and_recovers(
    gw: UnitGateway, storage: FailingStorage, mode: str
) -> None:
    assert gw.service.ctx is not None
    name = f"db-{mode}"
    objects_before = await storage.list("photos/")
    fault = Fault(gw.service.ctx.engine)
    await fault.start(mode)
    try:
        for _ in range(2):
            reply = await gw.client.post("/upload-photo", json=PHOTO, headers=bearer(name))
            _assert_unavailable(reply, "database")
        if mode == "unreachable":
            _assert_unavailable(await gw.client.get("/photos", headers=bearer(name)), "database")
            ready = await _ready(gw)
            assert ready["status_code"] == 503 and ready["checks"]["database"].startswith("error")
        assert await storage.list("photos/") == objects_before  # the photo was removed again
        assert (await gw.client.get("/health")).status_code == 200
        assert (await gw.client.get("/livez")).status_code == 200
    finally:
        await fault.stop()
    # the same engine and pool, no restart: the next request works
    reply = await gw.client.post("/upload-photo", json=PHOTO, headers=bearer(name))
    assert reply.status_code == 200, reply.text
    assert await _photo_ids(gw, name) == [reply.json()["task_id"]]
    ready = await _ready(gw)
    assert ready["checks"]["database"] == "ok", ready


async def test_an_unexpected_os_error_is_still_a_500(gw: UnitGateway, storage: FailingStorage) -> None:
    storage.failure = IsADirectoryError(errno.EISDIR, "Is a directory", str(Path("/x")))
    reply = await gw.client.post("/upload-photo", json=PHOTO, headers=bearer("bug"))
    assert reply.status_code == 500
    assert set(reply.json()) >= {"error", "details", "timestamp"}


async def test_a_temp_disk_that_refuses_the_spooled_upload_is_503_not_400(
    gw: UnitGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    from starlette.requests import Request

    async def read_only_disk(self: Request, **kwargs: Any) -> Any:
        raise OSError(errno.EROFS, "Read-only file system")

    files = {"photo": ("coffee.png", (FIXTURES / "coffee.png").read_bytes(), "image/png")}
    with monkeypatch.context() as patch:
        patch.setattr(Request, "form", read_only_disk)
        reply = await gw.client.post("/upload-photo", files=files, headers=bearer("spool"))
        _assert_unavailable(reply, "storage")
    reply = await gw.client.post("/upload-photo", files=files, headers=bearer("spool"))
    assert reply.status_code == 200, reply.text
