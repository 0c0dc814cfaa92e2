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
from tests.receiver import Dripper, Endpoint

pytestmark = pytest.mark.integration


@pytest.fixture
def hook() -> Iterator[Endpoint]:
    r = Endpoint()
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
    assert hook.verified(secret) == [{"type": "video.ready"}]  # verified by standardwebhooks
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
    assert sent.status_code is None and sent.error == "timed out: no complete answer within 0.5 s"
    assert 400 <= sent.latency_ms < 3000


@pytest.mark.parametrize(
    "stage, prefix",
    [
        ("the status line", b""),
        ("the headers", b"HTTP/1.1 200 OK\r\nX-Slow: "),
        ("the body", b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"),
    ],
)
def test_a_dripping_endpoint_is_cut_off_at_the_deadline(stage, prefix):
    """One byte every 0.2 s resets any per-read timeout for ever; the send still ends on time."""
    dripper = Dripper(every=0.2, prefix=prefix)
    try:
        sent = post_to_endpoint(dripper.url, new_secret(), "msg_drip", "{}", 1.0, allowed=LOOPBACK)
    finally:
        dripper.close()
    assert dripper.connections == 1
    assert sent.status_code is None and sent.error == "timed out: no complete answer within 1 s", stage
    assert 900 <= sent.latency_ms < 2500, stage


def test_with_the_production_settings_a_dripping_endpoint_holds_a_send_no_longer_than_its_claim_allows():
    """notify's own sender, as configured by default: the send ends at the deadline, and the
    claim of its event outlasts it, so a live send is never taken for a dead one."""
    from shared.config import NotifySettings
    from shared.usecases.notify import claim_seconds
    from shared.webhooks import EndpointSender

    settings = NotifySettings()
    dripper = Dripper(every=1.0, prefix=b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    try:
        sent = EndpointSender(settings.webhook_timeout_seconds, LOOPBACK).send(dripper.url, new_secret(), "m", "{}")
    finally:
        dripper.close()
    limit = settings.webhook_timeout_seconds
    assert sent.error == f"timed out: no complete answer within {limit:g} s"
    assert limit * 1000 - 100 <= sent.latency_ms < limit * 1000 + 1500 < claim_seconds(settings) * 1000


def test_a_dripping_tls_handshake_is_cut_off_at_the_deadline():
    dripper = Dripper(every=0.2, prefix=b"\x16\x03\x03\x40\x00")  # a TLS record of 16 KiB, dripped
    try:
        url = dripper.url.replace("http://", "https://")
        sent = post_to_endpoint(url, new_secret(), "msg_drip", "{}", 1.0, allowed=LOOPBACK)
    finally:
        dripper.close()
    assert dripper.connections == 1
    assert sent.error == "timed out: no complete answer within 1 s" and sent.latency_ms < 2500


def test_tls_verifies_the_url_host_name_while_connecting_to_the_checked_address(tmp_path, monkeypatch):
    """HTTPS to the resolved address, with SNI and certificate checks against the URL's name."""
    import ssl
    import subprocess
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=hooks.customer.test",
         "-addext", "subjectAltName=DNS:hooks.customer.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_port
    real = socket.getaddrinfo

    def fake_dns(host, *args, **kwargs):
        if host in ("hooks.customer.test", "other.customer.test"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_dns)
    try:
        untrusted = post_to_endpoint(f"https://hooks.customer.test:{port}/", new_secret(), "m", "{}", 3.0, LOOPBACK)
        assert untrusted.error is not None and "CERTIFICATE_VERIFY_FAILED" in untrusted.error
        monkeypatch.setattr("shared.webhooks.certifi.where", lambda: str(cert))
        trusted = post_to_endpoint(f"https://hooks.customer.test:{port}/", new_secret(), "m", "{}", 3.0, LOOPBACK)
        assert trusted.status_code == 202 and trusted.ok, trusted.error
        wrong_name = post_to_endpoint(f"https://other.customer.test:{port}/", new_secret(), "m", "{}", 3.0, LOOPBACK)
        assert wrong_name.error is not None and "CERTIFICATE_VERIFY_FAILED" in wrong_name.error
    finally:
        server.shutdown()
        server.server_close()


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
