"""The database delivers outbox events itself, through pg_net: signed in SQL, sent after commit,
answers reconciled by the same rule the dispatcher applies. pg_net is played by the stand-in in
infra/local (its contract as documented and measured) and its worker, over real HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from infra import queries
from infra.dispatcher import Dispatcher
from infra.local.pg_net_worker import PgNetWorker
from infra.local.postgres import apply_sql_file
from infra.local.stack import PG_NET_STANDIN_SQL
from shared.config import Settings
from shared.signing import new_secret
from tests.receiver import Endpoint

pytestmark = pytest.mark.integration

USER = "00000000-0000-4000-8000-000000000001"
SECRET = new_secret()
MAX_ATTEMPTS = 3


@pytest.fixture
def net(db_url: str, conn: psycopg.Connection[dict[str, Any]]) -> Iterator[PgNetWorker]:
    apply_sql_file(db_url, PG_NET_STANDIN_SQL)
    worker = PgNetWorker(db_url)
    yield worker
    worker.close()


def configure(conn: Any, urls: dict[str, str], carrier: str = "pg_net") -> None:
    conn.execute("select configure_delivery(%s, %s, %s, 2000, %s)", (carrier, Jsonb(urls), SECRET, MAX_ATTEMPTS))


def upload(conn: Any) -> Any:
    name = f"{USER}/clip-{time.monotonic_ns()}.mp4"
    return conn.execute(
        "insert into storage.objects (bucket_id, name, owner, metadata) values ('uploads', %s, %s, %s) returning id",
        (name, USER, Jsonb({"size": 10})),
    ).fetchone()["id"]


def answered(conn: Any, worker: PgNetWorker, count: int, timeout: float = 10) -> None:
    """Let the worker send what is queued and wait for `count` answers in net._http_response."""
    deadline = time.monotonic() + timeout
    while conn.execute("select count(*) as n from net._http_response").fetchone()["n"] < count:
        worker.run_once()
        assert time.monotonic() < deadline, "pg_net's answers did not come"
        time.sleep(0.02)


def outbox(conn: Any) -> list[dict[str, Any]]:
    return conn.execute("select * from event_outbox order by id").fetchall()


def later(conn: Any, seconds: int) -> Any:
    return conn.execute("select now() + make_interval(secs => %s) as t", (seconds,)).fetchone()["t"]


# The stand-in keeps pg_net's contract ---------------------------------------------------------------
def test_http_post_queues_the_jsonb_text_as_json_and_only_json(net, conn):
    request = conn.execute("select net.http_post('http://127.0.0.1:9/x', '{\"b\": 1, \"a\": [1, 2]}')").fetchone()
    row = conn.execute("select * from net.http_request_queue where id = %s", (request["http_post"],)).fetchone()
    assert bytes(row["body"]).decode() == '{"a": [1, 2], "b": 1}'  # jsonb's own text: keys reordered, spaced
    assert row["headers"] == {"Content-Type": "application/json"} and row["method"] == "POST"
    with pytest.raises(psycopg.errors.RaiseException, match="application/json"):
        conn.execute("""select net.http_post('http://x/', '{}', '{}', '{"Content-Type": "text/plain"}')""")
    with pytest.raises(psycopg.errors.RaiseException, match="body must not be null"):
        conn.execute("select net.http_post('http://x/', null)")


def queue(conn: Any, url: str, timeout_ms: int = 5000) -> int:
    """A request, queued and committed, as our SQL queues them; its id."""
    return int(
        conn.execute("select net.http_post(%s, '{\"b\": 1}', '{}', '{}', %s) as id", (url, timeout_ms)).fetchone()["id"]
    )


def in_background(work: Any) -> tuple[threading.Thread, list[Any]]:
    done: list[Any] = []
    thread = threading.Thread(target=lambda: done.append(work()), daemon=True)
    thread.start()
    return thread, done


def answers(db_url: str) -> int:
    """The answers another session sees (pg_net writes a batch's in the batch's transaction)."""
    with psycopg.connect(db_url, autocommit=True) as other:
        row = other.execute("select count(*) from net._http_response").fetchone()
    return int(row[0]) if row else 0


def test_a_batch_is_sent_together_and_answered_together_when_its_slowest_request_is(net, conn, db_url):
    slow, fast = Endpoint(hold=True), Endpoint()
    try:
        queue(conn, slow.url), queue(conn, fast.url)
        worker, sent = in_background(net.run_once)
        assert slow.arrived.acquire(timeout=10) and fast.arrived.acquire(timeout=10)  # both at once
        assert answers(db_url) == 0  # the fast answer is in, but not yet written: the slow one holds the batch
        assert sent == []
        slow.released.set()
        worker.join(10)
        assert sent == [2] and answers(db_url) == 2
    finally:
        slow.close()
        fast.close()


def test_the_next_batch_is_taken_only_once_the_whole_batch_is_answered(net, conn, db_url):
    slow, later = Endpoint(hold=True), Endpoint()
    try:
        queue(conn, slow.url)
        worker, sent = in_background(net.run_once)
        assert slow.arrived.acquire(timeout=10)
        waiting = queue(conn, later.url)  # committed while the batch waits on the slow request
        assert sent == []  # the worker is still in its batch
        slow.released.set()
        worker.join(10)
        assert sent == [1] and later.requests == []  # not part of the batch that was running
        assert conn.execute("select id from net.http_request_queue").fetchall() == [{"id": waiting}]
        assert net.run_once() == 1 and len(later.requests) == 1
    finally:
        slow.close()
        later.close()


def test_a_redirected_post_goes_on_as_a_get_without_its_body(net, conn):
    target = Endpoint((302, {"Location": "/moved"}))
    try:
        queue(conn, target.url)
        assert net.run_once() == 1
        assert target.calls == [("POST", "/hooks"), ("GET", "/moved")] and target.requests[1][1] == b""
        answer = conn.execute("select status_code, error_msg from net._http_response").fetchone()
        assert answer == {"status_code": 204, "error_msg": None}  # the GET's answer, as if it were the POST's
    finally:
        target.close()


def test_a_request_without_an_answer_gets_curls_words(net, conn):
    with socket.socket() as hangs_up, socket.socket() as silent:
        for s in (hangs_up, silent):
            s.bind(("127.0.0.1", 0))
            s.listen(8)
        refused = queue(conn, f"http://127.0.0.1:{dead_port()}/")
        nothing = queue(conn, f"http://127.0.0.1:{hangs_up.getsockname()[1]}/")
        timed_out = queue(conn, f"http://127.0.0.1:{silent.getsockname()[1]}/", timeout_ms=300)
        worker, _ = in_background(net.run_once)
        peer, _ = hangs_up.accept()
        peer.recv(65536)
        peer.close()  # the function died mid-request: no status line, nothing
        worker.join(10)
    got = {r["id"]: r for r in conn.execute("select * from net._http_response").fetchall()}
    assert (got[refused]["error_msg"], got[refused]["timed_out"]) == ("Couldn't connect to server", False)
    assert got[nothing]["error_msg"] == "Server returned nothing (no headers, no data)"
    assert got[timed_out]["timed_out"] and got[timed_out]["error_msg"].startswith("Timeout of 300 ms reached. ")
    assert all(r["status_code"] is None for r in got.values())


def test_a_worker_sends_only_for_its_own_database(net, conn, pg_cluster):
    other_url = pg_cluster.create_database(f"other_{time.monotonic_ns()}")
    apply_sql_file(other_url, PG_NET_STANDIN_SQL)
    target = Endpoint()
    try:
        with psycopg.connect(other_url, autocommit=True, row_factory=dict_row) as other:
            queue(other, target.url)
            assert net.run_once() == 0 and target.requests == []  # pg_net.database_name is this one's
            assert other.execute("select count(*) as n from net.http_request_queue").fetchone()["n"] == 1
    finally:
        target.close()


def test_nothing_is_sent_for_a_transaction_that_rolls_back(net, conn, db_url):
    with psycopg.connect(db_url) as other:  # not autocommit: one transaction, rolled back
        other.execute("select net.http_post('http://127.0.0.1:9/x', '{}')")
        assert net.run_once() == 0  # not committed: the worker cannot see it
        other.rollback()
    assert net.run_once() == 0


# Signing and sending -----------------------------------------------------------------------------------
def test_the_sql_signature_verifies_with_the_standard_webhooks_library(conn):
    body = '{"type": "INSERT", "record": {"id": "x"}, "schema": "storage"}'
    signature = conn.execute("select sign_event(%s, 'evt_1', 1764130000, %s) as s", (SECRET, body)).fetchone()["s"]
    headers = {"webhook-id": "evt_1", "webhook-timestamp": "1764130000", "webhook-signature": signature}
    wh = Webhook(SECRET)
    assert signature == wh.sign("evt_1", datetime.fromtimestamp(1764130000, tz=UTC), body)
    with pytest.raises(WebhookVerificationError):
        wh.verify(body.replace("x", "y"), headers)


def test_an_upload_is_sent_at_once_signed_and_acknowledged_by_the_reconciler(net, conn):
    ingest = Endpoint()
    try:
        configure(conn, {"ingest": ingest.url})
        oid = upload(conn)  # the outbox trigger sends it as this statement commits
        answered(conn, net, 1)
        ((headers, body),) = ingest.requests
        event = Webhook(SECRET).verify(body, headers)  # exactly the bytes that were signed
        assert event["record"]["id"] == str(oid) and headers["webhook-id"] == f"evt_{outbox(conn)[0]['id']}"
        assert conn.execute("select reconcile_event_requests() as n").fetchone()["n"] == 1
        (event_row,) = outbox(conn)
        assert event_row["delivered_at"] is not None and event_row["attempts"] == 1
        assert conn.execute("select count(*) as n from event_requests").fetchone()["n"] == 0
    finally:
        ingest.close()


def test_with_the_dispatcher_as_carrier_the_database_sends_nothing(net, conn):
    configure(conn, {"ingest": "http://127.0.0.1:9/"}, carrier="dispatcher")
    upload(conn)
    assert conn.execute("select deliver_due_events() as n").fetchone()["n"] == 0
    assert conn.execute("select count(*) as n from net.http_request_queue").fetchone()["n"] == 0


def test_configure_delivery_refuses_what_cannot_work(conn):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="transcode"):
        conn.execute("select configure_delivery('dispatcher', '{\"transcode\": \"http://x/\"}')")
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="ingest"):
        conn.execute("select configure_delivery('dispatcher', '{\"ingest\": \"ftp://x/\"}')")
    with pytest.raises(psycopg.errors.InvalidParameterValue, match=r"https URL .* process"):  # often a redirect
        conn.execute("select configure_delivery('dispatcher', '{\"process\": \"http://fn.example/\"}')")
    for local in ("http://127.0.0.1:8080/", "http://localhost/", "https://fn.example/"):
        conn.execute("select configure_delivery('dispatcher', %s)", (Jsonb({"process": local}),))
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="pg_net"):  # no pg_net here
        configure(conn, {"ingest": "https://x/"})


# One rule, two carriers ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "detail", "action", "last_error"),
    [
        (200, "", "ack", None),
        (204, "", "ack", None),
        (409, '{"error": "busy"}', "ack", None),
        (302, "", "dead", "HTTP 302: the function's URL redirects; configure_delivery needs its final https URL"),
        (308, "", "dead", "HTTP 308: the function's URL redirects; configure_delivery needs its final https URL"),
        (401, '{"error": "invalid_signature"}', "dead", 'HTTP 401: {"error": "invalid_signature"}'),
        (404, "", "dead", "HTTP 404"),
        (413, "", "dead", "HTTP 413"),
        (408, "", "retry", "HTTP 408"),
        (429, '{"error": "busy"}', "busy", 'HTTP 429: {"error": "busy"}'),
        (503, '{"error": "temporarily_unavailable"}', "retry", 'HTTP 503: {"error": "temporarily_unavailable"}'),
        (None, "Couldn't connect to server", "retry", "Couldn't connect to server"),
    ],
)
def test_what_an_answer_means(conn, status, detail, action, last_error):
    upload(conn)
    (event,) = conn.execute("select * from claim_outbox(1, 60)").fetchall()
    got = conn.execute("select settle_outbox_attempt(%s, %s, %s, 5) as a", (event["id"], status, detail)).fetchone()
    assert got["a"] == action
    row = outbox(conn)[0]
    assert row["last_error"] == last_error and (row["dead_at"] is not None) == (action == "dead")
    # A function at capacity took nothing: the event is sent again soon, its attempt not counted.
    assert row["attempts"] == (0 if action == "busy" else 1)
    if action in ("busy", "retry"):
        assert row["available_at"] > later(conn, 1)


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: connections are refused


def settle_through_pg_net(conn: Any, worker: PgNetWorker, urls: list[str]) -> None:
    """Each delivery of the process event through SQL, to the next URL: send, answer, reconcile."""
    for attempt, url in enumerate(urls, 1):
        configure(conn, {"process": url, "ingest": "http://127.0.0.1:9/"})
        conn.execute("select deliver_due_events(%s)", (later(conn, attempt * 3600),))
        answered(conn, worker, attempt)
        conn.execute("select reconcile_event_requests(%s)", (later(conn, attempt * 3600),))


def settle_through_dispatcher(conn: Any, db_url: str, urls: list[str]) -> None:
    dispatcher = Dispatcher(Settings(database_url=db_url, event_secret=SECRET))
    try:
        for attempt, url in enumerate(urls, 1):
            configure(conn, {"process": url}, carrier="dispatcher")
            (row,) = conn.execute(
                "select e.*, event_message_id(e.id) as message_id from claim_outbox(1, 60, %s) e "
                "where target = 'process'",
                (later(conn, attempt * 3600),),
            ).fetchall()
            dispatcher.deliver(row, queries.delivery_policy(conn))
    finally:
        dispatcher.pool.close()


def test_a_failing_function_ends_settled_the_same_through_either_carrier(net, conn, db_url):
    """503, then unreachable, then 503: three deliveries, then the job fails, announced."""
    unreachable = f"http://127.0.0.1:{dead_port()}/"
    results = {}
    for carrier in ("pg_net", "dispatcher"):
        failing = Endpoint((503, {}), (503, {}))
        try:
            configure(conn, {}, carrier="dispatcher")  # nothing is sent while the job is made
            conn.execute("delete from event_outbox")
            job = conn.execute(
                "select * from create_job(%s, %s, 'uploads', 'p', 10, 'video/mp4', 3)", (upload(conn), USER)
            ).fetchone()
            conn.execute("update event_outbox set delivered_at = now() where target = 'ingest'")
            urls = [failing.url, unreachable, failing.url]
            if carrier == "pg_net":
                settle_through_pg_net(conn, net, urls)
            else:
                settle_through_dispatcher(conn, db_url, urls)
            event = conn.execute("select * from event_outbox where target = 'process'").fetchone()
            row = conn.execute("select * from processing_jobs where id = %s", (job["id"],)).fetchone()
            results[carrier] = (
                event["attempts"],
                event["dead_at"] is not None,
                row["status"],
                row["reason_code"],
                row["failed_step"],
                row["last_error"].split(":")[0],
                len(failing.requests),
            )
        finally:
            failing.close()
    reached = "the process function could not be reached after 3 deliveries"
    assert results["pg_net"] == results["dispatcher"] == (3, True, "failed", "retries_exhausted", "process", reached, 2)


def test_the_retry_waits_the_same_backoff(net, conn):
    failing = Endpoint((503, {}))
    try:
        configure(conn, {"ingest": failing.url})
        upload(conn)
        answered(conn, net, 1)
        conn.execute("select reconcile_event_requests()")
        wait = conn.execute("select available_at - now() as d from event_outbox").fetchone()["d"].total_seconds()
        assert 7 <= wait <= 13  # retry_backoff(1): 10 s ±25 %, as for the dispatcher
        assert conn.execute("select deliver_due_events() as n").fetchone()["n"] == 0  # not due yet
    finally:
        failing.close()


def test_a_function_that_does_not_answer_in_time_is_retried(net, conn):
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        conn.execute(
            "select configure_delivery('pg_net', %s, %s, 300)",
            (Jsonb({"ingest": f"http://127.0.0.1:{silent.getsockname()[1]}/"}), SECRET),
        )
        upload(conn)
        answered(conn, net, 1)
    answer = conn.execute("select * from net._http_response").fetchone()
    assert answer["timed_out"] and answer["status_code"] is None
    conn.execute("select reconcile_event_requests()")
    assert outbox(conn)[0]["last_error"] == "timed out after 300 ms"


def test_a_request_whose_answer_pg_net_lost_is_sent_again_when_its_visibility_ends(net, conn):
    ingest = Endpoint()
    try:
        configure(conn, {"ingest": ingest.url})
        upload(conn)
        answered(conn, net, 1)
        conn.execute("truncate net._http_response")  # unlogged: gone after a crash
        assert conn.execute("select reconcile_event_requests() as n").fetchone()["n"] == 0
        assert conn.execute("select deliver_due_events(%s) as n", (later(conn, 61),)).fetchone()["n"] == 1
        answered(conn, net, 1)
        assert len(ingest.requests) == 2 and len({h["webhook-id"] for h, _ in ingest.requests}) == 1
        conn.execute("select reconcile_event_requests(%s)", (later(conn, 62),))
        assert outbox(conn)[0]["delivered_at"] is not None
    finally:
        ingest.close()


def test_one_answer_is_reconciled_once_however_often_the_reconciler_runs(net, conn, db_url):
    ingest = Endpoint()
    try:
        configure(conn, {"ingest": ingest.url})
        upload(conn)
        answered(conn, net, 1)
        with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as other:
            counts = [c.execute("select reconcile_event_requests() as n").fetchone()["n"] for c in (conn, other, conn)]
        assert counts == [1, 0, 0] and outbox(conn)[0]["attempts"] == 1
    finally:
        ingest.close()


def test_where_supabase_vault_exists_the_secret_is_kept_there(net, conn, db_url):
    apply_sql_file(db_url, Path(__file__).parents[1] / "vault_standin.sql")
    ingest = Endpoint()
    try:
        configure(conn, {"ingest": ingest.url})
        rotated = new_secret()
        for secret in (SECRET, rotated):  # created, then updated in place
            conn.execute("select configure_delivery('pg_net', null, %s)", (secret,))
            assert conn.execute("select event_secret from delivery_settings").fetchone()["event_secret"] is None
            assert (
                conn.execute("select count(*) as n from vault.secrets where secret like 'whsec%'").fetchone()["n"] == 0
            )
        upload(conn)
        answered(conn, net, 1)
        ((headers, body),) = ingest.requests
        assert Webhook(rotated).verify(body, headers)["table"] == "objects"
        assert conn.execute("select count(*) as n from vault.secrets").fetchone()["n"] == 1
    finally:
        ingest.close()


def test_the_secret_must_be_a_standard_webhooks_secret(conn):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="whsec_"):
        conn.execute("select configure_delivery('dispatcher', null, 'hunter2')")


def test_a_failing_pg_net_never_fails_the_change_and_the_reconciler_sends_later(net, conn):
    ingest = Endpoint()
    try:
        configure(conn, {"ingest": ingest.url})
        conn.execute("alter table net.http_request_queue rename to http_request_queue_away")  # pg_net broken
        upload(conn)  # the upload still commits
        event = outbox(conn)[0]
        assert (event["attempts"], event["delivered_at"]) == (0, None)
        conn.execute("alter table net.http_request_queue_away rename to http_request_queue")
        conn.execute("select reconcile_event_requests()")  # what pg_cron runs
        answered(conn, net, 1)
        assert len(ingest.requests) == 1
    finally:
        ingest.close()


# One policy for both carriers ---------------------------------------------------------------------
def carry(carrier: str, conn: Any, net: PgNetWorker, dispatcher: Dispatcher, answers: int) -> int:
    """One pass of the carrier over the outbox, until `answers` answers in all are settled; how many
    events the pass claimed."""
    if carrier == "pg_net":
        sent = conn.execute("select deliver_due_events() as n").fetchone()["n"]  # what the trigger and pg_cron run
        answered(conn, net, answers)
        conn.execute("select reconcile_event_requests()")
        return int(sent)
    claimed = dispatcher.dispatch_once()
    deadline = time.monotonic() + 10
    while conn.execute("select count(*) as n from event_outbox where last_error is not null").fetchone()["n"] < answers:
        assert time.monotonic() < deadline, "the dispatcher did not settle its events"
        time.sleep(0.02)
    return claimed


def test_both_carriers_follow_a_change_of_policy_without_a_restart(net, conn, db_url):
    """The dispatcher is made before the policy changes, and each carrier claims the changed batch,
    gives up after the changed attempts and waits the changed backoff."""
    refusing = Endpoint(*[(503, {})] * 6)
    dispatcher = Dispatcher(Settings(database_url=db_url, event_secret=SECRET), workers=4)
    results = {}
    try:
        for carrier in ("pg_net", "dispatcher"):
            configure(conn, {"ingest": refusing.url}, carrier="dispatcher")  # nothing is sent while they are written
            conn.execute("delete from event_outbox")
            for _ in range(3):
                upload(conn)
            configure(conn, {"ingest": refusing.url}, carrier=carrier)
            policy = queries.changed_policy(conn, batch=2, max_attempts=1, backoff_base_seconds=3)
            assert (policy.batch, policy.max_attempts, policy.backoff_base_seconds) == (2, 1, 3.0)
            claimed = carry(carrier, conn, net, dispatcher, answers=2)
            dead = conn.execute("select count(*) as n from event_outbox where dead_at is not null").fetchone()["n"]
            queries.changed_policy(conn, max_attempts=5)
            carry(carrier, conn, net, dispatcher, answers=3)
            (retried,) = conn.execute(
                "select available_at - now() as wait, dead_at from event_outbox where dead_at is null"
            ).fetchall()
            results[carrier] = (claimed, dead, 2.0 <= retried["wait"].total_seconds() <= 3.75, retried["dead_at"])
    finally:
        dispatcher.pool.close()
        refusing.close()
    assert results["pg_net"] == results["dispatcher"] == (2, 2, True, None)


def test_a_woken_webhook_delivery_is_sent_at_once_not_at_the_next_reconcile(net, conn):
    """Two deliveries to one endpoint: the second waits for the first's send, and recording that
    send wakes it; through pg_net the woken event goes out in the recording's transaction."""
    endpoint = conn.execute(
        "select id from create_webhook_endpoint('https://hooks.example/', '{video.ingested}', null, %s)", (USER,)
    ).fetchone()["id"]
    configure(conn, {"notify": "http://127.0.0.1:9/"}, carrier="dispatcher")  # nothing sent while it is set up
    for _ in range(2):
        conn.execute("select create_job(%s, %s, 'uploads', 'p', 10, 'video/mp4', 3)", (upload(conn), USER))
    first, second = (r["id"] for r in conn.execute("select id from webhook_deliveries order by created_at, id"))

    def claim(delivery: Any) -> Any:
        return conn.execute(
            "select * from claim_webhook_delivery(%s, (select event_message_id(max(id)) from event_outbox "
            "where subject_id = %s), 45)",
            (delivery, delivery),
        ).fetchone()

    sending, waits = claim(first), claim(second)
    assert waits["deferred_until"] is not None
    woken = conn.execute("select max(id) as id from event_outbox where subject_id = %s", (second,)).fetchone()["id"]
    conn.execute("update event_outbox set delivered_at = now() where id <> %s", (woken,))  # all else settled
    configure(conn, {"notify": f"http://127.0.0.1:{dead_port()}/"})
    assert endpoint and conn.execute("select attempts from event_outbox where id = %s", (woken,)).fetchone() == {
        "attempts": 0
    }
    conn.execute("select record_webhook_attempt(%s, %s, 204, null, 10, '', null)", (first, sending["claim"]))
    sent = conn.execute("select attempts, available_at > now() as claimed from event_outbox where id = %s", (woken,))
    assert sent.fetchone() == {"attempts": 1, "claimed": True}  # claimed and handed to pg_net
    assert conn.execute("select event_id from event_requests").fetchall() == [{"event_id": woken}]


def health(conn: Any) -> dict[str, tuple[bool, str]]:
    return {h["part"]: (h["ok"], h["says"]) for h in queries.delivery_health(conn)}


def test_delivery_health_says_whether_a_pg_net_worker_serves_this_database(net, conn, db_url):
    configure(conn, {"ingest": "http://127.0.0.1:9/"})
    net.connection()  # the worker is up, connected to this database
    found = health(conn)
    assert found["pg_net worker"][0] and found["event secret"][0]
    assert found["pg_cron"] == (False, found["pg_cron"][1]) and "Extensions" in found["pg_cron"][1]
    net.close()  # its backend ends a moment after the connection closes
    deadline = time.monotonic() + 10
    while (said := health(conn)["pg_net worker"])[0]:
        assert time.monotonic() < deadline, "the worker's connection did not end"
        time.sleep(0.05)
    ok, says = said
    database = conn.execute("select current_database() as d").fetchone()["d"]
    assert not ok and f"alter system set pg_net.database_name = '{database}'" in says


def test_delivery_health_says_whether_a_dispatcher_is_connected(conn, db_url):
    configure(conn, {"ingest": "http://127.0.0.1:9/"}, carrier="dispatcher")
    assert health(conn) == {"dispatcher": (False, health(conn)["dispatcher"][1])}
    dispatcher = Dispatcher(Settings(database_url=db_url, event_secret=SECRET))
    try:
        dispatcher.dispatch_once()  # its pool's connection is open
        assert health(conn)["dispatcher"] == (True, "a dispatcher carries the events")
    finally:
        dispatcher.pool.close()
