"""The part every local stand-in for an OpenAI-compatible API shares: one path on 127.0.0.1, each
request kept and answered with the next scripted reply (then the default one) after its delay:
the provider's error body for a non-2xx status, a raw body as is, or else the real answer that
the stand-in makes (`answer`)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    error: str | None = None  # for non-2xx: {"error": {"message": …}}
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw: bytes | None = None  # a body sent as is


class ScriptedApi:
    path: str  # the one path served, e.g. /v1/chat/completions
    error_type: str  # the provider's `type` in its error body

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.script: list[Reply] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                request = api.parse({k.lower(): v for k, v in self.headers.items()}, body)
                api.requests.append(request)
                reply = api.script.pop(0) if api.script else api.default_reply()
                time.sleep(reply.delay)
                if self.path != api.path:
                    reply = Reply(status=404, error=f"unknown path {self.path}")
                try:
                    payload = api.payload(request, reply)
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # close() waits for the answers under way (a model may still be transcribing one the
        # client gave up on): no thread is left inside native code when the interpreter exits.
        self.server.daemon_threads = False
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_port}/v1"

    def payload(self, request: Any, reply: Reply) -> bytes:
        if reply.raw is not None:
            return reply.raw
        if reply.status != 200:
            error = {"message": reply.error or "error", "type": self.error_type, "param": None, "code": None}
            return json.dumps({"error": error}).encode()
        return json.dumps(self.answer(request, reply)).encode()

    def default_reply(self) -> Reply:
        return Reply()

    def parse(self, headers: dict[str, str], body: bytes) -> Any:
        """What is kept of a request (in `requests`) and handed to `answer`."""
        raise NotImplementedError

    def answer(self, request: Any, reply: Reply) -> dict[str, Any]:
        """The 200 answer's body."""
        raise NotImplementedError

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
