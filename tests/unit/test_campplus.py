"""CAM++ speaker embeddings without torch: the checkpoint reader refuses anything but
tensors, and the numpy front end and the network (numpy and the ONNX graph built from
the weights, on onnxruntime) equal the original implementation
(3D-Speaker + torchaudio, fixture made by scripts/campplus_reference.py) on short clips."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from services.common import audio
from services.transcription import campplus
from services.transcription.models import campplus_checkpoint
from tests.conftest import FIXTURES

REFERENCE = np.load(FIXTURES / "campplus_reference.npz")


def clips() -> list[np.ndarray]:
    out = []
    for name, (start, end) in zip(REFERENCE["files"], REFERENCE["spans"], strict=True):
        samples = audio.decode(FIXTURES / str(name))
        out.append(np.ascontiguousarray(samples[int(start * 16000) : int(end * 16000)]))
    return out


def test_fbank_equals_kaldi() -> None:
    ours = campplus.kaldi_fbank(clips()[0])
    assert ours.shape == REFERENCE["fbank"].shape
    assert float(np.abs(ours - REFERENCE["fbank"]).max()) < 1e-3


@pytest.mark.parametrize("runtime", ["onnx", "numpy"])
def test_embeddings_equal_the_reference(runtime: str) -> None:
    got = campplus.embed(clips(), runtime=runtime)
    ref = REFERENCE["embeddings"]
    cosine = (got * ref).sum(axis=1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref, axis=1)
    assert got.shape == (len(ref), 192)
    assert float(cosine.min()) >= 0.999, cosine


def test_checkpoint_is_read_as_plain_arrays() -> None:
    state = campplus.load_state_dict(campplus_checkpoint())
    assert state["head.conv1.weight"].shape == (32, 1, 3, 3)
    assert all(isinstance(v, np.ndarray) for v in state.values())


class _Evil:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        import os

        return (os.system, ("echo pwned",))


def test_restricted_unpickler_refuses_code(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"w": _Evil()}, protocol=2))
    with pytest.raises(campplus.CheckpointError, match="only tensors"):
        campplus.load_state_dict(path)
    (tmp_path / "not.pt").write_bytes(b"plain bytes")
    with pytest.raises(campplus.CheckpointError):
        campplus.load_state_dict(tmp_path / "not.pt")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps([1, 2], protocol=2))
    (tmp_path / "list.pt").write_bytes(buf.getvalue())
    with pytest.raises(campplus.CheckpointError, match="state dict"):
        campplus.load_state_dict(tmp_path / "list.pt")
