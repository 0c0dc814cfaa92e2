"""Driving the functions in-process (functions-framework's test client) over a real database
and real local storage: the environment, signed posts, uploads and the outbox."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from functions_framework import create_app
from psycopg.types.json import Jsonb

from infra import REPO_ROOT
from infra.local.pooler import TransactionPooler
from shared.config import forget_settings
from shared.function_door import drain
from shared.ports import Services
from shared.services import reset_services, services_for
from shared.signing import new_secret, sign_headers

USER = "00000000-0000-4000-8000-000000000001"
SECRET = new_secret()


@pytest.fixture
def function_db_url(db_url: str) -> str:
    """The URL the functions connect with: the test's database, directly."""
    return db_url


@pytest.fixture(name="function_db_url", params=["direct", "pooled"])
def direct_and_pooled(request: pytest.FixtureRequest, db_url: str, pooler: TransactionPooler) -> str:
    """For modules that import it: each test twice, once with the functions connected directly
    and once through pgbouncer in transaction mode, as serverless functions reach Supabase."""
    return pooler.pooled(db_url) if request.param == "pooled" else db_url


@pytest.fixture
def env(function_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Settings for the functions; yields the local storage root."""
    root = tmp_path / "storage"
    redeploy(monkeypatch, database_url=function_db_url, event_secret=SECRET, storage_root=str(root))
    yield root
    reload_settings()


def reload_settings() -> None:
    """Make the functions read the environment again, as a redeploy would."""
    reset_services()
    forget_settings()


def redeploy(monkeypatch: pytest.MonkeyPatch, **settings: str) -> None:
    """Set VIDPIPE_<NAME> for each setting and make the functions read them, as a redeploy would."""
    for name, value in settings.items():
        monkeypatch.setenv(f"VIDPIPE_{name.upper()}", value)
    reload_settings()


def services(function: str, **replaced: Any) -> Services:
    """What the function's door passes its use case, with some dependencies replaced."""
    return dataclasses.replace(services_for(function), **replaced)


def client(name: str) -> Any:
    return create_app(name, str(REPO_ROOT / "functions" / name / "main.py")).test_client()


def post(
    name: str,
    payload: Any,
    secret: str = SECRET,
    headers: dict[str, str] | None = None,
    message_id: str | None = None,
    follow: bool = True,
) -> Any:
    """POST a signed event; each call is a new message unless `message_id` repeats one. With
    `follow`, wait for the work the function goes on with after its answer."""
    body = json.dumps(payload) if not isinstance(payload, str | bytes) else payload
    text = body.decode(errors="replace") if isinstance(body, bytes) else body
    signed = sign_headers(secret, message_id or f"evt_{uuid4().hex}", text)
    answer = client(name).post("/", data=body, headers={**signed, **(headers or {})})
    if follow:
        drain()  # a long step works on after its 202: follow it to its end
    return answer


def upload(
    conn: Any, root: Path, clip: Path, name: str = f"{USER}/clip.mp4", owner: str | None = USER, bucket: str = "uploads"
) -> dict[str, Any]:
    """Store a file and insert its storage.objects row, as Supabase Storage does."""
    target = root / bucket / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(clip, target)
    row: dict[str, Any] = conn.execute(
        "insert into storage.objects (bucket_id, name, owner, metadata) values (%s, %s, %s, %s) returning *",
        (bucket, name, owner, Jsonb({"size": clip.stat().st_size})),
    ).fetchone()
    return row


def event_for(conn: Any, target: str) -> dict[str, Any]:
    row = conn.execute(
        "select payload from event_outbox where target = %s order by id desc limit 1", (target,)
    ).fetchone()
    assert row is not None, f"no event for {target}"
    payload: dict[str, Any] = row["payload"]
    return payload


def announced(conn: Any, job_id: Any) -> list[str]:
    """The event types announced to the job's owner, oldest first."""
    return [
        r["event_type"]
        for r in conn.execute(
            "select event_type::text from webhook_messages where job_id = %s order by created_at, id", (job_id,)
        )
    ]


def job_row(conn: Any) -> dict[str, Any] | None:
    row: dict[str, Any] | None = conn.execute("select * from processing_jobs").fetchone()
    return row
