"""Calling a hosted, OpenAI-compatible API (chat completions, audio transcriptions) the one way:
a bearer key, a timeout, 408/409/429/5xx tried again after the server's Retry-After (capped),
every other answer final. Failures become the calling port's ProviderError (shared/domain.py),
carrying two texts: one for the log, where a provider's own words are kept with the key and
anything key-shaped redacted (providers quote a refused key back, whole, cut short or starred
out), and a fixed sentence for the owner's document, which never holds a provider's words."""

from __future__ import annotations

import re
import time
from typing import Any, ClassVar

import requests

from shared.domain import ProviderError
from shared.media.models import MadeBy

RETRYABLE = {408, 409, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 10.0
UNUSABLE = "the answer was not usable"
# Key- and token-shaped: sk-…, gsk_…, xai-…, key-… (masked or not), bearer tokens, JWT-like
# dotted strings, and any unbroken run of 24 or more key characters.
KEY_SHAPED = re.compile(
    r"(?i)\b(?:sk|pk|rk|gsk|xai|key|api[-_]?key|tok|token)[-_][\w*.\-]{2,}"
    r"|bearer\s+\S+"
    r"|\b[\w\-]{10,}\.[\w\-]{10,}\.[\w\-]{10,}\b"
    r"|[\w*+/=\-]{24,}"
)


def redact(text: str, secret: str | None = None) -> str:
    if secret:
        text = text.replace(secret, "[key]")
    return KEY_SHAPED.sub("[key]", text)


class HostedApi:
    """One endpoint of a hosted API, called the one way; failures raise `failure`, the calling
    port's kind of ProviderError."""

    def __init__(
        self,
        session: requests.Session,
        url: str,
        api_key: str | None,
        timeout: float,
        attempts: int,
        failure: type[ProviderError],
    ) -> None:
        self.session = session
        self.url = url
        self.api_key = api_key
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.failure = failure

    def post(self, **request: Any) -> requests.Response:
        """The 200 answer to a POST (`request`: json=…, or data=… and files=…)."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.session.post(self.url, headers=headers, timeout=self.timeout, **request)
            except requests.Timeout:
                error, public, wait = f"no answer within {self.timeout:g} s", "the API did not answer in time", 1.0
            except requests.RequestException as exc:
                error, public, wait = f"the request failed ({type(exc).__name__})", "the API could not be reached", 1.0
            else:
                if response.status_code == 200:
                    return response
                error = redact(f"HTTP {response.status_code}: {error_message(response)}", self.api_key)
                public = f"the API answered HTTP {response.status_code}"
                if response.status_code not in RETRYABLE:
                    raise self.failure(error, public)
                wait = retry_after(response)
            if attempt < self.attempts:
                time.sleep(wait)
        raise self.failure(f"{error} (after {self.attempts} attempts)", public)

    def unusable(self, why: str) -> ProviderError:
        """The failure for an answer of the wrong shape."""
        return self.failure(why, UNUSABLE)


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


class HostedModel:
    """An adapter on one model behind one path of a hosted API (`/chat/completions`…)."""

    path: ClassVar[str]
    failure: ClassVar[type[ProviderError]]
    tool: ClassVar[str]  # what the document says made its part

    def __init__(
        self,
        session: requests.Session,
        base_url: str,
        model: str,
        api_key: str | None,
        timeout_seconds: float,
        attempts: int = 2,
    ) -> None:
        url = base_url.rstrip("/") + self.path
        self._api = HostedApi(session, url, api_key, timeout_seconds, attempts, self.failure)
        self._model = model
        self.made_by = MadeBy(tool=self.tool, version=model)
