"""The results page's server on a real database: who may open it, and that it shows and serves
only what its user may read (row level security as that user), takes uploads the way Supabase
Storage does, retries only the user's own failed jobs, and streams only their jobs' changes."""

import json
import threading
import time
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from infra.ui import app as ui_app
from infra.ui.app import LOGIN_SECONDS, MAX_STREAMS, UiConfig, create_app, job_events, job_ids

pytestmark = pytest.mark.integration

ME = "00000000-0000-4000-8000-000000000001"
OTHER = "00000000-0000-4000-8000-00000000000f"
KEY = "the-page-key"


def video_of(conn, owner: str, status: str = "queued") -> dict:
    """A job of `owner`'s, queued, or failed at ingest, with its upload and a derived file on disk."""
    path = f"{owner}/{status}.mp4"
    oid = conn.execute(
        "insert into storage.objects (bucket_id, name, owner, metadata) values ('uploads', %s, %s, %s) returning id",
        (path, owner, Jsonb({"size": 10})),
    ).fetchone()["id"]
    reason = "not_a_video" if status == "failed" else None
    job = conn.execute(
        "select * from create_job(%s, %s, 'uploads', %s, 10, 'video/mp4', 3, %s, %s)",
        (oid, owner, path, reason, "no video stream" if reason else None),
    ).fetchone()
    return {"job_id": str(job["id"]), "video_id": str(job["video_id"]), "path": path}


@pytest.fixture
def world(db_url: str, tmp_path: Path):
    storage = tmp_path / "storage"
    with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute("insert into auth.users (id) values (%s)", (OTHER,))
        mine, theirs = video_of(conn, ME), video_of(conn, OTHER)
        failed = video_of(conn, ME, "failed")
    for v in (mine, theirs):
        (storage / "uploads" / v["path"]).parent.mkdir(parents=True, exist_ok=True)
        (storage / "uploads" / v["path"]).write_bytes(b"x" * 10)
        derived = storage / "derived" / v["path"].split("/")[0] / v["video_id"] / "captions.vtt"
        derived.parent.mkdir(parents=True)
        derived.write_text("WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n")
    config = UiConfig(database_url=db_url, storage_root=storage, owner=ME, key=KEY, port=5000)
    app = create_app(config)
    client = app.test_client()
    client.set_cookie(config.cookie, app.config["LOGINS"].open(KEY), domain="127.0.0.1")
    return {"client": client, "config": config, "mine": mine, "theirs": theirs, "failed": failed, "url": db_url}


def get(world, url: str, **kw):
    return world["client"].get(url, base_url="http://127.0.0.1:5000", **kw)


def test_the_page_opens_with_its_key_only(world):
    stranger = create_app(world["config"]).test_client()
    answer = stranger.get("/api/videos", base_url="http://127.0.0.1:5000")
    assert answer.status_code == 401 and "vidpipe ui" in answer.get_json()["error"]
    assert stranger.get("/?key=a-guess", base_url="http://127.0.0.1:5000").status_code == 401
    assert stranger.get("/?key=clé", base_url="http://127.0.0.1:5000").status_code == 401  # not a crash
    cookie_name = world["config"].cookie
    stranger.set_cookie(cookie_name, "ключ", domain="127.0.0.1")
    assert stranger.get("/api/videos", base_url="http://127.0.0.1:5000").status_code == 401
    stranger.set_cookie(cookie_name, KEY, domain="127.0.0.1")  # the key itself is no login
    assert stranger.get("/api/videos", base_url="http://127.0.0.1:5000").status_code == 401
    opened = stranger.get(f"/?key={KEY}", base_url="http://127.0.0.1:5000")
    assert opened.status_code == 302 and opened.headers["Location"] == "/"
    cookie = opened.headers["Set-Cookie"]
    assert cookie.startswith("vidpipe_ui_5000=") and KEY not in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert stranger.get("/api/videos", base_url="http://127.0.0.1:5000").status_code == 200


def test_a_login_expires(world, monkeypatch):
    client = world["client"]
    assert client.get("/api/videos", base_url="http://127.0.0.1:5000").status_code == 200
    later = ui_app.time.monotonic() + LOGIN_SECONDS + 1
    monkeypatch.setattr(ui_app.time, "monotonic", lambda: later)
    assert client.get("/api/videos", base_url="http://127.0.0.1:5000").status_code == 401


def test_the_page_runs_its_own_scripts_only(world):
    page = get(world, "/")
    assert page.status_code == 200 and b'src="/static/app.js"' in page.data
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_another_host_name_or_origin_is_refused(world):
    # DNS rebinding: a name that resolves to this machine is not the page's own
    assert get(world, "/api/videos", headers={"Host": "evil.example"}).status_code == 421
    answer = world["client"].post(
        f"/api/jobs/{world['failed']['job_id']}/retry",
        base_url="http://127.0.0.1:5000",
        headers={"Origin": "https://evil.example"},
    )
    assert answer.status_code == 403


def test_the_user_sees_only_their_own_videos(world):
    listed = get(world, "/api/videos").get_json()
    assert {v["video_id"] for v in listed} == {world["mine"]["video_id"], world["failed"]["video_id"]}
    assert get(world, f"/api/videos/{world['theirs']['video_id']}").status_code == 404
    detail = get(world, f"/api/videos/{world['failed']['video_id']}").get_json()
    assert detail["job"]["status"] == "failed" and detail["job"]["reason_code"] == "not_a_video"
    assert [e["to_status"] for e in detail["events"]] == ["failed"]


def test_the_page_is_told_what_plays_the_video_now(world):
    """Nothing before the video is playable; then its source's HLS; the ladder once it is made."""
    mine, theirs = world["mine"], world["theirs"]

    def playing(video: dict) -> dict | None:
        answer: dict | None = get(world, f"/api/videos/{video['video_id']}").get_json()["playing"]
        return answer

    def made(video: dict, kind: str, path: str) -> None:
        with psycopg.connect(world["url"], autocommit=True) as conn:
            conn.execute(
                "insert into video_artifacts (video_id, owner_id, kind, bucket, path, bytes, content_type) "
                "select id, owner_id, %s, 'derived', %s, 1, 'application/vnd.apple.mpegurl' from videos where id = %s",
                (kind, path, video["video_id"]),
            )

    assert playing(mine) is None
    made(mine, "proxy", "p/proxy.mp4")
    made(mine, "source_hls", "p/play/index.m3u8")
    made(theirs, "hls", "t/hls/master.m3u8")  # another video's ladder is not this one's
    assert playing(mine) == {"kind": "source_hls", "bucket": "derived", "path": "p/play/index.m3u8"}
    made(mine, "hls", "p/hls/master.m3u8")
    assert playing(mine) == {"kind": "hls", "bucket": "derived", "path": "p/hls/master.m3u8"}
    made(mine, "playback", "p/master.m3u8")
    assert playing(mine) == {"kind": "playback", "bucket": "derived", "path": "p/master.m3u8"}


def test_files_are_served_to_their_owner_only_with_ranges(world):
    mine, theirs = world["mine"], world["theirs"]
    vtt = f"/files/derived/{ME}/{mine['video_id']}/captions.vtt"
    whole = get(world, vtt)
    assert whole.status_code == 200 and whole.mimetype == "text/vtt"
    part = get(world, vtt, headers={"Range": "bytes=0-5"})
    assert part.status_code == 206 and part.data == b"WEBVTT"
    assert get(world, f"/files/uploads/{mine['path']}").status_code == 200
    assert get(world, f"/files/derived/{OTHER}/{theirs['video_id']}/captions.vtt").status_code == 404
    assert get(world, f"/files/uploads/{theirs['path']}").status_code == 404
    # a file of theirs under my video's folder name, or a climb out of it
    planted = world["config"].storage_root / "derived" / OTHER / mine["video_id"] / "captions.vtt"
    planted.parent.mkdir(parents=True)
    planted.write_text("theirs")
    assert get(world, f"/files/derived/{OTHER}/{mine['video_id']}/captions.vtt").status_code == 404
    assert get(world, f"/files/derived/{ME}/{mine['video_id']}/../../{OTHER}/x").status_code == 404


def test_an_upload_enters_the_pipeline_under_the_users_folder(world):
    answer = world["client"].post(
        "/api/uploads?name=../../My clip.mp4",
        base_url="http://127.0.0.1:5000",
        data=b"\x00" * 1000,
        content_type="video/mp4",
    )
    assert answer.status_code == 201
    body = answer.get_json()
    assert body["path"].startswith(f"{ME}/") and body["path"].endswith("-My_clip.mp4")
    assert (world["config"].storage_root / "uploads" / body["path"]).stat().st_size == 1000
    with psycopg.connect(world["url"], row_factory=dict_row) as conn:
        obj = conn.execute("select * from storage.objects where id = %s", (body["object_id"],)).fetchone()
        event = conn.execute(
            "select payload from event_outbox where subject_kind = 'storage_object' and subject_id = %s",
            (body["object_id"],),
        ).fetchone()
    assert (obj["owner_id"], obj["metadata"]) == (ME, {"size": 1000, "mimetype": "video/mp4"})
    assert event is not None  # ingest hears of it as of any upload


def test_an_upload_over_the_buckets_limit_is_refused_and_not_stored(world):
    with psycopg.connect(world["url"], autocommit=True) as conn:
        conn.execute("update storage.buckets set file_size_limit = 100 where id = 'uploads'")
    answer = world["client"].post("/api/uploads?name=big.mp4", base_url="http://127.0.0.1:5000", data=b"\x00" * 101)
    assert answer.status_code == 413 and "at most 100" in answer.get_json()["error"]
    assert not list((world["config"].storage_root / "uploads").glob(f"{ME}/*big.mp4"))


def test_the_user_retries_their_own_failed_job_only(world):
    def retry(job_id: str):
        return world["client"].post(f"/api/jobs/{job_id}/retry", base_url="http://127.0.0.1:5000")

    assert retry(world["theirs"]["job_id"]).status_code == 404
    assert retry(world["mine"]["job_id"]).status_code == 409  # queued: nothing to retry
    assert retry(world["failed"]["job_id"]).get_json() == {"status": "failed"}  # ingest looks again
    again = retry(world["failed"]["job_id"])
    assert again.status_code == 409 and "checked again" in again.get_json()["error"]
    with psycopg.connect(world["url"], autocommit=True) as conn:
        conn.execute("select finish_reingest(%s, null, null, 'not_a_video', 'still')", (world["failed"]["job_id"],))
        conn.execute("update owner_limits set retries_per_job = 1")
    over = retry(world["failed"]["job_id"])
    assert over.status_code == 429 and "the most an owner may" in over.get_json()["error"]


def test_open_pages_are_capped_so_the_server_keeps_threads_for_the_rest(world):
    streams = [get(world, "/api/events", buffered=False) for _ in range(MAX_STREAMS)]
    assert {s.status_code for s in streams} == {200}
    refused = get(world, "/api/events", buffered=False)
    assert refused.status_code == 503 and "close one" in refused.get_json()["error"]
    assert get(world, "/api/videos").status_code == 200
    streams.pop().close()  # a page closed, even before its stream began: its place is free again
    streams.append(get(world, "/api/events", buffered=False))
    assert streams[-1].status_code == 200
    for stream in streams:
        stream.close()


def test_only_job_ids_sent_on_the_channel_are_read():
    job = "0b4f6e52-3c1a-4d8e-9f7a-2b6c8d0e1f23"
    assert job_ids({job, "not a uuid", "", "'; drop table x; --"}) == [job]


def test_the_event_stream_carries_the_users_own_jobs_only(world):
    stream = job_events(world["config"])
    assert next(stream).startswith("event: hello")
    got: list[str] = []

    def read() -> None:
        for event in stream:
            got.append(event)

    threading.Thread(target=read, daemon=True).start()  # it ends with the test's database

    def heard(count: int) -> None:
        deadline = time.monotonic() + 10
        while len(got) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    mine = world["mine"]["job_id"]
    with psycopg.connect(world["url"], autocommit=True) as conn:
        conn.execute("select claim_step(%s, 'process', 'w', 60)", (world["theirs"]["job_id"],))
        conn.execute("select pg_notify('vidpipe_jobs', 'not a job id')")  # ignored, the stream lives on
        claim = conn.execute("select lease_owner from claim_step(%s, 'process', 'w', 60)", (mine,)).fetchone()[0]
        heard(1)
        # A later change of mine: notifications arrive in order, so by the time it is heard, an
        # event for their job would have been sent already.
        conn.execute("select fail_step(%s, 'process', %s, 'media_error', 'again', true)", (mine, claim))
        heard(2)
    jobs = [json.loads(event.split("\n")[1].removeprefix("data: ")) for event in got]
    assert [event.split("\n")[0] for event in got] == ["event: job"] * len(got)
    assert [(j["job_id"], j["status"]) for j in jobs] == [(mine, "processing"), (mine, "queued")], got
