"""One typed wrapper per gRPC service the gateway calls, on channels opened once at start and
closed at stop (:class:`Clients`); one gRPC-status -> HTTP error map (:mod:`.errors`).

Adding a client: a module here with a :class:`~services.gateway.clients.base.GrpcClient`
subclass, a field on :class:`Clients` opened in :meth:`Clients.open`, and an ``Annotated``
dependency in :mod:`services.gateway.deps`. The analysis client (:mod:`.analysis`) takes
a channel the container opens and closes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc

from services.common import rpc
from services.common.runtime import Runtime
from services.gateway.clients.analysis import AnalysisClient
from services.gateway.clients.anc import AncClient
from services.gateway.clients.auth import AuthClient
from services.gateway.clients.base import GrpcClient, health_check
from services.gateway.clients.transcription import TranscriptionClient

__all__ = ["AnalysisClient", "AncClient", "AuthClient", "Clients", "GrpcClient", "TranscriptionClient"]


@dataclass
class Clients:
    """Every gRPC client of one gateway replica."""

    auth: AuthClient
    transcription: TranscriptionClient
    anc: AncClient
    analysis: AnalysisClient | None
    """``None`` when the analysis service has no gRPC target (routes needing it answer 503)."""
    analysis_channel: grpc.aio.Channel | None = None
    analysis_missing: str = ""

    @classmethod
    def open(cls, runtime: Runtime, *, auth_timeout_s: float) -> Clients:
        """Open one channel per service (targets from ``runtime.grpc_target``)."""
        deadline = float(runtime.settings.grpc_deadline_s)
        analysis_channel: grpc.aio.Channel | None = None
        missing = ""
        try:
            analysis_channel = rpc.channel(runtime.grpc_target("analysis"))
        except LookupError as exc:
            missing = str(exc)
        return cls(
            auth=AuthClient(runtime, auth_timeout_s),
            transcription=TranscriptionClient(runtime, deadline),
            anc=AncClient(runtime, deadline),
            analysis=AnalysisClient(analysis_channel) if analysis_channel is not None else None,
            analysis_channel=analysis_channel,
            analysis_missing=missing,
        )

    def readiness_checks(self, deadline_s: float = 1.0) -> dict[str, Callable[[], Awaitable[None]]]:
        """One readiness check per gRPC service the gateway calls, named ``grpc.<service>``
        (``grpc.health.v1`` over the open channel, ``deadline_s`` seconds; no target: fails
        naming the setting). For ``/ready`` with :func:`services.common.health`-style runners."""
        return {
            "grpc.auth": lambda: self.auth.check(deadline_s),
            "grpc.transcription": lambda: self.transcription.check(deadline_s),
            "grpc.analysis": lambda: health_check(self.analysis_channel, self.analysis_missing, deadline_s),
            "grpc.anc": lambda: self.anc.check(deadline_s),
        }

    async def close(self) -> None:
        """Close every channel."""
        for client in (self.auth, self.transcription, self.anc):
            with contextlib.suppress(Exception):
                await client.close()
        if self.analysis_channel is not None:
            with contextlib.suppress(Exception):
                await self.analysis_channel.close()
            self.analysis_channel, self.analysis = None, None
