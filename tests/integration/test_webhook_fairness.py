"""No customer endpoint can hold up anyone else: one send at a time per endpoint and a few per
owner, the rest waiting their turn without spending attempts; every attempt recorded, even one
sent under a claim that ran out; limits on what an owner registers; one lock order, so deleting
an endpoint while its deliveries are recorded cannot deadlock. On the real schema."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.integration.test_state_machine import USER, new_job, sqlstate_of

pytestmark = pytest.mark.integration


def endpoint(conn: Any, n: int = 0) -> Any:
    return conn.execute(
        "select id from create_webhook_endpoint(%s, '{video.ingested}', null, %s)", (f"https://h{n}.example/", USER)
    ).fetchone()["id"]


def open_deliveries(conn: Any) -> list[Any]:
    return [r["id"] for r in conn.execute("select id from webhook_deliveries order by created_at, id")]


def newest_event(conn: Any, delivery: Any) -> Any:
    """The delivery's newest outbox event still open: what its carrier sends notify next."""
    return conn.execute(
        "select id, event_message_id(id) as message_id, available_at, attempts from event_outbox "
        "where subject_kind = 'webhook_delivery' and subject_id = %s and delivered_at is null "
        "order by id desc limit 1",
        (delivery,),
    ).fetchone()


def claim(conn: Any, delivery: Any, owner_limit: int = 4) -> Any:
    """notify's claim of an attempt, through the delivery's newest event."""
    message_id = newest_event(conn, delivery)["message_id"]
    return conn.execute(
        "select * from claim_webhook_delivery(%s, %s, 45, %s)", (delivery, message_id, owner_limit)
    ).fetchone()


def sending_until(conn: Any, delivery: Any) -> Any:
    return conn.execute(
        "select webhook_sending_until(d, now()) as t from webhook_deliveries d where id = %s", (delivery,)
    ).fetchone()["t"]


def waiting_event(conn: Any, delivery: Any) -> Any:
    """The delivery's event that has not been handed out yet."""
    return conn.execute(
        "select available_at, attempts from event_outbox where target = 'notify' and delivered_at is null "
        "and attempts = 0 and subject_kind = 'webhook_delivery' and subject_id = %s order by id desc limit 1",
        (delivery,),
    ).fetchone()


def record(conn: Any, delivery: Any, claim: str, status: int = 204, retry_at: Any = None) -> Any:
    return conn.execute(
        "select * from record_webhook_attempt(%s, %s, %s, null, 10, '', %s)", (delivery, claim, status, retry_at)
    ).fetchone()


def test_one_send_at_a_time_per_endpoint_the_next_waits_and_is_woken(conn):
    endpoint(conn)
    new_job(conn), new_job(conn)
    first, second = open_deliveries(conn)
    sending = claim(conn, first)
    assert sending["claim"] and sending["deferred_until"] is None
    waits = claim(conn, second)
    assert waits["claim"] is None and waits["url"] is None  # nothing to send
    assert waits["deferred_until"] == sending_until(conn, first)  # the end of the first send's claim
    (state,) = conn.execute("select status, attempts from webhook_deliveries where id = %s", (second,))
    assert (state["status"], state["attempts"]) == ("pending", 0)  # waiting spends no attempt
    assert waiting_event(conn, second)["available_at"] == waits["deferred_until"]
    record(conn, first, sending["claim"])
    woken = waiting_event(conn, second)
    assert woken["available_at"] <= conn.execute("select now() as t").fetchone()["t"]  # its turn, at once
    assert claim(conn, second)["claim"] is not None


def test_an_owner_sends_to_at_most_the_limit_at_once(conn):
    for n in range(3):
        endpoint(conn, n)
    new_job(conn)
    a, b, c = open_deliveries(conn)
    la, lb = claim(conn, a, owner_limit=2)["claim"], claim(conn, b, owner_limit=2)["claim"]
    assert la and lb
    assert claim(conn, c, owner_limit=2)["deferred_until"] is not None
    record(conn, b, lb, status=500, retry_at=None)  # failed for good; a slot is free
    assert waiting_event(conn, c)["available_at"] <= conn.execute("select now() as t").fetchone()["t"]
    assert claim(conn, c, owner_limit=2)["claim"] is not None


def test_a_waiting_delivery_is_not_sent_before_its_retry_is_due(conn):
    endpoint(conn)
    new_job(conn)
    (d,) = open_deliveries(conn)
    sent = claim(conn, d)["claim"]
    record(conn, d, sent, status=503, retry_at="2999-01-01T00:00:00Z")
    # A stray or woken event for it is a duplicate: the retry's own event is due then.
    stray = conn.execute(
        "select event_message_id(min(id)) as m from event_outbox where subject_id = %s", (d,)
    ).fetchone()["m"]
    assert sqlstate_of(conn, "select * from claim_webhook_delivery(%s, %s, 45)", (d, stray)) == "VP410"


def test_an_attempt_sent_after_its_claim_ran_out_is_recorded_but_decides_nothing(conn):
    endpoint(conn)
    new_job(conn)
    (d,) = open_deliveries(conn)
    late = claim(conn, d)["claim"]
    # The claim ran out (the sender looked dead), and the carrier sent the event again.
    conn.execute("update webhook_deliveries set sending_until = now() - interval '1 s' where id = %s", (d,))
    conn.execute(
        "update event_outbox set available_at = now() + interval '60 s', attempts = attempts + 1 where id = %s",
        (newest_event(conn, d)["id"],),
    )
    current = claim(conn, d)["claim"]
    assert current != late
    stale = record(conn, d, late, status=204)
    assert stale["status"] == "sending" and f"{stale['sending_event']}/{stale['sending_round']}" == current
    done = record(conn, d, current, status=204)
    assert done["status"] == "delivered" and done["attempts"] == 1
    attempts = conn.execute(
        "select attempt, status_code, error from webhook_attempts where delivery_id = %s order by id", (d,)
    ).fetchall()
    assert [(a["attempt"], a["status_code"], a["error"]) for a in attempts] == [
        (1, 204, "sent after its claim ran out"),
        (1, 204, None),
    ]


def test_an_owner_registers_at_most_16_endpoints_with_short_descriptions(conn):
    for n in range(16):
        endpoint(conn, n)
    one_more = "select * from create_webhook_endpoint('https://x.example/', null, null, %s)"
    assert sqlstate_of(conn, one_more, (USER,)) == "54000"
    conn.execute("delete from webhook_endpoints where url = 'https://h0.example/'")
    long = "x" * 501
    assert (
        sqlstate_of(conn, "select * from create_webhook_endpoint('https://x.example/', null, %s, %s)", (long, USER))
        == "23514"
    )
    conn.execute("select * from create_webhook_endpoint('https://x.example/', null, %s, %s)", ("x" * 500, USER))


def test_deleting_an_endpoint_while_its_attempt_is_recorded_cannot_deadlock(conn, db_url):
    """The delete locks the endpoint, then its deliveries; recording must take them in that order
    too. Before, recording locked the delivery first and then waited for the endpoint (its
    attempt row references it), while the delete waited for the delivery: a deadlock."""
    ep = endpoint(conn)
    new_job(conn)
    (d,) = open_deliveries(conn)
    sent = claim(conn, d)["claim"]
    errors: list[str] = []
    with psycopg.connect(db_url, row_factory=dict_row) as deleter:
        deleter.execute("select id from webhook_endpoints where id = %s for update", (ep,))  # a delete, begun

        def record_in_background() -> None:
            with psycopg.connect(db_url, autocommit=True) as recorder:
                try:
                    recorder.execute("select record_webhook_attempt(%s, %s, 204, null, 10, '', null)", (d, sent))
                except psycopg.Error as exc:
                    errors.append(exc.sqlstate or "")

        recorder = threading.Thread(target=record_in_background)
        recorder.start()
        recorder.join(1.5)  # it waits for the endpoint's lock (holding nothing, after the fix)
        try:
            deleter.execute("delete from webhook_endpoints where id = %s", (ep,))
            deleter.commit()
        except psycopg.Error as exc:
            errors.append(exc.sqlstate or "")
        recorder.join(30)
    assert "40P01" not in errors  # no deadlock
    assert errors == ["VP412"]  # the delivery went with its endpoint; the recorder is told so
    assert conn.execute("select count(*) as n from webhook_endpoints").fetchone()["n"] == 0


def stopped_after_answering(conn: Any, delivery: Any) -> None:
    """notify claimed an attempt and answered its carrier (which settles the event), then stopped."""
    assert claim(conn, delivery)["claim"]
    conn.execute("select ack_outbox(%s)", (newest_event(conn, delivery)["id"],))


def swept(conn: Any, seconds_later: int) -> list[Any]:
    return conn.execute(
        "select subject_id, action from sweep(now() + make_interval(secs => %s)) where action like 'webhook%%'",
        (seconds_later,),
    ).fetchall()


def test_a_sender_that_stops_after_answering_is_counted_and_its_delivery_sent_again(conn):
    endpoint(conn)
    new_job(conn)
    (d,) = open_deliveries(conn)
    stopped_after_answering(conn, d)
    assert swept(conn, 40) == []  # its claim (45 s) still runs: it may be sending
    assert swept(conn, 46) == [{"subject_id": d, "action": "webhook_resent"}]
    row = conn.execute("select * from webhook_deliveries where id = %s", (d,)).fetchone()
    assert (row["status"], row["attempts"], row["sending_until"]) == ("pending", 1, None)
    assert row["last_error"] == "the sender stopped before it recorded an answer"
    (attempt,) = conn.execute("select * from webhook_attempts where delivery_id = %s", (d,)).fetchall()
    assert (attempt["attempt"], attempt["status_code"], attempt["error"]) == (1, None, row["last_error"])
    assert newest_event(conn, d)["attempts"] == 0  # a new event, due at once
    assert swept(conn, 100) == []  # an event is on its way: nothing more to rescue


def test_a_delivery_whose_senders_keep_stopping_fails_once_the_carriers_attempts_are_spent(conn):
    endpoint(conn)
    new_job(conn)
    (d,) = open_deliveries(conn)
    spent = conn.execute("select max_attempts from delivery_settings").fetchone()["max_attempts"]
    conn.execute("update webhook_deliveries set attempts = %s where id = %s", (spent - 1, d))
    stopped_after_answering(conn, d)
    assert swept(conn, 46) == [{"subject_id": d, "action": "webhook_failed"}]
    row = conn.execute("select * from webhook_deliveries where id = %s", (d,)).fetchone()
    assert (row["status"], row["attempts"]) == ("failed", spent) and row["finished_at"] is not None
    assert newest_event(conn, d) is None
