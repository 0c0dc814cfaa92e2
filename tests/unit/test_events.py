import json

import pytest

from shared.domain import JobStatus
from shared.events import InvalidEvent, parse_job_event, parse_storage_object_event
from tests.conftest import load_event


def body(event: dict) -> bytes:
    return json.dumps(event).encode()


def test_storage_event_in_supabase_shape_parses():
    record = parse_storage_object_event(body(load_event("storage_object_insert.json")))
    assert str(record.id) == "6f1c2b4e-8f5a-4d3e-9c1a-2b7d9e0f1a23"
    assert record.bucket_id == "uploads"


def test_job_event_parses():
    record = parse_job_event(body(load_event("job_queued.json")))
    assert record.status is JobStatus.QUEUED


def test_event_for_another_table_is_refused():
    with pytest.raises(InvalidEvent, match=r"expected an event for public.processing_jobs"):
        parse_job_event(body(load_event("storage_object_insert.json")))


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda e: e.pop("record"), "record"),
        (lambda e: e.update(type="TRUNCATE"), "type"),
        (lambda e: e["record"].update(id="not-a-uuid"), "record.id"),
        (lambda e: e["record"].pop("bucket_id"), "record.bucket_id"),
        (lambda e: e.update(type="DELETE"), "no record"),
    ],
)
def test_malformed_storage_events_are_refused(mutate, message):
    event = load_event("storage_object_insert.json")
    mutate(event)
    with pytest.raises(InvalidEvent, match=message):
        parse_storage_object_event(body(event))


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b'{"type": "INSERT"}'])
def test_garbage_is_refused(raw):
    with pytest.raises(InvalidEvent):
        parse_storage_object_event(raw)
