"""The body every customer endpoint receives, as a model and a JSON Schema for consumers.

The database writes it (public.webhook_payload); this model is its contract: tests validate the
bodies the database writes against it, and `make types` turns the schema into TypeScript."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.domain import JobStatus, JobStep, Reason, WebhookEventType

SCHEMA_FILE = Path(__file__).with_name("webhook_payload.schema.json")


class Closed(BaseModel):
    """A part of the contract: a field it does not name is an error, not a surprise."""

    model_config = ConfigDict(extra="forbid")


class WebhookLinks(Closed):
    """Paths under the project's URL where the owner reads more (PostgREST, with their token)."""

    job: str
    metadata: str
    artifacts: str


class WebhookProgress(Closed):
    """How far the job is when the event happened: the running step's stage and how much of how
    much (in `unit`, seconds of the video), or `ready` at 100."""

    stage: str  # packaging | encoding | transcribing | ready
    percent: int
    done: float | None = None
    total: float | None = None
    unit: str | None = None


class WebhookData(Closed):
    job_id: UUID
    video_id: UUID
    status: JobStatus
    reason: Reason | None = None  # a failed job's reason code
    message: str | None = None  # a failed job's sentence about its failure
    failed_step: JobStep | None = None
    progress: WebhookProgress | None = None  # while a step runs (video.playable), and at ready
    links: WebhookLinks


class WebhookPayload(Closed):
    """Standard Webhooks' shape: the event type, when it happened, and its data."""

    type: WebhookEventType
    timestamp: datetime
    data: WebhookData


def json_schema() -> dict[str, Any]:
    """The payload's JSON Schema, kept in the repo as SCHEMA_FILE (`vidpipe schema` rewrites it)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://vidpipe.dev/schemas/webhook-payload.v1.json",
        **WebhookPayload.model_json_schema(mode="serialization"),
    }
