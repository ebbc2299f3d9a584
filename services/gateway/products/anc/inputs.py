"""Inputs of the ANC routes: filter parameters from forms and JSON, uploaded recordings
(one stereo file, or ``primary`` + ``reference`` mono files) checked for channel counts,
sample rates, lengths and NaN/Inf samples before anything is stored."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import numpy as np
from earshot.anc.v1 import anc_pb2
from starlette.datastructures import UploadFile
from starlette.requests import Request

from services.common import audio
from services.common.settings import Settings
from services.gateway.shared.errors import ApiError
from services.gateway.shared.uploads import read_multipart, save_audio

__all__ = [
    "MAX_BATCH_S",
    "MAX_PROCESS_S",
    "PARAM_FIELDS",
    "Saved",
    "check_channels",
    "check_long_inputs",
    "decode",
    "decode_inputs",
    "finite",
    "form_params",
    "is_long",
    "receive",
]

MAX_PROCESS_S = 60.0
"""Longest recording ``POST /api/audio/process`` processes synchronously (s); longer files
would exceed the gRPC message limit as float32 (the anc service enforces the same limit), so
they become batch jobs over events (202)."""

MAX_BATCH_S = 4 * 3600.0
"""Longest recording a batch job takes (s)."""

PARAM_FIELDS = ("algorithm", "taps", "mu", "block_size", "delay", "constrained")

Saved = list[tuple[str, Path, audio.AudioInfo]]
"""Accepted files: ``(field name, temp path, probe)``."""


def form_params(values: dict[str, Any]) -> anc_pb2.FilterParams:
    """Parse filter parameters from form / JSON values (types only; ranges are the anc
    service's, through ``ResolveParams``).

    Raises:
        ApiError: 400 for a value that is not a number / boolean, or non-finite.
    """

    def number(name: str, integer: bool) -> Any:
        raw = values.get(name)
        if raw is None or raw == "":
            return 0
        if isinstance(raw, bool):
            raise ApiError(400, "Invalid parameter", f"{name} must be a number, got {raw!r}")
        try:
            v = float(raw)
        except (TypeError, ValueError):
            raise ApiError(400, "Invalid parameter", f"{name} must be a number, got {raw!r}") from None
        if not math.isfinite(v):
            raise ApiError(400, "Invalid parameter", f"{name} must be finite, got {raw!r}")
        if integer:
            if v != int(v):
                raise ApiError(400, "Invalid parameter", f"{name} must be an integer, got {raw!r}")
            if not -(2**31) < v < 2**31:
                raise ApiError(400, "Invalid parameter", f"{name} is out of range: {raw!r}")
            if v <= 0:
                raise ApiError(400, "Invalid parameter", f"{name} must be positive, got {raw!r}")
            return int(v)
        if v <= 0:
            raise ApiError(400, "Invalid parameter", f"{name} must be positive, got {raw!r}")
        return v

    constrained = values.get("constrained")
    if constrained in (None, ""):
        unconstrained = False
    elif isinstance(constrained, bool):
        unconstrained = not constrained
    elif str(constrained).lower() in ("true", "1", "yes"):
        unconstrained = False
    elif str(constrained).lower() in ("false", "0", "no"):
        unconstrained = True
    else:
        raise ApiError(400, "Invalid parameter", f"constrained must be true or false, got {constrained!r}")
    algorithm = values.get("algorithm") or ""
    if not isinstance(algorithm, str):
        raise ApiError(400, "Invalid parameter", f"algorithm must be a string, got {algorithm!r}")
    return anc_pb2.FilterParams(
        algorithm=algorithm.strip().lower(),
        taps=number("taps", True),
        mu=number("mu", False),
        block_size=number("block_size", True),
        delay=number("delay", True),
        unconstrained=unconstrained,
    )


def finite(samples: np.ndarray, name: str) -> np.ndarray:
    """``samples`` unchanged, or 400 when they contain NaN or Inf."""
    if not np.isfinite(samples).all():
        raise ApiError(400, "Invalid audio", f"{name} contains NaN or Inf samples")
    return samples


async def _save(upload: UploadFile, name: str, settings: Settings, tmp: Path) -> tuple[Path, audio.AudioInfo]:
    received = await save_audio(upload, name, settings, tmp, max_duration_s=MAX_BATCH_S, label=name)
    return received.path, received.info


def is_long(saved: Saved) -> bool:
    """Whether a recording is longer than :data:`MAX_PROCESS_S` (a batch job)."""
    return max(info.duration_s for _, _, info in saved) > MAX_PROCESS_S


async def receive(request: Request, settings: Settings, tmp: Path) -> tuple[Saved, dict[str, Any], bool]:
    """Parse the multipart body and save/probe the files: ``(saved files, params, classify)``."""
    form = await read_multipart(
        request,
        settings,
        "send multipart/form-data with 'audio' (stereo, or mono with ale) or 'primary' + 'reference'",
    )
    try:
        values = {k: form.get(k) for k in PARAM_FIELDS if isinstance(form.get(k), str)}
        classify = str(form.get("classify") or "").lower() in ("1", "true", "yes")
        files = {k: v for k, v in form.multi_items() if isinstance(v, UploadFile)}
        if "audio" in files and ("primary" in files or "reference" in files):
            raise ApiError(400, "Ambiguous input", "send either 'audio' or 'primary' + 'reference', not both")
        if "audio" in files:
            path, info = await _save(files["audio"], "audio", settings, tmp)
            saved = [("audio", path, info)]
        elif "primary" in files and "reference" in files:
            saved = [
                ("primary", *(await _save(files["primary"], "primary", settings, tmp))),
                ("reference", *(await _save(files["reference"], "reference", settings, tmp))),
            ]
        elif "primary" in files:
            raise ApiError(400, "Missing reference", "'primary' needs a 'reference' file of the same length")
        else:
            got = ", ".join(sorted(form.keys())) or "none"
            raise ApiError(
                400,
                "No audio file provided",
                f"expected 'audio' or 'primary' + 'reference' files (fields received: {got})",
            )
    finally:
        await form.close()
    return saved, values, classify


async def decode_inputs(saved: Saved) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Check channel counts, rates, NaN/Inf and lengths while decoding: ``(primary, reference, rate)``."""
    if len(saved) == 1:
        _, path, info = saved[0]
        if info.channels not in (1, 2):
            raise ApiError(
                400,
                "Wrong channel count",
                f"audio has {info.channels} channels; send stereo (0: primary, 1: reference) "
                "or mono with ale",
            )
        data = await decode(path, info.sample_rate, "audio")
        primary = finite(data[0], "audio")
        reference = finite(data[1], "audio") if data.shape[0] == 2 else None
        rate = info.sample_rate
    else:
        (_, p_path, p_info), (_, r_path, r_info) = saved
        for name, inf in (("primary", p_info), ("reference", r_info)):
            if inf.channels != 1:
                raise ApiError(
                    400, "Wrong channel count", f"{name} has {inf.channels} channels; send mono files"
                )
        if p_info.sample_rate != r_info.sample_rate:
            raise ApiError(
                400,
                "Sample rates differ",
                f"primary is {p_info.sample_rate} Hz but reference is {r_info.sample_rate} Hz",
            )
        rate = p_info.sample_rate
        primary = finite((await decode(p_path, rate, "primary"))[0], "primary")
        reference = finite((await decode(r_path, rate, "reference"))[0], "reference")
        if primary.shape != reference.shape:
            raise ApiError(
                400,
                "Lengths differ",
                f"primary has {primary.size} samples but reference has {reference.size}",
            )
    return primary, reference, rate


async def check_long_inputs(saved: Saved) -> tuple[int, int]:
    """The checks of :func:`decode_inputs` without decoding (flat memory for long files):
    channel counts, rates, NaN/Inf in float WAVs, lengths from the verified probe.
    Returns ``(rate, samples per channel)``."""
    if len(saved) == 1:
        _, path, info = saved[0]
        if info.channels not in (1, 2):
            raise ApiError(
                400,
                "Wrong channel count",
                f"audio has {info.channels} channels; send stereo (0: primary, 1: reference) "
                "or mono with ale",
            )
        if not await asyncio.to_thread(audio.wav_float_samples_finite, path):
            raise ApiError(400, "Invalid audio", "audio contains NaN or Inf samples")
        return info.sample_rate, round(info.duration_s * info.sample_rate)
    (_, p_path, p_info), (_, r_path, r_info) = saved
    for name, inf in (("primary", p_info), ("reference", r_info)):
        if inf.channels != 1:
            raise ApiError(400, "Wrong channel count", f"{name} has {inf.channels} channels; send mono files")
    if p_info.sample_rate != r_info.sample_rate:
        raise ApiError(
            400,
            "Sample rates differ",
            f"primary is {p_info.sample_rate} Hz but reference is {r_info.sample_rate} Hz",
        )
    rate = p_info.sample_rate
    for name, path in (("primary", p_path), ("reference", r_path)):
        if not await asyncio.to_thread(audio.wav_float_samples_finite, path):
            raise ApiError(400, "Invalid audio", f"{name} contains NaN or Inf samples")
    p_n, r_n = round(p_info.duration_s * rate), round(r_info.duration_s * rate)
    if p_n != r_n:
        raise ApiError(400, "Lengths differ", f"primary has {p_n} samples but reference has {r_n}")
    return rate, p_n


async def decode(path: Path, rate: int, name: str) -> np.ndarray:
    """Decode a file at ``rate`` (channels kept) as float32 ``(channels, samples)``.

    Raises:
        ApiError: 400 NaN/Inf samples or undecodable audio.
    """
    if not await asyncio.to_thread(audio.wav_float_samples_finite, path):
        raise ApiError(400, "Invalid audio", f"{name} contains NaN or Inf samples")
    try:
        data = await asyncio.to_thread(audio.decode, path, rate, False)
    except audio.AudioError as exc:
        raise ApiError(400, "Corrupt audio", f"{name}: {exc.details}") from None
    return np.atleast_2d(np.asarray(data, dtype=np.float32))


def check_channels(resolved: anc_pb2.ResolveParamsResponse, has_reference: bool) -> None:
    """400 when the algorithm's channel count does not match the input."""
    if resolved.channels == 2 and not has_reference:
        raise ApiError(
            400,
            "Wrong channel count",
            f"{resolved.params.algorithm} needs two channels: a stereo file (0: primary, 1: reference) "
            "or 'primary' + 'reference' files",
        )
    if resolved.channels == 1 and has_reference:
        raise ApiError(400, "Wrong channel count", "ale works on one channel; send a mono file")
