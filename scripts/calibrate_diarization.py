"""Calibrate the CAM++ diarizer's clustering on generated conversations, with a held-out set.

The window embeddings (Silero VAD -> 1.5 s windows -> CAM++) of every recording are
computed once and cached (``--cache``, an ``.npz`` per recording), so that the clustering
settings can be searched quickly. Two sets from ``scripts/make_diarization_set.py``:

* calibration: ``--calibration`` conversations from seed 1000 (the benchmark's set);
* held out: ``--holdout`` conversations from seed 5000 (other voices, rates, gains,
  noise and texts: every draw comes from the seed).

Plus ``weekly_sync.wav`` (3 speakers, RTTM reference) and ``jfk.flac`` (one speaker),
and any real recording with an RTTM reference in ``tests/fixtures``. For every setting in
the grid it prints the calibration figures (mean DER, collar 0.25 s; share of
conversations with the right speaker count) and, for the chosen setting, the held-out
figures too, as JSON::

    python scripts/calibrate_diarization.py --cache /tmp/diar-cache [--grid]

Not run by the test suite (needs espeak-ng and a few minutes of CPU).
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

FIXTURES = ROOT / "tests" / "fixtures"
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
    np.savez(
        path,
        start=np.array([w.start for w in windows]),
        end=np.array([w.end for w in windows]),
        emb=np.stack([w.embedding for w in windows]) if windows else np.zeros((0, 192), np.float32),
    )
    return windows


def recordings(
    cache: Path, calibration: int, holdout: int
) -> Iterator[tuple[str, str, list[d.SpeechWindow], Turns]]:
    """``(set, name, windows, reference)`` of every recording (embeddings cached)."""
    import make_diarization_set as mds

    cache.mkdir(parents=True, exist_ok=True)
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
    for label, count, seed in (("calibration", calibration, 1000), ("holdout", holdout, 5000)):
        for i in range(count):
            speakers = 2 + i % 5
            name = f"{label}_{i:02d}_{speakers}spk"
            if (cache / f"{name}.npz").exists() and (cache / f"{name}.rttm").exists():
                yield label, name, _cached_windows(cache, name, np.zeros(0)), rttm(cache / f"{name}.rttm")
                continue
            samples, ref = mds.conversation(seed + i, speakers, turns=max(10, 3 * speakers))
            windows = _cached_windows(cache, name, samples)
            (cache / f"{name}.rttm").write_text(
                "".join(f"SPEAKER {name} 1 {a:.3f} {b - a:.3f} <NA> <NA> {s} <NA> <NA>\n" for a, b, s in ref)
            )
            yield label, name, windows, ref


def score(rows: list[tuple[str, str, list[d.SpeechWindow], Turns]], **params: float) -> dict[str, object]:
    """Figures per set for one clustering setting (module constants patched meanwhile)."""
    saved = {k: getattr(d, k) for k in params}
    for k, v in params.items():
        setattr(d, k, v)
    try:
        per: dict[str, list[dict[str, object]]] = {}
        for label, name, windows, ref in rows:
            hyp = d.window_turns(windows, d.window_labels(windows, 1, 8, "campplus")) if windows else []
            n_ref = len({t[2] for t in ref})
            per.setdefault(label, []).append(
                {
                    "name": name,
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
        if label == "real":
            out[label]["per_recording"] = items  # type: ignore[index]
    return out


def main() -> None:
    """Embed (cached), then score the current setting or search the grid."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cache", default="/tmp/earshot-diarization-cache")
    parser.add_argument("--calibration", type=int, default=24)
    parser.add_argument("--holdout", type=int, default=20)
    parser.add_argument("--grid", action="store_true", help="search the clustering settings")
    args = parser.parse_args()
    rows = list(recordings(Path(args.cache), args.calibration, args.holdout))
    if not args.grid:
        print(json.dumps(score(rows), indent=2))
        return
    # Searched before (all tie at 83 % on the calibration set): MERGE_COS 0.8-0.95,
    # MIN_CLUSTER_SIZE 2-5, MIN_PNUM 3-8, SPECTRAL_PVAL 0.02/0.05, an over-clustered k,
    # AHC on windows or on first-pass turns, NME-SC. The outlier speaker is what helped.
    grid: dict[str, list[float]] = {"OUTLIER_COS": [0.6, 0.65, 0.7, 0.75], "OUTLIER_PAIR_COS": [0.6, 0.7]}
    results: list[dict[str, Any]] = []
    for values in itertools.product(*grid.values()):
        params: dict[str, float] = dict(zip(grid, values, strict=True))
        s: dict[str, Any] = score(rows, **params)
        line = {
            label: {k: v for k, v in figures.items() if k in ("mean_der", "count_right")}
            for label, figures in s.items()
        }
        results.append({"params": params, **line})
        print(json.dumps({"params": params, **line}), flush=True)
    # Chosen on the calibration set alone (count first, then DER, then the stricter); the held-out and real
    # figures of the same setting are printed beside it, never used to choose.
    best = max(
        results,
        # ties go to the stricter setting (fewer new speakers made up)
        key=lambda r: (
            r["calibration"]["count_right"],
            -r["calibration"]["mean_der"],
            r["params"]["OUTLIER_PAIR_COS"],
        ),
    )
    print(json.dumps({"chosen": best}, indent=2))


if __name__ == "__main__":
    main()
