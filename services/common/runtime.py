"""The adapters a service runs on (bus, storage, settings), built from settings by URL.

Service code receives a :class:`Runtime` and never knows which adapters it got:
``memory://`` or ``kafka://`` for the bus, ``file://`` or ``s3://`` for storage.
In the embedded mode one runtime is shared by all six services (so they share the
in-memory bus); in the distributed mode each process builds its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from services.common.bus import EventBus, RetryPolicy, create_bus
from services.common.logging import get_logger
from services.common.settings import Settings
from services.common.startup import Dependency, address_of, wait_for
from services.common.storage import ObjectStorage, create_storage

log = get_logger("earshot.runtime")


@dataclass
class Runtime:
    """Shared adapters and identity of one process.

    Attributes:
        settings: the process settings.
        bus: the event bus (started).
        storage: object storage.
        instance_id: unique per process; used for per-replica consumer groups.
        grpc_targets: ``service name -> host:port`` of gRPC servers started in this process.
    """

    settings: Settings
    bus: EventBus
    storage: ObjectStorage
    instance_id: str
    grpc_targets: dict[str, str] = field(default_factory=dict)

    def grpc_port(self, service: str) -> int:
        """Port a service's gRPC server binds (``EARSHOT_<SERVICE>_GRPC_PORT``; 0 = any free)."""
        return int(getattr(self.settings, f"{service}_grpc_port"))

    def grpc_target(self, service: str) -> str:
        """``host:port`` of a service's gRPC server: the one running in this process if any,
        else ``EARSHOT_<SERVICE>_GRPC_TARGET``.

        Raises:
            LookupError: the service is neither running here nor configured.
        """
        target = self.grpc_targets.get(service) or getattr(self.settings, f"{service}_grpc_target", None)
        if not target:
            raise LookupError(
                f"no gRPC target for {service}: run it here or set EARSHOT_{service.upper()}_GRPC_TARGET"
            )
        return str(target)

    def source(self, service: str) -> str:
        """CloudEvents ``source`` for events a service publishes."""
        return f"/earshot/{service}"

    temp_token: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def temp_root(self) -> Path:
        """This process's own temp folder, ``<data_dir>/tmp/<instance>~<host>~<pid>~<token>``
        (:func:`temp_folder_name`): created on first use, removed by :meth:`close`; a folder
        left by a dead process is removed by the next start (:func:`sweep_temp_folders`)."""
        return self.settings.data_dir / TEMP_FOLDER / temp_folder_name(self.instance_id, self.temp_token)

    @contextmanager
    def temp_dir(self, prefix: str) -> Iterator[Path]:
        """A private temporary folder inside :attr:`temp_root`, removed with its contents on
        every path."""
        root = self.temp_root
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=prefix, dir=root) as name:
            yield Path(name)

    async def close(self) -> None:
        """Stop the bus, release storage clients and remove this process's temp folder."""
        try:
            await self.bus.stop()
            await self.storage.close()
        finally:
            shutil.rmtree(self.temp_root, ignore_errors=True)


TEMP_FOLDER = "tmp"
"""Folder of ``data_dir`` holding every process's temp folder."""


def temp_folder_name(instance_id: str, token: str, *, host: str | None = None, pid: int | None = None) -> str:
    """``<instance>~<host>~<pid>~<token>``: the temp folder of one process (``~`` in the
    instance id or host name is replaced by ``-``)."""
    host = socket.gethostname() if host is None else host
    pid = os.getpid() if pid is None else pid
    return "~".join((instance_id.replace("~", "-"), host.replace("~", "-"), str(pid), token))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def sweep_temp_folders(root: Path) -> list[Path]:
    """Remove the temp folders (:func:`temp_folder_name`) of processes of this host that are no
    longer running (pid check); other hosts' folders (a shared volume) and unrecognised
    entries are left alone.

    Args:
        root: ``<data_dir>/tmp``.

    Returns:
        The folders removed.
    """
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    host = socket.gethostname().replace("~", "-")
    for entry in root.iterdir():
        parts = entry.name.rsplit("~", 3)
        if len(parts) != 4 or not entry.is_dir() or parts[1] != host or not parts[2].isdigit():
            continue
        if not _pid_alive(int(parts[2])):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def signing_key(settings: Settings) -> bytes:
    """Key for local presigned URLs.

    ``EARSHOT_STORAGE_SIGNING_KEY`` when set, else a random key kept in ``data_dir``.
    """
    if settings.storage_signing_key:
        return hashlib.sha256(settings.storage_signing_key.encode()).digest()
    path = settings.data_dir / "signing.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_bytes(uuid.uuid4().bytes + uuid.uuid4().bytes)
        path.chmod(0o600)
    return path.read_bytes()


async def create_runtime(settings: Settings, client_id: str = "earshot") -> Runtime:
    """Build and start the adapters named by the settings' URLs.

    Kafka and a remote object store are retried with backoff for
    ``settings.startup_timeout_s`` (see :mod:`services.common.startup`).

    Raises:
        ValueError: for an unknown URL scheme.
        DependencyUnavailable: Kafka or the object store stayed unreachable (one line).
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    swept = sweep_temp_folders(settings.data_dir / TEMP_FOLDER)
    if swept:
        log.info("runtime.temp_swept", folders=[p.name for p in swept])

    def new_bus() -> EventBus:
        return create_bus(
            settings.bus_url,
            partitions=settings.bus_partitions,
            replication=settings.bus_replication,
            retry=RetryPolicy(max_attempts=settings.bus_max_attempts, base_s=settings.bus_retry_backoff_s),
            client_id=client_id,
            namespace=settings.bus_namespace,
        )

    new_bus()  # a bad URL raises ValueError now, not after the start-up timeout

    async def start_bus() -> EventBus:
        bus = new_bus()
        try:
            await bus.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await bus.stop()
            raise
        return bus

    if settings.bus_url.startswith("memory:"):
        bus = await start_bus()
    else:
        kafka = Dependency("Kafka", address_of(settings.bus_url), "EARSHOT_BUS_URL")
        # aiokafka logs an error per refused connection; our startup.waiting line says it already
        with _quiet("aiokafka", unless=settings.log_level == "debug"):
            bus = await wait_for(kafka, start_bus, timeout_s=settings.startup_timeout_s)
    storage = create_storage(
        settings.effective_storage_url,
        public_base_url=settings.effective_public_url,
        signing_key=signing_key(settings),
    )
    if settings.effective_storage_url.startswith("file:"):
        await storage.start()  # the folder, and no temp file left by a killed writer
    else:
        # a remote store (MinIO, S3): reachable, credentials accepted, bucket present
        store = Dependency(
            "object storage", address_of(settings.effective_storage_url), "EARSHOT_STORAGE_URL"
        )
        try:
            await wait_for(store, storage.check, timeout_s=settings.startup_timeout_s)
        except BaseException:
            await bus.stop()
            await storage.close()
            raise
    instance = settings.instance_id or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
    return Runtime(settings=settings, bus=bus, storage=storage, instance_id=instance)


@contextmanager
def _quiet(logger_name: str, *, unless: bool = False) -> Iterator[None]:
    """Let only CRITICAL records of the stdlib logger ``logger_name`` through while inside
    (not at all when ``unless``); its level is restored after."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    if not unless:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


class Service(Protocol):
    """What every Earshot service offers its process: start on a runtime, stop cleanly."""

    name: str

    async def start(self, runtime: Runtime) -> None:
        """Subscribe to topics, start gRPC servers; return once ready."""

    async def stop(self) -> None:
        """Leave consumer groups and stop servers gracefully."""
