"""Standard Webhooks signatures (webhook-id, webhook-timestamp, webhook-signature)."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook


class InvalidSignature(Exception):
    """Missing, malformed, stale or wrong signature headers."""


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign_headers(secret: str, message_id: str, body: str, at: datetime | None = None) -> dict[str, str]:
    at = at or datetime.now(tz=UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
        "content-type": "application/json",
    }


def verify(secret: str, body: bytes, headers: dict[str, str]) -> None:
    try:
        Webhook(secret).verify(body, headers, json_parse=False)
    except Exception as exc:  # the library raises ValueError/binascii errors on malformed headers too
        raise InvalidSignature(str(exc) or type(exc).__name__) from None
