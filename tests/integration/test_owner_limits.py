"""What owners may do themselves, within limits, on a real database as the API runs it (the
`authenticated` role with the user's claims): retry their failed jobs a few times, and not
without end; register endpoints, and see no secret in a refusal."""

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from infra.local.owner_db import as_owner

pytestmark = pytest.mark.integration

ME = "00000000-0000-4000-8000-000000000001"


def failed_job(conn: Any, name: str) -> str:
    oid = conn.execute(
        "insert into storage.objects (bucket_id, name, owner, metadata) values ('uploads', %s, %s, %s) returning id",
        (f"{ME}/{name}", ME, Jsonb({"size": 10})),
    ).fetchone()["id"]
    job = conn.execute(
        "select id from create_job(%s, %s, 'uploads', %s, 10, 'video/mp4', 3, 'not_a_video', 'no video')",
        (oid, ME, f"{ME}/{name}"),
    ).fetchone()
    return str(job["id"])


def retry(db_url: str, job: str) -> str | None:
    """The SQLSTATE the owner's retry ends with, None when it was taken."""
    try:
        with as_owner(db_url, ME) as owner:
            owner.execute("select retry_job(%s)", (job,))
    except psycopg.Error as exc:
        return exc.sqlstate
    return None


def fail_again(conn: Any, job: str) -> None:
    """Ingest's verdict on the retried upload: still not a video."""
    conn.execute("select finish_reingest(%s, null, null, 'not_a_video', 'still no video')", (job,))


def test_an_owner_retries_a_job_a_few_times_not_without_end(conn, db_url):
    job = failed_job(conn, "a.mp4")
    for _ in range(3):  # the default limit
        assert retry(db_url, job) is None
        fail_again(conn, job)
    assert retry(db_url, job) == "VP429"
    counted = conn.execute("select count(*) as n from owner_retries where job_id = %s", (job,)).fetchone()
    assert counted["n"] == 3
    assert conn.execute("select retries from processing_jobs where id = %s", (job,)).fetchone()["retries"] == 3
    # The operator's own requeue is not the owner's, and not limited.
    assert conn.execute("select status from requeue_job(%s)", (job,)).fetchone()["status"] == "failed"


def test_an_owners_retries_are_limited_per_hour_across_jobs(conn, db_url):
    conn.execute("update owner_limits set retries_per_hour = 2")
    jobs = [failed_job(conn, f"{i}.mp4") for i in range(3)]
    assert [retry(db_url, j) for j in jobs] == [None, None, "VP429"]
    conn.execute("update owner_retries set requested_at = requested_at - interval '61 minutes'")
    assert retry(db_url, jobs[2]) is None  # an hour on


def test_a_retry_with_nothing_to_retry_is_not_counted(conn, db_url):
    job = failed_job(conn, "b.mp4")
    assert retry(db_url, job) is None
    assert retry(db_url, job) == "VP409"  # ingest is checking the upload again
    assert conn.execute("select count(*) as n from owner_retries").fetchone()["n"] == 1


def test_owners_cannot_change_their_limits_or_their_count(db_url):
    for statement in ("update owner_limits set retries_per_job = 1000", "delete from owner_retries"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), as_owner(db_url, ME) as owner:
            owner.execute(statement)


@pytest.mark.parametrize(
    ("url", "description", "says"),
    [
        ("ftp://example.com/hook", None, "http(s)://host/path"),
        ("https://user:pw@example.com/hook", None, "without credentials"),
        ("https://example.com/hook", "x" * 501, "over 500 characters"),
    ],
)
def test_a_refused_endpoint_shows_no_secret(db_url, url, description, says):
    with pytest.raises(psycopg.errors.CheckViolation) as refused, as_owner(db_url, ME) as owner:
        owner.execute("select * from create_webhook_endpoint(%s, null, %s)", (url, description))
    diag = refused.value.diag
    said = " ".join(filter(None, (diag.message_primary, diag.message_detail, diag.context, str(refused.value))))
    assert says in said and "whsec_" not in said


def test_retries_at_once_cannot_pass_the_hourly_limit_together(conn, db_url):
    """Ten retries of ten jobs sent at the same moment, with room for three: three are taken."""
    conn.execute("update owner_limits set retries_per_hour = 3")
    jobs = [failed_job(conn, f"burst-{i}.mp4") for i in range(10)]
    start = threading.Barrier(len(jobs))

    def at_once(job: str) -> str | None:
        start.wait()
        return retry(db_url, job)

    with ThreadPoolExecutor(len(jobs)) as pool:
        answers = list(pool.map(at_once, jobs))
    assert sorted(answers, key=str) == [None] * 3 + ["VP429"] * 7
    assert conn.execute("select count(*) as n from owner_retries").fetchone()["n"] == 3
