"""Sending a signed Standard Webhooks request: to customers' endpoints (notify; only to public
addresses, connecting to the address that was checked) and between our own components (the
dispatcher, to the functions' configured URLs)."""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Sequence

import certifi
import requests

from shared.models import PostAnswer
from shared.net_guard import RESOLVE_SECONDS, IPNetwork, Target, UnsafeUrl, resolve
from shared.signing import sign_headers

MAX_ERROR_CHARS = 500


def post_signed(
    session: requests.Session, url: str, secret: str, message_id: str, body: str, timeout: float
) -> PostAnswer:
    """POST body to url, signed; never raises for network trouble, never follows redirects."""
    headers = sign_headers(secret, message_id, body)
    started = time.monotonic()
    try:
        response = session.post(url, data=body.encode(), headers=headers, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        return PostAnswer(None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS], _ms(started))
    error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    return PostAnswer(response.status_code, error, _ms(started), response.text[:MAX_ERROR_CHARS])


def post_to_endpoint(
    url: str, secret: str, message_id: str, body: str, timeout: float, allowed: Sequence[IPNetwork] = ()
) -> PostAnswer:
    """POST to a customer's URL, signed, after resolving it and refusing private addresses; the
    connection goes to the checked address (TLS still verifies the URL's host name).

    `timeout` bounds the whole send by the wall clock: resolving, connecting, the TLS handshake,
    the request, the answer's headers and its first bytes. Socket timeouts alone bound each read,
    so a peer dripping a byte a second would hold a send for ever; a watchdog shuts the socket
    when the time is up instead."""
    started = time.monotonic()
    try:
        target = resolve(url, allowed, within=min(RESOLVE_SECONDS, timeout))
    except UnsafeUrl as exc:
        return PostAnswer(None, f"refused: {exc}"[:MAX_ERROR_CHARS], _ms(started), refused=True)
    headers = {**sign_headers(secret, message_id, body), "Host": target.host_header, "User-Agent": "vidpipe-webhooks/1"}
    left = timeout - (time.monotonic() - started)
    conn = http.client.HTTPConnection(target.host, target.port)
    with _Watchdog(left) as watchdog:
        try:
            conn.sock = _connect(target, watchdog, left)
            conn.request("POST", target.path, body=body.encode(), headers=headers)
            response = conn.getresponse()
            text = response.read(MAX_ERROR_CHARS * 4).decode("utf-8", "replace")
        except (OSError, http.client.HTTPException, ValueError) as exc:
            failure: str | None = f"{type(exc).__name__}: {exc}"
        else:
            failure = None
        finally:
            conn.close()  # a failed send's socket too
    if watchdog.expired:  # whatever was made of an answer cut short
        return PostAnswer(None, f"timed out: no complete answer within {timeout:g} s", _ms(started))
    if failure is not None:
        return PostAnswer(None, failure[:MAX_ERROR_CHARS], _ms(started))
    status = response.status
    error = None if 200 <= status < 300 else f"HTTP {status}"
    retry_after = response.getheader("Retry-After")
    return PostAnswer(status, error, _ms(started), text[:MAX_ERROR_CHARS], retry_after=retry_after)


def _connect(target: Target, watchdog: _Watchdog, timeout: float) -> socket.socket:
    """A socket to the checked address (TLS when https), watched from before the handshake."""
    sock = socket.create_connection((target.addresses[0], target.port), timeout=max(timeout, 0.001))
    watchdog.watch(sock)
    if target.scheme != "https":
        return sock
    context = ssl.create_default_context(cafile=certifi.where())
    return context.wrap_socket(sock, server_hostname=target.host)


class _Watchdog:
    """Shuts a socket down when the time is up, which ends any read or write blocked on it."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._timer = threading.Timer(max(seconds, 0.0), self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._timer.cancel()
        with self._lock:
            if self._sock is not None:
                self._sock.close()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            # A duplicate descriptor of the same socket: TLS wrapping takes the original over.
            self._sock = sock.dup()
            if self.expired:
                self._sock.shutdown(socket.SHUT_RDWR)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            if self._sock is not None:
                with contextlib.suppress(OSError):
                    self._sock.shutdown(socket.SHUT_RDWR)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


class EndpointSender:
    """The WebhookSender port: customers' endpoints, public addresses only unless configured."""

    def __init__(self, timeout: float, allowed: Sequence[IPNetwork]) -> None:
        self.timeout = timeout
        self.allowed = allowed

    def send(self, url: str, secret: str, message_id: str, body: str) -> PostAnswer:
        return post_to_endpoint(url, secret, message_id, body, self.timeout, self.allowed)
