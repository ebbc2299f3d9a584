"""Calibrate the CAM++ diarizer's clustering on generated conversations, with a held-out set.

The window embeddings (Silero VAD -> 1.5 s windows -> CAM++) of every recording are
computed once and cached (``--cache``, an ``.npz`` per recording), so that the clustering
settings can be searched quickly. Generated sets from ``scripts/make_diarization_set.py``
(every draw comes from the seed: voices, rates, gains, noise, texts):

* calibration (``--calibration``, default seeds 1000 x 24, 2000 x 20, 3000 x 20 = 64
  conversations of espeak-ng voices, and ``--festival``, seeds 11000 and 13000 x 20 = 40 of
  Festival's voices of real people): the settings are chosen here and nowhere else;
* held out (``--holdout``, seed 5000 x 20; ``--festival-holdout``, e.g. seeds 15000 and
  17000): printed for the chosen setting, never used to choose (looked at while developing);
* fresh held out (``--fresh``, e.g. ``7000:20``, off by default; Festival seeds 21000 and
  23000 through ``--festival-holdout``): a set nobody has looked at, to be generated and
  scored once, at the end, with the final setting only.

Plus ``weekly_sync.wav`` (3 speakers, RTTM reference) and ``jfk.flac`` (one speaker),
and any real recording with an RTTM reference in ``tests/fixtures``. Without ``--grid`` it
prints the figures of the current constants per set (mean DER, collar 0.25 s; share of
conversations with the right speaker count, also without conversations that have a
speaker with under ``SHORT_SPEAKER_S`` of speech, beside the full share); with ``--grid``
one line per setting on the calibration and real sets, then the chosen setting (the real
counts must stay right; then the calibration count pooled over both voice kinds; ties keep
the current constants, then go to the lower DER) and its held-out figures, as JSON::

    python scripts/calibrate_diarization.py --cache /tmp/diar-cache [--grid] [--fresh 7000:20]
        [--festival-holdout 21000:20,23000:20]

Not run by the test suite (needs espeak-ng, Festival with ``make_diarization_set.FESTIVAL_PACKAGES``
and a few minutes of CPU).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "proto"), str(ROOT / "scripts")]

from services.common import audio  # noqa: E402
from services.transcription import diarization as d  # noqa: E402
from services.transcription import turns as t  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
# Generated sets (seed, conversations): calibration (thresholds chosen here), held out
# (seed 5000, looked at before), fresh held out (seed 7000, scored once with the final setting).
CALIBRATION = ((1000, 24), (2000, 20), (3000, 20))
HOLDOUT = (5000, 20)
FRESH = (7000, 20)
# Spoken by Festival's voices of real people (make_diarization_set.FESTIVAL_VOICES): calibration
# (chosen on, with CALIBRATION), held out but looked at while developing, and fresh held out
# (scored once, with the final setting: benchmarks/hearing.py's default).
FESTIVAL = ((11000, 20), (13000, 20))
FESTIVAL_DEV = ((15000, 20), (17000, 20))
FESTIVAL_FRESH = ((21000, 20), (23000, 20))
SHORT_SPEAKER_S = 2.0
Turns = list[tuple[float, float, str]]


def rttm(path: Path) -> Turns:
    """Reference turns ``[(start, end, speaker)]`` of an RTTM file."""
    out = []
    for line in path.read_text().splitlines():
        f = line.split()
        if f and f[0] == "SPEAKER":
            out.append((float(f[3]), float(f[3]) + float(f[4]), f[7]))
    return out


def der(reference: Turns, hypothesis: Turns) -> float:
    """Diarization error rate (pyannote.metrics), collar 0.25 s, overlap scored."""
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    def ann(turns: Turns) -> Annotation:
        a = Annotation()
        for start, end, who in turns:
            if end > start:
                a[Segment(start, end)] = who
        return a

    return float(DiarizationErrorRate(collar=0.25, skip_overlap=False)(ann(reference), ann(hypothesis)))


def _cached_windows(cache: Path, name: str, samples: np.ndarray) -> list[d.SpeechWindow]:
    path = cache / f"{name}.npz"
    if path.exists():
        z = np.load(path)
        return [
            d.SpeechWindow(float(a), float(b), e)
            for a, b, e in zip(z["start"], z["end"], z["emb"], strict=True)
        ]
    windows = d.campplus_windows(samples)
    np.save(cache / f"{name}.npy", samples.astype(np.float32))  # for re-embedding experiments
    np.savez(
        path,
        start=np.array([w.start for w in windows]),
        end=np.array([w.end for w in windows]),
        emb=np.stack([w.embedding for w in windows]) if windows else np.zeros((0, 192), np.float32),
    )
    return windows


def cached_pieces(cache: Path, name: str) -> t.TurnPieces:
    """segmentation-3.0 runs and CAM++ piece embeddings (:func:`t.turn_pieces`) of a cached
    recording (its audio ``{name}.npy``), cached as ``{name}.seg.npz``."""
    path = cache / f"{name}.seg.npz"
    if not path.exists():
        tp = t.turn_pieces(np.load(cache / f"{name}.npy"))
        np.savez(
            path,
            runs=np.array([[r.start, r.end, *(list(r.tracks) + [-1])[:2]] for r in tp.runs]).reshape(-1, 4),
            pieces=np.array(tp.pieces, dtype=np.float64).reshape(-1, 3),
            emb=tp.embeddings,
        )
    z = np.load(path)
    runs = [
        t.LocalRun(float(a), float(b), tuple(int(t) for t in (t0, t1) if t >= 0))
        for a, b, t0, t1 in z["runs"]
    ]
    pieces = [(float(a), float(b), int(r)) for a, b, r in z["pieces"]]
    return t.TurnPieces(runs, pieces, z["emb"])


def hypothesis(mode: str, cache: Path, name: str, windows: list[d.SpeechWindow]) -> Turns:
    """Turns of one recording for ``--segmentation`` ``mode`` (see :func:`d.diarize_audio`)."""
    if mode == "turns":
        tp = cached_pieces(cache, name)
        labels = d.cluster_spectral(tp.embeddings, 1, 8) if tp.pieces else np.zeros(0, dtype=int)
        return t.pieces_turns(tp, labels)
    hyp = d.window_turns(windows, d.window_labels(windows, 1, 8, "campplus")) if windows else []
    if mode == "overlap":
        hyp = t.overlap_turns(cached_pieces(cache, name).runs, hyp)
    return hyp


def recordings(
    cache: Path, sets: list[tuple[str, str, int, int]], real: bool = True
) -> Iterator[tuple[str, str, list[d.SpeechWindow], Turns]]:
    """``(set, name, windows, reference)`` of every recording (embeddings cached).

    Args:
        cache: directory of the cached window embeddings and references.
        sets: ``(set, prefix, seed, count)``: ``count`` generated conversations from seeds
            ``seed..seed + count - 1`` named ``{prefix}_{i:02d}_{k}spk``.
        real: include the real recordings.
    """
    import make_diarization_set as mds

    cache.mkdir(parents=True, exist_ok=True)
    yield from _real(cache) if real else iter(())
    for label, prefix, seed, count in sets:
        for i in range(count):
            speakers = 2 + i % 5
            name = f"{prefix}_{i:02d}_{speakers}spk"
            if (cache / f"{name}.npz").exists() and (cache / f"{name}.rttm").exists():
                yield label, name, _cached_windows(cache, name, np.zeros(0)), rttm(cache / f"{name}.rttm")
                continue
            engine = "festival" if label.startswith("festival") else "espeak"
            samples, ref = mds.conversation(seed + i, speakers, turns=max(10, 3 * speakers), engine=engine)
            windows = _cached_windows(cache, name, samples)
            (cache / f"{name}.rttm").write_text(
                "".join(f"SPEAKER {name} 1 {a:.3f} {b - a:.3f} <NA> <NA> {s} <NA> <NA>\n" for a, b, s in ref)
            )
            yield label, name, windows, ref


def _real(cache: Path) -> Iterator[tuple[str, str, list[d.SpeechWindow], Turns]]:
    """The real recordings with references (embeddings cached)."""
    weekly = audio.decode(FIXTURES / "weekly_sync.wav")
    yield (
        "real",
        "weekly_sync",
        _cached_windows(cache, "weekly_sync", weekly),
        rttm(FIXTURES / "weekly_sync.rttm"),
    )
    jfk = audio.decode(FIXTURES / "jfk.flac")
    yield "real", "jfk", _cached_windows(cache, "jfk", jfk), [(0.0, len(jfk) / 16000, "jfk")]
    for extra in sorted(FIXTURES.glob("real_*.rttm")):
        samples = audio.decode(extra.with_suffix(".flac"))
        yield "real", extra.stem, _cached_windows(cache, extra.stem, samples), rttm(extra)


def generated_sets(
    calibration: str, holdout: str, fresh: str = "", festival: str = "", festival_holdout: str = ""
) -> list[tuple[str, str, int, int]]:
    """``(set, prefix, seed, count)`` of every generated set from ``seed:count`` lists.

    Seed 1000 keeps the names ``calibration_NN`` and seed 5000 ``holdout_NN`` (the benchmark's
    sets); other seeds are prefixed with theirs (``cal2000_NN``, ``fresh7000_NN``,
    ``festival11000_NN``). The ``festival`` (calibration: chosen on, with ``calibration``) and
    ``festival_holdout`` sets speak with Festival's voices of real people
    (``make_diarization_set.FESTIVAL_VOICES``), the others with espeak-ng.
    """
    out: list[tuple[str, str, int, int]] = []
    sets = (
        ("calibration", calibration),
        ("holdout", holdout),
        ("fresh", fresh),
        ("festival", festival),
        ("festival_holdout", festival_holdout),
    )
    for label, spec in sets:
        for item in filter(None, spec.split(",")):
            seed, count = (int(v) for v in item.split(":"))
            named = {("calibration", 1000): "calibration", ("holdout", 5000): "holdout"}
            prefix = named.get(
                (label, seed),
                f"{label[:3] if label == 'calibration' else label.split('_')[0]}{seed}",
            )
            out.append((label, prefix, seed, count))
    return out


def score(
    rows: list[tuple[str, str, list[d.SpeechWindow], Turns]],
    params: dict[str, float] | None = None,
    mode: str = "off",
    cache: Path = Path("/tmp/earshot-diarization-cache"),
) -> dict[str, object]:
    """Figures per set for one clustering setting (module constants patched meanwhile) and
    segmentation mode (``off``, ``overlap``, ``turns``: :func:`d.diarize_audio`)."""
    params = params or {}
    saved = {k: getattr(d, k) for k in params}
    for k, v in params.items():
        setattr(d, k, v)
    try:
        per: dict[str, list[dict[str, object]]] = {}
        for label, name, windows, ref in rows:
            hyp = hypothesis(mode, cache, name, windows)
            n_ref = len({t[2] for t in ref})
            per.setdefault(label, []).append(
                {
                    "name": name,
                    "shortest_speaker_s": round(
                        min(sum(b - a for a, b, w in ref if w == who) for who in {t[2] for t in ref}), 2
                    ),
                    "der": round(der(ref, hyp), 4),
                    "speakers": len({t[2] for t in hyp}),
                    "reference": n_ref,
                }
            )
    finally:
        for k, v in saved.items():
            setattr(d, k, v)
    out: dict[str, object] = {}
    for label, items in per.items():
        out[label] = {
            "count": len(items),
            "mean_der": round(float(np.mean([r["der"] for r in items])), 4),
            "count_right": round(float(np.mean([r["speakers"] == r["reference"] for r in items])), 3),
            "misses": [f"{r['name']}:{r['speakers']}" for r in items if r["speakers"] != r["reference"]],
        }
        # Reported beside the full figure, never instead of it: conversations in which every
        # speaker has at least SHORT_SPEAKER_S of speech (the generator may draw a "speaker"
        # with one short sentence).
        long_enough = [r for r in items if float(r["shortest_speaker_s"]) >= SHORT_SPEAKER_S]  # type: ignore[arg-type]
        out[label]["count_right_without_short_speakers"] = {  # type: ignore[index]
            "rule": f"every speaker >= {SHORT_SPEAKER_S} s of speech",
            "count": len(long_enough),
            "count_right": round(float(np.mean([r["speakers"] == r["reference"] for r in long_enough])), 3)
            if long_enough
            else None,
        }
        if label == "real":
            out[label]["per_recording"] = items  # type: ignore[index]
    return out


def main() -> None:
    """Embed (cached), then score the current setting or search the grid."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cache", default="/tmp/earshot-diarization-cache")
    parser.add_argument(
        "--calibration",
        default=",".join(f"{s}:{n}" for s, n in CALIBRATION),
        help="seed:count of each calibration set (comma-separated)",
    )
    parser.add_argument("--holdout", default=f"{HOLDOUT[0]}:{HOLDOUT[1]}", help="seed:count")
    parser.add_argument(
        "--fresh",
        default="",
        help=f"seed:count of a fresh held-out set (e.g. {FRESH[0]}:{FRESH[1]}); score it once, at the end",
    )
    parser.add_argument(
        "--festival",
        default=",".join(f"{s}:{n}" for s, n in FESTIVAL),
        help="seed:count of the calibration sets spoken by Festival's voices of real people",
    )
    parser.add_argument(
        "--festival-holdout",
        default="",
        help="seed:count of held-out Festival sets, never used to choose (looked at while "
        f"developing: {','.join(f'{s}:{n}' for s, n in FESTIVAL_DEV)}; scored once: "
        f"{','.join(f'{s}:{n}' for s, n in FESTIVAL_FRESH)})",
    )
    parser.add_argument("--grid", action="store_true", help="search the clustering settings")
    parser.add_argument(
        "--segmentation",
        choices=d.SEGMENTATION_MODES,
        default="off",
        help="segmentation-3.0 use (EARSHOT_DIARIZER_SEGMENTATION): off, overlap, turns",
    )
    args = parser.parse_args()
    sets = generated_sets(args.calibration, args.holdout, args.fresh, args.festival, args.festival_holdout)
    rows = list(recordings(Path(args.cache), sets))
    if not args.grid:
        print(json.dumps(score(rows, None, args.segmentation, Path(args.cache)), indent=2))
        return
    # Searched before on the 24 conversations of seed 1000 alone (all tie at 83 %): MERGE_COS
    # 0.8-0.95, MIN_CLUSTER_SIZE 2-5, MIN_PNUM 3-8, SPECTRAL_PVAL 0.02/0.05, an over-clustered k,
    # AHC on windows or on first-pass turns, NME-SC. The outlier speaker is what helped.
    # Searched again on 64 conversations (seeds 1000, 2000, 3000; docs/transcription.md lists
    # the other methods tried there): the grid below.
    # Issue 16's fourth pass added the Festival calibration sets and the relative margins (searched
    # with the others fixed; then OUTLIER_COS 0.65-0.75 x OUTLIER_PAIR_COS 0.6-0.8 x
    # MIN_CLUSTER_SIZE 4-6 x MERGE_COS 0.8-0.9 around them: no setting better).
    grid: dict[str, list[float]] = {
        "RELATIVE_MERGE_MARGIN": [0.4, 0.425, 0.45, 0.475, 0.5, 9.0],
        "RELATIVE_OUTLIER_MARGIN": [0.25, 0.3, 0.35, 0.4, 0.5, 9.0],
        "OUTLIER_COS": [0.7],
        "MIN_CLUSTER_SIZE": [5],
        "MERGE_COS": [0.85],
    }
    current = {k: getattr(d, k) for k in grid}
    chosen_on = [r for r in rows if r[0] in ("calibration", "festival", "real")]
    results: list[dict[str, Any]] = []
    for values in itertools.product(*grid.values()):
        params: dict[str, float] = dict(zip(grid, values, strict=True))
        s: dict[str, Any] = score(chosen_on, params)
        line = {
            label: {k: v for k, v in figures.items() if k in ("count", "mean_der", "count_right")}
            for label, figures in s.items()
        }
        results.append({"params": params, **line})
        print(json.dumps({"params": params, **line}), flush=True)

    # Chosen on the calibration sets alone (the real recordings' counts must stay right; then the
    # count pooled over the espeak-ng and Festival calibration sets; a tie keeps the current
    # setting, then goes to the lower DER: in issue 16's fourth pass (0.425, 0.25) tied with
    # (0.45, 0.35) at 93 of 104 and lower DER, and the middle of the plateau was kept, before any
    # fresh set was scored); the held-out figures of the chosen setting are printed after, never
    # used to choose.
    def pooled(r: dict[str, Any], key: str) -> float:
        parts = [(r[s]["count"], r[s][key]) for s in ("calibration", "festival") if s in r]
        return sum(n * v for n, v in parts) / max(1, sum(n for n, _ in parts))

    best = max(
        results,
        key=lambda r: (
            r["real"]["count_right"],
            round(pooled(r, "count_right"), 4),
            r["params"] == current,
            -pooled(r, "mean_der"),
        ),
    )
    held = score([r for r in rows if r[0] not in ("calibration", "festival", "real")], best["params"])
    print(json.dumps({"chosen": best, "current": current, "held_out": held}, indent=2))


if __name__ == "__main__":
    main()
