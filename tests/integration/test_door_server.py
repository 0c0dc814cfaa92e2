"""A function's door, served the way the stack and the containers serve it (`python -m
shared.serve`, a real process on a real port), against slow and huge requests, with the
production defaults: slow clients hold connections, never workers; a request line of megabytes
is refused after a few kilobytes; a request dripping for longer than its deadline is dropped."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra import REPO_ROOT
from infra.local.stack import wait_for_port
from shared.config import Settings
from shared.signing import new_secret

pytestmark = pytest.mark.integration

DEFAULTS = Settings()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def door() -> Iterator[int]:
    port = free_port()
    # The address as a container's runtime gives it: in the environment.
    env = {**os.environ, "VIDPIPE_EVENT_SECRET": new_secret(), "PYTHONUNBUFFERED": "1", "HOST": "127.0.0.1"}
    env["PORT"] = str(port)
    for key in [k for k in env if k.startswith("VIDPIPE_DOOR_")]:
        del env[key]  # the production defaults
    proc = subprocess.Popen(
        [sys.executable, "-m", "shared.serve", "--target", "notify", "--source",
         str(REPO_ROOT / "functions" / "notify" / "main.py")],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    wait_for_port(port, 30, "the door", Path(os.devnull))  # its output is piped
    yield port
    proc.terminate()
    proc.wait(10)


def ask(port: int, request: bytes, timeout: float = 10.0) -> bytes:
    """The whole answer: its headers, then as many bytes as Content-Length says (they may come
    in a later segment than the headers), or whatever arrives before the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
            head, found, body = answer.partition(b"\r\n\r\n")
            if found and len(body) >= _content_length(head):
                break
        return answer


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_the_health_answer(door):
    answer = ask(door, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(answer) == 200 and answer.endswith(b'{"function": "notify", "status": "ok"}')
    assert status_of(ask(door, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")) == 405  # events are POSTed


def test_slow_clients_hold_connections_not_workers(door):
    """Twice as many dripping clients as workers: a request still gets its answer."""
    slow = []
    for _ in range(2 * DEFAULTS.door_threads):
        s = socket.create_connection(("127.0.0.1", door))
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        slow.append(s)
    try:
        answer = ask(door, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", timeout=5)
        assert status_of(answer) == 405  # the door answered: no worker was held
    finally:
        for s in slow:
            s.close()


def test_a_huge_request_line_is_refused_after_a_few_kilobytes(door):
    with socket.create_connection(("127.0.0.1", door), timeout=10) as s:
        s.sendall(b"GET /" + b"a" * (DEFAULTS.door_max_header_bytes + 1024))
        sent = 0
        try:  # a 16 MB line: the door answers and hangs up long before the end
            for _ in range(1024):
                s.sendall(b"a" * 16384)
                sent += 16384
        except OSError:
            pass
        answer = s.recv(4096)
    assert sent < 16 * 1024**2
    assert status_of(answer) == 431


def test_a_body_over_the_limit_is_refused_unread(door):
    size = DEFAULTS.max_event_bytes + 1
    answer = ask(door, f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode())
    assert status_of(answer) == 413


def test_a_request_that_drips_past_its_deadline_is_dropped(door):
    """One header byte a second keeps the connection active: the whole-request deadline ends it."""
    with socket.create_connection(("127.0.0.1", door), timeout=1) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Drip: ")
        began = time.monotonic()
        closed_after = None
        while time.monotonic() - began < DEFAULTS.door_request_seconds + 10:
            try:
                s.sendall(b"a")
                if s.recv(4096) == b"":
                    closed_after = time.monotonic() - began
                    break
            except TimeoutError:
                continue
            except OSError:
                closed_after = time.monotonic() - began
                break
    assert closed_after is not None, "the dripping request was never dropped"
    assert DEFAULTS.door_request_seconds - 1 <= closed_after <= DEFAULTS.door_request_seconds + 5
