"""What every object storage adapter shares: the interface, object metadata, errors and the
key rules (see :mod:`services.common.storage`)."""

from __future__ import annotations

import abc
import asyncio
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from services.common.faults import DISK_FAULT_ERRNOS, STORAGE, DependencyUnavailable

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
