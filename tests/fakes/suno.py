"""A fake of Suno's HackMIT external API (the base URL seed 002 names), real wire format.

* ``POST /generate`` with ``{topic?, tags?, prompt?, make_instrumental?}`` and
  ``Authorization: Bearer <key>`` answers one clip object:
  ``{id, request_id, created_at, status: "submitted", title, metadata: {tags, prompt,
  gpt_description_prompt, type}, audio_url: null, video_url: null, image_url: null}``.
* ``GET /clips?ids=a,b`` answers a JSON array of those clips. Each poll moves a clip one
  step along ``submitted -> queued -> streaming -> complete`` (``polls_per_step`` polls
  per step: slow polling); ``streaming`` already has an ``audio_url`` (a stream), and
  ``complete`` has the final MP3 at ``/audio/<id>.mp3``.
* ``GET /audio/<id>.mp3`` serves a real MP3 (a 40-second two-chord tone made with PyAV).

Behaviour switches: ``mode = "ok" | "error" | "http_500" | "never"`` (``error``: the clip ends
in ``status: "error"`` with ``metadata.error_message``; ``http_500``: ``/generate`` fails;
``never``: the clip stays ``queued``). 401 without a bearer token.
"""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes import LoopbackServer, Recorded

_STEPS = ("submitted", "queued", "streaming", "complete")


def make_mp3(seconds: float = 40.0, rate: int = 44_100) -> bytes:
    """A stereo MP3 of two alternating chords (A minor, F major), ``seconds`` long."""
    import av

    t = np.arange(int(seconds * rate)) / rate
    chord_a = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63))
    chord_f = sum(np.sin(2 * np.pi * f * t) for f in (174.61, 220.0, 261.63))
    mix = np.where((t // 2) % 2 == 0, chord_a, chord_f) * 0.2
    pcm = np.stack([mix, mix * 0.9]).astype(np.float32)
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=rate, layout="stereo")
        frame = av.AudioFrame.from_ndarray(pcm, format="fltp", layout="stereo")
        frame.sample_rate = rate
        frame.pts = 0
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


class SunoFake(LoopbackServer):
    """The fake server (see module docstring).

    Attributes:
        mode: ``ok``, ``error``, ``http_500`` or ``never``.
        polls_per_step: status polls before a clip moves on one step.
        clips: every clip created, by id.
        polls: number of ``GET /clips`` requests.
        mp3: the bytes served as every clip's audio.
    """

    def __init__(self) -> None:
        super().__init__()
        self.mode = "ok"
        self.polls_per_step = 1
        self.clips: dict[str, dict[str, Any]] = {}
        self.polls = 0
        self.mp3 = make_mp3()
        self._seen: dict[str, int] = {}

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/generate", self.generate, methods=["POST"]),
                Route("/clips", self.get_clips, methods=["GET"]),
                Route("/audio/{name}", self.audio, methods=["GET"]),
            ]
        )

    def _authorized(self, request: Request) -> bool:
        value = request.headers.get("authorization", "")
        return value.startswith("Bearer ") and len(value) > len("Bearer ")

    async def generate(self, request: Request) -> Response:
        if not self._authorized(request):
            return JSONResponse({"detail": "Invalid or missing API token"}, status_code=401)
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"detail": "body must be JSON"}, status_code=422)
        self.requests.append(Recorded(request.url.path, dict(request.headers), body))
        if self.mode == "http_500":
            return JSONResponse({"detail": "Internal Server Error"}, status_code=500)
        if not any(body.get(k) for k in ("topic", "tags", "prompt")):
            return JSONResponse({"detail": "one of topic, tags or prompt is required"}, status_code=422)
        clip_id = str(uuid.uuid4())
        clip = {
            "id": clip_id,
            "request_id": str(uuid.uuid4()),
            "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "status": "submitted",
            "title": body.get("topic") or "Untitled",
            "metadata": {
                "tags": body.get("tags") or "",
                "prompt": body.get("prompt") or "",
                "gpt_description_prompt": body.get("topic") or "",
                "type": "gen",
            },
            "audio_url": None,
            "video_url": None,
            "image_url": None,
        }
        self.clips[clip_id] = clip
        self._seen[clip_id] = 0
        return JSONResponse(clip)

    async def get_clips(self, request: Request) -> Response:
        if not self._authorized(request):
            return JSONResponse({"detail": "Invalid or missing API token"}, status_code=401)
        self.polls += 1
        ids = [i for i in request.query_params.get("ids", "").split(",") if i]
        out = []
        for clip_id in ids:
            clip = self.clips.get(clip_id)
            if clip is None:
                continue
            self._seen[clip_id] += 1
            step = min(len(_STEPS) - 1, self._seen[clip_id] // self.polls_per_step)
            if self.mode == "never":
                step = min(step, 1)
            status = _STEPS[step]
            if self.mode == "error" and step >= 2:
                clip["status"] = "error"
                clip["metadata"]["error_message"] = "Song generation failed: content moderation"
                clip["audio_url"] = None
            else:
                clip["status"] = status
                base = str(request.base_url).rstrip("/")
                if status == "streaming":
                    clip["audio_url"] = f"{base}/audio/{clip_id}.stream.mp3"
                elif status == "complete":
                    clip["audio_url"] = f"{base}/audio/{clip_id}.mp3"
            out.append(dict(clip))
        return JSONResponse(out)

    async def audio(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name.split(".")[0] not in self.clips:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        return Response(self.mp3, media_type="audio/mpeg")
