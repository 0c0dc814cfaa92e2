"""notify: deliver job events to their owner's webhook endpoints, one attempt per event.

The database writes a message for each job event (video.ingested, video.processed, video.ready,
video.failed) and one delivery per subscribed endpoint, each with an outbox event, in the
transaction of the status change. This function takes one delivery, sends one signed attempt,
and records it together with what follows: done, the next attempt on the retry schedule
(Retry-After honoured, jitter added), or failed once the schedule is spent. Each attempt is its
own event, so a slow endpoint holds up only its own deliveries.
"""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from uuid import UUID

from shared.config import Settings
from shared.domain import DeliveryDeferred, DeliveryStatus
from shared.events import parse_delivery_event
from shared.logs import get_logger
from shared.models import PostAnswer
from shared.ports import Services
from shared.usecases.outcome import Outcome, Result

log = get_logger("notify")


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - now).total_seconds()) if when.tzinfo else None


def next_attempt_at(
    settings: Settings, attempt: int, answer: PostAnswer, now: datetime, rng: random.Random | None = None
) -> datetime | None:
    """When to try again after failed attempt number `attempt`, or None when the schedule is
    spent or the failure is final (410 Gone, or an address we refuse to call)."""
    schedule = settings.webhook_retry_schedule
    if attempt > len(schedule) or answer.status_code == 410 or answer.refused:
        return None
    jitter = settings.webhook_retry_jitter
    delay = schedule[attempt - 1] * (1 + (rng or random).uniform(-jitter, jitter))
    asked = retry_after_seconds(answer.retry_after, now)
    if asked is not None:  # the endpoint knows when it can take it; within the schedule's longest wait
        delay = max(delay, min(asked, max(schedule)))
    return now + timedelta(seconds=delay)


def lease_seconds(settings: Settings) -> int:
    """A delivery's lease outlasts its send (bounded by the wall clock) with room to record it, so
    a live send is never taken for a dead one and sent twice."""
    return math.ceil(settings.webhook_timeout_seconds) + 30


def deliver(svc: Services, delivery_id: UUID) -> Outcome:
    settings = svc.settings
    try:
        task = svc.db.claim_delivery(
            delivery_id, svc.worker, lease_seconds(settings), settings.webhook_owner_concurrency
        )
    except DeliveryDeferred as exc:  # the database has scheduled it again: this event is done
        log.info("webhook deferred", extra={"event_id": str(delivery_id), "outcome": "deferred"})
        return Outcome("deferred", None, str(exc))
    body = json.dumps(task.body, separators=(",", ":"))
    sent = svc.webhooks.send(task.url, task.secret, task.message_id, body)
    now = datetime.now(tz=UTC)
    retry_at = None if sent.ok else next_attempt_at(settings, task.attempt, sent, now)
    state = svc.db.record_attempt(
        task.delivery_id, task.lease, sent.status_code, sent.error, sent.latency_ms, sent.body, retry_at
    )
    log.info(
        "webhook %s",
        state.status,
        extra={
            "event_id": task.message_id,
            "status_code": sent.status_code,
            "attempt": task.attempt,
            "duration_ms": sent.latency_ms,
            "outcome": state.status,
        },
    )
    if state.lease_owner is not None and state.lease_owner != task.lease:
        return Outcome("duplicate", None, "recorded; the delivery was claimed again while this attempt was sent")
    result: Result = "done" if sent.ok else "retrying" if state.status == DeliveryStatus.PENDING else "failed"
    return Outcome(result, None, sent.error or "")


def handle_event(svc: Services, body: bytes) -> Outcome:
    return deliver(svc, parse_delivery_event(body).id)
