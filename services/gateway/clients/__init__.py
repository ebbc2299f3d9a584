"""One typed wrapper per gRPC service the gateway calls, on channels opened once at start and
closed at stop (:class:`Clients`); one gRPC-status -> HTTP error map (:mod:`.errors`).

Adding a client: a module here with a :class:`~services.gateway.clients.base.GrpcClient`
subclass, a field on :class:`Clients` opened in :meth:`Clients.open`, and an ``Annotated``
dependency in :mod:`services.gateway.deps`. The analysis client (``clients/analysis.py``,
the typed analysis contract) plugs in the same way.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from services.common.runtime import Runtime
from services.gateway.clients.anc import AncClient
from services.gateway.clients.auth import AuthClient
from services.gateway.clients.base import GrpcClient
from services.gateway.clients.transcription import TranscriptionClient

__all__ = ["AncClient", "AuthClient", "Clients", "GrpcClient", "TranscriptionClient"]


@dataclass
class Clients:
    """Every gRPC client of one gateway replica."""

    auth: AuthClient
    transcription: TranscriptionClient
    anc: AncClient
    # analysis: AnalysisClient  <- the typed analysis contract (clients/analysis.py) goes here

    @classmethod
    def open(cls, runtime: Runtime, *, auth_timeout_s: float) -> Clients:
        """Open one channel per service (targets from ``runtime.grpc_target``)."""
        deadline = float(runtime.settings.grpc_deadline_s)
        return cls(
            auth=AuthClient(runtime, auth_timeout_s),
            transcription=TranscriptionClient(runtime, deadline),
            anc=AncClient(runtime, deadline),
        )

    async def close(self) -> None:
        """Close every channel."""
        for client in (self.auth, self.transcription, self.anc):
            with contextlib.suppress(Exception):
                await client.close()
