"""Webhook endpoints for tests: one that answers 204 to everything, one that answers from a script."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook


class Receiver:
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"

    def events(self, secret: str) -> list[dict[str, Any]]:
        """Every request, verified with the library a customer would use."""
        return [Webhook(secret).verify(body, headers) for headers, body in self.requests]

    def message_ids(self) -> list[str]:
        return [headers["webhook-id"] for headers, _ in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Endpoint:
    """A customer's endpoint answering from a script (then 204), keeping every request."""

    def __init__(self, *answers: tuple[int, dict[str, str]]) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[dict[str, str], bytes]] = []
        me = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                me.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                code, headers = me.answers.pop(0) if me.answers else (204, {})
                self.send_response(code)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(b"" if code == 204 else f"answer {code}".encode())

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"

    def verified(self, secret: str) -> list[dict[str, Any]]:
        return [Webhook(secret).verify(body, headers) for headers, body in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
