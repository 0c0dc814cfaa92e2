"""Malformed, forged, stale, oversized and replayed events: each refused with the right 4xx by
every function, nothing changed in the database, and no traceback in the answer or the log."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import flask
import pytest

from shared.domain import TransientError
from shared.events import SignedEvent
from shared.function_door import Acceptor, drain, serve_step
from shared.ports import Services
from shared.signing import new_secret, sign_headers
from shared.usecases.outcome import Accepted
from shared.usecases.process import accept_event
from tests.integration.doors import SECRET, client, event_for, job_row, post, upload

FUNCTIONS = ["ingest", "process", "generate_metadata", "notify"]
TABLES = [
    "videos",
    "processing_jobs",
    "job_events",
    "event_outbox",
    "video_artifacts",
    "video_metadata",
    "webhook_deliveries",
]


@pytest.fixture
def queued(env, conn, clips):
    """A job that has been ingested and waits for process, with its events in the outbox."""
    upload(conn, env, clips["silent"])
    assert post("ingest", event_for(conn, "ingest")).get_json()["outcome"] == "done"
    return event_for(conn, "process")


def snapshot(conn) -> dict:
    state = {t: conn.execute(f"select count(*) as n from {t}").fetchone()["n"] for t in TABLES}
    state["jobs"] = [
        (r["status"], r["attempts"], r["lease_owner"])
        for r in conn.execute("select * from processing_jobs order by id")
    ]
    return state


def job_event(queued, **changes):
    event = json.loads(json.dumps(queued))
    event["record"].update(changes)
    return event


def malformed(queued) -> list:
    no_id = job_event(queued)
    del no_id["record"]["id"]
    return [
        b"\xff\xfe not utf-8 at all",
        "[1, 2, 3]",
        '{"type": "INSERT"',
        {"type": "INSERT", "table": "processing_jobs", "schema": "public"},  # no record
        {**queued, "type": "TRUNCATE"},  # unknown type
        {**queued, "schema": "auth", "table": "users"},  # another table
        {**queued, "record": [queued["record"]]},  # record of the wrong type
        no_id,
        job_event(queued, id=12345),
        job_event(queued, id="../../etc/passwd"),
        job_event(queued, status="exploded"),
        job_event(queued, video_id=None),
        '{"type": "INSERT", "table": "objects", "schema": "storage", "record": {"id": "\\ud800", '
        '"bucket_id": "uploads", "name": "x"}}',
        {"type": "INSERT", "table": "objects", "schema": "storage", "record": {"id": queued["record"]["id"]}},
        {
            "type": "INSERT",
            "table": "objects",
            "schema": "storage",
            "record": {"id": queued["record"]["id"], "bucket_id": ["uploads"], "name": 7},
        },
    ]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_malformed_bodies_get_400_and_change_nothing(queued, conn, capfd, function):
    before = snapshot(conn)
    for body in malformed(queued):
        response = post(function, body)
        assert response.status_code == 400, (function, body, response.get_data(as_text=True))
        assert response.get_json()["error"] == "invalid_event"
        assert "Traceback" not in response.get_data(as_text=True)
    assert snapshot(conn) == before
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("function", FUNCTIONS)
def test_forged_stale_and_unsigned_events_get_401(queued, conn, function):
    before = snapshot(conn)
    body = json.dumps(queued)
    stale = sign_headers(SECRET, "evt_stale", body, at=datetime.now(tz=UTC) - timedelta(minutes=10))
    future = sign_headers(SECRET, "evt_future", body, at=datetime.now(tz=UTC) + timedelta(minutes=10))
    forged = sign_headers(new_secret(), "evt_forged", body)
    bad_header = {**sign_headers(SECRET, "evt_bad", body), "webhook-signature": "v1,not-base64!!"}
    for headers in (stale, future, forged, bad_header, {"content-type": "application/json"}):
        response = client(function).post("/", data=body, headers=headers)
        assert response.status_code == 401, headers
        assert response.get_json()["error"] == "invalid_signature"
    assert snapshot(conn) == before


@pytest.mark.parametrize("function", FUNCTIONS)
def test_huge_bodies_get_413_before_anything_is_read(queued, conn, function):
    before = snapshot(conn)
    huge = json.dumps({**queued, "padding": "x" * 1_000_000})
    assert post(function, huge).status_code == 413
    assert snapshot(conn) == before


def test_a_replayed_event_gets_409_and_changes_nothing(queued, conn):
    body = json.dumps(queued)
    headers = sign_headers(SECRET, "evt_once", body)
    first = client("process").post("/", data=body, headers=headers)
    assert first.status_code == 202 and first.get_json()["outcome"] == "accepted"
    drain()
    before = snapshot(conn)
    again = client("process").post("/", data=body, headers=headers)  # the same signed request
    assert again.status_code == 409 and again.get_json()["error"] == "replayed"
    assert snapshot(conn) == before


def test_a_new_event_for_work_already_done_is_acknowledged_as_a_duplicate(queued, conn):
    assert post("process", queued).get_json()["outcome"] == "accepted"
    before = snapshot(conn)
    late = post("process", queued)  # a different message for the same step: out of order, 2xx
    assert late.status_code == 200 and late.get_json()["outcome"] == "duplicate"
    assert snapshot(conn) == before


def test_an_event_for_a_job_that_does_not_exist_gets_404(queued, conn):
    before = snapshot(conn)
    response = post("process", job_event(queued, id="00000000-0000-4000-8000-00000000dead"))
    assert response.status_code == 404
    assert snapshot(conn) == before


def door(accept: Acceptor) -> Any:
    """The process function's door in front of the given use case."""
    app = flask.Flask("door")
    app.add_url_rule("/", "door", lambda: serve_step(flask.request, "process", accept), methods=["POST"])
    return app.test_client()


def test_a_failed_handler_leaves_no_receipt_so_the_retry_is_served(queued, conn):
    def unavailable(svc: Services[Any], event: SignedEvent) -> Accepted:
        raise TransientError("database unavailable")

    body = json.dumps(queued)
    assert door(unavailable).post("/", data=body, headers=sign_headers(SECRET, "evt_retry", body)).status_code == 503
    retried = door(accept_event).post("/", data=body, headers=sign_headers(SECRET, "evt_retry", body))
    assert retried.status_code == 202 and retried.get_json()["outcome"] == "accepted"
    assert drain(60) and job_row(conn)["status"] == "processed"


def test_receipts_expire_with_the_signatures_that_could_replay_them(queued, conn):
    assert post("process", queued, message_id="evt_old").status_code == 202
    assert conn.execute("select function from event_receipts where message_id = 'evt_old'").fetchone() == {
        "function": "process"
    }
    conn.execute("select * from sweep(now() + interval '9 minutes')")
    assert conn.execute("select count(*) as n from event_receipts").fetchone()["n"] == 2  # ingest's and ours
    conn.execute("select * from sweep(now() + interval '11 minutes')")
    assert conn.execute("select count(*) as n from event_receipts").fetchone()["n"] == 0


def test_an_event_for_a_later_step_arriving_early_is_acknowledged_and_does_nothing(queued, conn):
    before = snapshot(conn)
    early = post("generate_metadata", queued)  # the job is still queued for process
    assert early.status_code == 200 and early.get_json()["outcome"] == "duplicate"
    assert snapshot(conn) == before


def test_notify_refuses_a_job_event_it_has_no_use_for(queued, conn):
    before = snapshot(conn)
    refused = post("notify", queued)
    assert refused.status_code == 400 and "webhook_deliveries" in refused.get_json()["detail"]
    assert snapshot(conn) == before
