"""The Database port on Postgres (psycopg 3 with a pool): direct, or through the Supabase pooler.

Every write is one call to a state-machine function in SQL; custom SQLSTATEs raised there
become the domain exceptions below.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from shared.domain import (
    Busy,
    IllegalTransition,
    JobStep,
    LeaseLost,
    LimitReached,
    NotFound,
    NothingToDo,
    Reason,
    TransientError,
    WebhookCancelled,
    WebhookDeferred,
)
from shared.models import Artifact, Job, PostAnswer, StorageObject, UploadInfo, Video, WebhookDelivery, WebhookSend

SQLSTATE_ERRORS: dict[str, type[Exception]] = {
    "VP404": NotFound,
    "VP409": Busy,
    "VP410": NothingToDo,
    "VP412": LeaseLost,
    "VP422": IllegalTransition,
    "VP429": LimitReached,
}


def map_error(exc: psycopg.Error) -> Exception:
    """The domain exception for a database error, or TransientError for trouble worth a retry."""
    mapped = SQLSTATE_ERRORS.get(exc.sqlstate or "")
    if mapped is not None:
        primary = exc.diag.message_primary or str(exc)
        return mapped(primary)
    if isinstance(
        exc, psycopg.OperationalError | psycopg.errors.SerializationFailure | psycopg.errors.DeadlockDetected
    ):
        return TransientError(f"database unavailable: {exc}")
    return exc


class PostgresDatabase:
    def __init__(self, url: str, min_size: int = 1, max_size: int = 4) -> None:
        # No server-side prepared statements: Supavisor's transaction mode (and pgbouncer's) keeps none
        # between transactions.
        self._pool = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            open=False,
            kwargs={"autocommit": True, "row_factory": dict_row, "prepare_threshold": None},
            # A connection the database dropped (a restart, a failover) is replaced when it is
            # taken, not handed to a request that would fail on it.
            check=ConnectionPool.check_connection,
        )
        self._opened = False

    def close(self) -> None:
        if self._opened:
            self._pool.close()
            self._opened = False

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        if not self._opened:
            self._pool.open(wait=False)
            self._opened = True
        try:
            with self._pool.connection(timeout=10) as conn:
                yield conn
        except psycopg.Error as exc:
            raise map_error(exc) from exc
        except TimeoutError as exc:  # pool exhausted or database unreachable
            raise TransientError(f"database unavailable: {exc}") from exc

    def _one(self, sql: str, params: tuple[Any, ...]) -> dict[str, Any] | None:
        with self._conn() as conn:
            row: dict[str, Any] | None = conn.execute(sql, params).fetchone()
            return row

    def _all(self, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        with self._conn() as conn:
            rows: list[dict[str, Any]] = conn.execute(sql, params).fetchall()
            return rows

    def _job(self, sql: str, params: tuple[Any, ...]) -> Job:
        row = self._one(sql, params)
        if row is None or row.get("id") is None:
            raise NotFound("no job returned")
        return Job.model_validate(row)

    # Uploads --------------------------------------------------------------------------------
    def get_storage_object(self, object_id: UUID) -> StorageObject | None:
        row = self._one("select id, bucket_id, name, owner, metadata from storage.objects where id = %s", (object_id,))
        return StorageObject.model_validate(row) if row else None

    def user_exists(self, user_id: UUID) -> bool:
        return self._one("select 1 as one from auth.users where id = %s", (user_id,)) is not None

    def is_ingest_bucket(self, bucket: str) -> bool:
        return self._one("select 1 as one from public.ingest_buckets where bucket_id = %s", (bucket,)) is not None

    def job_for_object(self, object_id: UUID) -> Job | None:
        row = self._one(
            "select j.* from public.processing_jobs j join public.videos v on v.id = j.video_id where v.object_id = %s",
            (object_id,),
        )
        return Job.model_validate(row) if row else None

    def create_job(
        self, upload: UploadInfo, max_attempts: int, reason: Reason | None = None, message: str | None = None
    ) -> Job:
        return self._job(
            "select * from public.create_job(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                upload.object_id,
                upload.owner_id,
                upload.bucket,
                upload.path,
                upload.size_bytes,
                upload.content_type,
                max_attempts,
                reason,
                message,
            ),
        )

    def finish_reingest(
        self, job_id: UUID, owner_id: UUID | None, size: int | None, reason: Reason | None, message: str | None
    ) -> Job:
        return self._job(
            "select * from public.finish_reingest(%s, %s, %s, %s, %s)", (job_id, owner_id, size, reason, message)
        )

    def requeue_job(self, job_id: UUID) -> Job:
        return self._job("select * from public.requeue_job(%s)", (job_id,))

    # Replays --------------------------------------------------------------------------------
    def receipt_exists(self, message_id: str) -> bool:
        return self._one("select 1 as one from public.event_receipts where message_id = %s", (message_id,)) is not None

    def record_receipt(self, message_id: str, function: str) -> None:
        with self._conn() as conn:
            conn.execute(
                "insert into public.event_receipts (message_id, function) values (%s, %s) on conflict do nothing",
                (message_id, function),
            )

    # Steps ----------------------------------------------------------------------------------
    def claim_step(self, job_id: UUID, step: JobStep, worker: str, lease_seconds: int) -> Job:
        return self._job("select * from public.claim_step(%s, %s, %s, %s)", (job_id, step.value, worker, lease_seconds))

    def fail_step(self, job_id: UUID, step: JobStep, worker: str, reason: Reason, message: str, retryable: bool) -> Job:
        return self._job(
            "select * from public.fail_step(%s, %s, %s, %s, %s, %s)",
            (job_id, step.value, worker, reason, message, retryable),
        )

    def complete_process(
        self, job_id: UUID, worker: str, probe: dict[str, Any], artifacts: list[Artifact], analysis: dict[str, Any]
    ) -> Job:
        return self._job(
            "select * from public.complete_process(%s, %s, %s, %s, %s)",
            (job_id, worker, Jsonb(probe), Jsonb([a.model_dump(mode="json") for a in artifacts]), Jsonb(analysis)),
        )

    def mark_playable(self, job_id: UUID, worker: str, artifacts: list[Artifact]) -> Job:
        return self._job(
            "select * from public.mark_playable(%s, %s, %s)",
            (job_id, worker, Jsonb([a.model_dump(mode="json") for a in artifacts])),
        )

    def complete_generate_metadata(
        self, job_id: UUID, worker: str, schema_version: int, document: dict[str, Any], artifacts: list[Artifact]
    ) -> Job:
        return self._job(
            "select * from public.complete_generate_metadata(%s, %s, %s, %s, %s)",
            (job_id, worker, schema_version, Jsonb(document), Jsonb([a.model_dump(mode="json") for a in artifacts])),
        )

    def renew_lease(self, job_id: UUID, worker: str, lease_seconds: int) -> Job:
        return self._job("select * from public.renew_lease(%s, %s, %s)", (job_id, worker, lease_seconds))

    def report_progress(self, job_id: UUID, worker: str, stage: str, done: float, total: float, unit: str) -> None:
        with self._conn() as conn:
            conn.execute(
                "select public.report_progress(%s, %s, %s, %s, %s, %s)", (job_id, worker, stage, done, total, unit)
            )

    # Reads ----------------------------------------------------------------------------------
    def get_video(self, video_id: UUID) -> Video:
        row = self._one("select * from public.videos where id = %s", (video_id,))
        if row is None:
            raise NotFound(f"video {video_id} not found")
        return Video.model_validate(row)

    def list_artifacts(self, video_id: UUID) -> list[Artifact]:
        rows = self._all(
            "select kind, bucket, path, bytes, content_type, details "
            "from public.video_artifacts where video_id = %s order by kind",
            (video_id,),
        )
        return [Artifact.model_validate(r) for r in rows]

    def claim_webhook_delivery(
        self, delivery_id: UUID, message_id: str, claim_seconds: int, owner_limit: int
    ) -> WebhookSend:
        row = self._one(
            "select * from public.claim_webhook_delivery(%s, %s, %s, %s)",
            (delivery_id, message_id, claim_seconds, owner_limit),
        )
        if row is None:
            raise WebhookCancelled(f"delivery {delivery_id} was cancelled: its endpoint is turned off")
        if row["deferred_until"] is not None:
            raise WebhookDeferred(row["deferred_until"])
        return WebhookSend.model_validate(row)

    def record_webhook_attempt(
        self, delivery_id: UUID, claim: str, answer: PostAnswer, retry_at: datetime | None
    ) -> WebhookDelivery:
        error = answer.error[:2000] if answer.error else None
        row = self._one(
            "select * from public.record_webhook_attempt(%s, %s, %s, %s, %s, %s, %s)",
            (delivery_id, claim, answer.status_code, error, answer.latency_ms, answer.body, retry_at),
        )
        return WebhookDelivery.model_validate(row)
