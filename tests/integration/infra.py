"""Real Kafka, PostgreSQL and MinIO for the contract and integration tests.

Where the endpoints come from, first match wins:

1. environment variables ``EARSHOT_TEST_KAFKA`` (``host:port``), ``EARSHOT_TEST_DATABASE_URL``
   (``postgresql+asyncpg://...``) and ``EARSHOT_TEST_S3`` (``s3+http://KEY:SECRET@host:port/bucket``):
   all three must be set (``make test`` sets them from ``deploy/local/infra.sh up``);
2. testcontainers, when a Docker daemon answers ``docker info``;
3. ``deploy/local/infra.sh up`` (idempotent, cached): servers on loopback started from
   Maven Central jars, Debian's PostgreSQL and a ``go install``-ed MinIO.

Servers are started at most once per test session, shared by every test (and by concurrent
test sessions on the same machine: each holds a lease file). A session that started the
local servers stops them at its end when no other live session holds a lease.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCAL = REPO / "deploy" / "local"
INFRA_DIR = Path(os.environ.get("EARSHOT_INFRA_DIR", REPO / ".earshot" / "infra"))
START_TIMEOUT_S = 1800  # a fresh machine builds MinIO and fetches Kafka's jars first


@dataclass(frozen=True)
class Endpoints:
    """Where the three servers answer.

    Attributes:
        kafka: bootstrap ``host:port``.
        database_url: ``postgresql+asyncpg://user:password@host:port/earshot``.
        s3_url: ``s3+http://ACCESS:SECRET@host:port/bucket`` (the storage URL of an Earshot process).
        source: ``env``, ``testcontainers`` or ``deploy/local``.
    """

    kafka: str
    database_url: str
    s3_url: str
    source: str


_lock = threading.Lock()
_endpoints: Endpoints | None = None
_users = 0
_stop_at_end = False
_containers: list[object] = []
_failure: BaseException | None = None  # a failed start is not retried by every later test


def _from_env() -> Endpoints | None:
    names = ("EARSHOT_TEST_KAFKA", "EARSHOT_TEST_DATABASE_URL", "EARSHOT_TEST_S3")
    values = [os.environ.get(n, "").strip() for n in names]
    if all(values):
        return Endpoints(values[0], values[1], values[2], "env")
    if any(values):
        missing = [n for n, v in zip(names, values, strict=True) if not v]
        raise RuntimeError(f"set all three endpoint variables or none; missing: {', '.join(missing)}")
    return None


def _docker_answers() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        return subprocess.run([docker, "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _from_testcontainers() -> Endpoints:  # pragma: no cover - needs a Docker daemon
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from testcontainers.kafka import KafkaContainer
        from testcontainers.minio import MinioContainer
        from testcontainers.postgres import PostgresContainer

    kafka = KafkaContainer("apache/kafka:4.1.1").with_kraft()
    postgres = PostgresContainer(
        "postgres:15-bookworm", username="earshot", password="earshot", dbname="earshot"
    )
    minio = MinioContainer("minio/minio:RELEASE.2025-09-07T16-13-09Z")
    for container in (kafka, postgres, minio):
        container.start()
        _containers.append(container)
    pg_url = postgres.get_connection_url().replace("postgresql+psycopg2://", "postgresql+asyncpg://")
    cfg = minio.get_config()
    s3 = f"s3+http://{cfg['access_key']}:{cfg['secret_key']}@{cfg['endpoint']}/earshot"
    return Endpoints(kafka.get_bootstrap_server(), pg_url, s3, "testcontainers")


def _script(*args: str) -> str:
    result = subprocess.run(
        [str(LOCAL / "infra.sh"), *args],
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
    )
    if result.returncode != 0:
        raise RuntimeError(f"deploy/local/infra.sh {' '.join(args)} failed:\n{result.stderr[-4000:]}")
    return result.stdout


def _running_locally() -> bool:
    return (
        subprocess.run([str(LOCAL / "kafka.sh"), "status"], capture_output=True, timeout=30).returncode == 0
    )


def _from_scripts() -> tuple[Endpoints, bool]:
    was_running = _running_locally()
    _script("up")
    env = {}
    for line in _script("env").splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export ") :].partition("=")
            env[name] = value.strip("'")
    endpoints = Endpoints(
        env["EARSHOT_TEST_KAFKA"], env["EARSHOT_TEST_DATABASE_URL"], env["EARSHOT_TEST_S3"], "deploy/local"
    )
    return endpoints, not was_running


def _lease() -> Path:
    return INFRA_DIR / "leases" / str(os.getpid())


def _other_leases() -> list[Path]:
    alive = []
    for lease in (INFRA_DIR / "leases").glob("*"):
        if lease == _lease():
            continue
        try:
            os.kill(int(lease.name), 0)
            alive.append(lease)
        except (ValueError, ProcessLookupError, PermissionError):
            lease.unlink(missing_ok=True)
    return alive


def acquire() -> Endpoints:
    """Endpoints of running servers, starting them on first use (see module docstring).

    Raises:
        RuntimeError: a start script failed (its stderr is in the message).
        subprocess.TimeoutExpired: the servers did not come up in ``START_TIMEOUT_S``.
    """
    global _endpoints, _users, _stop_at_end, _failure
    with _lock:
        if _failure is not None:
            raise RuntimeError(f"the test servers failed to start earlier in this session: {_failure}")
        if _endpoints is None:
            try:
                found = _from_env()
                if found is None and _docker_answers():
                    found = _from_testcontainers()
                if found is None:
                    _lease().parent.mkdir(parents=True, exist_ok=True)
                    _lease().write_text("pytest session\n")
                    found, _stop_at_end = _from_scripts()
            except BaseException as exc:
                _failure = exc
                raise
            _endpoints = found
        _users += 1
        return _endpoints


def release() -> None:
    """Drop one user; the last one stops what this session started (unless another session
    still holds a lease on the local servers)."""
    global _endpoints, _users
    with _lock:
        _users -= 1
        if _users > 0 or _endpoints is None:
            return
        if _endpoints.source == "deploy/local":
            _lease().unlink(missing_ok=True)
            if _stop_at_end and not _other_leases():
                with contextlib.suppress(Exception):
                    _script("down")
        for container in _containers:  # pragma: no cover - needs a Docker daemon
            with contextlib.suppress(Exception):
                container.stop()  # type: ignore[attr-defined]
        _containers.clear()
        _endpoints = None


def kustomize() -> str:
    """Path of the pinned kustomize binary (``EARSHOT_KUSTOMIZE``, else installed by
    ``deploy/local/infra.sh tools`` with ``go install``)."""
    path = os.environ.get("EARSHOT_KUSTOMIZE")
    if path and Path(path).is_file():
        return path
    return _script("tools").strip().splitlines()[-1]


def kube_score() -> str:
    """Path of the pinned kube-score binary (``EARSHOT_KUBE_SCORE``, else installed by
    ``deploy/local/infra.sh tools`` with ``go install``)."""
    path = os.environ.get("EARSHOT_KUBE_SCORE")
    if path and Path(path).is_file():
        return path
    return next(line for line in _script("tools").strip().splitlines() if "/kube-score-" in line)


def kcat() -> str:
    """Path of Debian's ``kcat`` (installed by ``deploy/local/infra.sh tools`` when missing)."""
    found = shutil.which("kcat")
    if found:
        return found
    _script("tools")
    found = shutil.which("kcat")
    if not found:
        raise RuntimeError("kcat is not installed and deploy/local/infra.sh tools did not install it")
    return found


REAL_PARAMS = {"kafka", "minio", "postgresql"}


def needed_by(items: list) -> bool:  # type: ignore[type-arg]
    """Whether any collected test uses the real servers (the ``servers`` fixture or a real
    implementation's parameter of a contract suite)."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "servers" in getattr(item, "fixturenames", ()) or REAL_PARAMS & set(map(str, params.values())):
            return True
    return False
