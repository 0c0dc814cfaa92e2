"""What keeping a lease alive costs the database, per running step:

    .venv/bin/python bench/heartbeat.py [--seconds 180] [--lease 45] [--steps 10]

A throwaway cluster built from the migrations holds N jobs claimed by N steps; each step's
heartbeat renews its lease against it (the real renew_lease through the real pool) for the
given time. Reports the renewals and row updates per minute per step, the WAL written per
renewal, and how long a renewal takes. Not part of `make test`.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

from bench_options import options

from infra import queries
from infra.local.postgres import PostgresCluster, prepare_database
from shared.adapters.postgres import PostgresDatabase
from shared.domain import JobStep
from shared.models import Job, UploadInfo
from shared.usecases.heartbeat import Heartbeat

USER = "00000000-0000-4000-8000-000000000001"


def main() -> None:
    args = options(__doc__, seconds=180.0, lease=45, steps=10)
    root = Path(tempfile.mkdtemp(prefix="vidpipe-bench-heartbeat-"))
    os.chmod(root, 0o755)  # noqa: S103  # the postgres user must reach the data dir
    cluster = PostgresCluster(root / "data")  # fsync on, as in production
    try:
        cluster.start()
        url = cluster.create_database("bench")
        prepare_database(url)
        db = PostgresDatabase(url, max_size=args.steps + 1)
        claims: list[Job] = []
        with queries.connect(url) as conn:
            for i in range(args.steps):
                name = f"{USER}/clip-{i}.mp4"
                obj = queries.inserted_object(conn, "uploads", name, USER, {"size": 1})
                job = db.create_job(
                    UploadInfo(
                        object_id=obj,
                        owner_id=UUID(USER),
                        bucket="uploads",
                        path=name,
                        size_bytes=1,
                        content_type="video/mp4",
                    ),
                    max_attempts=3,
                )
                claims.append(db.claim_step(job.id, JobStep.PROCESS, f"step-{i}", args.lease))
            before = queries.row_updates_and_wal(conn, "processing_jobs")
        latencies: list[float] = []

        def renewer(claimed: Job) -> Callable[[], None]:
            """Renews the lease under the claim's own token, as a step's heartbeat does."""

            def renew() -> None:
                started = time.perf_counter()
                db.renew_lease(claimed.id, claimed.claim, args.lease)
                latencies.append(time.perf_counter() - started)

            return renew

        beats = [Heartbeat(renewer(claimed), args.lease) for claimed in claims]
        for beat in beats:
            beat.__enter__()
        time.sleep(args.seconds)
        for beat in beats:
            beat.__exit__(None, None, None)
        time.sleep(1)  # let the statistics collector catch up
        with queries.connect(url) as conn:
            after = queries.row_updates_and_wal(conn, "processing_jobs", since_lsn=before["lsn"])
        minutes = args.seconds / 60
        renewals = sum(b.renewals for b in beats)
        print(f"{args.steps} steps, lease {args.lease} s, {args.seconds:.0f} s: {renewals} renewals")
        print(
            f"per step per minute: {renewals / args.steps / minutes:.2f} renewals, "
            f"{(after['updates'] - before['updates']) / args.steps / minutes:.2f} row updates"
        )
        print(
            f"WAL per renewal: {float(after['wal_bytes']) / max(renewals, 1):.0f} bytes; renewal latency median "
            f"{statistics.median(latencies) * 1000:.2f} ms, max {max(latencies) * 1000:.2f} ms"
        )
        db.close()
    finally:
        cluster.destroy()


if __name__ == "__main__":
    main()
