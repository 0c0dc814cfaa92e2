"""Sending to a customer's endpoint for real: signed so the customer's library verifies it,
refused before any connection when the URL is unsafe, and connected to the address that was
checked, not to whatever the name resolves to a moment later."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from shared.net_guard import LOOPBACK
from shared.signing import new_secret
from shared.webhooks import post_to_endpoint
from tests.receiver import Receiver

pytestmark = pytest.mark.integration


@pytest.fixture
def hook() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_a_private_endpoint_is_refused_without_a_connection(hook):
    sent = post_to_endpoint(hook.url, new_secret(), "msg_1", "{}", 2.0)
    assert sent.status_code is None and not sent.ok
    assert sent.error is not None and sent.error.startswith("refused: 127.0.0.1 resolves to 127.0.0.1, a loopback")
    assert hook.requests == []


def test_allowed_for_local_development_it_is_delivered_signed(hook):
    secret = new_secret()
    sent = post_to_endpoint(hook.url, secret, "msg_2", '{"type":"video.ready"}', 2.0, allowed=LOOPBACK)
    assert sent.ok and sent.status_code == 204 and sent.latency_ms >= 0
    assert hook.events(secret) == [{"type": "video.ready"}]  # verified by standardwebhooks
    headers = hook.requests[0][0]
    assert headers["webhook-id"] == "msg_2" and headers["host"] == hook.url.split("/")[2]


def test_the_connection_goes_to_the_checked_address(hook, monkeypatch):
    """The name resolves once, to the receiver; the HTTP client never resolves it again."""
    port = int(hook.url.split(":")[2].split("/")[0])
    lookups: list[str] = []
    real = socket.getaddrinfo

    def fake_dns(host, *args, **kwargs):
        lookups.append(host)
        if host == "hooks.customer.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_dns)
    sent = post_to_endpoint(f"http://hooks.customer.test:{port}/in", new_secret(), "msg_3", "{}", 2.0, allowed=LOOPBACK)
    assert sent.ok, sent.error
    assert lookups.count("hooks.customer.test") == 1
    assert hook.requests[0][0]["host"] == f"hooks.customer.test:{port}"


def test_an_endpoint_that_does_not_answer_in_time_is_a_timeout():
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        sent = post_to_endpoint(f"http://127.0.0.1:{port}/", new_secret(), "msg_4", "{}", 0.5, allowed=LOOPBACK)
    assert sent.status_code is None and sent.error is not None and "Timeout" in sent.error
    assert 400 <= sent.latency_ms < 3000


def test_redirects_are_not_followed_and_retry_after_is_kept(monkeypatch):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            code = 307 if self.path == "/redirect" else 429
            self.send_response(code)
            self.send_header("Location", "http://169.254.169.254/")
            self.send_header("Retry-After", "30")
            self.end_headers()
            self.wfile.write(b"slow down " * 100)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        moved = post_to_endpoint(f"{base}/redirect", new_secret(), "m", "{}", 2.0, allowed=LOOPBACK)
        assert moved.status_code == 307 and moved.error == "HTTP 307"
        limited = post_to_endpoint(f"{base}/hook", new_secret(), "m", "{}", 2.0, allowed=LOOPBACK)
        assert limited.status_code == 429 and limited.retry_after == "30" and len(limited.body) == 500
    finally:
        server.shutdown()
        server.server_close()
