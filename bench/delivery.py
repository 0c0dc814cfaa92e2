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
