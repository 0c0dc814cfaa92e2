"""Shared fixtures: one throwaway Postgres cluster per run with a template database built from
the migrations once; a fresh copy per test. Generated clips are made once per run."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from infra.clips import make_clip, make_speech_clip
from infra.local.pooler import TransactionPooler
from infra.local.postgres import PostgresCluster, prepare_database

EVENTS = Path(__file__).parent / "events"
TEMPLATE = "vidpipe_template"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    root = Path(tempfile.mkdtemp(prefix="vidpipe-test-pg-"))
    os.chmod(root, 0o755)  # noqa: S103  # the postgres user must reach the data dir
    cluster = PostgresCluster(root / "data", fsync=False)
    try:  # a failing migration must not leave the cluster running
        cluster.start()
        prepare_database(cluster.create_database(TEMPLATE))
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def pooler(pg_cluster: PostgresCluster) -> Iterator[TransactionPooler]:
    """pgbouncer in transaction mode in front of the cluster (started when a test asks)."""
    pooler = TransactionPooler(pg_cluster)
    pooler.start()
    try:
        yield pooler
    finally:
        pooler.stop()


@pytest.fixture
def db_url(pg_cluster: PostgresCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"t_{abs(hash(request.node.nodeid)) % 10**12}_{os.getpid()}"
    url = pg_cluster.create_database(name, template=TEMPLATE)
    yield url
    with psycopg.connect(pg_cluster.admin_url, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as c:
        yield c


@pytest.fixture(scope="session")
def clips() -> Iterator[dict[str, Path]]:
    """Small generated clips, made once per run."""
    root = Path(tempfile.mkdtemp(prefix="vidpipe-clips-"))
    made = {
        "plain": make_clip(root / "plain.mp4", seconds=2, width=640, height=360),
        "rotated": make_clip(root / "rotated.mp4", seconds=2, width=640, height=360, rotate=90),
        "silent": make_clip(root / "silent.mp4", seconds=2, width=320, height=240, audio=False),
        # Three 12 s scenes, a sentence spoken in each (infra.clips.SPEECH_SCENES).
        "speech": make_speech_clip(root / "speech.mp4", width=640, height=360, fps=25),
    }
    junk = root / "junk.mp4"
    junk.write_bytes(os.urandom(4096))
    made["junk"] = junk
    truncated = root / "truncated.mp4"
    data = made["plain"].read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    made["truncated"] = truncated
    yield made
    for f in root.iterdir():
        f.unlink()
    root.rmdir()
