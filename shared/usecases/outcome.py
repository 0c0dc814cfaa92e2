"""What a use case reports back to its function's HTTP door."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

Result = Literal["done", "rejected", "failed", "retrying", "deferred", "duplicate", "ignored"]


@dataclass(frozen=True)
class Outcome:
    result: Result
    job_id: UUID | None = None
    detail: str = ""
