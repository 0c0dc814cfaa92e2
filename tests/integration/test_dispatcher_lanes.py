"""The dispatcher keeps customer webhooks on workers of their own: with every webhook worker held
by a slow endpoint (through notify), a pipeline step's event still goes out at once."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import uuid4

import pytest
from psycopg.types.json import Jsonb

from infra import queries
from infra.dispatcher import Dispatcher
from shared.config import Settings
from shared.domain import DeliveryCarrier
from shared.signing import new_secret

pytestmark = pytest.mark.integration


class Function:
    """A function's door that answers 200, or holds every request until released."""

    def __init__(self, hold: bool) -> None:
        self.received = threading.Semaphore(0)
        self.release = threading.Event()
        if not hold:
            self.release.set()
        me = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                me.received.release()
                me.release.wait(30)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def enqueue(conn: Any, target: str, n: int) -> None:
    for _ in range(n):
        conn.execute(
            "select enqueue_event(%s, 'INSERT', 'job', %s, null, now(), now())", (target, Jsonb({"id": str(uuid4())}))
        )


def test_slow_webhooks_never_hold_a_pipeline_event(conn, db_url):
    notify, process = Function(hold=True), Function(hold=False)
    secret = new_secret()
    queries.configured_delivery(
        conn, DeliveryCarrier.DISPATCHER, {"notify": notify.url, "process": process.url}, secret
    )
    dispatcher = Dispatcher(Settings(database_url=db_url, event_secret=secret), workers=2, webhook_workers=2)
    try:
        enqueue(conn, "notify", 5)
        assert dispatcher.dispatch_once() == 2  # the webhook lane is full
        assert notify.received.acquire(timeout=10) and notify.received.acquire(timeout=10)
        enqueue(conn, "process", 1)
        assert dispatcher.dispatch_once() == 1  # the pipeline lane is free: it goes out now
        assert process.received.acquire(timeout=10)
        assert dispatcher.dispatch_once() == 0  # the other webhooks wait for a webhook worker
        (waiting,) = conn.execute(
            "select count(*) as n from event_outbox where target = 'notify' and attempts = 0"
        ).fetchall()
        assert waiting["n"] == 3
    finally:
        notify.close()
        process.close()
        dispatcher.stop()
        for lane in dispatcher.lanes:
            lane.executor.shutdown(wait=True)
        dispatcher.pool.close()
