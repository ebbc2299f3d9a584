"""Fake gRPC clients for the gateway's route tests: the typed client interfaces, answered in
process (no server), recording what they were asked."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from earshot.anc.v1 import anc_pb2
from earshot.auth.v1 import auth_pb2
from earshot.transcription.v1 import transcription_pb2

from services.gateway.shared.errors import ApiError


class FakeStreamCall:
    """A bidirectional ``Stream`` call: every block comes back as processed audio (halved),
    with a metrics message after each block."""

    def __init__(self) -> None:
        self.replies: asyncio.Queue[anc_pb2.StreamResponse | None] = asyncio.Queue()
        self.config: anc_pb2.StreamConfig | None = None
        self.blocks = 0
        self.samples = 0

    async def write(self, request: anc_pb2.StreamRequest) -> None:
        if request.HasField("config"):
            self.config = request.config
            return
        primary = np.frombuffer(request.block.primary, dtype="<f4")
        self.blocks += 1
        self.samples += primary.size
        await self.replies.put(
            anc_pb2.StreamResponse(
                block=anc_pb2.ProcessedBlock(
                    audio=(primary * 0.5).astype("<f4").tobytes(), sequence=self.blocks
                )
            )
        )
        await self.replies.put(
            anc_pb2.StreamResponse(
                metrics=anc_pb2.StreamMetrics(
                    blocks=self.blocks,
                    samples=self.samples,
                    attenuation_db=6.02,
                    recent_attenuation_db=6.02,
                    convergence_time_ms=-1,
                    classification=anc_pb2.Classification(label="hvac", confidence=0.9),
                )
            )
        )

    async def done_writing(self) -> None:
        await self.replies.put(None)

    def cancel(self) -> None:
        self.replies.put_nowait(None)

    def __aiter__(self) -> FakeStreamCall:
        return self

    async def __anext__(self) -> anc_pb2.StreamResponse:
        reply = await self.replies.get()
        if reply is None:
            raise StopAsyncIteration
        return reply


class FakeAnc:
    """The anc service: ``ResolveParams`` fills defaults (``bogus`` is refused), ``Process``
    halves the primary channel, ``Classify`` says ``hvac``."""

    async def check(self, deadline_s: float = 1.0) -> None:
        """Readiness (``/ready``'s ``grpc.<service>``): a fake always serves."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.streams: list[FakeStreamCall] = []

    async def resolve_params(
        self, params: anc_pb2.FilterParams, sample_rate: int
    ) -> anc_pb2.ResolveParamsResponse:
        self.calls.append("ResolveParams")
        algorithm = params.algorithm or "nlms"
        if algorithm == "bogus":
            raise ApiError(400, "Invalid parameters", "unknown algorithm 'bogus'")
        resolved = anc_pb2.FilterParams(algorithm=algorithm, taps=params.taps or 64, mu=params.mu or 0.1)
        return anc_pb2.ResolveParamsResponse(
            params=resolved, sample_rate=sample_rate or 16000, channels=1 if algorithm == "ale" else 2
        )

    async def process(self, request: anc_pb2.ProcessRequest) -> anc_pb2.ProcessResponse:
        self.calls.append("Process")
        primary = np.frombuffer(request.primary, dtype="<f4")
        return anc_pb2.ProcessResponse(
            output=(primary * 0.5).astype("<f4").tobytes(),
            algorithm=request.params.algorithm,
            params=request.params,
            metrics=anc_pb2.Metrics(attenuation_db=6.02, samples=primary.size, convergence_time_ms=-1),
        )

    async def classify(self, samples: bytes, sample_rate: int) -> anc_pb2.ClassifyResponse:
        self.calls.append("Classify")
        return anc_pb2.ClassifyResponse(
            classification=anc_pb2.Classification(label="hvac", confidence=0.9, top_class="hvac"),
            model="fake",
        )

    async def list_models(self, timeout_s: float | None = None) -> anc_pb2.ListModelsResponse:
        self.calls.append("ListModels")
        return anc_pb2.ListModelsResponse(default_algorithm="nlms", algorithms=["nlms", "ale"])

    def stream(self) -> FakeStreamCall:
        call = FakeStreamCall()
        self.streams.append(call)
        return call

    async def close(self) -> None:
        pass


class FakeTranscription:
    """The transcription service: every clip says ``hello world``; model ``whisper-1`` exists."""

    async def check(self, deadline_s: float = 1.0) -> None:
        """Readiness (``/ready``'s ``grpc.<service>``): a fake always serves."""

    def __init__(self) -> None:
        self.requests: list[transcription_pb2.TranscribeRequest] = []

    async def transcribe(
        self, request: transcription_pb2.TranscribeRequest, timeout_s: float
    ) -> transcription_pb2.TranscribeResponse:
        self.requests.append(request)
        if request.model == "no-such-model":
            raise ApiError(404, "Not found", "model_not_found: the model 'no-such-model' does not exist")
        return transcription_pb2.TranscribeResponse(
            language="en",
            duration=1.0,
            text="hello world",
            segments=[transcription_pb2.Segment(id=0, start=0.0, end=1.0, text="hello world")],
        )

    async def list_models(self) -> transcription_pb2.ListModelsResponse:
        return transcription_pb2.ListModelsResponse(
            models=[transcription_pb2.Model(id="whisper-1", owned_by="earshot")]
        )

    async def close(self) -> None:
        pass


class FakeAuth:
    """The auth service: register/login answer a session for the email; ``GetUser`` knows them."""

    async def check(self, deadline_s: float = 1.0) -> None:
        """Readiness (``/ready``'s ``grpc.<service>``): a fake always serves."""

    def __init__(self) -> None:
        self.users: dict[str, auth_pb2.User] = {}

    def _session(self, email: str, name: str) -> auth_pb2.Session:
        user = next((u for u in self.users.values() if u.email == email), None)
        if user is None:
            user = auth_pb2.User(
                id=f"u-{email.split('@')[0]}",
                email=email,
                name=name,
                auth_provider="password",
                is_active=True,
                created_at="2026-01-01T00:00:00Z",
            )
            self.users[user.id] = user
        return auth_pb2.Session(
            access_token=f"access-{user.id}",
            refresh_token=f"refresh-{user.id}",
            expires_in=900,
            refresh_expires_in=86400,
            user=user,
        )

    async def register(self, request: auth_pb2.RegisterRequest) -> auth_pb2.Session:
        if any(u.email == request.email for u in self.users.values()):
            raise ApiError(409, "Conflict", "email already registered")
        return self._session(request.email, request.name)

    async def login(self, request: auth_pb2.LoginRequest) -> auth_pb2.Session:
        return self._session(request.email, "")

    async def get_user(self, user_id: str) -> auth_pb2.User:
        if user_id not in self.users:
            raise ApiError(404, "Not found", "no such user")
        return self.users[user_id]

    async def start_oauth(self, provider: str, surface: str) -> Any:
        raise ApiError(404, "Sign-in provider not enabled", f"{provider} sign-in is not configured")

    async def close(self) -> None:
        pass
