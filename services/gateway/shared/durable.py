"""Durable jobs in the gateway: its outbox relay, the lease policy of each job kind, the sweeper
and the consumer that turns workers' progress events into lease extensions.

The mechanism itself is in ``services/common`` (:mod:`services.common.outbox`,
:mod:`services.common.leases`); this module only configures it for the gateway's ``jobs``
table (docs/jobs.md). Kinds:

=================  =========  =========  ============================================================
kind               lease (s)  attempts   on expiry (after the last attempt)
=================  =========  =========  ============================================================
``anc_batch``      120        3          ``AncProcessFailed(lease_expired)`` -> session failed
``media``          900        2          ``MediaFailed(lease_expired)`` -> photo task failed
``meeting``        1800       3          the meeting FAILED in the sweep's transaction (its hook)
``temperature``    per job    1          failed (the waiting request is gone: nothing to retry for)
``transcription``  per job    1          failed (same: synchronous routes)
=================  =========  =========  ============================================================

Synchronous kinds are recorded without a replayable request: the replica holding the
client's request is the only one that can answer it, and it finishes the job itself (success,
failure or 504). Its lease is the request's timeout plus a margin, so the job only expires
when that replica died; the sweeper then fails it and removes its objects.

Each processing run of a meeting is a ``meeting`` job (``meeting:<meeting id>:<run>``); the
meetings product registers its policy (``EARSHOT_MEETINGS_STALE_AFTER_S`` /
``EARSHOT_MEETINGS_MAX_ATTEMPTS``) and a failure hook (:meth:`DurableJobs.register`) and
extends the run's lease itself at each step and progress (its events carry the meeting id).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from services.common.events import (
    ANC_EVENTS,
    MEDIA_EVENTS,
    TRANSCRIPTION_EVENTS,
    AncProcessFailed,
    AncProgress,
    EventPayload,
    MediaFailed,
    MediaProgress,
    TranscriptionProgress,
)
from services.common.leases import LEASE_EXPIRED, FailureHook, LeasePolicy, Sweeper
from services.common.logging import get_logger
from services.common.outbox import Outbox, OutboxSettings
from services.common.runtime import Runtime
from services.gateway.models import ACTIVE_STATUSES, Job, outbox
from services.gateway.shared.consumers import ConsumerTable, On

__all__ = ["KIND_POLICIES", "LEASE_GROUP", "SYNC_POLICY", "DurableJobs"]

log = get_logger("earshot.gateway.jobs")

LEASE_GROUP = "gateway.leases"
"""Consumer group that extends leases from progress events (one member handles each event)."""

KIND_POLICIES: dict[str, LeasePolicy] = {
    "anc_batch": LeasePolicy(lease_s=120, max_attempts=3),
    "media": LeasePolicy(lease_s=900, max_attempts=2),
}
"""Default policy of each background kind (``EARSHOT_JOB_LEASE_S`` / ``EARSHOT_JOB_MAX_ATTEMPTS``
override the lease length / attempt limit of all of them)."""

SYNC_POLICY = LeasePolicy(lease_s=300, max_attempts=1)
"""Policy of synchronous kinds (``temperature``, ``transcription``); each job's lease is set
from its request's timeout."""

_DETAILS = "the job stopped making progress (worker or process lost) and ran out of attempts"


def _failures() -> dict[str, Callable[[Any], Sequence[EventPayload]]]:
    return {
        "anc_batch": lambda job: [AncProcessFailed(job_id=job.id, error=LEASE_EXPIRED, details=_DETAILS)],
        "media": lambda job: [MediaFailed(job_id=job.id, error=LEASE_EXPIRED, details=_DETAILS)],
    }


class DurableJobs:
    """The gateway's outbox relay and lease sweeper (module docstring).

    Args:
        runtime: the replica's runtime (bus, storage, settings).
        sessions: the gateway's session factory.
    """

    def __init__(self, runtime: Runtime, sessions: Any) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.outbox = Outbox(
            outbox,
            sessions,
            runtime.bus,
            source=runtime.source("gateway"),
            settings=OutboxSettings(poll_s=settings.outbox_poll_s),
        )
        self.policies: dict[str, LeasePolicy] = {}
        self.failure_hooks: dict[str, FailureHook] = {}
        for kind, policy in KIND_POLICIES.items():
            self.policies[kind] = LeasePolicy(
                lease_s=settings.job_lease_s or policy.lease_s,
                max_attempts=settings.job_max_attempts or policy.max_attempts,
                backoff_s=settings.job_backoff_s,
            )
        self.sweeper = Sweeper(
            Job,
            sessions,
            self.outbox,
            runtime.storage,
            policies=self.policies,  # shared: register() changes what the sweeper uses
            default=SYNC_POLICY,
            failure_events=_failures(),
            failure_hooks=self.failure_hooks,  # shared: register() adds to it
            active=ACTIVE_STATUSES,
            interval_s=settings.job_sweep_interval_s,
        )
        self._extend: Callable[[str], Any] | None = None

    def policy(self, kind: str) -> LeasePolicy:
        """The lease policy of ``kind``."""
        return self.policies.get(kind, SYNC_POLICY)

    def register(self, kind: str, policy: LeasePolicy, on_fail: FailureHook | None = None) -> None:
        """Let a product set its kind's policy from its own settings (e.g. the photo product's
        ``EARSHOT_PHOTO_STALE_AFTER_S`` / ``EARSHOT_PHOTO_MAX_ATTEMPTS``); the global
        ``EARSHOT_JOB_LEASE_S`` / ``EARSHOT_JOB_MAX_ATTEMPTS`` still win when set, and the
        backoff is always ``EARSHOT_JOB_BACKOFF_S``. ``on_fail`` (optional) ends the product's
        record in the sweeper's transaction when a job of the kind runs out of attempts
        (:data:`services.common.leases.FailureHook`)."""
        if on_fail is not None:
            self.failure_hooks[kind] = on_fail
        settings = self.runtime.settings
        self.policies[kind] = LeasePolicy(
            lease_s=settings.job_lease_s or policy.lease_s,
            max_attempts=settings.job_max_attempts or policy.max_attempts,
            backoff_s=settings.job_backoff_s,
            backoff_max_s=policy.backoff_max_s,
        )

    def consumers(self, extend: Callable[[str], Any]) -> ConsumerTable:
        """Group ``gateway.leases``: every worker progress event extends its job's lease
        through ``extend(job_id)`` (meeting runs are extended by the meetings product: their
        events carry the meeting id, not the run's job id)."""
        self._extend = extend

        async def on_progress(payload: EventPayload) -> None:
            await extend(payload.job_id)

        return ConsumerTable(
            LEASE_GROUP,
            (
                On(TRANSCRIPTION_EVENTS, TranscriptionProgress, on_progress),
                On(ANC_EVENTS, AncProgress, on_progress),
                On(MEDIA_EVENTS, MediaProgress, on_progress),
            ),
        )

    async def start(self) -> None:
        """Start the relay and the sweeper. On the in-memory bus every active lease ends first:
        the previous process's events and work died with it."""
        if self.runtime.settings.bus_url.startswith("memory://"):
            expired = await self.sweeper.expire_all()
            if expired:
                log.info("jobs.recovering", jobs=expired)
        self.outbox.start()
        self.sweeper.start()

    async def stop(self) -> None:
        """Stop the sweeper and the relay (pending rows go out at the next start)."""
        await self.sweeper.stop()
        await self.outbox.stop()
