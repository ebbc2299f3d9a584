"""Contract tests of object storage: one suite, run against the local folder (served by the
embedded gateway's ``/objects`` route) and a real MinIO server.

put, get, stat, delete, list by prefix, streaming files, presigned GET fetched with plain
HTTP, and expiry honoured. Adapter-specific behaviour (key rules on disk, sidecars, URL
parsing) stays in ``tests/unit/test_storage.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from services.common.storage import (
    DEFAULT_CONTENT_TYPE,
    InvalidObjectKey,
    ObjectInfo,
    ObjectNotFound,
    ObjectStorage,
    S3ObjectStorage,
    create_storage,
)
from tests.integration import infra


class Store:
    """An adapter plus the prefix this test owns (every key lives under it)."""

    def __init__(self, storage: ObjectStorage, prefix: str) -> None:
        self.storage = storage
        self.prefix = prefix

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"


@pytest.fixture(params=["local", "minio"])
def backend(request: pytest.FixtureRequest) -> ObjectStorage:
    """The adapter under test: the embedded platform's local folder (its presigned URLs are
    served by the running gateway) or a client of the real MinIO server."""
    if request.param == "local":
        storage: ObjectStorage = request.getfixturevalue("embedded").runtime.storage
        return storage
    servers: infra.Endpoints = request.getfixturevalue("servers")
    return create_storage(servers.s3_url, public_base_url="http://unused", signing_key=b"")


@pytest.fixture
async def store(backend: ObjectStorage) -> AsyncIterator[Store]:
    await backend.start()
    s = Store(backend, f"contract-{uuid.uuid4().hex[:8]}/")
    try:
        yield s
    finally:
        for info in await backend.list(s.prefix):
            await backend.delete(info.key)
        assert await backend.list(s.prefix) == []
        if isinstance(backend, S3ObjectStorage):
            await backend.close()


async def test_put_get_stat_round_trip(store: Store) -> None:
    data = b"RIFF....WAVEfmt " * 100
    key = store.key("uploads/2024/a b ü.wav")
    before = datetime.now(UTC) - timedelta(seconds=5)
    info = await store.storage.put(key, data, "audio/wav")
    assert isinstance(info, ObjectInfo)
    assert (info.key, info.size, info.content_type) == (key, len(data), "audio/wav")
    assert info.etag == hashlib.md5(data).hexdigest()
    assert info.last_modified.utcoffset() == timedelta(0)
    assert before <= info.last_modified <= datetime.now(UTC) + timedelta(seconds=5)

    assert await store.storage.get(key) == data
    stat = await store.storage.stat(key)
    assert (stat.key, stat.size, stat.content_type, stat.etag) == (key, len(data), "audio/wav", info.etag)
    assert await store.storage.exists(key) is True
    assert await store.storage.exists(store.key("uploads/2024/other.wav")) is False


async def test_empty_object_and_default_content_type(store: Store) -> None:
    info = await store.storage.put(store.key("empty"), b"")
    assert info.size == 0
    assert info.content_type == DEFAULT_CONTENT_TYPE
    assert await store.storage.get(store.key("empty")) == b""


async def test_overwrite_replaces_content_and_metadata(store: Store) -> None:
    key = store.key("k.bin")
    await store.storage.put(key, b"first", "text/plain")
    await store.storage.put(key, b"second version", "application/json")
    assert await store.storage.get(key) == b"second version"
    stat = await store.storage.stat(key)
    assert (stat.size, stat.content_type) == (len(b"second version"), "application/json")


async def test_missing_objects_raise_object_not_found(store: Store, tmp_path: Path) -> None:
    key = store.key("nope/missing.wav")
    with pytest.raises(ObjectNotFound) as caught:
        await store.storage.get(key)
    assert caught.value.key == key
    with pytest.raises(ObjectNotFound):
        await store.storage.stat(key)
    with pytest.raises(ObjectNotFound):
        await store.storage.get_to_file(key, tmp_path / "out.wav")
    assert not (tmp_path / "out.wav").exists()


async def test_delete_is_idempotent(store: Store) -> None:
    key = store.key("deep/er/obj.txt")
    await store.storage.put(key, b"x")
    await store.storage.delete(key)
    assert await store.storage.exists(key) is False
    await store.storage.delete(key)  # again: fine
    await store.storage.delete(store.key("never/existed"))
    assert await store.storage.list(store.prefix) == []


async def test_list_by_prefix_sorted(store: Store) -> None:
    names = ["b/c/d.txt", "a/2", "ab", "a/1", "a/sub/3", "zz"]
    for name in names:
        await store.storage.put(store.key(name), name.encode(), "text/plain")
    everything = await store.storage.list(store.prefix)
    assert [o.key for o in everything] == sorted(store.key(n) for n in names)
    assert {o.key: o.size for o in everything} == {store.key(n): len(n) for n in names}
    assert [o.key for o in await store.storage.list(store.key("a"))] == [
        store.key(n) for n in ("a/1", "a/2", "a/sub/3", "ab")
    ]
    assert [o.key for o in await store.storage.list(store.key("a/"))] == [
        store.key(n) for n in ("a/1", "a/2", "a/sub/3")
    ]
    assert [o.key for o in await store.storage.list(store.key("a/s"))] == [store.key("a/sub/3")]
    assert await store.storage.list(store.key("nothing")) == []


async def test_put_file_and_get_to_file(store: Store, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    source = tmp_path / "in.bin"
    source.write_bytes(data)
    key = store.key("media/big.bin")
    info = await store.storage.put_file(key, source, "video/mp4")
    assert (info.size, info.content_type) == (len(data), "video/mp4")
    dest = tmp_path / "out" / "nested" / "copy.bin"
    await store.storage.get_to_file(key, dest)
    assert dest.read_bytes() == data
    assert [p.name for p in dest.parent.iterdir()] == ["copy.bin"]


async def test_bad_keys_are_refused_before_any_write(store: Store) -> None:
    for bad in ("../outside", "a//b", "/abs", "a\\b"):
        with pytest.raises(InvalidObjectKey):
            await store.storage.put(bad, b"x")
    assert await store.storage.list(store.prefix) == []


async def test_presigned_get_fetched_with_plain_http(store: Store) -> None:
    key = store.key("photos/my photo #1 ü.jpg")
    await store.storage.put(key, b"\xff\xd8jpeg bytes", "image/jpeg")
    url = await store.storage.presigned_get_url(key, timedelta(minutes=10))
    async with httpx.AsyncClient(timeout=30) as client:
        answer = await client.get(url)
        assert answer.status_code == 200
        assert answer.content == b"\xff\xd8jpeg bytes"
        # The signature covers the key: another key with the same query is refused.
        tampered = url.replace("photos/", "photoz/", 1)
        assert (await client.get(tampered)).status_code == 403


async def test_presigned_get_expiry_is_honoured(store: Store) -> None:
    key = store.key("short-lived.txt")
    await store.storage.put(key, b"soon gone", "text/plain")
    # S3 signs with a whole-second X-Amz-Date: a 2 s URL is valid for 1 to 2 s there.
    url = await store.storage.presigned_get_url(key, timedelta(seconds=2))
    async with httpx.AsyncClient(timeout=30) as client:
        assert (await client.get(url)).status_code == 200
        await asyncio.sleep(3.2)
        assert (await client.get(url)).status_code == 403


async def test_presigned_url_rejects_non_positive_expiry(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.storage.presigned_get_url(store.key("a"), timedelta(0))


async def test_check_reports_a_reachable_store(store: Store) -> None:
    await store.storage.check()


async def test_minio_check_fails_when_the_server_is_away() -> None:
    from services.common.storage import StorageUnavailable

    away = S3ObjectStorage("127.0.0.1:1", "nobody", "secret", "earshot", secure=False)
    with pytest.raises(StorageUnavailable):
        await asyncio.wait_for(away.check(), 60)
    await away.close()
