"""The whole pipeline on the embedded stack: Postgres, the dispatcher and the four functions
as separate processes over real HTTP, driven through the CLI like a user would."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row
from standardwebhooks.webhooks import Webhook

from infra.cli import upload, wait_for_job
from infra.local.postgres import REPO_ROOT
from infra.local.stack import LOCAL_USER_ID, LocalStack, StackState, process_alive
from shared.media.probe import probe

pytestmark = pytest.mark.e2e


class Receiver:
    """A customer's webhook endpoint: keeps every request it gets."""

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

    def events(self, secret: str) -> list[dict]:
        return [Webhook(secret).verify(body, headers) for headers, body in self.requests]


@pytest.fixture(scope="module")
def home() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="vidpipe-e2e-"))
    yield path
    LocalStack(path).down()


@pytest.fixture(scope="module")
def stack(home) -> StackState:
    return LocalStack(home, extra_env={"VIDPIPE_RETRY_BASE_SECONDS": "1"}).up()


@pytest.fixture(scope="module")
def receiver(stack) -> tuple[Receiver, str]:
    hook = Receiver()
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        row = conn.execute("insert into webhook_endpoints (owner_id, url) values (%s, %s) returning secret",
                           (LOCAL_USER_ID, hook.url)).fetchone()
    assert row is not None
    return hook, row[0]


def cli(home: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "infra.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO_ROOT, env={**os.environ, "VIDPIPE_HOME": str(home)}, check=False)


def deliveries_for(hook: Receiver, secret: str, job_id: str) -> list[dict]:
    return [e for e in hook.events(secret) if e["data"]["job_id"] == job_id]


def test_upload_becomes_ready_with_a_document_matching_ffprobe(home, stack, receiver, clips):
    hook, secret = receiver
    result = cli(home, "process", str(clips["plain"]), "--json", "--timeout", "120")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    source = probe(clips["plain"])
    fmt, video = source["format"], next(s for s in source["streams"] if s["codec_type"] == "video")
    audio = next(s for s in source["streams"] if s["codec_type"] == "audio")
    tech = doc["technical"]
    assert tech["duration_seconds"] == pytest.approx(float(fmt["duration"]))
    assert tech["size_bytes"] == int(fmt["size"])
    streams = {s["kind"]: s for s in tech["streams"]}
    assert (streams["video"]["codec"], streams["video"]["width"], streams["video"]["height"]) == \
        (video["codec_name"], video["width"], video["height"])
    assert (streams["audio"]["codec"], streams["audio"]["sample_rate"]) == (audio["codec_name"],
                                                                           int(audio["sample_rate"]))
    for part in ("poster", "proxy", "audio"):
        stored = stack.storage_root / doc[part]["bucket"] / doc[part]["path"]
        assert stored.stat().st_size == doc[part]["bytes"]
    assert probe(stack.storage_root / doc["proxy"]["bucket"] / doc["proxy"]["path"])["format"]["duration"]
    for stage in ("queued", "ready", "notified"):
        assert stage in result.stderr

    events = deliveries_for(hook, secret, doc["job_id"])
    assert [e["type"] for e in events] == ["video.ready"]  # signature verified by the library
    assert events[0]["data"]["video_id"] == doc["video_id"]


def test_a_non_video_fails_with_a_reason_and_is_announced(home, stack, receiver, tmp_path):
    hook, secret = receiver
    junk = tmp_path / "notes.mp4"
    junk.write_bytes(b"this is not a video at all\n" * 100)
    result = cli(home, "process", str(junk), "--timeout", "60")
    assert result.returncode == 3, result.stderr
    assert "not_a_video" in result.stderr and "Traceback" not in result.stderr
    with psycopg.connect(stack.database_url, row_factory=dict_row) as conn:
        job = conn.execute("select j.* from processing_jobs j join videos v on v.id = j.video_id "
                           "where v.path like %s", ("%notes.mp4",)).fetchone()
    assert job is not None and (job["status"], job["reason_code"]) == ("failed", "not_a_video")
    events = deliveries_for(hook, secret, str(job["id"]))
    assert [e["type"] for e in events] == ["video.failed"]
    assert events[0]["data"]["reason"] == "not_a_video"
    stored = next((stack.storage_root / "uploads").rglob("*notes.mp4"))
    assert stored.read_bytes() == junk.read_bytes()  # the original is untouched


def test_concurrent_uploads_each_end_ready_once(stack, receiver, clips):
    hook, secret = receiver
    sources = [clips["plain"], clips["rotated"], clips["silent"]]
    object_ids = [upload(stack, src) for src in sources]
    with ThreadPoolExecutor(len(object_ids)) as pool:
        jobs = list(pool.map(lambda oid: wait_for_job(stack, oid, 120), object_ids))
    assert all(j is not None and j["status"] == "ready" for j in jobs), jobs
    with psycopg.connect(stack.database_url, row_factory=dict_row) as conn:
        for job in jobs:
            assert job is not None
            meta = conn.execute("select count(*) as n from video_metadata where video_id = %s",
                                (job["video_id"],)).fetchone()
            assert meta is not None and meta["n"] == 1
            kinds = [r["kind"] for r in conn.execute(
                "select kind from video_artifacts where video_id = %s order by kind", (job["video_id"],))]
            assert kinds == (["poster", "proxy"] if job["path"].endswith("silent.mp4")
                             else ["audio", "poster", "proxy"])
            assert len(deliveries_for(hook, secret, str(job["id"]))) == 1


def test_status_lists_jobs_and_usage_errors_exit_2(home, stack):
    listing = cli(home, "status", timeout=60)
    assert listing.returncode == 0 and "ready" in listing.stdout
    assert cli(home, "process", "/no/such/file.mp4", timeout=60).returncode == 2


def test_a_killed_function_restarted_serves_again(home, stack, clips):
    local = LocalStack(home)
    state = local.state()
    assert state is not None
    os.killpg(state.pids["process"], signal.SIGKILL)
    local.restart("process")
    job = wait_for_job(stack, upload(stack, clips["silent"]), 120)
    assert job is not None and job["status"] == "ready"
    assert local.running() is not None


def test_status_of_one_job_shows_its_history(home, stack):
    with psycopg.connect(stack.database_url, row_factory=dict_row) as conn:
        job = conn.execute("select id from processing_jobs where status = 'ready' limit 1").fetchone()
    assert job is not None
    shown = cli(home, "status", str(job["id"]), timeout=60)
    assert shown.returncode == 0, shown.stderr
    for status in ("queued", "processing", "processed", "describing", "ready"):
        assert status in shown.stdout
    assert cli(home, "status", "not-a-job", timeout=60).returncode == 2


def test_up_is_idempotent_and_down_stops_everything(home, stack):
    # Last in this module: it stops the stack the other tests share.
    again = cli(home, "up", timeout=60)
    assert again.returncode == 0 and str(stack.pg_port) in again.stderr  # the same stack, not a new one
    assert cli(home, "down", timeout=60).returncode == 0
    assert LocalStack(home).running() is None
    assert all(not process_alive(pid) for pid in stack.pids.values())
    assert cli(home, "status", timeout=60).returncode == 1
