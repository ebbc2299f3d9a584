"""A fake of OpenAI's ``POST /v1/audio/transcriptions`` (multipart, as the ``openai`` SDK sends it).

Use with ``openai.OpenAI(api_key=..., base_url=f"{fake.url}/v1")``. The fake checks the
``Authorization: Bearer`` header, reads the uploaded file (its real duration is decoded
with PyAV), and answers in the format asked for: ``json`` ``{"text"}``, ``text``, or
``verbose_json`` with ``task``, ``language`` (a name, as OpenAI gives it),
``duration``, ``segments`` and, for ``timestamp_granularities[]=word``, ``words``. The
words are :attr:`OpenAIAudioFake.script` (set by the test: the fake cannot hear), laid
out evenly over the audio's real duration, one segment per sentence. Errors use
OpenAI's ``{"error": {message, type, param, code}}`` body (401 without a key, 400 for
an unknown ``response_format``; scripted faults from :class:`tests.fakes.Fault`).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

import av
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.fakes import FakeServer, Recorded


def _error(status: int, message: str, param: str | None = None, code: str | None = None) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": param, "code": code}}, status_code=status
    )


def _duration(data: bytes) -> float:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / float(stream.rate or 16000)


@dataclass
class OpenAIAudioFake(FakeServer):
    """The fake server (see module docstring)."""

    script: str = ""

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/audio/transcriptions", self.transcribe, methods=["POST"])])

    async def transcribe(self, request: Request) -> Response:
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return _error(401, "You didn't provide an API key.", code="invalid_api_key")
        form = await request.form()
        upload = form.get("file")
        fields: dict[str, Any] = {
            k: form.getlist(k) if k.endswith("[]") else form.get(k) for k in form.keys()
        }
        fields.pop("file", None)
        if not isinstance(upload, UploadFile):
            return _error(400, "you must provide a file", "file")
        data = await upload.read()
        fields["file_bytes"] = len(data)
        self.requests.append(Recorded(request.url.path, dict(request.headers), fields))
        fault = self.next_fault()
        if fault and fault.status:
            return _error(fault.status, "The server had an error while processing your request.")
        fmt = str(form.get("response_format") or "json")
        if fmt not in ("json", "text", "srt", "verbose_json", "vtt"):
            return _error(400, f"Invalid response_format {fmt!r}", "response_format", "invalid_value")
        duration = _duration(data)
        words = self.script.split()
        step = duration / max(len(words), 1)
        timed = [
            {"word": re.sub(r"[^\w']", "", w), "start": round(i * step, 2), "end": round((i + 1) * step, 2)}
            for i, w in enumerate(words)
        ]
        if fmt == "text":
            return PlainTextResponse(self.script + "\n")
        if fmt == "json":
            return JSONResponse(
                {"text": self.script, "usage": {"type": "duration", "seconds": round(duration)}}
            )
        if fmt != "verbose_json":
            return PlainTextResponse(self.script)
        segments = []
        at = 0
        for sentence in [s for s in re.split(r"(?<=[.!?])\s+", self.script) if s]:
            n = len(sentence.split())
            segments.append(
                {
                    "id": len(segments),
                    "seek": 0,
                    "start": timed[at]["start"],
                    "end": timed[at + n - 1]["end"],
                    "text": " " + sentence,
                    "tokens": [],
                    "temperature": float(form.get("temperature") or 0),
                    "avg_logprob": -0.2,
                    "compression_ratio": 1.2,
                    "no_speech_prob": 0.01,
                }
            )
            at += n
        body: dict[str, Any] = {
            "task": "transcribe",
            "language": "english",
            "duration": round(duration, 2),
            "text": self.script,
            "segments": segments,
        }
        if "word" in form.getlist("timestamp_granularities[]"):
            body["words"] = timed
        return JSONResponse(body)
