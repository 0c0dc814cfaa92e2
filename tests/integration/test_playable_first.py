"""Playable first, through the real functions: a web-ready upload is packaged as HLS without
decoding and said playable before its encode starts; any other upload plays once its renditions
are stored. Either way `videos.playable_at` is set, watchers get a history row and the owner's
endpoints `video.playable`, once."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from infra.clips import lavfi, run_ffmpeg
from tests.integration.doors import USER, announced, event_for, job_row, post, upload
from tests.media_checks import decodes, duration

pytestmark = pytest.mark.integration

FROM_SOURCE = "playable: the source, packaged as HLS without decoding"
FROM_RENDITIONS = "playable: the encoded renditions are stored"


@pytest.fixture(scope="module")
def sparse_keyframes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """H.264/AAC that browsers decode, with one keyframe in 12 s: too far apart to start and seek."""
    path = tmp_path_factory.mktemp("gop") / "sparse.mp4"
    run_ffmpeg(
        [*lavfi("testsrc2=size=320x180:rate=25:duration=12", "sine=f=440:sample_rate=48000:d=12"),
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "300", "-keyint_min", "300",
         "-sc_threshold", "0", "-c:a", "aac", "-shortest", str(path)]
    )  # fmt: skip
    return path


def processed(conn: Any, env: Path, clip: Path) -> dict[str, Any]:
    upload(conn, env, clip, f"{USER}/{clip.name}")
    for step in ("ingest", "process"):
        post(step, event_for(conn, step))
    job = job_row(conn)
    assert job is not None and job["status"] == "processed", job
    return job


def history(conn: Any, job_id: Any) -> list[tuple[str, str, str | None]]:
    return [
        (r["from_status"], r["to_status"], r["message"])
        for r in conn.execute("select * from job_events where job_id = %s order by id", (job_id,))
    ]


def artifacts(conn: Any) -> dict[str, Any]:
    return {r["kind"]: r for r in conn.execute("select * from video_artifacts")}


def probe_json(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        check=True,
    ).stdout
    info: dict[str, Any] = json.loads(out)
    return info


def test_a_web_ready_upload_plays_from_its_source_before_its_encode(env, conn, clips):
    job = processed(conn, env, clips["plain"])
    steps = history(conn, job["id"])
    assert [s[:2] for s in steps] == [
        (None, "queued"),
        ("queued", "processing"),
        ("processing", "processing"),
        ("processing", "processed"),
    ]
    assert steps[2][2] == FROM_SOURCE
    assert announced(conn, job["id"]) == ["video.ingested", "video.playable", "video.processed"]
    video = conn.execute("select * from videos").fetchone()
    done = conn.execute(
        "select created_at from job_events where job_id = %s and to_status = 'processed'", (job["id"],)
    ).fetchone()
    assert video["playable_at"] < done["created_at"]  # played while the encode ran
    playable = conn.execute(
        "select payload from webhook_messages where job_id = %s and event_type = 'video.playable'", (job["id"],)
    ).fetchone()["payload"]
    progress = playable["data"]["progress"]  # the remux's end, as the step reported it
    assert (progress["stage"], progress["percent"], progress["unit"]) == ("packaging", 100, "seconds")
    assert job["progress_stage"] is None  # cleared when the step ended

    remux = artifacts(conn)["source_hls"]
    details = remux["details"]
    assert remux["content_type"] == "application/vnd.apple.mpegurl" and details["remuxed"] is True
    assert abs(details["duration_seconds"] - 2.0) < 0.1 and details["longest_segment_seconds"] <= 10
    playlist = env / remux["bucket"] / remux["path"]
    assert "#EXT-X-ENDLIST" in playlist.read_text() and decodes(playlist)
    segments = [env / remux["bucket"] / f for f in details["files"]]
    assert len(segments) == details["segments"] and all(s.exists() for s in segments)
    # The source's own packets, not an encode: the same codec, profile and size.
    source = {s["codec_type"]: s for s in probe_json(clips["plain"])["streams"]}
    copied = {s["codec_type"]: s for s in probe_json(segments[0])["streams"]}
    for field in ("codec_name", "profile", "width", "height"):
        assert copied["video"][field] == source["video"][field]
    assert copied["audio"]["codec_name"] == "aac"
    assert "proxy" in artifacts(conn)  # the encode still made everything else

    # One address for both: the master playlist, the proxy (cheaper) first, then the source.
    master = artifacts(conn)["playback"]
    assert master["details"]["playlists"] == ["proxy_hls/index.m3u8", "play/index.m3u8"]
    text = (env / master["bucket"] / master["path"]).read_text()
    assert text.count("#EXT-X-STREAM-INF:BANDWIDTH=") == 2 and "RESOLUTION=640x360" in text
    assert abs(duration(env / master["bucket"] / master["path"]) - 2.0) < 0.1


@pytest.mark.parametrize("clip", ["rotated", "sparse_keyframes"])
def test_any_other_upload_plays_once_its_renditions_are_stored(env, conn, clips, sparse_keyframes, clip):
    """A rotated phone clip (a remux into MPEG-TS drops the rotation) and one whose keyframes are
    12 s apart are made playable by the encode."""
    job = processed(conn, env, sparse_keyframes if clip == "sparse_keyframes" else clips[clip])
    steps = history(conn, job["id"])
    assert [s[2] for s in steps if s[:2] == ("processing", "processing")] == [FROM_RENDITIONS]
    assert announced(conn, job["id"]) == ["video.ingested", "video.playable", "video.processed"]
    assert "source_hls" not in artifacts(conn) and "proxy" in artifacts(conn)
    assert "playback" not in artifacts(conn)  # the proxy's HLS alone is its own address
    assert conn.execute("select playable_at from videos").fetchone()["playable_at"] is not None


def test_playable_is_said_once_whatever_runs_again(env, conn, clips):
    job = processed(conn, env, clips["plain"])
    j = conn.execute("select * from processing_jobs where id = %s", (job["id"],)).fetchone()
    conn.execute(
        "select became_playable(j, 'again', now()) from processing_jobs j where j.id = %s", (j["id"],)
    )  # a rerun of the step, or the renditions after the remux
    assert announced(conn, job["id"]).count("video.playable") == 1
    assert [s for s in history(conn, job["id"]) if s[2] == "again"] == []
