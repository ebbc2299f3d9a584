"""The base of every typed gRPC client: one channel opened at start, closed at stop, deadlines,
trace metadata, and errors through :func:`services.gateway.clients.errors.api_error`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common import rpc
from services.common.runtime import Runtime
from services.gateway.clients.errors import api_error
from services.gateway.shared.errors import ApiError

__all__ = ["GrpcClient", "health_check"]

StubT = TypeVar("StubT")


class GrpcClient(Generic[StubT]):
    """A long-lived channel to one Earshot service and its stub.

    Args:
        runtime: resolves the target (``Runtime.grpc_target``: the in-process server, else
            ``EARSHOT_<SERVICE>_GRPC_TARGET``). When neither exists the client still builds,
            and every call answers 503 naming the missing setting.
        service: the service's name (``auth``, ``transcription``, ``anc``).
        label: its human name for error messages, e.g. ``"auth service"``.
        stub_type: the generated stub class.
        timeout_s: default deadline of a unary call, seconds.
    """

    def __init__(
        self,
        runtime: Runtime,
        service: str,
        label: str,
        stub_type: Callable[[grpc.aio.Channel], StubT],
        timeout_s: float,
    ) -> None:
        self.service, self.label, self.timeout_s = service, label, timeout_s
        self._channel: grpc.aio.Channel | None = None
        self._stub: StubT | None = None
        self._missing = ""
        try:
            target = runtime.grpc_target(service)
        except LookupError as exc:
            self._missing = str(exc)
        else:
            self._channel = rpc.channel(target)
            self._stub = stub_type(self._channel)

    @property
    def stub(self) -> StubT:
        """The generated stub (for streaming calls).

        Raises:
            ApiError: 503 when the service has no target.
        """
        if self._stub is None:
            title = f"{self.label[:1].upper()}{self.label[1:]} unavailable"
            raise ApiError(503, title, self._missing or f"the {self.label} is closed")
        return self._stub

    async def call(
        self,
        method: str,
        request: Any,
        *,
        timeout_s: float | None = None,
        invalid_status: int = 400,
        invalid_title: str = "Invalid request",
    ) -> Any:
        """Call unary ``method`` with a deadline and the trace metadata.

        Raises:
            ApiError: the mapped gRPC error (see :mod:`services.gateway.clients.errors`).
        """
        rpc_method: Callable[..., Awaitable[Any]] = getattr(self.stub, method)
        try:
            return await rpc_method(
                request, timeout=timeout_s or self.timeout_s, metadata=rpc.call_metadata()
            )
        except grpc.aio.AioRpcError as exc:
            raise api_error(
                exc, self.label, invalid_status=invalid_status, invalid_title=invalid_title
            ) from None

    async def check(self, deadline_s: float = 1.0) -> None:
        """Readiness: the service's ``grpc.health.v1`` check answers SERVING within ``deadline_s``.

        Raises:
            LookupError: the service has no target (``EARSHOT_<SERVICE>_GRPC_TARGET`` unset).
            ConnectionError: it answered, but not SERVING.
            grpc.aio.AioRpcError: it is down, unreachable or past the deadline.
        """
        await health_check(self._channel, self._missing or f"the {self.label} is closed", deadline_s)

    async def close(self) -> None:
        """Close the channel (calls in flight are cancelled)."""
        if self._channel is not None:
            await self._channel.close()
            self._channel, self._stub = None, None


async def health_check(channel: grpc.aio.Channel | None, missing: str, deadline_s: float) -> None:
    """Ask ``channel``'s server for its overall ``grpc.health.v1`` status.

    Raises:
        LookupError: ``channel`` is None (``missing`` says why).
        ConnectionError: the answer is not SERVING.
        grpc.aio.AioRpcError: no answer (down, unreachable, deadline exceeded).
    """
    if channel is None:
        raise LookupError(missing)
    reply = await health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(), timeout=deadline_s
    )
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        raise ConnectionError(
            f"health status {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}"
        )
