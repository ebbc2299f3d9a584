"""Contract tests for object storage: LocalObjectStorage end to end, plus URL parsing
and offline behaviour of the S3 adapter (no server needed)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from services.common.storage import (
    DEFAULT_CONTENT_TYPE,
    InvalidObjectKey,
    LocalObjectStorage,
    ObjectInfo,
    ObjectNotFound,
    S3ObjectStorage,
    StorageUnavailable,
    create_storage,
    validate_key,
    verify_local_signature,
)

SIGNING_KEY = b"k" * 32
BASE_URL = "http://gateway.test:8000"

BAD_KEYS = [
    "",
    "/etc/passwd",
    "..",
    "../outside",
    "a/../../b",
    "a/..",
    "a\\b",
    "a\x00b",
    "a\nb",
    "a//b",
    "a/",
    "./a",
    ".earshot-meta/x",
    "a/.earshot-tmp-123",
    "x" * 1025,
    "a/" + "y" * 256,
]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "objects"


@pytest.fixture
def storage(root: Path) -> LocalObjectStorage:
    return LocalObjectStorage(root, public_base_url=BASE_URL + "/", signing_key=SIGNING_KEY)


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# --- put / get / stat / exists --------------------------------------------------------------


async def test_put_get_stat_round_trip(storage: LocalObjectStorage) -> None:
    data = b"RIFF....WAVEfmt " * 100
    before = datetime.now(UTC) - timedelta(seconds=2)
    info = await storage.put("uploads/2024/a b ü.wav", data, "audio/wav")

    assert isinstance(info, ObjectInfo)
    assert info.key == "uploads/2024/a b ü.wav"
    assert info.size == len(data)
    assert info.content_type == "audio/wav"
    assert info.etag == hashlib.md5(data).hexdigest()
    assert info.last_modified.tzinfo is not None
    assert info.last_modified.utcoffset() == timedelta(0)
    assert before <= info.last_modified <= datetime.now(UTC) + timedelta(seconds=2)

    assert await storage.get("uploads/2024/a b ü.wav") == data
    assert await storage.stat("uploads/2024/a b ü.wav") == info
    assert await storage.exists("uploads/2024/a b ü.wav") is True
    assert await storage.exists("uploads/2024/other.wav") is False
    assert (storage.root / "uploads" / "2024" / "a b ü.wav").read_bytes() == data


async def test_put_defaults_and_empty_object(storage: LocalObjectStorage) -> None:
    info = await storage.put("empty", b"")
    assert info.size == 0
    assert info.content_type == DEFAULT_CONTENT_TYPE
    assert info.etag == hashlib.md5(b"").hexdigest()
    assert await storage.get("empty") == b""


async def test_put_accepts_bytearray_and_memoryview(storage: LocalObjectStorage) -> None:
    await storage.put("ba", bytearray(b"abc"))
    await storage.put("mv", memoryview(b"xyz"))
    assert await storage.get("ba") == b"abc"
    assert await storage.get("mv") == b"xyz"


async def test_overwrite_replaces_content_and_metadata(storage: LocalObjectStorage) -> None:
    await storage.put("k.bin", b"first", "text/plain")
    info = await storage.put("k.bin", b"second version", "application/json")
    assert await storage.get("k.bin") == b"second version"
    stat = await storage.stat("k.bin")
    assert stat == info
    assert stat.content_type == "application/json"
    assert stat.size == len(b"second version")


async def test_writes_leave_no_temp_files(storage: LocalObjectStorage) -> None:
    await storage.put("a/b/c.txt", b"1")
    await storage.put("a/b/c.txt", b"2")
    leftovers = [p for p in storage.root.rglob("*") if p.is_file() and ".earshot-tmp" in str(p)]
    assert leftovers == []
    assert [i.key for i in await storage.list("")] == ["a/b/c.txt"]


async def test_start_removes_the_temp_files_of_killed_writers_only(storage: LocalObjectStorage) -> None:
    import sys

    child = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await child.wait()
    dead_pid = child.pid  # exited: no process with this id runs (pids are not reused this fast)
    folder = storage.root / ".earshot-tmp"
    folder.mkdir(parents=True)
    (folder / f"{dead_pid}-abc").write_bytes(b"half an object")  # a writer killed mid-write
    (folder / f"{os.getpid()}-def").write_bytes(b"in progress")  # a running writer's
    old = folder / f"{os.getpid()}-old"
    old.write_bytes(b"ancient")
    os.utime(old, (time.time() - 2 * storage.STALE_TEMP_S,) * 2)
    (folder / "not-a-pid").write_bytes(b"?")
    await storage.start()
    assert sorted(p.name for p in folder.iterdir()) == [f"{os.getpid()}-def"]
    assert storage.sweep_temp_files() == []  # nothing more to remove


async def test_missing_objects_raise_object_not_found(storage: LocalObjectStorage, tmp_path: Path) -> None:
    with pytest.raises(ObjectNotFound) as caught:
        await storage.get("nope/missing.wav")
    assert isinstance(caught.value, KeyError)
    assert caught.value.key == "nope/missing.wav"
    assert "nope/missing.wav" in str(caught.value)
    with pytest.raises(ObjectNotFound):
        await storage.stat("nope/missing.wav")
    with pytest.raises(ObjectNotFound):
        await storage.get_to_file("nope/missing.wav", tmp_path / "out.wav")
    assert not (tmp_path / "out.wav").exists()
    with pytest.raises(ObjectNotFound):
        storage.open_path("nope/missing.wav")


async def test_a_folder_of_objects_is_not_an_object(storage: LocalObjectStorage) -> None:
    await storage.put("dir/inner", b"x")
    assert await storage.exists("dir") is False
    with pytest.raises(ObjectNotFound):
        await storage.get("dir")
    await storage.delete("dir")  # a no-op: it is not an object
    assert await storage.get("dir/inner") == b"x"


async def test_key_conflicts_with_folder_structure(storage: LocalObjectStorage) -> None:
    await storage.put("a", b"file")
    with pytest.raises(InvalidObjectKey):
        await storage.put("a/b", b"under a file")
    await storage.put("x/y", b"nested")
    with pytest.raises(InvalidObjectKey):
        await storage.put("x", b"over a folder")
    assert await storage.get("a") == b"file"
    assert await storage.get("x/y") == b"nested"


# --- delete ---------------------------------------------------------------------------------


async def test_delete_is_idempotent_and_prunes_empty_folders(storage: LocalObjectStorage) -> None:
    await storage.put("keep/me.txt", b"k")
    await storage.put("deep/er/still/obj.txt", b"x")
    await storage.delete("deep/er/still/obj.txt")
    assert await storage.exists("deep/er/still/obj.txt") is False
    assert not (storage.root / "deep").exists()
    await storage.delete("deep/er/still/obj.txt")  # again: fine
    await storage.delete("never/existed")
    await storage.delete("keep/me.txt")
    # data and sidecar folders all pruned; the (empty) folder of temporary files stays
    assert _files(storage.root) == [".earshot-tmp"]
    assert storage.root.is_dir()


# --- list -----------------------------------------------------------------------------------


async def test_list_by_prefix_sorted(storage: LocalObjectStorage) -> None:
    keys = ["b/c/d.txt", "a/2", "ab", "a/1", "a/sub/3", "zz"]
    for key in keys:
        await storage.put(key, key.encode(), "text/plain")

    everything = await storage.list()
    assert [o.key for o in everything] == sorted(keys)
    assert all(o.content_type == "text/plain" for o in everything)
    assert {o.key: o.size for o in everything} == {k: len(k) for k in keys}

    assert [o.key for o in await storage.list("a")] == ["a/1", "a/2", "a/sub/3", "ab"]
    assert [o.key for o in await storage.list("a/")] == ["a/1", "a/2", "a/sub/3"]
    assert [o.key for o in await storage.list("a/s")] == ["a/sub/3"]
    assert [o.key for o in await storage.list("b/c/d.txt")] == ["b/c/d.txt"]
    assert await storage.list("nothing") == []
    assert await storage.list("../") == []
    assert await storage.list("a//") == []


async def test_list_on_missing_root_is_empty(tmp_path: Path) -> None:
    fresh = LocalObjectStorage(tmp_path / "never-created", BASE_URL, SIGNING_KEY)
    assert await fresh.list() == []


async def test_list_skips_internal_files(storage: LocalObjectStorage) -> None:
    await storage.put("only.txt", b"1")
    (storage.root / ".earshot-tmp-stray").write_bytes(b"half written")
    assert [o.key for o in await storage.list()] == ["only.txt"]


# --- streaming files ------------------------------------------------------------------------


async def test_put_file_and_get_to_file(storage: LocalObjectStorage, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)  # several read chunks
    source = tmp_path / "in.bin"
    source.write_bytes(data)
    info = await storage.put_file("media/big.bin", source, "video/mp4")
    assert info.size == len(data)
    assert info.etag == hashlib.md5(data).hexdigest()
    assert info.content_type == "video/mp4"
    assert await storage.stat("media/big.bin") == info

    dest = tmp_path / "out" / "nested" / "copy.bin"
    await storage.get_to_file("media/big.bin", dest)
    assert dest.read_bytes() == data
    await storage.get_to_file("media/big.bin", str(dest))  # overwrite, str path
    assert dest.read_bytes() == data
    assert [p.name for p in dest.parent.iterdir()] == ["copy.bin"]


async def test_put_file_missing_source(storage: LocalObjectStorage, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        await storage.put_file("x", tmp_path / "absent.wav")
    assert await storage.exists("x") is False


# --- keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_bad_keys_are_rejected_everywhere(
    storage: LocalObjectStorage, key: str, tmp_path: Path
) -> None:
    with pytest.raises(InvalidObjectKey):
        validate_key(key)
    with pytest.raises(InvalidObjectKey):
        await storage.put(key, b"x")
    with pytest.raises(InvalidObjectKey):
        await storage.get(key)
    with pytest.raises(InvalidObjectKey):
        await storage.stat(key)
    with pytest.raises(InvalidObjectKey):
        await storage.exists(key)
    with pytest.raises(InvalidObjectKey):
        await storage.delete(key)
    with pytest.raises(InvalidObjectKey):
        await storage.put_file(key, tmp_path)
    with pytest.raises(InvalidObjectKey):
        await storage.presigned_get_url(key, timedelta(minutes=1))
    with pytest.raises(InvalidObjectKey):
        storage.open_path(key)
    assert not storage.root.exists() or _files(storage.root) == []
    assert not (tmp_path / "outside").exists()


def test_invalid_key_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="'..' segments"):
        validate_key("a/../b")
    assert validate_key("a/b..c/.hidden/..x") == "a/b..c/.hidden/..x"


# --- presigned URLs -------------------------------------------------------------------------


async def test_presigned_url_verifies(storage: LocalObjectStorage) -> None:
    key = "photos/my photo #1 ü.jpg"
    await storage.put(key, b"jpeg", "image/jpeg")
    url = await storage.presigned_get_url(key, timedelta(minutes=10))

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == BASE_URL
    assert parts.path.startswith("/objects/")
    assert " " not in url and "#" not in parts.path
    path_key = unquote(parts.path.removeprefix("/objects/"))
    assert path_key == key
    query = parse_qs(parts.query)
    expires = int(query["expires"][0])
    signature = query["signature"][0]
    assert time.time() + 590 <= expires <= time.time() + 610
    assert len(signature) == 64

    assert verify_local_signature(SIGNING_KEY, path_key, expires, signature) is True
    assert storage.verify(path_key, expires, signature) is True
    assert storage.signing_key == SIGNING_KEY
    assert storage.open_path(path_key).read_bytes() == b"jpeg"


async def test_tampered_or_expired_signatures_fail(storage: LocalObjectStorage) -> None:
    url = await storage.presigned_get_url("a/b.wav", timedelta(seconds=60))
    query = parse_qs(urlsplit(url).query)
    expires, signature = int(query["expires"][0]), query["signature"][0]
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]

    assert verify_local_signature(SIGNING_KEY, "a/b.wav", expires, signature)
    assert not verify_local_signature(SIGNING_KEY, "a/b.wav", expires, flipped)
    assert not verify_local_signature(SIGNING_KEY, "a/c.wav", expires, signature)
    assert not verify_local_signature(SIGNING_KEY, "a/b.wav", expires + 3600, signature)
    assert not verify_local_signature(b"other key", "a/b.wav", expires, signature)
    assert not verify_local_signature(SIGNING_KEY, "a/b.wav", expires, signature, now=expires + 1)
    assert verify_local_signature(SIGNING_KEY, "a/b.wav", expires, signature, now=expires)
    assert not verify_local_signature(SIGNING_KEY, "a/b.wav", expires, "")
    assert not verify_local_signature(SIGNING_KEY, "a/b.wav", expires, "zz" * 32)
    assert not verify_local_signature(SIGNING_KEY, "a/b.wav", expires, "é" * 64)
    assert not verify_local_signature(SIGNING_KEY, "../b.wav", expires, signature)
    assert not verify_local_signature(b"", "a/b.wav", expires, signature)


async def test_presigned_url_rejects_non_positive_expiry(storage: LocalObjectStorage) -> None:
    with pytest.raises(ValueError):
        await storage.presigned_get_url("a", timedelta(0))
    with pytest.raises(ValueError):
        await storage.presigned_get_url("a", timedelta(seconds=-5))


# --- robustness -----------------------------------------------------------------------------


async def test_files_written_outside_the_store_get_computed_metadata(storage: LocalObjectStorage) -> None:
    await storage.start()
    (storage.root / "manual").mkdir()
    (storage.root / "manual" / "clip.wav").write_bytes(b"external")
    info = await storage.stat("manual/clip.wav")
    assert info.etag == hashlib.md5(b"external").hexdigest()
    assert info.content_type in ("audio/wav", "audio/x-wav")
    assert info.size == len(b"external")

    # A file changed behind the store's back: the stale sidecar is not trusted.
    await storage.put("changed.txt", b"original", "text/plain")
    path = storage.open_path("changed.txt")
    path.write_bytes(b"edited outside the store!")
    info = await storage.stat("changed.txt")
    assert info.etag == hashlib.md5(b"edited outside the store!").hexdigest()
    assert info.size == len(b"edited outside the store!")

    # ...even when the size stays the same (the modification time tells).
    await storage.put("same-size.txt", b"original", "text/plain")
    path = storage.open_path("same-size.txt")
    before = path.stat()
    path.write_bytes(b"ORIGINAL")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    info = await storage.stat("same-size.txt")
    assert info.etag == hashlib.md5(b"ORIGINAL").hexdigest()


async def test_concurrent_writes_keep_metadata_consistent(storage: LocalObjectStorage) -> None:
    payloads = [os.urandom(1000 + i) for i in range(20)]
    await asyncio.gather(*(storage.put("race", p, f"x/type-{len(p)}") for p in payloads))
    data = await storage.get("race")
    info = await storage.stat("race")
    assert data in payloads
    assert info.etag == hashlib.md5(data).hexdigest()
    assert info.content_type == f"x/type-{len(data)}"


async def test_check_and_lifecycle(storage: LocalObjectStorage, tmp_path: Path) -> None:
    async with storage as opened:
        assert opened is storage
        assert storage.root.is_dir()
        await storage.check()
    assert _files(storage.root) == []

    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"a file where the folder should be")
    broken = LocalObjectStorage(blocker / "objects", BASE_URL, SIGNING_KEY)
    with pytest.raises(StorageUnavailable):
        await broken.check()


def test_local_storage_requires_a_signing_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        LocalObjectStorage(tmp_path, BASE_URL, b"")
    with pytest.raises(ValueError):
        LocalObjectStorage(tmp_path, "", SIGNING_KEY)


# --- create_storage -------------------------------------------------------------------------


def test_create_storage_file_url(tmp_path: Path) -> None:
    store = create_storage(f"file://{tmp_path}/objs", public_base_url=BASE_URL, signing_key=SIGNING_KEY)
    assert isinstance(store, LocalObjectStorage)
    assert store.root == tmp_path / "objs"
    spaced = create_storage("file:///srv/my%20objects", public_base_url=BASE_URL, signing_key=SIGNING_KEY)
    assert isinstance(spaced, LocalObjectStorage)
    assert spaced.root == Path("/srv/my objects")


def test_create_storage_s3_urls() -> None:
    store = create_storage(
        "s3://AK%2FID:se%40cr%3Aet@minio.internal:9000/earshot-media?region=eu-west-1",
        public_base_url=BASE_URL,
        signing_key=SIGNING_KEY,
    )
    assert isinstance(store, S3ObjectStorage)
    assert store.endpoint == "minio.internal:9000"
    assert store.bucket == "earshot-media"
    assert store.secure is True
    assert store.region == "eu-west-1"
    assert store._client._provider.retrieve().access_key == "AK/ID"
    assert store._client._provider.retrieve().secret_key == "se@cr:et"

    plain = create_storage("s3+http://a:b@localhost:9000/bucket", public_base_url=BASE_URL, signing_key=b"")
    assert isinstance(plain, S3ObjectStorage)
    assert plain.secure is False
    assert plain.region is None
    tls = create_storage("s3+https://a:b@s3.example.com/bucket", public_base_url=BASE_URL, signing_key=b"")
    assert isinstance(tls, S3ObjectStorage)
    assert tls.secure is True
    assert tls.endpoint == "s3.example.com"


async def test_s3_presigned_urls_are_signed_offline() -> None:
    store = create_storage(
        "s3+http://AKIA:SECRET@minio:9000/media?region=us-east-1&public_endpoint=https://cdn.example.com",
        public_base_url=BASE_URL,
        signing_key=b"",
    )
    url = await store.presigned_get_url("audio/a b.wav", timedelta(hours=1))
    parts = urlsplit(url)
    assert parts.scheme == "https" and parts.netloc == "cdn.example.com"
    assert unquote(parts.path) == "/media/audio/a b.wav"
    query = parse_qs(parts.query)
    assert query["X-Amz-Expires"] == ["3600"]
    assert "X-Amz-Signature" in query
    with pytest.raises(ValueError):
        await store.presigned_get_url("x", timedelta(days=8))
    with pytest.raises(InvalidObjectKey):
        await store.put("../x", b"")
    await store.close()


@pytest.mark.parametrize(
    "url",
    [
        "",
        "not a url",
        "ftp://host/bucket",
        "file://relative/path",
        "file:///",
        "file:///abs?x=1",
        "s3://minio:9000/bucket",
        "s3://user@minio:9000/bucket",
        "s3://:secret@minio:9000/bucket",
        "s3://a:b@minio:9000",
        "s3://a:b@minio:9000/",
        "s3://a:b@minio:9000/bucket/extra",
        "s3://a:b@minio:9000/Bad_Bucket",
        "s3://a:b@minio:notaport/bucket",
        "s3://a:b@/bucket",
        "s3://a:b@minio/bucket?regoin=eu",
        "s3://a:b@minio/bucket?public_endpoint=ftp://x",
    ],
)
def test_create_storage_rejects_bad_urls(url: str) -> None:
    with pytest.raises(ValueError):
        create_storage(url, public_base_url=BASE_URL, signing_key=SIGNING_KEY)


def test_create_storage_errors_hide_the_secret() -> None:
    with pytest.raises(ValueError) as caught:
        create_storage("s3://user:topsecret@minio:9000/Bad_Bucket", public_base_url=BASE_URL, signing_key=b"")
    assert "topsecret" not in str(caught.value)
    assert "Bad_Bucket" in str(caught.value)


async def test_s3_check_raises_when_unreachable() -> None:
    store = create_storage("s3+http://a:b@127.0.0.1:1/bucket", public_base_url=BASE_URL, signing_key=b"")
    with pytest.raises(StorageUnavailable):
        await store.check()
    await store.close()
