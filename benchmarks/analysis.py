"""Benchmark: the local analysis engine (no network, no speech model).

Prints JSON:
- ``interview_complete_5min``: latency of the complete interview analysis (domain,
  communication, pace, pause run concurrently) on a synthetic 5-minute answer transcript
  (~700 words at 140 wpm with word timestamps). Seed 001 promises sub-second; target < 500 ms.
- ``meeting_weekly_sync``: latency of the local meeting analysis (summary, keyphrases, key
  points, action items, title, template suggestion) on weekly_sync's transcript (its .stm,
  speaker-labelled). Target < 1 s.
Both report the median, p95 and spread over at least ``--runs`` warm calls and at least a
second of them, plus the first (cold) call, which loads YAKE, dateparser and the language
identifier. JSON as benchmarks/common.py writes it.

Usage: python benchmarks/analysis.py [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import MIN_SECONDS, emit, summary  # noqa: E402
from services.analysis.interview import InterviewRequest, LocalInterviewAnalyzer  # noqa: E402
from services.analysis.meeting import LocalMeetingAnalyzer, MeetingRequest  # noqa: E402
from services.common.logging import configure_logging  # noqa: E402
from services.common.transcript import Segment, Transcript, Word  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"

ANSWER = (
    "First, I would define the metric we care about, for example the conversion rate. "
    "Then I split the data into training, validation and test sets, because leakage hurts. "
    "I use cross validation and regularization like dropout to avoid overfitting, um, and "
    "I monitor drift in production with a model registry and versioning. Finally, I compare "
    "against a simple baseline and explain the trade-offs to the team."
)


def five_minute_answer(wpm: float = 140.0, seconds: float = 300.0) -> Transcript:
    """~700 timed words: the sample answer repeated, a 0.6 s pause after each sentence."""
    tokens = ANSWER.split()
    per_word = 60.0 / wpm
    words, t, i = [], 0.5, 0
    while t < seconds:
        token = tokens[i % len(tokens)]
        words.append(Word(word=" " + token, start=t, end=t + per_word * 0.85))
        t += per_word + (0.6 if token.endswith(".") else 0.0)
        i += 1
    segments, current = [], []
    for w in words:
        current.append(w)
        if w.word.endswith(".") and len(current) > 40:
            segments.append(current)
            current = []
    if current:
        segments.append(current)
    segs = [
        Segment(id=k, start=s[0].start, end=s[-1].end, text="".join(w.word for w in s).strip(), words=s)
        for k, s in enumerate(segments)
    ]
    return Transcript(duration=seconds, text=" ".join(s.text for s in segs), segments=segs)


def weekly_sync() -> Transcript:
    segments = []
    for i, line in enumerate((FIXTURES / "weekly_sync.stm").read_text().splitlines()):
        _f, _c, speaker, start, end, text = line.split(" ", 5)
        segments.append(Segment(id=i, start=float(start), end=float(end), text=text, speaker=speaker))
    return Transcript(duration=51.3, text=" ".join(s.text for s in segments), segments=segments)


def summarise(samples: list[float]) -> dict[str, Any]:
    """Median, p95 and spread (ms) of the warm calls, and how many seconds they timed."""
    ordered = sorted(samples)
    spread = summary([x * 1000 for x in samples], 2)
    return {
        "median_ms": spread["median"],
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 2),
        "min_ms": spread["min"],
        "max_ms": spread["max"],
        "spread_pct": spread["spread_pct"],
        "calls": len(samples),
        "seconds_timed": round(sum(samples), 3),
    }


async def main(runs: int) -> dict[str, object]:
    configure_logging("error")
    interview = LocalInterviewAnalyzer()
    answer = five_minute_answer()
    request = InterviewRequest(
        question="How would you take a trained model to production and keep it healthy?"
    )
    t0 = time.perf_counter()
    first = await interview.complete(answer, request)
    cold_interview = time.perf_counter() - t0
    assert not first.errors, first.errors
    samples: list[float] = []
    while len(samples) < runs or sum(samples) < MIN_SECONDS:  # at least a second of work
        t0 = time.perf_counter()
        await interview.complete(answer, request)
        samples.append(time.perf_counter() - t0)
    interview_stats = summarise(samples)

    meeting = LocalMeetingAnalyzer()
    transcript = weekly_sync()
    options = MeetingRequest(meeting_date=date(2026, 11, 16))
    t0 = time.perf_counter()
    result = await meeting.analyze(transcript, options)
    cold_meeting = time.perf_counter() - t0
    meeting_samples: list[float] = []
    while len(meeting_samples) < runs or sum(meeting_samples) < MIN_SECONDS:
        t0 = time.perf_counter()
        await meeting.analyze(transcript, options)
        meeting_samples.append(time.perf_counter() - t0)
    meeting_stats = summarise(meeting_samples)
    return {
        "runs": runs,
        "interview_complete_5min": {
            "words": len(answer.words),
            "audio_s": answer.duration,
            **interview_stats,
            "cold_ms": round(cold_interview * 1000, 1),
            "target_ms": 500,
            "meets_target": interview_stats["median_ms"] < 500,
        },
        "meeting_weekly_sync": {
            "words": len(transcript.text.split()),
            "action_items": len(result.action_items),
            **meeting_stats,
            "cold_ms": round(cold_meeting * 1000, 1),
            "target_ms": 1000,
            "meets_target": meeting_stats["median_ms"] < 1000,
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    emit("analysis", asyncio.run(main(args.runs)))
