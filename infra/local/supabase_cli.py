"""The real Supabase CLI (npm `@supabase/cli-linux-<arch>`, installed by `make setup` under .tools/):
`supabase db push` applies each migration once, in its own transaction, and records it in
`supabase_migrations.schema_migrations`, as it does against a hosted project."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess

from infra import REPO_ROOT

CLI_VERSION = "3.1.0"
NPM_ARCH = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}


class SupabaseCliError(RuntimeError):
    """The CLI is missing or a command failed."""


def npm_package() -> str:
    arch = NPM_ARCH.get(platform.machine().lower())
    if arch is None:
        raise SupabaseCliError(f"no Supabase CLI build for {platform.machine()}")
    return f"@supabase/cli-linux-{arch}"


def supabase_bin() -> str:
    local = REPO_ROOT / ".tools" / "node_modules" / npm_package() / "bin" / "supabase"
    if local.exists():
        return str(local)
    found = shutil.which("supabase")
    if found:
        return found
    raise SupabaseCliError(
        f"the Supabase CLI is not installed: `make setup` puts {npm_package()}@{CLI_VERSION} under .tools/"
    )


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI against a local cluster, which speaks no TLS: said so rather than have it try and warn."""
    env = {**os.environ, "PGSSLMODE": "disable", "SUPABASE_TELEMETRY_DISABLED": "1", "DO_NOT_TRACK": "1"}
    ran = subprocess.run([supabase_bin(), *args], capture_output=True, text=True, env=env, timeout=300, check=False)
    if ran.returncode != 0:
        raise SupabaseCliError(
            f"supabase {args[0]} {args[1]} failed ({ran.returncode}): {(ran.stderr or ran.stdout).strip()}"
        )
    return ran


def db_push(url: str, include_seed: bool = False) -> str:
    """Apply the migrations not yet recorded in the database at `url`; returns the CLI's report."""
    seed = ["--include-seed"] if include_seed else []
    ran = _run("db", "push", f"--remote={url}", "--yes", "--workdir", str(REPO_ROOT), *seed)
    return ran.stdout + ran.stderr


def gen_types(url: str) -> str:
    """The TypeScript types of the `public` schema of the database at `url`."""
    return _run("gen", "types", "typescript", f"--remote={url}", "--schema", "public").stdout
