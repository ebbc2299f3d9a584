"""Objects on MinIO or any S3-compatible service, through the official ``minio`` client
(see :mod:`services.common.storage`)."""

from __future__ import annotations

import asyncio
import email.utils
import errno
import io
import os
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from services.common.storage.base import (
    _BUCKET_NAME,
    DEFAULT_CONTENT_TYPE,
    RESERVED_PREFIX,
    ObjectInfo,
    ObjectNotFound,
    ObjectStorage,
    StorageUnavailable,
    _check_expires,
    _content_type,
    _prefix_can_match,
    validate_key,
)

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
