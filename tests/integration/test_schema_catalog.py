"""supabase/schemas/ is the source of truth and supabase/migrations/ must build the same database.

One database is built from the schema files, one from the migrations (through the real Supabase
CLI's `db push`), and their catalogs are compared object by object: types, tables, columns,
constraints, indexes, views, functions with their bodies, triggers, policies, comments and
grants. A migration that forgets a schema change, or a schema change without its migration,
fails here."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import psycopg
import pytest

from infra import REPO_ROOT
from infra.local.postgres import SCHEMAS_DIR, PostgresCluster, build_from_schemas, prepare_database, schema_files
from infra.local.supabase_cli import db_push

pytestmark = pytest.mark.integration

# Each query yields (key, definition) rows for one kind of object in the public schema.
CATALOG: dict[str, str] = {
    "type": """
        select t.typname, string_agg(e.enumlabel, ',' order by e.enumsortorder)
          from pg_type t join pg_enum e on e.enumtypid = t.oid
         where t.typnamespace = 'public'::regnamespace group by t.typname""",
    "relation": """
        select c.relname, concat_ws(' ', c.relkind, c.relrowsecurity, c.reloptions::text, c.relacl::text,
                                    obj_description(c.oid, 'pg_class'),
                                    case c.relkind when 'v' then pg_get_viewdef(c.oid) end)
          from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'v', 'p')""",
    "column": """
        select c.relname || '.' || a.attname,
               concat_ws(' ', format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity, a.attgenerated,
                         pg_get_expr(d.adbin, d.adrelid), a.attacl::text, col_description(c.oid, a.attnum))
          from pg_attribute a join pg_class c on c.oid = a.attrelid
          left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
         where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'v') and a.attnum > 0
           and not a.attisdropped""",
    "constraint": """
        select c.conrelid::regclass || '.' || c.conname, pg_get_constraintdef(c.oid)
          from pg_constraint c where c.connamespace = 'public'::regnamespace""",
    "index": """
        select indexrelid::regclass::text, pg_get_indexdef(indexrelid)
          from pg_index i join pg_class c on c.oid = i.indexrelid
         where c.relnamespace = 'public'::regnamespace""",
    "function": """
        select p.oid::regprocedure::text,
               concat_ws(' ', pg_get_functiondef(p.oid), p.proacl::text, obj_description(p.oid, 'pg_proc'))
          from pg_proc p where p.pronamespace = 'public'::regnamespace""",
    "trigger": """
        select t.tgrelid::regclass || '.' || t.tgname, pg_get_triggerdef(t.oid)
          from pg_trigger t join pg_class c on c.oid = t.tgrelid
         where c.relnamespace = 'public'::regnamespace and not t.tgisinternal""",
    "policy": """
        select tablename || '.' || policyname,
               concat_ws(' ', permissive, roles::text, cmd, qual, with_check)
          from pg_policies where schemaname = 'public'""",
    "sequence": """
        select c.relname, c.relacl::text from pg_class c
         where c.relnamespace = 'public'::regnamespace and c.relkind = 'S'""",
}


def catalog(url: str) -> dict[str, dict[str, str]]:
    with psycopg.connect(url) as conn:
        return {
            kind: {str(k): str(v) for k, v in conn.execute(sql).fetchall()}  # type: ignore[arg-type]
            for kind, sql in CATALOG.items()
        }


def differences(a: dict[str, dict[str, str]], b: dict[str, dict[str, str]]) -> list[str]:
    found = []
    for kind in CATALOG:
        for key in sorted(a[kind].keys() | b[kind].keys()):
            if a[kind].get(key) != b[kind].get(key):
                found.append(f"{kind} {key}: schemas {a[kind].get(key)!r} / migrations {b[kind].get(key)!r}")
    return found


@pytest.fixture(scope="module")
def built(pg_cluster: PostgresCluster) -> Iterator[dict[str, str]]:
    urls = {
        "schemas": pg_cluster.create_database("catalog_schemas"),
        "migrations": pg_cluster.create_database("catalog_migrations"),
    }
    try:
        build_from_schemas(urls["schemas"])
        prepare_database(urls["migrations"], seed=False)
        yield urls
    finally:
        with psycopg.connect(pg_cluster.admin_url, autocommit=True) as conn:
            for name in ("catalog_schemas", "catalog_migrations"):
                conn.execute(f"drop database if exists {name} with (force)")


def test_config_toml_lists_every_schema_file_in_reading_order() -> None:
    assert sorted(schema_files()) == sorted(SCHEMAS_DIR.resolve().glob("*.sql"))
    assert schema_files() == sorted(schema_files())  # the numbers in the names say the same order


def test_the_migrations_build_what_the_schema_files_declare(built: dict[str, str]) -> None:
    schemas, migrations = catalog(built["schemas"]), catalog(built["migrations"])
    assert all(schemas[kind] for kind in ("type", "relation", "function", "policy", "trigger"))
    assert differences(schemas, migrations) == []


def test_a_schema_change_without_its_migration_is_caught(built: dict[str, str], pg_cluster: PostgresCluster) -> None:
    """What CI sees when someone edits a schema file and forgets the migration."""
    edited = pg_cluster.create_database("catalog_edited", template="catalog_schemas")
    try:
        with psycopg.connect(edited, autocommit=True) as conn:
            conn.execute("alter table public.videos add column title text")
            conn.execute(
                "create or replace function public.step_of(p_status public.job_status) "
                "returns public.job_step language sql immutable set search_path = '' "
                "as $$ select 'process'::public.job_step $$"
            )
        found = differences(catalog(edited), catalog(built["migrations"]))
    finally:
        with psycopg.connect(pg_cluster.admin_url, autocommit=True) as conn:
            conn.execute("drop database if exists catalog_edited with (force)")
    assert [line.split(":")[0] for line in found] == ["column videos.title", "function step_of(job_status)"]


def test_migrations_are_applied_once_and_recorded(built: dict[str, str]) -> None:
    with psycopg.connect(built["migrations"]) as conn:
        recorded = conn.execute("select version, name from supabase_migrations.schema_migrations").fetchall()
    files = sorted((REPO_ROOT / "supabase" / "migrations").glob("*.sql"))
    assert recorded == [tuple(f.stem.split("_", 1)) for f in files]
    report = db_push(built["migrations"])  # a second push finds nothing to do
    assert "Applying migration" not in report
    assert catalog(built["migrations"])["relation"]  # and the database is still whole


def test_no_function_is_left_callable_by_anonymous_users(built: dict[str, str]) -> None:
    with psycopg.connect(built["migrations"]) as conn:
        open_to_anon = conn.execute(
            "select p.oid::regprocedure::text from pg_proc p where p.pronamespace = 'public'::regnamespace "
            "and has_function_privilege('anon', p.oid, 'execute')"
        ).fetchall()
    assert open_to_anon == []


def test_the_cli_is_the_real_one() -> None:
    from infra.local.supabase_cli import supabase_bin

    version = subprocess.run([supabase_bin(), "--version"], capture_output=True, text=True, check=True).stdout
    assert version.strip() == "3.1.0"
