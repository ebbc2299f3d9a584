"""A private Kafka broker and PostgreSQL server for tests that restart them.

The shared servers (``deploy/local/infra.sh``, fixed ports) are never restarted by a test:
other test sessions use them. A restart test starts its own instances with the same scripts
(``deploy/local/kafka.sh``, ``deploy/local/postgres.sh``) in a private ``EARSHOT_INFRA_DIR``
on free ports, restarts those, and removes them at the end. The jars and binaries come from
the shared cache (``EARSHOT_CACHE``), so nothing is downloaded again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.integration.cluster import free_port
from tests.integration.infra import LOCAL

__all__ = ["PrivateServers"]


class PrivateServers:
    """One Kafka broker and one PostgreSQL server of this test only.

    Attributes:
        root: the private ``EARSHOT_INFRA_DIR`` (world-traversable: PostgreSQL runs as ``postgres``).
        kafka: bootstrap ``host:port``.
        database_url: the admin URL of database ``earshot`` (user ``earshot``, may create databases).
    """

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="earshot-private-infra-"))
        self.root.chmod(0o755)
        self.env = {
            **os.environ,
            "EARSHOT_INFRA_DIR": str(self.root),
            "EARSHOT_KAFKA_PORT": str(free_port()),
            "EARSHOT_KAFKA_CONTROLLER_PORT": str(free_port()),
            "EARSHOT_PG_PORT": str(free_port()),
        }
        self.kafka = f"127.0.0.1:{self.env['EARSHOT_KAFKA_PORT']}"
        self.database_url = ""

    def _script(self, name: str, *args: str, timeout_s: float = 300) -> str:
        result = subprocess.run(
            [str(LOCAL / f"{name}.sh"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{name}.sh {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout.strip()

    def up(self) -> None:
        """Start both (Kafka formats its private KRaft storage; PostgreSQL runs initdb)."""
        self._script("postgres", "up")
        self.database_url = self._script("postgres", "url")
        self._script("kafka", "up")

    def restart_kafka(self) -> None:
        """Stop the broker (SIGTERM, data kept) and start it again."""
        self._script("kafka", "down")
        self._script("kafka", "up")

    def stop_kafka(self) -> None:
        """Stop the broker (data kept)."""
        self._script("kafka", "down")

    def start_kafka(self) -> None:
        """Start the broker again."""
        self._script("kafka", "up")

    def stop_postgres(self) -> None:
        """Stop PostgreSQL (fast shutdown: connections are cut)."""
        self._script("postgres", "down")

    def start_postgres(self) -> None:
        """Start PostgreSQL again."""
        self._script("postgres", "up")

    def down(self) -> None:
        """Stop both and remove their files."""
        for name in ("kafka", "postgres"):
            try:
                self._script(name, "down")
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.root, ignore_errors=True)
