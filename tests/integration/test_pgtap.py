"""The pgTAP suites under supabase/tests, run with pg_prove on a database built from the
migrations (what `supabase test db` runs against a Supabase project)."""

from __future__ import annotations

import os
import subprocess
from urllib.parse import urlsplit

import psycopg
import pytest

from infra import REPO_ROOT

pytestmark = pytest.mark.integration

SUITES = sorted((REPO_ROOT / "supabase" / "tests").glob("*.test.sql"))


def test_there_are_suites():
    assert SUITES


@pytest.mark.parametrize("suite", SUITES, ids=[s.name for s in SUITES])
def test_pgtap_suite_passes(db_url, suite):
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("create extension if not exists pgtap")
    url = urlsplit(db_url)
    ran = subprocess.run(
        [
            "pg_prove",
            "--verbose",
            "--failures",
            "-h",
            url.hostname or "127.0.0.1",
            "-p",
            str(url.port),
            "-U",
            url.username or "postgres",
            "-d",
            url.path.lstrip("/"),
            str(suite),
        ],
        env={**os.environ, "PGPASSWORD": url.password or ""},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-2000:]
    assert "Result: PASS" in ran.stdout
