"""Every query run outside the functions: the CLI, the results page, the webhooks CLI, the
dispatcher, the local stack and the benchmarks. The functions read and write through their port
(shared/ports.py, shared/adapters/postgres.py); everything else reads here, each query named for
what it returns. Rows are dicts (psycopg's dict_row); a caller connects, this module asks.

Rules live in the database's functions (retry_job, claim_outbox, create_webhook_endpoint…): a
query here calls them, it never restates them. Their refusals are mapped by the one SQLSTATE table
(shared/adapters/postgres.map_error).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from shared.domain import DeliveryCarrier

Conn = psycopg.Connection[dict[str, Any]]
Row = dict[str, Any]


def connect(database_url: str, autocommit: bool = True) -> Conn:
    """A connection whose rows are dicts, as every query here returns them."""
    return psycopg.connect(database_url, autocommit=autocommit, row_factory=dict_row)


# Jobs ------------------------------------------------------------------------------------------
# A job with the path of its upload.
_JOB = "select j.*, v.path from public.processing_jobs j join public.videos v on v.id = j.video_id"


def job_of_upload(conn: Conn, object_id: UUID) -> Row | None:
    return conn.execute(_JOB + " where v.object_id = %s", (object_id,)).fetchone()


def job_by_id(conn: Conn, job_id: UUID) -> Row | None:
    return conn.execute(_JOB + " where j.id = %s", (job_id,)).fetchone()


def newest_jobs(conn: Conn, limit: int = 50) -> list[Row]:
    return conn.execute(_JOB + " order by j.created_at desc limit %s", (limit,)).fetchall()


def job_ids_starting(conn: Conn, prefix: str, limit: int = 2) -> list[UUID]:
    """The ids of jobs whose id starts with `prefix`, at most `limit` of them."""
    rows = conn.execute(
        "select id from public.processing_jobs where id::text like %s order by id limit %s", (prefix + "%", limit)
    ).fetchall()
    return [row["id"] for row in rows]


def job_history(conn: Conn, job_id: UUID, after: int = 0) -> list[Row]:
    """The job's events (job_events rows) after event id `after`, oldest first."""
    return conn.execute(
        "select * from public.job_events where job_id = %s and id > %s order by id", (job_id, after)
    ).fetchall()


def upload_time(conn: Conn, object_id: UUID) -> datetime | None:
    row = conn.execute("select created_at from storage.objects where id = %s", (object_id,)).fetchone()
    return row["created_at"] if row else None


def metadata_document(conn: Conn, video_id: UUID) -> dict[str, Any] | None:
    row = conn.execute("select document from public.video_metadata where video_id = %s", (video_id,)).fetchone()
    return row["document"] if row else None


def announcement_of(conn: Conn, job_id: UUID, event_type: str) -> Row | None:
    """The newest message of that type for the job and how its deliveries stand: endpoints,
    delivered, unsent (no attempt yet), the last answer's time and the errors."""
    return conn.execute(
        "select m.event_type, m.created_at, count(d.id) as endpoints, "
        "count(*) filter (where d.status = 'delivered') as delivered, "
        "count(*) filter (where d.attempts = 0 and d.finished_at is null) as unsent, "
        "max(greatest(d.delivered_at, d.finished_at)) as last_at, string_agg(distinct d.last_error, '; ') as errors "
        "from public.webhook_messages m left join public.webhook_deliveries d on d.message_id = m.id "
        "where m.job_id = %s and m.event_type = %s group by m.id order by m.created_at desc limit 1",
        (job_id, event_type),
    ).fetchone()


def finished_jobs(conn: Conn) -> int:
    """How many jobs have ended, ready or failed."""
    row = conn.execute("select count(*) as n from public.processing_jobs where finished_at is not null").fetchone()
    return int(row["n"]) if row else 0


# The first time a job entered a status.
_FIRST = "(select min(e.created_at) from public.job_events e where e.job_id = j.id and e.to_status = '{}')"


def job_timings(conn: Conn, job_id: UUID | None = None, object_id: UUID | None = None) -> list[Row]:
    """Per job (all, or the one of a job or an upload), its id, status and seconds: from the upload
    to its video row (ingest_hop), from queued to processing (process_hop) and from processed to
    describing (describe_hop), how long each event took to reach its function; and from the upload
    to the video's playing (playable) and to the job's end (total; each null until then). The
    benchmarks of the carriers read these."""
    return conn.execute(
        f"""select j.id, j.status, extract(epoch from v.created_at - o.created_at) as ingest_hop,
                   extract(epoch from {_FIRST.format("processing")} - {_FIRST.format("queued")}) as process_hop,
                   extract(epoch from {_FIRST.format("describing")} - {_FIRST.format("processed")}) as describe_hop,
                   extract(epoch from v.playable_at - o.created_at) as playable,
                   extract(epoch from j.finished_at - o.created_at) as total
              from public.processing_jobs j join public.videos v on v.id = j.video_id
              join storage.objects o on o.id = v.object_id
             where (%(job)s::uuid is null or j.id = %(job)s)
               and (%(object)s::uuid is null or v.object_id = %(object)s)""",
        {"job": job_id, "object": object_id},
    ).fetchall()


# The results page: what a signed-in owner reads (through as_owner, so RLS decides) -------------
_PAGE_JOB = """
select j.id as job_id, j.video_id, v.object_id, v.path, v.size_bytes, j.status, j.reason_code, j.last_error,
       j.failed_step, j.attempts, j.max_attempts, j.retries, j.retry_requested_at, j.created_at, j.updated_at,
       j.finished_at, j.progress_stage, j.progress_done, j.progress_total, j.progress_unit, v.playable_at,
       m.document #>> '{suggestions,title}' as title, m.document #>> '{poster,path}' as poster,
       m.document #>> '{poster,bucket}' as poster_bucket
  from public.processing_jobs j join public.videos v on v.id = j.video_id
  left join public.video_metadata m on m.video_id = j.video_id
"""


def page_jobs(conn: Conn, limit: int = 200) -> list[Row]:
    """The page's list: each job with its title and poster, newest first."""
    return conn.execute(_PAGE_JOB + " order by j.created_at desc limit %s", (limit,)).fetchall()


def page_jobs_by_id(conn: Conn, job_ids: list[str]) -> list[Row]:
    return conn.execute(_PAGE_JOB + " where j.id = any(%s::uuid[])", (job_ids,)).fetchall()


def page_job_of_video(conn: Conn, video_id: UUID) -> Row | None:
    return conn.execute(_PAGE_JOB + " where j.video_id = %s", (video_id,)).fetchone()


# What a player is given, best first: the master playlist over every HLS rendition (a player
# picks by bandwidth), the HLS ladder, the source remuxed (its own quality, there from the
# moment the video is playable), the proxy's HLS, the MP4 proxy.
PLAYING_ORDER = ["playback", "hls", "source_hls", "proxy_hls", "proxy"]


def playing(conn: Conn, video_id: UUID) -> Row | None:
    """The file that plays the video now (kind, bucket, path), or None while nothing does."""
    return conn.execute(
        "select kind, bucket, path from public.video_artifacts where video_id = %(video)s and kind = any(%(kinds)s) "
        "order by array_position(%(kinds)s, kind) limit 1",
        {"video": video_id, "kinds": PLAYING_ORDER},
    ).fetchone()


def job_deliveries(conn: Conn, job_id: UUID) -> list[Row]:
    """The job's webhook deliveries with their endpoint and every attempt (`tries`)."""
    return conn.execute(
        """select d.id, m.event_type, e.url, d.status, d.attempts, d.last_status_code, d.last_error, d.delivered_at,
                  d.created_at,
                  coalesce((select json_agg(json_build_object('attempt', a.attempt, 'status_code', a.status_code,
                                                              'error', a.error, 'latency_ms', a.latency_ms,
                                                              'at', a.created_at) order by a.id)
                              from public.webhook_attempts a where a.delivery_id = d.id), '[]') as tries
             from public.webhook_deliveries d join public.webhook_messages m on m.id = d.message_id
             join public.webhook_endpoints e on e.id = d.endpoint_id
            where d.job_id = %s order by d.created_at""",
        (job_id,),
    ).fetchall()


def retried_job_status(conn: Conn, job_id: UUID) -> str | None:
    """retry_job as the signed-in owner: the job's status after it (its refusals raise)."""
    row = conn.execute("select status from public.retry_job(%s)", (job_id,)).fetchone()
    return row["status"] if row else None


def video_owns_file(conn: Conn, bucket: str, key: str, derived_bucket: str) -> bool:
    """Whether a video the connection's user reads is this upload, or owns this derived file
    (`<owner>/<video>/…` in the derived bucket)."""
    parts = PurePosixPath(key).parts
    return (
        conn.execute(
            "select 1 from public.videos v where (v.bucket = %(bucket)s and v.path = %(key)s) "
            "or (%(bucket)s = %(derived)s and v.owner_id::text = %(owner)s and v.id::text = %(video)s)",
            {"bucket": bucket, "key": key, "derived": derived_bucket, "owner": parts[0], "video": parts[1]},
        ).fetchone()
        is not None
    )


# Customer webhook endpoints and deliveries, for an owner --------------------------------------
def created_endpoint(
    conn: Conn, url: str, event_types: list[str] | None, description: str | None, owner: UUID
) -> Row | None:
    """create_webhook_endpoint: the new endpoint's id and secret (shown only now)."""
    return conn.execute(
        "select * from public.create_webhook_endpoint(%s, %s, %s, %s)", (url, event_types, description, owner)
    ).fetchone()


def owner_endpoints(conn: Conn, owner: UUID) -> list[Row]:
    """The owner's endpoints with their delivery count and last answer (`last`)."""
    return conn.execute(
        "select e.id, e.url, e.event_types::text[] as event_types, e.enabled, e.disabled_reason, e.description, "
        "(select count(*) from public.webhook_deliveries d where d.endpoint_id = e.id) as deliveries, "
        "(select coalesce(a.status_code::text, a.error) from public.webhook_attempts a "
        "  where a.endpoint_id = e.id order by a.created_at desc, a.id desc limit 1) as last "
        "from public.webhook_endpoints e where e.owner_id = %s order by e.created_at",
        (owner,),
    ).fetchall()


def endpoint_removed(conn: Conn, endpoint: UUID, owner: UUID) -> bool:
    row = conn.execute("select public.delete_webhook_endpoint(%s, %s) as done", (endpoint, owner)).fetchone()
    return bool(row and row["done"])


def endpoint_switched(conn: Conn, endpoint: UUID, enabled: bool, owner: UUID) -> bool:
    row = conn.execute(
        "select public.set_webhook_endpoint_enabled(%s, %s, %s) as done", (endpoint, enabled, owner)
    ).fetchone()
    return bool(row and row["done"])


def endpoint_address(conn: Conn, endpoint: UUID, owner: UUID) -> Row | None:
    """The owner's endpoint's url and secret."""
    return conn.execute(
        "select url, secret from public.webhook_endpoints where id = %s and owner_id = %s", (endpoint, owner)
    ).fetchone()


def owner_deliveries(conn: Conn, owner: UUID, endpoint: UUID | None, limit: int) -> list[Row]:
    """The owner's newest deliveries (of one endpoint when named), with the message's type."""
    return conn.execute(
        "select d.id, d.message_id, m.event_type, d.endpoint_id, d.status, d.attempts, d.replays, "
        "d.next_attempt_at, coalesce(d.last_status_code::text, '') as code, d.last_error "
        "from public.webhook_deliveries d join public.webhook_messages m on m.id = d.message_id "
        "where d.owner_id = %s and (%s::uuid is null or d.endpoint_id = %s) "
        "order by d.created_at desc limit %s",
        (owner, endpoint, endpoint, limit),
    ).fetchall()


def owner_has_delivery(conn: Conn, delivery: UUID, owner: UUID) -> bool:
    row = conn.execute(
        "select 1 from public.webhook_deliveries where id = %s and owner_id = %s", (delivery, owner)
    ).fetchone()
    return row is not None


def replayed_delivery(conn: Conn, delivery: UUID) -> Row | None:
    """replay_webhook_delivery: the delivery, due again from the start of its schedule."""
    return conn.execute("select * from public.replay_webhook_delivery(%s)", (delivery,)).fetchone()


def open_deliveries(conn: Conn) -> int:
    row = conn.execute("select count(*) as n from public.webhook_deliveries where finished_at is null").fetchone()
    return int(row["n"]) if row else 0


def deliveries_sending(conn: Conn) -> int:
    row = conn.execute("select count(*) as n from public.webhook_deliveries where status = 'sending'").fetchone()
    return int(row["n"]) if row else 0


def attempt_summary(conn: Conn) -> Row:
    """How many webhook attempts are recorded (`n`), and the longest's milliseconds (`longest_ms`)."""
    row = conn.execute("select count(*) as n, max(latency_ms) as longest_ms from public.webhook_attempts").fetchone()
    assert row is not None  # an aggregate always has its row
    return row


# The event carrier -----------------------------------------------------------------------------
@dataclass(frozen=True)
class DeliveryPolicy:
    """delivery_settings, the one row both carriers follow."""

    carrier: DeliveryCarrier
    function_urls: dict[str, str]
    timeout_seconds: float  # one POST to a function, answer included
    max_attempts: int  # deliveries before an event is dead
    visibility_seconds: int  # a claimed event is sent again after this unless settled
    batch: int  # events claimed at once
    backoff_base_seconds: float


def delivery_policy(conn: Conn) -> DeliveryPolicy:
    row = conn.execute(
        "select carrier::text as carrier, function_urls, timeout_ms, max_attempts, visibility_seconds, batch, "
        "backoff_base_seconds from public.delivery_settings"
    ).fetchone()
    if row is None:
        raise LookupError("public.delivery_settings has no row: apply the migrations")
    return DeliveryPolicy(
        carrier=DeliveryCarrier(row["carrier"]),
        function_urls=dict(row["function_urls"]),
        timeout_seconds=row["timeout_ms"] / 1000,
        max_attempts=row["max_attempts"],
        visibility_seconds=row["visibility_seconds"],
        batch=row["batch"],
        backoff_base_seconds=float(row["backoff_base_seconds"]),
    )


# What an operator may change in the policy with an update (configure_delivery sets the rest).
POLICY_COLUMNS = ("timeout_ms", "max_attempts", "visibility_seconds", "batch", "backoff_base_seconds")


def changed_policy(conn: Conn, **values: float) -> DeliveryPolicy:
    """Set some of the policy's values (POLICY_COLUMNS); the carriers follow from their next pass."""
    unknown = sorted(set(values) - set(POLICY_COLUMNS))
    if unknown or not values:
        raise ValueError(f"not a policy value: {', '.join(unknown) or 'none given'}; one of {POLICY_COLUMNS}")
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(name), sql.Placeholder(name)) for name in values
    )
    conn.execute(sql.SQL("update public.delivery_settings set {}, updated_at = now()").format(assignments), values)
    return delivery_policy(conn)


def configured_delivery(conn: Conn, carrier: DeliveryCarrier, function_urls: dict[str, str], event_secret: str) -> None:
    """configure_delivery: which carrier, where each function is, and the secret that signs."""
    conn.execute("select public.configure_delivery(%s, %s, %s)", (carrier, Jsonb(function_urls), event_secret))


def delivery_health(conn: Conn) -> list[Row]:
    """delivery_health: each part events need (carrier, pg_net's worker, secret, pg_cron's jobs),
    whether it is ok, and what to do when it is not."""
    return conn.execute("select * from public.delivery_health()").fetchall()


def claimed_events(conn: Conn, limit: int, visibility_seconds: int, targets: list[str]) -> list[Row]:
    """claim_outbox: due events for these functions, each now invisible for the visibility, with
    the webhook-id to send it as (`message_id`)."""
    return conn.execute(
        "select e.*, public.event_message_id(e.id) as message_id "
        "from public.claim_outbox(%s, %s, now(), %s::public.pipeline_function[]) e",
        (limit, visibility_seconds, targets),
    ).fetchall()


def settled_event(conn: Conn, event_id: int, status_code: int | None, detail: str, max_attempts: int) -> str:
    """settle_outbox_attempt: what a function's answer means for the event (ack, retry, dead)."""
    row = conn.execute(
        "select public.settle_outbox_attempt(%s, %s, %s, %s) as action", (event_id, status_code, detail, max_attempts)
    ).fetchone()
    return str(row["action"]) if row else "unknown"


def seconds_to_next_event(conn: Conn) -> float | None:
    """Seconds until the earliest waiting event is due (negative: overdue); None when none waits."""
    row = conn.execute(
        "select extract(epoch from min(available_at) - now()) as due "
        "from public.event_outbox where delivered_at is null and dead_at is null"
    ).fetchone()
    return None if row is None or row["due"] is None else float(row["due"])


def swept(conn: Conn, stale_seconds: int) -> list[Row]:
    """sweep: what the sweeper rescued, each (subject_id, action)."""
    return conn.execute("select * from public.sweep(now(), %s)", (stale_seconds,)).fetchall()


# What Supabase's own services write, played by the local stack ---------------------------------
def added_user(conn: Conn, user_id: UUID) -> None:
    """A user, as Supabase Auth makes one at sign-up (auth.users, which owners' rows reference)."""
    conn.execute("insert into auth.users (id) values (%s) on conflict do nothing", (user_id,))


def bucket_size_limit(conn: Conn, bucket: str) -> Row | None:
    """The bucket's `file_size_limit` (null: none), or None when there is no such bucket."""
    return conn.execute("select file_size_limit from storage.buckets where id = %s", (bucket,)).fetchone()


def inserted_object(conn: Conn, bucket: str, name: str, owner: str, metadata: dict[str, Any] | None) -> UUID:
    """A storage.objects row, as Supabase Storage inserts one after storing the bytes (its owner
    from the uploader's token); its trigger hands an upload to the pipeline. The new id."""
    row = conn.execute(
        "insert into storage.objects (bucket_id, name, owner, owner_id, metadata) values (%s, %s, %s, %s, %s) "
        "returning id",
        (bucket, name, owner, owner, Jsonb(metadata) if metadata is not None else None),
    ).fetchone()
    assert row is not None  # insert … returning
    return UUID(str(row["id"]))


# Postgres' own statistics, for the benchmarks --------------------------------------------------
def row_updates_and_wal(conn: Conn, table: str, since_lsn: str | None = None) -> Row:
    """The table's row updates so far (`updates`), the WAL position now (`lsn`) and the WAL bytes
    written since `since_lsn` (`wal_bytes`, when given)."""
    row = conn.execute(
        "select n_tup_upd as updates, pg_current_wal_lsn()::text as lsn, "
        "pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn) as wal_bytes "
        "from pg_stat_user_tables where relname = %s",
        (since_lsn, table),
    ).fetchone()
    if row is None:
        raise LookupError(f"no table {table}")
    return row
