"""Object storage for audio, photos, videos and other large results.

One abstract interface, :class:`ObjectStorage`, with two adapters chosen by URL
(:func:`create_storage`):

* ``file:///abs/path`` -> :class:`LocalObjectStorage`: objects are plain files
  under a folder (the embedded mode); presigned URLs point at the gateway's
  ``GET /objects/{key}`` route and are checked with :func:`verify_local_signature`.
* ``s3://ACCESS:SECRET@host:port/bucket`` (HTTPS) or ``s3+http://...`` (plain
  HTTP) -> :class:`S3ObjectStorage` on MinIO or any S3-compatible service,
  through the official ``minio`` client.

Keys are ``/``-separated relative paths such as ``uploads/2024/abc.wav``; the
same rules apply to every adapter (:func:`validate_key`), so code that works
on the local folder works on S3. Sizes are in bytes, times are timezone-aware
UTC :class:`~datetime.datetime` values, ETags are lowercase hex strings without
quotes (an MD5 of the content for single-part uploads).

All methods are ``async``; blocking file and network IO runs in worker threads
through :func:`asyncio.to_thread`, so the event loop is never blocked.
"""

from __future__ import annotations

import abc
import asyncio
import builtins
import contextlib
import email.utils
import errno
import hashlib
import hmac
import io
import json
import math
import mimetypes
import os
import re
import stat as stat_module
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from services.common.faults import DISK_FAULT_ERRNOS, STORAGE, DependencyUnavailable

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "InvalidObjectKey",
    "LocalObjectStorage",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStorage",
    "S3ObjectStorage",
    "StorageUnavailable",
    "create_storage",
    "sign_local_url",
    "validate_key",
    "verify_local_signature",
]

DEFAULT_CONTENT_TYPE = "application/octet-stream"
"""Content type used when none is given (and for local objects whose metadata is lost)."""

MAX_KEY_BYTES = 1024
"""Longest key accepted, in UTF-8 bytes (the S3 limit)."""

MAX_SEGMENT_BYTES = 255
"""Longest ``/``-separated key segment, in UTF-8 bytes (the usual file-name limit)."""

RESERVED_PREFIX = ".earshot-"
"""Key segments may not start with this: the local adapter keeps its own files under it."""

_FOLDER_CONFLICT = "other objects are stored under this key as a folder"
_CHUNK = 1024 * 1024  # bytes copied per read when streaming files
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_BUCKET_NAME = re.compile(r"^(?!\d+\.\d+\.\d+\.\d+$)(?!xn--)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


# --------------------------------------------------------------------------------------
# Data and errors
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """Metadata of one stored object.

    Attributes:
        key: the object key, e.g. ``"uploads/abc.wav"``.
        size: content length in bytes.
        content_type: MIME type given when the object was stored.
        etag: entity tag, lowercase hex without quotes (MD5 of the content for
            objects written in one part; S3 multipart uploads carry a ``-N`` suffix).
        last_modified: when the object was last written, timezone-aware UTC.
    """

    key: str
    size: int
    content_type: str
    etag: str
    last_modified: datetime


class ObjectNotFound(KeyError):
    """Raised when an object does not exist. ``key`` holds the missing key."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        return f"object not found: {self.key!r}"


class InvalidObjectKey(ValueError):
    """Raised for a key that breaks the key rules (see :func:`validate_key`).

    Also raised by the local adapter when a key collides with the folder
    structure of other keys (``a`` and ``a/b`` cannot both exist on a file
    system). ``key`` holds the offending key.
    """

    def __init__(self, key: object, reason: str) -> None:
        super().__init__(f"invalid object key {key!r}: {reason}")
        self.key = key
        self.reason = reason


class StorageUnavailable(DependencyUnavailable):
    """The store cannot be reached, read or written right now (a folder that is read-only or
    full, an S3 service that is down or refuses the request). Raised by :meth:`ObjectStorage.check`
    and by every operation; callers answer it with 503 (:mod:`services.common.faults`)."""

    dependency = STORAGE


async def _on_disk(root: Path, fn: Any, *args: Any) -> Any:
    """Run ``fn(*args)`` in a worker thread; a disk fault becomes :class:`StorageUnavailable`."""
    try:
        return await asyncio.to_thread(fn, *args)
    except OSError as exc:
        if exc.errno in DISK_FAULT_ERRNOS:
            raise StorageUnavailable(f"object folder {str(root)!r} refused the operation: {exc}") from exc
        raise


def validate_key(key: str) -> str:
    """Check an object key and return it unchanged.

    A valid key is a non-empty relative path of ``/``-separated segments, at
    most :data:`MAX_KEY_BYTES` UTF-8 bytes, where no segment is empty, ``.``
    or ``..``, longer than :data:`MAX_SEGMENT_BYTES` bytes, or starts with
    :data:`RESERVED_PREFIX`; and which contains no backslash, NUL or other
    control character.

    Raises:
        InvalidObjectKey: naming the rule the key breaks.
    """
    if not isinstance(key, str):
        raise InvalidObjectKey(key, "must be a string")
    if not key:
        raise InvalidObjectKey(key, "must not be empty")
    if "\x00" in key:
        raise InvalidObjectKey(key, "must not contain NUL")
    if "\\" in key:
        raise InvalidObjectKey(key, "must not contain backslashes")
    if _CONTROL_CHARS.search(key):
        raise InvalidObjectKey(key, "must not contain control characters")
    if key.startswith("/"):
        raise InvalidObjectKey(key, "must be relative (no leading '/')")
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidObjectKey(key, "must be valid Unicode text") from None
    if len(encoded) > MAX_KEY_BYTES:
        raise InvalidObjectKey(key, f"must be at most {MAX_KEY_BYTES} UTF-8 bytes")
    for segment in key.split("/"):
        if segment == "..":
            raise InvalidObjectKey(key, "must not contain '..' segments")
        if segment == ".":
            raise InvalidObjectKey(key, "must not contain '.' segments")
        if not segment:
            raise InvalidObjectKey(key, "must not contain empty segments (leading, trailing or double '/')")
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise InvalidObjectKey(key, f"segments must be at most {MAX_SEGMENT_BYTES} UTF-8 bytes")
        if segment.startswith(RESERVED_PREFIX):
            raise InvalidObjectKey(key, f"segments must not start with the reserved {RESERVED_PREFIX!r}")
    return key


def _prefix_can_match(prefix: str) -> bool:
    """Whether any valid key can start with ``prefix`` (checks its complete segments)."""
    head, sep, _ = prefix.rpartition("/")
    if not sep:
        return "\\" not in prefix and "\x00" not in prefix
    try:
        validate_key(head)
    except InvalidObjectKey:
        return False
    return True


# --------------------------------------------------------------------------------------
# The interface
# --------------------------------------------------------------------------------------


class ObjectStorage(abc.ABC):
    """An async key/value store for large binary objects.

    Use it as an async context manager (``async with storage: ...``) or call
    :meth:`start` and :meth:`close` yourself. Every key argument is checked
    with :func:`validate_key` and may raise :class:`InvalidObjectKey`. Every
    operation raises :class:`StorageUnavailable` when the store cannot be used
    right now (read-only or full folder, S3 service down or refusing the request).
    """

    async def start(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Prepare the store (create the folder or bucket). Safe to call more than once."""

    async def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release connections and other resources. Safe to call more than once."""

    async def __aenter__(self) -> ObjectStorage:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @abc.abstractmethod
    async def put(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> ObjectInfo:
        """Store ``data`` under ``key``, replacing any existing object atomically.

        Returns:
            The stored object's :class:`ObjectInfo`.
        Raises:
            InvalidObjectKey: bad key.
        """

    @abc.abstractmethod
    async def put_file(
        self, key: str, path: str | os.PathLike[str], content_type: str = DEFAULT_CONTENT_TYPE
    ) -> ObjectInfo:
        """Store the file at ``path`` under ``key``, streaming it (never read whole into memory).

        Returns:
            The stored object's :class:`ObjectInfo`.
        Raises:
            InvalidObjectKey: bad key.
            FileNotFoundError: ``path`` does not exist.
        """

    @abc.abstractmethod
    async def get(self, key: str) -> bytes:
        """Return the whole content of ``key``.

        Raises:
            ObjectNotFound: no such object.
            InvalidObjectKey: bad key.
        """

    @abc.abstractmethod
    async def get_to_file(self, key: str, path: str | os.PathLike[str]) -> None:
        """Stream the content of ``key`` into the file at ``path``.

        Parent folders are created; the file appears atomically once complete.

        Raises:
            ObjectNotFound: no such object.
            InvalidObjectKey: bad key.
        """

    @abc.abstractmethod
    async def stat(self, key: str) -> ObjectInfo:
        """Return the metadata of ``key``.

        Raises:
            ObjectNotFound: no such object.
            InvalidObjectKey: bad key.
        """

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``.

        Raises:
            InvalidObjectKey: bad key.
        """
        try:
            await self.stat(key)
        except ObjectNotFound:
            return False
        return True

    @abc.abstractmethod
    async def delete(self, key: str) -> None:
        """Delete ``key``; deleting a missing key is not an error.

        Raises:
            InvalidObjectKey: bad key.
        """

    @abc.abstractmethod
    async def list(self, prefix: str = "") -> list[ObjectInfo]:
        """Return every object whose key starts with ``prefix`` (a plain string
        prefix, not only whole segments), sorted by key."""

    @abc.abstractmethod
    async def presigned_get_url(self, key: str, expires: timedelta) -> str:
        """Return a URL that lets anyone holding it download ``key`` until ``expires`` from now.

        The object need not exist yet. ``expires`` must be positive (S3 caps it at 7 days).

        Raises:
            InvalidObjectKey: bad key.
            ValueError: ``expires`` out of range.
        """

    @abc.abstractmethod
    async def check(self) -> None:
        """Readiness probe: return when the store is reachable and writable.

        Raises:
            StorageUnavailable: the store cannot be reached, created or written.
        """


def _check_expires(expires: timedelta) -> int:
    seconds = int(expires.total_seconds())
    if seconds < 1:
        raise ValueError(f"expires must be at least one second, got {expires!r}")
    return seconds


def _content_type(value: str | None) -> str:
    value = (value or "").strip()
    return value or DEFAULT_CONTENT_TYPE


# --------------------------------------------------------------------------------------
# Local folder
# --------------------------------------------------------------------------------------


def sign_local_url(signing_key: bytes, key: str, expires: int) -> str:
    """Return the hex HMAC-SHA256 of ``f"{key}\\n{expires}"`` under ``signing_key``.

    ``expires`` is a Unix time in whole seconds. This is the ``signature``
    query parameter of :class:`LocalObjectStorage` presigned URLs.
    """
    message = f"{key}\n{int(expires)}".encode()
    return hmac.new(signing_key, message, hashlib.sha256).hexdigest()


def verify_local_signature(
    signing_key: bytes, key: str, expires: int, signature: str, now: float | None = None
) -> bool:
    """Check a :class:`LocalObjectStorage` presigned URL.

    Args:
        signing_key: the key the storage was created with.
        key: the object key from the URL path, already percent-decoded.
        expires: the ``expires`` query parameter (Unix seconds).
        signature: the ``signature`` query parameter (hex).
        now: current Unix time in seconds (default: ``time.time()``).

    Returns:
        ``True`` when the signature matches (constant-time comparison) and
        ``now`` is not past ``expires``; ``False`` otherwise, including for
        invalid keys or malformed values. Never raises.
    """
    try:
        validate_key(key)
        expires = int(expires)
        if not signing_key or not isinstance(signature, str):
            return False
    except (InvalidObjectKey, TypeError, ValueError, OverflowError):
        return False
    current = time.time() if now is None else now
    if current > expires:
        return False
    expected = sign_local_url(signing_key, key, expires)
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace"))


class LocalObjectStorage(ObjectStorage):
    """Objects stored as plain files under a folder (the embedded mode).

    Layout: the object ``a/b.wav`` is the file ``<root>/a/b.wav``. Content type
    and ETag live in a JSON sidecar under ``<root>/.earshot-meta/`` (named by
    the SHA-256 of the key, so no key can collide with it); a sidecar that is
    missing or stale (the file changed behind the store's back) is ignored:
    the ETag is then recomputed and the content type guessed from the name.

    Writes go to a temporary file in the object's own folder, are flushed to
    disk and then moved into place with :func:`os.replace`, so readers never
    see a half-written object. Parent folders are created on write and pruned
    when empty on delete. On a file system, ``a`` and ``a/b`` cannot both be
    objects; writing one over the other raises :class:`InvalidObjectKey`.

    Args:
        root: the folder holding the objects (created on :meth:`start` or first write).
        public_base_url: the gateway's base URL, e.g. ``http://127.0.0.1:8000``;
            presigned URLs are ``{public_base_url}/objects/{key}?expires=..&signature=..``.
        signing_key: secret for presigned URL signatures (non-empty).

    Raises:
        ValueError: empty ``signing_key`` or ``public_base_url``.
    """

    _META_DIR = RESERVED_PREFIX + "meta"
    _TMP_PREFIX = RESERVED_PREFIX + "tmp-"

    def __init__(self, root: Path, public_base_url: str, signing_key: bytes) -> None:
        if not signing_key:
            raise ValueError("LocalObjectStorage needs a non-empty signing_key")
        if not public_base_url:
            raise ValueError("LocalObjectStorage needs a public_base_url, e.g. http://127.0.0.1:8000")
        self._root = Path(root).expanduser().absolute()
        self._public_base_url = public_base_url.rstrip("/")
        self._signing_key = bytes(signing_key)
        # Keeps a sidecar consistent with its file, and folder creation/pruning
        # race-free, within this process. Held only for short metadata steps.
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LocalObjectStorage(root={str(self._root)!r})"

    @property
    def root(self) -> Path:
        """The absolute folder holding the objects."""
        return self._root

    @property
    def signing_key(self) -> bytes:
        """The secret presigned URLs are signed with (for :func:`verify_local_signature`)."""
        return self._signing_key

    # --- paths -------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        return self._root.joinpath(*validate_key(key).split("/"))

    def _meta_path(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
        return self._root / self._META_DIR / digest[:2] / f"{digest}.json"

    def open_path(self, key: str) -> Path:
        """Return the file path of ``key``, for serving it (the gateway's ``GET /objects/{key}``).

        This is a quick synchronous check; read the file with the path returned.

        Raises:
            ObjectNotFound: no such object.
            InvalidObjectKey: bad key.
        """
        path = self._path(key)
        if path.is_symlink() or not path.is_file():
            raise ObjectNotFound(key)
        return path

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Create the root folder if missing."""
        await asyncio.to_thread(self._root.mkdir, parents=True, exist_ok=True)

    async def check(self) -> None:
        """Create the root folder if needed and write/delete a probe file in it.

        Raises:
            StorageUnavailable: the folder cannot be created or written.
        """
        await asyncio.to_thread(self._check_sync)

    def _check_sync(self) -> None:
        try:
            self._root.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=self._TMP_PREFIX, dir=self._root)
            try:
                os.write(fd, b"ok")
            finally:
                os.close(fd)
                os.unlink(name)
        except OSError as exc:
            raise StorageUnavailable(f"object folder {str(self._root)!r} is not writable: {exc}") from exc

    # --- writes ------------------------------------------------------------------------

    async def put(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> ObjectInfo:
        """Store ``data`` under ``key`` atomically. See :meth:`ObjectStorage.put`."""
        validate_key(key)
        payload = memoryview(data).cast("B")
        return await _on_disk(self._root, self._write_sync, key, lambda: _iter_buffer(payload), content_type)

    async def put_file(
        self, key: str, path: str | os.PathLike[str], content_type: str = DEFAULT_CONTENT_TYPE
    ) -> ObjectInfo:
        """Stream the file at ``path`` into ``key`` atomically. See :meth:`ObjectStorage.put_file`."""
        validate_key(key)
        source = Path(path)

        def chunks() -> Iterator[bytes]:
            with source.open("rb") as fh:
                while chunk := fh.read(_CHUNK):
                    yield chunk

        # Fail before touching the store if the source is missing or not a file.
        if not await _on_disk(self._root, source.is_file):
            raise FileNotFoundError(errno.ENOENT, "no such file", str(source))
        return await _on_disk(self._root, self._write_sync, key, chunks, content_type)

    def _write_sync(self, key: str, chunks: Any, content_type: str) -> ObjectInfo:
        target = self._path(key)
        content_type = _content_type(content_type)
        with self._lock:
            if target.is_dir():
                raise InvalidObjectKey(key, _FOLDER_CONFLICT)
            fd, tmp_name = self._make_temp(key, target.parent)
        tmp = Path(tmp_name)
        try:
            md5 = hashlib.md5(usedforsecurity=False)
            with os.fdopen(fd, "wb") as fh:
                for chunk in chunks():
                    md5.update(chunk)
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            st = tmp.stat()
            etag = md5.hexdigest()
            with self._lock:
                self._write_meta(key, content_type, etag, st)
                try:
                    os.replace(tmp, target)
                except IsADirectoryError:
                    with contextlib.suppress(OSError):
                        self._meta_path(key).unlink()
                    raise InvalidObjectKey(key, _FOLDER_CONFLICT) from None
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return ObjectInfo(
            key=key,
            size=st.st_size,
            content_type=content_type,
            etag=etag,
            last_modified=_mtime(st),
        )

    def _make_temp(self, key: str, folder: Path) -> tuple[int, str]:
        """Create ``folder`` (and parents) and a temp file in it. Caller holds the lock."""
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return tempfile.mkstemp(prefix=self._TMP_PREFIX, dir=folder)
        except (FileExistsError, NotADirectoryError):
            raise InvalidObjectKey(key, "a parent segment is already stored as an object") from None

    def _write_meta(self, key: str, content_type: str, etag: str, st: os.stat_result) -> None:
        meta_path = self._meta_path(key)
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "key": key,
            "content_type": content_type,
            "etag": etag,
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "ino": st.st_ino,
        }
        fd, tmp_name = tempfile.mkstemp(prefix=self._TMP_PREFIX, dir=meta_path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(record, fh)
            os.replace(tmp_name, meta_path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise

    # --- reads -------------------------------------------------------------------------

    async def exists(self, key: str) -> bool:
        """Whether ``key`` is stored (a file check; no metadata is read)."""
        path = self._path(key)

        def regular_file() -> bool:
            try:
                return _is_regular(path.lstat())
            except (FileNotFoundError, NotADirectoryError):
                return False

        return await _on_disk(self._root, regular_file)

    async def get(self, key: str) -> bytes:
        """Return the content of ``key``. See :meth:`ObjectStorage.get`."""
        path = self._path(key)
        return await _on_disk(self._root, self._read_sync, key, path)

    def _read_sync(self, key: str, path: Path) -> bytes:
        if path.is_symlink():
            raise ObjectNotFound(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None

    async def get_to_file(self, key: str, path: str | os.PathLike[str]) -> None:
        """Copy ``key`` into the file at ``path`` atomically. See :meth:`ObjectStorage.get_to_file`."""
        source = self._path(key)
        await _on_disk(self._root, self._copy_out_sync, key, source, Path(path))

    def _copy_out_sync(self, key: str, source: Path, dest: Path) -> None:
        if source.is_symlink():
            raise ObjectNotFound(key)
        try:
            src = source.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        with src:
            dest = dest.absolute()
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
            try:
                with os.fdopen(fd, "wb") as out:
                    while chunk := src.read(_CHUNK):
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp_name, dest)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)
                raise

    async def stat(self, key: str) -> ObjectInfo:
        """Return the metadata of ``key``. See :meth:`ObjectStorage.stat`."""
        path = self._path(key)
        return await _on_disk(self._root, self._stat_sync, key, path)

    def _stat_sync(self, key: str, path: Path) -> ObjectInfo:
        with self._lock:
            try:
                st = path.lstat()
            except (FileNotFoundError, NotADirectoryError):
                raise ObjectNotFound(key) from None
            if not _is_regular(st):
                raise ObjectNotFound(key)
            record = self._read_meta(key, st)
        if record is None:
            # No trustworthy sidecar: the file was written or changed outside this store.
            try:
                etag = _md5_file(path)
            except (FileNotFoundError, IsADirectoryError):
                raise ObjectNotFound(key) from None
            guessed, _ = mimetypes.guess_type(key, strict=False)
            record = {"content_type": guessed or DEFAULT_CONTENT_TYPE, "etag": etag}
        return ObjectInfo(
            key=key,
            size=st.st_size,
            content_type=str(record["content_type"]),
            etag=str(record["etag"]),
            last_modified=_mtime(st),
        )

    def _read_meta(self, key: str, st: os.stat_result) -> dict[str, Any] | None:
        try:
            record = json.loads(self._meta_path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict):
            return None
        matches = (
            record.get("key") == key
            and record.get("size") == st.st_size
            and record.get("mtime_ns") == st.st_mtime_ns
            and record.get("ino") == st.st_ino
            and isinstance(record.get("content_type"), str)
            and isinstance(record.get("etag"), str)
        )
        return record if matches else None

    async def list(self, prefix: str = "") -> list[ObjectInfo]:
        """Return objects whose key starts with ``prefix``, sorted by key. See :meth:`ObjectStorage.list`."""
        if not isinstance(prefix, str):
            raise TypeError("prefix must be a string")
        if prefix and not _prefix_can_match(prefix):
            return []
        return await _on_disk(self._root, self._list_sync, prefix)

    def _list_sync(self, prefix: str) -> builtins.list[ObjectInfo]:
        head = prefix.rpartition("/")[0]
        start = self._root.joinpath(*head.split("/")) if head else self._root
        keys: list[str] = []
        self._walk(start, head, prefix, keys)
        infos: list[ObjectInfo] = []
        for key in sorted(keys):
            try:
                infos.append(self._stat_sync(key, self._path(key)))
            except (ObjectNotFound, FileNotFoundError):
                continue  # deleted while listing
        return infos

    def _walk(self, folder: Path, folder_key: str, prefix: str, out: builtins.list[str]) -> None:
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            if entry.name.startswith(RESERVED_PREFIX):
                continue
            key = f"{folder_key}/{entry.name}" if folder_key else entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    # Descend only where keys can still match the prefix.
                    if key.startswith(prefix) or prefix.startswith(key + "/"):
                        self._walk(Path(entry.path), key, prefix, out)
                elif entry.is_file(follow_symlinks=False) and key.startswith(prefix):
                    try:
                        validate_key(key)
                    except InvalidObjectKey:
                        continue  # a file no key can name (e.g. a name with a backslash)
                    out.append(key)
            except OSError:
                continue

    # --- delete ------------------------------------------------------------------------

    async def delete(self, key: str) -> None:
        """Delete ``key`` and prune empty parent folders. Missing keys are fine."""
        path = self._path(key)
        await _on_disk(self._root, self._delete_sync, key, path)

    def _delete_sync(self, key: str, path: Path) -> None:
        with self._lock:
            try:
                if not path.is_symlink() and path.is_dir():
                    return  # a folder of other objects, not an object
                path.unlink()
            except (FileNotFoundError, NotADirectoryError):
                pass
            meta_path = self._meta_path(key)
            with contextlib.suppress(FileNotFoundError):
                meta_path.unlink()
            _prune(path.parent, self._root)
            _prune(meta_path.parent, self._root)

    # --- URLs --------------------------------------------------------------------------

    async def presigned_get_url(self, key: str, expires: timedelta) -> str:
        """Return ``{public_base_url}/objects/{key}?expires=<unix s>&signature=<hex>``.

        See :meth:`ObjectStorage.presigned_get_url`; check it with :func:`verify_local_signature`.
        """
        validate_key(key)
        # Rounded up: a URL is valid for at least ``expires`` (never a fraction of a second less).
        expires_at = math.ceil(time.time()) + _check_expires(expires)
        signature = sign_local_url(self._signing_key, key, expires_at)
        path = quote(key, safe="/")
        return f"{self._public_base_url}/objects/{path}?expires={expires_at}&signature={signature}"

    def verify(self, key: str, expires: int, signature: str, now: float | None = None) -> bool:
        """:func:`verify_local_signature` with this store's signing key."""
        return verify_local_signature(self._signing_key, key, expires, signature, now)


def _iter_buffer(payload: memoryview) -> Iterator[bytes]:
    for offset in range(0, len(payload), _CHUNK):
        yield payload[offset : offset + _CHUNK]


def _is_regular(st: os.stat_result) -> bool:
    return stat_module.S_ISREG(st.st_mode)


def _mtime(st: os.stat_result) -> datetime:
    return datetime.fromtimestamp(st.st_mtime_ns / 1e9, UTC)


def _md5_file(path: Path) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            md5.update(chunk)
    return md5.hexdigest()


def _prune(folder: Path, root: Path) -> None:
    """Remove ``folder`` and its empty parents up to (not including) ``root``."""
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


# --------------------------------------------------------------------------------------
# S3 / MinIO
# --------------------------------------------------------------------------------------


class S3ObjectStorage(ObjectStorage):
    """Objects in an S3 bucket (MinIO or any S3-compatible service) via the ``minio`` client.

    The blocking client runs in worker threads. The bucket is created on
    :meth:`start` or on first use if missing.

    Args:
        endpoint: ``host`` or ``host:port`` of the S3 API (no scheme).
        access_key: access key id.
        secret_key: secret access key.
        bucket: bucket name (3-63 lowercase letters, digits, dots, hyphens).
        secure: ``True`` for HTTPS, ``False`` for plain HTTP.
        region: bucket region; ``None`` lets the client discover it (MinIO: ``us-east-1``).
        public_endpoint: optional ``http(s)://host[:port]`` that clients reach the
            service at, when it differs from ``endpoint`` (e.g. ``minio:9000``
            inside a cluster); presigned URLs are signed for that host.

    Raises:
        ValueError: bad bucket name or ``public_endpoint``.
    """

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool,
        region: str | None = None,
        *,
        public_endpoint: str | None = None,
    ) -> None:
        import certifi
        import urllib3
        from minio import Minio

        if not _BUCKET_NAME.match(bucket or ""):
            raise ValueError(
                f"invalid bucket name {bucket!r}: use 3-63 lowercase letters, digits, '.' and '-'"
            )
        self._endpoint = endpoint
        self._secure = bool(secure)
        self._bucket = bucket
        self._region = region or None
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=10, read=300),
            maxsize=16,
            cert_reqs="CERT_REQUIRED",
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
            retries=urllib3.Retry(
                total=5, connect=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
            ),
        )
        self._client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=self._region,
            http_client=self._http,
        )
        self._presign_client = self._client
        if public_endpoint:
            parts = urlsplit(public_endpoint)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
                raise ValueError(
                    f"public_endpoint must look like https://host[:port], got {public_endpoint!r}"
                )
            # Presigning is offline when the region is known, so this client never connects.
            self._presign_client = Minio(
                parts.netloc,
                access_key=access_key,
                secret_key=secret_key,
                secure=parts.scheme == "https",
                region=self._region or "us-east-1",
                http_client=self._http,
            )
        self._bucket_ready = False
        self._bucket_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"S3ObjectStorage(endpoint={self._endpoint!r}, bucket={self._bucket!r})"

    @property
    def bucket(self) -> str:
        """The bucket name."""
        return self._bucket

    @property
    def endpoint(self) -> str:
        """The S3 API's ``host[:port]``."""
        return self._endpoint

    @property
    def secure(self) -> bool:
        """Whether the S3 API is reached over HTTPS."""
        return self._secure

    @property
    def region(self) -> str | None:
        """The configured region (``None``: discovered by the client)."""
        return self._region

    # --- helpers -----------------------------------------------------------------------

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        from minio.error import S3Error

        with self._bucket_lock:
            if self._bucket_ready:
                return
            if not self._client.bucket_exists(self._bucket):
                try:
                    if self._region:
                        self._client.make_bucket(self._bucket, location=self._region)
                    else:
                        self._client.make_bucket(self._bucket)
                except S3Error as exc:
                    if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise
            self._bucket_ready = True

    async def _call(self, fn: Any, *args: Any, key: str | None = None, **kwargs: Any) -> Any:
        """Run ``fn`` in a thread after making sure the bucket exists; map NoSuchKey."""
        from minio.error import S3Error

        def run() -> Any:
            self._ensure_bucket()
            return fn(*args, **kwargs)

        from minio.error import MinioException
        from urllib3.exceptions import HTTPError

        try:
            return await asyncio.to_thread(run)
        except S3Error as exc:
            if key is not None and exc.code in ("NoSuchKey", "NoSuchObject"):
                raise ObjectNotFound(key) from None
            if exc.code == "NoSuchBucket":
                self._bucket_ready = False  # deleted behind our back: recreate on next use
            raise self._unavailable(exc) from exc
        except FileNotFoundError:
            raise  # put_file's source is missing: the caller's mistake
        except (MinioException, HTTPError, OSError) as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: BaseException) -> StorageUnavailable:
        return StorageUnavailable(f"object storage {self._endpoint}/{self._bucket} failed: {exc}")

    def _info(self, key: str, obj: Any, content_type: str | None = None) -> ObjectInfo:
        last_modified = obj.last_modified or datetime.now(UTC)
        if last_modified.tzinfo is None:
            last_modified = last_modified.replace(tzinfo=UTC)
        return ObjectInfo(
            key=key,
            size=int(obj.size or 0),
            content_type=_content_type(content_type if content_type is not None else obj.content_type),
            etag=(obj.etag or "").strip('"'),
            last_modified=last_modified.astimezone(UTC),
        )

    @staticmethod
    def _written(key: str, result: Any, size: int, content_type: str) -> ObjectInfo:
        last_modified = result.last_modified
        if last_modified is None:
            date = result.http_headers.get("last-modified") or result.http_headers.get("date")
            try:
                last_modified = email.utils.parsedate_to_datetime(date) if date else None
            except (TypeError, ValueError):
                last_modified = None
        last_modified = (last_modified or datetime.now(UTC)).astimezone(UTC)
        return ObjectInfo(
            key=key,
            size=size,
            content_type=content_type,
            etag=(result.etag or "").strip('"'),
            last_modified=last_modified,
        )

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Create the bucket if it does not exist (network call)."""
        await asyncio.to_thread(self._ensure_bucket)

    async def close(self) -> None:
        """Close pooled HTTP connections."""
        self._http.clear()

    async def check(self) -> None:
        """Reach the service, make sure the bucket exists and write/delete a probe object in it.

        Raises:
            StorageUnavailable: the service is unreachable, refuses the credentials or refuses writes.
        """

        def probe() -> None:
            self._bucket_ready = False
            self._ensure_bucket()
            # a bucket that answers reads but refuses writes (policy, quota, full disks) is down too
            key = f"{RESERVED_PREFIX}probe/{os.getpid()}-{threading.get_ident()}"
            self._client.put_object(self._bucket, key, io.BytesIO(b"ok"), 2)
            self._client.remove_object(self._bucket, key)

        try:
            await asyncio.to_thread(probe)
        except Exception as exc:
            raise StorageUnavailable(
                f"object storage {self._endpoint}/{self._bucket} is unavailable: {exc}"
            ) from exc

    # --- operations --------------------------------------------------------------------

    async def put(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> ObjectInfo:
        """Upload ``data`` to ``key``. See :meth:`ObjectStorage.put`."""
        validate_key(key)
        content_type = _content_type(content_type)
        body = bytes(data)
        size = len(body)
        result = await self._call(
            self._client.put_object, self._bucket, key, io.BytesIO(body), size, content_type=content_type
        )
        return self._written(key, result, size, content_type)

    async def put_file(
        self, key: str, path: str | os.PathLike[str], content_type: str = DEFAULT_CONTENT_TYPE
    ) -> ObjectInfo:
        """Stream the file at ``path`` to ``key`` (multipart uploads when large).

        See :meth:`ObjectStorage.put_file`.
        """
        validate_key(key)
        content_type = _content_type(content_type)

        def upload() -> tuple[Any, int]:
            source = os.path.abspath(path)
            if not os.path.isfile(source):
                raise FileNotFoundError(errno.ENOENT, "no such file", source)
            size = os.path.getsize(source)
            return self._client.fput_object(self._bucket, key, source, content_type=content_type), size

        result, size = await self._call(upload)
        return self._written(key, result, size, content_type)

    async def get(self, key: str) -> bytes:
        """Download ``key``. See :meth:`ObjectStorage.get`."""
        validate_key(key)

        def read() -> bytes:
            response = self._client.get_object(self._bucket, key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        return await self._call(read, key=key)

    async def get_to_file(self, key: str, path: str | os.PathLike[str]) -> None:
        """Download ``key`` into ``path`` (written to a ``.part`` file, then renamed)."""
        validate_key(key)

        def download() -> None:
            dest = os.path.abspath(path)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            self._client.fget_object(self._bucket, key, dest)

        await self._call(download, key=key)

    async def stat(self, key: str) -> ObjectInfo:
        """Return the metadata of ``key`` (a HEAD request). See :meth:`ObjectStorage.stat`."""
        validate_key(key)
        obj = await self._call(self._client.stat_object, self._bucket, key, key=key)
        return self._info(key, obj)

    async def delete(self, key: str) -> None:
        """Delete ``key`` (S3 deletes are idempotent)."""
        validate_key(key)
        await self._call(self._client.remove_object, self._bucket, key)

    async def list(self, prefix: str = "") -> list[ObjectInfo]:
        """List objects under ``prefix``, sorted by key.

        Content types come from the listing where the service returns them
        (MinIO does); otherwise each object is looked up with a HEAD request.
        """
        if not isinstance(prefix, str):
            raise TypeError("prefix must be a string")
        if prefix and not _prefix_can_match(prefix):
            return []

        from minio.error import S3Error

        def collect() -> list[ObjectInfo]:
            infos = []
            objects = self._client.list_objects(
                self._bucket, prefix=prefix or None, recursive=True, include_user_meta=True
            )
            for obj in objects:
                if obj.is_dir or obj.object_name is None or obj.object_name.startswith(RESERVED_PREFIX):
                    continue  # (the readiness probe's object)
                metadata = {str(k).lower(): v for k, v in (obj.metadata or {}).items()}
                content_type = metadata.get("content-type")
                if content_type is None:
                    try:
                        head = self._client.stat_object(self._bucket, obj.object_name)
                    except S3Error as exc:
                        if exc.code in ("NoSuchKey", "NoSuchObject"):
                            continue  # deleted while listing
                        raise
                    infos.append(self._info(obj.object_name, head))
                else:
                    infos.append(self._info(obj.object_name, obj, content_type=content_type))
            infos.sort(key=lambda info: info.key)
            return infos

        return await self._call(collect)

    async def presigned_get_url(self, key: str, expires: timedelta) -> str:
        """Return a SigV4 presigned GET URL (at most 7 days). See :meth:`ObjectStorage.presigned_get_url`."""
        validate_key(key)
        seconds = _check_expires(expires)
        if seconds > 7 * 24 * 3600:
            raise ValueError("expires must be at most 7 days for S3 presigned URLs")
        # No bucket check: a URL can be signed before the object (or bucket) exists.
        # With a known region this is pure computation; otherwise the client looks it up once.
        return await asyncio.to_thread(
            self._presign_client.presigned_get_object, self._bucket, key, expires=timedelta(seconds=seconds)
        )


# --------------------------------------------------------------------------------------
# Factory
# --------------------------------------------------------------------------------------


def _redact(url: str) -> str:
    """The URL with any password hidden, for error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[-1]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:***@{netloc}").geturl()


def create_storage(url: str, *, public_base_url: str, signing_key: bytes) -> ObjectStorage:
    """Build the object storage a URL names.

    Forms:
        * ``file:///abs/path`` -> :class:`LocalObjectStorage` rooted at ``/abs/path``.
        * ``s3://ACCESS:SECRET@host[:port]/bucket`` -> :class:`S3ObjectStorage` over HTTPS
          (``s3+https://`` is the same).
        * ``s3+http://ACCESS:SECRET@host[:port]/bucket`` -> the same over plain HTTP.

    ``ACCESS`` and ``SECRET`` are percent-decoded. S3 URLs accept the query
    parameters ``region`` and ``public_endpoint`` (see :class:`S3ObjectStorage`).

    Args:
        url: the storage URL (``EARSHOT_STORAGE_URL``).
        public_base_url: the gateway's base URL, for local presigned URLs.
        signing_key: secret for local presigned URLs (unused by S3).

    Raises:
        ValueError: a malformed or unsupported URL; the message says what is
            wrong and never contains the secret.
    """
    if not isinstance(url, str) or "://" not in url:
        raise ValueError(
            f"storage URL {url!r} must look like file:///abs/path or s3://ACCESS:SECRET@host/bucket"
        )
    shown = _redact(url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()

    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(
                f"storage URL {shown!r}: file URLs need an absolute path, e.g. file:///var/lib/earshot/objects"
            )
        if parts.query or parts.fragment:
            raise ValueError(f"storage URL {shown!r}: file URLs take no query or fragment")
        path = unquote(parts.path)
        if not path.startswith("/") or path == "/":
            raise ValueError(f"storage URL {shown!r}: the path must be an absolute folder other than '/'")
        return LocalObjectStorage(Path(path), public_base_url=public_base_url, signing_key=signing_key)

    if scheme in ("s3", "s3+https", "s3+http"):
        try:
            host = parts.hostname
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"storage URL {shown!r}: {exc}") from None
        if not host:
            raise ValueError(
                f"storage URL {shown!r}: missing host, e.g. s3://ACCESS:SECRET@minio:9000/bucket"
            )
        if parts.username is None or parts.password is None:
            raise ValueError(
                f"storage URL {shown!r}: missing credentials, e.g. s3://ACCESS:SECRET@host/bucket"
            )
        access_key = unquote(parts.username)
        secret_key = unquote(parts.password)
        if not access_key or not secret_key:
            raise ValueError(f"storage URL {shown!r}: access key and secret must not be empty")
        bucket = parts.path.strip("/")
        if not bucket or "/" in bucket:
            raise ValueError(
                f"storage URL {shown!r}: the path must be exactly one bucket name, e.g. /earshot"
            )
        if parts.fragment:
            raise ValueError(f"storage URL {shown!r}: fragments are not allowed")
        try:
            query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
        except ValueError:
            raise ValueError(f"storage URL {shown!r}: malformed query string") from None
        unknown = sorted(set(query) - {"region", "public_endpoint"})
        if unknown:
            raise ValueError(
                f"storage URL {shown!r}: unknown parameter(s) {', '.join(unknown)} "
                "(allowed: region, public_endpoint)"
            )
        region = query.get("region", [""])[-1] or None
        public_endpoint = query.get("public_endpoint", [""])[-1] or None
        netloc_host = f"[{host}]" if ":" in host else host
        endpoint = f"{netloc_host}:{port}" if port is not None else netloc_host
        try:
            return S3ObjectStorage(
                endpoint,
                access_key,
                secret_key,
                bucket,
                secure=scheme != "s3+http",
                region=region,
                public_endpoint=public_endpoint,
            )
        except ValueError as exc:
            raise ValueError(f"storage URL {shown!r}: {exc}") from None

    raise ValueError(
        f"storage URL {shown!r}: unsupported scheme {parts.scheme!r} (use file://, s3://, s3+http:// or s3+https://)"
    )
