"""A long step holds up no one else's event, whichever carrier takes them. pg_net's worker sends a
batch and waits for all of it before the next, so a step that kept its request open for as long as
it worked would hold every event behind it; the long steps answer 202 once they hold the job and
work on after. Here the process step is made slow on purpose (the slowest x264 preset): while it
works, the next upload's first step starts, and the working step's progress shows on its row."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra import queries
from infra.cli import upload, wait_for_job
from infra.clips import make_clip
from infra.local.stack import LocalStack, StackState

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=["pg_net", "dispatcher"])
def stack(request: pytest.FixtureRequest) -> Iterator[StackState]:
    home = Path(tempfile.mkdtemp(prefix=f"vidpipe-long-{request.param}-"))
    local = LocalStack(home, extra_env={"VIDPIPE_DELIVERY": request.param, "VIDPIPE_PROXY_PRESET": "veryslow"})
    yield local.up()
    local.destroy()


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("long") / "long.mp4", seconds=10, width=1280, height=720)


def first_time(conn: queries.Conn, job_id: object, status: str) -> object:
    """When the job first entered the status (None: not yet)."""
    return next((e["created_at"] for e in queries.job_history(conn, job_id) if e["to_status"] == status), None)


def watch_progress(stack: StackState, job_id: object, seen: list[tuple[str, float, float]]) -> None:
    with queries.connect(stack.database_url) as conn:
        while (row := queries.job_by_id(conn, job_id)) is not None and row["status"] == "processing":  # type: ignore[arg-type]
            if row["progress_stage"] is not None:
                seen.append((row["progress_stage"], row["progress_done"], row["progress_total"]))
            time.sleep(0.05)


def test_a_new_upload_starts_while_another_job_works_through_a_long_step(stack, clips, long_clip):
    with queries.connect(stack.database_url) as conn:
        long_object = upload(stack, long_clip)
        deadline = time.monotonic() + 120
        while (job := queries.job_of_upload(conn, long_object)) is None or job["status"] != "processing":
            assert time.monotonic() < deadline, "the long upload's process step did not start"
            time.sleep(0.1)
        seen: list[tuple[str, float, float]] = []  # the long job's progress while it is processed
        watching = threading.Thread(target=watch_progress, args=(stack, job["id"], seen), daemon=True)
        watching.start()
        short_job = wait_for_job(stack, upload(stack, clips["plain"]), 240)
        long_job = wait_for_job(stack, long_object, 600)
        watching.join(60)
        assert short_job is not None and long_job is not None
        assert (short_job["status"], long_job["status"]) == ("ready", "ready")
        # The short upload went through ingest and process while the long one was processing.
        long_processed = first_time(conn, long_job["id"], "processed")
        assert first_time(conn, short_job["id"], "processing") < long_processed  # type: ignore[operator]
        # Its row said how far it was: the remux, then the encode, segment by segment.
        stages = [stage for stage, _, _ in seen]
        assert stages and stages[-1] == "encoding" and set(stages) <= {"packaging", "encoding"}, seen
        encoding = [done for stage, done, total in seen if stage == "encoding" and total == pytest.approx(10, abs=0.1)]
        assert encoding == sorted(encoding) and encoding[-1] > 0, seen
