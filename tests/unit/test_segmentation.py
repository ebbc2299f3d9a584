"""pyannote segmentation-3.0 without torch: the checkpoint reader runs no code from the
file, and the numpy forward pass and the ONNX graph built from the weights equal
pyannote.audio 3.1.1's own model on torch (fixture made by scripts/segmentation_reference.py)
on four clips of the fixtures (one, two, three speakers, overlapped speech, 10 s and 5 s)."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from services.common import audio
from services.transcription import campplus, segmentation
from tests.conftest import FIXTURES

REFERENCE = np.load(FIXTURES / "segmentation_reference.npz")


def clips() -> list[np.ndarray]:
    out = []
    for name, (start, end) in zip(REFERENCE["files"], REFERENCE["spans"], strict=True):
        samples = audio.decode(FIXTURES / str(name))
        out.append(np.ascontiguousarray(samples[int(start * 16000) : int(end * 16000)]))
    return out


@pytest.mark.parametrize("runtime", ["onnx", "numpy"])
def test_log_probs_equal_the_reference(runtime: str) -> None:
    model = segmentation.get_runtime() if runtime == "onnx" else segmentation.get_model()
    for i, clip in enumerate(clips()):
        ref = REFERENCE[f"log_probs_{i}"]
        got = model(clip[None])[0]
        assert got.shape == ref.shape
        assert float(np.abs(got - ref).max()) <= 1e-3, (i, float(np.abs(got - ref).max()))
        # Same decisions: per-speaker activity from the powerset argmax.
        assert (
            segmentation.powerset_to_multilabel(got) != segmentation.powerset_to_multilabel(ref)
        ).sum() == 0


def test_reference_clips_exercise_overlap_and_silence() -> None:
    """The fixture is informative: it has frames of silence, of one speaker and of two."""
    active = np.concatenate(
        [segmentation.powerset_to_multilabel(REFERENCE[f"log_probs_{i}"]).sum(axis=1) for i in range(4)]
    )
    assert {0, 1, 2} <= set(active.astype(int).tolist())


def test_powerset_classes() -> None:
    assert segmentation.MAPPING.tolist() == [
        [0, 0, 0],
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
        [1, 1, 0],
        [1, 0, 1],
        [0, 1, 1],
    ]
    log_probs = np.log(np.full((2, 7), 0.01))
    log_probs[0, 5] = 0.0  # {0, 2}
    log_probs[1, 0] = 0.0  # nobody
    assert segmentation.powerset_to_multilabel(log_probs).tolist() == [[1, 0, 1], [0, 0, 0]]


class _Evil:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        import os

        return (os.system, ("echo pwned",))


def test_checkpoint_reader_refuses_code(tmp_path: Path) -> None:
    path = tmp_path / "evil.bin"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"state_dict": {"w": _Evil()}}, protocol=2))
    with pytest.raises(campplus.CheckpointError, match="only tensors"):
        segmentation.load_checkpoint(path)
    with zipfile.ZipFile(tmp_path / "none.bin", "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"epoch": 1}, protocol=2))
    with pytest.raises(campplus.CheckpointError, match="state_dict"):
        segmentation.load_checkpoint(tmp_path / "none.bin")


def test_checkpoint_is_read_as_plain_arrays() -> None:
    from services.transcription.models import segmentation_checkpoint

    state = segmentation.load_checkpoint(segmentation_checkpoint())
    assert state["classifier.weight"].shape == (7, 128)
    assert state["lstm.weight_ih_l0"].shape == (512, 60)
    assert all(isinstance(v, np.ndarray) for v in state.values())


def test_altered_checkpoint_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.transcription import models

    monkeypatch.setattr(models, "SEGMENTATION_SHA256", "0" * 64)
    with pytest.raises(models.ModelError, match="SHA-256"):
        models.segmentation_checkpoint()
