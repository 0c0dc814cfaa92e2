"""Event bodies in the Supabase Database Webhook shape: {type, table, schema, record, old_record}.

The envelope is validated first, then the record against the model of the table it names.
Functions take only identifiers from a record and re-read the row: the body is never trusted
for state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.domain import JobStatus

RecordT = TypeVar("RecordT", bound=BaseModel)


class InvalidEvent(ValueError):
    """The body is not an event this function handles."""


@dataclass(frozen=True)
class SignedEvent:
    """An event whose signature the door verified: its webhook-id (the carrier's name for the
    outbox event, `evt_<id>`) and its body."""

    message_id: str
    body: bytes


class Envelope(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    type: Literal["INSERT", "UPDATE", "DELETE"]
    table: str
    schema_name: str = Field(alias="schema")
    record: dict[str, Any] | None
    old_record: dict[str, Any] | None = None


class Record(BaseModel):
    """The fields of a row a function reads (an identifier); the rest of the record is ignored."""

    model_config = ConfigDict(extra="ignore")


class StorageObjectRecord(Record):
    id: UUID
    bucket_id: str
    name: str


class JobRecord(Record):
    id: UUID
    video_id: UUID
    status: JobStatus


class WebhookDeliveryRecord(Record):
    id: UUID
    message_id: str


def _parse(body: bytes, schema: str, table: str) -> dict[str, Any]:
    try:
        envelope = Envelope.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidEvent(_first_error(exc)) from None
    if (envelope.schema_name, envelope.table) != (schema, table):
        raise InvalidEvent(f"expected an event for {schema}.{table}, got {envelope.schema_name}.{envelope.table}")
    if envelope.type == "DELETE" or envelope.record is None:
        raise InvalidEvent("the event carries no record")
    return envelope.record


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "body"
    return f"{where}: {err['msg']}"


def _parse_as(body: bytes, schema: str, table: str, model: type[RecordT]) -> RecordT:
    record = _parse(body, schema, table)
    try:
        return model.model_validate(record)
    except ValidationError as exc:
        raise InvalidEvent("record." + _first_error(exc)) from None


def parse_storage_object_event(body: bytes) -> StorageObjectRecord:
    return _parse_as(body, "storage", "objects", StorageObjectRecord)


def parse_job_event(body: bytes) -> JobRecord:
    return _parse_as(body, "public", "processing_jobs", JobRecord)


def parse_webhook_delivery_event(body: bytes) -> WebhookDeliveryRecord:
    return _parse_as(body, "public", "webhook_deliveries", WebhookDeliveryRecord)
