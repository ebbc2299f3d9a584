"""The anc capability service: gRPC ``earshot.anc.v1.AncService``.

* ``Process``: one recording (float32 PCM per channel) through a new filter; returns
  the output and its metrics (attenuation overall and per octave band, convergence
  time to 20 dB), optionally the noise class of the primary channel.
* ``Stream``: bidirectional; a ``StreamConfig`` first, then ``AudioBlock`` messages.
  Every block is answered with its ``ProcessedBlock``; ``StreamMetrics`` (with the
  noise class of the last second and the emergency flag) follow every
  ``metrics_every`` blocks and when the client closes. A bad block is answered with a
  ``StreamError`` and the stream stays open.
* ``Classify``, ``ListModels``.
* Batch jobs for long files, over events: consumer group ``anc`` on
  ``earshot.anc.requests`` (``AncProcessRequested``); the input objects are
  downloaded to a temporary folder, processed block by block in a worker thread
  (:mod:`services.anc.batch`, flat memory), the output WAV is stored, and
  ``AncProgress`` (about every 10 %) then ``AncProcessCompleted`` (with the same metrics
  as ``Process``) or ``AncProcessFailed`` (a code and the reason) go to
  ``earshot.anc.events``. The input objects are deleted on every path. A job whose output
  (and its ``.json`` metrics sidecar) already exists is answered with ``completed`` again.

Bad parameters or samples abort unary calls with ``INVALID_ARGUMENT`` and the reason.
Sample-by-sample algorithms run in a worker thread so the event loop stays free; the
FDAF is fast enough to run inline.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import numpy as np
from earshot.anc.v1 import anc_pb2, anc_pb2_grpc

from services.anc import batch, engine, noise
from services.anc.config import ALGORITHMS, AncSettings, load_anc_settings
from services.anc.dsp import fft_backend
from services.common import audio, publishing
from services.common.bus import Subscription
from services.common.events import (
    ANC_EVENTS,
    ANC_REQUESTS,
    AncProcessCompleted,
    AncProcessFailed,
    AncProcessRequested,
    AncProgress,
    Envelope,
    EventPayload,
)
from services.common.logging import get_logger
from services.common.rpc import GrpcServer, start_server
from services.common.runtime import Runtime
from services.common.storage import ObjectNotFound

log = get_logger("earshot.anc")

GRPC_SERVICE_NAME = "earshot.anc.v1.AncService"


def params_to_kwargs(p: anc_pb2.FilterParams) -> dict[str, Any]:
    """Protobuf parameters -> keyword arguments of :func:`services.anc.engine.resolve`."""
    return {
        "algorithm": p.algorithm or None,
        "taps": p.taps or None,
        "mu": p.mu or None,
        "block_size": p.block_size or None,
        "delay": p.delay or None,
        "unconstrained": p.unconstrained,
    }


def spec_to_params(spec: engine.FilterSpec) -> anc_pb2.FilterParams:
    """The parameters actually used, as protobuf."""
    return anc_pb2.FilterParams(
        algorithm=spec.algorithm,
        taps=spec.taps,
        mu=spec.mu,
        block_size=spec.block_size,
        delay=spec.delay,
        unconstrained=not spec.constrained,
    )


def classification_to_proto(c: noise.Classification) -> anc_pb2.Classification:
    """Classification dataclass -> protobuf."""
    return anc_pb2.Classification(
        label=c.label,
        confidence=c.confidence,
        top_class=c.top_class,
        probabilities=c.probabilities,
        emergency=c.emergency,
        windows=c.windows,
    )


def metrics_to_proto(f: dict[str, Any]) -> anc_pb2.Metrics:
    """Metrics dict of :func:`services.anc.engine.process` -> protobuf."""
    conv = f.get("convergence_time_ms")
    return anc_pb2.Metrics(
        attenuation_db=f["attenuation_db"],
        steady_state_attenuation_db=f["steady_state_attenuation_db"],
        octave_bands=[
            anc_pb2.OctaveBand(centre_hz=k, attenuation_db=v) for k, v in f["octave_bands_db"].items()
        ],
        convergence_time_ms=-1.0 if conv is None else conv,
        input_rms_db=f["input_rms_db"],
        output_rms_db=f["output_rms_db"],
        processing_ms=f["processing_ms"],
        realtime_factor=f["realtime_factor"],
        resets=f["resets"],
        samples=f["samples"],
    )


def _check_rate(rate: int) -> int:
    if not 1000 <= rate <= 384000:
        raise ValueError(f"sample_rate must be between 1000 and 384000 Hz, got {rate}")
    return rate


class _Servicer(anc_pb2_grpc.AncServiceServicer):
    def __init__(self, service: AncService) -> None:
        self.service = service

    async def Process(  # noqa: N802 - gRPC method name
        self, request: anc_pb2.ProcessRequest, context: grpc.aio.ServicerContext
    ) -> anc_pb2.ProcessResponse:
        s = self.service.settings
        try:
            rate = _check_rate(request.sample_rate)
            spec = engine.resolve(s, **params_to_kwargs(request.params))
            primary = engine.decode_pcm(request.primary, "primary")
            reference = engine.decode_pcm(request.reference, "reference") if request.reference else None
            if spec.channels == 1 and reference is not None:
                raise ValueError("ale takes one channel; send no reference")
            if primary.size / rate > s.max_process_s:
                raise ValueError(
                    f"recording is {primary.size / rate:.1f} s; Process takes at most {s.max_process_s:.0f} s"
                )
            out, figures = await asyncio.to_thread(engine.process, spec, primary, reference, rate)
            classification = None
            if request.classify:
                c = await asyncio.to_thread(self.service.classifier.classify, primary, rate)
                classification = classification_to_proto(c)
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        log.info("anc.processed", algorithm=spec.algorithm, samples=figures["samples"])
        return anc_pb2.ProcessResponse(
            output=out.astype("<f4").tobytes(),
            metrics=metrics_to_proto(figures),
            algorithm=spec.algorithm,
            params=spec_to_params(spec),
            classification=classification,
        )

    async def Stream(  # noqa: N802 - gRPC method name
        self, request_iterator: AsyncIterator[anc_pb2.StreamRequest], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[anc_pb2.StreamResponse]:
        state: engine.StreamState | None = None
        every = 10
        async for req in request_iterator:
            kind = req.WhichOneof("kind")
            if kind == "config":
                if state is not None:
                    yield _stream_error("Invalid stream", "the stream is already configured", 0)
                    continue
                try:
                    rate = _check_rate(req.config.sample_rate or self.service.settings.sample_rate)
                    spec = engine.resolve(self.service.settings, **params_to_kwargs(req.config.params))
                except ValueError as exc:
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
                state = engine.StreamState(spec, rate)
                every = max(1, req.config.metrics_every or 10)
                continue
            if state is None:
                await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "send a StreamConfig first")
                return
            block = req.block
            try:
                primary = engine.decode_pcm(block.primary, "primary")
                reference = engine.decode_pcm(block.reference, "reference") if block.reference else None
                if state.spec.algorithm in ("fdaf", "ale") and primary.size <= 4096:
                    out, dt = state.block(primary, reference)
                else:
                    out, dt = await asyncio.to_thread(state.block, primary, reference)
            except ValueError as exc:
                yield _stream_error("Invalid audio block", str(exc), block.sequence)
                continue
            yield anc_pb2.StreamResponse(
                block=anc_pb2.ProcessedBlock(
                    audio=out.astype("<f4").tobytes(), sequence=block.sequence, dsp_ms=dt * 1000
                )
            )
            if state.blocks % every == 0:
                yield await self._metrics(state)
        if state is not None and state.blocks % every:
            yield await self._metrics(state)

    async def _metrics(self, state: engine.StreamState) -> anc_pb2.StreamResponse:
        f = state.metrics()
        seen = min(state.samples, state.history.size)
        c = await asyncio.to_thread(
            self.service.classifier.classify, state.history[-seen:], state.sample_rate, 1
        )
        conv = f["convergence_time_ms"]
        return anc_pb2.StreamResponse(
            metrics=anc_pb2.StreamMetrics(
                blocks=f["blocks"],
                samples=f["samples"],
                attenuation_db=f["attenuation_db"],
                recent_attenuation_db=f["recent_attenuation_db"],
                convergence_time_ms=-1.0 if conv is None else conv,
                dsp_ms_mean=f["dsp_ms_mean"],
                dsp_ms_max=f["dsp_ms_max"],
                resets=f["resets"],
                classification=classification_to_proto(c),
            )
        )

    async def Classify(  # noqa: N802 - gRPC method name
        self, request: anc_pb2.ClassifyRequest, context: grpc.aio.ServicerContext
    ) -> anc_pb2.ClassifyResponse:
        try:
            rate = _check_rate(request.sample_rate)
            samples = engine.decode_pcm(request.samples, "samples")
            started = time.perf_counter()
            c = await asyncio.to_thread(self.service.classifier.classify, samples, rate)
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return anc_pb2.ClassifyResponse(
            classification=classification_to_proto(c),
            model=f"{noise.MODEL_NAME}:{noise.MODEL_VERSION}",
            processing_ms=(time.perf_counter() - started) * 1000,
        )

    async def ListModels(  # noqa: N802 - gRPC method name
        self, request: anc_pb2.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> anc_pb2.ListModelsResponse:
        s = self.service.settings
        clf = self.service.classifier
        return anc_pb2.ListModelsResponse(
            models=[
                anc_pb2.ModelInfo(
                    name=noise.MODEL_NAME,
                    version=noise.MODEL_VERSION,
                    kind="classifier",
                    classes=[str(c) for c in clf.model.classes_],
                    description="log-mel/MFCC statistics + scikit-learn logistic regression, "
                    "trained on a synthesised corpus (scripts/train_noise_classifier.py), stored with skops",
                    parameters={
                        "confidence_threshold": str(clf.confidence_threshold),
                        "emergency_detection_enabled": str(clf.emergency_enabled).lower(),
                        "emergency_confidence_threshold": str(clf.emergency_threshold),
                        "emergency_classes": ",".join(sorted(noise.EMERGENCY_CLASSES)),
                    },
                ),
                *[
                    anc_pb2.ModelInfo(
                        name=a,
                        version="1",
                        kind="adaptive_filter",
                        description=_DESCRIPTIONS[a],
                        parameters={
                            "taps": str(s.filter_taps),
                            "mu": str({"ale": 0.05, "fxnlms": 0.1}.get(a, s.mu)),
                            "block_size": str(s.block_size),
                            "sample_rate": str(s.sample_rate),
                        },
                    )
                    for a in ALGORITHMS
                ],
            ],
            default_algorithm=s.default_algorithm,
            algorithms=list(ALGORITHMS),
            fft_backend=fft_backend(),
        )

    async def ResolveParams(  # noqa: N802 - gRPC method name
        self, request: anc_pb2.ResolveParamsRequest, context: grpc.aio.ServicerContext
    ) -> anc_pb2.ResolveParamsResponse:
        try:
            rate = _check_rate(request.sample_rate or self.service.settings.sample_rate)
            spec = engine.resolve(self.service.settings, **params_to_kwargs(request.params))
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return anc_pb2.ResolveParamsResponse(
            params=spec_to_params(spec), sample_rate=rate, channels=spec.channels
        )


_DESCRIPTIONS = {
    "nlms": "normalised LMS, sample by sample (primary + reference)",
    "fdaf": "frequency-domain block adaptive filter, overlap-save, per-bin normalised (primary + reference)",
    "fxnlms": "filtered-x NLMS with a secondary-path model (primary/error + reference)",
    "lms": "LMS, sample by sample (primary + reference)",
    "ale": "adaptive line enhancer: removes periodic noise from one channel",
}


def _stream_error(error: str, details: str, sequence: int) -> anc_pb2.StreamResponse:
    return anc_pb2.StreamResponse(error=anc_pb2.StreamError(error=error, details=details, sequence=sequence))


class AncService:
    """The anc capability service (see module docstring)."""

    name = "anc"

    def __init__(self, settings: AncSettings | None = None) -> None:
        self._settings = settings
        self._grpc: GrpcServer | None = None
        self._classifier: noise.NoiseClassifier | None = None
        self._subs: list[Subscription] = []
        self.runtime: Runtime

    @property
    def settings(self) -> AncSettings:
        """The anc settings (read from the environment on first use)."""
        if self._settings is None:
            self._settings = load_anc_settings()
        return self._settings

    @property
    def classifier(self) -> noise.NoiseClassifier:
        """The noise classifier (loaded once)."""
        if self._classifier is None:
            s = self.settings
            self._classifier = noise.load_classifier(
                str(s.model_path or noise.MODEL_PATH),
                s.confidence_threshold,
                s.emergency_enabled,
                s.emergency_threshold,
            )
        return self._classifier

    async def start(self, runtime: Runtime) -> None:
        """Load the classifier, then serve gRPC."""
        self.runtime = runtime
        await asyncio.to_thread(lambda: self.classifier)
        s = runtime.settings
        self._grpc = await start_server(
            s.grpc_host,
            runtime.grpc_port(self.name),
            [lambda srv: anc_pb2_grpc.add_AncServiceServicer_to_server(_Servicer(self), srv)],
            [GRPC_SERVICE_NAME],
        )
        runtime.grpc_targets[self.name] = f"{s.grpc_host}:{self._grpc.port}"
        await runtime.bus.ensure_topics([ANC_REQUESTS, ANC_EVENTS])
        self._subs.append(await runtime.bus.subscribe([ANC_REQUESTS], "anc", self._handle_job))

    async def stop(self) -> None:
        """Leave the consumer group, stop gRPC gracefully."""
        for sub in self._subs:
            await sub.close()
        self._subs.clear()
        if self._grpc:
            await self._grpc.stop()

    # --- batch jobs ------------------------------------------------------------------------
    async def _publish(self, payload: EventPayload) -> None:
        await publishing.publish(self.runtime, self.name, payload)

    async def _handle_job(self, envelope: Envelope) -> None:
        if envelope.type != AncProcessRequested.event_type:
            return
        job = envelope.payload(AncProcessRequested)
        storage = self.runtime.storage
        inputs = [k for k in (job.primary_key, job.reference_key) if k]
        done: AncProcessCompleted | AncProcessFailed
        try:
            done = await self._existing_result(job) or await self._run_job(job)
        except (ValueError, audio.AudioError, ObjectNotFound) as exc:
            code = (
                exc.code
                if isinstance(exc, audio.AudioError)
                else "input_missing"
                if isinstance(exc, ObjectNotFound)
                else "invalid_audio"
            )
            details = exc.details if isinstance(exc, audio.AudioError) else str(exc)
            if isinstance(exc, ObjectNotFound):
                details = "the input object is gone (deleted or expired)"
            log.warning("anc.job_failed", job_id=job.job_id, error=code, details=details)
            done = AncProcessFailed(job_id=job.job_id, error=code, details=details[:480])
        except Exception as exc:  # anything else fails the job too: nobody would retry it
            log.exception("anc.job_crashed", job_id=job.job_id)
            done = AncProcessFailed(
                job_id=job.job_id, error="processing_failed", details=f"{type(exc).__name__}: {exc}"[:480]
            )
        finally:
            for key in inputs:
                await storage.delete(key)
        await self._publish(done)

    async def _existing_result(self, job: AncProcessRequested) -> AncProcessCompleted | None:
        """The completed event of a job already done (idempotency by job id), else ``None``."""
        storage = self.runtime.storage
        sidecar = _sidecar(job.output_key)
        if not (await storage.exists(job.output_key) and await storage.exists(sidecar)):
            return None
        log.info("anc.job_already_done", job_id=job.job_id)
        return AncProcessCompleted.model_validate_json(await storage.get(sidecar))

    async def _run_job(self, job: AncProcessRequested) -> AncProcessCompleted:
        storage = self.runtime.storage
        spec = engine.resolve(self.settings, **job.params)
        rate = _check_rate(job.sample_rate)
        loop = asyncio.get_running_loop()
        sent: list[concurrent.futures.Future[None]] = []
        with self.runtime.temp_dir("anc-job-") as tmp:
            primary = tmp / ("primary" + _suffix(job.primary_key))
            await storage.get_to_file(job.primary_key, primary)
            reference = None
            if job.reference_key:
                reference = tmp / ("reference" + _suffix(job.reference_key))
                await storage.get_to_file(job.reference_key, reference)
            duration = (await asyncio.to_thread(audio.probe, primary, verify=False)).duration_s
            total = max(1, round(duration * rate))
            last = [0.0]

            def progress(done: int) -> None:
                pct = min(100.0, 100.0 * done / total)
                if pct - last[0] >= 10.0 or (pct >= 100.0 > last[0]):
                    last[0] = pct
                    event = AncProgress(
                        job_id=job.job_id,
                        percent=round(pct, 1),
                        processed_s=round(done / rate, 3),
                        duration_s=round(duration, 3),
                    )
                    sent.append(asyncio.run_coroutine_threadsafe(self._publish(event), loop))

            def classify(samples: Any) -> dict[str, Any]:
                c = self.classifier.classify(samples, rate)
                return {
                    "noise_type": c.label,
                    "confidence": round(c.confidence, 4),
                    "top_class": c.top_class,
                    "probabilities": dict(sorted(c.probabilities.items(), key=lambda kv: -kv[1])),
                    "emergency": c.emergency,
                    "windows": c.windows,
                }

            out_path = tmp / "output.wav"
            try:
                result = await asyncio.to_thread(
                    batch.run,
                    spec,
                    primary,
                    reference,
                    rate,
                    out_path,
                    progress,
                    classify if job.classify else None,
                )
            finally:
                if sent:
                    await asyncio.gather(*(asyncio.wrap_future(f) for f in sent), return_exceptions=True)
            done = AncProcessCompleted(
                job_id=job.job_id,
                output_key=job.output_key,
                sample_rate=rate,
                samples=result["samples"],
                algorithm=spec.algorithm,
                metrics=result["metrics"],
                classification=result["classification"],
            )
            await storage.put_file(job.output_key, out_path, "audio/wav")
        await storage.put(_sidecar(job.output_key), done.model_dump_json().encode(), "application/json")
        log.info("anc.job_done", job_id=job.job_id, samples=result["samples"], algorithm=spec.algorithm)
        return done


def _sidecar(output_key: str) -> str:
    return output_key.rsplit(".", 1)[0] + ".json"


def _suffix(key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    return "." + name.rsplit(".", 1)[1] if "." in name else ""


def to_pcm(samples: np.ndarray) -> bytes:
    """float samples -> float32 little-endian bytes."""
    return np.asarray(samples, dtype="<f4").tobytes()
