"""Chaos: 20 uploads pushed through the stack while function servers and the dispatcher are
SIGKILLed (with their ffmpeg children) at random moments and restarted. Every job must end
ready, or failed for the bad uploads, exactly once: one video, one metadata row, one set of
artifacts, one announcement per endpoint. Seeded; VIDPIPE_CHAOS_SEED replays a run."""

import os
import random
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from infra.cli import upload
from infra.local.stack import FUNCTIONS, LOCAL_USER_ID, LocalStack, StackState
from tests.bad_inputs import BAD_FILES, make_bad_files
from tests.receiver import Receiver

pytestmark = pytest.mark.e2e

# The production lease (a heartbeat keeps it, so a killed step is noticed within it); quick
# sweeps and retries, and more attempts than the kills can use up, so every good upload must
# still end ready.
CHAOS_ENV = {
    "VIDPIPE_RETRY_BASE_SECONDS": "0.5",
    "VIDPIPE_MAX_ATTEMPTS": "12",
    "VIDPIPE_DISPATCH_VISIBILITY_SECONDS": "5",
    "VIDPIPE_DISPATCH_MAX_ATTEMPTS": "40",
    "VIDPIPE_DISPATCH_POLL_SECONDS": "0.5",
    "VIDPIPE_SWEEP_EVERY_SECONDS": "1",
    "VIDPIPE_SWEEP_STALE_SECONDS": "5",
}
BAD = ["random.mp4", "empty.mp4", "picture.mov", "moov_missing.mp4"]
GOOD_COUNT = 16
MAX_KILLS = 20
UPLOAD_EVERY_S = 0.5
DEADLINE_S = 240


@pytest.fixture(scope="module")
def chaos_stack() -> Iterator[tuple[LocalStack, StackState]]:
    home = Path(tempfile.mkdtemp(prefix="vidpipe-chaos-"))
    local = LocalStack(home, extra_env=CHAOS_ENV)
    try:
        yield local, local.up()
    finally:
        local.destroy()


class Chaos:
    """Kills a random component every 0.3 to 1 s and restarts it up to 0.5 s later."""

    def __init__(self, local: LocalStack, seed: int) -> None:
        self.local, self.rng = local, random.Random(seed)  # noqa: S311  # reproducible, not secret
        self.kills: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        victims = [*FUNCTIONS, "dispatcher"]
        while len(self.kills) < MAX_KILLS and not self.stop.wait(self.rng.uniform(0.3, 1.0)):
            victim = self.rng.choice(victims)
            state = self.local.state()
            assert state is not None
            os.killpg(state.pids[victim], signal.SIGKILL)  # the server and its ffmpeg children
            self.kills.append(victim)
            time.sleep(self.rng.uniform(0, 0.5))
            self.local.restart(victim)


def test_jobs_survive_killed_functions_and_dispatcher_exactly_once(chaos_stack, clips, tmp_path):
    local, stack = chaos_stack
    hook = Receiver()
    with psycopg.connect(stack.database_url, autocommit=True, row_factory=dict_row) as conn:
        endpoint = conn.execute(
            "insert into webhook_endpoints (owner_id, url) values (%s, %s) returning *", (LOCAL_USER_ID, hook.url)
        ).fetchone()
    bad_files = make_bad_files(tmp_path / "bad")
    sources = [clips[("plain", "rotated", "silent")[i % 3]] for i in range(GOOD_COUNT)]
    expected: dict[object, str | None] = {}  # object id -> reason (None: must end ready)

    seed = int(os.environ.get("VIDPIPE_CHAOS_SEED", random.randrange(10**6)))  # noqa: S311
    print(f"chaos seed {seed}")
    chaos = Chaos(local, seed)
    chaos.thread.start()
    try:
        for i, src in enumerate(sources):
            expected[upload(stack, src)] = None
            if i % 4 == 0:
                name = BAD[i // 4]
                expected[upload(stack, bad_files[name])] = BAD_FILES[name][0]
            time.sleep(UPLOAD_EVERY_S)
        jobs = wait_until_all_announced(stack, list(expected), DEADLINE_S)
    finally:
        chaos.stop.set()
        chaos.thread.join(timeout=30)
    print(f"{len(chaos.kills)} kills: {', '.join(chaos.kills)}")
    # Uploads span 8 s and a kill-and-restart cycle takes at most ~3 s: at least 3 kills land
    # while work is in flight, whatever the seed.
    assert len(chaos.kills) >= 3, "the chaos must actually have happened"
    assert local.running() is not None  # every component is back

    with psycopg.connect(stack.database_url, autocommit=True, row_factory=dict_row) as conn:
        for object_id, reason in expected.items():
            videos = conn.execute("select * from videos where object_id = %s", (object_id,)).fetchall()
            assert len(videos) == 1, object_id
            job = jobs[object_id]
            ends = [
                e["to_status"]
                for e in conn.execute(
                    "select to_status from job_events where job_id = %s and to_status in ('ready', 'failed') "
                    "order by id",
                    (job["id"],),
                )
            ]
            meta = conn.execute(
                "select count(*) as n from video_metadata where video_id = %s", (job["video_id"],)
            ).fetchone()["n"]
            if reason is None:
                assert (job["status"], ends, meta) == ("ready", ["ready"], 1), (job, ends)
                assert_one_set_of_artifacts(conn, stack, job)
            else:
                assert (job["status"], job["reason_code"], ends, meta) == ("failed", reason, ["failed"], 0), job
            messages = {
                r["event_type"]: r["id"]
                for r in conn.execute("select id, event_type from webhook_messages where job_id = %s", (job["id"],))
            }
            if reason is None:
                assert set(messages) == {"video.ingested", "video.processed", "video.ready"}, job
            else:
                assert "video.failed" in messages and "video.ready" not in messages, job
            for delivery in conn.execute(
                "select * from webhook_deliveries where job_id = %s and endpoint_id = %s", (job["id"], endpoint["id"])
            ).fetchall():
                acknowledged = conn.execute(
                    "select count(*) as n from webhook_attempts where delivery_id = %s "
                    "and status_code between 200 and 299",
                    (delivery["id"],),
                ).fetchone()["n"]
                assert (delivery["status"], acknowledged) == ("delivered", 1), delivery
            received = [e for e in hook.events(endpoint["secret"]) if e["data"]["job_id"] == str(job["id"])]
            assert {e["type"] for e in received} == set(messages)
            ids = {h["webhook-id"] for h, _ in hook.requests if h["webhook-id"].startswith(f"msg_{job['id'].hex}")}
            assert ids == set(messages.values())  # repeats, if any, carry the same id for the receiver to drop
        rescued = conn.execute("select count(*) as n from job_events where message like '%lease expired%'").fetchone()[
            "n"
        ]
    print(f"{len(hook.requests)} webhook requests for {len(expected)} jobs; {rescued} steps rescued by the sweeper")
    hook.close()


def wait_until_all_announced(stack: StackState, object_ids: list, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    with psycopg.connect(stack.database_url, autocommit=True, row_factory=dict_row) as conn:
        while True:
            rows = conn.execute(
                "select v.object_id, j.* from processing_jobs j join videos v on v.id = j.video_id "
                "where v.object_id = any(%s)",
                (object_ids,),
            ).fetchall()
            jobs = {r["object_id"]: r for r in rows}
            open_deliveries = conn.execute(
                "select count(*) as n from webhook_deliveries d join videos v on v.id = (select video_id "
                "from processing_jobs where id = d.job_id) where v.object_id = any(%s) and d.finished_at is null",
                (object_ids,),
            ).fetchone()["n"]
            if (
                len(jobs) == len(object_ids)
                and all(r["finished_at"] is not None for r in rows)
                and open_deliveries == 0
            ):
                return jobs
            if time.monotonic() > deadline:
                waiting = [
                    (str(r["id"]), r["status"], r["attempts"], r["last_error"])
                    for r in rows
                    if r["finished_at"] is None
                ]
                pytest.fail(
                    f"{len(object_ids) - len(jobs)} uploads without a job; unfinished: {waiting}; "
                    f"{open_deliveries} deliveries open"
                )
            time.sleep(0.5)


def assert_one_set_of_artifacts(conn, stack: StackState, job: dict) -> None:
    """The kinds a clip gets, and the video's derived folder holding exactly their files."""
    artifacts = conn.execute("select * from video_artifacts where video_id = %s", (job["video_id"],)).fetchall()
    kinds = {a["kind"] for a in artifacts}
    assert kinds - {"audio"} == {"poster", "proxy", "scene_scores", "storyboard", "thumbnails"}, kinds
    expected = set()
    for a in artifacts:
        assert (stack.storage_root / a["bucket"] / a["path"]).stat().st_size == a["bytes"]
        expected |= {a["path"], *a["details"].get("files", [])}
    bucket = stack.storage_root / artifacts[0]["bucket"]
    folder = bucket / str(job["owner_id"]) / str(job["video_id"])
    assert {str(p.relative_to(bucket)) for p in folder.rglob("*") if p.is_file()} == expected
