"""The whole pipeline on the embedded stack: Postgres, the dispatcher and the four functions
as separate processes over real HTTP, driven through the CLI like a user would."""

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import requests
from psycopg.rows import dict_row

from infra import REPO_ROOT
from infra.cli import upload, wait_for_job
from infra.clips import make_speech_clip
from infra.local.postgres import PostgresCluster
from infra.local.stack import LOCAL_USER_ID, LocalStack, StackState, process_alive
from shared.media.confine import OUTPUT_FORMATS
from shared.media.probe import probe
from shared.signing import sign_headers
from tests.bad_inputs import BAD_FILES, CAUGHT_IN_PROCESS, LIMITS_ENV, make_bad_files, plant_other_owners_video
from tests.media_checks import decodes, vtt_cues
from tests.receiver import Endpoint

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def home() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="vidpipe-e2e-"))
    yield path
    LocalStack(path).destroy()


@pytest.fixture(scope="module")
def stack(home) -> StackState:
    # Three deliveries a second or two apart: an unreachable function gives up within seconds.
    return LocalStack(
        home,
        extra_env={"VIDPIPE_HLS_ENABLED": "true", "VIDPIPE_CHAPTER_MIN_SECONDS": "5", **LIMITS_ENV},
        policy={"backoff_base_seconds": 1, "max_attempts": 3},
    ).up()


@pytest.fixture(scope="module")
def receiver(stack) -> tuple[Endpoint, str]:
    hook = Endpoint()
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        row = conn.execute(
            "insert into webhook_endpoints (owner_id, url) values (%s, %s) returning secret", (LOCAL_USER_ID, hook.url)
        ).fetchone()
    assert row is not None
    return hook, row[0]


def cli(home: Path, *args: str, timeout: float = 180, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIDPIPE_HOME": str(home), "COLUMNS": "250", **extra_env}  # wide tables: no wrapped words
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
        env=env,
        check=False,
    )


def wait_until_ready(stack: StackState, job_id: object, timeout: float) -> dict | None:
    """A retried job, followed until it is ready (and so announced); its last row if time runs out."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(stack.database_url, autocommit=True, row_factory=dict_row) as conn:
        while True:
            row = conn.execute("select * from processing_jobs where id = %s", (job_id,)).fetchone()
            if (row is not None and row["status"] == "ready") or time.monotonic() > deadline:
                return row
            time.sleep(0.2)


def deliveries_for(hook: Endpoint, secret: str, job_id: str, count: int = 0, timeout: float = 15) -> list[dict]:
    """The job's events at the receiver, verified with the customer's library, in the order they
    happened; waits (webhooks are sent after the job moves on) until there are `count` of them."""
    deadline = time.monotonic() + timeout
    while True:
        events = sorted(
            (e for e in hook.verified(secret) if e["data"].get("job_id") == job_id), key=lambda e: e["timestamp"]
        )
        if len(events) >= count or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


def types(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


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
    assert (streams["video"]["codec"], streams["video"]["width"], streams["video"]["height"]) == (
        video["codec_name"],
        video["width"],
        video["height"],
    )
    assert (streams["audio"]["codec"], streams["audio"]["sample_rate"]) == (
        audio["codec_name"],
        int(audio["sample_rate"]),
    )

    def stored(ref: dict) -> Path:
        return stack.storage_root / ref["bucket"] / ref["path"]

    for part in ("poster", "proxy", "audio"):
        assert stored(doc[part]).stat().st_size == doc[part]["bytes"]
    proxy = probe(stored(doc["proxy"]))
    assert sorted(s["codec_name"] for s in proxy["streams"]) == ["aac", "h264"]
    assert float(proxy["format"]["duration"]) == pytest.approx(float(fmt["duration"]), abs=0.1)
    master = stored(doc["hls"]["master"])
    variant = master.parent / master.read_text().split("\n")[3]  # the first rung's playlist
    assert float(probe(variant, OUTPUT_FORMATS)["format"]["duration"]) == pytest.approx(float(fmt["duration"]), abs=0.2)
    assert all(
        decodes(stack.storage_root / doc["thumbnails"]["bucket"] / t["path"]) for t in doc["thumbnails"]["items"]
    )
    assert all(
        decodes(stack.storage_root / doc["storyboard"]["vtt"]["bucket"] / s) for s in doc["storyboard"]["sprites"]
    )
    cues = vtt_cues(stored(doc["storyboard"]["vtt"]).read_text())
    assert cues[0][0] == 0 and all(a[1] == b[0] > a[0] for a, b in itertools.pairwise(cues))
    assert cues[-1][1] == pytest.approx(float(fmt["duration"]), abs=0.05)
    assert decodes(stored(doc["poster"])) and doc["poster_choice"]["rule"] == "sharpest_of_usable"
    assert doc["loudness"]["integrated_lufs"] < 0 and doc["scenes"]["frames_scored"] > 0
    for stage in ("queued", "ready", "announced video.ready"):
        assert stage in result.stderr

    events = deliveries_for(hook, secret, doc["job_id"], 4)
    assert types(events) == ["video.ingested", "video.playable", "video.processed", "video.ready"]
    assert events[3]["data"]["video_id"] == doc["video_id"]


def test_doctor_says_the_events_can_flow(home, stack):
    """`vidpipe doctor` reads public.delivery_health: here, the stack's dispatcher is connected."""
    said = cli(home, "doctor")
    assert said.returncode == 0, said.stdout + said.stderr
    assert "dispatcher: a dispatcher carries the events" in said.stdout


def test_a_spoken_video_is_described_and_the_cli_prints_what_it_says(home, stack, tmp_path):
    """What `make run` shows: the sample's transcript, chapters, keywords, title and description.
    Scenes of 9 s keep the clip under this stack's 30 s limit; the stack allows 5 s chapters."""
    clip = make_speech_clip(tmp_path / "spoken.mp4", scene_seconds=9, width=320, height=180)
    result = cli(home, "process", str(clip), "--timeout", "120")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"transcript \(en \d+%, \d+ words\)", out) and "tomato sauce" in out and "captions: " in out
    chapters = out.split("chapters:\n", 1)[1].splitlines()[:3]
    assert [line.split()[0] for line in chapters] == ["0:00", "0:09", "0:18"]
    assert "keywords: " in out and "\ntitle: " in out and "\ndescription: " in out
    assert "Traceback" not in out + result.stderr


def test_a_non_video_fails_with_a_reason_and_is_announced(home, stack, receiver, tmp_path):
    hook, secret = receiver
    junk = tmp_path / "notes.mp4"
    junk.write_bytes(b"this is not a video at all\n" * 100)
    result = cli(home, "process", str(junk), "--timeout", "60")
    assert result.returncode == 3, result.stderr
    assert "not_a_video" in result.stderr and "Traceback" not in result.stderr
    with psycopg.connect(stack.database_url, row_factory=dict_row) as conn:
        job = conn.execute(
            "select j.* from processing_jobs j join videos v on v.id = j.video_id where v.path like %s", ("%notes.mp4",)
        ).fetchone()
    assert job is not None and (job["status"], job["reason_code"]) == ("failed", "not_a_video")
    events = deliveries_for(hook, secret, str(job["id"]), 1)
    assert types(events) == ["video.failed"]
    assert events[0]["data"]["reason"] == "not_a_video"
    stored = next((stack.storage_root / "uploads").rglob("*notes.mp4"))
    assert stored.read_bytes() == junk.read_bytes()  # the original is untouched

    as_json = cli(home, "process", str(junk), "--timeout", "60", "--json")
    assert as_json.returncode == 3
    told = json.loads(as_json.stdout)  # a script gets the failure as JSON too
    assert (told["status"], told["reason"], told["failed_step"]) == ("failed", "not_a_video", "ingest")
    assert told["message"] and told["job_id"] != str(job["id"])


STRANGER = "00000000-0000-4000-8000-0000000000ff"
BAD_PATHS = {
    f"{STRANGER}/not-mine.mp4": "path_not_owned",
    f'{LOCAL_USER_ID}/it\'s "quoted".mp4': "bad_path",
    "no-owner-folder.mp4": "bad_path",
}


def test_every_bad_upload_fails_with_its_reason_and_is_announced(stack, receiver, clips, tmp_path_factory):
    hook, secret = receiver
    files = make_bad_files(tmp_path_factory.mktemp("bad"))
    plant_other_owners_video(stack.storage_root / "uploads", clips["plain"])
    uploads = {
        upload(stack, path): (path, BAD_FILES[name][0], name in CAUGHT_IN_PROCESS) for name, path in files.items()
    }
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        conn.execute("insert into auth.users (id) values (%s) on conflict do nothing", (STRANGER,))
    uploads.update(
        {upload(stack, clips["plain"], name): (clips["plain"], reason, False) for name, reason in BAD_PATHS.items()}
    )
    with ThreadPoolExecutor(8) as pool:
        jobs = dict(zip(uploads, pool.map(lambda oid: wait_for_job(stack, oid, 120), uploads), strict=True))
    for object_id, (source, reason, accepted_first) in uploads.items():
        job = jobs[object_id]
        assert job is not None and (job["status"], job["reason_code"]) == ("failed", reason), (source, job)
        assert (stack.storage_root / "uploads" / job["path"]).read_bytes() == source.read_bytes()  # untouched
        if job["owner_id"] is None:
            assert deliveries_for(hook, secret, str(job["id"]), timeout=0) == []  # nobody to tell
            continue
        # What ingest accepted on its declarations, the decoder failed in process. Such a file may
        # have played from its source meanwhile (it looked web-ready); failed, it plays no more.
        events = deliveries_for(hook, secret, str(job["id"]), 2 if accepted_first else 1)
        said = [(e["type"], e["data"].get("reason")) for e in events if e["type"] != "video.playable"]
        assert said == [("video.ingested", None)] * accepted_first + [("video.failed", reason)], source
        if accepted_first:
            with psycopg.connect(stack.database_url, row_factory=dict_row) as conn:
                video = conn.execute("select * from videos where id = %s", (job["video_id"],)).fetchone()
                kinds = [
                    r["kind"]
                    for r in conn.execute("select kind from video_artifacts where video_id = %s", (job["video_id"],))
                ]
            assert video["playable_at"] is None and "source_hls" not in kinds, (source, kinds)
        assert "Traceback" not in events[-1]["data"]["message"]
        assert str(stack.storage_root) not in events[-1]["data"]["message"]
    logs = "".join(p.read_text(errors="replace") for p in (Path(stack.home) / "logs").glob("*.log"))
    assert "Traceback" not in logs


def test_a_failed_upload_retried_after_it_is_fixed_becomes_ready(home, stack, receiver, clips, tmp_path):
    hook, secret = receiver
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(clips["silent"].read_bytes()[:1000])
    job = wait_for_job(stack, upload(stack, broken), 60)
    assert job is not None and job["status"] == "failed"
    (stack.storage_root / "uploads" / job["path"]).write_bytes(clips["silent"].read_bytes())  # fixed in place
    retried = cli(home, "retry", str(job["id"]), timeout=60)
    assert retried.returncode == 0, retried.stderr
    assert cli(home, "retry", str(job["id"]), timeout=60).returncode == 1  # already asked
    row = wait_until_ready(stack, job["id"], 60)
    assert row is not None and (row["status"], row["retries"]) == ("ready", 1)
    # the retried job is a new run: its announcements carry new webhook-ids (…_r1)
    events = deliveries_for(hook, secret, str(job["id"]), 5)
    assert types(events) == ["video.failed", "video.ingested", "video.playable", "video.processed", "video.ready"]
    assert len({e["timestamp"] for e in events}) == 5
    shown = cli(home, "status", str(job["id"]), timeout=60)
    assert "retry requested" in shown.stdout and "truncated" in shown.stdout  # the history is kept


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
            meta = conn.execute(
                "select count(*) as n from video_metadata where video_id = %s", (job["video_id"],)
            ).fetchone()
            assert meta is not None and meta["n"] == 1
            kinds = {
                r["kind"]
                for r in conn.execute(
                    "select kind from video_artifacts where video_id = %s order by kind", (job["video_id"],)
                )
            }
            every = {"audio", "hls", "poster", "proxy", "proxy_hls", "scene_scores", "storyboard", "thumbnails"}
            every |= {"source_hls", "playback"}  # the master playlist over the source's, the proxy's, the ladder's
            if job["path"].endswith("silent.mp4"):
                every -= {"audio"}
            if job["path"].endswith("rotated.mp4"):  # not web-ready: it plays from its renditions
                every -= {"source_hls"}
            assert kinds == every
            # A rotated clip becomes playable and processed in one transaction: the same timestamp.
            assert sorted(types(deliveries_for(hook, secret, str(job["id"]), 4))) == [
                "video.ingested",
                "video.playable",
                "video.processed",
                "video.ready",
            ]


def test_status_fits_80_columns_and_its_ids_are_prefixes_status_takes(home, stack):
    listing = cli(home, "status", timeout=60, COLUMNS="80")
    assert listing.returncode == 0 and "ready" in listing.stdout
    assert max(len(line) for line in listing.stdout.splitlines()) <= 80
    with psycopg.connect(stack.database_url, row_factory=dict_row) as conn:
        job = conn.execute(
            "select j.id, v.path from processing_jobs j join videos v on v.id = j.video_id "
            "order by j.created_at desc limit 1"
        ).fetchone()
    short = str(job["id"])[:8]
    line = next(line for line in listing.stdout.splitlines() if line.startswith(short))
    assert job["path"].split("/", 1)[0] not in line  # the file, not the owner's id
    assert job["path"].rsplit("/", 1)[1].split("-", 1)[1][:20] in line
    shown = cli(home, "status", short, timeout=60)
    assert shown.returncode == 0 and str(job["id"]) in shown.stdout
    assert cli(home, "status", "00000000-0000-0", timeout=60).returncode == 1  # no v4 uuid starts so
    assert cli(home, "process", "/no/such/file.mp4", timeout=60).returncode == 2


def test_up_restarts_only_what_died_on_the_same_ports(home, stack, clips):
    local = LocalStack(home)
    before = local.state()
    assert before is not None
    os.killpg(before.pids["process"], signal.SIGKILL)
    PostgresCluster(Path(before.data_dir), port=before.pg_port).stop()  # the database too
    # While the database is away a function answers 503 (the sender retries), never a traceback.
    event = json.dumps(
        {
            "type": "INSERT",
            "table": "objects",
            "schema": "storage",
            "old_record": None,
            "record": {
                "id": "00000000-0000-4000-8000-0000000000aa",
                "bucket_id": "uploads",
                "name": f"{LOCAL_USER_ID}/x.mp4",
            },
        }
    )
    away = requests.post(
        before.function_urls["ingest"],
        data=event,
        timeout=30,
        headers=sign_headers(before.event_secret, "evt_db_away", event),
    )
    assert (away.status_code, away.json()) == (503, {"error": "temporarily_unavailable"})
    assert "Traceback" not in (home / "logs" / "ingest.log").read_text()
    assert cli(home, "up", timeout=120).returncode == 0
    after = local.state()
    assert after is not None and after.function_urls == before.function_urls and after.pg_port == before.pg_port
    assert after.pids["process"] != before.pids["process"]
    for secret_file in ("stack.json", "event_secret"):  # both hold the event secret
        assert (home / secret_file).stat().st_mode & 0o077 == 0
    assert {n: p for n, p in after.pids.items() if n != "process"} == {
        n: p for n, p in before.pids.items() if n != "process"
    }  # the healthy ones were left alone
    job = wait_for_job(stack, upload(stack, clips["silent"]), 120)
    assert job is not None and job["status"] == "ready"
    assert local.running() is not None


def test_a_step_whose_function_is_down_fails_announced_and_retries_once_it_is_back(home, stack, receiver, clips):
    hook, secret = receiver
    local = LocalStack(home)
    state = local.state()
    assert state is not None
    os.killpg(state.pids["process"], signal.SIGKILL)  # and nobody restarts it
    try:
        job = wait_for_job(stack, upload(stack, clips["silent"]), 60)
    finally:
        local.restart("process")
    assert job is not None and (job["status"], job["reason_code"], job["failed_step"]) == (
        "failed",
        "retries_exhausted",
        "process",
    )
    assert "could not be reached after 3 deliveries" in job["last_error"]
    events = deliveries_for(hook, secret, str(job["id"]), 2)
    assert [(e["type"], e["data"].get("reason")) for e in events] == [
        ("video.ingested", None),
        ("video.failed", "retries_exhausted"),
    ]
    assert cli(home, "retry", str(job["id"]), timeout=60).returncode == 0
    row = wait_until_ready(stack, job["id"], 60)
    assert row is not None and row["status"] == "ready"
    assert types(deliveries_for(hook, secret, str(job["id"]), 6)) == [
        "video.ingested",
        "video.failed",
        "video.ingested",
        "video.playable",
        "video.processed",
        "video.ready",
    ]


def test_status_of_one_job_shows_its_history(home, stack):
    with psycopg.connect(stack.database_url, row_factory=dict_row) as conn:
        job = conn.execute("select id from processing_jobs where status = 'ready' limit 1").fetchone()
    assert job is not None
    shown = cli(home, "status", str(job["id"]), timeout=60)
    assert shown.returncode == 0, shown.stderr
    for status in ("queued", "processing", "processed", "describing", "ready"):
        assert status in shown.stdout
    assert cli(home, "status", "not-a-job", timeout=60).returncode == 2


def test_webhook_endpoints_are_added_listed_tested_replayed_and_removed(home, stack, clips):
    hook = Endpoint()
    try:
        refused = cli(home, "webhooks", "add", hook.url)
        assert refused.returncode == 2 and "resolves to 127.0.0.1, a loopback address" in refused.stderr
        assert cli(home, "webhooks", "add", "ftp://example.com/x").returncode == 2
        added = cli(
            home,
            "webhooks",
            "add",
            hook.url,
            "--event",
            "video.ready",
            "--description",
            "my backend",
            VIDPIPE_WEBHOOK_ALLOWED_NETWORKS='["127.0.0.0/8"]',
        )
        assert added.returncode == 0, added.stderr
        endpoint = added.stdout.split("endpoint ")[1].split()[0]
        secret = added.stdout.split("secret ")[1].split()[0].strip()
        assert secret.startswith("whsec_")
        listed = cli(home, "webhooks", "list")
        assert endpoint in listed.stdout and "video.ready" in listed.stdout and "my backend" in listed.stdout
        assert secret not in listed.stdout  # shown once, when added
        tested = cli(home, "webhooks", "test", endpoint, VIDPIPE_WEBHOOK_ALLOWED_NETWORKS='["127.0.0.0/8"]')
        assert tested.returncode == 0 and "HTTP 204" in tested.stdout, tested.stdout + tested.stderr
        (event,) = hook.verified(secret)  # verified as the customer's library verifies it
        assert event["type"] == "webhook.test" and event["data"] == {"endpoint_id": endpoint}

        job = wait_for_job(stack, upload(stack, clips["silent"]), 120)
        assert job is not None and job["status"] == "ready"
        (ready,) = deliveries_for(hook, secret, str(job["id"]), 1)  # subscribed to video.ready only
        assert ready["type"] == "video.ready"
        listed = cli(home, "webhooks", "deliveries", "--endpoint", endpoint)
        delivery = next(line.split()[1] for line in listed.stdout.splitlines() if "video.ready" in line)
        assert "delivered" in listed.stdout and "204" in listed.stdout
        assert cli(home, "webhooks", "replay", delivery).returncode == 0
        again = deliveries_for(hook, secret, str(job["id"]), 2)
        assert len(again) == 2 and len({h["webhook-id"] for h, _ in hook.requests[1:]}) == 1  # same id
        assert cli(home, "webhooks", "replay", "00000000-0000-4000-8000-000000000000").returncode == 1
        assert cli(home, "webhooks", "disable", endpoint).returncode == 0
        assert "no (turned off)" in cli(home, "webhooks", "list").stdout
        assert cli(home, "webhooks", "enable", endpoint).returncode == 0
        assert cli(home, "webhooks", "remove", endpoint).returncode == 0
        assert cli(home, "webhooks", "remove", endpoint).returncode == 1
        assert endpoint not in cli(home, "webhooks", "list").stdout
    finally:
        hook.close()


def test_the_home_and_every_stored_file_are_the_stacks_user_alone(home, stack, clips):
    wait_for_job(stack, upload(stack, clips["plain"]), 120)
    assert Path(home).stat().st_mode & 0o777 == 0o700
    stored = [p for p in stack.storage_root.rglob("*") if p.is_file()]
    assert len(stored) > 5 and any("uploads" in p.parts for p in stored)
    assert [p for p in stored if p.stat().st_mode & 0o077] == []


def test_up_is_idempotent_and_down_stops_everything(home, stack):
    # Last in this module: it stops the stack the other tests share.
    again = cli(home, "up", timeout=60)
    assert again.returncode == 0 and str(stack.pg_port) in again.stderr  # the same stack, not a new one
    page = cli(home, "ui", timeout=60).stdout
    assert cli(home, "down", timeout=60).returncode == 0
    assert not (Path(home) / "ui_key").exists()
    assert cli(home, "up", timeout=120).returncode == 0
    assert cli(home, "ui", timeout=60).stdout.split("?key=")[1] != page.split("?key=")[1]  # a key per start
    assert cli(home, "down", timeout=60).returncode == 0
    assert LocalStack(home).running() is None
    assert all(not process_alive(pid) for pid in stack.pids.values())
    for command in (["status"], ["retry", "0000abcd"], ["webhooks", "list"]):  # one answer: the stack is not up
        assert cli(home, *command, timeout=60).returncode == 5, command
