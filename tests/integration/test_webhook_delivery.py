"""Customer webhooks through the real notify function: every job event becomes a message, each
endpoint gets its own delivery with its own retry schedule, every attempt is logged, 410 turns
an endpoint off, Retry-After is honoured, exhaustion and replays are recorded, unsafe URLs are
refused before any connection. Each test runs twice: notify connected directly, and through
pgbouncer in transaction mode."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from shared.function_door import drain
from tests.integration.doors import USER, direct_and_pooled, event_for, job_row, post, redeploy, upload
from tests.receiver import Endpoint

pytestmark = pytest.mark.integration
__all__ = ["direct_and_pooled"]  # the fixture: each test direct and through the pooler


@pytest.fixture
def local_urls(env, monkeypatch) -> Iterator[None]:
    redeploy(monkeypatch, webhook_allowed_networks='["127.0.0.0/8"]')  # endpoints listen on 127.0.0.1
    yield


def register(conn: Any, url: str, events: list[str] | None = None) -> dict[str, Any]:
    row: dict[str, Any] = conn.execute(
        "select * from create_webhook_endpoint(%s, %s, null, %s)", (url, events, USER)
    ).fetchone()
    return row


def pipeline(conn: Any, env: Any, clip: Any) -> dict[str, Any]:
    upload(conn, env, clip)
    for step in ("ingest", "process", "generate_metadata"):
        post(step, event_for(conn, step))
    job = job_row(conn)
    assert job is not None and job["status"] == "ready"
    return job


def due_deliveries(conn: Any) -> list[tuple[int, str, dict[str, Any]]]:
    """Delivery events in the outbox, oldest first, claimed as a carrier claims them (the
    dispatcher's part, done by hand here) as if the time of each had come: a delivery is not sent
    before its next attempt is due. Each as (event id, webhook-id, payload)."""
    conn.execute("update webhook_deliveries set next_attempt_at = now() where next_attempt_at > now()")
    rows = conn.execute(
        "update event_outbox set attempts = attempts + 1, available_at = now() + interval '60 s' "
        "where target = 'notify' and delivered_at is null and subject_kind = 'webhook_delivery' "
        "returning id, event_message_id(id) as message_id, payload"
    ).fetchall()
    return sorted((r["id"], r["message_id"], r["payload"]) for r in rows)


def deliver_all(conn: Any) -> list[Any]:
    """Each due delivery's event to notify, acknowledged once it is answered."""
    answers = []
    for event, message_id, payload in due_deliveries(conn):
        answers.append(post("notify", payload, message_id=message_id))
        conn.execute("select ack_outbox(%s)", (event,))
    return answers


def deliveries(conn: Any, endpoint_id: Any) -> list[dict[str, Any]]:
    return conn.execute(
        "select d.*, m.event_type from webhook_deliveries d join webhook_messages m "
        "on m.id = d.message_id where d.endpoint_id = %s order by d.created_at, m.event_type",
        (endpoint_id,),
    ).fetchall()


def test_each_job_event_reaches_each_endpoint_once_signed_and_logged(env, conn, clips, local_urls):
    healthy, picky = Endpoint(), Endpoint()
    try:
        every = register(conn, healthy.url)
        ready_only = register(conn, picky.url, ["video.ready"])
        job = pipeline(conn, env, clips["plain"])
        answers = deliver_all(conn)  # each claimed and answered, then sent (post waits for the sends)
        assert [a.status_code for a in answers] == [202] * 5
        assert all(a.get_json()["outcome"] == "accepted" and a.get_json()["delivery_id"] for a in answers)
        events = healthy.verified(every["secret"])  # as the customer's library verifies them
        assert [e["type"] for e in events] == ["video.ingested", "video.playable", "video.processed", "video.ready"]
        assert [e["type"] for e in picky.verified(ready_only["secret"])] == ["video.ready"]
        ready = events[3]["data"]
        assert ready == {
            "job_id": str(job["id"]),
            "video_id": str(job["video_id"]),
            "status": "ready",
            "progress": {"stage": "ready", "percent": 100},
            "links": {
                "job": f"/rest/v1/processing_jobs?id=eq.{job['id']}",
                "metadata": f"/rest/v1/video_metadata?video_id=eq.{job['video_id']}",
                "artifacts": f"/rest/v1/video_artifacts?video_id=eq.{job['video_id']}",
            },
        }
        ids = [h["webhook-id"] for h, _ in healthy.requests]
        assert ids[3] == f"msg_{job['id'].hex}_video_ready" and len(set(ids)) == 4
        assert picky.requests[0][0]["webhook-id"] == ids[3]  # one message, the same id everywhere
        assert {d["status"] for d in deliveries(conn, every["id"])} == {"delivered"}
        attempts = conn.execute("select * from webhook_attempts order by id").fetchall()
        assert len(attempts) == 5 and all(a["status_code"] == 204 and a["attempt"] == 1 for a in attempts)
        assert all(a["latency_ms"] >= 0 and a["delivery_id"] is not None for a in attempts)
        # the same event again is a replay, and another event for a delivered delivery a duplicate: nothing sent
        first = conn.execute(
            "select payload, event_message_id(id) as message_id from event_outbox "
            "where subject_kind = 'webhook_delivery' order by id limit 1"
        ).fetchone()
        assert post("notify", first["payload"], message_id=first["message_id"]).status_code == 409
        stray = conn.execute(
            "select event_message_id(enqueue_event('notify', 'UPDATE', 'webhook_delivery', to_jsonb(d), null, "
            "now(), now())) as message_id from webhook_deliveries d where d.id = %s",
            (first["payload"]["record"]["id"],),
        ).fetchone()["message_id"]
        assert post("notify", first["payload"], message_id=stray).get_json()["outcome"] == "duplicate"
        assert len(healthy.requests) == 4
    finally:
        healthy.close()
        picky.close()


def test_a_failing_endpoint_is_retried_on_schedule_without_holding_up_the_other(env, conn, clips, local_urls):
    healthy, flaky = Endpoint(), Endpoint((500, {}), (503, {}))
    try:
        ok = register(conn, healthy.url, ["video.ready"])
        bad = register(conn, flaky.url, ["video.ready"])
        pipeline(conn, env, clips["plain"])
        before = datetime.now().astimezone()
        deliver_all(conn)
        assert len(healthy.requests) == 1  # delivered at once, whatever the other does
        assert [d["status"] for d in deliveries(conn, ok["id"])] == ["delivered"]
        (d,) = deliveries(conn, bad["id"])
        assert (d["status"], d["attempts"], d["last_status_code"]) == ("pending", 1, 500)
        wait = (d["next_attempt_at"] - before).total_seconds()
        assert 5 * 0.9 - 0.1 <= wait <= 5 * 1.1 + 1.0  # the schedule's first step, 5 s ± 10 %
        (retry,) = conn.execute(
            "select available_at from event_outbox where delivered_at is null and subject_kind = 'webhook_delivery'"
        ).fetchall()
        assert retry["available_at"] == d["next_attempt_at"]
        deliver_all(conn)  # 503: the second step, 5 min
        (d,) = deliveries(conn, bad["id"])
        assert d["attempts"] == 2 and 270 <= (d["next_attempt_at"] - before).total_seconds() <= 335
        deliver_all(conn)  # recovered
        (d,) = deliveries(conn, bad["id"])
        assert (d["status"], d["attempts"], d["last_error"]) == ("delivered", 3, None)
        assert len({h["webhook-id"] for h, _ in flaky.requests}) == 1 and len(flaky.requests) == 3
        log = conn.execute(
            "select attempt, status_code, response_body from webhook_attempts where endpoint_id = %s order by id",
            (bad["id"],),
        ).fetchall()
        assert [(a["attempt"], a["status_code"], a["response_body"]) for a in log] == [
            (1, 500, "answer 500"),
            (2, 503, "answer 503"),
            (3, 204, ""),
        ]
    finally:
        healthy.close()
        flaky.close()


def test_retry_after_is_honoured(env, conn, clips, local_urls):
    busy = Endpoint((429, {"Retry-After": "120"}))
    try:
        ep = register(conn, busy.url, ["video.ready"])
        pipeline(conn, env, clips["plain"])
        before = datetime.now().astimezone()
        deliver_all(conn)
        (d,) = deliveries(conn, ep["id"])
        assert d["status"] == "pending" and 119 <= (d["next_attempt_at"] - before).total_seconds() <= 122
    finally:
        busy.close()


def test_410_turns_the_endpoint_off_and_cancels_what_it_still_had(env, conn, clips, local_urls):
    gone = Endpoint((410, {}))
    try:
        ep = register(conn, gone.url)
        pipeline(conn, env, clips["plain"])
        answers = deliver_all(conn)  # video.ingested gets 410; the other three are then cancelled
        assert len(gone.requests) == 1 and [a.get_json()["outcome"] for a in answers] == [
            "accepted",
            "duplicate",
            "duplicate",
            "duplicate",
        ]
        endpoint = conn.execute("select * from webhook_endpoints where id = %s", (ep["id"],)).fetchone()
        assert not endpoint["enabled"] and endpoint["disabled_reason"].startswith("HTTP 410 Gone")
        assert [d["status"] for d in deliveries(conn, ep["id"])] == ["failed", "cancelled", "cancelled", "cancelled"]
    finally:
        gone.close()


def test_an_exhausted_schedule_fails_the_delivery_and_a_replay_sends_it_again(
    env, conn, clips, local_urls, monkeypatch
):
    redeploy(monkeypatch, webhook_retry_schedule="[0, 0]")
    down = Endpoint((500, {}), (502, {}), (500, {}))
    try:
        ep = register(conn, down.url, ["video.ready"])
        pipeline(conn, env, clips["plain"])
        for _ in range(3):
            deliver_all(conn)
        (d,) = deliveries(conn, ep["id"])
        assert (d["status"], d["attempts"], d["last_error"]) == ("failed", 3, "HTTP 500")
        assert d["finished_at"] is not None and due_deliveries(conn) == []
        conn.execute("select replay_webhook_delivery(%s)", (d["id"],))
        deliver_all(conn)
        (d,) = deliveries(conn, ep["id"])
        assert (d["status"], d["replays"]) == ("delivered", 1)
        assert len({h["webhook-id"] for h, _ in down.requests}) == 1 and len(down.requests) == 4
    finally:
        down.close()


def test_unsafe_urls_are_refused_at_send_time_and_recorded(env, conn, clips):
    """Without the local-development setting: loopback, metadata and private names are never called."""
    listener = Endpoint()
    try:
        eps = [
            register(conn, url, ["video.ready"])
            for url in (listener.url, "http://169.254.169.254/latest/meta-data/", "http://10.0.0.8/hooks")
        ]
        pipeline(conn, env, clips["plain"])
        deliver_all(conn)
        assert listener.requests == []
        for ep, address in zip(eps, ("127.0.0.1", "169.254.169.254", "10.0.0.8"), strict=True):
            (d,) = deliveries(conn, ep["id"])
            assert d["status"] == "failed" and d["last_status_code"] is None
            assert d["last_error"].startswith(f"refused: {address} resolves to {address}")
    finally:
        listener.close()


def test_a_delivery_being_sent_elsewhere_waits_for_that_send(env, conn, clips, local_urls):
    ep_server = Endpoint()
    try:
        register(conn, ep_server.url, ["video.ready"])
        pipeline(conn, env, clips["plain"])
        ((event, message_id, payload),) = due_deliveries(conn)
        delivery = payload["record"]["id"]
        # Another notify holds the delivery through another event for it (a replay's, say).
        other = conn.execute(
            "select enqueue_event('notify', 'UPDATE', 'webhook_delivery', to_jsonb(d), null, now(), now()) as id "
            "from webhook_deliveries d where d.id = %s",
            (delivery,),
        ).fetchone()["id"]
        conn.execute("select * from claim_webhook_delivery(%s, event_message_id(%s), 60)", (delivery, other))
        answer = post("notify", payload, message_id=message_id)
        assert answer.status_code == 200 and answer.get_json()["outcome"] == "deferred"  # done with this event
        conn.execute("select ack_outbox(%s)", (event,))
        (again,) = conn.execute(  # nothing is dropped: a new event, due when the other send's claim ends
            "select available_at, attempts from event_outbox where delivered_at is null and target = 'notify' "
            "and id <> %s",
            (other,),
        ).fetchall()
        until = conn.execute("select webhook_sending_until(d, now()) as t from webhook_deliveries d").fetchone()["t"]
        assert again["available_at"] == until and again["attempts"] == 0
        # The other sender died before it answered: its claim runs out, and the carrier sends its
        # event again.
        conn.execute("update webhook_deliveries set sending_until = now() - interval '1 s' where id = %s", (delivery,))
        conn.execute("update event_outbox set available_at = now() - interval '1 s' where id = %s", (other,))
        assert [a.get_json()["outcome"] for a in deliver_all(conn)] == ["accepted", "duplicate"]
        assert len(ep_server.requests) == 1
    finally:
        ep_server.close()


def test_notify_answers_before_the_endpoint_does_and_a_full_instance_turns_events_away(
    env, conn, clips, local_urls, monkeypatch
):
    """No carrier waits for a customer's endpoint: pg_net would hold its whole batch for it."""
    redeploy(monkeypatch, step_slots="1")
    slow = Endpoint(hold=True)
    try:
        ep = register(conn, slow.url)
        pipeline(conn, env, clips["plain"])
        (first, second, *_) = due_deliveries(conn)
        answer = post("notify", first[2], message_id=first[1], follow=False)
        assert slow.arrived.acquire(timeout=10)  # the send is under way, the endpoint not answering
        assert answer.status_code == 202 and answer.get_json()["outcome"] == "accepted"
        turned_away = post("notify", second[2], message_id=second[1], follow=False)
        assert turned_away.status_code == 429 and turned_away.get_json()["error"] == "busy"
        settled = conn.execute(
            "select settle_outbox_attempt(%s, 429, %s, 8) as a", (second[0], turned_away.get_data(as_text=True))
        ).fetchone()["a"]
        assert settled == "busy"  # sent again shortly; no attempt spent
        assert conn.execute("select attempts from event_outbox where id = %s", (second[0],)).fetchone()["attempts"] == 0
        slow.released.set()
        assert drain(timeout=30)
        assert [d["status"] for d in deliveries(conn, ep["id"])] == ["delivered", "pending", "pending", "pending"]
        assert len(slow.requests) == 1
    finally:
        slow.close()  # lets a held request go
        drain(timeout=30)
