"""Kill harness of the embedded mode (issue 15): start ``earshot up`` as a subprocess on its own
data folder and a free port, submit jobs of every kind, ``SIGKILL`` it mid-job, restart it,
repeat; then let it finish and count what became of every job.

Used by ``tests/embedded/test_kill.py`` (assertions) and ``benchmarks/kill.py`` (figures as
JSON). Everything is read from outside the process, as an operator would: the HTTP API, the
SQLite file, the object folder, the temp folder and ``/proc``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from services.common import audio
from services.common.settings import Settings

EARSHOT = str(Path(sys.executable).parent / "earshot")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ACTIVE = ("queued", "running")
KINDS = ("transcription", "temperature", "anc_batch", "media", "meeting")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def long_speech_wav(seconds: float = 70.0) -> bytes:
    """``jfk.flac`` repeated to ``seconds`` (16 kHz mono WAV): over 60 s, so a job, not gRPC."""
    jfk = audio.decode(FIXTURES / "jfk.flac", 16000)
    reps = int(np.ceil(seconds * 16000 / jfk.size))
    return audio.wav_bytes(np.tile(jfk, reps)[: int(seconds * 16000)], 16000)


def long_noise_wav(seconds: float = 70.0, rate: int = 8000) -> bytes:
    """A stereo WAV (primary, reference) of ``seconds``: an ANC batch job."""
    rng = np.random.default_rng(15)
    ref = 0.25 * rng.standard_normal(int(seconds * rate))
    primary = 0.02 * np.sin(2 * np.pi * 440 * np.arange(ref.size) / rate) + 0.6 * np.roll(ref, 2)
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        pcm = np.round(np.clip(np.vstack([primary, ref]).T, -1, 1) * 32767).astype("<i2")
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


@dataclass
class Figures:
    """What the kill run counted (printed as JSON by ``benchmarks/kill.py``)."""

    rounds: int = 0
    kills: int = 0
    submitted: dict[str, int] = field(default_factory=dict)
    succeeded: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    failed_reasons: dict[str, int] = field(default_factory=dict)
    failed_without_reason: int = 0
    lost: int = 0
    stuck: int = 0
    duplicated_results: int = 0
    objects_left: list[str] = field(default_factory=list)
    temp_left: list[str] = field(default_factory=list)
    orphan_processes: int = 0
    start_s: list[float] = field(default_factory=list)
    settle_s: float = 0.0
    total_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The figures as a JSON-able dict."""
        return dict(self.__dict__)


class Platform:
    """One ``earshot up`` process at a time on ``data_dir`` (its own process group)."""

    def __init__(self, data_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        grpc = {
            f"EARSHOT_{name.upper()}": "0" for name in Settings.model_fields if name.endswith("_grpc_port")
        }
        self.env = {
            **os.environ,
            **grpc,
            "EARSHOT_DATA_DIR": str(data_dir),
            "EARSHOT_LOG_LEVEL": "warning",
            "EARSHOT_JOB_SWEEP_INTERVAL_S": "0.5",
            "EARSHOT_JOB_BACKOFF_S": "0.2",
            **(extra_env or {}),
        }
        self.log = data_dir.parent / f"{data_dir.name}.log"

    def start(self, timeout_s: float = 120) -> float:
        """Start and wait for ``/ready``; returns the seconds it took."""
        started = time.monotonic()
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [EARSHOT, "up", "--port", str(self.port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: its workers are found by pgid
            )
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"earshot up exited {self.proc.returncode}: {self.log.read_text()[-3000:]}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return time.monotonic() - started
            if time.monotonic() - started > timeout_s:
                raise RuntimeError("earshot up did not become ready")
            time.sleep(0.2)

    def kill(self) -> int:
        """``SIGKILL`` the platform process (not its group) and return how many processes of
        its group were still alive 5 s later (orphans; they are then killed)."""
        assert self.proc is not None
        pgid = self.proc.pid
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        deadline = time.monotonic() + 5
        while True:
            alive = group_members(pgid)
            if not alive or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        if alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        self.proc = None
        return len(alive)

    def stop(self) -> int:
        """Stop gracefully (SIGTERM); returns the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            code = self.proc.wait()
        self.proc = None
        return code

    def db(self) -> sqlite3.Connection:
        """A read-only connection to the platform's SQLite file."""
        return sqlite3.connect(f"file:{self.data_dir / 'earshot.db'}?mode=ro", uri=True, timeout=15)

    def jobs(self) -> dict[str, tuple[str, str, str | None]]:
        """``{job id: (kind, status, error)}``."""
        with contextlib.closing(self.db()) as conn:
            return {
                r[0]: (r[1], r[2], r[3]) for r in conn.execute("SELECT id, kind, status, error FROM jobs")
            }


def group_members(pgid: int) -> list[int]:
    """PIDs of live (not zombie) processes whose process group is ``pgid`` (from ``/proc``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(entry.name))
    return found


class Client:
    """Submits jobs of each kind (synchronous ones in threads, since they block until done)."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.speech = long_speech_wav()
        self.noise = long_noise_wav()
        self.photo = base64.b64encode((FIXTURES / "coffee.png").read_bytes()).decode()
        self.short = (FIXTURES / "jfk.flac").read_bytes()
        self.token: str | None = None
        self.threads: list[threading.Thread] = []

    def _login(self) -> str:
        if self.token is None:
            url = self.platform.url
            body = {"email": "kill@example.com", "password": "kill-test-password", "name": "Kill"}
            r = httpx.post(f"{url}/api/auth/register", json=body, timeout=30)
            if r.status_code != 201:
                r = httpx.post(f"{url}/api/auth/login", json=body, timeout=30)
            r.raise_for_status()
            self.token = r.json()["access_token"]
        return self.token

    def _background(self, method: str, path: str, **kwargs: Any) -> None:
        def call() -> None:
            with contextlib.suppress(httpx.HTTPError):  # the platform is killed under it
                httpx.request(method, f"{self.platform.url}{path}", timeout=300, **kwargs)

        thread = threading.Thread(target=call, daemon=True)
        thread.start()
        self.threads.append(thread)

    def submit(self, kind: str) -> None:
        """Submit one job of ``kind`` (its id is read from the jobs table afterwards)."""
        url = self.platform.url
        if kind == "transcription":
            self._background(
                "POST",
                "/v1/audio/transcriptions",
                files={"file": ("speech.wav", self.speech, "audio/wav")},
                data={"model": "whisper-1"},
            )
        elif kind == "temperature":
            self._background(
                "POST", "/analyze-audio", files={"audio": ("jfk.flac", self.short, "audio/flac")}
            )
        elif kind == "anc_batch":
            r = httpx.post(
                f"{url}/api/audio/process",
                files={"audio": ("long.wav", self.noise, "audio/wav")},
                data={"algorithm": "nlms", "taps": "32"},
                headers={"Authorization": f"Bearer {self._login()}"},
                timeout=120,
            )
            assert r.status_code == 202, r.text
        elif kind == "media":
            r = httpx.post(f"{url}/upload-photo", json={"photo": self.photo}, timeout=60)
            assert r.status_code in (200, 201, 202), r.text
        elif kind == "meeting":  # a processing run: job meeting:<meeting id>:1
            r = httpx.post(
                f"{url}/api/v1/mobile/meetings/",
                files={"audio_file": ("jfk.flac", self.short, "audio/flac")},
                data={"title": "Kill"},
                headers={"Authorization": f"Bearer {self._login()}"},
                timeout=120,
            )
            assert r.status_code == 201, r.text
        else:
            raise ValueError(kind)


def _wait_for_jobs(platform: Platform, count: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while len(platform.jobs()) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(platform.jobs())} of {count} jobs recorded")
        time.sleep(0.1)


def run(
    work: Path,
    rounds: int = 10,
    kinds_per_round: dict[int, tuple[str, ...]] | None = None,
    kill_after_s: float = 2.0,
    settle_timeout_s: float = 180.0,
) -> Figures:
    """Run the kill scenario and count.

    Every round starts the platform, submits its kinds (default: transcription and media
    every round, temperature, an ANC batch job and a meeting in the first three), waits until their
    jobs are recorded plus ``kill_after_s`` and SIGKILLs the process. Then the platform is
    started once more, left to finish (until no job is ``queued``/``running`` or
    ``settle_timeout_s``), stopped gracefully, and everything is counted.

    Args:
        work: an empty folder (the data folder and the logs go there).
        rounds: kill rounds (the issue asks for 10).
        kinds_per_round: override of the kinds submitted in each round (by round index).
        kill_after_s: seconds between the last job recorded and the kill.
        settle_timeout_s: how long the final run may take to end every job.

    Returns:
        The figures.
    """
    begun = time.monotonic()
    data_dir = work / "data"
    platform = Platform(data_dir)
    client = Client(platform)
    figures = Figures(rounds=rounds, submitted=dict.fromkeys(KINDS, 0))
    expected = 0
    try:
        for index in range(rounds):
            figures.start_s.append(round(platform.start(), 2))
            default = (
                ("transcription", "media", "temperature", "anc_batch", "meeting")
                if index < 3
                else ("transcription", "media")
            )
            kinds = (kinds_per_round or {}).get(index, default)
            for kind in kinds:
                client.submit(kind)
                figures.submitted[kind] += 1
            expected += len(kinds)
            _wait_for_jobs(platform, expected)
            time.sleep(kill_after_s)
            figures.orphan_processes += platform.kill()
            figures.kills += 1
        figures.start_s.append(round(platform.start(), 2))
        settle = time.monotonic()
        while any(status in ACTIVE for _, status, _ in platform.jobs().values()):
            if time.monotonic() - settle > settle_timeout_s:
                break
            time.sleep(0.25)
        figures.settle_s = round(time.monotonic() - settle, 2)
        _count(platform, figures, expected)
        platform.stop()
        figures.temp_left = [str(p.relative_to(data_dir)) for p in _temp_leftovers(data_dir)]
    finally:
        if platform.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(platform.proc.pid, signal.SIGKILL)
    figures.total_s = round(time.monotonic() - begun, 2)
    return figures


def _count(platform: Platform, figures: Figures, expected: int) -> None:
    jobs = platform.jobs()
    figures.lost = max(expected - len(jobs), 0)
    figures.succeeded = dict.fromkeys(KINDS, 0)
    figures.failed = dict.fromkeys(KINDS, 0)
    for kind, status, error in jobs.values():
        if status in ACTIVE:
            figures.stuck += 1
        elif status == "succeeded":
            figures.succeeded[kind] = figures.succeeded.get(kind, 0) + 1
        else:
            figures.failed[kind] = figures.failed.get(kind, 0) + 1
            if not error:
                figures.failed_without_reason += 1
            figures.failed_reasons[error or ""] = figures.failed_reasons.get(error or "", 0) + 1
    with contextlib.closing(platform.db()) as conn:
        figures.duplicated_results = sum(
            n - 1
            for (n,) in conn.execute(
                "SELECT COUNT(*) FROM anc_metrics WHERE kind = 'final' "
                "GROUP BY session_id HAVING COUNT(*) > 1"
            )
        )
        # an ended job's product record agrees with it (no half-ended job)
        active_products = (
            conn.execute(
                "SELECT COUNT(*) FROM anc_sessions WHERE status IN ('queued', 'processing')"
            ).fetchone()[0]
            + conn.execute(
                "SELECT COUNT(*) FROM photo_tasks WHERE status NOT IN ('done', 'failed')"
            ).fetchone()[0]
            + conn.execute(
                "SELECT COUNT(*) FROM meeting_records WHERE status IN ('PENDING', 'PROCESSING')"
            ).fetchone()[0]
        )
        # a meeting's recording is the user's, kept whichever way its runs ended
        recordings = {
            k
            for row in conn.execute("SELECT s3_audio_path, master_audio_key FROM meeting_records")
            for k in row
            if k
        }
        figures.stuck += int(active_products)
        photo_keys = {
            k
            for row in conn.execute("SELECT photo_key, video_key, music_key FROM photo_tasks")
            for k in row
            if k
        }
        anc_outputs = {
            k for (k,) in conn.execute("SELECT output_key FROM anc_sessions WHERE status = 'completed'") if k
        }
    objects = platform.data_dir / "objects"
    for path in sorted(objects.rglob("*")) if objects.exists() else []:
        if not path.is_file() or path.relative_to(objects).parts[0].startswith("."):
            continue
        key = str(path.relative_to(objects))
        sidecar = key.endswith(".json") and key.startswith("anc/outputs/")
        kept = key in photo_keys or key in anc_outputs or key in recordings
        if kept or (sidecar and key[:-5] + ".wav" in anc_outputs):
            continue
        figures.objects_left.append(key)


def _temp_leftovers(data_dir: Path) -> list[Path]:
    """The platform's temp folder, and the object store's (a writer killed mid-write leaves
    its temporary file there until the next start removes it)."""
    out: list[Path] = []
    for root in (data_dir / "tmp", data_dir / "objects" / ".earshot-tmp"):
        out += sorted(root.iterdir()) if root.exists() else []
    return out


if __name__ == "__main__":  # pragma: no cover - manual runs
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(run(Path(tmp), rounds=int(sys.argv[1]) if len(sys.argv) > 1 else 2).as_dict()))
