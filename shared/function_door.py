"""The HTTP door every function shares: size limit, signature (401), replay (409), envelope
(400), one use case with the function's dependencies passed in, and a status code that tells the
sender whether to retry (4xx: no, 5xx: yes).

A replay is a signed message whose webhook-id was handled already. The dispatcher resending an
event after a lost acknowledgement looks the same and gets the same 409, which it takes as done."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import flask

from shared.config import settings_for
from shared.domain import Busy, LeaseLost, NotFound, NothingToDo, TransientError, WebhookCancelled
from shared.events import InvalidEvent, SignedEvent
from shared.logs import get_logger
from shared.ports import Services
from shared.services import services_for
from shared.signing import InvalidSignature, verify
from shared.usecases.outcome import Outcome

log = get_logger("door")

Reply = tuple[dict[str, Any], int]
Handler = Callable[[Services[Any], SignedEvent], Outcome]


def serve(request: flask.Request, function: str, handle: Handler) -> Reply:
    started = time.monotonic()
    reply = _serve(request, function, handle)
    body, status = reply
    log.info(
        "%s answered %s",
        function,
        status,
        extra={
            "function": function,
            "event_id": request.headers.get("webhook-id"),
            "status_code": status,
            "outcome": body.get("outcome") or body.get("error"),
            "job_id": body.get("job_id"),
            "duration_ms": int((time.monotonic() - started) * 1000),
        },
    )
    return reply


def _serve(request: flask.Request, function: str, handle: Handler) -> Reply:
    body = _signed_body(request, function)
    if isinstance(body, tuple):
        return body
    message_id = request.headers.get("webhook-id", "")
    try:
        svc = services_for(function)
        if svc.db.receipt_exists(message_id):
            return {"error": "replayed", "detail": f"event {message_id} was handled already"}, 409
        outcome = handle(svc, SignedEvent(message_id, body))
        svc.db.record_receipt(message_id, function)
    except Exception as exc:  # every failure becomes an answer, never a traceback
        return _answer_to(exc, function)
    reply: dict[str, Any] = {"outcome": outcome.result}
    if outcome.job_id:
        reply["job_id"] = str(outcome.job_id)
    if outcome.detail:
        reply["detail"] = outcome.detail
    return reply, 200


def _signed_body(request: flask.Request, function: str) -> bytes | Reply:
    """The body of a POST within the size limit, UTF-8, signed with the event secret; else the refusal."""
    settings = settings_for(function)
    if request.method != "POST":
        return {"error": "method_not_allowed"}, 405
    if settings.event_secret is None:
        log.error("VIDPIPE_EVENT_SECRET is not set: refusing every event", extra={"function": function})
        return {"error": "not_configured"}, 503
    if (request.content_length or 0) > settings.max_event_bytes:
        return {"error": "payload_too_large"}, 413
    body = request.stream.read(settings.max_event_bytes + 1)
    if len(body) > settings.max_event_bytes:
        return {"error": "payload_too_large"}, 413
    try:
        body.decode("utf-8")
        verify(settings.event_secret.get_secret_value(), body, dict(request.headers))
    except UnicodeDecodeError:
        return {"error": "invalid_event", "detail": "the body is not UTF-8 text"}, 400
    except InvalidSignature as exc:
        return {"error": "invalid_signature", "detail": str(exc)}, 401
    return body


# What the sender should do about each failure: 4xx do not resend, 409 someone else has it,
# 503 try again later. A duplicate or late event is done already.
ANSWERS: tuple[tuple[type[Exception], int, str], ...] = (
    (InvalidEvent, 400, "invalid_event"),
    (WebhookCancelled, 200, "cancelled"),
    (NothingToDo, 200, "duplicate"),
    (NotFound, 404, "not_found"),
    (Busy, 409, "busy"),
    (LeaseLost, 409, "busy"),
)


def _answer_to(exc: Exception, function: str) -> Reply:
    for kind, status, name in ANSWERS:
        if isinstance(exc, kind):
            return ({"outcome": name} if status == 200 else {"error": name}) | {"detail": str(exc)}, status
    if isinstance(exc, TransientError):  # infrastructure trouble, not a bug: no traceback
        log.warning("transient failure: %s", exc, extra={"function": function})
        return {"error": "temporarily_unavailable"}, 503
    log.error("unhandled error", exc_info=exc, extra={"function": function})
    return {"error": "internal_error"}, 500
