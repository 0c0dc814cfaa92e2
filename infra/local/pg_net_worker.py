"""pg_net's background worker, for the local stand-in (infra/local/pg_net_standin.sql), as pg_net
0.20 runs it (its src/worker.c and src/core.c).

One iteration, in one transaction: take up to a batch of committed requests (pg_net.batch_size),
send them all at once, wait until every one has an answer or has timed out, write the answers,
commit. Only then is the queue read again. So one slow request holds up its whole batch, and
every request queued behind it, for as long as it takes; and the answers of a batch appear
together, when the slowest one is in. Each request is sent once, never retried. Redirects are
followed as curl follows them: a POST answered 301, 302 or 303 goes on as a GET without its body.
A request that got no answer has curl's own words in `error_msg`; one that ran out of time
`timed_out` and pg_net's "Timeout of … ms reached" message. A worker serves one database
(pg_net.database_name): requests queued in any other are never sent."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import requests
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

BATCH_SIZE = 200  # pg_net.batch_size
TTL = "6 hours"  # pg_net.ttl: answers are kept this long

# curl_easy_strerror's words for the ways a request ends without an answer.
COULDNT_CONNECT = "Couldn't connect to server"
COULDNT_RESOLVE = "Couldn't resolve host name"
GOT_NOTHING = "Server returned nothing (no headers, no data)"
RECV_ERROR = "Failure when receiving data from the peer"
SSL_CONNECT = "SSL connect error"
TOO_MANY_REDIRECTS = "Number of redirects hit maximum amount"


def curl_words(exc: requests.RequestException) -> str:
    """What curl says for the failure requests raised."""
    text = repr(exc)
    if isinstance(exc, requests.TooManyRedirects):
        return TOO_MANY_REDIRECTS
    if isinstance(exc, requests.exceptions.SSLError):
        return SSL_CONNECT
    if "NameResolutionError" in text or "Failed to resolve" in text or "Name or service not known" in text:
        return COULDNT_RESOLVE
    if "RemoteDisconnected" in text or "without response" in text:
        return GOT_NOTHING
    if isinstance(exc, requests.exceptions.ChunkedEncodingError) or "Connection reset" in text:
        return RECV_ERROR
    return COULDNT_CONNECT


def timeout_words(timeout_ms: int, total_ms: float, connecting: bool) -> str:
    """pg_net's message for a request out of time (it splits the time by curl's timings; here the
    time goes to the phase that ran out)."""
    handshake, http = (total_ms, 0.0) if connecting else (0.0, total_ms)
    return (
        f"Timeout of {timeout_ms} ms reached. Total time: {total_ms:f} ms (DNS time: 0.000000 ms, "
        f"TCP/SSL handshake time: {handshake:f} ms, HTTP Request/Response time: {http:f} ms)"
    )


# pg_net's worker names itself so in pg_stat_activity (public.delivery_health looks for it).
APPLICATION_NAME = "pg_net 0.20 worker (stand-in)"


class PgNetWorker:
    def __init__(self, database_url: str, batch_size: int = BATCH_SIZE) -> None:
        self.database_url = database_url
        self.batch_size = batch_size
        self.session = requests.Session()
        self.executor = ThreadPoolExecutor(max_workers=batch_size, thread_name_prefix="pg_net")
        self._conn: psycopg.Connection[dict[str, Any]] | None = None

    def connection(self) -> psycopg.Connection[dict[str, Any]]:
        """The worker's one connection, as pg_net's background worker keeps one; made again after
        the database went away."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(
                self.database_url, autocommit=True, row_factory=dict_row, application_name=APPLICATION_NAME
            )
        return self._conn

    def run_once(self) -> int:
        """One iteration of the worker; returns how many requests it sent."""
        conn = self.connection()
        with conn.transaction():  # one transaction for the batch, its sends and its answers
            conn.execute(f"delete from net._http_response where created < now() - interval '{TTL}'")
            rows = conn.execute(
                "delete from net.http_request_queue q using (select id from net.http_request_queue order by id "
                "limit %s) batch where q.id = batch.id returning q.*",
                (self.batch_size,),
            ).fetchall()
            for row, answer in zip(rows, self.executor.map(self.send, rows), strict=True):
                conn.execute(
                    "insert into net._http_response (id, status_code, content_type, headers, content, timed_out, "
                    "error_msg) values (%(id)s, %(status_code)s, %(content_type)s, %(headers)s, %(content)s, "
                    "%(timed_out)s, %(error_msg)s)",
                    {"id": row["id"], **answer},
                )
        return len(rows)

    def send(self, request: dict[str, Any]) -> dict[str, Any]:
        """The answer to one request, as pg_net records it."""
        timeout_ms = request["timeout_milliseconds"]
        answer: dict[str, Any] = dict.fromkeys(("status_code", "content_type", "headers", "content", "error_msg"))
        answer["timed_out"] = False
        started = time.monotonic()
        try:
            response = self.session.request(
                request["method"],
                request["url"],
                data=request["body"],
                headers=request["headers"],
                timeout=timeout_ms / 1000,
                allow_redirects=True,
            )
        except requests.Timeout as exc:
            connecting = isinstance(exc, requests.ConnectTimeout)
            total_ms = (time.monotonic() - started) * 1000
            return answer | {"timed_out": True, "error_msg": timeout_words(timeout_ms, total_ms, connecting)}
        except requests.RequestException as exc:
            return answer | {"error_msg": curl_words(exc)}
        total_ms = (time.monotonic() - started) * 1000
        if total_ms > timeout_ms:  # curl's limit is on the whole request: it would have cut this answer off
            return answer | {"timed_out": True, "error_msg": timeout_words(timeout_ms, total_ms, False)}
        return answer | {
            "status_code": response.status_code,
            "content_type": response.headers.get("Content-Type"),
            "headers": Jsonb(dict(response.headers)),
            "content": response.text or None,
        }

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        if self._conn is not None:
            self._conn.close()
