"""Chaos, with the settings users run: 20 uploads pushed through the stack while function servers,
the dispatcher and Postgres itself are killed (SIGKILL; Postgres stopped immediately) at random
moments and started again. Every job ends exactly once: one video, one metadata row, one set of
artifacts, one announcement per endpoint. A good upload ends ready, or failed with
retries_exhausted when its step was killed on every attempt it had, and at least 80 % of them end
ready; a bad one fails with its reason. The first kill cuts a process step short, so the sweeper
rescues at least one step, whatever the seed; every step it rescued was worked on again within
lease + sweep interval + the retry's backoff. Seeded; VIDPIPE_CHAOS_SEED replays a run."""

import contextlib
import os
import random
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from infra.cli import upload
from infra.local.stack import FUNCTIONS, LOCAL_USER_ID, LocalStack, StackState
from shared.config import Settings
from tests.bad_inputs import BAD_FILES, make_bad_files
from tests.receiver import Endpoint

pytestmark = pytest.mark.e2e

# The lease and the sweep are production's (a 45 s heartbeat lease, a sweep every 10 s, 3 attempts).
# Only the retry backoff's base is 1 s instead of 10 s: an event whose function was killed over and
# over waits 10 s, 20 s … 600 s between deliveries in production, which would only make this test
# minutes longer, not test more.
CHAOS_POLICY = {"backoff_base_seconds": 1.0}
SETTINGS = Settings()
RETRY_BASE_S = CHAOS_POLICY["backoff_base_seconds"]
# A killed step is claimed again within its lease, a sweep, the retry's backoff (+25 % jitter), the
# dispatcher's poll, and the few seconds an event takes to reach its function on a loaded machine.
HOP_S = 5.0
RECOVERY_BOUND_S = (
    SETTINGS.lease_seconds
    + SETTINGS.sweep_every_seconds
    + RETRY_BASE_S * 2 ** (SETTINGS.max_attempts - 2) * 1.25
    + SETTINGS.dispatch_poll_seconds
    + HOP_S
)
BAD = ["random.mp4", "empty.mp4", "picture.mov", "moov_missing.mp4"]
GOOD_COUNT = 16
MAX_KILLS = 20
UPLOAD_EVERY_S = 0.5
DEADLINE_S = 600  # a job may lose a worker on each of its attempts of each step


@pytest.fixture(scope="module")
def chaos_stack() -> Iterator[tuple[LocalStack, StackState]]:
    home = Path(tempfile.mkdtemp(prefix="vidpipe-chaos-"))
    local = LocalStack(home, durable=True, policy=CHAOS_POLICY)  # Postgres is crashed: keep what it commits
    try:
        yield local, local.up()
    finally:
        local.destroy()


class Chaos:
    """First kills the process function while it holds a step (so that the sweeper must rescue
    at least one, whatever the seed), then a random component every 0.3 to 1 s, restarting each
    up to 0.5 s later."""

    def __init__(self, local: LocalStack, seed: int) -> None:
        self.local, self.rng = local, random.Random(seed)  # noqa: S311  # reproducible, not secret
        self.kills: list[tuple[str, datetime]] = []
        self.interrupted: object | None = None  # the job whose step the first kill cut short
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _kill_a_working_step(self) -> None:
        deadline = time.monotonic() + 60
        while self.interrupted is None and not self.stop.is_set() and time.monotonic() < deadline:
            state = self.local.state()
            assert state is not None
            holder = f"%:{state.pids['process']}/%"  # leases name the worker: host:pid/claim
            held = "select id from processing_jobs where status = 'processing' and lease_owner like %s"
            with contextlib.suppress(psycopg.OperationalError), psycopg.connect(state.database_url) as conn:
                job = conn.execute(held + " limit 1", (holder,)).fetchone()
                if job is None:
                    time.sleep(0.05)
                    continue
                os.killpg(state.pids["process"], signal.SIGKILL)
                self.kills.append(("process", datetime.now(tz=UTC)))
                # Dead, it can record nothing more: a step still held is one the sweeper must rescue.
                if conn.execute(held + " and id = %s", (holder, job[0])).fetchone() is not None:
                    self.interrupted = job[0]
                self.local.restart("process")

    def _run(self) -> None:
        self._kill_a_working_step()
        victims = [*FUNCTIONS, "dispatcher", "postgres"]
        while len(self.kills) < MAX_KILLS and not self.stop.wait(self.rng.uniform(0.3, 1.0)):
            victim = self.rng.choice(victims)
            state = self.local.state()
            assert state is not None
            cluster = state.cluster()
            if victim == "postgres":
                cluster.crash()
            else:
                os.killpg(state.pids[victim], signal.SIGKILL)  # the server and its ffmpeg children
            self.kills.append((victim, datetime.now(tz=UTC)))
            time.sleep(self.rng.uniform(0, 0.5))
            if victim == "postgres":
                cluster.start()
            else:
                self.local.restart(victim)

    def last_kill_of(self, victims: set[str], after: datetime) -> datetime | None:
        """The first kill of one of `victims` after a moment: what interrupted a step claimed then."""
        return next((at for who, at in self.kills if who in victims and at > after), None)


@pytest.mark.timeout(DEADLINE_S + 120)
def test_jobs_survive_killed_functions_and_dispatcher_exactly_once(chaos_stack, clips, tmp_path):
    local, stack = chaos_stack
    hook = Endpoint()
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
            expected[upload_when_up(stack, src)] = None
            if i % 4 == 0:
                name = BAD[i // 4]
                expected[upload_when_up(stack, bad_files[name])] = BAD_FILES[name][0]
            time.sleep(UPLOAD_EVERY_S)
        jobs = wait_until_all_announced(stack, list(expected), DEADLINE_S)
    finally:
        chaos.stop.set()
        chaos.thread.join(timeout=30)
    print(f"{len(chaos.kills)} kills: {', '.join(who for who, _ in chaos.kills)}")
    assert chaos.interrupted is not None, "no process step was ever cut short: nothing for the sweeper to rescue"
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
            if reason is None and job["status"] == "failed":  # killed on every attempt it had
                assert (job["reason_code"], ends, meta) == ("retries_exhausted", ["failed"], 0), job
                reason = "retries_exhausted"
            elif reason is None:
                assert (job["status"], ends, meta) == ("ready", ["ready"], 1), (job, ends)
                assert_one_set_of_artifacts(conn, stack, job)
            else:
                assert (job["status"], job["reason_code"], ends, meta) == ("failed", reason, ["failed"], 0), job
            messages = {
                r["event_type"]: r["id"]
                for r in conn.execute("select id, event_type from webhook_messages where job_id = %s", (job["id"],))
            }
            if reason is None:
                assert set(messages) == {"video.ingested", "video.playable", "video.processed", "video.ready"}, job
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
            received = [e for e in hook.verified(endpoint["secret"]) if e["data"]["job_id"] == str(job["id"])]
            assert {e["type"] for e in received} == set(messages)
            ids = {h["webhook-id"] for h, _ in hook.requests if h["webhook-id"].startswith(f"msg_{job['id'].hex}")}
            assert ids == set(messages.values())  # repeats, if any, carry the same id for the receiver to drop
        recoveries = rescue_times(conn, chaos)
    ready = sum(jobs[o]["status"] == "ready" for o, reason in expected.items() if reason is None)
    print(
        f"{len(hook.requests)} webhook requests for {len(expected)} jobs ({ready} of {GOOD_COUNT} good ones ready); "
        f"{len(recoveries)} steps rescued, worked on again after {sorted(round(r) for r in recoveries)} s "
        f"(bound {RECOVERY_BOUND_S:.0f} s)"
    )
    assert ready >= 0.8 * GOOD_COUNT, f"only {ready} of {GOOD_COUNT} good uploads ended ready"
    assert recoveries, "the sweeper rescued no step: the chaos proved nothing about recovery"
    assert all(r <= RECOVERY_BOUND_S for r in recoveries), recoveries
    hook.close()


def upload_when_up(stack: StackState, src: Path) -> object:
    """Upload as a client would: try again while the database is down."""
    for _ in range(100):
        try:
            return upload(stack, src)
        except psycopg.OperationalError:
            time.sleep(0.2)
    raise AssertionError("the database did not come back")


def rescue_times(conn: Any, chaos: Chaos) -> list[float]:
    """For each step the sweeper took back (lease expired), seconds from the kill that stopped its
    worker to the step being claimed again, or failed when that was its last attempt."""
    found = []
    steps = {"processing": "process", "describing": "generate_metadata"}
    for rescue in conn.execute(
        "select e.job_id, e.created_at, e.from_status, e.to_status from job_events e "
        "where e.message like '%stopped responding%' order by e.id"
    ).fetchall():
        claimed = conn.execute(
            "select max(created_at) as at from job_events where job_id = %s and to_status = %s and created_at < %s",
            (rescue["job_id"], rescue["from_status"], rescue["created_at"]),
        ).fetchone()["at"]
        killed = chaos.last_kill_of({steps[rescue["from_status"]], "postgres"}, claimed)
        again = (
            rescue["created_at"]
            if rescue["to_status"] == "failed"
            else conn.execute(
                "select min(created_at) as at from job_events where job_id = %s and created_at > %s and to_status = %s",
                (rescue["job_id"], rescue["created_at"], rescue["from_status"]),
            ).fetchone()["at"]
        )
        if killed is not None and again is not None:
            found.append((again - killed).total_seconds())
    return found


def wait_until_all_announced(stack: StackState, object_ids: list, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _all_announced(stack, object_ids, deadline)
        except psycopg.OperationalError:  # the chaos stopped the database under us: look again
            time.sleep(0.5)


def _all_announced(stack: StackState, object_ids: list, deadline: float) -> dict:
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
    # audio when the clip has sound, source_hls when it is web-ready (it played from its source),
    # and then playback, the master playlist over it and the proxy's HLS
    assert ("source_hls" in kinds) == ("playback" in kinds), kinds
    assert kinds - {"audio", "source_hls", "playback"} == {
        "poster", "proxy", "proxy_hls", "scene_scores", "storyboard", "thumbnails"
    }, kinds  # fmt: skip
    expected = set()
    for a in artifacts:
        assert (stack.storage_root / a["bucket"] / a["path"]).stat().st_size == a["bytes"]
        expected |= {a["path"], *a["details"].get("files", [])}
    bucket = stack.storage_root / artifacts[0]["bucket"]
    folder = bucket / str(job["owner_id"]) / str(job["video_id"])
    assert {str(p.relative_to(bucket)) for p in folder.rglob("*") if p.is_file()} == expected
