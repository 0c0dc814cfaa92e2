"""Segments are stored as they are made: the scratch space holds a bounded part of a rendition
however long the video (the tool waits when the storage is slower than it), a storage that drops
a few uploads costs nothing, one that refuses them for good ends the run with its error, and what
is stored is whole: the stored playlists play the whole video."""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from infra.clips import lavfi, run_ffmpeg
from shared.adapters.local_storage import LocalStorage
from shared.config import ProcessSettings
from shared.domain import StorageUnavailable
from shared.media.confine import DecodeLimits
from shared.media.models import MadeBy
from shared.media.probe import FfmpegProbe
from shared.media.renditions import render
from shared.media.web_ready import remux_hls
from shared.metadata.technical import technical_from_probe
from shared.models import Video
from shared.ports import Services
from shared.usecases.artifacts import store
from shared.usecases.heartbeat import Heartbeat
from shared.usecases.shipping import SCRATCH_BYTES, STORAGE_PATIENCE_SECONDS, shipping
from tests.media_checks import decodes, duration

pytestmark = pytest.mark.integration

SETTINGS = ProcessSettings()
MEDIA = FfmpegProbe(DecodeLimits.from_settings(SETTINGS))
BY = {"tool": "ffmpeg", "version": "test"}


class SlowStorage(LocalStorage):
    """Local files at `rate` bytes a second, refusing the first `failures` uploads (or all)."""

    def __init__(self, root: Path, rate: float = 100e6, failures: int = 0) -> None:
        super().__init__(root)
        self.rate, self.failures, self.uploads = rate, failures, 0

    def upload(self, bucket: str, path: str, src: Path, content_type: str) -> None:
        self.uploads += 1
        if self.uploads <= self.failures:
            raise StorageUnavailable("storage answered 503")
        time.sleep(src.stat().st_size / self.rate)
        super().upload(bucket, path, src, content_type)


class ScratchGauge:
    """The most bytes the folder held at once, sampled every few milliseconds."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.peak, self._done = folder, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.005):
            total = 0
            for p in self.folder.rglob("*"):
                try:
                    total += p.stat().st_size if p.is_file() else 0
                except FileNotFoundError:
                    continue
            self.peak = max(self.peak, total)

    def __enter__(self) -> ScratchGauge:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """150 s of web-ready 720p at about 15 Mb/s (about 290 MB), keyframes every second: a 2 s
    clip looped without re-encoding."""
    root = tmp_path_factory.mktemp("big")
    run_ffmpeg(
        [*lavfi("testsrc2=size=1280x720:rate=25:duration=2", "sine=f=440:sample_rate=48000:d=2"),
         "-c:v", "libx264", "-preset", "ultrafast", "-qp", "1", "-pix_fmt", "yuv420p", "-g", "25",
         "-c:a", "aac", "-shortest", str(root / "base.mp4")]
    )  # fmt: skip
    run_ffmpeg(["-stream_loop", "-1", "-i", str(root / "base.mp4"), "-c", "copy", "-t", "150", str(root / "big.mp4")])
    return root / "big.mp4"


def a_video() -> Video:
    return Video(
        id=uuid.uuid4(), object_id=uuid.uuid4(), owner_id=uuid.uuid4(), bucket="uploads", path="x.mp4",
        created_at=datetime.now(UTC),
    )  # fmt: skip


def services(storage: LocalStorage, settings: ProcessSettings = SETTINGS) -> Services[ProcessSettings]:
    return Services(settings=settings, db=None, worker="test", storage=storage, media=MEDIA)  # type: ignore[arg-type]


@pytest.fixture
def beat() -> Iterator[Heartbeat]:
    with Heartbeat(lambda: None, lease_seconds=SETTINGS.lease_seconds) as held:
        yield held


def remux_stored(
    source: Path, storage: LocalStorage, work: Path, beat: Heartbeat
) -> tuple[Video, dict[str, object], ScratchGauge]:
    svc, video = services(storage), a_video()
    tech = technical_from_probe(MEDIA.probe(source), MadeBy(tool="ffprobe", version="test"))
    with ScratchGauge(work) as gauge, shipping(svc, video, work, ("play",), beat) as shipped:
        remuxed = remux_hls(source, work, tech, 2, MEDIA.limits, stop=beat.lost, hold=shipped.full)
    assert remuxed is not None
    artifact = store(svc, video, remuxed, BY, beat, shipped.stored)
    return video, artifact.details, gauge


def test_a_long_remux_holds_a_bounded_part_of_itself_and_stores_it_whole(big, tmp_path, beat):
    storage = SlowStorage(tmp_path / "storage")
    video, details, gauge = remux_stored(big, storage, tmp_path / "work", beat)
    size = big.stat().st_size
    assert size > 4 * SCRATCH_BYTES
    # The bound, the segment being written and what the tool writes before it is paused.
    assert gauge.peak < SCRATCH_BYTES + 48 * 1024**2, f"scratch held {gauge.peak / 1e6:.0f} MB of {size / 1e6:.0f}"
    stored = storage.root / "derived" / video.derived_folder
    files = [stored.parent.parent / f for f in details["files"]]  # type: ignore[union-attr]
    assert len(files) == details["segments"] == 75 and all(f.exists() for f in files)
    assert details["total_bytes"] == sum(f.stat().st_size for f in files) + (stored / "play/index.m3u8").stat().st_size
    assert not list((tmp_path / "work" / "play").glob("*.ts"))
    assert abs(duration(stored / "play/index.m3u8") - 150) < 0.1


def test_a_storage_that_drops_a_few_uploads_costs_nothing(big, tmp_path, beat):
    storage = SlowStorage(tmp_path / "storage", rate=1e9, failures=5)
    _, details, _ = remux_stored(big, storage, tmp_path / "work", beat)
    assert details["segments"] == 75 and storage.uploads == 5 + 75 + 1


def test_a_storage_that_refuses_for_good_ends_the_run_with_its_error(big, tmp_path, beat):
    storage = SlowStorage(tmp_path / "storage", failures=10**9)
    started = time.monotonic()
    with pytest.raises(StorageUnavailable):
        remux_stored(big, storage, tmp_path / "work", beat)
    waited = time.monotonic() - started
    assert STORAGE_PATIENCE_SECONDS < waited < STORAGE_PATIENCE_SECONDS + 30
    running = subprocess.run(["pgrep", "-f", str(tmp_path / "work")], capture_output=True, check=False)
    assert running.stdout == b"", "the paused tool was left behind"


def test_the_proxy_hls_is_stored_while_it_is_encoded_and_counted_as_progress(tmp_path, beat):
    clip = tmp_path / "clip.mp4"
    run_ffmpeg(
        [*lavfi("testsrc2=size=320x180:rate=25:duration=12", "sine=f=440:sample_rate=48000:d=12"),
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv422p", "-c:a", "aac", "-shortest", str(clip)]
    )  # fmt: skip
    storage = SlowStorage(tmp_path / "storage", rate=1e9)
    settings = ProcessSettings(hls_segment_seconds=2)
    svc, video, work = services(storage, settings), a_video(), tmp_path / "work"
    tech = technical_from_probe(MEDIA.probe(clip), MadeBy(tool="ffprobe", version="test"))
    counted: list[int] = []  # the encode's progress: its segments stored so far
    with shipping(svc, video, work, ("proxy_hls", "hls"), beat, counted=counted.append) as shipped:
        result = render(clip, work, tech, settings.rendition_options(), MEDIA.limits, hold=shipped.full)
    assert len(shipped.stored) == 6
    assert counted == sorted(set(counted)) and counted[-1] == 6
    proxy_hls = next(r for r in result.renditions if r.kind == "proxy_hls")
    artifact = store(svc, video, proxy_hls, BY, beat, shipped.stored)
    stored = storage.root / "derived" / video.derived_folder
    assert artifact.details["segments"] == 6
    assert decodes(stored / "proxy_hls/index.m3u8")
    assert abs(duration(stored / "proxy_hls/index.m3u8") - 12) < 0.1
