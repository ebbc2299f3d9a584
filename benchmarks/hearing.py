"""Benchmark of issue 16 (who said what, a stronger Whisper, true temperature): JSON on stdout.

Sections (each figure beside "today's", i.e. what the code before issue 16 gives):

- ``diarization``: DER (pyannote.metrics, collar 0.25 s, overlap scored) of the CAM++
  diarizer against the MFCC one on ``weekly_sync.wav`` (targets <= 5 %), on generated
  conversations of 2-6 speakers (``scripts/make_diarization_set.py``, needs espeak-ng;
  targets mean <= 10 %, speaker count right on >= 90 %): the calibration sets (seeds 1000,
  2000, 3000: 64 conversations, ``--calibration``; seed 1000 alone is ``generated``, with the
  MFCC diarizer beside it), the held-out set (seed 5000, other voices, rates, gains, noise
  and texts, looked at while developing but never used to choose, ``--holdout``) and a
  fresh held-out set (seed 7000, scored with the final setting only, ``--fresh``), and two
  sets spoken by Festival's voices of real people (``--festival``, by default the fresh
  held-out seeds 21000 and 23000, 40 conversations scored once with the final setting;
  seeds 11000 and 13000 are calibration sets, 15000 and 17000 held out; Debian's festival
  and festvox packages, installed when missing; ``docs/transcription.md`` has the figures); every
  generated set also reports the count share without conversations that have a speaker
  with under 2 s of speech (beside the full share, which is the headline); on the real recordings with
  references in ``tests/fixtures`` (``real_*.flac`` + ``.rttm``: pyannote's tutorial
  sample, an AMI meeting excerpt; see ``tests/fixtures/NOTICE.md``), the speaker count on
  ``jfk.flac`` (target 1) and the CAM++ time per minute of audio (target <= 3 s). Both
  diarizers label windows over Silero VAD speech here (no ASR), so the comparison is
  of the embeddings and clustering alone. ``--segmentation overlap`` adds a second
  speaker where pyannote segmentation-3.0 finds overlapped speech, ``turns`` clusters
  segmentation-3.0's speaker-pure pieces instead of VAD windows
  (``services.transcription.diarization.diarize_audio``; the time includes it).
- ``wer``: per shared file, tiny.en greedy (interactive) and base beam 5 with temperature
  fallback (background), and the long path against the sequential decoder on a
  concatenation of the shared files (``--long-minutes``, 10 by default).
- ``temperature``: calm vs heated (target gap >= 40) and the gain test (-20..+6 dB moves
  the score by <= 3 points).

Usage: python benchmarks/hearing.py [--calibration 1000:24,2000:20,3000:20] [--holdout 5000:20]
[--fresh 7000:20] [--festival 21000:20,23000:20]
[--segmentation off|overlap|turns] [--long-minutes 10] [--skip wer]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "proto"), str(ROOT / "scripts")]

from benchmarks.common import apt_install, emit  # noqa: E402
from services.common import audio  # noqa: E402
from services.common.logging import configure_logging  # noqa: E402
from services.transcription import diarization as d  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
JFK_REFERENCE = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)


def _annotation(turns: list[tuple[float, float, str]]):  # type: ignore[no-untyped-def]
    from pyannote.core import Annotation, Segment

    out = Annotation()
    for start, end, who in turns:
        if end > start:
            out[Segment(start, end)] = who
    return out


def der(reference: list[tuple[float, float, str]], hypothesis: list[tuple[float, float, str]]) -> float:
    """Diarization error rate, collar 0.25 s, overlapping speech scored."""
    from pyannote.metrics.diarization import DiarizationErrorRate

    return float(
        DiarizationErrorRate(collar=0.25, skip_overlap=False)(_annotation(reference), _annotation(hypothesis))
    )


def mfcc_turns(samples: np.ndarray) -> list[tuple[float, float, str]]:
    """Today's diarizer (MFCC statistics, Ward + silhouette) over the same VAD speech."""
    windows = d.window_embeddings(samples, 0.0, d.vad_regions(samples), method="mfcc")
    if not windows:
        return []
    return d.window_turns(windows, d.window_labels(windows, 1, 8, "mfcc"))


SEGMENTATION = "off"  # --segmentation


def campplus_turns(samples: np.ndarray) -> tuple[list[tuple[float, float, str]], float, float]:
    """The CAM++ diarizer's turns, its wall time and its CPU time (this process), seconds.

    CPU time is the fair figure on a shared machine: wall time also counts the time other
    processes held the cores."""
    started, cpu = time.perf_counter(), time.process_time()
    turns = d.diarize_audio(samples, 1, 8, segmentation=SEGMENTATION)
    return turns, time.perf_counter() - started, time.process_time() - cpu


def rttm(path: Path) -> list[tuple[float, float, str]]:
    out = []
    for line in path.read_text().splitlines():
        f = line.split()
        out.append((float(f[3]), float(f[3]) + float(f[4]), f[7]))
    return out


SHORT_SPEAKER_S = 2.0


def _generated_rows(
    data: list[tuple[str, np.ndarray, list[tuple[float, float, str]]]],
    totals: list[float],
    today: bool = True,
    prefix: str = "",
) -> dict[str, object]:
    """DER and counts of the CAM++ diarizer (and, with ``today``, the MFCC one) on generated
    conversations; adds audio, wall and CPU seconds to ``totals``.

    Besides the share of conversations with the right speaker count, the share among those
    whose every speaker has at least ``SHORT_SPEAKER_S`` of speech is given (the generator can
    draw a "speaker" with one short sentence); the full share is the headline."""
    rows = []
    for name, samples, reference in data:
        hyp, seconds, cpu = campplus_turns(samples)
        totals[0] += len(samples) / 16000
        totals[1] += seconds
        totals[2] += cpu
        speakers = {t[2] for t in reference}
        row: dict[str, object] = {
            "name": prefix + name,
            "der": round(der(reference, hyp), 4),
            "speakers": len({t[2] for t in hyp}),
            "reference_speakers": len(speakers),
            "shortest_speaker_s": round(
                min(sum(b - a for a, b, w in reference if w == who) for who in speakers), 2
            ),
        }
        if today:
            old = mfcc_turns(samples)
            row["der_today_mfcc"] = round(der(reference, old), 4)
            row["speakers_today_mfcc"] = len({t[2] for t in old})
        rows.append(row)
    if not rows:
        return {}
    return {**_summary(rows, today), "per_conversation": rows}


def _summary(rows: list[dict[str, object]], today: bool = False) -> dict[str, object]:
    """Count, mean DER and share with the right speaker count of per-conversation rows."""
    right = [r["speakers"] == r["reference_speakers"] for r in rows]
    long_enough = [
        r["speakers"] == r["reference_speakers"]
        for r in rows
        if float(r["shortest_speaker_s"]) >= SHORT_SPEAKER_S  # type: ignore[arg-type]
    ]
    out: dict[str, object] = {
        "count": len(rows),
        "mean_der": round(float(np.mean([r["der"] for r in rows])), 4),
        "count_right_share": round(float(np.mean(right)), 3),
        "count_right_share_without_short_speakers": {
            "rule": f"only conversations whose every speaker has >= {SHORT_SPEAKER_S} s of speech",
            "count": len(long_enough),
            "count_right_share": round(float(np.mean(long_enough)), 3) if long_enough else None,
        },
        "misses": [
            f"{r['name']}:{r['speakers']}/{r['reference_speakers']}"
            for r in rows
            if r["speakers"] != r["reference_speakers"]
        ],
    }
    if today:
        out["mean_der_today_mfcc"] = round(float(np.mean([r["der_today_mfcc"] for r in rows])), 4)
        out["count_right_share_today_mfcc"] = round(
            float(np.mean([r["speakers_today_mfcc"] == r["reference_speakers"] for r in rows])), 3
        )
    return out


def _seeds(spec: str) -> list[tuple[int, int]]:
    """``"1000:24,2000:20"`` -> ``[(1000, 24), (2000, 20)]`` (seed, conversations)."""
    return [(int(a), int(b)) for a, b in (item.split(":") for item in spec.split(",") if item.strip())]


def _festival_sets(spec: str, totals: list[float]) -> dict[str, object]:
    """Figures on the generated sets spoken by Festival's voices of real people, per seed and
    pooled; Festival and its voices are
    installed from Debian when missing and this runs as root."""
    import make_diarization_set as mds

    missing = mds.missing_festival_voices()
    if missing:
        print(f"Festival voices missing ({', '.join(missing)}): apt-get install", file=sys.stderr)
        if apt_install(mds.FESTIVAL_PACKAGES):
            missing = mds.missing_festival_voices()
    if missing:
        packages = " ".join(mds.FESTIVAL_PACKAGES)
        return {"skipped": f"Festival voices missing: {missing}; apt-get install {packages}"}
    pooled: list[dict[str, object]] = []
    per_seed: dict[str, object] = {}
    for seed, count in _seeds(spec):
        rows = _generated_rows(
            mds.dataset(count, seed=seed, engine="festival"), totals, today=True, prefix=f"festival{seed}_"
        )
        per_seed[f"seed_{seed}"] = rows
        pooled += rows.get("per_conversation", [])  # type: ignore[arg-type]
    return {**_summary(pooled, today=True), "per_seed": per_seed} if pooled else {}


def bench_diarization(
    calibration: str = "1000:24,2000:20,3000:20",
    holdout: str = "5000:20",
    fresh: str = "7000:20",
    festival: str = "21000:20,23000:20",
) -> dict[str, object]:
    """DER, speaker counts and speed of both diarizers.

    Args:
        festival: ``seed:count[,seed:count]`` of generated sets spoken by Festival's voices of
            real people (``generated_festival``, per seed and pooled; the MFCC diarizer
            beside); ``""`` skips them.
        calibration, holdout, fresh: ``seed:count[,seed:count]`` of the generated sets: the
            calibration sets (the clustering constants were chosen on them), the held-out set
            (seed 5000: looked at while developing, never used to choose) and the fresh held-out
            set (seed 7000: scored with the final setting only). Seed 1000 is also reported
            alone as ``generated`` (the set of the figures before), with the MFCC diarizer beside.
    """
    result: dict[str, object] = {}
    weekly = audio.decode(FIXTURES / "weekly_sync.wav")
    ref = rttm(FIXTURES / "weekly_sync.rttm")
    hyp, seconds, cpu = campplus_turns(weekly)
    old = mfcc_turns(weekly)
    result["weekly_sync"] = {
        "der": round(der(ref, hyp), 4),
        "der_today_mfcc": round(der(ref, old), 4),
        "speakers": len({t[2] for t in hyp}),
        "speakers_today_mfcc": len({t[2] for t in old}),
        "reference_speakers": 3,
    }
    jfk = audio.decode(FIXTURES / "jfk.flac")
    jh, js, jc = campplus_turns(jfk)
    result["jfk_speakers"] = len({t[2] for t in jh})
    result["jfk_speakers_today_mfcc"] = len({t[2] for t in mfcc_turns(jfk)})
    total_audio, total_time, total_cpu = len(weekly) / 16000 + len(jfk) / 16000, seconds + js, cpu + jc
    real = {}
    for path in sorted(FIXTURES.glob("real_*.rttm")):
        samples = audio.decode(path.with_suffix(".flac"))
        reference = rttm(path)
        hyp, seconds, cpu = campplus_turns(samples)
        old = mfcc_turns(samples)
        total_audio, total_time, total_cpu = (
            total_audio + len(samples) / 16000,
            total_time + seconds,
            total_cpu + cpu,
        )
        real[path.stem] = {
            "der": round(der(reference, hyp), 4),
            "der_today_mfcc": round(der(reference, old), 4),
            "speakers": len({t[2] for t in hyp}),
            "speakers_today_mfcc": len({t[2] for t in old}),
            "reference_speakers": len({t[2] for t in reference}),
        }
    result["real_recordings"] = real
    totals = [total_audio, total_time, total_cpu]
    try:
        import make_diarization_set as mds

        pooled: list[dict[str, object]] = []
        per_seed: dict[str, object] = {}
        for seed, count in _seeds(calibration):
            rows = _generated_rows(
                mds.dataset(count, seed=seed), totals, today=seed == 1000, prefix=f"seed{seed}_"
            )
            if seed == 1000:
                result["generated"] = rows
            per_seed[f"seed_{seed}"] = {k: v for k, v in rows.items() if k != "per_conversation"}
            pooled += rows.get("per_conversation", [])  # type: ignore[arg-type]
        if pooled:
            result["generated_calibration"] = {**_summary(pooled), "per_seed": per_seed}
        for key, spec, today in (("generated_holdout", holdout, True), ("generated_fresh", fresh, False)):
            for seed, count in _seeds(spec):
                data = mds.dataset(count, seed=seed)
                result[key] = {"seed": seed, **_generated_rows(data, totals, today, f"seed{seed}_")}
    except (FileNotFoundError, OSError) as exc:  # espeak-ng missing
        result["generated"] = {"skipped": f"cannot generate conversations: {exc}"}
    if festival:
        result["generated_festival"] = _festival_sets(festival, totals)
    total_audio, total_time, total_cpu = totals
    result["seconds_per_audio_minute"] = round(60.0 * total_time / max(total_audio, 1e-9), 3)
    result["cpu_seconds_per_audio_minute"] = round(60.0 * total_cpu / max(total_audio, 1e-9), 3)
    result["load_average_1min"] = round(os.getloadavg()[0], 2)
    result["targets"] = {
        "weekly_sync_der": 0.05,
        "generated_mean_der": 0.10,
        "count_right_share": 0.9,
        "seconds_per_audio_minute": 3.0,
    }
    return result


def _write_wav(path: Path, samples: np.ndarray) -> None:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    path.write_bytes(buf.getvalue())


def _shared_files() -> list[tuple[str, np.ndarray, str]]:
    def lines(name: str) -> str:
        rows = (FIXTURES / name).read_text().splitlines()
        return " ".join(r.split(": ", 1)[1] for r in rows if ": " in r)

    stm = " ".join(r.split(" ", 5)[5] for r in (FIXTURES / "weekly_sync.stm").read_text().splitlines())
    return [
        ("jfk.flac", audio.decode(FIXTURES / "jfk.flac"), JFK_REFERENCE),
        ("weekly_sync.wav", audio.decode(FIXTURES / "weekly_sync.wav"), stm),
        (
            "calm_conversation.flac",
            audio.decode(FIXTURES / "calm_conversation.flac"),
            lines("calm_conversation.txt"),
        ),
        (
            "heated_conversation.flac",
            audio.decode(FIXTURES / "heated_conversation.flac"),
            lines("heated_conversation.txt"),
        ),
    ]


def bench_wer(long_minutes: float, models: list[str]) -> dict[str, object]:
    """WER per shared file per model setting, and the long path against the sequential one."""
    import tempfile

    from services.transcription.engine import EngineConfig, TranscribeOptions, WhisperEngine
    from tests.embedded.test_transcription_quality import wer

    settings = {"tiny.en": ("tiny.en", 1), "base": ("base", 5)}
    files = _shared_files()
    out: dict[str, object] = {}
    for label in models:
        model, beam = settings[label]
        engine = WhisperEngine(EngineConfig(model=model, beam_size=beam))
        per_file = {}
        started = time.perf_counter()
        for name, samples, reference in files:
            per_file[name] = round(wer(reference, engine.transcribe_samples(samples, language="en").text), 4)
        entry: dict[str, object] = {
            "beam_size": beam,
            "per_file": per_file,
            "seconds_shared_files": round(time.perf_counter() - started, 2),
        }
        if long_minutes > 0:
            gap = np.zeros(16000, np.float32)
            pieces, refs, total = [], [], 0
            while total < long_minutes * 60 * 16000:
                for _, samples, reference in files:
                    pieces += [samples, gap]
                    refs.append(reference)
                    total += len(samples) + len(gap)
            long = np.concatenate(pieces)
            reference = " ".join(refs)
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "long.wav"
                _write_wav(path, long)
                t0 = time.perf_counter()
                windowed = engine.transcribe_file(path, TranscribeOptions(language="en"))
                t1 = time.perf_counter()
            sequential = engine.transcribe_samples(long, language="en")
            t2 = time.perf_counter()
            entry["long"] = {
                "audio_s": round(len(long) / 16000, 1),
                "wer_long_path": round(wer(reference, windowed.text), 4),
                "wer_sequential": round(wer(reference, sequential.text), 4),
                "seconds_long_path": round(t1 - t0, 2),
                "seconds_sequential": round(t2 - t1, 2),
            }
        out[label] = entry
    return out


def bench_temperature() -> dict[str, object]:
    """Calm vs heated and the gain test with the local analyzer on tiny.en transcripts."""
    from services.analysis.temperature import LocalTemperatureAnalyzer, compute_audio_dynamics
    from services.transcription.engine import EngineConfig, WhisperEngine

    engine = WhisperEngine(EngineConfig())
    out: dict[str, object] = {}
    for name in ("calm_conversation.flac", "heated_conversation.flac"):
        samples = audio.decode(FIXTURES / name)
        transcript = engine.transcribe_samples(samples, language="en")
        scores = {}
        summary = ""
        for gain in (-20, -10, 0, 6):
            louder = np.clip(samples * 10 ** (gain / 20), -1, 1).astype(np.float32)
            result = asyncio.run(
                LocalTemperatureAnalyzer().analyze(transcript, compute_audio_dynamics(louder, 16000))
            )
            scores[f"{gain:+d}dB"] = result.temperature
            if gain == 0:
                summary = result.analysis_summary
        out[name] = {
            "by_gain": scores,
            "gain_spread": max(scores.values()) - min(scores.values()),
            "summary": summary,
        }
    calm = out["calm_conversation.flac"]["by_gain"]["+0dB"]  # type: ignore[index]
    heated = out["heated_conversation.flac"]["by_gain"]["+0dB"]  # type: ignore[index]
    out["gap"] = heated - calm
    out["targets"] = {"gap": 40, "gain_spread": 3}
    return out


def main() -> None:
    """Run the sections and print one JSON object."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--calibration", default="1000:24,2000:20,3000:20", help="calibration sets, seed:count,..."
    )
    parser.add_argument("--holdout", default="5000:20", help="held-out set (looked at before), seed:count")
    parser.add_argument(
        "--fresh", default="7000:20", help="fresh held-out set (final setting only), seed:count; '' skips"
    )
    parser.add_argument(
        "--festival",
        default="21000:20,23000:20",
        help="Festival sets (voices of real people), seed:count,...: the fresh held-out ones by "
        "default; 11000:20,13000:20 are calibration, 15000:20,17000:20 held out; '' skips",
    )
    parser.add_argument(
        "--segmentation",
        choices=d.SEGMENTATION_MODES,
        default="off",
        help="segmentation-3.0 use (diarize_audio)",
    )
    parser.add_argument("--long-minutes", type=float, default=10.0)
    parser.add_argument("--models", default="tiny.en,base")
    parser.add_argument("--skip", default="", help="comma-separated sections to skip")
    args = parser.parse_args()
    configure_logging("warning")
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    report: dict[str, object] = {"segmentation": args.segmentation}
    global SEGMENTATION
    SEGMENTATION = args.segmentation
    if "diarization" not in skip:
        report["diarization"] = bench_diarization(args.calibration, args.holdout, args.fresh, args.festival)
    if "temperature" not in skip:
        report["temperature"] = bench_temperature()
    if "wer" not in skip:
        report["wer"] = bench_wer(args.long_minutes, [m for m in args.models.split(",") if m])
    emit("hearing", report)


if __name__ == "__main__":
    main()
