"""The pooler the functions are tested through keeps Supavisor's transaction-mode rules: what a
client leaves on a server connection (a prepared statement, a setting) reaches the next client,
and is gone for its own next transaction. The function tests' pooled runs mean something only
if this holds: psycopg's own prepared statements fail there (a run with `prepare_threshold`
restored fails them)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from infra.local.pooler import TransactionPooler
from infra.local.postgres import PostgresCluster

pytestmark = pytest.mark.integration


@pytest.fixture
def one_server_connection(pg_cluster: PostgresCluster) -> Iterator[TransactionPooler]:
    pooler = TransactionPooler(pg_cluster, pool_size=1)
    pooler.start()
    try:
        yield pooler
    finally:
        pooler.stop()


def test_prepared_statements_do_not_survive_a_transaction(one_server_connection):
    url = one_server_connection.url("postgres")
    a = psycopg.connect(url, autocommit=True, prepare_threshold=0)
    b = psycopg.connect(url, autocommit=True, prepare_threshold=0)
    with a, b:
        a.execute("select 1").fetchone()  # prepares _pg3_0 on the one server connection
        with pytest.raises(psycopg.errors.DuplicatePreparedStatement):
            b.execute("select 2").fetchone()  # b's own first statement has the same name


def test_a_session_setting_leaks_to_the_next_client(one_server_connection):
    url = one_server_connection.url("postgres")
    with psycopg.connect(url, autocommit=True) as a, psycopg.connect(url, autocommit=True) as b:
        a.execute("set statement_timeout = '1234ms'")
        assert b.execute("show statement_timeout").fetchone() == ("1234ms",)


def test_unprepared_statements_from_many_clients_share_few_connections(one_server_connection):
    url = one_server_connection.url("postgres")
    clients = [psycopg.connect(url, autocommit=True, prepare_threshold=None) for _ in range(6)]
    try:
        for i in range(20):
            for c in clients:
                assert c.execute("select %s::int + 1", (i,)).fetchone() == (i + 1,)
        backends = {c.execute("select pg_backend_pid()").fetchone() for c in clients}
        assert len(backends) == 1
    finally:
        for c in clients:
            c.close()
