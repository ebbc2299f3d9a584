"""The ANC product's lifecycle and flows: files (synchronous under ``MAX_PROCESS_S``, batch jobs
over events above), stream sessions, and the caller's totals.

The DSP and the classifier run in the anc service, reached over gRPC
(:class:`~services.gateway.clients.anc.AncClient`). Inputs are validated first
(:mod:`.inputs`, and the parameters through ``ResolveParams``), so bad input is rejected
before anything is stored; sessions and metrics rows are written only after the work
succeeded (batch jobs: the session is written when the job is queued, its metrics when it
completes). Every session has an ``owner``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated, Any

import numpy as np
from earshot.anc.v1 import anc_pb2
from fastapi import Depends
from starlette.requests import HTTPConnection

from services.common import audio, db
from services.common.events import ANC_REQUESTS, AncProcessRequested
from services.common.logging import get_logger
from services.gateway.clients.anc import AncClient
from services.gateway.products.anc.consumers import BATCH_KIND, INPUT_PREFIX, BatchResults
from services.gateway.products.anc.inputs import Saved, check_channels, check_long_inputs, form_params
from services.gateway.products.anc.models import AncSession
from services.gateway.products.anc.repository import AncRepository, metric_row
from services.gateway.products.anc.schemas import classification_json, metrics_json, params_dict
from services.gateway.products.anc.stream import LiveStream
from services.gateway.shared.consumers import ConsumerTable
from services.gateway.shared.openapi import answers
from services.gateway.shared.product import GatewayContext, Product
from services.gateway.shared.timefmt import utc_timestamp

__all__ = ["OUTPUT_PREFIX", "URL_EXPIRY", "AncDep", "AncProduct"]

log = get_logger("earshot.gateway.anc")

OUTPUT_PREFIX = "anc/outputs"
URL_EXPIRY = timedelta(hours=1)


class AncProduct(Product):
    """The ANC product on one replica: records, the anc client, the batch-result consumer."""

    name = "anc"
    publishes = (ANC_REQUESTS,)

    def __init__(self, ctx: GatewayContext) -> None:
        super().__init__(ctx)
        self.repo = AncRepository(ctx.sessions)
        self.batch = BatchResults(self.repo, ctx.runtime.storage, ctx.jobs)
        self.live: set[LiveStream] = set()
        """Streams running on this replica (either transport); closed at stop."""

    @property
    def client(self) -> AncClient:
        """The anc service's client."""
        return self.ctx.clients.anc

    async def stop(self) -> None:
        """Finish every live stream (final metrics stored, sessions closed) before the clients close."""
        for stream in list(self.live):
            try:
                await stream.finish()
            except Exception as exc:  # keep closing the others
                log.warning("anc.stream_close_failed", session_id=stream.session_id, error=str(exc))
        self.live.clear()

    def consumers(self) -> Sequence[ConsumerTable]:
        """Batch results (group ``gateway-anc``)."""
        return self.batch.tables()

    async def resolve(self, params: anc_pb2.FilterParams, rate: int) -> anc_pb2.ResolveParamsResponse:
        """The anc service's defaults and range checks. Raises ApiError 400 "Invalid parameters"."""
        return await self.client.resolve_params(params, rate)

    async def process_file(
        self,
        owner: str,
        primary: np.ndarray,
        reference: np.ndarray | None,
        rate: int,
        values: dict[str, Any],
        classify: bool,
    ) -> dict[str, Any]:
        """Cancel the noise of a short recording; store the output WAV, the session and its metrics.

        Raises:
            ApiError: 400 invalid parameters / channel mismatch / audio refused; 503 anc service down.
        """
        rt = self.runtime
        params = form_params(values)
        resolved = await self.resolve(params, rate)
        check_channels(resolved, reference is not None)
        reply = await self.client.process(
            anc_pb2.ProcessRequest(
                primary=primary.astype("<f4").tobytes(),
                reference=b"" if reference is None else reference.astype("<f4").tobytes(),
                sample_rate=rate,
                params=resolved.params,
                classify=classify,
            )
        )
        output = np.frombuffer(reply.output, dtype="<f4")
        session_id = str(uuid.uuid4())
        key = f"{OUTPUT_PREFIX}/{session_id}.wav"
        metrics = metrics_json(reply.metrics)
        classification = (
            classification_json(reply.classification) if reply.HasField("classification") else None
        )
        await rt.storage.put(key, audio.wav_bytes(output, rate), "audio/wav")
        try:
            await self.repo.add(
                AncSession(
                    id=session_id,
                    owner=owner,
                    kind="file",
                    status="completed",
                    algorithm=reply.algorithm,
                    params=params_dict(reply.params),
                    sample_rate=rate,
                    samples=int(output.size),
                    output_key=key,
                    noise_class=classification["noise_type"] if classification else None,
                    emergency=bool(classification and classification["emergency"]),
                    ended_at=db.utcnow(),
                ),
                metric_row(session_id, "final", metrics, classification),
            )
        except Exception:
            await rt.storage.delete(key)  # nothing stored half way
            raise
        url = await rt.storage.presigned_get_url(key, URL_EXPIRY)
        return {
            "session_id": session_id,
            "status": "completed",
            "algorithm": reply.algorithm,
            "params": params_dict(reply.params),
            "sample_rate": rate,
            "duration_s": round(output.size / rate, 3),
            "output": {"key": key, "url": url, "format": "wav", "channels": 1},
            "metrics": metrics,
            "classification": classification,
            "timestamp": utc_timestamp(),
        }

    async def submit_batch(
        self, owner: str, saved: Saved, values: dict[str, Any], classify: bool
    ) -> dict[str, Any]:
        """Validate a long recording like a short one (without decoding it whole), store it,
        record a ``queued`` session, its ``anc_batch`` job and ``AncProcessRequested`` in one
        transaction (the request goes out through the outbox; the job's lease is swept).

        Returns:
            The 202 body (without ``status_url``, which the route adds).
        Raises:
            ApiError: 400 as for short files; nothing is left stored on any error.
        """
        rt = self.runtime
        rate, samples = await check_long_inputs(saved)
        params = form_params(values)
        resolved = await self.resolve(params, rate)
        has_reference = len(saved) == 2 or saved[0][2].channels == 2
        check_channels(resolved, has_reference)
        session_id = str(uuid.uuid4())
        keys = {name: f"{INPUT_PREFIX}/{session_id}/{name}{path.suffix}" for name, path, _ in saved}
        output_key = f"{OUTPUT_PREFIX}/{session_id}.wav"
        p = resolved.params
        stored: list[str] = []
        try:
            for name, path, _ in saved:
                await rt.storage.put_file(keys[name], path, "application/octet-stream")
                stored.append(keys[name])
            request = AncProcessRequested(
                job_id=session_id,
                primary_key=keys.get("audio") or keys["primary"],
                reference_key=keys.get("reference"),
                output_key=output_key,
                sample_rate=rate,
                params={
                    "algorithm": p.algorithm,
                    "taps": p.taps,
                    "mu": p.mu,
                    "block_size": p.block_size,
                    "delay": p.delay,
                    "unconstrained": p.unconstrained,
                },
                classify=classify,
            )
            # the session, its job (lease) and the request commit together (transactional outbox)
            async with self.ctx.durable.outbox.transaction() as session:
                session.add(
                    AncSession(
                        id=session_id,
                        owner=owner,
                        kind="file",
                        status="queued",
                        algorithm=p.algorithm,
                        params=params_dict(p),
                        sample_rate=rate,
                        samples=samples,
                        progress=0.0,
                    )
                )
                await self.ctx.jobs.submit(
                    session, session_id, BATCH_KIND, request, objects=[f"{INPUT_PREFIX}/{session_id}/"]
                )
        except BaseException:
            for key in stored:  # nothing stored half way
                await rt.storage.delete(key)
            raise
        log.info("anc.batch_submitted", session_id=session_id, samples=samples, algorithm=p.algorithm)
        return {
            "session_id": session_id,
            "job_id": session_id,
            "status": "queued",
            "algorithm": p.algorithm,
            "params": params_dict(p),
            "sample_rate": rate,
            "duration_s": round(samples / rate, 3),
            "timestamp": utc_timestamp(),
        }

    async def open_stream(
        self, owner: str, body: dict[str, Any], rate: int
    ) -> tuple[str, anc_pb2.ResolveParamsResponse]:
        """Record an ``open`` stream session with resolved parameters; returns its id and the parameters.

        Raises:
            ApiError: 400 invalid parameters.
        """
        resolved = await self.resolve(form_params(body), rate)
        session_id = str(uuid.uuid4())
        await self.repo.add(
            AncSession(
                id=session_id,
                owner=owner,
                kind="stream",
                status="open",
                algorithm=resolved.params.algorithm,
                params=params_dict(resolved.params),
                sample_rate=resolved.sample_rate,
                samples=0,
            )
        )
        return session_id, resolved

    async def delete_session(self, row: AncSession) -> None:
        """Delete a session, its metrics (cascade), its output and any batch inputs."""
        await self.repo.delete(row.id)
        storage = self.runtime.storage
        if row.output_key:
            await storage.delete(row.output_key)
        await self.batch.delete_inputs(row.id)

    async def summary(self, owner: str) -> dict[str, Any]:
        """Totals over an owner's sessions: counts, attenuation, audio processed, emergencies."""
        sessions, finals = await self.repo.owner_totals(owner)
        algorithm_of = {x.id: x.algorithm for x in sessions}
        by_algorithm: dict[str, list[float]] = {}
        for f in finals:
            by_algorithm.setdefault(algorithm_of.get(f.session_id, "?"), []).append(f.attenuation_db)
        atts = [f.attenuation_db for f in finals]
        noise: dict[str, int] = {}
        for x in sessions:
            if x.noise_class:
                noise[x.noise_class] = noise.get(x.noise_class, 0) + 1
        return {
            "total_sessions": len(sessions),
            "file_sessions": sum(1 for x in sessions if x.kind == "file"),
            "stream_sessions": sum(1 for x in sessions if x.kind == "stream"),
            "active_streams": sum(1 for x in sessions if x.status == "active"),
            "audio_processed_s": round(sum(x.samples / x.sample_rate for x in sessions if x.sample_rate), 3),
            "mean_attenuation_db": round(float(np.mean(atts)), 2) if atts else None,
            "best_attenuation_db": round(float(np.max(atts)), 2) if atts else None,
            "emergencies": sum(1 for x in sessions if x.emergency),
            "noise_types": noise,
            "by_algorithm": {
                k: {"sessions": len(v), "mean_attenuation_db": round(float(np.mean(v)), 2)}
                for k, v in sorted(by_algorithm.items())
            },
            "timestamp": utc_timestamp(),
        }


@answers(503, 504)  # its database, storage or services may be unavailable
async def anc_product(conn: HTTPConnection) -> AncProduct:
    """Dependency: this replica's :class:`AncProduct`."""
    product: AncProduct = conn.app.state.products[AncProduct.name]
    return product


AncDep = Annotated[AncProduct, Depends(anc_product)]
