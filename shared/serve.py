"""Serving one function's door over HTTP, with limits a hostile client cannot get around.

    python -m shared.serve --target ingest --source functions/ingest/main.py [--host H] [--port P]

The port and address come from $PORT and $HOST when not given (a container's settings); GET
/healthz answers 200 with the function's name once it is loaded, for a runtime's probes.

functions-framework's own server (gunicorn, one thread per connection, no limit on the request
line) falls to a handful of slow clients. Here waitress reads every request whole in its I/O
thread before a worker sees it, so a slow client holds a connection, never a worker; the request
line and headers are bounded (431), the body by VIDPIPE_MAX_EVENT_BYTES (413); a request must
arrive whole within VIDPIPE_DOOR_REQUEST_SECONDS, however it drips; an idle connection is closed
after VIDPIPE_DOOR_IDLE_SECONDS; connections outnumber workers.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from typing import Any

import functions_framework
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher

from shared.config import Settings, get_settings

# How often the server looks for requests past their deadline and idle connections.
SWEEP_SECONDS = 1


class DoorChannel(HTTPChannel):  # type: ignore[misc]
    """A connection that remembers when the request it is reading began."""

    request_began: float | None = None

    def received(self, data: bytes) -> bool:
        if data and self.request is None:
            self.request_began = time.monotonic()
        done: bool = super().received(data)
        if self.request is None:  # nothing left half-read
            self.request_began = None
        return done


class DoorServer(TcpWSGIServer):  # type: ignore[misc]
    channel_class = DoorChannel
    request_seconds: float = 10.0

    def maintenance(self, now: float) -> None:
        super().maintenance(now)  # idle connections
        too_old = time.monotonic() - self.request_seconds
        for channel in list(self.active_channels.values()):
            began = getattr(channel, "request_began", None)
            if began is not None and began < too_old:
                channel.will_close = True  # a request still arriving after its time: dropped


def with_health(app: Any, target: str) -> Any:
    """The app, and GET /healthz beside it (the events come to POST /)."""
    body = json.dumps({"function": target, "status": "ok"}).encode()

    def serve(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == "/healthz" and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        return app(environ, start_response)

    return serve


def make_server(app: Any, host: str, port: int, settings: Settings) -> DoorServer:
    adj = Adjustments(
        host=host,
        port=port,
        threads=settings.door_threads,
        connection_limit=settings.door_connections,
        channel_timeout=settings.door_idle_seconds,
        cleanup_interval=SWEEP_SECONDS,
        max_request_header_size=settings.door_max_header_bytes,
        max_request_body_size=settings.max_event_bytes,
        expose_tracebacks=False,
        ident="vidpipe",
    )
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adj.threads)
    server = DoorServer(app, map={}, dispatcher=dispatcher, adj=adj, sockinfo=adj.listen[0])
    server.request_seconds = settings.door_request_seconds
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", required=True, help="the function: ingest, process, generate_metadata, notify")
    parser.add_argument("--source", required=True, help="its main.py")
    # A container listens on every address of its own; the local stack passes 127.0.0.1.
    parser.add_argument("--host", default=os.environ.get("HOST", "0.0.0.0"))  # noqa: S104
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    args = parser.parse_args(argv)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" is not news
    app = functions_framework.create_app(target=args.target, source=args.source)  # type: ignore[no-untyped-call]
    # A container's first process gets no default signal handling: SIGTERM (a runtime scaling
    # in) must end it. Work cut short is the lease's to recover, as for any lost instance.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    make_server(with_health(app, args.target), args.host, args.port, get_settings()).run()


if __name__ == "__main__":
    main()
