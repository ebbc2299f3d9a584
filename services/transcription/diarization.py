"""Speaker diarization: who spoke when, as labels on transcript segments and words.

Three local methods, chosen by ``EARSHOT_DIARIZER`` (``auto``: CAM++ when its model
files are installed, else MFCC; see :func:`pick_diarizer`):

**Single channel, CAM++ (default).** Neural speaker embeddings without torch:

1. Speech: Silero VAD (shipped by faster-whisper), pauses of ``VAD_MIN_SILENCE_MS`` or
   more split regions; windows of ``WINDOW_S`` (1.5 s) every ``HOP_S`` (0.75 s).
2. Each window -> a 192-dim CAM++ embedding (Wang et al., "CAM++: A Fast and Efficient
   Network for Speaker Verification Using Context-Aware Masking", Interspeech 2023;
   :mod:`services.transcription.campplus`, numpy, equal to the reference implementation).
3. Spectral clustering (:func:`cluster_spectral`, 3D-Speaker's recipe): count from the
   largest eigengap clamped to the hints (``num_speakers`` = ``min == max``,
   ``min_speakers``, ``max_speakers``; two or more participants count as
   ``num_speakers``: :func:`services.transcription.engine.speaker_bounds`), tiny clusters
   absorbed, near-identical centroids merged, and a group of windows far from every
   centroid made one more speaker (a voice with a single short turn).
4. Window labels smoothed (majority of neighbours); each word takes the label of the
   windows covering it, weighted by overlap (resegmentation to word boundaries), and
   segments are re-cut where the speaker changes.

Calibrated (``SPECTRAL_PVAL``, ``MIN_PNUM``, ``MERGE_COS``, ``MIN_CLUSTER_SIZE``,
``OUTLIER_COS``, ``OUTLIER_PAIR_COS``, ``RELATIVE_MERGE_MARGIN``,
``RELATIVE_OUTLIER_MARGIN``) with ``scripts/calibrate_diarization.py`` on generated
conversations of 2-6 speakers (``scripts/make_diarization_set.py``: turn orders, texts,
gaps, overlaps up to 0.15 s, gains -14..0 dB, white/brown noise 12-35 dB SNR): 64 spoken by
espeak-ng voices (seeds 1000 x 24, 2000 x 20, 3000 x 20: one variant and one vocal-tract
length per speaker, accents, pitches, rates) and, since issue 16's fourth pass, 40 spoken by
Festival's voices of real people (seeds 11000, 13000: one recorded person per speaker, own
rate); the real recordings' counts had to stay right. The absolute thresholds came from a
grid of 108 settings on the espeak-ng set (``MERGE_COS`` 0.85, ``MIN_CLUSTER_SIZE`` 5). Two
espeak-ng speakers are much closer to CAM++ than two people (mean cosine 0.40 against 0.17),
so the merge and outlier rules also compare a similarity with the recording's own
between-speaker cosine (:func:`between_speaker_cos`); the margins 0.45 and 0.35 came out best
of 36 pairs on both calibration sets (93 of 104 counts right; 84 without them).
Window level (no ASR, DER collar 0.25 s), sets never used to choose: Festival, seeds 21000 and
23000 (40, generated and scored once with the final setting) mean DER 6.7 %, count right
90 % (36; 80 % without the margins), seeds 15000 and 17000 (40) 87.5 %; espeak-ng, seeds
5000, 7000, 19000 and 25000 (80) 82.5 % (80 % without), seed 25000 (scored once) 85 %.
Misses on espeak-ng voices are over-splits of a voice with 15-30 s of speech into two clusters
(CAM++ centroids of its two halves at cosine 0.67-0.86, while two different generated voices
reach 0.83) and under-counts where a voice with under 5 s (2-5 windows) joins another
cluster. weekly_sync 2.7 % with 3 speakers; jfk one speaker; pyannote's real two-speaker
sample 10.8 % with 2; an AMI excerpt (60 % overlapped speech) 64.6 % with 4 (all
unchanged). ``docs/transcription.md``, "Diarization figures", lists what was tried.
``benchmarks/hearing.py`` measures it again.
Overlapped speech: words get one speaker each (a transcript word has one). pyannote
segmentation-3.0 (:mod:`services.transcription.segmentation`, torch-free, equal to
pyannote.audio) gives speaker-homogeneous runs
(:func:`services.transcription.turns.local_runs`); with them :func:`diarize_audio` can add
the second speaker where it finds overlap (``segmentation="overlap"``,
:func:`services.transcription.turns.overlap_turns`: real AMI excerpt 64.6 % -> 48.7 % DER)
or cluster speaker-pure pieces instead of VAD windows (``segmentation="turns"``,
:func:`services.transcription.turns.segmentation_turns`;
``EARSHOT_DIARIZER_SEGMENTATION=turns`` in transcripts). Both
stay off by default: on the calibration sets neither beats the windows (count right 85.9 %
both / 78.1 % turns; DER 3.3 / 3.7 / 5.7 %), ``docs/transcription.md``, "Speaker
segmentation (segmentation-3.0)", has the figures.

**Single channel, MFCC statistics (fallback when the CAM++ files are missing).**
Classical embeddings:

1. Speech regions come from the recogniser's word timings (words closer than
   ``MERGE_GAP_S`` are joined), split into windows of ``WINDOW_S`` with hop ``HOP_S``.
2. Each window is described by the mean and standard deviation of 19 MFCCs
   (c1..c19; c0, the loudness, is dropped) over its voiced frames: MFCCs after Davis &
   Mermelstein (1980), "Comparison of parametric representations for monosyllabic
   word recognition", with a 40-band HTK mel filterbank, 25 ms Hamming frames, 10 ms
   hop, pre-emphasis 0.97. Mean/std pooling of short-term cepstra is the classic
   utterance-level speaker statistic (Reynolds 1995; the "statistics pooling" that
   x-vectors later learnt, Snyder et al. 2018).
3. Features are standardised over the recording (cepstral mean and variance
   normalisation), then clustered bottom-up with Ward linkage (Ward 1963) as in
   classical agglomerative diarization (Anguera et al. 2012, "Speaker diarization: a
   review of recent research"). The number of speakers is the ``k`` in
   ``[min_speakers, max_speakers]`` with the best silhouette (Rousseeuw 1987); a single
   speaker is chosen when no split reaches ``SINGLE_SPEAKER_SILHOUETTE``. Limitation
   (measured): these features cannot tell one speaker from several reliably, e.g.
   ``jfk.flac`` (one speaker) reaches silhouette 0.23 while a two-voice espeak-ng
   dialogue reaches 0.17; pass ``max_speakers=1`` / ``min_speakers`` when known.
4. Window labels are smoothed by a majority filter over neighbours, then each word
   takes the majority label of the windows covering it, and segments are re-cut
   where the speaker changes.

**Two channels (stereo, or seed 003's two-file "dual audio"): speaker by channel**, in
:mod:`services.transcription.channels` (cross-talk dropped by level and correlation).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from services.common.transcript import Segment, Transcript, Word

SAMPLE_RATE = 16_000
WINDOW_S = 1.5
HOP_S = 0.75
MIN_WINDOW_S = 0.4
MERGE_GAP_S = 0.5
N_MFCC = 20
N_MELS = 40
N_FFT = 512
FRAME_S = 0.025
FRAME_HOP_S = 0.010
SINGLE_SPEAKER_SILHOUETTE = 0.15
MAX_CLUSTERED = 2000
# CAM++ diarizer (see the module docstring for the calibration).
SPECTRAL_PVAL = 0.05
MIN_PNUM = 6
SPECTRAL_MAX_K = 15
MERGE_COS = 0.85
MIN_CLUSTER_SIZE = 5
MIN_CLUSTERED_SPECTRAL = 8
OUTLIER_COS = 0.7
OUTLIER_PAIR_COS = 0.7
RELATIVE_MERGE_MARGIN = 0.45
RELATIVE_OUTLIER_MARGIN = 0.35
VAD_MIN_SILENCE_MS = 250
VAD_PAD_MS = 30
EMBEDDING_THREADS = 1


def speaker_label(index: int) -> str:
    """Label of the ``index``-th speaker (``SPEAKER_00``, as pyannote and RTTM tools name them)."""
    return f"SPEAKER_{index:02d}"


def _mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """HTK-style triangular mel filters, shape ``(n_mels, n_fft // 2 + 1)``."""

    def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)

    def mel_to_hz(mel: np.ndarray) -> np.ndarray:
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)

    mels = np.linspace(hz_to_mel(20.0), hz_to_mel(sample_rate / 2 - 400), n_mels + 2)
    bins = np.floor((n_fft + 1) * mel_to_hz(mels) / sample_rate).astype(int)
    fb = np.zeros((n_mels, n_fft // 2 + 1), dtype=np.float32)
    for m in range(1, n_mels + 1):
        left, centre, right = bins[m - 1], bins[m], bins[m + 1]
        for k in range(left, centre):
            fb[m - 1, k] = (k - left) / max(centre - left, 1)
        for k in range(centre, right):
            fb[m - 1, k] = (right - k) / max(right - centre, 1)
    return fb


_FILTERBANK = _mel_filterbank(SAMPLE_RATE, N_FFT, N_MELS)


def mfcc(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, np.ndarray]:
    """MFCCs of mono audio (Davis & Mermelstein 1980).

    Args:
        samples: float32 ``(n,)`` at ``sample_rate`` (16 kHz).

    Returns:
        ``(coefficients, log_energy)``: ``(frames, 20)`` MFCCs c0..c19 and ``(frames,)``
        frame log energies; 25 ms frames every 10 ms (frame ``i`` starts at ``i * 10 ms``).
    """
    from scipy.fft import dct

    frame = int(FRAME_S * sample_rate)
    hop = int(FRAME_HOP_S * sample_rate)
    x = np.asarray(samples, dtype=np.float32)
    if x.shape[0] < frame:
        x = np.pad(x, (0, frame - x.shape[0]))
    x = np.append(x[0], x[1:] - 0.97 * x[:-1]).astype(np.float32)
    count = 1 + (x.shape[0] - frame) // hop
    frames = np.lib.stride_tricks.as_strided(
        x, shape=(count, frame), strides=(x.strides[0] * hop, x.strides[0])
    ) * np.hamming(frame).astype(np.float32)
    power = np.abs(np.fft.rfft(frames, n=N_FFT)) ** 2 / N_FFT
    energy = np.log(power.sum(axis=1) + 1e-10)
    mel = np.log(power @ _FILTERBANK.T + 1e-10)
    return dct(mel, type=2, axis=1, norm="ortho")[:, :N_MFCC], energy


@dataclass
class SpeechWindow:
    """One analysis window: absolute start/end (s) and its MFCC-statistics embedding ``(38,)``."""

    start: float
    end: float
    embedding: np.ndarray


def speech_regions(words: Sequence[Word], gap_s: float = MERGE_GAP_S) -> list[tuple[float, float]]:
    """Join word spans closer than ``gap_s`` seconds into speech regions ``[(start, end)]`` (s)."""
    regions: list[list[float]] = []
    for w in sorted(words, key=lambda w: w.start):
        if regions and w.start - regions[-1][1] <= gap_s:
            regions[-1][1] = max(regions[-1][1], w.end)
        else:
            regions.append([w.start, w.end])
    return [(a, b) for a, b in regions if b > a]


def window_embeddings(
    samples: np.ndarray, offset_s: float, regions: Sequence[tuple[float, float]], method: str = "mfcc"
) -> list[SpeechWindow]:
    """MFCC mean/std embeddings of windows over speech ``regions``.

    Args:
        samples: mono float32 16 kHz audio that starts at ``offset_s`` seconds.
        offset_s: absolute time of ``samples[0]``.
        regions: absolute ``(start, end)`` speech spans in seconds (inside ``samples``).

    Returns:
        Windows in time order; regions shorter than ``MIN_WINDOW_S`` give none. With
        ``method="campplus"`` the regions are Silero VAD's speech in ``samples`` (the
        word regions are not used) and embeddings are CAM++'s (192-dim).
    """
    if method == "campplus":
        return campplus_windows(samples, offset_s)
    if not regions:
        return []
    coefficients, energy = mfcc(samples)
    out: list[SpeechWindow] = []
    for start, end in regions:
        if end - start < MIN_WINDOW_S:
            continue
        t = start
        while True:
            stop = min(t + WINDOW_S, end)
            if end - stop < MIN_WINDOW_S:  # fold a short tail into this window
                stop = end
            a = max(0, int((t - offset_s) / FRAME_HOP_S))
            b = min(coefficients.shape[0], int((stop - offset_s) / FRAME_HOP_S))
            if b - a >= 10:
                e = energy[a:b]
                voiced = e >= e.max() - 5.0  # within ~22 dB of the loudest frame: not a pause
                c = coefficients[a:b][voiced][:, 1:]
                if c.shape[0] >= 5:
                    out.append(SpeechWindow(t, stop, np.concatenate([c.mean(axis=0), c.std(axis=0)])))
            if stop >= end:
                break
            t += HOP_S
    return out


def cluster(embeddings: np.ndarray, min_speakers: int = 1, max_speakers: int = 8) -> np.ndarray:
    """Cluster window embeddings into speakers (Ward AHC, k chosen by silhouette).

    Args:
        embeddings: ``(n, d)``.
        min_speakers, max_speakers: bounds on the number of speakers (1 <= min <= max).

    Returns:
        ``(n,)`` integer labels ``0..k-1`` numbered by first appearance.

    Raises:
        ValueError: bounds out of order.
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from sklearn.metrics import silhouette_score

    if min_speakers < 1 or max_speakers < min_speakers:
        raise ValueError(f"need 1 <= min_speakers <= max_speakers, got {min_speakers}, {max_speakers}")
    n = embeddings.shape[0]
    if n == 0:
        return np.zeros(0, dtype=int)
    if n < 3 or max_speakers == 1:
        return np.zeros(n, dtype=int)
    x = (embeddings - embeddings.mean(axis=0)) / (embeddings.std(axis=0) + 1e-8)
    fit = x if n <= MAX_CLUSTERED else x[:: int(np.ceil(n / MAX_CLUSTERED))]
    tree = linkage(fit, method="ward")
    best_k, best_score, best = 1, -1.0, np.ones(fit.shape[0], dtype=int)
    for k in range(max(2, min_speakers), min(max_speakers, fit.shape[0] - 1) + 1):
        labels = fcluster(tree, k, criterion="maxclust")
        if len(set(labels)) < 2:
            continue
        score = float(silhouette_score(fit, labels))
        if score > best_score:
            best_k, best_score, best = k, score, labels
    if min_speakers <= 1 and best_score < SINGLE_SPEAKER_SILHOUETTE:
        return np.zeros(n, dtype=int)
    if fit is not x:  # assign every window to the nearest centroid of the fitted sample
        centroids = np.stack([fit[best == c].mean(axis=0) for c in sorted(set(best))])
        best = np.argmin(((x[:, None, :] - centroids[None]) ** 2).sum(axis=2), axis=1) + 1
    del best_k
    order: dict[int, int] = {}
    return np.array([order.setdefault(int(lab), len(order)) for lab in best], dtype=int)


def smooth(labels: np.ndarray, radius: int = 1) -> np.ndarray:
    """Majority filter over ``2 * radius + 1`` neighbouring windows (ties keep the centre)."""
    out = labels.copy()
    for i in range(labels.shape[0]):
        window = labels[max(0, i - radius) : i + radius + 1].tolist()
        top, count = Counter(window).most_common(1)[0]
        if count > window.count(int(labels[i])):
            out[i] = top
    return out


def relabel(transcript: Transcript, word_speakers: Sequence[str | None]) -> Transcript:
    """Put speaker labels on words' segments, cutting segments where the speaker changes.

    Args:
        transcript: the recogniser's transcript.
        word_speakers: one label per word of ``transcript.words`` (same order).

    Returns:
        A new transcript whose segments each have one speaker.
    """
    segments: list[Segment] = []
    it = iter(word_speakers)
    for seg in transcript.segments:
        if not seg.words:
            segments.append(seg.model_copy(update={"id": len(segments)}))
            continue
        groups: list[tuple[str | None, list[Word]]] = []
        for w in seg.words:
            who = next(it)
            if groups and groups[-1][0] == who:
                groups[-1][1].append(w)
            else:
                groups.append((who, [w]))
        for who, words in groups:
            text = seg.text if len(groups) == 1 else " ".join(w.word for w in words)
            segments.append(
                Segment(
                    id=len(segments),
                    start=words[0].start if len(groups) > 1 else seg.start,
                    end=words[-1].end if len(groups) > 1 else seg.end,
                    text=text,
                    speaker=who,
                    words=words,
                )
            )
    return transcript.model_copy(update={"segments": segments})


def assign(transcript: Transcript, windows: Sequence[SpeechWindow], labels: np.ndarray) -> Transcript:
    """Label words by the windows that cover them (majority; else the nearest window)."""
    if not windows:
        return relabel(transcript, [speaker_label(0) if transcript.words else None] * len(transcript.words))
    starts = np.array([w.start for w in windows])
    ends = np.array([w.end for w in windows])
    mids = (starts + ends) / 2
    speakers: list[str | None] = []
    for word in transcript.words:
        covering = np.nonzero((starts < word.end) & (ends > word.start))[0]
        if covering.size:
            overlap = np.minimum(ends[covering], word.end) - np.maximum(starts[covering], word.start)
            votes: dict[int, float] = {}
            for idx, o in zip(covering, overlap, strict=True):
                votes[int(labels[idx])] = votes.get(int(labels[idx]), 0.0) + float(o)
            speakers.append(speaker_label(max(votes, key=lambda k: votes[k])))
        else:
            mid = (word.start + word.end) / 2
            speakers.append(speaker_label(int(labels[int(np.argmin(np.abs(mids - mid)))])))
    return relabel(transcript, speakers)


def diarize_windows(
    transcript: Transcript,
    windows: Sequence[SpeechWindow],
    min_speakers: int = 1,
    max_speakers: int = 8,
    method: str = "mfcc",
) -> Transcript:
    """Cluster precomputed windows and label ``transcript`` (see module docstring)."""
    if not windows:
        return assign(transcript, [], np.zeros(0, dtype=int))
    labels = window_labels(windows, min_speakers, max_speakers, method)
    return assign(transcript, windows, labels)


def window_labels(
    windows: Sequence[SpeechWindow], min_speakers: int = 1, max_speakers: int = 8, method: str = "mfcc"
) -> np.ndarray:
    """Speaker index of every window (clustered, smoothed, numbered by first appearance)."""
    embeddings = np.stack([w.embedding for w in windows])
    if method == "campplus":
        labels = cluster_spectral(embeddings, min_speakers, max_speakers)
    else:
        labels = cluster(embeddings, min_speakers, max_speakers)
    smoothed = smooth(labels)
    # Smoothing must not take a speaker the hints ask for away (a short recording whose
    # second voice holds few windows): then the clustering's labels stand.
    labels = (
        smoothed if len(set(smoothed.tolist())) >= min(min_speakers, len(set(labels.tolist()))) else labels
    )
    order: dict[int, int] = {}
    return np.array([order.setdefault(int(lab), len(order)) for lab in labels], dtype=int)


def diarize(
    transcript: Transcript,
    samples: np.ndarray,
    min_speakers: int = 1,
    max_speakers: int = 8,
    method: str = "mfcc",
    segmentation: str = "off",
) -> Transcript:
    """Diarize a single-channel recording given its transcript (words with timings).

    Args:
        transcript: the recogniser's output for ``samples``.
        samples: mono float32 16 kHz audio, shape ``(n,)``.
        min_speakers, max_speakers: bounds on the speaker count.
        segmentation: ``turns`` (with ``method="campplus"``): words take the speaker of the
            turns covering them (most overlap) from
            :func:`~services.transcription.turns.segmentation_turns` instead of the VAD
            windows'; ``off``: the windows.

    Returns:
        The transcript with ``speaker`` set on every segment that has words.
    """
    if segmentation == "turns" and method == "campplus":
        from services.transcription.turns import segmentation_turns  # it imports this module

        turns = segmentation_turns(samples, min_speakers, max_speakers)
        names = sorted({who for _, _, who in turns})
        windows = [SpeechWindow(a, b, np.zeros(0, dtype=np.float32)) for a, b, _ in turns]
        return assign(transcript, windows, np.array([names.index(who) for _, _, who in turns], dtype=int))
    windows = window_embeddings(samples, 0.0, speech_regions(transcript.words), method=method)
    return diarize_windows(transcript, windows, min_speakers, max_speakers, method=method)


def pick_diarizer(name: str) -> str:
    """The single-channel method for the ``EARSHOT_DIARIZER`` setting.

    Args:
        name: ``auto``, ``campplus`` or ``mfcc``.

    Returns:
        ``campplus`` or ``mfcc`` (``auto``: CAM++ when its model files are installed).

    Raises:
        ValueError: an unknown name.
        services.transcription.models.ModelError: ``campplus`` asked for but its files are
            missing or altered.
    """
    from services.transcription.models import ModelError, campplus_checkpoint

    if name not in ("auto", "campplus", "mfcc"):
        raise ValueError(f"unknown diarizer {name!r}; use auto, campplus or mfcc")
    if name == "mfcc":
        return "mfcc"
    try:
        campplus_checkpoint()
    except ModelError:
        if name == "campplus":
            raise
        return "mfcc"
    return "campplus"


# --- CAM++ diarizer ----------------------------------------------------------------------
def vad_regions(samples: np.ndarray) -> list[tuple[float, float]]:
    """Speech spans ``[(start, end)]`` in seconds from Silero VAD (shipped by faster-whisper),
    pauses of ``VAD_MIN_SILENCE_MS`` or more split them."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    spans = get_speech_timestamps(
        np.asarray(samples, dtype=np.float32),
        VadOptions(min_silence_duration_ms=VAD_MIN_SILENCE_MS, speech_pad_ms=VAD_PAD_MS),
    )
    return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in spans]


def campplus_windows(samples: np.ndarray, offset_s: float = 0.0) -> list[SpeechWindow]:
    """CAM++ embeddings of ``WINDOW_S`` windows (hop ``HOP_S``) over Silero VAD speech.

    Args:
        samples: mono float32 16 kHz audio starting at ``offset_s`` seconds.

    Returns:
        Windows with absolute times; a region shorter than a window gives one window
        (at least ``MIN_WINDOW_S``); a short tail is folded into the last window.

    Raises:
        services.transcription.models.ModelError: the CAM++ checkpoint is missing.
    """
    from threadpoolctl import threadpool_limits

    from services.transcription import campplus

    spans: list[tuple[float, float]] = []
    for start, end in vad_regions(samples):
        if end - start < MIN_WINDOW_S:
            continue
        t = start
        while True:
            stop = min(t + WINDOW_S, end)
            if end - stop < MIN_WINDOW_S:
                stop = end
            spans.append((t, stop))
            if stop >= end:
                break
            t += HOP_S
    if not spans:
        return []
    clips = [samples[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)] for a, b in spans]
    with threadpool_limits(EMBEDDING_THREADS, "blas"):  # shared cores: no thread thrashing
        embeddings = campplus.embed(clips)
    return [SpeechWindow(offset_s + a, offset_s + b, e) for (a, b), e in zip(spans, embeddings, strict=True)]


def cluster_spectral(
    embeddings: np.ndarray,
    min_speakers: int = 1,
    max_speakers: int = 8,
    pval: float | None = None,
    merge_cos: float | None = None,
) -> np.ndarray:
    """Spectral clustering of speaker embeddings, as 3D-Speaker's diarization recipe does
    it (``speakerlab/process/cluster.py``, after SpeechBrain; Apache-2.0): cosine
    affinity, each row pruned to its top ``pval`` share (at least ``MIN_PNUM``),
    symmetrised; unnormalised Laplacian; the speaker count is the largest eigengap
    (at most ``SPECTRAL_MAX_K``) clamped into ``[min_speakers, max_speakers]``; k-means on the
    first eigenvectors. Then clusters of fewer than ``MIN_CLUSTER_SIZE`` windows go to
    the nearest large one and clusters whose centroids are more similar than
    ``merge_cos`` are merged (never below ``min_speakers``); last, a group of windows far
    from every centroid becomes one more speaker while ``max_speakers`` allows
    (:func:`_outlier_speaker`). Fewer than
    ``MIN_CLUSTERED`` windows are one speaker unless ``min_speakers`` says otherwise.

    Args:
        embeddings: ``(n, d)``.
        pval, merge_cos: None uses the calibrated ``SPECTRAL_PVAL`` / ``MERGE_COS``.

    Returns:
        ``(n,)`` labels ``0..k-1`` numbered by first appearance.

    Raises:
        ValueError: bounds out of order.
    """
    from sklearn.cluster import KMeans

    if min_speakers < 1 or max_speakers < min_speakers:
        raise ValueError(f"need 1 <= min_speakers <= max_speakers, got {min_speakers}, {max_speakers}")
    pval = SPECTRAL_PVAL if pval is None else pval
    merge_cos = MERGE_COS if merge_cos is None else merge_cos
    n = embeddings.shape[0]
    if n == 0:
        return np.zeros(0, dtype=int)
    if max_speakers == 1 or n < max(MIN_CLUSTERED_SPECTRAL, 2 * min_speakers) and min_speakers == 1:
        return np.zeros(n, dtype=int)
    x = embeddings / (np.linalg.norm(embeddings, axis=1, keepdims=True) + 1e-9)
    sim = x @ x.T
    keep = max(MIN_PNUM, int(np.ceil(pval * n)))
    pruned = np.zeros_like(sim)
    top = np.argsort(-sim, axis=1)[:, :keep]
    rows = np.arange(n)[:, None]
    pruned[rows, top] = sim[rows, top]
    affinity = 0.5 * (pruned + pruned.T)
    np.fill_diagonal(affinity, 0.0)
    laplacian = np.diag(np.abs(affinity).sum(axis=1)) - affinity
    values, vectors = np.linalg.eigh(laplacian)
    # The count is estimated freely (up to SPECTRAL_MAX_K), then clamped to the hints:
    # with 3 voices and max_speakers=2, the largest gap lies beyond 2, so 2 it is.
    free = int(np.argmax(np.diff(values[: min(SPECTRAL_MAX_K, n - 1) + 1]))) + 1
    k = min(max(free, min_speakers), max_speakers, n)
    if k <= 1:
        labels = np.zeros(n, dtype=int)
    else:
        labels = KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(vectors[:, :k])
        labels = _absorb_small(x, labels, min_speakers)
        labels = _merge_similar(x, labels, min_speakers, merge_cos)
    if n >= MIN_CLUSTERED_SPECTRAL and len(np.unique(labels)) < max_speakers:
        labels = _outlier_speaker(x, labels)
    order: dict[int, int] = {}
    return np.array([order.setdefault(int(lab), len(order)) for lab in labels], dtype=int)


def _outlier_speaker(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """A speaker the eigengap missed: windows whose cosine to every cluster centroid is below
    ``OUTLIER_COS`` and, at least two of them, at least ``OUTLIER_PAIR_COS`` to one another
    (the largest such group) become one new cluster, unless the group's centroid is nearer a
    cluster's (computed without the group) than the recording's between-speaker cosine
    (:func:`between_speaker_cos`, with 2 or more such clusters) plus
    ``RELATIVE_OUTLIER_MARGIN``: then it is an odd stretch of that cluster's voice. Catches a
    voice with a single short
    turn (2-4 windows), which neither shows as an eigengap nor survives ``_absorb_small``;
    calibrated with ``scripts/calibrate_diarization.py``.

    Args:
        x: ``(n, d)`` unit-norm embeddings; labels: ``(n,)``.

    Returns:
        The labels, with at most one new cluster.
    """
    ids = np.unique(labels)
    centroids = np.stack([x[labels == i].mean(axis=0) for i in ids])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True) + 1e-9
    outliers = np.nonzero((x @ centroids.T).max(axis=1) < OUTLIER_COS)[0]
    if outliers.size < 2:
        return labels
    close = (x[outliers] @ x[outliers].T) >= OUTLIER_PAIR_COS
    np.fill_diagonal(close, True)
    group = outliers[close[int(np.argmax(close.sum(axis=1)))]]
    if group.size < 2:
        return labels
    rest = np.ones(len(labels), dtype=bool)
    rest[group] = False
    kept = np.unique(labels[rest])
    others = np.stack([x[rest & (labels == i)].mean(axis=0) for i in kept])
    others /= np.linalg.norm(others, axis=1, keepdims=True) + 1e-9
    between = between_speaker_cos(others)
    own = x[group].mean(axis=0)
    own /= np.linalg.norm(own) + 1e-9
    if between is not None and float((others @ own).max()) >= between + RELATIVE_OUTLIER_MARGIN:
        return labels  # nearer a cluster than this recording's speakers are to one another
    out = labels.copy()
    out[group] = int(ids.max()) + 1
    return out


def _absorb_small(x: np.ndarray, labels: np.ndarray, min_speakers: int) -> np.ndarray:
    """Move the windows of clusters smaller than ``MIN_CLUSTER_SIZE`` to the most similar
    large cluster centroid (nothing moves when that would leave < ``min_speakers``)."""
    ids, counts = np.unique(labels, return_counts=True)
    large = ids[counts >= MIN_CLUSTER_SIZE]
    if len(large) == 0 or len(large) < min_speakers or len(large) == len(ids):
        return labels
    centroids = np.stack([x[labels == i].mean(axis=0) for i in large])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True) + 1e-9
    out = labels.copy()
    for i in np.nonzero(~np.isin(labels, large))[0]:
        out[i] = large[int(np.argmax(centroids @ x[i]))]
    return out


def between_speaker_cos(centroids: np.ndarray) -> float | None:
    """The recording's own similarity between different speakers: the median cosine over
    pairs of unit-norm cluster ``centroids`` ``(k, d)``; None for fewer than 2.

    Absolute cosines between two speakers depend on the voices, the channel and the noise:
    CAM++ puts two of Festival's voices of real people at 0.17 on average and two espeak-ng
    speakers of the generated set at 0.40, while two sentences of one voice sit at 0.83 in
    both (``scripts/make_diarization_set.py``). The merge and outlier rules therefore also
    judge a similarity against this one, as score normalisation does in speaker verification
    (Matějka et al., "Analysis of score normalization in multilingual speaker recognition",
    Interspeech 2017).
    """
    k = len(centroids)
    if k < 2:
        return None
    return float(np.median((centroids @ centroids.T)[np.triu_indices(k, 1)]))


def _merge_similar(x: np.ndarray, labels: np.ndarray, min_speakers: int, merge_cos: float) -> np.ndarray:
    """Merge the two clusters with the most similar centroids while more than
    ``min_speakers`` clusters remain and that similarity is above ``merge_cos``, or above the
    recording's between-speaker cosine (:func:`between_speaker_cos`) plus
    ``RELATIVE_MERGE_MARGIN`` when that is lower: one voice split in two, among voices that
    are far apart."""
    labels = labels.copy()
    while True:
        ids = np.unique(labels)
        if len(ids) <= max(1, min_speakers):
            return labels
        c = np.stack([x[labels == i].mean(axis=0) for i in ids])
        c /= np.linalg.norm(c, axis=1, keepdims=True) + 1e-9
        sim = np.triu(c @ c.T, 1)
        i, j = np.unravel_index(int(np.argmax(sim)), sim.shape)
        between = between_speaker_cos(c)
        limit = merge_cos if between is None else min(merge_cos, between + RELATIVE_MERGE_MARGIN)
        if sim[i, j] < limit:
            return labels
        labels[labels == ids[j]] = ids[i]


def diarize_audio(
    samples: np.ndarray, min_speakers: int = 1, max_speakers: int = 8, segmentation: str = "off"
) -> list[tuple[float, float, str]]:
    """Who spoke when, from the audio alone (no transcript).

    Args:
        samples: mono float32 16 kHz audio.
        segmentation: ``off`` (CAM++ windows over Silero VAD, :func:`window_turns`),
            ``overlap`` (the same, plus a second speaker where segmentation-3.0 finds
            overlapped speech: :func:`~services.transcription.turns.overlap_turns`) or
            ``turns`` (:func:`~services.transcription.turns.segmentation_turns`).

    Returns:
        Turns ``[(start, end, speaker)]`` in seconds; with ``off`` each window speaks for
        the middle of its span (half a hop either side), consecutive same-speaker pieces
        joined; turns of different speakers overlap only with ``overlap``/``turns``.

    Raises:
        ValueError: an unknown ``segmentation``.
        services.transcription.models.ModelError: a model file is missing.
    """
    if segmentation not in SEGMENTATION_MODES:
        raise ValueError(f"unknown segmentation mode {segmentation!r}; use one of {SEGMENTATION_MODES}")
    from services.transcription.turns import (  # imports this module
        local_runs,
        overlap_turns,
        segmentation_turns,
    )

    if segmentation == "turns":
        return segmentation_turns(samples, min_speakers, max_speakers)
    windows = campplus_windows(samples)
    if not windows:
        return []
    turns = window_turns(windows, window_labels(windows, min_speakers, max_speakers, "campplus"))
    if segmentation == "overlap":
        turns = overlap_turns(local_runs(samples), turns)
    return turns


def window_turns(windows: Sequence[SpeechWindow], labels: np.ndarray) -> list[tuple[float, float, str]]:
    """Turns ``[(start, end, speaker)]`` from labelled windows: each window speaks for the
    middle of its span (overlapping neighbours split at the midpoint of their overlap),
    consecutive same-speaker pieces less than 0.5 s apart joined."""
    turns: list[list[float | str]] = []
    for i, (w, lab) in enumerate(zip(windows, labels, strict=True)):
        start = w.start if i == 0 or windows[i - 1].end <= w.start else (w.start + windows[i - 1].end) / 2
        end = (
            w.end
            if i + 1 == len(windows) or windows[i + 1].start >= w.end
            else (w.end + windows[i + 1].start) / 2
        )
        who = speaker_label(int(lab))
        if turns and turns[-1][2] == who and start - float(turns[-1][1]) < 0.5:
            turns[-1][1] = end
        else:
            turns.append([start, end, who])
    return [(float(a), float(b), str(c)) for a, b, c in turns]


def speaker_turns(transcript: Transcript, max_gap_s: float = 1.0) -> list[tuple[float, float, str]]:
    """Speaker turns ``[(start, end, speaker)]``: consecutive same-speaker segments joined
    when less than ``max_gap_s`` apart (the usual RTTM-style hypothesis)."""
    turns: list[list[float | str]] = []
    for s in transcript.segments:
        if not s.speaker:
            continue
        start = s.words[0].start if s.words else s.start
        end = s.words[-1].end if s.words else s.end
        if turns and turns[-1][2] == s.speaker and start - float(turns[-1][1]) < max_gap_s:
            turns[-1][1] = max(float(turns[-1][1]), end)
        else:
            turns.append([start, end, s.speaker])
    return [(float(a), float(b), str(c)) for a, b, c in turns]


SEGMENTATION_MODES = ("off", "overlap", "turns")
"""``EARSHOT_DIARIZER_SEGMENTATION`` values (see :mod:`services.transcription.turns`)."""
