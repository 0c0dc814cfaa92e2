"""Row level security as API users meet it: `set local role` plus JWT claims, like PostgREST."""

import json

import psycopg
import pytest
from psycopg.types.json import Jsonb

ALICE = "00000000-0000-4000-8000-00000000000a"
BOB = "00000000-0000-4000-8000-00000000000b"
OWNED_TABLES = ["videos", "processing_jobs", "job_events", "video_artifacts", "video_metadata",
                "webhook_endpoints", "webhook_deliveries"]


@pytest.fixture
def two_owners(conn):
    for user in (ALICE, BOB):
        conn.execute("insert into auth.users (id) values (%s)", (user,))
        oid = conn.execute("insert into storage.objects (bucket_id, name, owner) values ('uploads', %s, %s) "
                           "returning id", (f"{user}/v.mp4", user)).fetchone()["id"]
        job = conn.execute("select * from register_upload(%s, %s, 'uploads', %s, 1, null)",
                           (oid, user, f"{user}/v.mp4")).fetchone()
        conn.execute("select claim_step(%s, 'process', 'w', 60)", (job["id"],))
        conn.execute("select complete_process(%s, 'w', '{}', %s, '{}')", (job["id"], Jsonb([
            {"kind": "poster", "bucket": "derived", "path": "x", "bytes": 1, "content_type": "image/jpeg"}])))
        conn.execute("select claim_step(%s, 'generate_metadata', 'w', 60)", (job["id"],))
        conn.execute("select complete_generate_metadata(%s, 'w', 1, '{}')", (job["id"],))
        ep = conn.execute("insert into webhook_endpoints (owner_id, url) values (%s, 'https://example.com/h') "
                          "returning id", (user,)).fetchone()["id"]
        conn.execute("insert into webhook_deliveries (endpoint_id, job_id, owner_id, event_type, message_id) "
                     "values (%s, %s, %s, 'video.ready', 'm')", (ep, job["id"], user))
    return conn


def as_user(conn, role, user=None):
    conn.execute(f"set role {role}")
    claims = {"role": role, **({"sub": user} if user else {})}
    conn.execute("select set_config('request.jwt.claims', %s, false)", (json.dumps(claims),))


@pytest.mark.parametrize("table", OWNED_TABLES)
def test_owner_reads_only_their_rows(two_owners, table):
    conn = two_owners
    as_user(conn, "authenticated", ALICE)
    cols = "id, owner_id" if table == "webhook_endpoints" else "owner_id"
    owners = {str(r["owner_id"]) for r in conn.execute(f"select {cols} from {table}")}
    assert owners == {ALICE}


@pytest.mark.parametrize("table", [*OWNED_TABLES, "event_outbox", "ingest_buckets", "event_receipts"])
def test_anon_reads_nothing(two_owners, table):
    as_user(two_owners, "anon")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        two_owners.execute(f"select 1 from {table}")


def test_internal_tables_are_closed_to_signed_in_users(two_owners):
    as_user(two_owners, "authenticated", ALICE)
    for table in ("event_outbox", "ingest_buckets", "event_receipts"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            two_owners.execute(f"select 1 from {table}")


def test_signing_secret_is_service_role_only(two_owners):
    as_user(two_owners, "authenticated", ALICE)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        two_owners.execute("select secret from webhook_endpoints")
    two_owners.execute("reset role")
    as_user(two_owners, "service_role")
    assert len(two_owners.execute("select secret from webhook_endpoints").fetchall()) == 2


@pytest.mark.parametrize("sql", [
    "update processing_jobs set status = 'failed'",
    "delete from videos",
    f"insert into webhook_endpoints (owner_id, url) values ('{ALICE}', 'https://e.com')",
    "update video_metadata set document = '{}'",
])
def test_owners_cannot_write(two_owners, sql):
    as_user(two_owners, "authenticated", ALICE)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        two_owners.execute(sql)


@pytest.mark.parametrize("call", [
    "select claim_step(gen_random_uuid(), 'process', 'w', 60)",
    "select * from sweep()",
    "select * from claim_outbox(1, 1)",
    "select requeue_job(gen_random_uuid())",
    "select finish_reingest(gen_random_uuid(), null, 1, null, null)",
])
def test_state_machine_functions_are_not_callable_by_users(two_owners, call):
    as_user(two_owners, "authenticated", ALICE)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        two_owners.execute(call)
