"""Fixtures of the contract suites: one suite, every implementation.

Each suite's main fixture is parametrised by implementation (memory/kafka,
local/minio, sqlite/postgresql). The real servers are started only when a real
implementation's test runs, once per session (``tests/integration/infra.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration import infra


@pytest.fixture(scope="session")
def servers() -> Iterator[infra.Endpoints]:
    """Real Kafka, PostgreSQL and MinIO (from env, testcontainers or deploy/local)."""
    endpoints = infra.acquire()
    try:
        yield endpoints
    finally:
        infra.release()


_prewarmed = False


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the servers before the first test (outside any per-test timeout: a fresh machine
    fetches Kafka's jars and builds MinIO first). Only when a collected test needs them."""
    global _prewarmed
    if not _prewarmed and infra.needed_by(session.items):
        try:
            infra.acquire()
            _prewarmed = True
        except Exception:
            pass  # the `servers` fixture reports the failure on every test that needs it


def pytest_sessionfinish(session: pytest.Session) -> None:
    global _prewarmed
    if _prewarmed:
        _prewarmed = False
        infra.release()
