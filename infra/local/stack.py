"""The embedded local stack under one home directory (default `.vidpipe/`): a throwaway Postgres
cluster with the migrations applied, the four functions served on local ports (shared/serve.py:
functions-framework's app behind waitress, with limits), and the dispatcher. `up` is
idempotent; `down` stops everything it started."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from infra import REPO_ROOT, queries
from infra.local.postgres import (
    PostgresCluster,
    PostgresError,
    apply_sql_file,
    cluster_dir_for,
    free_port,
    prepare_database,
)
from shared.domain import DeliveryCarrier, PipelineFunction
from shared.net_guard import LOOPBACK
from shared.signing import new_secret

FUNCTIONS = tuple(f.value for f in PipelineFunction)
DATABASE = "vidpipe"
LOCAL_USER_ID = "00000000-0000-4000-8000-000000000001"  # seeded by supabase/seed.sql
UPLOADS_BUCKET = "uploads"
# The process that carries events, by VIDPIPE_DELIVERY: the dispatcher, or (pg_net) the stand-ins for
# pg_net's worker and pg_cron that a hosted project runs itself.
CARRIERS = {"dispatcher": "dispatcher", "pg_net": "platform"}
CARRIER_MODULES = {"dispatcher": "infra.dispatcher", "platform": "infra.local.platform"}
PG_NET_STANDIN_SQL = Path(__file__).with_name("pg_net_standin.sql")
UI = "ui"  # the results page, infra/ui


class StackError(RuntimeError):
    pass


@dataclass
class StackState:
    home: str
    data_dir: str
    pg_port: int
    database_url: str
    event_secret: str
    function_urls: dict[str, str]
    pids: dict[str, int]
    delivery: str = "dispatcher"  # what carries the events: the dispatcher, or the database (pg_net)
    ui_url: str = ""  # the results page (infra/ui), opened with the key in ui_key
    durable: bool = False  # fsync and synchronous commits, as in production (fault tests crash it)

    def cluster(self) -> PostgresCluster:
        return PostgresCluster(Path(self.data_dir), port=self.pg_port, fsync=self.durable)

    @property
    def storage_root(self) -> Path:
        return Path(self.home) / "storage"


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); reap it if it is ours.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def _port_of(url: str) -> int:
    return int(url.rstrip("/").rsplit(":", 1)[1])


def wait_for_port(port: int, timeout: float, name: str, log: Path) -> None:
    """Until something listens on the loopback port; StackError with the end of `log` if not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise StackError(f"{name} did not start on port {port}:\n{tail}")


class LocalStack:
    def __init__(
        self,
        home: Path | None = None,
        extra_env: dict[str, str] | None = None,
        durable: bool = False,
        policy: dict[str, float] | None = None,
    ) -> None:
        self.home = (home or Path(os.environ.get("VIDPIPE_HOME", ".vidpipe"))).resolve()
        self.extra_env = extra_env or {}
        self.durable = durable
        self.policy = policy or {}  # delivery_settings values to set at `up` (infra.queries.POLICY_COLUMNS)
        self.state_file = self.home / "stack.json"
        self.logs = self.home / "logs"

    # State --------------------------------------------------------------------------------
    def state(self) -> StackState | None:
        if not self.state_file.exists():
            return None
        return StackState(**json.loads(self.state_file.read_text()))

    def running(self) -> StackState | None:
        state = self.state()
        if state is None or not all(process_alive(pid) for pid in state.pids.values()):
            return None
        cluster = PostgresCluster(Path(state.data_dir), port=state.pg_port)
        return state if cluster.running() else None

    def _secret(self, name: str = "event_secret", make: Callable[[], str] = new_secret) -> str:
        """A secret kept in the home, readable by its owner alone; made on first use."""
        path = self.home / name
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(make())
        return path.read_text().strip()

    def _ui_key(self) -> str:
        return self._secret("ui_key", lambda: secrets.token_urlsafe(24))

    def _new_ui_key(self) -> str:
        """A key for each start of the page: one that leaked is dead after `down` and `up`."""
        (self.home / "ui_key").unlink(missing_ok=True)
        return self._ui_key()

    def ui_address(self, state: StackState) -> str:
        """The results page's URL with its key: what `vidpipe up` and `vidpipe ui` print."""
        return f"{state.ui_url}?key={self._ui_key()}"

    # Up and down --------------------------------------------------------------------------
    def up(self) -> StackState:
        state = self.state()
        if state is not None and self._revive(state):
            return state
        self.down()  # whatever half of a previous stack is left
        # The stack's user alone reads its home: the uploads, the logs, the keys.
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.home.chmod(0o700)
        self.logs.mkdir(exist_ok=True)
        (self.home / "storage").mkdir(exist_ok=True)
        # A local stack trades durability for speed; a stack whose database is crashed on purpose keeps it.
        cluster = PostgresCluster(cluster_dir_for(self.home / "pg"), fsync=self.durable)
        cluster.start()
        url = cluster.create_database(DATABASE)
        prepare_database(url)
        delivery = DeliveryCarrier(
            self.extra_env.get("VIDPIPE_DELIVERY") or os.environ.get("VIDPIPE_DELIVERY") or DeliveryCarrier.DISPATCHER
        )
        if delivery == DeliveryCarrier.PG_NET:
            apply_sql_file(url, PG_NET_STANDIN_SQL)
        ports = {name: free_port() for name in (*FUNCTIONS, UI)}
        state = StackState(
            home=str(self.home),
            data_dir=str(cluster.data_dir),
            pg_port=cluster.port,
            database_url=url,
            event_secret=self._secret(),
            function_urls={name: f"http://127.0.0.1:{ports[name]}/" for name in FUNCTIONS},
            pids={},
            delivery=delivery,
            durable=self.durable,
            ui_url=f"http://127.0.0.1:{ports[UI]}/",
        )
        with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:  # as a hosted project is told once
            queries.configured_delivery(conn, DeliveryCarrier(delivery), state.function_urls, state.event_secret)
            if self.policy:
                queries.changed_policy(conn, **self.policy)
        try:
            for name in (*FUNCTIONS, CARRIERS[delivery], UI):
                self._start(name, state)
        except BaseException:
            self._save(state)
            self.down()
            raise
        self._save(state)
        return state

    def _revive(self, state: StackState) -> bool:
        """Start again only what died, on the same ports: the healthy components and their work in
        flight are left alone. False when the stack has to be made anew (its cluster is gone)."""
        cluster = state.cluster()
        if not (cluster.data_dir / "PG_VERSION").exists():
            return False
        try:
            cluster.start()  # a no-op while it runs
        except PostgresError:
            return False
        for name, pid in state.pids.items():
            if not process_alive(pid):
                self._start(name, state)
        self._save(state)
        return True

    def _save(self, state: StackState) -> None:
        """stack.json holds the event secret: the owner alone reads it."""
        self.state_file.touch(mode=0o600)
        self.state_file.chmod(0o600)
        self.state_file.write_text(json.dumps(asdict(state), indent=2))

    def _start(self, name: str, state: StackState) -> None:
        """Start one component of the stack and record its pid."""
        # Webhook receivers on this machine are the point of a local stack: private URLs allowed.
        env = {
            **os.environ,
            "VIDPIPE_WEBHOOK_ALLOWED_NETWORKS": json.dumps([str(n) for n in LOOPBACK]),
            **self.extra_env,
            "VIDPIPE_DATABASE_URL": state.database_url,
            "VIDPIPE_EVENT_SECRET": state.event_secret,
            "VIDPIPE_STORAGE_BACKEND": "local",
            "VIDPIPE_STORAGE_ROOT": str(state.storage_root),
            "PYTHONUNBUFFERED": "1",
        }
        port = 0  # what the component listens on; a carrier listens on nothing
        if name in CARRIER_MODULES:
            cmd = [sys.executable, "-m", CARRIER_MODULES[name]]
        elif name == UI:
            port = _port_of(state.ui_url)
            env["VIDPIPE_UI_KEY"] = self._new_ui_key()
            cmd = [sys.executable, "-m", "infra.ui", "--host", "127.0.0.1", "--port", str(port)]
        else:
            port = _port_of(state.function_urls[name])
            cmd = [
                sys.executable,
                "-m",
                "shared.serve",
                "--target",
                name,
                "--source",
                str(REPO_ROOT / "functions" / name / "main.py"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ]
        log = self.logs / f"{name}.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT, start_new_session=True
            )
        state.pids[name] = proc.pid
        if port:
            wait_for_port(port, 30, name, log)

    def restart(self, name: str) -> None:
        """Start one component again after it died or was killed (chaos tests, operators)."""
        state = self.state()
        if state is None:
            raise StackError("the stack is not up")
        self._stop_pids([state.pids[name]] if name in state.pids else [])
        self._start(name, state)
        self._save(state)

    @staticmethod
    def _stop_pids(pids: list[int], grace: float = 5.0) -> None:
        """SIGTERM every process group at once, wait for all, SIGKILL what is left."""
        live = [pid for pid in pids if process_alive(pid)]
        for pid in live:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while any(process_alive(pid) for pid in live) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in live:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)

    def down(self) -> None:
        state = self.state()
        if state is None:
            return
        self._stop_pids(list(state.pids.values()))
        PostgresCluster(Path(state.data_dir), port=state.pg_port).stop()
        self.state_file.unlink(missing_ok=True)
        (self.home / "ui_key").unlink(missing_ok=True)

    def destroy(self) -> None:
        """Down, then remove the home and the database cluster with every byte they hold."""
        state = self.state()
        self.down()
        if state is not None:
            PostgresCluster(Path(state.data_dir), port=state.pg_port).destroy()
        shutil.rmtree(self.home, ignore_errors=True)
