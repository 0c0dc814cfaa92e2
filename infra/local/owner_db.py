"""The database as a signed-in user meets it through Supabase's API: PostgREST runs each request
in a transaction as the `authenticated` role with the token's claims, so row level security
decides what the user reads and may do. The local results page reads nothing any other way."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row


@contextmanager
def as_owner(database_url: str, owner: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """One transaction as `owner`, committed on leaving, rolled back on an exception."""
    claims = json.dumps({"sub": owner, "role": "authenticated"})
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        conn.execute("set local role authenticated")
        conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
        yield conn
