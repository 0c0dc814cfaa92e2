"""The four functions in-process (functions-framework's test client) over a real database,
real local storage and real ffmpeg: signature, envelope, outcome and status codes. Each test runs
twice: the functions connected directly, and through pgbouncer in transaction mode."""

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from shared.domain import PipelineError, Reason, TransientError
from shared.media.confine import DecodeLimits
from shared.media.probe import FfmpegProbe
from shared.metadata.document import SCHEMA_FILE, MetadataDocument
from shared.signing import new_secret, sign_headers
from shared.usecases.ingest import ingest
from tests.integration.doors import (
    SECRET,
    USER,
    announced,
    client,
    direct_and_pooled,
    event_for,
    job_row,
    post,
    redeploy,
    services,
    upload,
)

__all__ = ["direct_and_pooled"]  # the fixture: each test direct and through the pooler


def test_unsigned_tampered_and_foreign_signatures_get_401(env, conn, clips):
    upload(conn, env, clips["plain"], f"{USER}/clip.mp4")
    event = event_for(conn, "ingest")
    body = json.dumps(event)
    assert client("ingest").post("/", data=body).status_code == 401
    tampered = sign_headers(SECRET, "evt_1", body)
    assert client("ingest").post("/", data=body.replace("uploads", "derived"), headers=tampered).status_code == 401
    assert post("ingest", event, secret=new_secret()).status_code == 401
    assert job_row(conn) is None


def test_malformed_events_get_400_and_change_nothing(env, conn):
    for bad in [
        "not json",
        {"type": "INSERT"},
        {"type": "INSERT", "table": "objects", "schema": "storage", "record": {"id": "nope"}},
    ]:
        response = post("ingest", bad)
        assert response.status_code == 400, bad
        assert "Traceback" not in response.get_data(as_text=True)
    assert job_row(conn) is None


def test_oversized_body_gets_413(env):
    assert post("ingest", {"pad": "x" * 300_000}).status_code == 413


def test_only_post_is_served(env):
    answer = client("process").get("/")  # what pg_net sends on when a function's URL redirects
    assert answer.status_code == 405 and "redirected" in answer.get_json()["detail"]


def test_a_video_goes_through_ingest_process_and_generate_metadata(env, conn, clips):
    obj = upload(conn, env, clips["plain"], f"{USER}/clip.mp4")
    event = event_for(conn, "ingest")
    first = post("ingest", event)
    assert first.status_code == 200 and first.get_json()["outcome"] == "done"
    assert post("ingest", event).get_json()["job_id"] == first.get_json()["job_id"]  # duplicate: same job
    assert conn.execute("select count(*) as n from videos").fetchone()["n"] == 1

    processed = post("process", event_for(conn, "process"))  # answered at once, worked on after
    assert processed.status_code == 202 and processed.get_json()["outcome"] == "accepted"
    assert job_row(conn)["status"] == "processed"
    artifacts = {r["kind"]: r for r in conn.execute("select * from video_artifacts")}
    # source_hls: the clip is web-ready, so it played from its source before the encode; playback:
    # the master playlist over it and the proxy's HLS
    assert set(artifacts) == {
        "poster", "proxy", "proxy_hls", "audio", "thumbnails", "storyboard", "scene_scores", "source_hls", "playback"
    }  # fmt: skip
    for a in artifacts.values():
        stored = env / a["bucket"] / a["path"]
        assert stored.stat().st_size == a["bytes"] > 0
        for extra in a["details"].get("files", []):  # sprites, thumbnails beside the main file
            assert (env / a["bucket"] / extra).is_file()
    analysis = conn.execute("select analysis from videos").fetchone()["analysis"]
    assert analysis["frames_scored"] == 50 and analysis["made_by"]["tool"] == "ffmpeg"
    again = post("process", event_for(conn, "process"))
    assert again.status_code == 200 and again.get_json()["outcome"] == "duplicate"

    described = post("generate_metadata", event_for(conn, "generate_metadata"))
    assert described.status_code == 202
    job = job_row(conn)
    assert job["status"] == "ready"
    document = conn.execute("select document from video_metadata").fetchone()["document"]
    Draft202012Validator(json.loads(SCHEMA_FILE.read_text())).validate(document)  # as a consumer would
    doc = MetadataDocument.model_validate(document)
    assert doc.technical.video is not None and doc.technical.video.codec == "h264"
    assert doc.poster is not None and doc.proxy is not None and doc.audio is not None
    assert doc.schema_version == 5 and doc.poster_choice is not None
    # Where to play it: the master playlist over the source's HLS and the proxy's
    assert doc.playback is not None and doc.playback.hls.path.endswith("/master.m3u8") and doc.playback.variants == 2
    assert doc.playback.source_hls is not None and doc.playback.proxy_hls is not None
    assert doc.thumbnails is not None and doc.storyboard is not None and doc.scenes is not None
    assert doc.loudness is not None and doc.black_segments is not None and doc.silent_segments is not None
    for item in doc.thumbnails.items:
        assert (env / doc.thumbnails.bucket / item.path).is_file()
    for sprite in doc.storyboard.sprites:
        assert (env / doc.storyboard.vtt.bucket / sprite).is_file()
    # The clip's sound is a 440 Hz tone: a transcript that says there is no speech, and why.
    assert doc.transcript is not None and not doc.transcript.speech and doc.transcript.words is None
    no_speech = "no speech was recognised: the sound is music, tones or noise"
    assert doc.transcript.no_speech_reason == no_speech
    assert doc.chapters is not None and [c.label for c in doc.chapters.items] == ["Scene 1"]
    assert doc.suggestions is not None and doc.suggestions.title == "Clip"
    assert doc.absent == {
        "hls": "no HLS renditions were made (VIDPIPE_HLS_ENABLED turns them on)",
        "captions": no_speech,
        "keywords": no_speech,
    }
    assert doc.source.path == obj["name"]
    assert (env / "uploads" / obj["name"]).read_bytes() == clips["plain"].read_bytes()  # original untouched


@pytest.mark.parametrize(
    "clip, name, reason",
    [
        ("junk", "junk.mp4", "not_a_video"),
        ("plain", "../escape.mp4", "bad_path"),
    ],
)
def test_bad_uploads_end_failed_with_a_reason(env, conn, clips, clip, name, reason):
    if name.startswith(".."):
        key = f"{USER}/{name}"
        conn.execute("insert into storage.objects (bucket_id, name, owner) values ('uploads', %s, %s)", (key, USER))
    else:
        upload(conn, env, clips[clip], f"{USER}/{name}")
    response = post("ingest", event_for(conn, "ingest"))
    assert response.status_code == 200 and response.get_json()["outcome"] == "rejected"
    job = job_row(conn)
    assert (job["status"], job["reason_code"]) == ("failed", reason)
    assert "Traceback" not in job["last_error"]
    assert announced(conn, job["id"]) == ["video.failed"]


def test_missing_file_is_object_missing(env, conn):
    conn.execute(
        "insert into storage.objects (bucket_id, name, owner) values ('uploads', %s, %s)", (f"{USER}/gone.mp4", USER)
    )
    post("ingest", event_for(conn, "ingest"))
    assert job_row(conn)["reason_code"] == "object_missing"


def test_event_for_a_deleted_object_is_acknowledged(env, conn, clips):
    upload(conn, env, clips["plain"], f"{USER}/clip.mp4")
    event = event_for(conn, "ingest")
    conn.execute("select set_config('storage.allow_delete_query', 'true', false)")  # as the Storage API deletes
    conn.execute("delete from storage.objects")
    response = post("ingest", event)
    assert response.status_code == 200 and response.get_json()["outcome"] == "ignored"


def test_busy_step_answers_409(env, conn, clips):
    upload(conn, env, clips["plain"], f"{USER}/clip.mp4")
    post("ingest", event_for(conn, "ingest"))
    conn.execute("select claim_step(id, 'process', 'someone-else', 600) from processing_jobs")
    assert post("process", event_for(conn, "process")).status_code == 409


class SlowProbe(FfmpegProbe):
    def probe(self, path: Path) -> dict:
        raise PipelineError(Reason.MEDIA_ERROR, "reading the file took longer than 60 s", retryable=True)


def test_a_transient_media_failure_in_ingest_asks_for_a_retry(env, conn, clips):
    obj = upload(conn, env, clips["plain"], f"{USER}/clip.mp4")
    with pytest.raises(TransientError):  # the door answers 503: the dispatcher retries the event later
        ingest(services("ingest", media=SlowProbe(DecodeLimits(1920 * 1080, 60))), obj["id"])
    assert job_row(conn) is None


def test_a_requeued_upload_is_checked_again_and_goes_through(env, conn, clips, monkeypatch):
    redeploy(monkeypatch, max_upload_bytes="100")
    upload(conn, env, clips["silent"])
    post("ingest", event_for(conn, "ingest"))
    job = job_row(conn)
    assert job["reason_code"] == "too_large"
    redeploy(monkeypatch, max_upload_bytes=str(10**9))  # the operator raises the limit
    conn.execute("select requeue_job(%s)", (job["id"],))
    again = post("ingest", event_for(conn, "ingest"))
    assert again.get_json()["outcome"] == "done"
    assert (job_row(conn)["status"], job_row(conn)["retries"]) == ("queued", 1)
    assert post("process", event_for(conn, "process")).status_code == 202 and job_row(conn)["status"] == "processed"
    assert conn.execute("select count(*) as n from videos").fetchone()["n"] == 1


@pytest.mark.parametrize("source_survives", [True, False])
def test_process_leaves_no_scratch_files_whether_it_succeeds_or_fails(
    env, conn, clips, tmp_path, monkeypatch, source_survives
):
    import tempfile

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    obj = upload(conn, env, clips["silent"])
    post("ingest", event_for(conn, "ingest"))
    if not source_survives:
        (env / "uploads" / obj["name"]).unlink()
    post("process", event_for(conn, "process"))
    job = job_row(conn)
    assert (job["status"], job["reason_code"]) == (
        ("processed", None) if source_survives else ("failed", "object_missing")
    )
    assert list(scratch.iterdir()) == []


def test_a_step_whose_lease_is_taken_stops_its_ffmpeg_and_records_nothing(env, conn, clips, tmp_path, monkeypatch):
    """The heartbeat finds the lease gone: ffmpeg is killed, scratch removed, nothing recorded but
    the source's HLS, stored before the encode so that the video plays meanwhile. The proxy's HLS
    segments stored while they were encoded stay unnamed by any playlist or row: the run that took
    over writes the same keys."""
    import subprocess
    import tempfile
    import threading
    import time

    from shared.config import get_settings
    from shared.domain import LeaseLost
    from shared.usecases.process import accept

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    upload(conn, env, clips["speech"])
    post("ingest", event_for(conn, "ingest"))
    job = job_row(conn)
    # The production lease (first renewal after 15 s); the slowest x264 preset keeps ffmpeg at work
    # past it, and the lease is taken outright meanwhile.
    svc = services("process", settings=get_settings().model_copy(update={"proxy_preset": "placebo"}))
    assert svc.settings.lease_seconds == 45
    failure: list[BaseException] = []

    def run() -> None:
        try:
            accept(svc, job["id"]).finish()
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 20
    while not list(scratch.glob("vidpipe-process-*/thumbnails")) and time.monotonic() < deadline:
        time.sleep(0.05)  # until ffmpeg is at work
    conn.execute("update processing_jobs set lease_owner = 'the-run-that-took-over' where id = %s", (job["id"],))
    worker.join(60)
    assert [type(e) for e in failure] == [LeaseLost]
    row = job_row(conn)
    assert (row["status"], row["lease_owner"]) == ("processing", "the-run-that-took-over")  # left to that run
    kinds = [r["kind"] for r in conn.execute("select kind from video_artifacts")]
    assert kinds == ["source_hls"]
    stored = list((env / "derived").rglob("*.*"))
    assert any(p.parent.name == "play" for p in stored)
    assert all(p.parent.name == "proxy_hls" and p.suffix == ".ts" for p in stored if p.parent.name != "play")
    assert list(scratch.iterdir()) == []
    assert subprocess.run(["pgrep", "-f", str(scratch)], capture_output=True, check=False).returncode == 1
