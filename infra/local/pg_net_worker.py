"""pg_net's background worker, for the local stand-in (infra/local/pg_net_standin.sql): takes the
requests whose transactions committed (only those are visible), sends each once over real HTTP,
never retries, never follows redirects, and writes each answer to net._http_response as pg_net
does: the status, headers and body; or `timed_out`; or `error_msg` when there was no answer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import requests
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from shared.logs import get_logger

log = get_logger("pg_net")

BATCH_SIZE = 200  # pg_net.batch_size
TTL = "6 hours"  # pg_net.ttl: answers are kept this long


class PgNetWorker:
    # pg_net sends every request of a batch at once (curl's multi interface): a slow function,
    # such as notify waiting on a customer's endpoint, holds up no other request.
    def __init__(self, database_url: str, workers: int = BATCH_SIZE) -> None:
        self.database_url = database_url
        self.session = requests.Session()
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pg_net")

    def run_once(self) -> int:
        """Takes up to a batch of queued requests and starts sending them; returns how many."""
        with psycopg.connect(self.database_url, autocommit=True, row_factory=dict_row) as conn:
            rows = conn.execute(
                "delete from net.http_request_queue where id in (select id from net.http_request_queue "
                "order by id limit %s for update skip locked) returning *",
                (BATCH_SIZE,),
            ).fetchall()
            conn.execute(f"delete from net._http_response where created < now() - interval '{TTL}'")
        for row in rows:
            self.executor.submit(self.send, row)
        return len(rows)

    def send(self, request: dict[str, Any]) -> None:
        answer: dict[str, Any] = {
            "status_code": None,
            "content_type": None,
            "headers": None,
            "content": None,
            "timed_out": False,
            "error_msg": None,
        }
        try:
            response = self.session.request(
                request["method"],
                request["url"],
                data=request["body"],
                headers=request["headers"],
                timeout=request["timeout_milliseconds"] / 1000,
                allow_redirects=False,
            )
            answer.update(
                status_code=response.status_code,
                content_type=response.headers.get("Content-Type"),
                headers=Jsonb(dict(response.headers)),
                content=response.text,
            )
        except requests.Timeout:
            answer.update(timed_out=True, error_msg="Timeout was reached")
        except requests.RequestException as exc:
            answer.update(error_msg=f"Couldn't connect to server: {type(exc).__name__}")
        try:
            with psycopg.connect(self.database_url, autocommit=True) as conn:
                conn.execute(
                    "insert into net._http_response (id, status_code, content_type, headers, content, timed_out, "
                    "error_msg) values (%(id)s, %(status_code)s, %(content_type)s, %(headers)s, %(content)s, "
                    "%(timed_out)s, %(error_msg)s)",
                    {"id": request["id"], **answer},
                )
        except psycopg.Error as exc:  # the answer is lost, as pg_net's would be in a crash: the outbox resends
            log.warning("answer to request %s not recorded: %s", request["id"], exc)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
