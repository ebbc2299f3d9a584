"""``earshot transcribe``: against the embedded gateway (``--url``) and in-process (its own
embedded transcription service), as a real subprocess."""

from __future__ import annotations

import asyncio
import json
import sys

from tests.conftest import FIXTURES, JFK, JFK_REFERENCE, Embedded
from tests.embedded.test_transcription_quality import STEREO_LEFT, STEREO_RIGHT, wer


async def earshot(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        "transcribe",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 180)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_cli_against_gateway_json(embedded: Embedded) -> None:
    code, out, err = await earshot(str(JFK), "--format", "json", "--url", embedded.url)
    assert code == 0, err
    transcript = json.loads(out)
    assert wer(JFK_REFERENCE, transcript["text"]) == 0.0
    assert transcript["segments"][0]["words"]


async def test_cli_against_gateway_diarized_stereo_txt(embedded: Embedded) -> None:
    stereo = FIXTURES / "stereo_diarization.wav"
    code, out, err = await earshot(str(stereo), "--diarize", "--url", embedded.url)
    assert code == 0, err
    lines = dict(line.split(": ", 1) for line in out.strip().splitlines())
    assert wer(STEREO_LEFT, lines["SPEAKER_00"]) <= 0.10
    assert wer(STEREO_RIGHT, lines["SPEAKER_01"]) <= 0.10


async def test_cli_in_process_vtt() -> None:
    code, out, err = await earshot(str(JFK), "--format", "vtt")
    assert code == 0, err
    assert out.startswith("WEBVTT")
    text = " ".join(line for line in out.splitlines()[1:] if line and "-->" not in line)
    assert wer(JFK_REFERENCE, text) == 0.0


async def test_cli_errors_exit_nonzero(embedded: Embedded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all" * 20)
    code, _, err = await earshot(str(bad), "--url", embedded.url)
    assert code == 1 and "HTTP 400" in err
    code, _, err = await earshot(str(JFK), "--format", "docx")
    assert code == 2 and "--format" in err
    code, _, err = await earshot(str(bad))
    assert code == 1 and "unsupported_audio" in err
