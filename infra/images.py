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
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from infra import REPO_ROOT

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
