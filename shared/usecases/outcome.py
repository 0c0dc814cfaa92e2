"""What a use case reports back to its function's HTTP door."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

Result = Literal["done", "rejected", "failed", "retrying", "deferred", "duplicate", "ignored"]


@dataclass(frozen=True)
class Outcome:
    result: Result
    job_id: UUID | None = None
    detail: str = ""


@dataclass(frozen=True)
class Accepted:
    """An event's work, claimed (a step under its lease, a webhook attempt under its claim), that
    goes on after the answer: `finish` does it and records its result."""

    finish: Callable[[], Outcome]
    job_id: UUID | None = None
    delivery_id: UUID | None = None

    @property
    def subject(self) -> dict[str, str]:
        """What the answer names."""
        named = {"job_id": self.job_id, "delivery_id": self.delivery_id}
        return {key: str(value) for key, value in named.items() if value is not None}
