"""The HTTP door every function shares: size limit, signature (401), replay (409), envelope
(400), one use case with the function's dependencies passed in, and a status code that tells the
sender whether to retry (4xx: no, 5xx: yes).

A replay is a signed message whose webhook-id was handled already. The dispatcher resending an
event after a lost acknowledgement looks the same and gets the same 409, which it takes as done.

A step that takes as long as its video (process, generate_metadata), or as long as a customer's
endpoint takes to answer (notify), is not worked on while the carrier waits: pg_net waits for a
whole batch of requests before it sends the next, so one long request would hold up every event
behind it. `serve_step` claims the work (a step under its lease, a webhook attempt under its
claim), answers 202 and works on in this instance (Cloud Run's instance-based billing keeps its CPU after
the answer), renewing the lease, and records the result itself. An instance stopped mid-work stops
renewing; the sweeper gives the work to another run when the lease or claim ends. An instance takes at
most VIDPIPE_STEP_SLOTS steps at once and answers 429 to more, which the carrier sends again
shortly without counting an attempt (by then, to an instance with room)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import flask

from shared.config import settings_for
from shared.domain import (
    Busy,
    LeaseLost,
    NotFound,
    NothingToDo,
    TransientError,
    WebhookCancelled,
    WebhookDeferred,
)
from shared.events import InvalidEvent, SignedEvent
from shared.logs import get_logger
from shared.ports import Services
from shared.services import services_for
from shared.signing import InvalidSignature, verify
from shared.usecases.outcome import Accepted, Outcome

log = get_logger("door")

Reply = tuple[dict[str, Any], int]
Handler = Callable[[Services[Any], SignedEvent], Outcome]
Acceptor = Callable[[Services[Any], SignedEvent], Accepted]
Run = Callable[[Services[Any], SignedEvent], Reply]


def serve(request: flask.Request, function: str, handle: Handler) -> Reply:
    """An event handled while the sender waits: 200 with the outcome."""
    return _logged(request, function, lambda svc, event: _ok(handle(svc, event)))


def serve_step(request: flask.Request, function: str, accept: Acceptor) -> Reply:
    """An event for a long step: claimed, answered 202, worked on after the answer."""

    def run(svc: Services[Any], event: SignedEvent) -> Reply:
        slots = _slots(function, svc.settings.step_slots)
        if not slots.acquire(blocking=False):
            # 429: its carrier sends the event again shortly without counting an attempt.
            return {"error": "busy", "detail": "this instance is working on all the steps it takes"}, 429
        try:
            accepted = accept(svc, event)
        except BaseException:
            slots.release()
            raise
        _work_on(function, accepted, slots)
        return {"outcome": "accepted", **accepted.subject}, 202

    return _logged(request, function, run)


def _logged(request: flask.Request, function: str, run: Run) -> Reply:
    started = time.monotonic()
    reply = _serve(request, function, run)
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


def _serve(request: flask.Request, function: str, run: Run) -> Reply:
    body = _signed_body(request, function)
    if isinstance(body, tuple):
        return body
    message_id = request.headers.get("webhook-id", "")
    try:
        svc = services_for(function)
        if svc.db.receipt_exists(message_id):
            return {"error": "replayed", "detail": f"event {message_id} was handled already"}, 409
        reply = run(svc, SignedEvent(message_id, body))
        if reply[1] < 300:
            svc.db.record_receipt(message_id, function)
    except Exception as exc:  # every failure becomes an answer, never a traceback
        return _answer_to(exc, function)
    return reply


def _ok(outcome: Outcome) -> Reply:
    reply: dict[str, Any] = {"outcome": outcome.result}
    if outcome.job_id:
        reply["job_id"] = str(outcome.job_id)
    if outcome.detail:
        reply["detail"] = outcome.detail
    return reply, 200


# The steps at work after their answers, in this process.
_slot_counts: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_at_work: set[threading.Thread] = set()
_lock = threading.Lock()


def _slots(function: str, count: int) -> threading.BoundedSemaphore:
    with _lock:
        return _slot_counts.setdefault((function, count), threading.BoundedSemaphore(count))


def _work_on(function: str, accepted: Accepted, slots: threading.BoundedSemaphore) -> None:
    def work() -> None:
        try:
            outcome = accepted.finish()  # records its own result, failures included
            log.info("%s %s", function, outcome.result, extra={"function": function, **accepted.subject})
        except LeaseLost:
            pass  # another run holds the step now and records it; the step has logged this
        except Exception:
            log.error("step failed after its answer", exc_info=True, extra={"function": function})
        finally:
            slots.release()
            with _lock:
                _at_work.discard(threading.current_thread())

    name = "-".join([function, *accepted.subject.values()])
    thread = threading.Thread(target=work, name=name, daemon=True)
    with _lock:
        _at_work.add(thread)
    thread.start()


def drain(timeout: float | None = None) -> bool:
    """Wait for the steps this process works on after their answers; whether all have ended.
    For a stop that lets them finish, and for tests that follow a step to its end."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        with _lock:
            running = list(_at_work)
        if not running:
            return True
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return False
        running[0].join(left)


def _signed_body(request: flask.Request, function: str) -> bytes | Reply:
    """The body of a POST within the size limit, UTF-8, signed with the event secret; else the refusal."""
    settings = settings_for(function)
    if request.method != "POST":
        # pg_net follows a redirect as a GET without the body: a GET here means the URL redirects.
        hint = "functions take signed POSTs; a GET usually means the function's URL redirected the POST"
        return {"error": "method_not_allowed", "detail": hint}, 405
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
    (WebhookDeferred, 200, "deferred"),  # the database scheduled it again: this event is done
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
