"""notify: deliver job events to their owner's webhook endpoints, one attempt per event.

The database writes a message for each job event (video.ingested, video.processed, video.ready,
video.failed) and one delivery per subscribed endpoint, each with an outbox event, in the
transaction of the status change. This function claims one attempt of a delivery through the
event that carries it, answers its carrier (202), and then sends the signed attempt and records it
together with what follows: done, the next attempt on the retry schedule (Retry-After honoured,
jitter added), or failed once the schedule is spent. Each attempt is its own event, and no carrier
waits for a customer's endpoint, so a slow endpoint holds up only its own deliveries. A sender
that stops mid-send leaves its claim to run out; the sweeper counts the attempt and sends again.
"""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from uuid import UUID

from shared.config import NotifySettings, WebhookSettings
from shared.domain import WebhookDeliveryStatus
from shared.events import SignedEvent, parse_webhook_delivery_event
from shared.logs import get_logger
from shared.models import PostAnswer, WebhookSend
from shared.ports import Services, given
from shared.usecases.outcome import Accepted, Outcome, Result

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
    settings: WebhookSettings, attempt: int, answer: PostAnswer, now: datetime, rng: random.Random | None = None
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


def claim_seconds(settings: WebhookSettings) -> int:
    """How long an attempt stays claimed: the send (bounded by the wall clock) with room to
    record it, so a live send is never taken for a dead one and sent twice."""
    return math.ceil(settings.webhook_timeout_seconds) + 30


def accept(svc: Services[NotifySettings], delivery_id: UUID, message_id: str) -> Accepted:
    """One attempt of the delivery, carried by the event the carrier sent as `message_id`, claimed;
    `finish` sends and records it. WebhookDeferred when the database scheduled it for later."""
    settings = svc.settings
    send = svc.db.claim_webhook_delivery(
        delivery_id, message_id, claim_seconds(settings), settings.webhook_owner_concurrency
    )
    return Accepted(lambda: send_attempt(svc, send), delivery_id=send.delivery_id)


def send_attempt(svc: Services[NotifySettings], send: WebhookSend) -> Outcome:
    """The claimed attempt sent, and recorded with what follows it."""
    settings = svc.settings
    body = json.dumps(send.body, separators=(",", ":"))
    sent = given(svc.webhooks, "a webhook sender").send(send.url, send.secret, send.message_id, body)
    now = datetime.now(tz=UTC)
    retry_at = None if sent.ok else next_attempt_at(settings, send.attempt, sent, now)
    state = svc.db.record_webhook_attempt(send.delivery_id, send.claim, sent, retry_at)
    log.info(
        "webhook %s",
        state.status,
        extra={
            "event_id": send.message_id,
            "status_code": sent.status_code,
            "attempt": send.attempt,
            "duration_ms": sent.latency_ms,
            "outcome": state.status,
        },
    )
    if state.claim is not None and state.claim != send.claim:
        return Outcome("duplicate", None, "recorded; the delivery was claimed again while this attempt was sent")
    result: Result = "done" if sent.ok else "retrying" if state.status == WebhookDeliveryStatus.PENDING else "failed"
    return Outcome(result, None, sent.error or "")


def accept_event(svc: Services[NotifySettings], event: SignedEvent) -> Accepted:
    return accept(svc, parse_webhook_delivery_event(event.body).id, event.message_id)
