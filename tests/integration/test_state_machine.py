"""The job state machine on a real Postgres built from supabase/migrations."""

import json
from datetime import timedelta

import psycopg
import pytest
from jsonschema import Draft202012Validator
from psycopg.types.json import Jsonb

from infra.local.postgres import prepare_database
from shared import webhook_payload
from shared.domain import (
    DeliveryCarrier,
    EventSubject,
    JobStatus,
    JobStep,
    PipelineFunction,
    Reason,
    WebhookDeliveryStatus,
    WebhookEventType,
)

USER = "00000000-0000-4000-8000-000000000001"
OTHER = "00000000-0000-4000-8000-00000000000f"


def new_object(conn, bucket="uploads", name=None):
    name = name or f"{USER}/clip-{conn.execute('select gen_random_uuid() as u').fetchone()['u']}.mp4"
    return conn.execute(
        "insert into storage.objects (bucket_id, name, owner, metadata) values (%s, %s, %s, %s) returning id",
        (bucket, name, USER, Jsonb({"size": 10})),
    ).fetchone()["id"]


def new_job(conn, max_attempts=3):
    oid = new_object(conn)
    return conn.execute(
        "select * from create_job(%s, %s, 'uploads', 'p', 10, 'video/mp4', %s)", (oid, USER, max_attempts)
    ).fetchone()


def reject(conn, reason="too_large", message="big"):
    return conn.execute(
        "select * from create_job(%s, %s, 'uploads', 'p', 10, 'video/mp4', 3, %s, %s)",
        (new_object(conn), USER, reason, message),
    ).fetchone()


def held(conn, job):
    """The token of the job's current claim: what its holder presents to finish, fail or renew."""
    return conn.execute("select lease_owner from processing_jobs where id = %s", (job,)).fetchone()["lease_owner"]


def sqlstate_of(conn, sql, params=()):
    with pytest.raises(psycopg.Error) as info:
        conn.execute(sql, params)
    return info.value.sqlstate


def outbox(conn):
    return [
        (r["target"], r["payload"]["record"].get("status"))
        for r in conn.execute("select * from event_outbox order by id")
    ]


def announced(conn, job):
    return [
        r["id"].split("_", 2)[2]
        for r in conn.execute("select id from webhook_messages where job_id = %s order by created_at, id", (job,))
    ]


def test_one_storage_trigger_and_twelve_legal_transitions(conn):
    new_object(conn)
    assert outbox(conn) == [("ingest", None)]
    assert conn.execute("select count(*) as n from job_transitions").fetchone()["n"] == 12


@pytest.mark.parametrize(
    ("pg_type", "python"),
    [
        ("job_status", JobStatus),
        ("job_step", JobStep),
        ("pipeline_function", PipelineFunction),
        ("failure_reason", Reason),
        ("webhook_event_type", WebhookEventType),
        ("webhook_delivery_status", WebhookDeliveryStatus),
        ("delivery_carrier", DeliveryCarrier),
        ("event_subject", EventSubject),
    ],
)
def test_python_enums_equal_postgres_enums(conn, pg_type, python):
    labels = [r["l"] for r in conn.execute(f"select unnest(enum_range(null::{pg_type}))::text as l")]
    assert labels == [member.value for member in python]


def test_upload_to_ingest_bucket_emits_ingest_event_and_others_do_not(conn):
    new_object(conn, "derived", f"{USER}/poster.jpg")
    assert outbox(conn) == []
    new_object(conn)
    rows = conn.execute("select target, payload from event_outbox").fetchall()
    assert [r["target"] for r in rows] == ["ingest"]
    payload = rows[0]["payload"]
    assert (payload["type"], payload["schema"], payload["table"], payload["old_record"]) == (
        "INSERT",
        "storage",
        "objects",
        None,
    )


def test_register_upload_is_idempotent_and_queues_process(conn):
    oid = new_object(conn)
    first = conn.execute("select * from create_job(%s, %s, 'uploads', 'p', 10, null)", (oid, USER)).fetchone()
    again = conn.execute("select * from create_job(%s, %s, 'uploads', 'p', 10, null)", (oid, USER)).fetchone()
    assert first["id"] == again["id"] and first["status"] == "queued"
    assert conn.execute("select count(*) as n from videos").fetchone()["n"] == 1
    assert outbox(conn) == [("ingest", None), ("process", "queued")]


def test_rejected_upload_is_born_failed_and_announced(conn):
    job = reject(conn, "empty_file", "empty")
    assert (job["status"], job["reason_code"], job["failed_step"]) == ("failed", "empty_file", "ingest")
    assert job["finished_at"] == job["updated_at"]
    assert outbox(conn) == [("ingest", None)]  # nothing waits for a function
    assert announced(conn, job["id"]) == ["video_failed"]


def test_happy_path_chains_every_step(conn):
    job = new_job(conn)["id"]
    conn.execute("select claim_step(%s, 'process', 'w', 60)", (job,))
    conn.execute(
        "select complete_process(%s, %s, %s, %s, '{}')",
        (
            job,
            held(conn, job),
            Jsonb({"format": {}}),
            Jsonb(
                [
                    {
                        "kind": "proxy",
                        "bucket": "derived",
                        "path": "a/proxy.mp4",
                        "bytes": 5,
                        "content_type": "video/mp4",
                    }
                ]
            ),
        ),
    )
    conn.execute("select claim_step(%s, 'generate_metadata', 'w', 60)", (job,))
    conn.execute(
        "select complete_generate_metadata(%s, %s, 1, %s)", (job, held(conn, job), Jsonb({"schema_version": 1}))
    )
    done = conn.execute("select * from processing_jobs where id = %s", (job,)).fetchone()
    assert done["status"] == "ready" and done["lease_owner"] is None and done["finished_at"] is not None
    assert [t for t, _ in outbox(conn)] == ["ingest", "process", "generate_metadata"]
    # The stored proxy plays: announced once, before the step's own announcement.
    assert announced(conn, job) == ["video_ingested", "video_playable", "video_processed", "video_ready"]
    history = [
        (r["from_status"], r["to_status"])
        for r in conn.execute("select * from job_events where job_id = %s order by id", (job,))
    ]
    assert history == [
        (None, "queued"),
        ("queued", "processing"),
        ("processing", "processing"),  # playable
        ("processing", "processed"),
        ("processed", "describing"),
        ("describing", "ready"),
    ]
    assert conn.execute("select count(*) as n from video_artifacts").fetchone()["n"] == 1
    assert conn.execute("select playable_at from videos").fetchone()["playable_at"] is not None


def test_illegal_transition_raises(conn):
    job = new_job(conn)["id"]
    assert sqlstate_of(conn, "update processing_jobs set status = 'ready' where id = %s", (job,)) == "VP422"
    assert (
        sqlstate_of(
            conn, "insert into processing_jobs (video_id, status) select video_id, 'ready' from processing_jobs"
        )
        == "VP422"
    )


def test_only_a_running_step_holds_a_lease(conn):
    job = new_job(conn)["id"]
    assert (
        sqlstate_of(
            conn, "update processing_jobs set lease_owner = 'x', lease_expires_at = now() where id = %s", (job,)
        )
        == "23514"
    )


def test_every_change_is_stamped_with_the_callers_clock(conn):
    job = new_job(conn)["id"]
    at = conn.execute("select now() + interval '1 hour' as t").fetchone()["t"]
    claimed = conn.execute("select * from claim_step(%s, 'process', 'w', 60, %s)", (job, at)).fetchone()
    assert claimed["updated_at"] == at and claimed["lease_expires_at"] == at + timedelta(seconds=60)
    failed = conn.execute(
        "select * from fail_step(%s, 'process', %s, 'not_a_video', 'no', false, %s)", (job, held(conn, job), at)
    ).fetchone()
    assert failed["finished_at"] == at
    assert {r["created_at"] for r in conn.execute("select created_at from job_events where to_status <> 'queued'")} == {
        at
    }
    assert (
        conn.execute("select created_at from webhook_messages where event_type = 'video.failed'").fetchone()[
            "created_at"
        ]
        == at
    )


def test_claim_is_compare_and_set(conn):
    job = new_job(conn)["id"]
    claimed = conn.execute("select * from claim_step(%s, 'process', 'a', 60)", (job,)).fetchone()
    assert (claimed["status"], claimed["attempts"]) == ("processing", 1)
    assert claimed["lease_owner"].startswith("a/")  # the worker, and this claim's own token
    assert sqlstate_of(conn, "select claim_step(%s, 'process', 'b', 60)", (job,)) == "VP409"
    # Only the holder may finish or fail the step.
    assert sqlstate_of(conn, "select complete_process(%s, 'b', '{}', '[]', '{}')", (job,)) == "VP412"
    assert sqlstate_of(conn, "select fail_step(%s, 'process', 'b', 'media_error', 'y', false)", (job,)) == "VP412"
    # Nor may the same worker with another claim's token: a stale run in the same process.
    assert sqlstate_of(conn, "select complete_process(%s, 'a', '{}', '[]', '{}')", (job,)) == "VP412"
    conn.execute("select complete_process(%s, %s, '{}', '[]', '{}')", (job, claimed["lease_owner"]))
    # A late duplicate of the process event finds the job moved on.
    assert sqlstate_of(conn, "select claim_step(%s, 'process', 'c', 60)", (job,)) == "VP410"
    assert sqlstate_of(conn, "select claim_step(gen_random_uuid(), 'process', 'c', 60)") == "VP404"


def test_transient_failures_retry_with_backoff_then_exhaust(conn):
    job = new_job(conn, max_attempts=2)["id"]
    conn.execute("select claim_step(%s, 'process', 'w', 60)", (job,))
    retried = conn.execute(
        "select * from fail_step(%s, 'process', %s, 'media_error', 'flaky', true)", (job, held(conn, job))
    ).fetchone()
    assert retried["status"] == "queued" and retried["reason_code"] is None
    wait = conn.execute("select run_after - now() as d from processing_jobs where id = %s", (job,)).fetchone()["d"]
    assert timedelta(seconds=7) <= wait <= timedelta(seconds=13)  # 10 s base ±25 %
    assert sqlstate_of(conn, "select claim_step(%s, 'process', 'w', 60)", (job,)) == "VP409"  # not due yet
    later = "now() + interval '1 minute'"
    conn.execute(f"select claim_step(%s, 'process', 'w', 60, {later})", (job,))
    failed = conn.execute(
        f"select * from fail_step(%s, 'process', %s, 'media_error', 'flaky', true, {later})", (job, held(conn, job))
    ).fetchone()
    assert (failed["status"], failed["reason_code"], failed["failed_step"]) == (
        "failed",
        "retries_exhausted",
        "process",
    )
    assert announced(conn, job)[-1] == "video_failed"


def test_permanent_failure_keeps_its_reason(conn):
    job = new_job(conn)["id"]
    conn.execute("select claim_step(%s, 'process', 'w', 60)", (job,))
    failed = conn.execute(
        "select * from fail_step(%s, 'process', %s, 'not_a_video', 'no video', false)", (job, held(conn, job))
    ).fetchone()
    assert (failed["status"], failed["reason_code"], failed["last_error"]) == ("failed", "not_a_video", "no video")


def test_sweeper_requeues_expired_lease_and_fails_the_last_attempt(conn):
    job = new_job(conn, max_attempts=2)["id"]
    conn.execute("select claim_step(%s, 'process', 'dead-worker', 30)", (job,))
    assert conn.execute("select * from sweep(now())").fetchall() == []  # lease still live
    swept = conn.execute("select * from sweep(now() + interval '31 seconds')").fetchall()
    assert swept == [{"subject_id": job, "action": "requeued"}]
    later = "now() + interval '10 minutes'"
    conn.execute(f"select claim_step(%s, 'process', 'dead-again', 30, {later})", (job,))
    swept = conn.execute("select * from sweep(now() + interval '11 minutes')").fetchall()
    assert swept == [{"subject_id": job, "action": "failed"}]
    row = conn.execute("select * from processing_jobs where id = %s", (job,)).fetchone()
    assert (row["status"], row["reason_code"]) == ("failed", "retries_exhausted")


def test_sweeper_reannounces_a_job_whose_event_died(conn):
    job = new_job(conn)["id"]
    conn.execute("update event_outbox set dead_at = now()")
    assert conn.execute("select * from sweep(now())").fetchall() == []  # not stale yet
    swept = conn.execute("select * from sweep(now() + interval '5 minutes', 120)").fetchall()
    assert swept == [{"subject_id": job, "action": "reemitted"}]
    assert conn.execute("select * from sweep(now() + interval '5 minutes', 120)").fetchall() == []  # once


def test_outbox_claim_hides_events_and_retry_backs_off_until_dead(conn):
    new_job(conn)
    claimed = conn.execute("select * from claim_outbox(10, 60)").fetchall()
    assert [r["target"] for r in claimed] == ["ingest", "process"]
    assert conn.execute("select * from claim_outbox(10, 60)").fetchall() == []  # invisible while claimed
    ingest, process = claimed
    conn.execute("select ack_outbox(%s)", (ingest["id"],))
    row = conn.execute("select * from retry_outbox(%s, 'HTTP 503', 2)", (process["id"],)).fetchone()
    assert row["dead_at"] is None and row["last_error"] == "HTTP 503"
    again = conn.execute("select * from claim_outbox(10, 60, now() + interval '1 minute')").fetchall()
    assert [r["id"] for r in again] == [process["id"]]
    dead = conn.execute("select * from retry_outbox(%s, 'HTTP 503', 2)", (process["id"],)).fetchone()
    assert dead["dead_at"] is not None
    assert conn.execute("select status from processing_jobs").fetchone()["status"] == "failed"  # settled


def kill_event(conn, target, permanent=False, error="connection refused"):
    """Deliver the newest event for `target` until the dispatcher gives up on it."""
    event = conn.execute("select id from event_outbox where target = %s order by id desc limit 1", (target,)).fetchone()
    conn.execute("update event_outbox set attempts = 5 where id = %s", (event["id"],))
    return conn.execute("select * from retry_outbox(%s, %s, 5, %s)", (event["id"], error, permanent)).fetchone()


def test_a_step_whose_function_stays_unreachable_fails_its_job_and_is_announced(conn):
    job = new_job(conn)["id"]
    assert kill_event(conn, "process")["dead_at"] is not None
    row = conn.execute("select * from processing_jobs where id = %s", (job,)).fetchone()
    assert (row["status"], row["reason_code"], row["failed_step"]) == ("failed", "retries_exhausted", "process")
    assert "could not be reached after 5 deliveries: connection refused" in row["last_error"]
    assert announced(conn, job)[-1] == "video_failed"


def test_a_step_whose_event_is_refused_fails_with_event_rejected(conn):
    job = new_job(conn)["id"]
    kill_event(conn, "process", permanent=True, error="HTTP 401: invalid_signature")
    row = conn.execute("select * from processing_jobs where id = %s", (job,)).fetchone()
    assert (row["status"], row["reason_code"]) == ("failed", "event_rejected")
    assert "refused the event: HTTP 401" in row["last_error"]


def test_a_dead_event_leaves_a_leased_job_to_its_lease(conn):
    job = new_job(conn)["id"]
    conn.execute("select claim_step(%s, 'process', 'w', 60)", (job,))
    kill_event(conn, "process")
    assert conn.execute("select status from processing_jobs").fetchone()["status"] == "processing"


def test_an_upload_whose_ingest_stays_unreachable_becomes_a_failed_job(conn):
    oid = new_object(conn)
    kill_event(conn, "ingest", error="HTTP 503")
    row = conn.execute(
        "select j.* from processing_jobs j join videos v on v.id = j.video_id where v.object_id = %s", (oid,)
    ).fetchone()
    assert (row["status"], row["reason_code"], row["failed_step"]) == ("failed", "retries_exhausted", "ingest")
    assert str(row["owner_id"]) == USER
    assert announced(conn, row["id"]) == ["video_failed"]


def test_sweeper_ingests_an_upload_whose_event_was_lost(conn):
    oid = new_object(conn)
    conn.execute("delete from event_outbox")
    assert conn.execute("select * from sweep(now())").fetchall() == []  # not stale yet
    swept = conn.execute("select * from sweep(now() + interval '5 minutes', 120)").fetchall()
    assert swept == [{"subject_id": oid, "action": "ingest_reemitted"}]
    assert outbox(conn) == [("ingest", None)]
    assert conn.execute("select * from sweep(now() + interval '5 minutes', 120)").fetchall() == []  # once


def test_sweeper_prunes_delivered_events_after_a_week_and_keeps_dead_ones(conn):
    new_job(conn)
    ingest, process = conn.execute("select id from event_outbox order by id").fetchall()
    conn.execute("select ack_outbox(%s)", (ingest["id"],))
    conn.execute("update event_outbox set dead_at = now() where id = %s", (process["id"],))
    conn.execute("select * from sweep(now() + interval '6 days')")
    kept = {r["id"] for r in conn.execute("select id from event_outbox")}
    assert {ingest["id"], process["id"]} <= kept
    conn.execute("select * from sweep(now() + interval '8 days')")
    kept = {r["id"] for r in conn.execute("select id from event_outbox")}
    assert ingest["id"] not in kept and process["id"] in kept


def test_sweeper_looks_back_one_week_only(conn):
    new_object(conn)
    conn.execute("delete from event_outbox")
    conn.execute("update ingest_buckets set created_at = now() - interval '30 days'")
    assert conn.execute("select * from sweep(now() + interval '8 days', 120)").fetchall() == []
    assert len(conn.execute("select * from sweep(now() + interval '6 days', 120)").fetchall()) == 1


def test_sweeper_leaves_uploads_older_than_the_pipeline_alone(conn):
    new_object(conn)
    conn.execute("delete from event_outbox")
    conn.execute("update ingest_buckets set created_at = now() + interval '1 minute'")
    assert conn.execute("select * from sweep(now() + interval '5 minutes', 120)").fetchall() == []


def fail_at(conn, job, step, reason="media_error", retryable=False):
    conn.execute("select claim_step(%s, %s, 'w', 60)", (job, step))
    return conn.execute(
        "select * from fail_step(%s, %s, %s, %s, 'it broke', %s)", (job, step, held(conn, job), reason, retryable)
    ).fetchone()


def history(conn, job):
    return [
        (e["from_status"], e["to_status"], e["reason_code"], e["message"])
        for e in conn.execute("select * from job_events where job_id = %s order by id", (job,))
    ]


def test_requeue_puts_a_failed_job_back_at_the_failed_step_and_keeps_its_history(conn):
    job = new_job(conn)["id"]
    fail_at(conn, job, "process")
    row = conn.execute("select * from requeue_job(%s)", (job,)).fetchone()
    assert (row["status"], row["attempts"], row["retries"], row["reason_code"], row["finished_at"]) == (
        "queued",
        0,
        1,
        None,
        None,
    )
    assert history(conn, job) == [
        (None, "queued", None, None),
        ("queued", "processing", None, None),
        ("processing", "failed", "media_error", "it broke"),
        ("failed", "queued", None, "retry requested at step process"),
    ]
    assert outbox(conn)[-1] == ("process", "queued")
    assert announced(conn, job) == ["video_ingested", "video_failed", "video_ingested_r1"]  # a new webhook-id
    conn.execute("select claim_step(%s, 'process', 'w2', 60)", (job,))  # claimable again


def test_requeue_after_generate_metadata_returns_to_processed(conn):
    job = new_job(conn)["id"]
    conn.execute("select claim_step(%s, 'process', 'w', 60)", (job,))
    conn.execute("select complete_process(%s, %s, '{}', '[]', '{}')", (job, held(conn, job)))
    fail_at(conn, job, "generate_metadata")
    assert conn.execute("select status from requeue_job(%s)", (job,)).fetchone()["status"] == "processed"


def test_only_failed_jobs_can_be_requeued(conn):
    job = new_job(conn)["id"]
    assert sqlstate_of(conn, "select requeue_job(%s)", (job,)) == "VP410"
    assert sqlstate_of(conn, "select requeue_job(gen_random_uuid())") == "VP404"


def test_requeue_of_an_ingest_failure_asks_ingest_to_check_the_upload_again(conn):
    job = reject(conn)["id"]
    row = conn.execute("select * from requeue_job(%s)", (job,)).fetchone()
    assert (row["status"], row["retries"]) == ("failed", 1) and row["retry_requested_at"] is not None
    assert outbox(conn)[-1] == ("ingest", None)
    assert sqlstate_of(conn, "select requeue_job(%s)", (job,)) == "VP409"  # already asked
    queued = conn.execute("select * from finish_reingest(%s, %s, 10, null, null)", (job, USER)).fetchone()
    assert (queued["status"], queued["reason_code"], queued["retry_requested_at"]) == ("queued", None, None)
    assert sqlstate_of(conn, "select finish_reingest(%s, %s, 10, null, null)", (job, USER)) == "VP410"
    assert history(conn, job)[-2:] == [
        ("failed", "failed", "too_large", "retry requested: checking the upload again"),
        ("failed", "queued", None, "the upload passed its checks on retry"),
    ]


def test_a_reingest_that_fails_again_is_announced_again(conn):
    job = reject(conn)["id"]
    conn.execute("select requeue_job(%s)", (job,))
    row = conn.execute("select * from finish_reingest(%s, null, null, 'too_long', 'long')", (job,)).fetchone()
    assert (row["status"], row["reason_code"], row["retry_requested_at"]) == ("failed", "too_long", None)
    assert announced(conn, job) == ["video_failed", "video_failed_r1"]


def test_requeue_of_an_ingest_failure_whose_upload_is_gone_is_refused(conn):
    job = reject(conn)
    gone = "delete from storage.objects where id = (select object_id from videos where id = %s)"
    assert sqlstate_of(conn, gone, (job["video_id"],)) == "42501"  # as on Supabase: only through the Storage API
    conn.execute("select set_config('storage.allow_delete_query', 'true', false)")  # as the Storage API deletes
    conn.execute(gone, (job["video_id"],))
    job = job["id"]
    assert sqlstate_of(conn, "select requeue_job(%s)", (job,)) == "VP404"


def test_a_lease_is_renewed_only_by_its_holder(conn):
    job = new_job(conn)
    claimed = conn.execute("select * from claim_step(%s, 'process', 'w1', 60)", (job["id"],)).fetchone()
    token = claimed["lease_owner"]
    renewed = conn.execute("select * from renew_lease(%s, %s, 600)", (job["id"], token)).fetchone()
    assert renewed["lease_expires_at"] - claimed["lease_expires_at"] > timedelta(seconds=500)
    shorter = conn.execute("select * from renew_lease(%s, %s, 10)", (job["id"], token)).fetchone()
    assert shorter["lease_expires_at"] == renewed["lease_expires_at"]  # renewing never shortens a lease
    assert sqlstate_of(conn, "select renew_lease(%s, 'w2', 600)", (job["id"],)) == "VP412"
    # The worker's name alone is not enough: only this claim's token.
    assert sqlstate_of(conn, "select renew_lease(%s, 'w1', 600)", (job["id"],)) == "VP412"


def test_generate_metadata_records_its_artifacts_with_the_document(conn):
    job = new_job(conn)
    conn.execute("select claim_step(%s, 'process', 'w', 60)", (job["id"],))
    conn.execute(
        "select complete_process(%s, %s, '{}', %s, '{}')",
        (
            job["id"],
            held(conn, job["id"]),
            Jsonb(
                [{"kind": "proxy", "bucket": "derived", "path": "p/proxy.mp4", "bytes": 5, "content_type": "video/mp4"}]
            ),
        ),
    )
    conn.execute("select claim_step(%s, 'generate_metadata', 'w', 60)", (job["id"],))
    captions = {
        "kind": "captions_vtt",
        "bucket": "derived",
        "path": "p/captions.vtt",
        "bytes": 9,
        "content_type": "text/vtt",
        "details": {"cues": 3},
    }
    done = conn.execute(
        "select * from complete_generate_metadata(%s, %s, 3, %s, %s)",
        (job["id"], held(conn, job["id"]), Jsonb({"schema_version": 3}), Jsonb([captions])),
    ).fetchone()
    assert done["status"] == "ready"
    rows = {r["kind"]: r for r in conn.execute("select * from video_artifacts")}
    assert set(rows) == {"proxy", "captions_vtt"} and rows["captions_vtt"]["details"] == {"cues": 3}
    assert rows["captions_vtt"]["owner_id"] is not None


def test_jobs_join_the_realtime_publication_where_supabase_has_one(pg_cluster, conn):
    members = "select tablename from pg_publication_tables where pubname = 'supabase_realtime'"
    assert (
        conn.execute("select count(*) as n from pg_publication where pubname = 'supabase_realtime'").fetchone()["n"]
        == 0
    )  # applied without it: a plain Postgres has none
    url = pg_cluster.create_database("vidpipe_realtime")
    try:
        with psycopg.connect(url, autocommit=True) as realtime:
            realtime.execute("create publication supabase_realtime")
            prepare_database(url, seed=False)
            assert [r[0] for r in realtime.execute(members)] == ["processing_jobs"]
    finally:
        with psycopg.connect(pg_cluster.admin_url, autocommit=True) as admin:
            admin.execute("drop database vidpipe_realtime with (force)")


def act_as_owner(conn, user):
    """What PostgREST does for a signed-in user: their role and their token's claims."""
    conn.execute("set role authenticated")
    conn.execute(
        "select set_config('request.jwt.claims', %s, false)", (f'{{"sub": "{user}", "role": "authenticated"}}',)
    )


def test_an_owner_retries_their_own_failed_job(conn):
    job = new_job(conn)["id"]
    fail_at(conn, job, "process")
    act_as_owner(conn, USER)
    try:
        row = conn.execute("select * from retry_job(%s)", (job,)).fetchone()
        assert (row["status"], row["retries"]) == ("queued", 1)
        assert sqlstate_of(conn, "select retry_job(%s)", (job,)) == "VP410"  # queued now: nothing to retry
    finally:
        conn.execute("reset role")
    assert history(conn, job)[-1] == ("failed", "queued", None, "retry requested at step process")


def test_no_owner_retries_a_job_that_is_not_theirs(conn):
    job = new_job(conn)["id"]
    fail_at(conn, job, "process")
    conn.execute("insert into auth.users (id) values (%s) on conflict do nothing", (OTHER,))
    act_as_owner(conn, OTHER)
    try:
        assert sqlstate_of(conn, "select retry_job(%s)", (job,)) == "VP404"
    finally:
        conn.execute("reset role")
    assert conn.execute("select status from processing_jobs where id = %s", (job,)).fetchone()["status"] == "failed"


def test_every_change_of_a_job_is_notified_with_its_id_alone(conn, db_url):
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("listen vidpipe_jobs")
        job = new_job(conn)["id"]
        fail_at(conn, job, "process")
        conn.execute("select requeue_job(%s)", (job,))
        heard = [n.payload for n in listener.notifies(timeout=2, stop_after=4)]
    # queued, processing, failed, queued again: one notification a change, carrying no owner or status
    assert heard == [str(job)] * 4


def test_each_webhook_attempt_is_notified_as_news_of_its_job(conn, db_url):
    conn.execute("select create_webhook_endpoint('https://example.com/hook', null, null, %s)", (USER,))
    job = new_job(conn)["id"]
    delivery = conn.execute("select id from webhook_deliveries where job_id = %s", (job,)).fetchone()["id"]
    claim = conn.execute(
        "select claim from claim_webhook_delivery(%s, (select event_message_id(max(id)) from event_outbox "
        "where subject_kind = 'webhook_delivery' and subject_id = %s), 60)",
        (delivery, delivery),
    ).fetchone()["claim"]
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("listen vidpipe_jobs")
        conn.execute("select record_webhook_attempt(%s, %s, 204, null, 12, '', null)", (delivery, claim))
        assert [n.payload for n in listener.notifies(timeout=2, stop_after=1)] == [str(job)]


def test_the_announcements_the_database_writes_keep_the_payload_schema(conn):
    ready = new_job(conn)["id"]
    conn.execute("select claim_step(%s, 'process', 'w', 60)", (ready,))
    proxy = [{"kind": "proxy", "bucket": "derived", "path": "a/proxy.mp4", "bytes": 5, "content_type": "video/mp4"}]
    conn.execute("select complete_process(%s, %s, '{}', %s, '{}')", (ready, held(conn, ready), Jsonb(proxy)))
    conn.execute("select claim_step(%s, 'generate_metadata', 'w', 60)", (ready,))
    conn.execute("select complete_generate_metadata(%s, %s, 1, '{}')", (ready, held(conn, ready)))
    failed = reject(conn, "not_a_video", "no video stream")["id"]
    validator = Draft202012Validator(json.loads(webhook_payload.SCHEMA_FILE.read_text()))
    payloads = [
        r["payload"]
        for r in conn.execute("select payload from webhook_messages where job_id in (%s, %s)", (ready, failed))
    ]
    assert sorted(p["type"] for p in payloads) == [
        "video.failed",
        "video.ingested",
        "video.playable",
        "video.processed",
        "video.ready",
    ]
    for payload in payloads:
        validator.validate(payload)  # as a consumer would
        parsed = webhook_payload.WebhookPayload.model_validate(payload)  # and no field the model lacks
        assert parsed.model_dump(mode="json", exclude_none=True)["data"] == payload["data"]
    failure = next(p for p in payloads if p["type"] == "video.failed")["data"]
    assert (failure["reason"], failure["message"], failure["failed_step"]) == (
        "not_a_video",
        "no video stream",
        "ingest",
    )


def test_a_running_step_reports_its_progress_on_its_row_and_in_its_announcements(conn, db_url):
    job = new_job(conn)["id"]
    conn.execute("select claim_step(%s, 'process', 'w', 60)", (job,))
    token = held(conn, job)

    def progress() -> tuple:
        row = conn.execute(
            "select progress_stage, progress_done, progress_total, progress_unit from processing_jobs where id = %s",
            (job,),
        ).fetchone()
        return tuple(row.values())

    def report(worker: str, stage: str, done: float, total: float) -> None:
        conn.execute("select report_progress(%s, %s, %s, %s, %s, 'seconds')", (job, worker, stage, done, total))

    with psycopg.connect(db_url, autocommit=True) as watcher:
        watcher.execute("listen vidpipe_jobs")
        report(token, "packaging", 30, 120)
        assert [n.payload for n in watcher.notifies(timeout=2, stop_after=1)] == [str(job)]
    assert progress() == ("packaging", 30, 120, "seconds")
    report("a-run-that-lost-its-lease", "encoding", 60, 120)  # said nothing
    assert progress() == ("packaging", 30, 120, "seconds")
    report(token, "encoding", 125, 120)  # ffmpeg's clock may pass the container's duration
    assert progress() == ("encoding", 120, 120, "seconds")
    assert sqlstate_of(conn, "select report_progress(%s, %s, 'encoding', 1, 0, 'seconds')", (job, token)) == "22023"
    report(token, "packaging", 30, 120)

    remux = [{"kind": "source_hls", "bucket": "derived", "path": "a/play/index.m3u8", "bytes": 5,
              "content_type": "application/vnd.apple.mpegurl"}]  # fmt: skip
    conn.execute("select mark_playable(%s, %s, %s)", (job, token, Jsonb(remux)))
    proxy = [{"kind": "proxy", "bucket": "derived", "path": "a/proxy.mp4", "bytes": 5, "content_type": "video/mp4"}]
    conn.execute("select complete_process(%s, %s, '{}', %s, '{}')", (job, token, Jsonb(proxy)))
    assert progress() == (None, None, None, None)  # a status change clears it
    conn.execute("select claim_step(%s, 'generate_metadata', 'w', 60)", (job,))
    conn.execute("select complete_generate_metadata(%s, %s, 1, '{}')", (job, held(conn, job)))
    told = {
        r["payload"]["type"]: r["payload"]["data"].get("progress")
        for r in conn.execute("select payload from webhook_messages where job_id = %s", (job,))
    }
    assert told["video.playable"] == {"stage": "packaging", "done": 30, "total": 120, "unit": "seconds", "percent": 25}
    assert told["video.ready"] == {"stage": "ready", "percent": 100}
    assert told["video.processed"] is None
