"""A throwaway Postgres 15 cluster on 127.0.0.1, for the local stack and the tests.

initdb and postgres refuse to run as root, so as root the server runs as the `postgres` user
on a data directory that user owns; every parent directory must let it through (o+x), which a
path under a private home directory does not, so such clusters live under the temp dir.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import tomllib
from pathlib import Path

import psycopg
from psycopg import sql

from infra import REPO_ROOT
from infra.local.supabase_cli import SupabaseCliError, db_push

PG_BIN_CANDIDATES = ("/usr/lib/postgresql/15/bin", "/usr/local/pgsql/bin")

SHIM_SQL = Path(__file__).with_name("supabase_shim.sql")
PASSWORD_FILE = "vidpipe_password"  # noqa: S105  # the file's name, in the data directory (0600)
# Every connection gives the password; there is no Unix socket (unix_socket_directories='').
HBA = "\n".join(f"host all all {net} scram-sha-256" for net in ("127.0.0.1/32", "::1/128")) + "\n"
SCHEMAS_DIR = REPO_ROOT / "supabase" / "schemas"


class PostgresError(RuntimeError):
    """The local cluster could not be created, started or prepared."""


def pg_bin(name: str) -> str:
    for d in PG_BIN_CANDIDATES:
        candidate = Path(d) / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise PostgresError(f"{name} not found: install postgresql-15 (make setup does)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_root() -> bool:
    return os.geteuid() == 0


def _traversable_by_others(path: Path) -> bool:
    return all(os.stat(p).st_mode & 0o001 for p in [path, *path.parents])


def cluster_dir_for(preferred: Path) -> Path:
    """`preferred` when the server's user can reach it, else a stable spot in the temp dir."""
    preferred.parent.mkdir(parents=True, exist_ok=True)
    if not _as_root() or _traversable_by_others(preferred.parent):
        return preferred
    # A content hash, not hash(): that one changes per process and would orphan the cluster.
    tag = hashlib.sha256(str(preferred.resolve()).encode()).hexdigest()[:12]
    fallback = Path(tempfile.gettempdir()) / f"vidpipe-pg-{tag}"
    fallback.mkdir(mode=0o755, exist_ok=True)
    os.chmod(fallback, 0o755)  # noqa: S103  # the postgres user must traverse it
    return fallback / "data"


def _run(cmd: list[str]) -> None:
    if _as_root():
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PostgresError(f"{' '.join(cmd)} failed: {result.stderr.strip() or result.stdout.strip()}")


class PostgresCluster:
    """One data directory; start() and stop() are idempotent."""

    def __init__(
        self, data_dir: Path, port: int | None = None, fsync: bool = True, settings: dict[str, str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.fsync = fsync
        self.settings = settings or {}  # extra server settings, e.g. shared_preload_libraries

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    def url(self, dbname: str) -> str:
        password = self.password
        user = f"postgres:{password}" if password else "postgres"
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    @property
    def password(self) -> str | None:
        """The superuser's password (every local user can reach 127.0.0.1, so none is trusted);
        None only for a cluster made before passwords, until start() secures it."""
        try:
            return (self.data_dir / PASSWORD_FILE).read_text().strip()
        except FileNotFoundError:
            return None

    def _keep_password(self, password: str) -> None:
        fd = os.open(self.data_dir / PASSWORD_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password)

    def init(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if _as_root():
            shutil.chown(self.data_dir, "postgres", "postgres")
        password = secrets.token_urlsafe(24)
        with tempfile.NamedTemporaryFile("w", prefix="vidpipe-pw-") as pwfile:  # initdb reads it from a file
            pwfile.write(password)
            pwfile.flush()
            if _as_root():
                shutil.chown(pwfile.name, "postgres")
            _run(
                [
                    pg_bin("initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile.name}",
                    "--encoding=UTF8",
                    "--no-instructions",
                ]
            )
        self._keep_password(password)

    def _secure(self) -> None:
        """A cluster made when the local stack trusted every local user: a password, and
        pg_hba.conf asking for it."""
        password = secrets.token_urlsafe(24)
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("alter role postgres password {}").format(sql.Literal(password)))
            (self.data_dir / "pg_hba.conf").write_text(HBA)
            self._keep_password(password)
            conn.execute("select pg_reload_conf()")

    def running(self) -> bool:
        try:
            with psycopg.connect(self.admin_url, connect_timeout=1):
                return True
        except psycopg.OperationalError:
            return False

    def start(self) -> None:
        self.init()
        if self.running():
            return
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
        if not self.fsync:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        for name, value in self.settings.items():
            options += f" -c {name}={value}"
        _run(
            [
                pg_bin("pg_ctl"),
                "-D",
                str(self.data_dir),
                "-o",
                options,
                "-l",
                str(self.data_dir / "server.log"),
                "-w",
                "-t",
                "30",
                "start",
            ]
        )
        deadline = time.monotonic() + 15
        while not self.running():
            if time.monotonic() > deadline:
                raise PostgresError(f"postgres on port {self.port} did not accept connections")
            time.sleep(0.05)
        if self.password is None:
            self._secure()

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            with contextlib.suppress(PostgresError):
                _run([pg_bin("pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])

    def crash(self) -> None:
        """Stop as a crash would: no shutdown checkpoint, every connection cut (chaos tests)."""
        _run([pg_bin("pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"])

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def create_database(self, name: str, template: str | None = None) -> str:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
            if not exists:
                sql = f'create database "{name}"' + (f' template "{template}"' if template else "")
                conn.execute(sql)  # names are ours, never user input
        return self.url(name)


def schema_files() -> list[Path]:
    """supabase/schemas/ in the order config.toml's `[db.migrations] schema_paths` gives."""
    config = tomllib.loads((SCHEMAS_DIR.parent / "config.toml").read_text())
    return [(SCHEMAS_DIR.parent / path).resolve() for path in config["db"]["migrations"]["schema_paths"]]


def apply_sql_file(url: str, path: Path) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(path.read_text())  # our own SQL files


def apply_shim(url: str) -> None:
    """What a hosted project already has (auth, storage, the API roles): local databases only."""
    try:
        apply_sql_file(url, SHIM_SQL)
    except psycopg.Error as exc:
        raise PostgresError(f"{SHIM_SQL.name}: {exc}") from exc


def prepare_database(url: str, seed: bool = True) -> None:
    """The local Supabase imitation, then the migrations through the real Supabase CLI's
    `db push` (each once, recorded), then the seed."""
    apply_shim(url)
    try:
        db_push(url, include_seed=seed)
    except SupabaseCliError as exc:
        raise PostgresError(str(exc)) from exc


def build_from_schemas(url: str) -> None:
    """The schema as supabase/schemas/ declares it, file by file (what a schema diff starts from)."""
    apply_shim(url)
    for path in schema_files():
        try:
            apply_sql_file(url, path)
        except psycopg.Error as exc:
            raise PostgresError(f"{path.name}: {exc}") from exc
