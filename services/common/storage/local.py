"""Objects as plain files under a folder, with presigned URLs served by the gateway
(see :mod:`services.common.storage`)."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import errno
import hashlib
import hmac
import json
import math
import mimetypes
import os
import stat as stat_module
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from services.common.storage.base import (
    _CHUNK,
    _FOLDER_CONFLICT,
    DEFAULT_CONTENT_TYPE,
    RESERVED_PREFIX,
    InvalidObjectKey,
    ObjectInfo,
    ObjectNotFound,
    ObjectStorage,
    StorageUnavailable,
    _check_expires,
    _content_type,
    _on_disk,
    _prefix_can_match,
    validate_key,
)

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

    Writes go to a temporary file in ``<root>/.earshot-tmp/`` named after the writing
    process (``<pid>-...``), are flushed to disk and then moved into place with
    :func:`os.replace`, so readers never see a half-written object. A process killed
    mid-write leaves its temporary file behind: :meth:`start` removes those of processes
    that are gone (and any older than a day). Parent folders are created on write and pruned
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
    _TMP_DIR = RESERVED_PREFIX + "tmp"
    _TMP_PREFIX = RESERVED_PREFIX + "tmp-"  # the writability probe's file, removed at once
    STALE_TEMP_S = 86_400.0
    """A temporary file this old is removed at :meth:`start` even if its process still runs."""

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
        """Create the root folder if missing and remove what killed writers left
        (:meth:`sweep_temp_files`)."""
        await asyncio.to_thread(self._root.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(self.sweep_temp_files)

    def sweep_temp_files(self) -> list[str]:
        """Remove the temporary files of writers that are gone: the file name starts with
        the writer's process id, and no process with that id runs on this machine (or the
        file is older than :attr:`STALE_TEMP_S`). Files of running writers are kept.

        Returns:
            The names removed.
        """
        folder = self._root / self._TMP_DIR
        removed: list[str] = []
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return removed
        now = time.time()
        for entry in entries:
            pid_text = entry.name.split("-", 1)[0]
            try:
                old = now - entry.stat(follow_symlinks=False).st_mtime > self.STALE_TEMP_S
            except FileNotFoundError:
                continue  # its writer finished meanwhile
            if old or not (pid_text.isdigit() and _process_runs(int(pid_text))):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(entry.name)
        return removed

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
            fd, tmp_name = self._make_temp(key, target.parent)  # temp in .earshot-tmp/
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
        """Create ``folder`` (and parents), the object's destination, and a temp file in
        ``.earshot-tmp/`` named after this process. Caller holds the lock."""
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InvalidObjectKey(key, "a parent segment is already stored as an object") from None
        return self._temp_file()

    def _temp_file(self) -> tuple[int, str]:
        """A new temporary file ``.earshot-tmp/<pid>-...`` (see :meth:`sweep_temp_files`)."""
        folder = self._root / self._TMP_DIR
        folder.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(prefix=f"{os.getpid()}-", dir=folder)

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
        fd, tmp_name = self._temp_file()
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


def _process_runs(pid: int) -> bool:
    """Whether a process with id ``pid`` runs on this machine (signal 0 probes it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return pid > 0
