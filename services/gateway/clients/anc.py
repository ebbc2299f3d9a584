"""Typed client of ``earshot.anc.v1.AncService`` (parameters, files, streams, classifier)."""

from __future__ import annotations

from typing import Any

from earshot.anc.v1 import anc_pb2, anc_pb2_grpc

from services.common import rpc
from services.common.runtime import Runtime
from services.gateway.clients.base import GrpcClient

__all__ = ["AncClient"]


class AncClient(GrpcClient[anc_pb2_grpc.AncServiceStub]):
    """The anc service over one channel.

    Args:
        runtime: resolves the target.
        timeout_s: default deadline (``EARSHOT_GRPC_DEADLINE_S``).
    """

    def __init__(self, runtime: Runtime, timeout_s: float) -> None:
        super().__init__(runtime, "anc", "ANC service", anc_pb2_grpc.AncServiceStub, timeout_s)

    async def resolve_params(
        self, params: anc_pb2.FilterParams, sample_rate: int
    ) -> anc_pb2.ResolveParamsResponse:
        """Defaults and range checks of filter parameters. Raises ApiError 400 "Invalid parameters"."""
        reply: anc_pb2.ResolveParamsResponse = await self.call(
            "ResolveParams",
            anc_pb2.ResolveParamsRequest(params=params, sample_rate=sample_rate),
            invalid_title="Invalid parameters",
        )
        return reply

    async def process(self, request: anc_pb2.ProcessRequest) -> anc_pb2.ProcessResponse:
        """Cancel the noise of a whole clip (deadline at least 120 s). Raises ApiError 400 "Invalid audio"."""
        reply: anc_pb2.ProcessResponse = await self.call(
            "Process", request, timeout_s=max(self.timeout_s, 120.0), invalid_title="Invalid audio"
        )
        return reply

    async def classify(self, samples: bytes, sample_rate: int) -> anc_pb2.ClassifyResponse:
        """Classify the noise of mono float32 samples. Raises ApiError 400 "Invalid audio"."""
        reply: anc_pb2.ClassifyResponse = await self.call(
            "Classify",
            anc_pb2.ClassifyRequest(samples=samples, sample_rate=sample_rate),
            invalid_title="Invalid audio",
        )
        return reply

    async def list_models(self, timeout_s: float | None = None) -> anc_pb2.ListModelsResponse:
        """The classifier and the adaptive filters with their parameters."""
        reply: anc_pb2.ListModelsResponse = await self.call(
            "ListModels", anc_pb2.ListModelsRequest(), timeout_s=timeout_s
        )
        return reply

    def stream(self) -> Any:
        """Open a bidirectional ``Stream`` call (first message: the config)."""
        return self.stub.Stream(metadata=rpc.call_metadata())
