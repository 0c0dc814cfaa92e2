"""Serving one function's door over HTTP, with limits a hostile client cannot get around.

    python -m shared.serve --target ingest --source functions/ingest/main.py [--host H] [--port P]

The port and address come from $PORT and $HOST when not given (a container's settings); GET
/healthz answers 200 with the function's name once it is loaded, for a runtime's probes.

functions-framework's own server (gunicorn, one thread per connection, no limit on the request
line) falls to a handful of slow clients. Here waitress reads every request whole in its I/O
thread before a worker sees it, so a slow client holds a connection, never a worker; the request
line and headers are bounded (431), the body by VIDPIPE_MAX_EVENT_BYTES (413); a request must
arrive whole within VIDPIPE_DOOR_REQUEST_SECONDS (plus its body's length at
VIDPIPE_DOOR_BODY_BYTES_PER_SECOND), however it drips; an idle connection is closed after
VIDPIPE_DOOR_IDLE_SECONDS; connections outnumber workers.

A server may also screen each request once its headers are read, before a byte of its body is:
refuse it (a waitress Error), or name the file its body is received into (an upload written
straight to where it is kept, not buffered first).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import IO, Any

import functions_framework
from waitress.adjustments import Adjustments
from waitress.buffers import FileBasedBuffer
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.receiver import FixedStreamReceiver
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher
from waitress.utilities import Error

from shared.config import DoorSettings, settings_for

# How often the server looks for requests past their deadline and idle connections.
SWEEP_SECONDS = 1


# What a screen answers for a request whose headers are read: go on (None), refuse (an Error,
# answered without reading the body), or receive the body into this open file.
Screen = Callable[[HTTPRequestParser], Error | IO[bytes] | None]


class Refused(Error):  # type: ignore[misc]
    """A refusal a screen makes, with any status."""

    def __init__(self, code: int, reason: str, body: str) -> None:
        super().__init__(body)
        self.code, self.reason = code, reason


class DoorParser(HTTPRequestParser):  # type: ignore[misc]
    screen: Screen | None = None

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        judge = type(self).screen
        verdict = judge(self) if judge is not None else None
        if isinstance(verdict, Error):
            self.error, self.completed, self.body_rcv = verdict, True, None  # the body is never read
        elif verdict is not None:
            self.body_rcv = FixedStreamReceiver(self.content_length, FileBasedBuffer(verdict))


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

    def handle_close(self) -> None:
        if self.request is not None:  # a body cut off: its file goes now, not when collected
            self.request.close()
        super().handle_close()


class DoorServer(TcpWSGIServer):  # type: ignore[misc]
    channel_class = DoorChannel
    request_seconds: float = 10.0
    body_bytes_per_second: float = 1024**2

    def maintenance(self, now: float) -> None:
        super().maintenance(now)  # idle connections
        current = time.monotonic()
        for channel in list(self.active_channels.values()):
            began = getattr(channel, "request_began", None)
            if began is None:
                continue
            request = channel.request
            body = request.content_length if request is not None and request.headers_finished else 0
            if current - began > self.request_seconds + body / self.body_bytes_per_second:
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


def make_server(
    app: Any,
    host: str,
    port: int,
    settings: DoorSettings,
    *,
    max_body: int | None = None,
    threads: int | None = None,
    screen: Screen | None = None,
) -> DoorServer:
    """The server, with the doors' limits; `max_body` (default VIDPIPE_MAX_EVENT_BYTES) and
    `threads` for a server that takes uploads or holds streams, `screen` to judge headers."""
    adj = Adjustments(
        host=host,
        port=port,
        threads=threads or settings.door_threads,
        connection_limit=settings.door_connections,
        channel_timeout=settings.door_idle_seconds,
        cleanup_interval=SWEEP_SECONDS,
        max_request_header_size=settings.door_max_header_bytes,
        max_request_body_size=max_body or settings.max_event_bytes,
        expose_tracebacks=False,
        ident="vidpipe",
    )
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adj.threads)
    server = DoorServer(app, map={}, dispatcher=dispatcher, adj=adj, sockinfo=adj.listen[0])
    server.request_seconds = settings.door_request_seconds
    server.body_bytes_per_second = settings.door_body_bytes_per_second
    if screen is not None:
        judge = screen

        class ScreenedParser(DoorParser):
            screen = staticmethod(judge)

        class ScreenedChannel(DoorChannel):
            parser_class = ScreenedParser

        server.channel_class = ScreenedChannel
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
    make_server(with_health(app, args.target), args.host, args.port, settings_for(args.target)).run()


if __name__ == "__main__":
    main()
