"""Sending a signed Standard Webhooks request: used by notify for customers' endpoints and by
the dispatcher for events between components."""

from __future__ import annotations

import time
from dataclasses import dataclass

import requests

from shared.signing import sign_headers

MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class Delivery:
    status_code: int | None
    error: str | None
    latency_ms: int
    body: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post_signed(session: requests.Session, url: str, secret: str, message_id: str, body: str,
                timeout: float) -> Delivery:
    """POST body to url, signed; never raises for network trouble, never follows redirects."""
    headers = sign_headers(secret, message_id, body)
    started = time.monotonic()
    try:
        response = session.post(url, data=body.encode(), headers=headers, timeout=timeout,
                                allow_redirects=False)
    except requests.RequestException as exc:
        return Delivery(None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS], _ms(started))
    error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    return Delivery(response.status_code, error, _ms(started), response.text[:MAX_ERROR_CHARS])


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
