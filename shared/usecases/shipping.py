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
the tool until its timeout.

The segments stored are also the step's progress: `counted` is told how many of the first
folder's are stored, as they are (ffmpeg's own progress report waits until every output of the
run has begun, and the storyboard's one sprite sheet begins at the end)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
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
    """The segments of `folders` (under `work`), stored under the video's folder one pass at a
    time; see the module's docstring."""

    def __init__(
        self,
        svc: Services[StepSettings],
        video: Video,
        work: Path,
        folders: Sequence[str],
        beat: Heartbeat,
        bound: int,
        counted: Callable[[int], None] | None,
    ) -> None:
        self.svc, self.video, self.work, self.beat = svc, video, work, beat
        self.folders, self.bound, self.counted = folders, bound, counted
        self.stored: dict[str, int] = {}  # key under the video's folder → bytes
        self.failing_since: float | None = None
        self.error: Exception | None = None
        self.broken: Exception | None = None  # anything but the storage's passing trouble

    def waiting(self) -> list[Path]:
        return sorted(p for folder in self.folders for p in (self.work / folder).rglob("*.ts"))

    def full(self) -> bool:
        """Whether the finished segments not yet stored fill the scratch bound; raises the
        storage's error once it has refused them for too long."""
        if self.broken is not None:
            raise self.broken
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

    def ship_all(self, final: bool) -> None:
        """One pass: every finished segment stored and deleted; the last pass raises what the
        storage says, an earlier one leaves the segment for the next."""
        before = len(self.stored)
        try:
            self._ship_waiting(final)
        finally:
            if self.counted is not None and len(self.stored) > before:
                self.counted(sum(1 for key in self.stored if key.startswith(f"{self.folders[0]}/")))

    def _ship_waiting(self, final: bool) -> None:
        for segment in self.waiting():
            if self.beat.lost.is_set():  # another run owns the step and writes these keys
                return
            key = segment.relative_to(self.work).as_posix()
            try:
                size = segment.stat().st_size
                given(self.svc.storage, "storage").upload(
                    self.svc.settings.derived_bucket, f"{self.video.derived_folder}/{key}", segment, TS_TYPE
                )
            except TransientError as exc:
                if final:
                    raise
                log.warning("segment not stored yet: %s", exc, extra={"video_id": str(self.video.id)})
                self.error = exc
                self.failing_since = self.failing_since or time.monotonic()
                return
            self.failing_since = None
            self.stored[key] = size
            segment.unlink()


@contextmanager
def shipping(
    svc: Services[StepSettings],
    video: Video,
    work: Path,
    folders: Sequence[str],
    beat: Heartbeat,
    bound: int = SCRATCH_BYTES,
    counted: Callable[[int], None] | None = None,
) -> Iterator[Shipping]:
    """While the block runs, store each finished segment under `work/<folder>` and delete it
    locally; at its end, store those left. `counted` is told how many of the first folder's
    segments are stored, whenever that grows."""
    ship = Shipping(svc, video, work, folders, beat, bound, counted)
    done = threading.Event()

    def run() -> None:
        while not done.wait(POLL_SECONDS):
            try:
                ship.ship_all(final=False)
            except Exception as exc:  # the tool must not wait for a shipping that stopped
                ship.broken = exc
                return

    thread = threading.Thread(target=run, name="shipping", daemon=True)
    thread.start()
    try:
        yield ship
    finally:
        done.set()
        thread.join()
    ship.ship_all(final=True)
