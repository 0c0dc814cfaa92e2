"""The sweeper's schedule where pg_cron exists, as on hosted Supabase: a cluster with pg_cron
preloaded, the extension enabled first (Supabase's dashboard does that), then the migrations."""

import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from infra.local.postgres import PostgresCluster, PostgresError, prepare_database

DATABASE = "vidpipe_cron"


@pytest.fixture(scope="module")
def cron_db() -> Iterator[str]:
    root = Path(tempfile.mkdtemp(prefix="vidpipe-test-cron-"))
    os.chmod(root, 0o755)  # noqa: S103  # the postgres user must reach the data dir
    # pg_cron connects to run a job over TCP, which a cluster without passwords refuses; with
    # background workers it runs them itself, as a hosted project does.
    settings = {
        "shared_preload_libraries": "pg_cron",
        "cron.database_name": DATABASE,
        "cron.use_background_workers": "on",
    }
    cluster = PostgresCluster(root / "data", fsync=False, settings=settings)
    try:  # a failing migration must not leave the cluster running
        cluster.start()
        url = cluster.create_database(DATABASE)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("create extension if not exists pg_cron")
        prepare_database(url)
        yield url
    finally:
        cluster.destroy()


def cron_jobs(url: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(url) as conn:
        return [tuple(r) for r in conn.execute("select jobname, schedule, command from cron.job order by jobname")]


def test_the_migrations_schedule_the_sweeper_and_the_delivery_once(cron_db):
    with psycopg.connect(cron_db) as conn:
        version = conn.execute("select extversion from pg_extension where extname = 'pg_cron'").fetchone()[0]
    major, minor = re.match(r"(\d+)\.(\d+)", version).groups()
    every = "10 seconds" if (int(major), int(minor)) >= (1, 5) else "* * * * *"
    assert cron_jobs(cron_db) == [
        ("vidpipe-deliver", every, "select public.reconcile_event_requests()"),
        ("vidpipe-sweep", every, "select count(*) from public.sweep()"),
    ]
    prepare_database(cron_db)  # `vidpipe up` again: the migrations are recorded, nothing is scheduled twice
    assert len(cron_jobs(cron_db)) == 2


def test_the_scheduled_commands_run(cron_db):
    with psycopg.connect(cron_db) as conn:
        for _, _, command in cron_jobs(cron_db):  # nothing to do, without pg_net: they run and do nothing
            assert conn.execute(command).fetchone() == (0,)


def test_pg_cron_runs_the_jobs_the_migrations_schedule(cron_db):
    """pg_cron itself runs them (every minute with Debian's 1.4): each run is in job_run_details."""
    deadline = time.monotonic() + 90
    with psycopg.connect(cron_db, autocommit=True) as conn:
        while True:
            runs = conn.execute(
                "select j.jobname, d.status from cron.job_run_details d join cron.job j on j.jobid = d.jobid"
            ).fetchall()
            if {name for name, status in runs if status == "succeeded"} == {"vidpipe-deliver", "vidpipe-sweep"}:
                break
            assert time.monotonic() < deadline, f"pg_cron ran {runs} in 90 s"
            time.sleep(1)
    assert all(status == "succeeded" for _, status in runs), runs
    with psycopg.connect(cron_db, row_factory=dict_row) as conn:
        health = {h["part"]: h["ok"] for h in conn.execute("select * from public.delivery_health()")}
    assert health == {"dispatcher": False, "vidpipe-deliver": True, "vidpipe-sweep": True}


def test_a_supabase_project_without_pg_cron_is_told_to_enable_it(pg_cluster):
    """Nothing else would run the sweeper and the delivery there: the push stops with the fix."""
    with psycopg.connect(pg_cluster.admin_url, autocommit=True) as admin:
        admin.execute("create role supabase_admin nologin")  # what tells a Supabase project apart
    try:
        url = pg_cluster.create_database("vidpipe_no_cron")
        with pytest.raises(PostgresError, match=r"enable pg_cron \(and pg_net\) under Database → Extensions"):
            prepare_database(url, seed=False)
    finally:
        with psycopg.connect(pg_cluster.admin_url, autocommit=True) as admin:
            admin.execute("drop database if exists vidpipe_no_cron with (force)")
            admin.execute("drop role supabase_admin")
