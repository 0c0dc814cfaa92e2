"""Calling a hosted, OpenAI-compatible API (chat completions, audio transcriptions) the one way:
a bearer key, a timeout, 408/409/429/5xx tried again after the server's Retry-After (capped),
every other answer final. Failures become a ProviderError carrying two texts: one for the log,
where a provider's own words are kept with the key and anything key-shaped redacted (providers
quote a refused key back, whole, cut short or starred out), and a fixed sentence for the
owner's document, which never holds a provider's words."""

from __future__ import annotations

import re
import time
from typing import Any

import requests

RETRYABLE = {408, 409, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 10.0
# Key- and token-shaped: sk-…, gsk_…, xai-…, key-… (masked or not), bearer tokens, JWT-like
# dotted strings, and any unbroken run of 24 or more key characters.
KEY_SHAPED = re.compile(
    r"(?i)\b(?:sk|pk|rk|gsk|xai|key|api[-_]?key|tok|token)[-_][\w*.\-]{2,}"
    r"|bearer\s+\S+"
    r"|\b[\w\-]{10,}\.[\w\-]{10,}\.[\w\-]{10,}\b"
    r"|[\w*+/=\-]{24,}"
)


class ProviderError(Exception):
    """No usable answer. str(): why, for the log; `public`: a fixed sentence for the document."""

    def __init__(self, message: str, public: str) -> None:
        super().__init__(message)
        self.public = public


def redact(text: str, secret: str | None = None) -> str:
    if secret:
        text = text.replace(secret, "[key]")
    return KEY_SHAPED.sub("[key]", text)


def post(
    session: requests.Session, url: str, *, api_key: str | None, timeout: float, attempts: int, **request: Any
) -> requests.Response:
    """The 200 answer to a POST (`request`: json=…, or data=… and files=…), or ProviderError."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    attempts = max(1, attempts)
    for attempt in range(1, attempts + 1):
        try:
            response = session.post(url, headers=headers, timeout=timeout, **request)
        except requests.Timeout:
            error, public, wait = f"no answer within {timeout:g} s", "the API did not answer in time", 1.0
        except requests.RequestException as exc:
            error, public, wait = f"the request failed ({type(exc).__name__})", "the API could not be reached", 1.0
        else:
            if response.status_code == 200:
                return response
            error = redact(f"HTTP {response.status_code}: {error_message(response)}", api_key)
            public = f"the API answered HTTP {response.status_code}"
            if response.status_code not in RETRYABLE:
                raise ProviderError(error, public)
            wait = retry_after(response)
        if attempt < attempts:
            time.sleep(wait)
    raise ProviderError(f"{error} (after {attempts} attempts)", public)


def error_message(response: requests.Response) -> str:
    """The API's `{"error": {"message": …}}`, or the start of whatever body came back."""
    try:
        payload = response.json()
        message = payload["error"]["message"] if isinstance(payload.get("error"), dict) else payload["error"]
    except (ValueError, KeyError, TypeError, AttributeError):
        message = response.text
    return " ".join(str(message).split())[:200] or response.reason or "no message"


def retry_after(response: requests.Response) -> float:
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(response.headers.get("Retry-After", "1"))))
    except ValueError:
        return 1.0
