"""``earshot transcribe FILE [--format txt|json|srt|vtt] [--diarize] [--engine ...] [--url URL]``.

Without ``--url`` the file is transcribed in-process: an embedded
:class:`services.platform.Platform` with only the transcription service runs on a
temporary data folder (in-memory bus, local storage, free gRPC port); the command sends
the same ``earshot.transcription.requested.v1`` event the gateway would and drives the
progress bar from the service's ``earshot.transcription.progress.v1`` events. With
``--url`` it posts to a running gateway's OpenAI-compatible
``POST /v1/audio/transcriptions`` (``verbose_json``), with the bar following the upload.
The transcript goes to stdout; the bar and errors to stderr (exit 1 for a failed
transcription, 2 for bad arguments).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer

from services.common import audio, subtitles, telemetry
from services.common.events import (
    TRANSCRIPTION_EVENTS,
    Envelope,
    TranscriptionCompleted,
    TranscriptionFailed,
    TranscriptionProgress,
    TranscriptionRequested,
)
from services.common.settings import ConfigurationError, load_settings
from services.common.transcript import Segment, Transcript, Word

FORMATS = ("txt", "json", "srt", "vtt")
ENGINES = ("local", "openai", "gemini")

Progress = Callable[[float, str], None]
"""``progress(percent, description)``."""


class TranscribeError(RuntimeError):
    """The transcription failed; the message says why."""


async def transcribe_local(
    path: Path,
    *,
    diarize: bool = False,
    engine: str | None = None,
    language: str | None = None,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
    progress: Progress | None = None,
    timeout_s: float = 7200.0,
) -> Transcript:
    """Transcribe ``path`` on an in-process platform running the transcription service.

    Raises:
        TranscribeError: unreadable audio or a failed transcription.
        services.common.settings.ConfigurationError: invalid settings.
    """
    from services.platform import Platform

    def report(percent: float, text: str) -> None:
        if progress is not None:
            progress(percent, text)

    try:
        info = audio.probe(path, verify=False)
    except audio.AudioError as exc:
        raise TranscribeError(f"{path.name}: {exc.code}: {exc.details}") from None
    with tempfile.TemporaryDirectory(prefix="earshot-transcribe-") as tmp:
        settings = load_settings(
            data_dir=Path(tmp),
            bus_url="memory://",
            storage_url=None,
            transcription_grpc_port=0,
            log_level="warning",
        )
        # the events this command publishes carry a trace (exported when EARSHOT_OTLP_ENDPOINT is set)
        telemetry.configure_tracing("earshot-cli", settings.otlp_endpoint, settings.otlp_protocol)
        platform = Platform(settings, ("transcription",), run_migrations=False)
        report(0, "loading the model")
        runtime = await platform.start()
        try:
            job = str(uuid.uuid4())
            done: asyncio.Future[Envelope] = asyncio.get_running_loop().create_future()

            async def on_event(envelope: Envelope) -> None:
                if envelope.key != job or done.done():
                    return
                if envelope.type == TranscriptionProgress.event_type:
                    p = envelope.payload(TranscriptionProgress)
                    report(p.percent, f"transcribing {p.processed_s:.0f}/{p.duration_s:.0f} s")
                elif envelope.type in (TranscriptionCompleted.event_type, TranscriptionFailed.event_type):
                    done.set_result(envelope)

            sub = await runtime.bus.subscribe([TRANSCRIPTION_EVENTS], f"cli-{job}", on_event)
            try:
                key = f"uploads/{job}.{info.format}"
                await runtime.storage.put_file(key, path)
                request = TranscriptionRequested(
                    job_id=job,
                    audio_key=key,
                    language=language,
                    word_timestamps=True,
                    purpose="cli",
                    engine=engine,
                    diarize=diarize,
                    min_speakers=min_speakers,
                    max_speakers=max_speakers,
                )
                report(0, f"transcribing {info.duration_s:.0f} s")
                await runtime.bus.publish(
                    request.topic,
                    Envelope.of(request, "/earshot/cli", **telemetry.event_extensions(request.event_type)),
                )
                envelope = await asyncio.wait_for(done, timeout_s)
                if envelope.type == TranscriptionFailed.event_type:
                    failed = envelope.payload(TranscriptionFailed)
                    raise TranscribeError(f"{failed.error}: {failed.details}")
                completed = envelope.payload(TranscriptionCompleted)
                transcript = Transcript.model_validate_json(
                    await runtime.storage.get(completed.transcript_key)
                )
                report(100, "done")
                return transcript
            finally:
                await sub.close()
        finally:
            await platform.stop()


def transcribe_remote(
    path: Path,
    url: str,
    *,
    diarize: bool = False,
    engine: str | None = None,
    language: str | None = None,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
    progress: Progress | None = None,
    timeout_s: float = 7200.0,
) -> Transcript:
    """Transcribe ``path`` through a gateway's ``POST /v1/audio/transcriptions``.

    Raises:
        TranscribeError: the gateway answered an error (its message is kept) or is unreachable.
    """
    import httpx

    size = path.stat().st_size
    boundary = uuid.uuid4().hex
    fields: list[tuple[str, str]] = [
        ("model", "whisper-1"),
        ("response_format", "verbose_json"),
        ("timestamp_granularities[]", "word"),
        ("timestamp_granularities[]", "segment"),
    ]
    if diarize:
        fields.append(("diarize", "true"))
    for name, value in (
        ("engine", engine),
        ("language", language),
        ("min_speakers", min_speakers),
        ("max_speakers", max_speakers),
    ):
        if value is not None:
            fields.append((name, str(value)))

    def body() -> Iterator[bytes]:
        for name, value in fields:
            yield f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        sent = 0
        with path.open("rb") as fh:
            while block := fh.read(1 << 16):
                sent += len(block)
                if progress is not None:
                    progress(min(99.0, 100.0 * sent / max(size, 1)), "uploading")
                yield block
        if progress is not None:
            progress(99.0, "transcribing on the server")
        yield f"\r\n--{boundary}--\r\n".encode()

    try:
        response = httpx.post(
            f"{url.rstrip('/')}/v1/audio/transcriptions",
            content=body(),
            headers={"content-type": f"multipart/form-data; boundary={boundary}"},
            timeout=timeout_s,
        )
    except httpx.HTTPError as exc:
        raise TranscribeError(f"cannot reach {url}: {exc}") from None
    if response.status_code != 200:
        try:
            error = response.json().get("error")
            message = error.get("message") if isinstance(error, dict) else str(error)
        except ValueError:
            message = response.text[:300]
        raise TranscribeError(f"HTTP {response.status_code}: {message}")
    data = response.json()
    if progress is not None:
        progress(100, "done")
    words = [Word(word=w["word"], start=w["start"], end=w["end"]) for w in data.get("words", [])]
    segments = []
    for s in data.get("segments", []):
        inside = [w for w in words if s["start"] - 0.01 <= (w.start + w.end) / 2 <= s["end"] + 0.01]
        segments.append(
            Segment(
                id=s["id"],
                start=s["start"],
                end=s["end"],
                text=s["text"],
                speaker=s.get("speaker"),
                words=inside,
            )
        )
    from services.common import languages

    return Transcript(
        language=languages.code_of(data.get("language", "en")),
        duration=data.get("duration", 0.0),
        text=data.get("text", ""),
        segments=segments,
    )


def render(transcript: Transcript, fmt: str) -> str:
    """The transcript as ``txt`` (speaker-prefixed lines when diarized), ``json``, ``srt`` or ``vtt``."""
    if fmt == "json":
        return json.dumps(transcript.model_dump(mode="json"), indent=2, ensure_ascii=False)
    if fmt == "srt":
        return subtitles.to_srt(transcript)
    if fmt == "vtt":
        return subtitles.to_vtt(transcript)
    return subtitles.to_text(transcript, speakers=True)


def transcribe(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, help="Recording to transcribe."
    ),
    fmt: str = typer.Option("txt", "--format", "-f", help="txt, json, srt or vtt."),
    diarize: bool = typer.Option(False, "--diarize", help="Label speakers (by channel for stereo)."),
    engine: str = typer.Option(
        None, "--engine", help="local, openai or gemini (default: EARSHOT_TRANSCRIPTION_ENGINE)."
    ),
    language: str = typer.Option(None, "--language", help="ISO 639-1 code; default: detect."),
    min_speakers: int = typer.Option(None, "--min-speakers", min=1, help="Lower bound on speakers."),
    max_speakers: int = typer.Option(None, "--max-speakers", min=1, help="Upper bound on speakers."),
    url: str = typer.Option(
        None, "--url", help="A running gateway, e.g. http://127.0.0.1:8000; default: in-process."
    ),
) -> None:
    """Transcribe FILE and print it (txt, json, srt or vtt), with a progress bar on stderr."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    if fmt not in FORMATS:
        typer.echo(f"earshot: --format must be one of {', '.join(FORMATS)}", err=True)
        raise typer.Exit(2)
    if engine is not None and engine not in ENGINES:
        typer.echo(f"earshot: --engine must be one of {', '.join(ENGINES)}", err=True)
        raise typer.Exit(2)
    options: dict[str, Any] = {
        "diarize": diarize,
        "engine": engine,
        "language": language,
        "min_speakers": min_speakers,
        "max_speakers": max_speakers,
    }
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=100)

        def progress(percent: float, text: str) -> None:
            bar.update(task, completed=percent, description=text)

        try:
            if url:
                transcript = transcribe_remote(file, url, progress=progress, **options)
            else:
                from services.common.logging import configure_logging

                configure_logging("warning")
                with contextlib.redirect_stdout(sys.stderr):  # service logs must not mix with the transcript
                    transcript = asyncio.run(transcribe_local(file, progress=progress, **options))
        except (TranscribeError, ConfigurationError) as exc:
            bar.stop()
            typer.echo(f"earshot: {exc}", err=True)
            raise typer.Exit(1) from None
    typer.echo(render(transcript, fmt))
