"""pgbouncer in transaction mode in front of a local cluster: the rules of Supabase's pooler
(Supavisor, port 6543) that serverless functions connect through. A server connection serves
one transaction of one client, then another client's: prepared statements, session settings
and LISTEN do not survive between transactions. pgbouncer 1.18 (Debian bookworm) keeps no
prepared statements across clients, as Supavisor's transaction mode.

The functions connect through it in the tests; the dispatcher (LISTEN) and migrations need a
session and connect to the database directly, as they would to Supabase's direct URL."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from infra.local.postgres import PostgresCluster, PostgresError, free_port

PGBOUNCER = "/usr/sbin/pgbouncer"


class TransactionPooler:
    """One pgbouncer for one cluster, every database of it, as the cluster's superuser."""

    def __init__(self, cluster: PostgresCluster, pool_size: int = 2) -> None:
        self.cluster = cluster
        self.pool_size = pool_size  # server connections per database: few, so clients share them
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="vidpipe-pooler-"))
        self._proc: subprocess.Popen[bytes] | None = None

    def url(self, dbname: str) -> str:
        """The pooled URL of one of the cluster's databases."""
        direct = urlsplit(self.cluster.url(dbname))
        return direct._replace(netloc=f"{direct.username}:{direct.password}@127.0.0.1:{self.port}").geturl()

    def pooled(self, direct_url: str) -> str:
        """The pooled URL for a direct URL of the cluster."""
        return self.url(urlsplit(direct_url).path.lstrip("/"))

    def start(self) -> None:
        if not Path(PGBOUNCER).exists():
            raise PostgresError(f"{PGBOUNCER} is missing: `make setup` installs the pgbouncer package")
        password = self.cluster.password or ""
        (self.dir / "userlist.txt").write_text(f'"postgres" "{password}"\n')
        (self.dir / "pgbouncer.ini").write_text(
            "\n".join(
                [
                    "[databases]",
                    f"* = host=127.0.0.1 port={self.cluster.port}",
                    "[pgbouncer]",
                    "listen_addr = 127.0.0.1",
                    f"listen_port = {self.port}",
                    "unix_socket_dir =",
                    "auth_type = scram-sha-256",
                    f"auth_file = {self.dir / 'userlist.txt'}",
                    "pool_mode = transaction",
                    f"default_pool_size = {self.pool_size}",
                    "max_client_conn = 500",
                    f"logfile = {self.dir / 'pgbouncer.log'}",
                    "",
                ]
            )
        )
        os.chmod(self.dir / "userlist.txt", 0o600)
        command = [PGBOUNCER, str(self.dir / "pgbouncer.ini")]
        if os.geteuid() == 0:  # pgbouncer refuses to run as root, as postgres does
            postgres = pwd.getpwnam("postgres")
            for path in (self.dir, *self.dir.iterdir()):
                os.chown(path, postgres.pw_uid, postgres.pw_gid)
            command = ["runuser", "-u", "postgres", "--", *command]
        self._proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not self._accepting():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise PostgresError(f"pgbouncer did not start: {self.log()[-500:]}")
            time.sleep(0.05)

    def _accepting(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
            return True
        return False

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.dir / "pgbouncer.log").read_text()
        return ""

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        shutil.rmtree(self.dir, ignore_errors=True)
