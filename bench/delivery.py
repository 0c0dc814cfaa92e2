"""Upload-to-ready through each carrier of the events, measured in one run:

    .venv/bin/python bench/delivery.py [--uploads 20] [--long 2]

For each carrier (the dispatcher; the database itself through pg_net, as on hosted Supabase,
with the local pg_net stand-in and pg_cron's schedule) a fresh local stack takes N uploads of the
same 2 s 640x360 clip at once. From database timestamps it reports, per upload, the time from the
storage insert to `ready`, and the carrier's own cost: how long each event took from its commit
to the moment its function claimed the work (ingest's job creation, process's and
generate_metadata's claims). With `--long N`, the first N uploads are a 90 s 1080p clip and the
rest are sent once those are in their process step: it then reports, per upload, the time from
the upload to its first step (ingest's job), to its process step and to its playing (the clips
are web-ready: they play from their source before the encode), so that one sees whether a long
step holds up anyone else's events. Not part of `make test`.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from uuid import UUID

from bench_options import options

from infra import queries
from infra.cli import upload
from infra.clips import make_clip
from infra.local.stack import LocalStack, StackState


def run(state: StackState, clip: Path, uploads: int, timeout: float) -> list[dict[str, float]]:
    for _ in range(uploads):
        upload(state, clip)
    deadline = time.monotonic() + timeout
    with queries.connect(state.database_url) as conn:
        while time.monotonic() < deadline and queries.finished_jobs(conn) < uploads:
            time.sleep(0.2)
        hops = ("ingest_hop", "process_hop", "describe_hop", "total")
        return [{k: float(row[k]) for k in hops} for row in queries.job_timings(conn) if row["status"] == "ready"]


def run_beside_long_steps(state: StackState, short: Path, long: Path, uploads: int, longs: int) -> None:
    """The long uploads first; the short ones once every long one is processing."""
    with queries.connect(state.database_url) as conn:
        sent = [(upload(state, long), "long") for _ in range(longs)]
        deadline = time.monotonic() + 300

        def processing(object_id: UUID) -> bool:
            rows = queries.job_timings(conn, object_id=object_id)
            return bool(rows) and rows[0]["status"] == "processing"

        while not all(processing(o) for o, _ in sent):
            assert time.monotonic() < deadline, "the long uploads did not reach their process step"
            time.sleep(0.1)
        sent += [(upload(state, short), "short") for _ in range(uploads - longs)]
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline and queries.finished_jobs(conn) < uploads:
            time.sleep(0.5)
        for number, (object_id, kind) in enumerate(sent, 1):
            (row,) = queries.job_timings(conn, object_id=object_id)
            to_process = float(row["ingest_hop"]) + float(row["process_hop"] or 0)
            print(
                f"  {number:>2} {kind:<5} upload→first step {float(row['ingest_hop']):6.2f} s, "
                f"→ process step {to_process:6.2f} s, → playable {float(row['playable'] or 0):6.1f} s, "
                f"→ {row['status']} {float(row['total'] or 0):6.1f} s"
            )


def describe(name: str, rows: list[dict[str, float]]) -> None:
    def stats(key: str) -> str:
        values = sorted(r[key] for r in rows)
        p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
        return f"{statistics.median(values):7.3f} {p90:7.3f} {values[-1]:7.3f}"

    print(
        f"{name:<11} ready {len(rows):>2}: upload→ready {stats('total')} | hops (median p90 max): "
        f"ingest {stats('ingest_hop')}  process {stats('process_hop')}  describe {stats('describe_hop')}"
    )


def main() -> None:
    args = options(__doc__, uploads=20, long=0)
    work = Path(tempfile.mkdtemp(prefix="vidpipe-bench-delivery-"))
    clip = make_clip(work / "clip.mp4", seconds=2, width=640, height=360)
    long = make_clip(work / "long.mp4", seconds=90, width=1920, height=1080) if args.long else clip
    print("carrier     n      upload→ready s (median p90 max)")
    for delivery in ("dispatcher", "pg_net"):
        stack = LocalStack(work / delivery, extra_env={"VIDPIPE_DELIVERY": delivery})
        state = stack.up()
        try:
            if args.long:
                print(f"{delivery}: {args.long} long uploads, then {args.uploads - args.long} short ones")
                run_beside_long_steps(state, clip, long, args.uploads, args.long)
            else:
                describe(delivery, run(state, clip, args.uploads, timeout=900))
        finally:
            stack.destroy()


if __name__ == "__main__":
    main()
