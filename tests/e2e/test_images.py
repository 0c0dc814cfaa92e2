"""Each function as the cloud runtime runs it: its own image (built here from a Debian base made
with mmdebstrap, as no registry is reachable), its own filesystem and dependencies, a non-root
user, configuration only from the environment, the database reached through pgbouncer in
transaction mode. The dispatcher (a session: LISTEN) connects directly and posts the events to
the four containers over HTTP; uploads go to `ready`.

The base image stays in podman's store between runs; a clean run (base and four images) takes a
few minutes, a run after a code change well under one (the dependency layers are kept)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from infra import REPO_ROOT
from infra.images import IMAGES, ULIMITS, build, local_base, podman, run_command
from infra.local.postgres import free_port
from shared.adapters.whisper_model import MODEL_NAME
from shared.signing import new_secret
from tests.integration.doors import USER, upload

pytestmark = pytest.mark.e2e

STORAGE_IN_CONTAINER = "/data"
MODEL_DIR = f"/opt/vidpipe/models/{MODEL_NAME}"


@pytest.fixture(scope="module")
def images() -> dict[str, str]:
    base = local_base()
    return {name: build(name, base=base, tag=f"localhost/vidpipe-{name.replace('_', '-')}:test") for name in IMAGES}


@pytest.fixture
def storage() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="vidpipe-images-storage-"))
    for bucket in ("uploads", "derived"):
        (root / bucket).mkdir()
    for path in (root, root / "uploads", root / "derived"):
        os.chmod(path, 0o777)  # noqa: S103  # the containers' user (uid 10001) writes here
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def running(images, storage, db_url, pooler, tmp_path) -> Iterator[dict[str, Any]]:
    """The four containers on loopback ports, and the dispatcher posting to them."""
    secret = new_secret()
    ports = {name: free_port() for name in images}
    urls = {name: f"http://127.0.0.1:{port}/" for name, port in ports.items()}
    started: dict[str, float] = {}
    containers: list[tuple[str, subprocess.Popen[bytes]]] = []
    tag = f"t{os.getpid()}"
    for name, image in images.items():
        env = {
            "PORT": str(ports[name]),
            "HOST": "127.0.0.1",
            "VIDPIPE_DATABASE_URL": pooler.pooled(db_url),
            "VIDPIPE_EVENT_SECRET": secret,
            "VIDPIPE_STORAGE_BACKEND": "local",
            "VIDPIPE_STORAGE_ROOT": STORAGE_IN_CONTAINER,
        }
        container = f"vidpipe-{name.replace('_', '-')}-{tag}"
        started[name] = time.monotonic()
        with open(tmp_path / f"{container}.log", "wb") as log:
            proc = subprocess.Popen(
                run_command(image, container, env, {storage: STORAGE_IN_CONTAINER}),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        containers.append((container, proc))
    healthy = {name: wait_healthy(urls[name], started[name]) for name in images}
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("select public.configure_delivery('dispatcher', %s, %s)", (Jsonb(urls), secret))
    dispatcher = subprocess.Popen(
        [sys.executable, "-m", "infra.dispatcher"],
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "VIDPIPE_DATABASE_URL": db_url,  # LISTEN needs a session: the direct URL
            "VIDPIPE_EVENT_SECRET": secret,
            "VIDPIPE_FUNCTION_URLS": json.dumps(urls),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield {"healthy_after": healthy, "containers": containers, "logs": tmp_path}
    finally:
        dispatcher.terminate()
        dispatcher.wait(10)
        for container, proc in containers:
            podman("stop", "-t", "10", container)
            proc.wait(30)


def logs(running: dict[str, Any]) -> str:
    """What the containers printed, for a failure's message."""
    return "\n".join(
        f"{name}: " + (running["logs"] / f"{name}.log").read_text(errors="replace")[-1500:]
        for name, _ in running["containers"]
    )


def wait_healthy(url: str, since: float, timeout: float = 60) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "healthz", timeout=1).status_code == 200:
                return time.monotonic() - since
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} did not answer /healthz within {timeout} s")


def wait_for_status(conn: Any, object_id: Any, statuses: set[str], timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row: dict[str, Any] | None = conn.execute(
            "select j.* from processing_jobs j join videos v on v.id = j.video_id where v.object_id = %s",
            (object_id,),
        ).fetchone()
        if row is not None and row["status"] in statuses:
            return row
        time.sleep(0.2)
    raise AssertionError(f"the job did not reach {statuses} within {timeout} s: {row}")


def test_the_images_hold_only_what_each_function_needs(images):
    def has(image: str, command: str) -> bool:
        return podman("run", "--rm", *ULIMITS, "--network=host", image, "sh", "-c", f"command -v {command} || :") != ""

    assert [name for name, image in images.items() if has(image, "ffprobe")] == [
        "ingest",
        "process",
        "generate_metadata",
    ]
    user = json.loads(podman("image", "inspect", images["notify"]))[0]["Config"]["User"]
    assert user == "10001"
    listing = podman("run", "--rm", *ULIMITS, "--network=host", images["generate_metadata"], "ls", MODEL_DIR)
    assert set(listing.split()) == {"config.json", "model.bin", "tokenizer.json", "vocabulary.txt"}


def test_uploads_go_to_ready_through_the_four_containers(running, storage, db_url, clips):
    with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as conn:
        speech = upload(conn, storage, clips["speech"], f"{USER}/talk.mp4")
        broken = upload(conn, storage, clips["plain"], f"{USER}/broken.mp4")
        (storage / "uploads" / f"{USER}/broken.mp4").write_bytes(b"not a video at all")
        done = wait_for_status(conn, speech["id"], {"ready", "failed"})
        assert done["status"] == "ready", (done["reason_code"], done["last_error"], logs(running))
        failed = wait_for_status(conn, broken["id"], {"ready", "failed"})
        assert failed["status"] == "failed" and failed["reason_code"] == "not_a_video", failed["last_error"]
        document = conn.execute(
            "select m.document from video_metadata m join videos v on v.id = m.video_id where v.object_id = %s",
            (speech["id"],),
        ).fetchone()
        artifacts = conn.execute("select kind, bucket, path from video_artifacts").fetchall()
    assert document["document"]["transcript"]["speech"] is True
    assert {a["kind"] for a in artifacts} >= {"proxy", "poster", "audio", "transcript", "captions_vtt"}
    for a in artifacts:
        assert (storage / a["bucket"] / a["path"]).is_file()
