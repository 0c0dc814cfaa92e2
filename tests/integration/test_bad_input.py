"""Every bad upload ends `failed` with its stable reason and a human message, the original
untouched, and no traceback in the response, the log or the job (which is what a webhook carries).
Through the real ingest function, database, storage and ffmpeg."""

import shutil
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from shared.adapters.local_storage import LocalStorage
from shared.config import forget_settings, get_settings
from shared.domain import UnsafePath
from shared.media.confine import DecodeLimits
from shared.media.probe import FfmpegProbe
from shared.usecases.ingest import ingest
from tests.bad_inputs import BAD_FILES, CAUGHT_IN_PROCESS, LIMITS_ENV, make_bad_files, plant_other_owners_video
from tests.integration.doors import USER, announced, event_for, job_row, post, services, upload

STRANGER = "00000000-0000-4000-8000-0000000000ff"  # a signed-up user other than USER


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict[str, Path]:
    return make_bad_files(tmp_path_factory.mktemp("bad"))


@pytest.fixture
def limits(env, monkeypatch) -> Iterator[Path]:
    for key, value in LIMITS_ENV.items():
        monkeypatch.setenv(key, value)
    forget_settings()
    yield env


def ingest_last_upload(conn) -> dict:
    response = post("ingest", event_for(conn, "ingest"))
    text = response.get_data(as_text=True)
    assert response.status_code == 200, text
    assert response.get_json()["outcome"] == "rejected"
    assert "Traceback" not in text
    job = job_row(conn)
    assert job is not None and job["status"] == "failed"
    assert announced(conn, job["id"]) == (["video.failed"] if job["owner_id"] else [])  # no owner: nobody to tell
    return job


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file(limits, conn, bad_files, clips, capfd, name):
    reason, words = BAD_FILES[name]
    plant_other_owners_video(limits / "uploads", clips["plain"])
    obj = upload(conn, limits, bad_files[name], f"{USER}/{name}")
    job = processed_last_upload(conn) if name in CAUGHT_IN_PROCESS else ingest_last_upload(conn)
    assert job["reason_code"] == reason
    assert words in job["last_error"] and "Traceback" not in job["last_error"]
    assert " @ 0x" not in job["last_error"]  # no ffmpeg internals
    assert str(limits) not in job["last_error"]  # nor where the instance keeps files
    assert job["failed_step"] == ("process" if name in CAUGHT_IN_PROCESS else "ingest")
    assert (limits / "uploads" / obj["name"]).read_bytes() == bad_files[name].read_bytes()
    assert "Traceback" not in capfd.readouterr().err


def processed_last_upload(conn) -> dict:
    """Accepted on what it declares, then failed by the decoder's limits, for good (no retry)."""
    accepted = post("ingest", event_for(conn, "ingest"))
    assert accepted.get_json()["outcome"] == "done", accepted.get_data(as_text=True)
    response = post("process", event_for(conn, "process"))
    text = response.get_data(as_text=True)
    assert response.status_code == 202, text  # claimed; the decoder's refusal ends the step after the answer
    assert "Traceback" not in text
    job = job_row(conn)
    assert job["status"] == "failed"
    return job


@pytest.mark.parametrize(
    "name, owner, reason, words",
    [
        (f"{STRANGER}/clip.mp4", USER, "path_not_owned", "different owner"),
        (f"{uuid4()}/clip.mp4", None, "unknown_owner", "not a known user"),
        ("clip.mp4", USER, "bad_path", "<owner_id>/<file>"),
        ("someone/clip.mp4", USER, "bad_path", "owner's user id"),
        (f"{USER}/../{STRANGER}/clip.mp4", USER, "bad_path", ".."),
        (f'{USER}/it\'s "fine".mp4', USER, "bad_path", "quotes"),
        (f"{USER}/caf\N{REPLACEMENT CHARACTER}.mp4", USER, "bad_path", "not valid UTF-8"),
        (f"{USER}/\N{RIGHT-TO-LEFT OVERRIDE}4pm.exe", USER, "bad_path", "control characters"),
        (f"{USER}/tab\there.mp4", USER, "bad_path", "control characters"),
    ],
)
def test_bad_path(env, conn, clips, capfd, name, owner, reason, words):
    conn.execute("insert into auth.users (id) values (%s) on conflict do nothing", (STRANGER,))
    try:
        upload(conn, env, clips["plain"], name, owner=owner)
    except ValueError:  # the filesystem refuses the name; storage.objects still gets the row
        conn.execute("insert into storage.objects (bucket_id, name, owner) values ('uploads', %s, %s)", (name, owner))
    job = ingest_last_upload(conn)
    assert (job["reason_code"], job["failed_step"]) == (reason, "ingest")
    assert words in job["last_error"]
    assert job["owner_id"] is None or str(job["owner_id"]) == owner  # never the path's claim
    assert "Traceback" not in capfd.readouterr().err


def test_an_event_for_a_bucket_outside_the_pipeline(env, conn, clips):
    """The storage trigger only fires for ingest buckets; a hosted webhook set too wide does not."""
    obj = upload(conn, env, clips["plain"], f"{USER}/clip.mp4", bucket="derived")
    assert conn.execute("select count(*) as n from event_outbox").fetchone()["n"] == 0
    event = {
        "type": "INSERT",
        "table": "objects",
        "schema": "storage",
        "record": {"id": str(obj["id"]), "bucket_id": "derived", "name": obj["name"]},
        "old_record": None,
    }
    response = post("ingest", event)
    assert response.status_code == 200 and response.get_json()["outcome"] == "rejected"
    assert job_row(conn)["reason_code"] == "unknown_bucket"
    assert (env / "derived" / obj["name"]).read_bytes() == clips["plain"].read_bytes()


class CountingProbe(FfmpegProbe):
    def __init__(self) -> None:
        super().__init__(DecodeLimits.from_settings(get_settings()))
        self.probed: list[Path] = []

    def probe(self, path: Path) -> dict:
        self.probed.append(path)
        return super().probe(path)


def test_the_same_upload_event_twice_makes_one_video_and_probes_once(env, conn, bad_files):
    media = CountingProbe()
    svc = services("ingest", media=media)
    obj = upload(conn, env, bad_files["random.mp4"], f"{USER}/random.mp4")
    first, second = ingest(svc, obj["id"]), ingest(svc, obj["id"])
    assert (first.result, second.result) == ("rejected", "duplicate") and first.job_id == second.job_id
    assert len(media.probed) == 1
    assert conn.execute("select count(*) as n from videos").fetchone()["n"] == 1


@pytest.mark.parametrize("link", ["file", "folder"])
def test_a_link_out_of_the_bucket_is_a_bad_path_and_never_followed(env, conn, clips, tmp_path, link):
    """Someone who can write to the storage disk plants a link in an owner's folder: to a file
    outside the bucket, or a folder leading elsewhere. Ingest refuses it without reading it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copyfile(clips["plain"], outside / "secret.mp4")
    name = f"{USER}/linked.mp4" if link == "file" else f"{USER}/elsewhere/secret.mp4"
    planted = env / "uploads" / (name if link == "file" else f"{USER}/elsewhere")
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.symlink_to(outside / "secret.mp4" if link == "file" else outside)
    conn.execute(
        "insert into storage.objects (bucket_id, name, owner, metadata) values ('uploads', %s, %s, '{}')",
        (name, USER),
    )
    job = ingest_last_upload(conn)
    assert job["reason_code"] == "bad_path" and "link" in job["last_error"]
    storage = LocalStorage(env)
    with pytest.raises(UnsafePath):
        storage.size("uploads", name)
    if link == "folder":
        with pytest.raises(UnsafePath):
            storage.upload("uploads", f"{USER}/elsewhere/new.mp4", clips["plain"], "video/mp4")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.mp4"]  # nothing written through it
