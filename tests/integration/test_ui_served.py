"""The results page as it is served (`python -m infra.ui`, a real process on a real port) against
a hostile neighbour on the machine, with the production defaults: a request is judged on its
headers before a byte of its body is stored, an upload is written straight to where it is kept,
slow clients cannot stall the page, and a user's file never runs on the page's origin."""

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests
from psycopg.rows import dict_row

from infra import REPO_ROOT
from infra.local.stack import wait_for_port
from shared.config import Settings
from tests.integration.test_door_server import ask, free_port, status_of

pytestmark = pytest.mark.integration

ME = "00000000-0000-4000-8000-000000000001"
KEY = "a-key-for-this-start"
DEFAULTS = Settings()


class Page:
    def __init__(self, port: int, storage: Path, log: Path, db_url: str) -> None:
        self.port, self.storage, self.log, self.db_url = port, storage, log, db_url
        self.url = f"http://127.0.0.1:{port}"

    def login(self) -> requests.Session:
        session = requests.Session()
        opened = session.get(f"{self.url}/?key={KEY}", allow_redirects=False, timeout=10)
        assert opened.status_code == 302
        return session

    def partial_files(self) -> list[Path]:
        return list((self.storage / ".partial").glob("*"))


@pytest.fixture
def page(db_url: str, tmp_path: Path) -> Iterator[Page]:
    port, storage, log = free_port(), tmp_path / "storage", tmp_path / "ui.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDPIPE_")}  # the production defaults
    env.update(
        VIDPIPE_DATABASE_URL=db_url,
        VIDPIPE_STORAGE_ROOT=str(storage),
        VIDPIPE_UI_KEY=KEY,
        VIDPIPE_UI_OWNER=ME,
        TMPDIR=str(tmp_path / "tmp"),  # where waitress would buffer a body
        PYTHONUNBUFFERED="1",
    )
    (tmp_path / "tmp").mkdir()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "infra.ui", "--port", str(port)], cwd=REPO_ROOT, env=env, stdout=out, stderr=out
        )
    wait_for_port(port, 30, "the results page", log)
    yield Page(port, storage, log, db_url)
    proc.terminate()
    proc.wait(10)


def test_a_body_is_refused_on_its_headers_before_any_of_it_is_stored(page, tmp_path):
    huge = 1536 * 1024**2
    for headers, status in (
        (f"Host: evil.example:{page.port}", 421),  # a rebound name, no login
        (f"Host: 127.0.0.1:{page.port}", 401),  # no login
        (f"Host: 127.0.0.1:{page.port}\r\nCookie: vidpipe_ui_{page.port}={KEY}", 401),  # the key is no login
    ):
        with socket.create_connection(("127.0.0.1", page.port), timeout=5) as s:
            s.sendall(f"POST /api/uploads?name=x.mp4 HTTP/1.1\r\n{headers}\r\nContent-Length: {huge}\r\n\r\n".encode())
            assert status_of(s.recv(4096)) == status  # at once: not after 1.5 GiB of body
    stored = [p for p in (tmp_path / "tmp").rglob("*") if p.is_file()] + page.partial_files()
    assert stored == []


def test_an_upload_is_written_where_it_is_kept_as_it_arrives(page):
    session = page.login()
    cookie = session.cookies.get(f"vidpipe_ui_{page.port}")
    size = 8 * 1024**2
    with socket.create_connection(("127.0.0.1", page.port), timeout=10) as s:
        s.sendall(
            f"POST /api/uploads?name=clip.mp4 HTTP/1.1\r\nHost: 127.0.0.1:{page.port}\r\n"
            f"Cookie: vidpipe_ui_{page.port}={cookie}\r\nContent-Type: video/mp4\r\n"
            f"Content-Length: {size}\r\n\r\n".encode()
        )
        s.sendall(b"v" * (size // 2))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(p.stat().st_size >= size // 2 for p in page.partial_files()):
            time.sleep(0.05)
        assert [p.stat().st_size for p in page.partial_files()] == [size // 2]  # beside the bucket, 0600
        assert [p.stat().st_mode & 0o777 for p in page.partial_files()] == [0o600]
        s.sendall(b"v" * (size - size // 2))
        answer = ask_rest(s)
    assert status_of(answer) == 201
    stored = list((page.storage / "uploads" / ME).glob("*-clip.mp4"))
    assert len(stored) == 1 and stored[0].stat().st_size == size
    gone_within(page, 10)  # the received file, once the request is closed: the stored one is its link
    assert stored[0].stat().st_nlink == 1


def gone_within(page: Page, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and page.partial_files():
        time.sleep(0.05)
    assert page.partial_files() == []


def ask_rest(s: socket.socket) -> bytes:
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += s.recv(4096)
    return answer


def test_an_upload_cut_off_leaves_nothing_behind(page):
    cookie = page.login().cookies.get(f"vidpipe_ui_{page.port}")
    with socket.create_connection(("127.0.0.1", page.port), timeout=10) as s:
        s.sendall(
            f"POST /api/uploads?name=cut.mp4 HTTP/1.1\r\nHost: 127.0.0.1:{page.port}\r\n"
            f"Cookie: vidpipe_ui_{page.port}={cookie}\r\nContent-Length: 1000000\r\n\r\n".encode()
        )
        s.sendall(b"v" * 1000)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not page.partial_files():
            time.sleep(0.05)
        assert page.partial_files()
    gone_within(page, 10)
    assert not list((page.storage / "uploads").rglob("*cut.mp4"))


def test_slow_clients_do_not_stall_the_page(page):
    """More connections than the server keeps, each sending a header line every 2 s: the
    request deadline drops them, and the page answers within it."""
    stop = threading.Event()
    dripping: list[socket.socket] = []

    def drip() -> None:
        while not stop.is_set():
            for s in list(dripping):
                try:
                    s.sendall(b"X-Drip: a\r\n")
                except OSError:
                    dripping.remove(s)
            stop.wait(2)

    for _ in range(DEFAULTS.door_connections + 10):
        s = socket.create_connection(("127.0.0.1", page.port), timeout=5)
        s.sendall(f"GET /api/videos HTTP/1.1\r\nHost: 127.0.0.1:{page.port}\r\n".encode())
        dripping.append(s)
    threading.Thread(target=drip, daemon=True).start()
    try:
        began = time.monotonic()
        answer = ask(page.port, f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{page.port}\r\n\r\n".encode(), timeout=30)
        assert status_of(answer) == 401  # answered (no login), while the attack goes on
        assert time.monotonic() - began < DEFAULTS.door_request_seconds + 5
    finally:
        stop.set()
        for s in dripping:
            s.close()


def test_a_users_html_svg_or_script_never_runs_on_the_pages_origin(page):
    session = page.login()
    files = {"page.html": b"<script>fetch('/api/videos')</script>", "image.svg": b"<svg onload='alert(1)'/>"}
    files["code.js"] = b"fetch('/api/videos')"
    with psycopg.connect(page.db_url, autocommit=True, row_factory=dict_row) as conn:
        for name, data in files.items():
            path = f"{ME}/{name}"
            (page.storage / "uploads" / ME).mkdir(parents=True, exist_ok=True)
            (page.storage / "uploads" / path).write_bytes(data)
            oid = conn.execute(
                "insert into storage.objects (bucket_id, name, owner) values ('uploads', %s, %s) returning id",
                (path, ME),
            ).fetchone()["id"]
            conn.execute("select create_job(%s, %s, 'uploads', %s, 10, 'video/mp4', 3)", (oid, ME, path))
    for name, data in files.items():
        served = session.get(f"{page.url}/files/uploads/{ME}/{name}", timeout=10)
        assert served.status_code == 200 and served.content == data
        assert served.headers["Content-Type"] == "application/octet-stream"
        assert served.headers["Content-Disposition"].startswith("attachment")
        assert served.headers["Content-Security-Policy"].startswith("sandbox")


def test_a_nul_in_a_file_path_is_not_found_and_logs_no_traceback(page):
    session = page.login()
    assert session.get(f"{page.url}/files/uploads/{ME}/a%00b.mp4", timeout=10).status_code == 404
    assert "Traceback" not in page.log.read_text()


def test_a_login_is_not_the_key_and_is_named_for_the_port(page):
    opened = requests.get(f"{page.url}/?key={KEY}", allow_redirects=False, timeout=10)
    cookie = opened.headers["Set-Cookie"]
    assert cookie.startswith(f"vidpipe_ui_{page.port}=") and KEY not in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and f"Max-Age={8 * 3600}" in cookie
