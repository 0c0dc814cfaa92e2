"""Webhook endpoints for tests: one that answers from a script (by default 204 to everything), and
one that drips its answer."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook


class Endpoint:
    """A customer's endpoint (or a function's door) on 127.0.0.1, answering from a script (then
    204) and keeping every request. With `hold`, each request waits, once counted in `arrived`,
    until `release()`."""

    def __init__(self, *answers: tuple[int, dict[str, str]], hold: bool = False) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.calls: list[tuple[str, str]] = []  # each request's method and path
        self.arrived = threading.Semaphore(0)
        self.released = threading.Event()
        if not hold:
            self.released.set()
        me = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                me.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                me.calls.append((self.command, self.path))
                me.arrived.release()
                me.released.wait(30)
                code, headers = me.answers.pop(0) if me.answers else (204, {})
                self.send_response(code)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(b"" if code == 204 else f"answer {code}".encode())

            do_GET = do_POST  # a redirect may turn a POST into a GET

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"

    def verified(self, secret: str) -> list[dict[str, Any]]:
        """Every request, verified with the library a customer would use."""
        return [Webhook(secret).verify(body, headers) for headers, body in self.requests]

    def message_ids(self) -> list[str]:
        return [headers["webhook-id"] for headers, _ in self.requests]

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


class Dripper:
    """A hostile endpoint: reads what it is sent, then answers one byte every `every` seconds for
    as long as the client listens. `prefix` goes out at once (e.g. a whole status line and headers,
    to drip only the body). Counts the connections it took."""

    ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000

    def __init__(self, every: float = 0.5, prefix: bytes = b"") -> None:
        import socket

        self.every = every
        self.prefix = prefix
        self.connections = 0
        self.stopping = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hooks"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: Any) -> None:
        with conn:
            conn.settimeout(0.5)
            try:
                conn.recv(65536)  # the request (or a TLS client hello)
                if self.prefix:
                    conn.sendall(self.prefix)
                for byte in self.ANSWER[len(self.prefix) :]:
                    if self.stopping.wait(self.every):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                return

    def close(self) -> None:
        self.stopping.set()
        self.sock.close()
