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
    """A step claimed under its lease, whose work goes on after the answer: `finish` does it and
    records its result."""

    job_id: UUID
    finish: Callable[[], Outcome]
