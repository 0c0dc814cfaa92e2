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

from shared.config import get_settings
from shared.domain import JobNotFound, LeaseLost, StepBusy, StepNotApplicable, TransientError
from shared.events import InvalidEvent
from shared.logs import get_logger
from shared.ports import Services
from shared.services import services_for
from shared.signing import InvalidSignature, verify
from shared.usecases.outcome import Outcome

log = get_logger("door")

Reply = tuple[dict[str, Any], int]
Handler = Callable[[Services, bytes], Outcome]


def serve(request: flask.Request, function: str, handle: Handler) -> Reply:
    started = time.monotonic()
    reply = _serve(request, function, handle)
    body, status = reply
    log.info("%s answered %s", function, status,
             extra={"function": function, "event_id": request.headers.get("webhook-id"), "status_code": status,
                    "outcome": body.get("outcome") or body.get("error"),
                    "job_id": body.get("job_id"), "duration_ms": int((time.monotonic() - started) * 1000)})
    return reply


def _serve(request: flask.Request, function: str, handle: Handler) -> Reply:
    settings = get_settings()
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
    except UnicodeDecodeError:
        return {"error": "invalid_event", "detail": "the body is not UTF-8 text"}, 400
    try:
        verify(settings.event_secret.get_secret_value(), body, dict(request.headers))
    except InvalidSignature as exc:
        return {"error": "invalid_signature", "detail": str(exc)}, 401
    message_id = request.headers.get("webhook-id", "")
    try:
        svc = services_for(function)
        if svc.db.receipt_exists(message_id):
            return {"error": "replayed", "detail": f"event {message_id} was handled already"}, 409
        outcome = handle(svc, body)
        svc.db.record_receipt(message_id, function)
    except InvalidEvent as exc:
        return {"error": "invalid_event", "detail": str(exc)}, 400
    except StepNotApplicable as exc:
        return {"outcome": "duplicate", "detail": str(exc)}, 200
    except JobNotFound as exc:
        return {"error": "not_found", "detail": str(exc)}, 404
    except (StepBusy, LeaseLost) as exc:
        return {"error": "busy", "detail": str(exc)}, 409
    except TransientError as exc:  # infrastructure trouble, not a bug: no traceback
        log.warning("transient failure: %s", exc, extra={"function": function})
        return {"error": "temporarily_unavailable"}, 503
    except Exception:
        log.exception("unhandled error", extra={"function": function})
        return {"error": "internal_error"}, 500
    reply: dict[str, Any] = {"outcome": outcome.result}
    if outcome.job_id:
        reply["job_id"] = str(outcome.job_id)
    if outcome.detail:
        reply["detail"] = outcome.detail
    return reply, 200
