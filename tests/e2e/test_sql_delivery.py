"""The whole pipeline with the database delivering the events itself (VIDPIPE_DELIVERY=pg_net):
no dispatcher runs. The stack plays what a hosted project runs: pg_net's worker (the stand-in in
infra/local) and pg_cron's schedule."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from infra.cli import stack_health, upload, wait_for_job
from infra.local.stack import FUNCTIONS, LOCAL_USER_ID, UI, LocalStack, StackState
from tests.receiver import Endpoint

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack() -> Iterator[StackState]:
    local = LocalStack(Path(tempfile.mkdtemp(prefix="vidpipe-pgnet-")), extra_env={"VIDPIPE_DELIVERY": "pg_net"})
    yield local.up()
    local.destroy()


def test_uploads_become_ready_and_are_announced_with_no_dispatcher(stack, clips):
    assert stack.delivery == "pg_net" and set(stack.pids) == {*FUNCTIONS, "platform", UI}
    hook = Endpoint()
    try:
        with psycopg.connect(stack.database_url, autocommit=True, row_factory=dict_row) as conn:
            secret = conn.execute(
                "select secret from create_webhook_endpoint(%s, null, null, %s)", (hook.url, LOCAL_USER_ID)
            ).fetchone()["secret"]
            with ThreadPoolExecutor(3) as pool:
                objects = [upload(stack, clips[name]) for name in ("plain", "silent", "rotated")]
                jobs = list(pool.map(lambda oid: wait_for_job(stack, oid, 240), objects))
            assert [j["status"] for j in jobs] == ["ready"] * 3, jobs
            deadline = time.monotonic() + 30  # announcements go out as each step commits
            while len(hook.requests) < 12 and time.monotonic() < deadline:
                time.sleep(0.2)
            by_job: dict[str, list[str]] = {}
            for event in hook.verified(secret):  # verified as the customer's library verifies them
                by_job.setdefault(event["data"]["job_id"], []).append(event["type"])
            assert {str(j["id"]): sorted(by_job[str(j["id"])]) for j in jobs} == {
                str(j["id"]): ["video.ingested", "video.playable", "video.processed", "video.ready"] for j in jobs
            }
            # Every event went through pg_net, and the reconciler settles each within its schedule.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                open_events = conn.execute(
                    "select count(*) as n from event_outbox where delivered_at is null"
                ).fetchone()["n"]
                if open_events == 0:
                    break
                time.sleep(0.5)
            assert open_events == 0
            events = conn.execute("select count(*) as n, max(attempts) as most from event_outbox").fetchone()
            answers = conn.execute(
                "select status_code, count(*) as n from net._http_response group by 1 order by 1"
            ).fetchall()
            # Each event answered once: 202 for each step of the long steps and each webhook send,
            # which work on after their answer (two steps and four sends a job); 200 for ingest
            # (one a job) and for a send deferred behind the endpoint's other send.
            by_status = {a["status_code"]: a["n"] for a in answers}
            assert events["most"] == 1 and set(by_status) == {200, 202}
            assert by_status[202] == 3 * (2 + 4) and by_status[200] >= 3
    finally:
        hook.close()


def test_delivery_health_sees_the_pg_net_worker_of_this_database(stack):
    with psycopg.connect(stack.database_url, row_factory=dict_row) as conn:
        health = {h["part"]: h for h in conn.execute("select * from public.delivery_health()")}
    assert health["pg_net worker"]["ok"] and health["event secret"]["ok"], health
    assert not health["pg_cron"]["ok"]  # this cluster has no pg_cron: the platform plays it
    said = {h["part"]: h for h in stack_health(stack)}  # what `vidpipe doctor` prints
    assert all(h["ok"] for h in said.values()) and "in place of pg_cron" in said["pg_cron"]["says"], said
