"""The gateway's side of ANC batch jobs: consumer group ``gateway-anc`` on
``earshot.anc.events`` updates the sessions (progress, completion with the output key and
the final metrics, failure with its reason) and deletes the job's input objects. The job's
``jobs`` row (kind ``anc_batch``, its lease) ends in the same transaction as the session."""

from __future__ import annotations

from collections.abc import Sequence

from services.common import db
from services.common.events import ANC_EVENTS, AncProcessCompleted, AncProcessFailed, AncProgress
from services.common.storage import ObjectStorage
from services.gateway.products.anc.models import AncSession
from services.gateway.products.anc.repository import AncRepository, metric_row
from services.gateway.shared.consumers import ConsumerTable, On
from services.gateway.shared.jobs import JobRepository

__all__ = ["BATCH_GROUP", "BATCH_KIND", "INPUT_PREFIX", "BatchResults"]

BATCH_GROUP = "gateway-anc"
"""Consumer group of the gateway on ``earshot.anc.events`` (one member handles each event)."""

INPUT_PREFIX = "anc/inputs"

BATCH_KIND = "anc_batch"
"""Kind of a batch job's ``jobs`` row (its lease policy: ``shared/durable.py``)."""


class BatchResults:
    """Typed handlers of the anc service's batch events.

    Args:
        repo: the ANC records.
        storage: object storage (outputs nobody wants and spent inputs are deleted).
        jobs: the ``jobs`` rows (each batch job's lease ends with its session).
    """

    def __init__(self, repo: AncRepository, storage: ObjectStorage, jobs: JobRepository) -> None:
        self.repo, self.storage, self.jobs = repo, storage, jobs

    def tables(self) -> Sequence[ConsumerTable]:
        """Group ``gateway-anc``: progress, completion, failure."""
        return (
            ConsumerTable(
                BATCH_GROUP,
                (
                    On(ANC_EVENTS, AncProgress, self.on_progress),
                    On(ANC_EVENTS, AncProcessCompleted, self.on_completed),
                    On(ANC_EVENTS, AncProcessFailed, self.on_failed),
                ),
            ),
        )

    async def on_progress(self, prog: AncProgress) -> None:
        """Record a queued/processing job's progress (percent, never backwards)."""
        async with self.repo.sessions() as s, s.begin():
            row = await s.get(AncSession, prog.job_id)
            if row is not None and row.status in ("queued", "processing"):
                row.status = "processing"
                row.progress = max(row.progress or 0.0, prog.percent)

    async def on_completed(self, done: AncProcessCompleted) -> None:
        """Complete the session with its output and final metrics; the output of a deleted or
        already failed session is removed."""
        async with self.repo.sessions() as s, s.begin():
            row = await s.get(AncSession, done.job_id)
            if row is None or row.status == "failed":
                # nobody wants it any more: the session is gone, or it already failed (e.g. its
                # lease ran out before this late completion arrived)
                await self.storage.delete(done.output_key)
                await self.storage.delete(done.output_key.rsplit(".", 1)[0] + ".json")
            elif row.status in ("queued", "processing"):
                c = done.classification
                row.status = "completed"
                row.progress = 100.0
                row.output_key = done.output_key
                row.samples = done.samples
                row.noise_class = c["noise_type"] if c else None
                row.emergency = bool(c and c.get("emergency"))
                row.ended_at = db.utcnow()
                s.add(metric_row(done.job_id, "final", done.metrics, c))
            spent = await self.jobs.end(s, done.job_id, "succeeded")
        await self.jobs.delete_objects(spent)
        await self.delete_inputs(done.job_id)

    async def on_failed(self, failed: AncProcessFailed) -> None:
        """Fail the session with the job's code and reason."""
        async with self.repo.sessions() as s, s.begin():
            row = await s.get(AncSession, failed.job_id)
            if row is not None and row.status in ("queued", "processing"):
                row.status = "failed"
                row.error = failed.error[:64]
                row.error_details = failed.details[:500]
                row.ended_at = db.utcnow()
            spent = await self.jobs.end(s, failed.job_id, "failed", failed.error)
        await self.jobs.delete_objects(spent)
        await self.delete_inputs(failed.job_id)

    async def delete_inputs(self, job_id: str) -> None:
        """Remove a job's stored input files."""
        for info in await self.storage.list(f"{INPUT_PREFIX}/{job_id}/"):
            await self.storage.delete(info.key)
