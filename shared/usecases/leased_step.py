"""Claim a step under a lease, run it, and record success or failure in the database.

Whatever the step raises ends as a recorded failure with a reason: a PipelineError keeps its
own; anything else is logged with its traceback and recorded as a retryable internal error,
with a sentence that reveals nothing of the internals.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from uuid import UUID

from shared.config import StepSettings
from shared.domain import JobStatus, JobStep, LeaseLost, PipelineError, Reason, TransientError
from shared.logs import get_logger
from shared.models import Job
from shared.ports import Services
from shared.usecases.heartbeat import Heartbeat
from shared.usecases.outcome import Accepted, Outcome, Result

log = get_logger("step")


Work = Callable[[Job, Heartbeat], Job]


def accept_step(svc: Services[StepSettings], job_id: UUID, step: JobStep, work: Work) -> Accepted:
    """Claim the step under its lease; the work is the Accepted's `finish`, done after the answer."""
    job = svc.db.claim_step(job_id, step, svc.worker, svc.settings.lease_seconds)
    return Accepted(lambda: work_on(svc, job, step, work), job_id=job.id)


def work_on(svc: Services[StepSettings], job: Job, step: JobStep, work: Work) -> Outcome:
    """The claimed step's work under a heartbeat, and its result recorded."""
    lease_seconds = svc.settings.lease_seconds
    context = {
        "job_id": str(job.id),
        "video_id": str(job.video_id),
        "step": step.value,
        "attempt": job.attempts,
        "worker": job.claim,
    }
    started = time.monotonic()
    try:
        with Heartbeat(lambda: svc.db.renew_lease(job.id, job.claim, lease_seconds), lease_seconds) as beat:
            work(job, beat)
    except PipelineError as exc:
        return _record_failure(svc, job, step, exc, context, started)
    except LeaseLost:
        # The sweeper gave the step to another run after this one's lease expired: that run records it.
        log.warning("lease lost: another run owns the step now", extra={**context, "outcome": "lease_lost"})
        raise
    except TransientError as exc:
        log.warning("transient failure: %s", exc, extra=context)
        error = PipelineError(
            Reason.INTERNAL_ERROR, "a temporary infrastructure failure interrupted the step", retryable=True
        )
        return _record_failure(svc, job, step, error, context, started)
    except Exception:
        log.exception("step crashed", extra=context)
        error = PipelineError(Reason.INTERNAL_ERROR, "an internal error interrupted the step", retryable=True)
        return _record_failure(svc, job, step, error, context, started)
    log.info("step done", extra={**context, "outcome": "done", "duration_ms": _ms(started)})
    return Outcome("done", job.id)


def _record_failure(
    svc: Services[StepSettings],
    job: Job,
    step: JobStep,
    exc: PipelineError,
    context: Mapping[str, object],
    started: float,
) -> Outcome:
    after = svc.db.fail_step(job.id, step, job.claim, exc.reason, exc.message, exc.retryable)
    outcome: Result = "failed" if after.status == JobStatus.FAILED else "retrying"
    log.warning(
        "step %s: %s",
        outcome,
        exc.message,
        extra={**context, "outcome": outcome, "reason": exc.reason.value, "duration_ms": _ms(started)},
    )
    return Outcome(outcome, job.id, exc.message)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
