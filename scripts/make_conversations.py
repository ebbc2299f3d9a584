"""Synthesise the two conversation-temperature test recordings with espeak-ng.

Writes, 16 kHz mono FLAC (PyAV) plus a reference transcript each:

* ``tests/fixtures/calm_conversation.flac`` / ``.txt``: a friendly two-speaker chat about
  weekend plans, ~150 wpm, moderate amplitude, pauses between turns.
* ``tests/fixtures/heated_conversation.flac`` / ``.txt``: an argument with insults and
  accusations, ~220 wpm, espeak-ng amplitude 200, turns overlapping (mixed in numpy).

The two speakers use different voices and pitches (``en-us`` and ``en-gb``). The
generated files are committed, so tests never need espeak-ng; rerun this script only to
change them (``apt-get install -y espeak-ng`` first)::

    python scripts/make_conversations.py [--out tests/fixtures]
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

SAMPLE_RATE = 16_000
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Voice:
    """espeak-ng voice settings for one speaker."""

    label: str
    voice: str
    pitch: int


@dataclass(frozen=True)
class Conversation:
    """A scripted conversation and how to render it."""

    name: str
    turns: list[tuple[Voice, str]]
    speed_wpm: int
    amplitude: int
    gap_s: float  # silence between turns; negative = the next turn overlaps the previous one
    lead_s: float = 0.4  # silence at the start and the end


ALEX = Voice("Alex", "en-us+m3", 40)
SAM = Voice("Sam", "en-gb+f2", 70)

CALM = Conversation(
    name="calm_conversation",
    turns=[
        (ALEX, "Hi Sam, any plans for the weekend?"),
        (SAM, "We might go hiking on Saturday, if the weather is nice."),
        (ALEX, "That sounds lovely. Which trail?"),
        (SAM, "The lake trail. There is a nice spot for a picnic."),
        (ALEX, "We are having a barbecue on Sunday. You should come along."),
        (SAM, "Thanks, I would love to. I will bring a salad."),
    ],
    speed_wpm=150,
    amplitude=60,
    gap_s=0.8,
)

HEATED = Conversation(
    name="heated_conversation",
    turns=[
        (ALEX, "You never listen to me! I told you about the rent three times!"),
        (SAM, "Oh, shut up! You always blame me for everything. This is ridiculous!"),
        (ALEX, "Ridiculous? You are a liar! You spent the rent money and you lied about it!"),
        (SAM, "How dare you call me a liar! You are selfish and you are being stupid!"),
        (ALEX, "Stop interrupting me! I am sick of this, I am sick of your excuses!"),
        (SAM, "Get out! I hate this! It is always your fault, never mine!"),
        (ALEX, "No, no, no! Listen to me! You never take responsibility for the money!"),
    ],
    speed_wpm=225,
    amplitude=200,
    gap_s=-0.35,
)


def synthesise(text: str, voice: Voice, speed_wpm: int, amplitude: int) -> np.ndarray:
    """One utterance as float32 mono samples at 16 kHz."""
    wav_bytes = subprocess.run(
        [
            "espeak-ng",
            "-v",
            voice.voice,
            "-p",
            str(voice.pitch),
            "-s",
            str(speed_wpm),
            "-a",
            str(amplitude),
            "-g",
            "1",
            "--stdout",
            text,
        ],
        check=True,
        capture_output=True,
    ).stdout
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        rate = wav.getframerate()
        channels = wav.getnchannels()
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    if channels > 1:
        pcm = pcm.reshape(-1, channels).mean(axis=1).astype("<i2")
    return resample(pcm, rate)


def resample(pcm: np.ndarray, rate: int) -> np.ndarray:
    """Resample int16 mono PCM to 16 kHz float32 with PyAV (libswresample)."""
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    chunks = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(chunks).astype(np.float32)


def trim(samples: np.ndarray, threshold: float = 1e-3) -> np.ndarray:
    """Drop leading and trailing near-silence so the turn gaps are exact."""
    idx = np.flatnonzero(np.abs(samples) > threshold)
    return samples[idx[0] : idx[-1] + 1] if idx.size else samples


def render(conv: Conversation) -> np.ndarray:
    """Place the turns on one timeline (gap or overlap) and mix them."""
    utterances = [trim(synthesise(text, v, conv.speed_wpm, conv.amplitude)) for v, text in conv.turns]
    lead = int(conv.lead_s * SAMPLE_RATE)
    gap = int(conv.gap_s * SAMPLE_RATE)
    starts, pos = [], lead
    for utt in utterances:
        starts.append(pos)
        pos = max(lead, pos + len(utt) + gap)
    total = max(s + len(u) for s, u in zip(starts, utterances, strict=True)) + lead
    mix = np.zeros(total, dtype=np.float32)
    for start, utt in zip(starts, utterances, strict=True):
        mix[start : start + len(utt)] += utt
    return np.clip(mix, -1.0, 1.0)


def write_flac(path: Path, samples: np.ndarray) -> None:
    """Write float32 mono samples in [-1, 1] as 16-bit 16 kHz FLAC with PyAV."""
    pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16).reshape(1, -1)
    with av.open(str(path), "w", format="flac") as container:
        stream = container.add_stream("flac", rate=SAMPLE_RATE, layout="mono")
        stream.format = "s16"
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures")
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng not found: apt-get install -y espeak-ng")
    args.out.mkdir(parents=True, exist_ok=True)
    for conv in (CALM, HEATED):
        samples = render(conv)
        flac = args.out / f"{conv.name}.flac"
        write_flac(flac, samples)
        reference = "\n".join(f"{voice.label}: {text}" for voice, text in conv.turns) + "\n"
        (args.out / f"{conv.name}.txt").write_text(reference, encoding="utf-8")
        peak = 20 * np.log10(max(float(np.max(np.abs(samples))), 1e-9))
        print(
            f"{flac.relative_to(ROOT) if flac.is_relative_to(ROOT) else flac}: "
            f"{len(samples) / SAMPLE_RATE:.1f} s, peak {peak:.1f} dBFS, {flac.stat().st_size // 1024} KiB"
        )


if __name__ == "__main__":
    main()
