"""How fast the results page hears of a job's change, and what it costs, measured on a fresh stack:

    .venv/bin/python bench/ui.py [--changes 200] [--pages 4]

`--pages` event streams are opened on the page's server as a browser's EventSource does. A job
is then moved through `--changes` status changes (claim, fail, retry, in turn), each committed on
its own; for each change the bench reports the time from its commit to its `job` event on every
stream (the database's notification, the read as the user under row level security, the
server-sent event). Then the page's two reads: the list of videos and one video's detail, each
timed over 50 requests. Then one upload of `--upload-mib` through the page: its time, the page
server's peak memory before and after, and that nothing of it is left outside the bucket. Not
part of `make test`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import tempfile
import threading
import time
from pathlib import Path
from uuid import UUID

import requests
from bench_options import options

from infra import queries
from infra.local.stack import LOCAL_USER_ID, LocalStack
from shared.adapters.postgres import PostgresDatabase
from shared.domain import JobStep, Reason
from shared.models import UploadInfo


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    at = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return f"median {statistics.median(ordered):.1f} ms, p95 {at(0.95):.1f} ms, max {ordered[-1]:.1f} ms"


def login(url: str, key: str) -> requests.Session:
    """A session holding the login the page trades its key for, as a browser's."""
    session = requests.Session()
    session.get(f"{url}?key={key}", timeout=10).raise_for_status()
    return session


def stream(session: requests.Session, url: str, heard: list[tuple[float, str]], ready: threading.Event) -> None:
    """One page's event stream: (arrival time, status) of each job event."""
    with (
        contextlib.suppress(requests.RequestException),  # the stack goes down at the end
        session.get(f"{url}api/events", stream=True, timeout=60) as answer,
    ):
        kind = None
        for line in answer.iter_lines(decode_unicode=True):
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
                if kind == "hello":
                    ready.set()
            elif line.startswith("data: ") and kind == "job":
                heard.append((time.perf_counter(), json.loads(line.removeprefix("data: "))["status"]))


def move(db: PostgresDatabase, job: UUID, changes: int) -> list[float]:
    """Claim, fail and retry the job in turn through the functions' port, each change committed
    alone; when each committed."""
    committed: list[float] = []
    token = ""
    for i in range(changes):
        step = i % 3
        if step == 0:
            token = db.claim_step(job, JobStep.PROCESS, "bench", 600).claim
        elif step == 1:
            db.fail_step(job, JobStep.PROCESS, token, Reason.MEDIA_ERROR, "bench", retryable=False)
        else:
            db.requeue_job(job)
        committed.append(time.perf_counter())
        time.sleep(0.02)
    return committed


def lags(pages: list[list[tuple[float, str]]], committed: list[float]) -> list[float]:
    """Per page and change, milliseconds from the commit to the first event after it (changes
    that fall within one read of the server arrive as one event, with the newest status)."""
    found = []
    for heard in pages:
        arrivals = [t for t, _ in heard]
        for at in committed:
            after = [t for t in arrivals if t >= at]
            if after:
                found.append(1000 * (after[0] - at))
    return found


def peak_mb(pid: int) -> float:
    """A process's peak resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def upload(session: requests.Session, url: str, pid: int, storage: Path, mib: int) -> None:
    """One upload of `mib` MiB through the page, as its upload box sends it (the body, its length)."""
    before = peak_mb(pid)
    with tempfile.NamedTemporaryFile() as big:
        big.truncate(mib * 1024**2)  # sparse: the disk the bench reads from costs nothing
        started = time.perf_counter()
        answer = session.post(f"{url}api/uploads?name=big.mp4", data=big, timeout=3600)
        took = time.perf_counter() - started
    answer.raise_for_status()
    stored = storage / "uploads" / answer.json()["path"]
    left = [p for p in (storage / ".partial").glob("*")] if (storage / ".partial").exists() else []
    print(
        f"upload of {mib} MiB: {took:.1f} s ({mib / took:.0f} MiB/s); page server peak {before:.0f} MB before, "
        f"{peak_mb(pid):.0f} MB after; stored {stored.stat().st_size} bytes, links {stored.stat().st_nlink}, "
        f"{len(left)} files left beside the bucket"
    )


def main() -> None:
    args = options(__doc__, changes=200, pages=4, upload_mib=1024)
    local = LocalStack(Path(tempfile.mkdtemp(prefix="vidpipe-bench-ui-")))
    state = local.up()
    key = (local.home / "ui_key").read_text().strip()
    try:
        session = login(state.ui_url, key)
        pages: list[list[tuple[float, str]]] = [[] for _ in range(args.pages)]
        for heard in pages:
            ready = threading.Event()
            threading.Thread(target=stream, args=(session, state.ui_url, heard, ready), daemon=True).start()
            ready.wait(10)
        # A job of the local user's that no function picks up: the dispatcher is stopped.
        os.killpg(state.pids["dispatcher"], signal.SIGTERM)
        with queries.connect(state.database_url) as conn:
            oid = queries.inserted_object(conn, "derived", f"{LOCAL_USER_ID}/bench.mp4", LOCAL_USER_ID, {"size": 1})
        db = PostgresDatabase(state.database_url)
        made = UploadInfo(
            object_id=oid,
            owner_id=UUID(LOCAL_USER_ID),
            bucket="uploads",
            path="p",
            size_bytes=1,
            content_type="video/mp4",
        )
        job = db.create_job(made, max_attempts=1_000_000)
        time.sleep(1)
        for heard in pages:
            heard.clear()
        committed = move(db, job.id, args.changes)
        time.sleep(2)
        db.close()
        print(f"{args.changes} changes, {args.pages} pages: {sum(len(h) for h in pages)} events heard")
        print(f"commit to event: {percentiles(lags(pages, committed))}")
        for what, path in (("list", "api/videos"), ("detail", f"api/videos/{job.video_id}")):
            times = []
            for _ in range(50):
                started = time.perf_counter()
                session.get(state.ui_url + path, timeout=10).raise_for_status()
                times.append(1000 * (time.perf_counter() - started))
            print(f"{what}: {percentiles(times)}")
        upload(session, state.ui_url, state.pids["ui"], state.storage_root, args.upload_mib)
    finally:
        local.destroy()


if __name__ == "__main__":
    main()
