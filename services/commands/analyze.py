"""``earshot analyze FILE --kind temperature|meeting|interview [--json]``.

Runs transcription then analysis on a local recording: starts an in-process
:class:`services.platform.Platform` with the transcription and analysis services on a
temporary data folder (in-memory bus, local storage, free gRPC ports), sends the same
events the gateway would, shows a progress bar and prints the result (a readable digest,
or the full JSON with ``--json``). Provider settings come from the environment as for
``earshot up`` (``EARSHOT_ANALYSIS_PROVIDER``, ``EARSHOT_TEMPERATURE_ANALYZER``, keys).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import tempfile
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError

from services.common import audio, telemetry
from services.common.events import (
    ANALYSIS_COMPLETED_TYPES,
    ANALYSIS_EVENTS,
    TRANSCRIPTION_EVENTS,
    AnalysisCompletedV2,
    AnalysisFailed,
    AnalysisRequestedV2,
    Envelope,
    TranscriptionCompleted,
    TranscriptionFailed,
    TranscriptionRequested,
)
from services.common.logging import configure_logging
from services.common.settings import ConfigurationError, load_settings

KINDS = ("temperature", "meeting", "interview")


class AnalyzeError(RuntimeError):
    """A step failed; the message says which and why."""


async def run_analysis(
    path: Path,
    kind: str,
    options: dict[str, Any] | None = None,
    progress: Any = None,
    timeout_s: float = 600.0,
) -> dict[str, Any]:
    """Transcribe ``path`` and analyse it as ``kind`` on an in-process platform.

    Returns ``{"kind", "analyzer", "transcript": {...}, "result": {...}}``; ``result`` is the JSON of
    the kind's typed result (services.common.analysis_results: TemperatureResult, MeetingAnalysis,
    InterviewResult, whose analyses that did not complete are null).

    Raises:
        AnalyzeError: unreadable audio, a failed transcription or analysis.
        services.common.settings.ConfigurationError: invalid settings.
    """
    from services.platform import Platform

    def step(description: str, advance: int = 1) -> None:
        if progress is not None:
            progress(description, advance)

    try:
        info = audio.probe(path)
    except audio.AudioError as exc:
        raise AnalyzeError(f"{path.name}: {exc.code}: {exc.details}") from None
    with tempfile.TemporaryDirectory(prefix="earshot-analyze-") as tmp:
        settings = load_settings(
            data_dir=Path(tmp),
            bus_url="memory://",
            database_url=None,
            storage_url=None,
            transcription_grpc_port=0,
            analysis_grpc_port=0,
            log_level="warning",
        )
        # the events this command publishes carry a trace (exported when EARSHOT_OTLP_ENDPOINT is set)
        telemetry.configure_tracing("earshot-cli", settings.otlp_endpoint, settings.otlp_protocol)
        platform = Platform(settings, ("transcription", "analysis"), run_migrations=False)
        step("loading models")
        runtime = await platform.start()
        try:
            job = str(uuid.uuid4())
            loop = asyncio.get_running_loop()
            transcribed: asyncio.Future[Envelope] = loop.create_future()
            analysed: asyncio.Future[Envelope] = loop.create_future()

            finals = {TranscriptionCompleted.event_type, TranscriptionFailed.event_type}

            async def on_stt(envelope: Envelope) -> None:
                if envelope.key == job and envelope.type in finals and not transcribed.done():
                    transcribed.set_result(envelope)

            async def on_analysis(envelope: Envelope) -> None:
                done_types = {*ANALYSIS_COMPLETED_TYPES, AnalysisFailed.event_type}
                if envelope.key == job and envelope.type in done_types and not analysed.done():
                    analysed.set_result(envelope)

            subs = [
                await runtime.bus.subscribe([TRANSCRIPTION_EVENTS], f"cli-{job}-stt", on_stt),
                await runtime.bus.subscribe([ANALYSIS_EVENTS], f"cli-{job}-ana", on_analysis),
            ]
            try:
                step(f"uploading {path.name} ({info.duration_s:.1f} s)")
                key = f"uploads/{job}{path.suffix.lower()}"
                await runtime.storage.put_file(key, path)
                request = TranscriptionRequested(job_id=job, audio_key=key, purpose=kind)
                trace_context = telemetry.event_extensions(request.event_type)  # one trace per run
                await runtime.bus.publish(
                    request.topic, Envelope.of(request, "/earshot/cli", **trace_context)
                )
                step("transcribing")
                envelope = await asyncio.wait_for(transcribed, timeout_s)
                if envelope.type == TranscriptionFailed.event_type:
                    failed = envelope.payload(TranscriptionFailed)
                    raise AnalyzeError(f"transcription failed: {failed.error}: {failed.details}")
                done = envelope.payload(TranscriptionCompleted)
                transcript = json.loads(await runtime.storage.get(done.transcript_key))
                step(f"analysing ({kind})")
                try:
                    ask = AnalysisRequestedV2.model_validate(
                        {
                            "job_id": job,
                            "kind": kind,
                            "transcript_key": done.transcript_key,
                            "audio_key": key,
                            "options": options or {},
                        }
                    )
                except ValidationError as exc:
                    raise AnalyzeError(f"invalid options for {kind}: {exc.errors()[0]['msg']}") from None
                await runtime.bus.publish(ask.topic, Envelope.of(ask, "/earshot/cli", **trace_context))
                envelope = await asyncio.wait_for(analysed, timeout_s)
                if envelope.type == AnalysisFailed.event_type:
                    failed_a = envelope.payload(AnalysisFailed)
                    raise AnalyzeError(f"analysis failed: {failed_a.error}: {failed_a.details}")
                result = AnalysisCompletedV2.from_envelope(envelope)
                step("done")
                return {
                    "kind": kind,
                    "analyzer": result.analyzer,
                    "transcript": transcript,
                    "result": result.result.model_dump(mode="json"),
                }
            finally:
                for sub in subs:
                    await sub.close()
        finally:
            await platform.stop()


def _digest(kind: str, out: dict[str, Any]) -> str:
    r = out["result"]
    lines = [f"transcript: {out['transcript'].get('text', '').strip()}", ""]
    if kind == "temperature":
        lines += [
            f"temperature: {r['temperature']}/100 (confidence {r['confidence']:.2f})",
            r["analysis_summary"],
        ]
    elif kind == "meeting":
        lines += [f"title: {r['title']}", f"summary: {r['summary']}", "action items:"]
        lines += [
            f"  - {a['task']} (owner: {a['assigned_to'] or '-'}, due: {a['due_date'] or '-'})"
            for a in r["action_items"]
        ] or ["  (none)"]
        if r.get("template_suggestion"):
            t = r["template_suggestion"]
            lines.append(f"suggested template: {t['suggested_template_name']} ({t['confidence']:.2f})")
    else:
        for name, res in r["results"].items():
            if res is not None:
                lines.append(f"{name}: score {res.get('score')} - {res.get('feedback', '')}")
        for name, err in r["errors"].items():
            lines.append(f"{name}: failed ({err['error']}: {err['details']})")
    lines.append(f"(analyzer: {out['analyzer']})")
    return "\n".join(lines)


def analyze(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, help="Recording to analyse."
    ),
    kind: str = typer.Option("temperature", "--kind", "-k", help="temperature, meeting or interview."),
    as_json: bool = typer.Option(False, "--json", help="Print the full result as JSON."),
    question: str = typer.Option("", help="interview: the question that was answered."),
    meeting_date: str = typer.Option("", help="meeting: ISO date due dates are resolved against."),
) -> None:
    """Transcribe FILE and analyse it (temperature, meeting or interview), with a progress bar."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    if kind not in KINDS:
        typer.echo(f"earshot: --kind must be one of {', '.join(KINDS)}", err=True)
        raise typer.Exit(2)
    options: dict[str, Any] = {}
    if kind == "interview" and question:
        options["question"] = question
    if kind == "meeting" and meeting_date:
        try:
            options["meeting_date"] = date.fromisoformat(meeting_date).isoformat()
        except ValueError:
            typer.echo("earshot: --meeting-date must be YYYY-MM-DD", err=True)
            raise typer.Exit(2) from None
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=6)

        def progress(description: str, advance: int) -> None:
            bar.update(task, description=description, advance=advance)

        try:
            # service logs go to stderr so stdout carries only the result
            with contextlib.redirect_stdout(sys.stderr):
                configure_logging("warning", "console")
                out = asyncio.run(run_analysis(file, kind, options, progress))
        except (AnalyzeError, ConfigurationError) as exc:
            typer.echo(f"earshot: {exc}", err=True)
            raise typer.Exit(1) from None
    if as_json:
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    else:
        typer.echo(_digest(kind, out))
