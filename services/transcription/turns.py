"""Speaker turns from pyannote segmentation-3.0 for the diarizer (``EARSHOT_DIARIZER_SEGMENTATION``).

Segmentation-3.0 (:mod:`services.transcription.segmentation`; Plaquet & Bredin,
"Powerset multi-class cross entropy loss for neural speaker diarization", Interspeech 2023)
runs on 10 s chunks every 5 s; the local speakers of neighbouring chunks are stitched into
tracks (:func:`local_runs`). ``overlap`` mode adds a second speaker where they overlap
(:func:`overlap_turns`); ``turns`` mode embeds single-speaker runs with CAM++ and clusters
them like the windows of :mod:`services.transcription.diarization`
(:func:`segmentation_turns`). Measured in ``docs/transcription.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from services.transcription.diarization import EMBEDDING_THREADS, SAMPLE_RATE, cluster_spectral, speaker_label

SEG_HOP_S = 5.0  # 10 s chunks every 5 s
SEG_BATCH = 8
SEG_PIECE_S = 1.5  # single-speaker runs are embedded in windows of this length...
SEG_PIECE_HOP_S = 0.75  # ...every this (0: equal pieces of at most SEG_PIECE_S, no overlap)
SEG_MIN_EMBED_S = 0.5  # shorter runs are not embedded: they take their local speaker's label
SEG_LINK_FRAMES = 30  # co-active frames (about 0.5 s) that link local speakers of two chunks
SEG_MIN_OVERLAP_S = 0.3  # shorter overlap runs are not given a second speaker
SEG_JOIN_GAP_S = 0.5  # same-speaker turns closer than this are joined (turns mode)


@dataclass
class LocalRun:
    """A stretch of constant local speaker activity: absolute ``start``/``end`` (s), the
    stitched speaker tracks active in it (one, or two when speech overlaps)."""

    start: float
    end: float
    tracks: tuple[int, ...]


def _chunk_starts(n: int, chunk: int, hop: int) -> list[int]:
    if n <= chunk:
        return [0]
    starts = list(range(0, n - chunk + 1, hop))
    if starts[-1] + chunk < n:
        starts.append(n - chunk)
    return starts


def local_runs(samples: np.ndarray) -> list[LocalRun]:
    """Speaker-homogeneous runs from pyannote segmentation-3.0 (Bredin, Interspeech 2023;
    Plaquet & Bredin, Interspeech 2023; :mod:`services.transcription.segmentation`).

    10 s chunks every ``SEG_HOP_S`` (the last one aligned to the end; a shorter recording is
    zero-padded) -> per-frame local activity of up to 3 speakers (powerset argmax, so an
    overlap frame has two). Each frame of the recording is read from the chunk whose centre
    is nearest. Local speakers of consecutive chunks are linked where they are co-active
    for ``SEG_LINK_FRAMES`` frames or more in the chunks' shared 5 s (Hungarian matching),
    and linked local speakers form one track (union-find). A run ends where the set of
    active tracks changes.

    Args:
        samples: mono float32 16 kHz audio ``(n,)``.

    Returns:
        Runs in time order (silence has none).

    Raises:
        services.transcription.models.ModelError: the segmentation checkpoint is missing.
    """
    from scipy.optimize import linear_sum_assignment

    from services.transcription import segmentation as sg

    chunk, hop = sg.CHUNK_SAMPLES, int(SEG_HOP_S * SAMPLE_RATE)
    x = np.asarray(samples, dtype=np.float32)
    n = x.shape[0]
    if n < sg.FRAME_SIZE:
        return []
    starts = _chunk_starts(n, chunk, hop)
    model = sg.get_runtime()
    acts: list[np.ndarray] = []
    for a in range(0, len(starts), SEG_BATCH):
        batch = np.zeros((len(starts[a : a + SEG_BATCH]), chunk), dtype=np.float32)
        for i, s in enumerate(starts[a : a + SEG_BATCH]):
            piece = x[s : s + chunk]
            batch[i, : piece.shape[0]] = piece
        acts.extend(sg.powerset_to_multilabel(model(batch)).astype(bool))
    frames = acts[0].shape[0]
    # Union-find over (chunk, local speaker).
    parent = list(range(len(starts) * sg.NUM_SPEAKERS))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for c in range(len(starts) - 1):
        shift = (starts[c + 1] - starts[c]) / sg.FRAME_STEP
        i0 = int(np.ceil(shift))
        if i0 >= frames:
            continue
        mine = acts[c][i0:]
        theirs = acts[c + 1][np.clip(np.round(np.arange(i0, frames) - shift).astype(int), 0, frames - 1)]
        co = mine.T.astype(np.float32) @ theirs.astype(np.float32)  # (3, 3) co-active frames
        rows, cols = linear_sum_assignment(-co)
        for r, q in zip(rows, cols, strict=True):
            if co[r, q] >= SEG_LINK_FRAMES:
                parent[find(c * sg.NUM_SPEAKERS + int(r))] = find((c + 1) * sg.NUM_SPEAKERS + int(q))
    # Global frame grid: frame j centred at sample j * STEP + SIZE // 2.
    total = 1 + (n - sg.FRAME_SIZE) // sg.FRAME_STEP
    centres = np.arange(total) * sg.FRAME_STEP + sg.FRAME_SIZE // 2
    chunk_centres = np.array(starts) + min(chunk, n) // 2
    which = np.argmin(np.abs(centres[:, None] - chunk_centres[None]), axis=1)
    local = np.clip(
        np.round((centres - sg.FRAME_SIZE // 2 - np.array(starts)[which]) / sg.FRAME_STEP), 0, frames - 1
    )
    runs: list[LocalRun] = []
    half = sg.FRAME_STEP / 2
    prev: tuple[int, ...] = ()
    for j in range(total):
        c, i = int(which[j]), int(local[j])
        tracks = tuple(sorted({find(c * sg.NUM_SPEAKERS + int(k)) for k in np.nonzero(acts[c][i])[0]}))
        t0 = (centres[j] - half) / SAMPLE_RATE
        if tracks and tracks == prev:
            runs[-1].end = (centres[j] + half) / SAMPLE_RATE
        elif tracks:
            runs.append(LocalRun(float(t0), float((centres[j] + half) / SAMPLE_RATE), tracks))
        prev = tracks
    return runs


@dataclass
class TurnPieces:
    """What :func:`segmentation_turns` clusters: the runs, the embedded pieces
    ``[(start, end, run index)]`` and their CAM++ embeddings ``(pieces, 192)``."""

    runs: list[LocalRun]
    pieces: list[tuple[float, float, int]]
    embeddings: np.ndarray


def run_pieces(runs: Sequence[LocalRun]) -> list[tuple[float, float, int]]:
    """Pieces ``[(start, end, run index)]`` of the single-speaker runs of ``SEG_MIN_EMBED_S`` or
    more: windows of ``SEG_PIECE_S`` every ``SEG_PIECE_HOP_S`` inside the run (a short tail
    folded into the last one; a shorter run is one piece), or with a zero hop equal pieces
    of at most ``SEG_PIECE_S``. No piece crosses a run boundary."""
    pieces: list[tuple[float, float, int]] = []
    for r, run in enumerate(runs):
        length = run.end - run.start
        if len(run.tracks) != 1 or length < SEG_MIN_EMBED_S:
            continue
        if SEG_PIECE_HOP_S <= 0:
            count = int(np.ceil(length / SEG_PIECE_S))
            edges = np.linspace(run.start, run.end, count + 1)
            pieces.extend((float(a), float(b), r) for a, b in zip(edges[:-1], edges[1:], strict=True))
            continue
        t = run.start
        while True:
            stop = min(t + SEG_PIECE_S, run.end)
            if run.end - stop < SEG_MIN_EMBED_S:
                stop = run.end
            pieces.append((float(t), float(stop), r))
            if stop >= run.end:
                break
            t += SEG_PIECE_HOP_S
    return pieces


def turn_pieces(samples: np.ndarray, runs: list[LocalRun] | None = None) -> TurnPieces:
    """:func:`local_runs` (unless given), :func:`run_pieces`, one CAM++ embedding per piece.

    Raises:
        services.transcription.models.ModelError: a model file is missing.
    """
    from threadpoolctl import threadpool_limits

    from services.transcription import campplus

    runs = local_runs(samples) if runs is None else runs
    pieces = run_pieces(runs)
    embeddings = np.zeros((0, campplus.EMBEDDING_DIM), dtype=np.float32)
    if pieces:
        clips = [samples[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)] for a, b, _ in pieces]
        with threadpool_limits(EMBEDDING_THREADS, "blas"):
            embeddings = campplus.embed(clips)
    return TurnPieces(runs, pieces, embeddings)


def segmentation_turns(
    samples: np.ndarray, min_speakers: int = 1, max_speakers: int = 8
) -> list[tuple[float, float, str]]:
    """Who spoke when from segmentation-3.0 runs and CAM++ embeddings of speaker-pure pieces
    (``EARSHOT_DIARIZER_SEGMENTATION=turns``): :func:`turn_pieces` -> :func:`cluster_spectral`
    (the windows' calibrated clustering, on pieces) -> :func:`pieces_turns`.

    Raises:
        services.transcription.models.ModelError: a model file is missing.
    """
    tp = turn_pieces(samples)
    if not tp.pieces:
        return pieces_turns(tp, np.zeros(0, dtype=int))
    return pieces_turns(tp, cluster_spectral(tp.embeddings, min_speakers, max_speakers))


def pieces_turns(tp: TurnPieces, labels: np.ndarray) -> list[tuple[float, float, str]]:
    """Turns from labelled pieces. A track (a stitched local speaker) takes the
    duration-weighted majority label of its pieces; short runs and overlap runs take their
    tracks' labels (a track without pieces: the label of the nearest piece in time). An
    overlap run gives a turn to each of its speakers (both are scored).

    Args:
        tp: :func:`turn_pieces`' output; labels: ``(pieces,)`` speaker indices.

    Returns:
        Turns ``[(start, end, speaker)]`` in seconds, by start; turns of different speakers
        may overlap; same-speaker turns closer than ``SEG_JOIN_GAP_S`` are joined.
    """
    runs, pieces = tp.runs, tp.pieces
    if not pieces:
        return [(run.start, run.end, speaker_label(0)) for run in runs]
    votes: dict[int, dict[int, float]] = {}
    for (a, b, r), lab in zip(pieces, labels, strict=True):
        track = votes.setdefault(runs[r].tracks[0], {})
        track[int(lab)] = track.get(int(lab), 0.0) + b - a
    mids = np.array([(a + b) / 2 for a, b, _ in pieces])

    def track_label(track: int, at: float) -> int:
        if track in votes:
            return max(votes[track], key=lambda k: votes[track][k])
        return int(labels[int(np.argmin(np.abs(mids - at)))])

    # Each piece speaks for its middle (overlapping neighbours split half-way). One label per
    # run (its pieces' majority) was measured worse: runs of similar voices are not pure.
    turns: list[tuple[float, float, int]] = []
    for i, ((a, b, r), lab) in enumerate(zip(pieces, labels, strict=True)):
        if i > 0 and pieces[i - 1][2] == r and pieces[i - 1][1] > a:
            a = (a + pieces[i - 1][1]) / 2
        if i + 1 < len(pieces) and pieces[i + 1][2] == r and pieces[i + 1][0] < b:
            b = (b + pieces[i + 1][0]) / 2
        turns.append((a, b, int(lab)))
    embedded = {r for _, _, r in pieces}
    for r, run in enumerate(runs):
        if r in embedded:
            continue
        who = {track_label(t, (run.start + run.end) / 2) for t in run.tracks}
        turns.extend((run.start, run.end, w) for w in who)
    turns.sort(key=lambda t: (t[2], t[0]))
    joined: list[tuple[float, float, int]] = []
    for a, b, w in turns:
        if joined and joined[-1][2] == w and a - joined[-1][1] < SEG_JOIN_GAP_S:
            joined[-1] = (joined[-1][0], max(joined[-1][1], b), w)
        else:
            joined.append((a, b, w))
    order: dict[int, int] = {}
    for _a, _b, w in sorted(joined, key=lambda t: t[0]):
        order.setdefault(w, len(order))
    return sorted(((a, b, speaker_label(order[w])) for a, b, w in joined), key=lambda t: (t[0], t[2]))


def merge_turns(
    turns: Sequence[tuple[float, float, str]], gap_s: float = 0.0
) -> list[tuple[float, float, str]]:
    """Union of each speaker's turns (pieces closer than ``gap_s`` joined), by start time."""
    out: list[tuple[float, float, str]] = []
    for who in sorted({t[2] for t in turns}):
        spans = sorted((a, b) for a, b, w in turns if w == who and b > a)
        joined: list[list[float]] = []
        for a, b in spans:
            if joined and a - joined[-1][1] <= gap_s:
                joined[-1][1] = max(joined[-1][1], b)
            else:
                joined.append([a, b])
        out.extend((a, b, who) for a, b in joined)
    return sorted(out, key=lambda t: (t[0], t[2]))


def overlap_turns(
    runs: Sequence[LocalRun], turns: Sequence[tuple[float, float, str]]
) -> list[tuple[float, float, str]]:
    """Overlapped speech as "both": where segmentation-3.0 finds two speakers at once, each of
    the two is given the speaker label that its track (a stitched local speaker,
    :func:`local_runs`) carries most in ``turns`` over its single-speaker runs (duration
    overlap). An overlap run shorter than ``SEG_MIN_OVERLAP_S``, or whose two tracks carry
    the same label (or no label), adds nothing.

    Args:
        runs: :func:`local_runs`' output; turns: one-speaker-at-a-time turns of the
            clustering, ``[(start, end, speaker)]``.

    Returns:
        ``turns`` plus the second speaker of every overlap run, merged per speaker.
    """
    votes: dict[int, dict[str, float]] = {}
    for run in runs:
        if len(run.tracks) != 1:
            continue
        v = votes.setdefault(run.tracks[0], {})
        for a, b, who in turns:
            o = min(b, run.end) - max(a, run.start)
            if o > 0:
                v[who] = v.get(who, 0.0) + o
    extra: list[tuple[float, float, str]] = []
    for run in runs:
        if len(run.tracks) < 2 or run.end - run.start < SEG_MIN_OVERLAP_S:
            continue
        labels = {max(votes[t], key=lambda k: votes[t][k]) for t in run.tracks if votes.get(t)}
        extra.extend((run.start, run.end, who) for who in labels)
    return merge_turns([*turns, *extra])
