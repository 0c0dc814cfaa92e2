"""`make types`: the TypeScript types a front end needs, generated, never written by hand.

- types/database.ts: the `public` schema as the real Supabase CLI describes it
  (`supabase gen types typescript`), from a throwaway database built by the migrations;
- types/metadata-document.ts and types/webhook-payload.ts: from the JSON Schemas the repo keeps
  beside their models, by json-schema-to-typescript.

types/example.ts is the hand-written front end that uses them; `tsc` checks it (check_example)."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from infra import REPO_ROOT
from infra.local.postgres import PostgresCluster, prepare_database
from infra.local.supabase_cli import SupabaseCliError, gen_types
from shared import webhook_payload
from shared.metadata import document

TYPES_DIR = REPO_ROOT / "types"
NODE_BIN = REPO_ROOT / ".tools" / "node_modules" / ".bin"


class TypesError(RuntimeError):
    """A generator or the checker failed; the message carries its output."""


def _run(cmd: list[str], stdin: str | None = None, cwd: Path = REPO_ROOT) -> str:
    ran = subprocess.run(cmd, input=stdin, capture_output=True, text=True, cwd=cwd, timeout=300, check=False)
    if ran.returncode != 0:
        raise TypesError(f"{Path(cmd[0]).name} failed ({ran.returncode}): {(ran.stderr or ran.stdout).strip()}")
    return ran.stdout


def _node_tool(name: str) -> str:
    tool = NODE_BIN / name
    if not tool.exists():
        raise TypesError(f"{name} is not installed: `make setup` puts the npm tools under .tools/")
    return str(tool)


def database_types(url: str) -> str:
    """The CLI's description of the `public` schema of the database at `url`."""
    try:
        return gen_types(url)
    except SupabaseCliError as exc:
        raise TypesError(str(exc)) from exc


def _untitled_properties(node: Any) -> Any:
    """The schema without the titles pydantic gives each property: json2ts would make a named
    alias of each (`export type VideoId = string`), where an inline type reads better."""
    if isinstance(node, list):
        return [_untitled_properties(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _untitled_properties(v) for k, v in node.items()}
    if isinstance(node.get("properties"), dict):
        out["properties"] = {k: {kk: vv for kk, vv in v.items() if kk != "title"} for k, v in out["properties"].items()}
    return out


def schema_types(schema: dict[str, Any], name: str) -> str:
    """A JSON Schema as TypeScript declarations, the root type called `name`."""
    titled = {**_untitled_properties(schema), "title": name}
    options = ["--unreachableDefinitions", "--additionalProperties", "false"]
    return _run([_node_tool("json2ts"), *options], json.dumps(titled))


def generate() -> dict[str, str]:
    """Every generated file of types/, by name."""
    root = Path(tempfile.mkdtemp(prefix="vidpipe-types-pg-"))
    root.chmod(0o755)  # the postgres user must reach the data dir when this runs as root
    cluster = PostgresCluster(root / "data", fsync=False)
    try:
        cluster.start()
        url = cluster.create_database("vidpipe_types")
        prepare_database(url, seed=False)
        database = database_types(url)
    finally:
        cluster.destroy()
        root.rmdir()
    return {
        "database.ts": database,
        "metadata-document.ts": schema_types(document.json_schema(), "MetadataDocument"),
        "webhook-payload.ts": schema_types(webhook_payload.json_schema(), "WebhookPayload"),
    }


def write(dest: Path = TYPES_DIR) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in generate().items():
        (dest / name).write_text(text)
        written.append(dest / name)
    return written


def stale(dest: Path = TYPES_DIR) -> list[str]:
    """The generated files of `dest` that differ from what the schema and the models make now."""
    return [
        name for name, text in generate().items() if not (dest / name).exists() or (dest / name).read_text() != text
    ]


def check_example(dest: Path = TYPES_DIR) -> str:
    """Compile the typed example (and the types it imports) without emitting anything."""
    return _run([_node_tool("tsc"), "--noEmit", "-p", str(dest / "tsconfig.json")])
