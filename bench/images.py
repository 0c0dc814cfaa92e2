"""What each function's container needs, measured (run by hand, not part of `make test`):

    PYTHONPATH=. .venv/bin/python bench/images.py [--seconds 30 120]

Builds the four images (FROM a base made with mmdebstrap), then for each clip length starts
them afresh (the functions through pgbouncer in transaction mode, as in tests/e2e/test_images.py)
and sends one 1920x1080 30 fps clip with speech through. Reports the image sizes, each
container's cold start (from `podman run` to /healthz answering), and per function its CPU
seconds and peak memory (page cache included: Cloud Run's disk is memory) for that clip, and
generate_metadata's first and second describe (the first loads the model). The deploy plan's
resources come from these figures.
"""

from __future__ import annotations

import argparse
import itertools
import os
import tempfile
from pathlib import Path
from uuid import UUID

from infra import queries
from infra.cli import wait_for_end
from infra.clips import make_speech_clip
from infra.images import IMAGES, ContainerStack, build, local_base, size_mb
from infra.local.pooler import TransactionPooler
from infra.local.postgres import PostgresCluster, prepare_database
from tests.integration.doors import USER, upload


def step_seconds(conn: queries.Conn, job_id: UUID) -> dict[str, float]:
    """How long the job spent in each step's working state (database timestamps)."""
    rows = queries.job_history(conn, job_id)
    spans = {}
    for a, b in itertools.pairwise(rows):
        if a["to_status"] in ("ingesting", "processing", "describing"):
            spans[a["to_status"]] = (b["created_at"] - a["created_at"]).total_seconds()
    return spans


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, nargs="+", default=[30, 120])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vidpipe-bench-images-"))
    os.chmod(work, 0o755)  # noqa: S103  # postgres and the images' user reach below it
    base = local_base()
    images = {name: build(name, base=base, tag=f"localhost/vidpipe-{name.replace('_', '-')}:bench") for name in IMAGES}
    print("image sizes: " + ", ".join(f"{name} {size_mb(tag):.0f} MB" for name, tag in images.items()))
    cluster = PostgresCluster(work / "pg", fsync=False)
    cluster.start()
    pooler = TransactionPooler(cluster)
    pooler.start()
    try:
        for seconds in args.seconds:
            clip = make_speech_clip(
                work / f"clip{seconds}.mp4", scene_seconds=seconds / 3, width=1920, height=1080, fps=30
            )
            url = cluster.create_database(f"bench{seconds}")
            prepare_database(url)
            storage = work / f"storage{seconds}"
            for bucket in ("", "uploads", "derived"):
                (storage / bucket).mkdir(parents=True, exist_ok=True)
                os.chmod(storage / bucket, 0o777)  # noqa: S103  # the images' user writes here
            logs = work / f"logs{seconds}"
            logs.mkdir()
            with ContainerStack(images, url, pooler.pooled(url), storage, logs) as stack:
                if seconds == args.seconds[0]:
                    cold = ", ".join(f"{n} {s:.2f} s" for n, s in stack.healthy_after.items())
                    print(f"cold start to /healthz: {cold}")
                with queries.connect(url) as conn:
                    describes = []
                    for i in range(2):
                        row = upload(conn, storage, clip, f"{USER}/clip{i}.mp4")
                        job = wait_for_end(conn, row["id"], 900)
                        assert job["status"] == "ready", job
                        describes.append(step_seconds(conn, job["id"]))
                usage = {name: stack.usage(name) for name in images}
            print(f"\n{seconds} s clip, 1920x1080 30 fps, sent through twice (the first after a cold start):")
            print(f"  step seconds, first run: {describes[0]}")
            print(f"  step seconds, second run: {describes[1]}")
            for name, (cpu, peak) in usage.items():
                print(f"  {name:<18} {cpu / 2:7.1f} CPU s per clip   peak {peak:6.0f} MB")
    finally:
        pooler.stop()
        cluster.destroy()


if __name__ == "__main__":
    main()
