"""What a hosted Supabase project runs for the pipeline when the database delivers the events
itself (VIDPIPE_DELIVERY=pg_net), played on the local stack: pg_net's background worker, and
pg_cron running public.scheduled_jobs() every VIDPIPE_SWEEP_EVERY_SECONDS (pg_cron 1.6 takes
seconds; the 1.4 Debian packages only minutes, so it is not used for this). No dispatcher runs."""

from __future__ import annotations

import signal
import threading
import time

import psycopg

from infra.local.pg_net_worker import PgNetWorker
from shared.config import DispatcherSettings
from shared.logs import get_logger

log = get_logger("platform")

SEND_POLL_SECONDS = 0.02  # pg_net sends within a few milliseconds of the commit


def run_scheduled_jobs(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        for name, command in conn.execute("select name, command from public.scheduled_jobs()").fetchall():
            started = time.monotonic()
            result = conn.execute(command).fetchone()
            log.debug("cron job %s: %s", name, result, extra={"duration_ms": int((time.monotonic() - started) * 1000)})


def send_requests(worker: PgNetWorker, stopping: threading.Event) -> None:
    """pg_net's worker: batch after batch, each one only once the one before is all answered."""
    while not stopping.is_set():
        try:
            sent = worker.run_once()
        except psycopg.Error as exc:
            log.warning("database unavailable: %s", exc)
            sent = 0
            stopping.wait(1.0)
        if not sent:
            stopping.wait(SEND_POLL_SECONDS)


def main() -> None:
    settings = DispatcherSettings()  # the pace of pg_cron, as the dispatcher sweeps
    url = settings.database_url.get_secret_value()
    worker = PgNetWorker(url)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    # pg_cron and pg_net's worker are separate background workers: a batch waiting on a slow
    # request holds up no cron job.
    threading.Thread(target=send_requests, args=(worker, stopping), name="pg_net", daemon=True).start()
    log.info("pg_net worker and cron started")
    while not stopping.is_set():
        try:
            run_scheduled_jobs(url)
        except psycopg.Error as exc:
            log.warning("database unavailable: %s", exc)
        stopping.wait(settings.sweep_every_seconds)
    worker.close()


if __name__ == "__main__":
    main()
