"""Customer webhooks on the whole stack: two endpoints, one healthy and one that fails each
message twice before it recovers, with the retry schedule compressed to 1 s then 2 s. Every
event reaches both exactly as counted, the retries keep to the schedule, and every request
verifies with the standardwebhooks library as the customer's backend would verify it."""

from __future__ import annotations

import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row
from standardwebhooks.webhooks import Webhook

from infra.cli import upload, wait_for_job
from infra.local.stack import LOCAL_USER_ID, LocalStack, StackState

pytestmark = pytest.mark.e2e

SCHEDULE = [1.0, 2.0, 4.0]
TOLERANCE = 1.0  # the dispatcher wakes when a retry is due; a loaded machine is slower


class Endpoint:
    """Answers 503 to the first `failures` requests of each message, then 204; keeps arrival times."""

    def __init__(self, failures: int = 0, delay: float = 0.0) -> None:
        self.requests: list[tuple[float, dict[str, str], bytes, int]] = []
        seen: dict[str, int] = defaultdict(int)
        me = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                seen[headers["webhook-id"]] += 1
                code = 503 if seen[headers["webhook-id"]] <= failures else 204
                time.sleep(delay)
                me.requests.append((time.monotonic(), headers, body, code))
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"

    def by_message(self) -> dict[str, list[tuple[float, int]]]:
        out: dict[str, list[tuple[float, int]]] = defaultdict(list)
        for at, headers, _, code in self.requests:
            out[headers["webhook-id"]].append((at, code))
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def stack() -> Iterator[StackState]:
    home = Path(tempfile.mkdtemp(prefix="vidpipe-webhooks-"))
    local = LocalStack(
        home, extra_env={"VIDPIPE_WEBHOOK_RETRY_SCHEDULE": str(SCHEDULE), "VIDPIPE_WEBHOOK_RETRY_JITTER": "0.1"}
    )
    yield local.up()
    local.destroy()


def register(stack: StackState, url: str) -> str:
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        row = conn.execute(
            "select secret from create_webhook_endpoint(%s, null, null, %s)", (url, LOCAL_USER_ID)
        ).fetchone()
    assert row is not None
    return str(row[0])


def wait_for_deliveries(stack: StackState, count: int, timeout: float) -> list[dict]:
    deadline = time.monotonic() + timeout
    with psycopg.connect(stack.database_url, autocommit=True, row_factory=dict_row) as conn:
        while True:
            rows = conn.execute("select * from webhook_deliveries").fetchall()
            if (len(rows) >= count and all(r["finished_at"] is not None for r in rows)) or time.monotonic() > deadline:
                return rows
            time.sleep(0.2)


def test_two_endpoints_one_failing_then_recovering(stack, clips):
    healthy, flaky = Endpoint(failures=0), Endpoint(failures=2)
    try:
        secrets = {"healthy": register(stack, healthy.url), "flaky": register(stack, flaky.url)}
        jobs = [wait_for_job(stack, upload(stack, clips[name]), 120) for name in ("plain", "silent")]
        assert all(j is not None and j["status"] == "ready" for j in jobs)
        # 2 videos x 4 events (ingested, playable, processed, ready) x 2 endpoints
        rows = wait_for_deliveries(stack, 16, 60)
        assert len(rows) == 16 and {r["status"] for r in rows} == {"delivered"}

        # Exact counts: the healthy endpoint once per message, the flaky one three times.
        assert len(healthy.requests) == 8 and all(code == 204 for *_, code in healthy.requests)
        assert len(flaky.requests) == 24
        flaky_messages = flaky.by_message()
        assert set(flaky_messages) == set(healthy.by_message()) and len(flaky_messages) == 8
        with psycopg.connect(stack.database_url, row_factory=dict_row) as conn:
            attempts = conn.execute(
                "select d.endpoint_id, a.attempt, a.status_code from webhook_attempts a "
                "join webhook_deliveries d on d.id = a.delivery_id"
            ).fetchall()
            assert len(attempts) == 32
            by_endpoint = defaultdict(list)
            for a in attempts:
                by_endpoint[a["endpoint_id"]].append((a["attempt"], a["status_code"]))
            assert sorted(map(sorted, by_endpoint.values()), key=len) == [
                [(1, 204)] * 8,
                sorted([(1, 503), (2, 503), (3, 204)] * 8),
            ]

        # Retry timing: 1 s then 2 s (± 10 % jitter).
        gaps = [(round(t[1][0] - t[0][0], 2), round(t[2][0] - t[1][0], 2)) for t in flaky_messages.values()]
        print(f"retry gaps (s) per message: {gaps}")
        for message, tries in flaky_messages.items():
            assert [code for _, code in tries] == [503, 503, 204], message
            first_gap, second_gap = tries[1][0] - tries[0][0], tries[2][0] - tries[1][0]
            assert SCHEDULE[0] * 0.9 <= first_gap <= SCHEDULE[0] * 1.1 + TOLERANCE, (message, first_gap)
            assert SCHEDULE[1] * 0.9 <= second_gap <= SCHEDULE[1] * 1.1 + TOLERANCE, (message, second_gap)

        # Every request verifies with the library a customer uses; the id is stable across retries.
        for name, endpoint in (("healthy", healthy), ("flaky", flaky)):
            for _, headers, body, _ in endpoint.requests:
                event = Webhook(secrets[name]).verify(body, headers)
                assert (
                    headers["webhook-id"] == f"msg_{event['data']['job_id'].replace('-', '')}_"
                    f"{event['type'].replace('.', '_')}"
                )
        types = sorted(Webhook(secrets["healthy"]).verify(b, h)["type"] for _, h, b, _ in healthy.requests)
        assert types == sorted(["video.ingested", "video.playable", "video.processed", "video.ready"] * 2)
    finally:
        healthy.close()
        flaky.close()


def test_a_slow_endpoint_does_not_hold_up_another(stack, clips):
    """Each attempt is its own event on its own worker: while one endpoint takes 4 s to answer
    each request, the other has every event as soon as it happens."""
    slow, fast = Endpoint(delay=4.0), Endpoint()
    try:
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            conn.execute("delete from webhook_endpoints")
        secret = register(stack, fast.url)
        register(stack, slow.url)
        job = wait_for_job(stack, upload(stack, clips["plain"]), 120)
        assert job is not None and job["status"] == "ready"
        ready_at = time.monotonic()
        deadline = ready_at + 10
        while len(fast.requests) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [Webhook(secret).verify(b, h)["type"] for _, h, b, _ in sorted(fast.requests)] == [
            "video.ingested",
            "video.playable",
            "video.processed",
            "video.ready",
        ]
        assert fast.requests[-1][0] - ready_at < 2.0  # not queued behind the slow endpoint's 4 s answers
        assert len(slow.requests) < 4 or slow.requests[-1][0] > fast.requests[-1][0]
    finally:
        slow.close()
        fast.close()
