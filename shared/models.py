"""Rows the functions read, as typed values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.domain import JobStatus, JobStep, LeaseLost, Reason, WebhookDeliveryStatus


class Row(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class StorageObject(Row):
    id: UUID
    bucket_id: str
    name: str
    owner: UUID | None = None
    metadata: dict[str, Any] | None = None

    @property
    def declared_size(self) -> int | None:
        size = (self.metadata or {}).get("size")
        return int(size) if isinstance(size, int | float | str) and str(size).isdigit() else None

    @property
    def declared_content_type(self) -> str | None:
        value = (self.metadata or {}).get("mimetype")
        return str(value) if value else None


class Job(Row):
    id: UUID
    video_id: UUID
    owner_id: UUID | None
    status: JobStatus
    attempts: int
    max_attempts: int
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    run_after: datetime
    reason_code: Reason | None = None
    last_error: str | None = None
    failed_step: JobStep | None = None
    retries: int = 0
    retry_requested_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None

    @property
    def claim(self) -> str:
        """The token of the claim this row came from (lease_owner): renewals and completions present
        it, so no other run, even in the same process, can complete this one's work."""
        if self.lease_owner is None:
            raise LeaseLost(f"job {self.id} is not held by any run")
        return self.lease_owner


class Video(Row):
    id: UUID
    object_id: UUID
    owner_id: UUID | None
    bucket: str
    path: str
    size_bytes: int | None = None
    content_type: str | None = None
    probe: dict[str, Any] | None = None
    analysis: dict[str, Any] | None = None
    created_at: datetime

    @property
    def derived_folder(self) -> str:
        """Where the files derived from this video go: under the owner's folder, like the upload."""
        return f"{self.owner_id or 'unowned'}/{self.id}"


class Artifact(Row):
    kind: str
    bucket: str
    path: str
    bytes: int
    content_type: str
    details: dict[str, Any] = {}


class WebhookSend(Row):
    """One webhook delivery claimed for one attempt: where to, signed with what, and the body."""

    delivery_id: UUID
    message_id: str
    url: str
    secret: str
    body: dict[str, Any]
    attempt: int  # this attempt's number, from 1
    claim: str  # the claim of the event carrying it, which record_webhook_attempt takes back


class WebhookDelivery(Row):
    """One message on its way to one endpoint (public.webhook_deliveries)."""

    id: UUID
    status: WebhookDeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None = None
    last_error: str | None = None
    sending_event: int | None = None  # the outbox event whose attempt is in flight
    sending_round: int | None = None  # ... and which of the carrier's sends of it

    @property
    def claim(self) -> str | None:
        """The claim of the attempt in flight, in claim_webhook_delivery's form."""
        return None if self.sending_event is None else f"{self.sending_event}/{self.sending_round}"


class UploadInfo(Row):
    """What ingest records about an upload, accepted or rejected."""

    object_id: UUID
    owner_id: UUID | None
    bucket: str
    path: str
    size_bytes: int | None
    content_type: str | None


@dataclass(frozen=True)
class PostAnswer:
    """The answer to one signed POST (to a function or a customer's endpoint): status and body,
    or the error that stood for them."""

    status_code: int | None
    error: str | None
    latency_ms: int
    body: str = ""
    retry_after: str | None = None  # the endpoint's Retry-After header, as sent
    refused: bool = False  # never sent: the URL leads where we do not call, and always will

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
