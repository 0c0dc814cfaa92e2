"""HLS segments stored while ffmpeg still writes the rest. Each whole segment goes to the derived
bucket and leaves the scratch space (on Cloud Run, the instance's memory), so a long video's
scratch holds a few segments, not the whole rendition, and the upload overlaps the work instead
of following it. The HLS muxers write each segment aside and rename it once whole
(`hls_flags=temp_file`), so a `.ts` name in the folder is a finished segment.

A remux writes far faster than any storage takes it: when the finished segments waiting for
their upload pass SCRATCH_BYTES, `full` says so and the tool is paused until they are stored
(run_tool's `hold`). The segment being written is not counted, so a segment larger than the
bound cannot hold the tool for ever. A storage that refuses segments for longer than
STORAGE_PATIENCE_SECONDS ends the run with its error (retried as the step's), rather than hold
the tool until its timeout."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from shared.config import StepSettings
from shared.domain import TransientError
from shared.logs import get_logger
from shared.media.collect import TS_TYPE
from shared.models import Video
from shared.ports import Services, given
from shared.usecases.heartbeat import Heartbeat

log = get_logger("shipping")

POLL_SECONDS = 0.1
SCRATCH_BYTES = 64 * 1024 * 1024  # about 60 s of 1080p at 8 Mb/s, waiting for storage
STORAGE_PATIENCE_SECONDS = 60.0


class Shipping:
    def __init__(self, folders: Sequence[Path], bound: int) -> None:
        self.folders = folders
        self.bound = bound
        self.stored: dict[str, int] = {}  # key under the video's folder → bytes
        self.failing_since: float | None = None
        self.error: Exception | None = None

    def waiting(self) -> list[Path]:
        return sorted(p for folder in self.folders for p in folder.rglob("*.ts"))

    def full(self) -> bool:
        """Whether the finished segments not yet stored fill the scratch bound; raises the
        storage's error once it has refused them for too long."""
        failing = self.failing_since is not None and time.monotonic() - self.failing_since
        if self.error is not None and failing and failing > STORAGE_PATIENCE_SECONDS:
            raise self.error
        total = 0
        for segment in self.waiting():
            try:
                total += segment.stat().st_size
            except FileNotFoundError:  # stored and deleted meanwhile
                continue
        return total > self.bound


@contextmanager
def shipping(
    svc: Services[StepSettings],
    video: Video,
    work: Path,
    folders: Sequence[str],
    beat: Heartbeat,
    bound: int = SCRATCH_BYTES,
) -> Iterator[Shipping]:
    """While the block runs, store each finished segment under `work/<folder>` and delete it
    locally; at its end, store those left. A segment that cannot be stored (the storage is away)
    stays in scratch and is tried again at the next pass; the last pass raises."""
    ship = Shipping([work / folder for folder in folders], bound)
    done = threading.Event()

    def ship_all(final: bool) -> None:
        for segment in ship.waiting():
            if beat.lost.is_set():  # another run owns the step and writes these keys
                return
            key = segment.relative_to(work).as_posix()
            try:
                size = segment.stat().st_size
                given(svc.storage, "storage").upload(
                    svc.settings.derived_bucket, f"{video.derived_folder}/{key}", segment, TS_TYPE
                )
            except TransientError as exc:
                if final:
                    raise
                log.warning("segment not stored yet: %s", exc, extra={"video_id": str(video.id)})
                ship.error = exc
                ship.failing_since = ship.failing_since or time.monotonic()
                return
            ship.failing_since = None
            ship.stored[key] = size
            segment.unlink()

    def run() -> None:
        while not done.wait(POLL_SECONDS):
            ship_all(final=False)

    thread = threading.Thread(target=run, name="shipping", daemon=True)
    thread.start()
    try:
        yield ship
    finally:
        done.set()
        thread.join()
    ship_all(final=True)
