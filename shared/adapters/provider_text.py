"""What a hosted API says back, made safe for a log: providers quote a refused key back, whole,
cut short or starred out ("Incorrect API key provided: sk-k***abcd"), so the key itself and
anything shaped like a key or a token is replaced. Such text goes to logs only, never into a
tenant's document (the adapters give that a fixed sentence)."""

from __future__ import annotations

import re

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
