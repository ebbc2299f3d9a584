"""``earshot anc``: noise cancellation and classification of local files, no server needed.

* ``earshot anc process IN.wav OUT.wav [--algorithm fdaf] [--taps 512] [--mu 0.5]``:
  a stereo IN (channel 0 primary/error microphone, channel 1 reference), or a mono IN
  with ``--algorithm ale``; writes the cleaned mono signal as 16-bit WAV and prints the
  metrics as JSON.
* ``earshot anc classify FILE``: prints the noise class as JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Active noise cancellation on files.")


def _fail(message: str) -> typer.Exit:
    typer.echo(f"earshot anc: {message}", err=True)
    return typer.Exit(2)


def _read(path: Path) -> tuple[np.ndarray, int]:
    from services.common import audio

    try:
        info = audio.probe(path)
        data = audio.decode(path, info.sample_rate, mono=False)
    except (audio.AudioError, OSError) as exc:
        raise _fail(f"{path}: {getattr(exc, 'details', exc)}") from None
    return np.atleast_2d(data), info.sample_rate


@app.command("process")
def process(
    source: Path = typer.Argument(..., help="Input: stereo (0: primary, 1: reference) or mono with ale."),
    target: Path = typer.Argument(..., help="Output WAV (mono, 16-bit)."),
    algorithm: str = typer.Option(None, help="nlms, fdaf, fxnlms, lms or ale (ANC_DEFAULT_ALGORITHM)."),
    taps: int = typer.Option(None, help="Filter length in samples (ANC_FILTER_TAPS)."),
    mu: float = typer.Option(None, help="Step size."),
    block_size: int = typer.Option(None, help="FDAF block size, a power of two (ANC_BLOCK_SIZE)."),
    delay: int = typer.Option(None, help="ALE delay in samples."),
) -> None:
    """Cancel the noise in SOURCE and write TARGET; print metrics as JSON."""
    from services.anc import engine
    from services.anc.config import load_anc_settings
    from services.common.settings import ConfigurationError

    try:
        settings = load_anc_settings()
        spec = engine.resolve(
            settings, algorithm=algorithm, taps=taps, mu=mu, block_size=block_size, delay=delay
        )
    except (ConfigurationError, ValueError) as exc:
        raise _fail(str(exc)) from None
    data, rate = _read(source)
    if spec.channels == 2 and data.shape[0] != 2:
        raise _fail(
            f"{spec.algorithm} needs a stereo file (0: primary, 1: reference); got {data.shape[0]} channel(s)"
        )
    if spec.channels == 1 and data.shape[0] != 1:
        raise _fail(f"ale needs a mono file; got {data.shape[0]} channels")
    try:
        out, figures = engine.process(spec, data[0], data[1] if spec.channels == 2 else None, rate)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    from services.common import audio

    with audio.pcm16_wav_writer(target, rate) as w:
        w.write(out)
    typer.echo(
        json.dumps({"output": str(target), "algorithm": spec.algorithm, "params": spec.as_dict(), **figures})
    )


@app.command("classify")
def classify(path: Path = typer.Argument(..., help="An audio file (stereo is mixed down).")) -> None:
    """Classify the noise in FILE; print the class, confidence and emergency flag as JSON."""
    from services.anc import noise
    from services.anc.config import load_anc_settings
    from services.common.settings import ConfigurationError

    try:
        s = load_anc_settings()
    except ConfigurationError as exc:
        raise _fail(str(exc)) from None
    data, rate = _read(path)
    clf = noise.load_classifier(
        str(s.model_path or noise.MODEL_PATH),
        s.confidence_threshold,
        s.emergency_enabled,
        s.emergency_threshold,
    )
    try:
        result = clf.classify(data.mean(axis=0), rate)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    typer.echo(json.dumps(asdict(result)))
