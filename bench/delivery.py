"""Upload-to-ready through each carrier of the events, measured in one run:

    .venv/bin/python bench/delivery.py [--uploads 20]

For each carrier (the dispatcher; the database itself through pg_net, as on hosted Supabase,
with the local pg_net stand-in and pg_cron's schedule) a fresh local stack takes N uploads of the
same 2 s 640x360 clip at once. From database timestamps it reports, per upload, the time from the
storage insert to `ready`, and the carrier's own cost: how long each event took from its commit
to the moment its function claimed the work (ingest's job creation, process's and
generate_metadata's claims). Not part of `make test`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from infra.cli import upload
from infra.clips import make_clip
from infra.local.stack import LocalStack, StackState

# Seconds from one status to the next, per job: how long the event took to reach its function.
STEP = "(select min(e.created_at) from job_events e where e.job_id = j.id and e.to_status = '{}')"
HOPS = f"""
select extract(epoch from v.created_at - o.created_at) as ingest_hop,
       extract(epoch from {STEP.format("processing")} - {STEP.format("queued")}) as process_hop,
       extract(epoch from {STEP.format("describing")} - {STEP.format("processed")}) as describe_hop,
       extract(epoch from j.finished_at - o.created_at) as ready
  from processing_jobs j join videos v on v.id = j.video_id join storage.objects o on o.id = v.object_id
 where j.status = 'ready'
"""


def run(state: StackState, clip: Path, uploads: int, timeout: float) -> list[dict[str, float]]:
    for _ in range(uploads):
        upload(state, clip)
    deadline = time.monotonic() + timeout
    with psycopg.connect(state.database_url, autocommit=True, row_factory=dict_row) as conn:
        while time.monotonic() < deadline:
            done = conn.execute(
                "select count(*) filter (where finished_at is not null) as n from processing_jobs"
            ).fetchone()
            if done is not None and done["n"] >= uploads:
                break
            time.sleep(0.2)
        return [{k: float(v) for k, v in row.items()} for row in conn.execute(HOPS).fetchall()]


def describe(name: str, rows: list[dict[str, float]]) -> None:
    def stats(key: str) -> str:
        values = sorted(r[key] for r in rows)
        p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
        return f"{statistics.median(values):7.3f} {p90:7.3f} {values[-1]:7.3f}"

    print(
        f"{name:<11} ready {len(rows):>2}: upload→ready {stats('ready')} | hops (median p90 max): "
        f"ingest {stats('ingest_hop')}  process {stats('process_hop')}  describe {stats('describe_hop')}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uploads", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vidpipe-bench-delivery-"))
    clip = make_clip(work / "clip.mp4", seconds=2, width=640, height=360)
    print("carrier     n      upload→ready s (median p90 max)")
    for delivery in ("dispatcher", "pg_net"):
        stack = LocalStack(work / delivery, extra_env={"VIDPIPE_DELIVERY": delivery})
        state = stack.up()
        try:
            describe(delivery, run(state, clip, args.uploads, timeout=900))
        finally:
            stack.destroy()


if __name__ == "__main__":
    main()
