"""One OCI image per function, from infra/images/Containerfile, built with podman.

In production the base is a public Debian bookworm image. Where no registry is reachable (these
machines, the tests), `local_base()` makes one from the Debian mirrors with mmdebstrap and
imports it into podman's store, once: later builds find it there.

podman runs rootful here with the runc runtime (crun refuses this cgroup layout), explicit
ulimits (the VM refuses podman's defaults) and the host's network (bridge mode would rewrite
the host's iptables); the functions read PORT and HOST from the environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import requests
from psycopg.rows import dict_row

from infra import REPO_ROOT, queries
from infra.local.postgres import free_port
from shared.domain import DeliveryCarrier
from shared.signing import new_secret

CONTAINERFILE = REPO_ROOT / "infra" / "images" / "Containerfile"
PUBLIC_BASE = "docker.io/library/debian:bookworm-slim"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
MIRRORS = (
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
)
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")  # what every function's image has
PODMAN = ("podman", "--runtime", "runc")
ULIMITS = ("--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768")


@dataclass(frozen=True)
class ImageSpec:
    packages: tuple[str, ...] = ()  # Debian packages beyond Python
    model: str = ""  # "whisper": Whisper base baked in, checked by hash at build


IMAGES = {
    "ingest": ImageSpec(packages=("ffmpeg",)),
    "process": ImageSpec(packages=("ffmpeg",)),
    "generate_metadata": ImageSpec(packages=("ffmpeg",), model="whisper"),
    "notify": ImageSpec(),
}


class ImageError(RuntimeError):
    pass


def podman(*args: str, timeout: float = 1800) -> str:
    if shutil.which("podman") is None:
        raise ImageError("podman is missing: `make setup` installs it")
    done = subprocess.run([*PODMAN, *args], capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise ImageError(f"podman {' '.join(args[:3])} failed: {(done.stderr or done.stdout).strip()[-2000:]}")
    return done.stdout.strip()


def exists(tag: str) -> bool:
    return subprocess.run([*PODMAN, "image", "exists", tag], capture_output=True, check=False).returncode == 0


def local_base() -> str:
    """A bookworm base with Python, made from the Debian mirrors (≈20 s, ≈220 MB) unless podman
    already holds it. Its tag names its package list, so a change makes a new one."""
    tag = "localhost/vidpipe-base:bookworm-" + hashlib.sha256(" ".join(BASE_PACKAGES).encode()).hexdigest()[:12]
    if exists(tag):
        return tag
    if shutil.which("mmdebstrap") is None:
        raise ImageError("mmdebstrap is missing: `make setup` installs it")
    with tempfile.TemporaryDirectory(prefix="vidpipe-base-") as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        include = ",".join(BASE_PACKAGES)
        done = subprocess.run(
            ["mmdebstrap", "--quiet", "--variant=apt", f"--include={include}", "bookworm", str(rootfs), *MIRRORS],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if done.returncode != 0:
            raise ImageError(f"mmdebstrap failed: {done.stderr.strip()[-2000:]}")
        podman("import", str(rootfs), tag)
    return tag


def build(function: str, base: str = PUBLIC_BASE, tag: str | None = None) -> str:
    """Build one function's image; returns its tag."""
    spec = IMAGES[function]
    tag = tag or f"localhost/vidpipe-{function.replace('_', '-')}:latest"
    args = [
        "build",
        *ULIMITS,
        "--network=host",
        "-f",
        str(CONTAINERFILE),
        "--build-arg",
        f"BASE={base}",
        "--build-arg",
        f"FUNCTION={function}",
        "--build-arg",
        f"PACKAGES={' '.join(spec.packages)}",
        "--build-arg",
        f"MODEL={spec.model}",
        "-t",
        tag,
    ]
    if HOST_CA_BUNDLE.is_file():  # pip inside the build trusts what the host trusts
        args += ["--secret", f"id=cacert,src={HOST_CA_BUNDLE}"]
    podman(*args, str(REPO_ROOT))
    return tag


def size_mb(tag: str) -> float:
    info = json.loads(podman("image", "inspect", tag))
    return float(info[0]["Size"]) / 1e6


def run_command(tag: str, name: str, env: dict[str, str], volumes: dict[Path, str] | None = None) -> list[str]:
    """The `podman run` of one function's image, on the host's network, in the foreground."""
    args = [*PODMAN, "run", "--rm", "--name", name, *ULIMITS, "--network=host"]
    for key, value in env.items():
        args += ["-e", f"{key}={value}"]
    for host_path, container_path in (volumes or {}).items():
        args += ["-v", f"{host_path}:{container_path}"]
    return [*args, tag]


STORAGE_IN_CONTAINER = "/data"


class ContainerStack:
    """The four function images running on loopback ports, as a cloud runtime runs them, and
    the dispatcher posting events to them: the functions reach the database at `function_db_url`
    (a transaction pooler), the dispatcher at `direct_db_url` (LISTEN needs a session); local
    storage under `storage` (mounted at /data, writable by the images' user)."""

    def __init__(
        self, images: dict[str, str], direct_db_url: str, function_db_url: str, storage: Path, logs: Path
    ) -> None:
        self.images, self.direct_db_url, self.function_db_url = images, direct_db_url, function_db_url
        self.storage, self.logs = storage, logs
        self.secret = new_secret()
        self.urls = {name: f"http://127.0.0.1:{free_port()}/" for name in images}
        self.names = {name: f"vidpipe-{name.replace('_', '-')}-{os.getpid()}-{free_port()}" for name in images}
        self.healthy_after: dict[str, float] = {}  # seconds from `podman run` to /healthz answering
        self._containers: list[subprocess.Popen[bytes]] = []  # the `podman run`s, in the foreground
        self._dispatcher: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ContainerStack:
        try:
            self._start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _start(self) -> None:
        started = {}
        for name, image in self.images.items():
            env = {
                "PORT": self.urls[name].rstrip("/").rsplit(":", 1)[1],
                "HOST": "127.0.0.1",
                "VIDPIPE_DATABASE_URL": self.function_db_url,
                "VIDPIPE_EVENT_SECRET": self.secret,
                "VIDPIPE_STORAGE_BACKEND": "local",
                "VIDPIPE_STORAGE_ROOT": STORAGE_IN_CONTAINER,
            }
            started[name] = time.monotonic()
            with open(self.logs / f"{name}.log", "wb") as log:
                command = run_command(image, self.names[name], env, {self.storage: STORAGE_IN_CONTAINER})
                self._containers.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
        for name in self.images:
            self.healthy_after[name] = wait_healthy(self.urls[name], started[name])
        with psycopg.connect(self.direct_db_url, autocommit=True, row_factory=dict_row) as conn:
            queries.configured_delivery(conn, DeliveryCarrier.DISPATCHER, self.urls, self.secret)
        env = {**os.environ, "VIDPIPE_DATABASE_URL": self.direct_db_url, "VIDPIPE_EVENT_SECRET": self.secret}
        with open(self.logs / "dispatcher.log", "wb") as log:
            self._dispatcher = subprocess.Popen(
                [sys.executable, "-m", "infra.dispatcher"], cwd=REPO_ROOT, env=env, stdout=log, stderr=log
            )

    def __exit__(self, *_: object) -> None:
        if self._dispatcher is not None:
            self._dispatcher.terminate()
        for name in self.names.values():
            subprocess.run([*PODMAN, "stop", "-t", "10", name], capture_output=True, check=False)
        for proc in [*self._containers, *([self._dispatcher] if self._dispatcher else [])]:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()

    def log_tails(self, chars: int = 1500) -> str:
        return "\n".join(
            f"{name}: {(self.logs / f'{name}.log').read_text(errors='replace')[-chars:]}" for name in self.images
        )

    def usage(self, name: str) -> tuple[float, float]:
        """CPU seconds and peak memory (MB, page cache included: a cloud runtime's in-memory
        disk counts) of one running container so far, from its cgroup (v1 or v2)."""
        path = podman("inspect", "--format", "{{.State.CgroupPath}}", self.names[name])
        root = Path("/sys/fs/cgroup")
        if (root / "cgroup.controllers").exists():  # v2
            cpu = float(dict(line.split() for line in (root / path.lstrip("/") / "cpu.stat").open())["usage_usec"])
            return cpu / 1e6, float((root / path.lstrip("/") / "memory.peak").read_text()) / 1e6
        cpu_ns = float((root / "cpuacct" / path.lstrip("/") / "cpuacct.usage").read_text())
        peak = float((root / "memory" / path.lstrip("/") / "memory.max_usage_in_bytes").read_text())
        return cpu_ns / 1e9, peak / 1e6


def wait_healthy(url: str, since: float, timeout: float = 60) -> float:
    """Seconds since `since` when GET /healthz first answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "healthz", timeout=1).status_code == 200:
                return time.monotonic() - since
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    raise ImageError(f"{url} did not answer /healthz within {timeout} s")
