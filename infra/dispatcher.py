"""The local event dispatcher: delivers outbox rows to the functions over HTTP, signed.

It wakes on LISTEN/NOTIFY and also polls, so a missed notification only delays an event.
Each claimed event is invisible to other dispatchers until its visibility timeout ends, so a
dispatcher killed mid-delivery loses nothing: the event becomes due again by itself. On hosted
Supabase, pg_net + pg_cron play this part.

Where the functions are and the policy (batch, visibility, timeout, attempts, backoff) come from
the database's delivery_settings, read on every pass, as pg_net's carrier reads them: one owner
for both, and a change needs no restart. The environment gives only this process's own pace
(how often it polls and sweeps).
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import psycopg
import requests
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from infra import queries
from infra.queries import DeliveryPolicy
from shared.config import DispatcherSettings
from shared.domain import PipelineFunction
from shared.logs import get_logger
from shared.models import PostAnswer
from shared.webhooks import post_signed

log = get_logger("dispatcher")

CHANNEL = "vidpipe_outbox"
# How it shows in pg_stat_activity: public.delivery_health looks for it.
APPLICATION_NAME = "vidpipe dispatcher"


# Pipeline steps and customer webhooks never wait for each other's workers: a slow customer
# endpoint can hold only the webhook lane.
WEBHOOKS = (PipelineFunction.NOTIFY,)
PIPELINE = tuple(f for f in PipelineFunction if f not in WEBHOOKS)


class Lane:
    """Workers of their own for some of the functions."""

    def __init__(self, name: str, targets: tuple[PipelineFunction, ...], workers: int) -> None:
        self.targets = targets
        self.workers = workers
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"deliver-{name}")
        self.in_flight: set[Future[None]] = set()

    def free(self) -> int:
        self.in_flight = {f for f in self.in_flight if not f.done()}
        return self.workers - len(self.in_flight)

    def submit(
        self, work: Callable[[dict[str, Any], DeliveryPolicy], None], row: dict[str, Any], policy: DeliveryPolicy
    ) -> None:
        self.in_flight.add(self.executor.submit(work, row, policy))


class Dispatcher:
    def __init__(self, settings: DispatcherSettings, workers: int = 8, webhook_workers: int = 8) -> None:
        if settings.event_secret is None:
            raise SystemExit("VIDPIPE_EVENT_SECRET must be set to sign events")
        self.settings = settings
        self.secret = settings.event_secret.get_secret_value()
        self.url = settings.database_url.get_secret_value()
        self.pool: ConnectionPool[psycopg.Connection[dict[str, Any]]] = ConnectionPool(
            self.url,
            min_size=1,
            max_size=3,
            open=True,
            kwargs={"autocommit": True, "row_factory": dict_row, "application_name": APPLICATION_NAME},
            check=ConnectionPool.check_connection,  # after a database restart: fresh connections
        )
        self.session = requests.Session()
        self.lanes = (Lane("pipeline", PIPELINE, workers), Lane("webhooks", WEBHOOKS, webhook_workers))
        self.stopping = threading.Event()
        self.wake = threading.Event()

    # One pass ---------------------------------------------------------------------------------
    def dispatch_once(self) -> int:
        """Claims what each lane has room for; a lane whose workers are all busy claims nothing."""
        claimed = 0
        with self.pool.connection() as conn:
            policy = queries.delivery_policy(conn)
            for lane in self.lanes:
                free = min(lane.free(), policy.batch)
                if free <= 0:
                    continue
                # A redelivery while the first is still running is harmless: the function answers 409.
                rows = queries.claimed_events(conn, free, policy.visibility_seconds, list(lane.targets))
                for row in rows:
                    lane.submit(self.deliver, row, policy)
                claimed += len(rows)
        return claimed

    def deliver(self, row: dict[str, Any], policy: DeliveryPolicy) -> None:
        target = row["target"]
        url = policy.function_urls.get(target)
        context = {"event_id": row["id"], "target": target, "attempt": row["attempts"]}
        try:
            if url is None:
                answer = PostAnswer(None, f"no URL configured for function {target!r}", 0)
            else:
                body = json.dumps(row["payload"], separators=(",", ":"))
                answer = post_signed(self.session, url, self.secret, row["message_id"], body, policy.timeout_seconds)
                context["status_code"] = answer.status_code
                context["duration_ms"] = answer.latency_ms
            # The database judges the answer: the same rule as when it sends the events itself.
            detail = (answer.error or "") if answer.status_code is None else answer.body
            with self.pool.connection() as conn:
                action = queries.settled_event(conn, row["id"], answer.status_code, detail, policy.max_attempts)
            log.info("event %s", action, extra={**context, "outcome": action})
        except Exception:
            # The event stays claimed until its visibility timeout ends, then becomes due again.
            log.exception("delivery bookkeeping failed", extra=context)
        finally:
            self.wake.set()

    def next_due_in(self) -> float:
        """Seconds until the earliest waiting event is due, so a scheduled retry goes out on time
        rather than at the next poll; at most the poll interval."""
        poll = self.settings.dispatch_poll_seconds
        with self.pool.connection() as conn:
            due = queries.seconds_to_next_event(conn)
        return min(poll, max(0.01, poll if due is None else due))

    def sweep(self) -> None:
        with self.pool.connection() as conn:
            rows = queries.swept(conn, self.settings.sweep_stale_seconds)
        for row in rows:
            log.info("sweeper: %s", row["action"], extra={"job_id": str(row["subject_id"]), "outcome": row["action"]})

    # The loop ---------------------------------------------------------------------------------
    def _listen(self) -> None:
        """Turns NOTIFYs into wake-ups; reconnects when the database goes away."""
        while not self.stopping.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, application_name=APPLICATION_NAME) as conn:
                    conn.execute(f"listen {CHANNEL}")
                    while not self.stopping.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self.wake.set()
            except psycopg.Error as exc:
                log.warning("listen connection lost: %s", exc)
                self.stopping.wait(1.0)

    def run(self) -> None:
        threading.Thread(target=self._listen, name="listen", daemon=True).start()
        last_sweep = 0.0
        log.info("dispatcher started")
        while not self.stopping.is_set():
            claimed, wait = 0, self.settings.dispatch_poll_seconds
            try:
                if time.monotonic() - last_sweep >= self.settings.sweep_every_seconds:
                    self.sweep()
                    last_sweep = time.monotonic()
                claimed = self.dispatch_once()
                if claimed == 0 and any(lane.free() > 0 for lane in self.lanes):  # busy workers wake us when done
                    wait = self.next_due_in()
            except psycopg.Error as exc:
                log.warning("database unavailable: %s", exc)
            if claimed == 0:
                self.wake.wait(wait)
                self.wake.clear()
        for lane in self.lanes:
            lane.executor.shutdown(wait=False, cancel_futures=True)
        self.pool.close()

    def stop(self, *_: object) -> None:
        self.stopping.set()
        self.wake.set()


def main() -> None:
    dispatcher = Dispatcher(DispatcherSettings())
    signal.signal(signal.SIGTERM, dispatcher.stop)
    signal.signal(signal.SIGINT, dispatcher.stop)
    dispatcher.run()


if __name__ == "__main__":
    main()
