"""The dispatcher keeps customer webhooks on workers of their own: with every webhook worker held
by a slow endpoint (through notify), a pipeline step's event still goes out at once."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from psycopg.types.json import Jsonb

from infra import queries
from infra.dispatcher import Dispatcher
from shared.config import Settings
from shared.domain import DeliveryCarrier
from shared.signing import new_secret
from tests.receiver import Endpoint

pytestmark = pytest.mark.integration


def enqueue(conn: Any, target: str, n: int) -> None:
    for _ in range(n):
        conn.execute(
            "select enqueue_event(%s, 'INSERT', 'job', %s, null, now(), now())", (target, Jsonb({"id": str(uuid4())}))
        )


def test_slow_webhooks_never_hold_a_pipeline_event(conn, db_url):
    notify, process = Endpoint(hold=True), Endpoint()
    secret = new_secret()
    queries.configured_delivery(
        conn, DeliveryCarrier.DISPATCHER, {"notify": notify.url, "process": process.url}, secret
    )
    dispatcher = Dispatcher(Settings(database_url=db_url, event_secret=secret), workers=2, webhook_workers=2)
    try:
        enqueue(conn, "notify", 5)
        assert dispatcher.dispatch_once() == 2  # the webhook lane is full
        assert notify.arrived.acquire(timeout=10) and notify.arrived.acquire(timeout=10)
        enqueue(conn, "process", 1)
        assert dispatcher.dispatch_once() == 1  # the pipeline lane is free: it goes out now
        assert process.arrived.acquire(timeout=10)
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
