"""Cloud speech-to-text engines behind the :class:`~services.transcription.engine.Engine`
interface: OpenAI through the official ``openai`` SDK and Gemini through ``google-genai``.

Both return the one :class:`~services.common.transcript.Transcript` model. Both honour a
``base_url`` so tests (and self-hosted compatible servers) can stand in for the real APIs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from services.common import audio, languages
from services.common.transcript import Segment, Transcript, Word
from services.transcription import diarization
from services.transcription.engine import EngineError, ProgressCallback, TranscribeOptions, speaker_bounds

MIME_TYPES = {
    "wav": "audio/wav",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "webm": "audio/webm",
    "aiff": "audio/aiff",
}
GEMINI_INLINE_LIMIT = 18 * 1024 * 1024  # inline request data must stay under 20 MB
OPENAI_WORD_MODELS = ("whisper-1",)  # models that return verbose_json with word timings


def _format(path: Path) -> str:
    with path.open("rb") as fh:
        kind = audio.sniff_format(fh.read(64 * 1024))
    if kind is None:
        raise audio.UnsupportedAudio("The file is not in a supported audio format.")
    return kind


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


class OpenAIEngine:
    """OpenAI's transcription API via the ``openai`` SDK (``whisper-1``, ``gpt-4o-transcribe``...).

    ``whisper-1`` is asked for ``verbose_json`` with segment (and, when wanted, word)
    timestamps; the ``gpt-4o-*`` models only return ``json`` text, so their transcript
    has one segment spanning the audio and no words. Diarization with this engine uses
    the local MFCC method on the returned word timings (whisper-1 only).

    Args:
        api_key: ``OPENAI_API_KEY``.
        base_url: ``OPENAI_BASE_URL`` (None: api.openai.com).
        model: default model.
        timeout_s: per-request timeout.
    """

    name = "openai"

    def __init__(self, api_key: str, base_url: str | None, model: str, timeout_s: float = 300.0) -> None:
        from openai import OpenAI

        self.model_name = model
        self._client = OpenAI(api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=2)

    def transcribe_file(
        self, path: Path, options: TranscribeOptions, progress: ProgressCallback | None = None
    ) -> Transcript:
        """Upload the file and map OpenAI's response (see class docstring).

        Raises:
            services.common.audio.AudioError: not audio.
            EngineError: the API refused the request (4xx: ``client_error``) or failed.
        """
        import openai

        kind = _format(path)
        info = audio.probe(path, verify=False)
        model = options.model or self.model_name
        verbose = model in OPENAI_WORD_MODELS or model.startswith("whisper")
        want_words = options.word_timestamps or options.diarize
        kwargs: dict[str, Any] = {"model": model}
        if options.language:
            kwargs["language"] = options.language
        if options.prompt:
            kwargs["prompt"] = options.prompt
        if options.temperature is not None:
            kwargs["temperature"] = options.temperature
        if verbose:
            kwargs["response_format"] = "verbose_json"
            kwargs["timestamp_granularities"] = ["segment", "word"] if want_words else ["segment"]
        else:
            kwargs["response_format"] = "json"
        try:
            with path.open("rb") as fh:
                result = self._client.audio.transcriptions.create(file=(f"audio.{kind}", fh), **kwargs)
        except openai.APIStatusError as exc:
            raise EngineError(
                "provider_error",
                f"OpenAI answered {exc.status_code}: {exc.message}",
                client_error=400 <= exc.status_code < 500 and exc.status_code not in (401, 403, 429),
            ) from exc
        except openai.APIError as exc:
            raise EngineError("provider_unavailable", f"OpenAI could not be reached: {exc}") from exc
        if progress is not None:
            progress(info.duration_s, info.duration_s)
        transcript = self._to_transcript(result, info.duration_s, options)
        if options.diarize and transcript.words:
            low, high = speaker_bounds(options)
            transcript = diarization.diarize(transcript, audio.decode(path), low, high)
        return transcript

    @staticmethod
    def _to_transcript(result: Any, duration: float, options: TranscribeOptions) -> Transcript:
        text = str(_get(result, "text", "") or "").strip()
        language = languages.code_of(str(_get(result, "language", "") or options.language or "en"))
        raw_segments = _get(result, "segments") or []
        raw_words = _get(result, "words") or []
        words = [
            Word(
                word=str(_get(w, "word", "")).strip(),
                start=float(_get(w, "start", 0)),
                end=float(_get(w, "end", 0)),
            )
            for w in raw_words
        ]
        segments: list[Segment] = []
        for s in raw_segments:
            start, end = float(_get(s, "start", 0)), float(_get(s, "end", 0))
            inside = [w for w in words if start - 0.01 <= (w.start + w.end) / 2 <= end + 0.01]
            segments.append(
                Segment(
                    id=len(segments),
                    start=start,
                    end=end,
                    text=str(_get(s, "text", "")).strip(),
                    words=inside if options.word_timestamps or options.diarize else [],
                )
            )
        if not segments and text:
            segments = [Segment(id=0, start=0.0, end=round(duration, 3), text=text, words=words)]
        return Transcript(
            language=language,
            duration=float(_get(result, "duration", 0) or duration),
            text=text,
            segments=segments,
        )


class GeminiSegment(BaseModel):
    """One speaker turn as Gemini is asked to return it."""

    speaker: str = Field(description="Speaker label, e.g. 'Speaker 1', or the name if said.")
    start: float = Field(ge=0, description="Start time in seconds from the beginning of the audio.")
    end: float = Field(ge=0, description="End time in seconds.")
    text: str = Field(description="Verbatim transcript of the turn.")


class GeminiTranscript(BaseModel):
    """The JSON schema Gemini must answer with (``response_schema``)."""

    language: str = Field(description="ISO 639-1 code of the spoken language.")
    segments: list[GeminiSegment]


GEMINI_PROMPT = (
    "Transcribe this recording verbatim. Split it into speaker turns; label speakers "
    "'Speaker 1', 'Speaker 2', ... in order of first appearance (use a name only when "
    "the speaker is clearly named). Give each turn's start and end time in seconds from "
    "the beginning of the audio. Answer with JSON that matches the schema. Return an "
    "empty list of segments if there is no speech."
)


class GeminiEngine:
    """Gemini (``google-genai`` SDK): audio plus a prompt asking for a speaker-labelled,
    timestamped transcript, answered as JSON validated against :class:`GeminiTranscript`.

    Speakers are Gemini's own labels. Words carry no timings (Gemini gives none), so
    ``words`` is empty. Files go inline (up to 18 MB).

    Args:
        api_key: ``GEMINI_API_KEY`` / ``GOOGLE_API_KEY``.
        base_url: ``EARSHOT_GEMINI_BASE_URL`` (None: Google's endpoint).
        model: default model, e.g. ``gemini-2.5-flash``.
        timeout_s: per-request timeout.
    """

    name = "gemini"

    def __init__(self, api_key: str, base_url: str | None, model: str, timeout_s: float = 300.0) -> None:
        from google import genai
        from google.genai import types

        self.model_name = model
        self._types = types
        self._client = genai.Client(
            api_key=api_key,
            http_options=types.HttpOptions(base_url=base_url, timeout=int(timeout_s * 1000)),
        )

    def transcribe_file(
        self, path: Path, options: TranscribeOptions, progress: ProgressCallback | None = None
    ) -> Transcript:
        """Send the audio inline and validate Gemini's JSON answer.

        Raises:
            services.common.audio.AudioError: not audio.
            EngineError: too large, the API failed, or the answer does not match the schema.
        """
        from google.genai import errors

        kind = _format(path)
        info = audio.probe(path, verify=False)
        size = path.stat().st_size
        if size > GEMINI_INLINE_LIMIT:
            raise EngineError(
                "too_large",
                f"the Gemini engine sends audio inline, at most {GEMINI_INLINE_LIMIT // 2**20} MB",
                client_error=True,
            )
        types = self._types
        prompt = GEMINI_PROMPT
        if options.language:
            prompt += f" The language is {languages.name_of(options.language)}."
        if options.prompt:
            prompt += f" Context and spellings: {options.prompt}"
        if options.diarize and (options.num_speakers or len(options.participants) >= 2):
            low, _ = speaker_bounds(options)
            prompt += f" There are exactly {low} speakers."
        elif options.diarize and (options.min_speakers or options.max_speakers):
            most = options.max_speakers or "several"
            prompt += f" There are between {options.min_speakers or 1} and {most} speakers."
        try:
            response = self._client.models.generate_content(
                model=options.model or self.model_name,
                contents=[
                    types.Part.from_bytes(data=path.read_bytes(), mime_type=MIME_TYPES[kind]),
                    prompt,
                ],
                config=types.GenerateContentConfig(
                    response_mime_type="application/json",
                    response_schema=GeminiTranscript,
                    temperature=options.temperature if options.temperature is not None else 0.0,
                ),
            )
        except errors.ClientError as exc:
            raise EngineError(
                "provider_error", f"Gemini answered {exc.code}: {exc.message}", client_error=True
            ) from exc
        except errors.APIError as exc:
            raise EngineError("provider_unavailable", f"Gemini failed: {exc.code} {exc.message}") from exc
        try:
            parsed = GeminiTranscript.model_validate_json(response.text or "")
        except ValidationError as exc:
            raise EngineError("bad_response", f"Gemini's answer does not match the schema: {exc}") from exc
        if progress is not None:
            progress(info.duration_s, info.duration_s)
        segments = [
            Segment(
                id=i,
                start=round(min(s.start, info.duration_s), 3),
                end=round(min(max(s.end, s.start), info.duration_s), 3),
                text=s.text.strip(),
                speaker=(s.speaker.strip() or None) if options.diarize else None,
            )
            for i, s in enumerate(x for x in parsed.segments if x.text.strip())
        ]
        return Transcript(
            language=languages.code_of(parsed.language or options.language or "en"),
            duration=info.duration_s,
            text=" ".join(s.text for s in segments).strip(),
            segments=segments,
        )
