"""notify: tell the owner's registered endpoints that their video is ready or failed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from shared.domain import JobStatus, JobStep
from shared.events import parse_job_event
from shared.logs import get_logger
from shared.models import Job
from shared.services import Services, get_services
from shared.usecases.leased_step import run_leased_step
from shared.usecases.outcome import Outcome
from shared.webhooks import post_to_endpoint

log = get_logger("notify")


def event_type_of(job: Job) -> str:
    return "video.ready" if job.status == JobStatus.READY else "video.failed"


def message_id(job: Job, event_type: str) -> str:
    """Stable for one announcement, so a receiver can drop repeats; a requeued job's next
    announcement is a new message."""
    base = f"msg_{job.id.hex}_{event_type.replace('.', '_')}"
    return f"{base}_r{job.retries}" if job.retries else base


def payload_for(job: Job, event_type: str, now: datetime) -> dict[str, Any]:
    data: dict[str, Any] = {"job_id": str(job.id), "video_id": str(job.video_id), "status": job.status.value}
    if job.status == JobStatus.FAILED:
        data.update(reason=job.reason_code, message=job.last_error,
                    failed_step=job.failed_step.value if job.failed_step else None)
    return {"type": event_type, "timestamp": now.isoformat(), "data": data}


def notify_job(svc: Services, job: Job) -> Job:
    event_type = event_type_of(job)
    endpoints = svc.db.list_endpoints(job.owner_id) if job.owner_id else []
    body = json.dumps(payload_for(job, event_type, datetime.now(tz=UTC)), separators=(",", ":"))
    msg_id = message_id(job, event_type)
    # A notify that died after some deliveries is run again: those endpoints have the message.
    done = svc.db.endpoints_delivered(msg_id)
    for endpoint in endpoints:
        if event_type not in endpoint.event_types or endpoint.id in done:
            continue
        delivery = post_to_endpoint(endpoint.url, endpoint.secret, msg_id, body, svc.settings.webhook_timeout_seconds,
                                    svc.settings.webhook_allow_private_urls)
        svc.db.record_delivery(endpoint.id, job.id, endpoint.owner_id, event_type, msg_id,
                               delivery.status_code, delivery.error, delivery.latency_ms)
        log.info("webhook delivered" if delivery.ok else "webhook failed",
                 extra={"job_id": str(job.id), "status_code": delivery.status_code,
                        "outcome": "done" if delivery.ok else "failed", "duration_ms": delivery.latency_ms})
    return svc.db.complete_notify(job.id, svc.worker)


def notify(svc: Services, job_id: UUID) -> Outcome:
    return run_leased_step(svc, job_id, JobStep.NOTIFY, svc.settings.notify_lease_seconds,
                           lambda job: notify_job(svc, job))


def handle_event(body: bytes) -> Outcome:
    return notify(get_services(), parse_job_event(body).id)
