"""`make types`: the committed TypeScript types are what the schema and the models make now, the
typed front-end example compiles against them, and a change the types miss is caught."""

import json
import shutil

import psycopg
import pytest

from infra import types as typegen
from shared.metadata.document import json_schema

pytestmark = pytest.mark.integration


def test_the_committed_types_are_current_and_the_example_compiles():
    assert typegen.stale() == [], "run `make types` and commit types/"
    typegen.check_example()


def test_a_new_column_changes_the_database_types(db_url):
    committed = (typegen.TYPES_DIR / "database.ts").read_text()
    assert typegen.database_types(db_url) == committed  # the test database is built as make types builds it
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("alter table public.videos add column title text")
    changed = typegen.database_types(db_url)
    assert changed != committed and '"title": string | null' in changed


def test_a_new_document_field_changes_the_document_types():
    schema = json_schema()
    schema["properties"]["rating"] = {"type": "integer"}
    committed = (typegen.TYPES_DIR / "metadata-document.ts").read_text()
    assert typegen.schema_types(json_schema(), "MetadataDocument") == committed
    assert "rating?: number" in typegen.schema_types(schema, "MetadataDocument")


def test_the_example_does_not_compile_against_a_field_that_is_gone(tmp_path):
    """tsc really checks the example against the generated types: a removed field breaks it."""
    copy = tmp_path / "types"
    shutil.copytree(typegen.TYPES_DIR, copy)
    tsconfig = json.loads((copy / "tsconfig.json").read_text())
    tsconfig["compilerOptions"]["paths"] = {
        "@supabase/supabase-js": [str(typegen.REPO_ROOT / ".tools/node_modules/@supabase/supabase-js")]
    }
    (copy / "tsconfig.json").write_text(json.dumps(tsconfig))
    document = copy / "metadata-document.ts"
    document.write_text(document.read_text().replace("  label: string;\n", "", 1))
    with pytest.raises(typegen.TypesError, match="Property 'label' does not exist"):
        typegen.check_example(copy)
