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

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from services.common.storage.base import (
    DEFAULT_CONTENT_TYPE,
    MAX_KEY_BYTES,
    MAX_SEGMENT_BYTES,
    RESERVED_PREFIX,
    InvalidObjectKey,
    ObjectInfo,
    ObjectNotFound,
    ObjectStorage,
    StorageUnavailable,
    validate_key,
)
from services.common.storage.local import LocalObjectStorage, sign_local_url, verify_local_signature
from services.common.storage.s3 import S3ObjectStorage

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "MAX_KEY_BYTES",
    "MAX_SEGMENT_BYTES",
    "RESERVED_PREFIX",
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
