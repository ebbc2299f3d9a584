"""Synthetic multi-speaker conversations for calibrating and benchmarking diarization.

Each conversation has 2-6 speakers, each an espeak-ng voice with its own variant and its
own vocal-tract length (no two speakers share either), accent, pitch, speaking rate and
gain (-14..0 dB); turns of one or
two sentences are separated by gaps of -0.15..0.9 s (a negative gap overlaps the
previous turn), and noise (white or brown, 12..35 dB SNR) is added. Deterministic for a
given seed. Needs espeak-ng (``apt-get install -y espeak-ng``); used by ``benchmarks/hearing.py`` and the
calibration in ``services/transcription/diarization.py``, never by the test suite::

    python scripts/make_diarization_set.py --out /tmp/convs --count 24

``--engine festival`` speaks with Festival's voices instead, each recorded from one real
person (``FESTIVAL_VOICES``; Debian packages ``FESTIVAL_PACKAGES``), with the same turn,
gap, gain and noise draws and a speaking rate of its own per speaker, but no warps: two of
these voices are as far apart to CAM++ as two people are (see ``FESTIVAL_VOICES``), which
espeak-ng's formant voices are not::

    python scripts/make_diarization_set.py --out /tmp/convs --count 20 --seed 11000 --engine festival
"""

from __future__ import annotations

import argparse
import io
import subprocess
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
BASES = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc", "en-gb-x-gbclan"]
VARIANTS = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "croak", "klatt2"]
# Festival voices (Debian packages festival + festvox-*), each recorded from one real person:
# CAM++ cosine between two of them averages 0.17 (at most 0.59) against 0.40 (at most 0.90)
# between two espeak-ng speakers of this set, and 0.83 between two sentences of one voice in
# both (8 sentences per voice, measured); language does not matter to a speaker embedding, so
# every voice reads the English sentences.
FESTIVAL_VOICES = [
    "kal_diphone",  # festvox-kallpc16k, US English, male
    "ked_diphone",  # festvox-kdlpc16k, US English, male
    "cmu_us_slt_arctic_hts",  # festvox-us-slt-hts, US English, female
    "upc_ca_ona_hts",  # festvox-ca-ona-hts, Catalan, female
    "czech_dita",  # festvox-czech-dita, Czech, female
    "czech_krb",  # festvox-czech-krb, Czech, child
    "czech_machac",  # festvox-czech-machac, Czech, male
    "czech_ph",  # festvox-czech-ph, Czech, male
    "hy_fi_mv_diphone",  # festvox-suopuhe-mv, Finnish, male
    "suo_fi_lj_diphone",  # festvox-suopuhe-lj, Finnish, female
    "lp_diphone",  # festvox-italp16k, Italian, female
    "pc_diphone",  # festvox-itapc16k, Italian, male
    "msu_ru_nsh_clunits",  # festvox-ru, Russian, male
]
FESTIVAL_PACKAGES = [
    "festival",
    "festvox-kallpc16k",
    "festvox-kdlpc16k",
    "festvox-us-slt-hts",
    "festvox-ca-ona-hts",
    "festvox-czech-dita",
    "festvox-czech-krb",
    "festvox-czech-machac",
    "festvox-czech-ph",
    "festvox-suopuhe-mv",
    "festvox-suopuhe-lj",
    "festvox-italp16k",
    "festvox-itapc16k",
    "festvox-ru",
]
WARPS = [round(0.82 + 0.08 * i, 2) for i in range(6)]  # vocal-tract factors 0.82..1.22
SENTENCES = [
    "Let's go through the numbers for this quarter.",
    "I think the release should wait until next week.",
    "The customer asked for a discount on the annual plan.",
    "Can you send me the report before lunch?",
    "We fixed the crash on the login screen yesterday.",
    "Marketing wants a new landing page by Friday.",
    "I'm not sure the budget covers another hire.",
    "The server costs went up by twenty percent.",
    "Let's schedule a follow up with the design team.",
    "Has anyone talked to legal about the contract?",
    "The tests are green, but the build is slow.",
    "I will draft the proposal and share it tonight.",
    "We should ask the users what they actually need.",
    "The demo went well, they liked the dashboard.",
    "Please book the meeting room for Thursday morning.",
    "Our churn is lower than it was last year.",
    "I disagree, the old design was easier to use.",
    "That makes sense, let's try it for one sprint.",
    "Who is taking notes today?",
    "The vendor promised a fix by the end of the month.",
    "We need two more people on the support rota.",
    "The pricing page still shows the old plans.",
    "Good point, I had not thought about that.",
    "Let's move on to the next item on the agenda.",
]


def speak(text: str, voice: str, pitch: int, speed: int) -> np.ndarray:
    """espeak-ng speech as float32 16 kHz mono."""
    from scipy.signal import resample_poly

    wav = subprocess.run(
        ["espeak-ng", "--stdout", "-v", voice, "-p", str(pitch), "-s", str(speed), text],
        check=True,
        capture_output=True,
    ).stdout
    with wave.open(io.BytesIO(wav)) as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
    x = resample_poly(x, SAMPLE_RATE, rate).astype(np.float32)
    nz = np.nonzero(np.abs(x) > 1e-3)[0]  # trim espeak's leading/trailing silence
    return x[nz[0] : nz[-1] + 1] if nz.size else x


def warp_voice(x: np.ndarray, factor: float) -> np.ndarray:
    """Scale pitch and formants (the vocal tract) by ``factor`` by resampling: the speech is
    played ``factor`` times faster (shorter by the same factor), float32 16 kHz in and out."""
    from fractions import Fraction

    from scipy.signal import resample_poly

    ratio = Fraction(factor).limit_denominator(100)
    return resample_poly(x, ratio.denominator, ratio.numerator).astype(np.float32)


def missing_festival_voices() -> list[str]:
    """The ``FESTIVAL_VOICES`` that cannot speak here (all of them without ``text2wave``)."""
    import shutil

    if shutil.which("text2wave") is None:
        return list(FESTIVAL_VOICES)
    missing = []
    for voice in FESTIVAL_VOICES:
        try:
            festival_speak("Hello.", voice, 1.0)
        except (subprocess.CalledProcessError, OSError, ValueError, EOFError, wave.Error):
            missing.append(voice)
    return missing


def festival_speak(text: str, voice: str, stretch: float) -> np.ndarray:
    """Festival speech as float32 16 kHz mono, leading/trailing silence trimmed.

    Args:
        voice: a name of ``FESTIVAL_VOICES``; stretch: Festival's ``Duration_Stretch``
            (> 1 is slower).

    Raises:
        FileNotFoundError: Festival (``text2wave``) or the voice is not installed (Festival
            then writes no file): ``FESTIVAL_PACKAGES`` has the Debian packages.
        subprocess.CalledProcessError: Festival failed.
    """
    import tempfile

    from scipy.signal import resample_poly

    with tempfile.TemporaryDirectory(prefix="earshot-festival-") as tmp:
        path = Path(tmp) / "speech.wav"
        subprocess.run(
            [
                "text2wave",
                "-eval",
                f"(voice_{voice})",
                "-eval",
                f"(Parameter.set 'Duration_Stretch {stretch:.3f})",
                "-o",
                str(path),
            ],
            input=text.encode(),
            check=True,
            capture_output=True,
        )
        with wave.open(str(path)) as w:
            rate = w.getframerate()
            x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
    x = resample_poly(x, SAMPLE_RATE, rate).astype(np.float32)
    nz = np.nonzero(np.abs(x) > 1e-3)[0]
    return x[nz[0] : nz[-1] + 1] if nz.size else x


def conversation(
    seed: int, speakers: int, turns: int = 14, engine: str = "espeak"
) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """One conversation: samples and reference turns ``[(start, end, speaker)]`` (s).

    Args:
        engine: ``espeak`` (espeak-ng formant voices, each with its own variant and
            vocal-tract warp) or ``festival`` (Festival voices recorded from real people:
            ``FESTIVAL_VOICES``, each speaker its own, with its own speaking rate and gain).

    Raises:
        ValueError: an unknown engine, or more speakers than the engine has voices.
    """
    if engine == "festival":
        return _festival_conversation(seed, speakers, turns)
    if engine != "espeak":
        raise ValueError(f"unknown engine {engine!r}; use espeak or festival")
    rng = np.random.default_rng(seed)
    # Each speaker gets a variant of its own: the variant is espeak-ng's voice (source and
    # formant scaling); two "speakers" sharing one and differing only in accent are the
    # same synthetic voice (CAM++ cosine 0.65 between them, measured), not two people.
    variants = rng.choice(VARIANTS, size=speakers, replace=False)
    # espeak-ng's variants alone are not distinct enough (with the pitch drawn freely, e.g.
    # klatt2 and f5 come out at CAM++ cosine 0.93, measured): each speaker also gets a
    # vocal-tract length of its own, as speed perturbation makes "new speakers" when
    # speaker-embedding networks are trained (Ko et al., "Audio augmentation for speech
    # recognition", Interspeech 2015; 3D-Speaker and WeSpeaker recipes). Factors are drawn
    # without replacement from a grid 0.08 apart (0.82..1.22, about the spread of adult
    # vocal-tract lengths); with a grid 0.03 apart, pairs 0.03-0.06 apart still came out
    # at CAM++ cosine 0.85-0.91 between whole turns (measured), the same voice to a listener.
    warps = rng.choice(WARPS, size=speakers, replace=False)
    voices = [
        (
            f"{rng.choice(BASES)}+{variant}",
            int(rng.integers(20, 80)),
            int(rng.integers(130, 210)),
            float(rng.uniform(-14, 0)),
            float(warp),
        )
        for variant, warp in zip(variants, warps, strict=True)
    ]

    def say(who: int, text: str) -> np.ndarray:
        voice, pitch, speed, gain, warp = voices[who]
        return warp_voice(speak(text, voice, pitch, speed), warp) * 10 ** (gain / 20)

    return _mix(rng, _turns(rng, speakers, turns, say))


def _festival_conversation(
    seed: int, speakers: int, turns: int
) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """:func:`conversation` with Festival voices: the same turn order, texts, gaps, gains and
    noise draws as the espeak-ng set, one real person's voice per speaker (no warps)."""
    if speakers > len(FESTIVAL_VOICES):
        raise ValueError(f"Festival has {len(FESTIVAL_VOICES)} voices; asked for {speakers} speakers")
    rng = np.random.default_rng(seed)
    names = rng.choice(FESTIVAL_VOICES, size=speakers, replace=False)
    voices = [(str(v), float(rng.uniform(0.85, 1.2)), float(rng.uniform(-14, 0))) for v in names]

    def say(who: int, text: str) -> np.ndarray:
        voice, stretch, gain = voices[who]
        return festival_speak(text, voice, stretch) * 10 ** (gain / 20)

    return _mix(rng, _turns(rng, speakers, turns, say))


def _turns(
    rng: np.random.Generator, speakers: int, turns: int, say: Callable[[int, str], np.ndarray]
) -> list[tuple[float, np.ndarray, int]]:
    """Turns ``(start s, samples, speaker)``: every speaker first (in a random order), then
    random speakers never twice in a row, ``turns`` in all; each says 1-2 of ``SENTENCES``
    through ``say(speaker, text)``, after a gap of -0.15..0.9 s (negative: overlap)."""
    order = [int(i) for i in rng.permutation(speakers)]  # everyone speaks at least once
    while len(order) < turns:
        nxt = int(rng.integers(0, speakers))
        if nxt != order[-1]:
            order.append(nxt)
    pieces: list[tuple[float, np.ndarray, int]] = []
    t = 0.4
    for who in order:
        text = " ".join(rng.choice(SENTENCES, size=int(rng.integers(1, 3)), replace=False))
        x = say(who, text)
        pieces.append((t, x, who))
        t += len(x) / SAMPLE_RATE + float(rng.uniform(-0.15, 0.9))
    return pieces


def _mix(
    rng: np.random.Generator, pieces: list[tuple[float, np.ndarray, int]]
) -> tuple[np.ndarray, list[tuple[float, float, str]]]:
    """Turns ``(start s, samples, speaker)`` mixed, with noise drawn from ``rng`` (white or
    brown, 12..35 dB SNR), peak-limited to 0.95; and the reference turns."""
    total = int((max(s + len(x) / SAMPLE_RATE for s, x, _ in pieces) + 0.5) * SAMPLE_RATE)
    mix = np.zeros(total, dtype=np.float32)
    ref = []
    for start, x, who in pieces:
        a = int(start * SAMPLE_RATE)
        mix[a : a + len(x)] += x
        ref.append((start, start + len(x) / SAMPLE_RATE, f"spk{who}"))
    level = float(np.sqrt(np.mean(mix[np.abs(mix) > 1e-3] ** 2)))
    snr = float(rng.uniform(12, 35))
    noise = rng.normal(size=total).astype(np.float32)
    if rng.random() < 0.5:  # brown noise
        noise = np.cumsum(noise).astype(np.float32)
        noise -= np.convolve(noise, np.ones(801) / 801, mode="same").astype(np.float32)
    noise *= level / (float(np.sqrt(np.mean(noise**2))) + 1e-9) * 10 ** (-snr / 20)
    mix = mix + noise
    return (mix / max(1.0, float(np.abs(mix).max()) / 0.95)).astype(np.float32), ref


def dataset(
    count: int = 24, seed: int = 1000, engine: str = "espeak"
) -> list[tuple[str, np.ndarray, list[tuple[float, float, str]]]]:
    """``count`` conversations with 2..6 speakers (cycled), deterministic; ``engine`` as in
    :func:`conversation`."""
    out = []
    for i in range(count):
        speakers = 2 + i % 5
        samples, ref = conversation(seed + i, speakers, turns=max(10, 3 * speakers), engine=engine)
        out.append((f"conv{i:02d}_{speakers}spk", samples, ref))
    return out


def main() -> None:
    """Write the set as WAV + RTTM files."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", required=True)
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--engine", choices=["espeak", "festival"], default="espeak")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, samples, ref in dataset(args.count, args.seed, args.engine):
        with wave.open(str(out / f"{name}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SAMPLE_RATE)
            w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
        (out / f"{name}.rttm").write_text(
            "".join(f"SPEAKER {name} 1 {a:.3f} {b - a:.3f} <NA> <NA> {s} <NA> <NA>\n" for a, b, s in ref)
        )
        print(name, round(len(samples) / SAMPLE_RATE, 1))


if __name__ == "__main__":
    main()
