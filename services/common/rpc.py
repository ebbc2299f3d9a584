"""gRPC helpers: ``grpc.aio`` servers with health, reflection and graceful stop; client
channels with deadlines; W3C trace context carried in metadata.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.common import metrics, telemetry
from services.common.faults import GRPC_METADATA_KEY, unavailable_dependency
from services.common.logging import get_logger

log = get_logger("earshot.rpc")

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
]
#: Servers refuse a port another socket holds: gRPC's default SO_REUSEPORT would let a second
#: instance bind the same port silently and share (or steal) its calls.
_SERVER_OPTIONS = [*_OPTIONS, ("grpc.so_reuseport", 0)]


class PortInUse(RuntimeError):
    """The gRPC server's port could not be bound (another server holds it)."""


async def _abort_if_unavailable(context: grpc.aio.ServicerContext, method: str, exc: Exception) -> None:
    """A database or storage fault ends the call as UNAVAILABLE naming the dependency in the
    trailing metadata :data:`~services.common.faults.GRPC_METADATA_KEY` (the gateway's 503);
    any other exception is left to gRPC (UNKNOWN)."""
    dependency = unavailable_dependency(exc)
    if dependency is None:
        return
    log.warning(
        "grpc.dependency_unavailable",
        method=method,
        dependency=dependency,
        error=f"{type(exc).__name__}: {exc}"[:300],
    )
    context.set_trailing_metadata(((GRPC_METADATA_KEY, dependency),))
    await context.abort(grpc.StatusCode.UNAVAILABLE, f"the {dependency} is unavailable or read-only")


class _TraceServerInterceptor(grpc.aio.ServerInterceptor):
    """Starts a server span per call, parented by the caller's ``traceparent`` metadata; a
    database or storage fault raised by the handler ends the call as UNAVAILABLE naming it."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        metadata = dict(handler_call_details.invocation_metadata or ())
        method = handler_call_details.method
        inner = handler.unary_unary

        async def traced(request: Any, context: grpc.aio.ServicerContext) -> Any:
            start = time.perf_counter()
            failed = False
            try:
                with telemetry.span_from(metadata, method, "earshot.rpc", **{"rpc.system": "grpc"}):
                    try:
                        return await inner(request, context)
                    except grpc.aio.AbortError:
                        raise
                    except Exception as exc:
                        await _abort_if_unavailable(context, method, exc)
                        raise
            except BaseException:
                failed = True
                raise
            finally:
                code = context.code()
                name = code.name if isinstance(code, grpc.StatusCode) else ("UNKNOWN" if failed else "OK")
                metrics.GRPC_REQUESTS.labels(method, name).inc()
                metrics.GRPC_SECONDS.labels(method).observe(time.perf_counter() - start)

        return grpc.unary_unary_rpc_method_handler(
            traced,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


@dataclass
class GrpcServer:
    """A running ``grpc.aio`` server and its health servicer.

    Attributes:
        server: the ``grpc.aio.Server``.
        port: the bound TCP port (useful when 0 was asked for).
        health: set serving status per service name with ``health.set(name, status)``.
    """

    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer

    async def stop(self, grace_s: float = 5.0) -> None:
        """Graceful stop: report NOT_SERVING, refuse new calls, let calls in flight finish for ``grace_s``."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace_s)


async def start_server(
    host: str,
    port: int,
    register: Iterable[Callable[[grpc.aio.Server], None]],
    service_names: Sequence[str],
) -> GrpcServer:
    """Start a gRPC server with ``grpc.health.v1`` and server reflection.

    Args:
        host: interface to bind, e.g. ``127.0.0.1``.
        port: TCP port; 0 picks a free one (see ``GrpcServer.port``).
        register: callables like ``lambda s: pb2_grpc.add_FooServicer_to_server(impl, s)``.
        service_names: full names (``earshot.transcription.v1.TranscriptionService``) to mark
            SERVING and to list in reflection.

    Raises:
        PortInUse: when the port cannot be bound (another process or server holds it); the
            message names the address.
    """
    server = grpc.aio.server(interceptors=[_TraceServerInterceptor()], options=_SERVER_OPTIONS)
    for add in register:
        add(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [*service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME],
        server,
    )
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:
        bound = 0
    if bound == 0:
        await server.stop(None)
        raise PortInUse(
            f"cannot start the gRPC server on {host}:{port}: the port is in use (is another instance "
            "running?) or the address is not available; free it or choose another port"
        )
    await server.start()
    for name in ("", *service_names):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("grpc.started", address=f"{host}:{bound}", services=list(service_names))
    return GrpcServer(server=server, port=bound, health=health_servicer)


def channel(target: str) -> grpc.aio.Channel:
    """An insecure ``grpc.aio`` channel to ``host:port`` with Earshot's message-size limits."""
    return grpc.aio.insecure_channel(target, options=_OPTIONS)


def call_metadata(extra: dict[str, str] | None = None) -> tuple[tuple[str, str], ...]:
    """Metadata for an outgoing call: the current ``traceparent`` plus ``extra``."""
    return tuple(telemetry.inject(dict(extra or {})).items())


async def health_check(target: str, service: str = "", timeout_s: float = 2.0) -> bool:
    """True when the server at ``target`` reports SERVING for ``service``."""
    async with channel(target) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout_s)
        except grpc.aio.AioRpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
