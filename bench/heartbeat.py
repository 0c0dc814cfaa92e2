"""What keeping a lease alive costs the database, per running step:

    .venv/bin/python bench/heartbeat.py [--seconds 180] [--lease 45] [--steps 10]

A throwaway cluster built from the migrations holds N jobs claimed by N steps; each step's
heartbeat renews its lease against it (the real renew_lease through the real pool) for the
given time. Reports the renewals and row updates per minute per step, the WAL written per
renewal, and how long a renewal takes. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from infra.local.postgres import PostgresCluster, prepare_database
from shared.adapters.postgres import PostgresDatabase
from shared.domain import JobStep
from shared.usecases.heartbeat import Heartbeat

USER = "00000000-0000-4000-8000-000000000001"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--lease", type=int, default=45)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="vidpipe-bench-heartbeat-"))
    os.chmod(root, 0o755)  # noqa: S103  # the postgres user must reach the data dir
    cluster = PostgresCluster(root / "data")  # fsync on, as in production
    try:
        cluster.start()
        url = cluster.create_database("bench")
        prepare_database(url)
        db = PostgresDatabase(url, max_size=args.steps + 1)
        jobs = []
        with psycopg.connect(url, autocommit=True) as conn:
            for i in range(args.steps):
                obj = conn.execute(
                    "insert into storage.objects (bucket_id, name, owner, metadata) values ('uploads', %s, %s, %s) "
                    "returning id",
                    (f"{USER}/clip-{i}.mp4", USER, Jsonb({"size": 1})),
                ).fetchone()
                assert obj is not None
                job = conn.execute(
                    "select id from create_job(%s, %s, 'uploads', 'p', 1, 'video/mp4')", (obj[0], USER)
                ).fetchone()
                assert job is not None
                jobs.append(db.claim_step(job[0], JobStep.PROCESS, f"step-{i}", args.lease).id)
            before = conn.execute(
                "select n_tup_upd, pg_current_wal_lsn() from pg_stat_user_tables where relname = 'processing_jobs'"
            ).fetchone()
        latencies: list[float] = []

        def renewer(job_id: object, worker: str) -> object:
            def renew() -> None:
                started = time.perf_counter()
                db.renew_lease(job_id, worker, args.lease)  # type: ignore[arg-type]
                latencies.append(time.perf_counter() - started)

            return renew

        beats = [Heartbeat(renewer(j, f"step-{i}"), args.lease) for i, j in enumerate(jobs)]  # type: ignore[arg-type]
        for beat in beats:
            beat.__enter__()
        time.sleep(args.seconds)
        for beat in beats:
            beat.__exit__(None, None, None)
        time.sleep(1)  # let the statistics collector catch up
        with psycopg.connect(url, autocommit=True) as conn:
            after = conn.execute(
                "select n_tup_upd, pg_wal_lsn_diff(pg_current_wal_lsn(), %s) "
                "from pg_stat_user_tables where relname = 'processing_jobs'",
                (before[1],),  # type: ignore[index]
            ).fetchone()
        assert after is not None and before is not None
        minutes = args.seconds / 60
        renewals = sum(b.renewals for b in beats)
        print(f"{args.steps} steps, lease {args.lease} s, {args.seconds:.0f} s: {renewals} renewals")
        print(
            f"per step per minute: {renewals / args.steps / minutes:.2f} renewals, "
            f"{(after[0] - before[0]) / args.steps / minutes:.2f} row updates"
        )
        print(
            f"WAL per renewal: {after[1] / max(renewals, 1):.0f} bytes; renewal latency median "
            f"{statistics.median(latencies) * 1000:.2f} ms, max {max(latencies) * 1000:.2f} ms"
        )
        db.close()
    finally:
        cluster.destroy()


if __name__ == "__main__":
    main()
