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
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from infra.cli import wait_for_end
from infra.images import IMAGES, ULIMITS, ContainerStack, build, local_base, podman
from shared.adapters.whisper_model import MODEL_NAME
from tests.integration.doors import USER, upload

# The first test builds the images: on a machine whose podman store is empty (the base from the
# Debian mirrors, four images' packages from Debian and PyPI) that alone outlasts the suite's
# 300 s per test; after a code change it takes well under a minute.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

MODEL_DIR = f"/opt/vidpipe/models/{MODEL_NAME}"


@pytest.fixture(scope="module")
def images() -> Iterator[dict[str, str]]:
    base = local_base()
    yield {name: build(name, base=base, tag=f"localhost/vidpipe-{name.replace('_', '-')}:test") for name in IMAGES}
    podman("image", "prune", "-f")  # the layers earlier builds left untagged; the cache stays


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
def running(images, storage, db_url, pooler, tmp_path) -> Iterator[ContainerStack]:
    with ContainerStack(images, db_url, pooler.pooled(db_url), storage, tmp_path) as stack:
        yield stack


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
        done = wait_for_end(conn, speech["id"], 240)
        assert done["status"] == "ready", (done["reason_code"], done["last_error"], running.log_tails())
        failed = wait_for_end(conn, broken["id"], 240)
        assert failed["status"] == "failed" and failed["reason_code"] == "not_a_video", failed["last_error"]
        document = conn.execute(
            "select m.document from video_metadata m join videos v on v.id = m.video_id where v.object_id = %s",
            (speech["id"],),
        ).fetchone()
        artifacts = conn.execute("select kind, bucket, path from video_artifacts").fetchall()
    assert document["document"]["transcript"]["speech"] is True
    assert {podman("exec", name, "id", "-u") for name in running.names.values()} == {"10001"}
    cpu, peak_mb = running.usage("process")
    assert cpu > 0.5 and peak_mb > 50  # it decoded and encoded a clip
    assert {a["kind"] for a in artifacts} >= {"proxy", "poster", "audio", "transcript", "captions_vtt"}
    for a in artifacts:
        assert (storage / a["bucket"] / a["path"]).is_file()
