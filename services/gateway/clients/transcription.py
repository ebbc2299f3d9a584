"""Typed client of ``earshot.transcription.v1.TranscriptionService``."""

from __future__ import annotations

from earshot.transcription.v1 import transcription_pb2, transcription_pb2_grpc

from services.common.runtime import Runtime
from services.common.transcript import Segment, SpeechInterval, Transcript, Word
from services.gateway.clients.base import GrpcClient

__all__ = ["TranscriptionClient", "transcript_from_reply"]


def transcript_from_reply(reply: transcription_pb2.TranscribeResponse) -> Transcript:
    """The :class:`~services.common.transcript.Transcript` of a ``Transcribe`` reply: segments
    (seconds) with speakers and word timings, and the speech intervals when voice activity was asked.
    """
    return Transcript(
        language=reply.language or "en",
        duration=reply.duration,
        text=reply.text,
        segments=[
            Segment(
                id=s.id,
                start=s.start,
                end=s.end,
                text=s.text,
                speaker=s.speaker or None,
                words=[
                    Word(word=w.word, start=w.start, end=w.end, probability=w.probability) for w in s.words
                ],
            )
            for s in reply.segments
        ],
        speech=[SpeechInterval(start=i.start, end=i.end) for i in reply.speech],
    )


class TranscriptionClient(GrpcClient[transcription_pb2_grpc.TranscriptionServiceStub]):
    """The transcription service over one channel.

    Args:
        runtime: resolves the target.
        timeout_s: default deadline (``EARSHOT_GRPC_DEADLINE_S``).
    """

    def __init__(self, runtime: Runtime, timeout_s: float) -> None:
        super().__init__(
            runtime,
            "transcription",
            "transcription service",
            transcription_pb2_grpc.TranscriptionServiceStub,
            timeout_s,
        )

    async def transcribe(
        self, request: transcription_pb2.TranscribeRequest, timeout_s: float
    ) -> transcription_pb2.TranscribeResponse:
        """Transcribe a clip of at most 60 s. Raises ApiError 400/404 (bad request, unknown model),
        503/504."""
        reply: transcription_pb2.TranscribeResponse = await self.call(
            "Transcribe", request, timeout_s=timeout_s
        )
        return reply

    async def list_models(self) -> transcription_pb2.ListModelsResponse:
        """The speech-to-text models served."""
        reply: transcription_pb2.ListModelsResponse = await self.call(
            "ListModels", transcription_pb2.ListModelsRequest(), timeout_s=10.0
        )
        return reply
