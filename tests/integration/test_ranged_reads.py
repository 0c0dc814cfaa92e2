"""Uploads are read where they are stored, through ranged reads of the storage's signed URL, not
copied: ingest's probe and first-frame decode fetch a small part of a large file, wherever its
index sits, and process's one decode reads the file about once, opening a broken connection again
where it broke. A failed read is the storage's trouble (retried) or the object's absence, never a
verdict on the upload; the signed URL's token never reaches a message."""

from __future__ import annotations

import contextlib
import subprocess
import wave
from collections.abc import Iterator
from pathlib import Path

import boto3
import numpy as np
import pytest
from moto.server import ThreadedMotoServer

from shared.adapters.s3_storage import S3Storage
from shared.adapters.supabase_storage import SupabaseStorage
from shared.config import IngestLimits, RenditionSettings
from shared.content.transcript import AudioChunk, audio_chunks
from shared.domain import ObjectMissing, PipelineError, Reason, StorageUnavailable
from shared.media.confine import DecodeLimits
from shared.media.models import MadeBy, Segment
from shared.media.probe import FfmpegProbe
from shared.media.renditions import render
from shared.media.source_file import open_source
from shared.metadata.technical import technical_from_probe
from shared.usecases.ingest import check_media
from tests.storage_api import StorageApi

pytestmark = pytest.mark.integration

KEY = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJl"
LIMITS = IngestLimits()
MEDIA = FfmpegProbe(DecodeLimits.from_settings(LIMITS))


def encode(path: Path, *extra: str) -> Path:
    """20 s of 640x360 at 8 Mb/s (over 10 MB), the MP4 index where `extra` puts it."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=20",
         "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "8M", "-g", "50", *extra, str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("ranged")
    index_last = encode(root / "index_last.mp4").read_bytes()  # ffmpeg's default: moov after the media
    index_first = encode(root / "index_first.mp4", "-movflags", "+faststart").read_bytes()
    return {
        "index_last.mp4": index_last,
        "index_first.mp4": index_first,
        "cut_short.mp4": index_last[: len(index_last) // 2],  # the upload broke off: no index
        "notes.mp4": b"these are not the frames you are looking for\n" * 1000,
    }


@pytest.fixture
def api(videos: dict[str, bytes]) -> Iterator[StorageApi]:
    server = StorageApi(KEY)
    for name, data in videos.items():
        server.objects[("uploads", f"owner/{name}")] = (data, "video/mp4")
    yield server
    server.close()


@pytest.fixture
def storage(api: StorageApi) -> SupabaseStorage:
    return SupabaseStorage(api.url, KEY)


@pytest.mark.parametrize("name", ["index_last.mp4", "index_first.mp4"])
def test_a_large_upload_is_checked_from_a_small_part_of_it(storage, api, videos, name):
    with storage.reading("uploads", f"owner/{name}") as source:
        assert source.protocols == "http,tcp"
        check_media(MEDIA, source, LIMITS)  # probe, limits and the first frame's decode
    size = len(videos[name])
    assert size > 10 * 1024**2
    assert api.bytes_sent < size // 10, f"read {api.bytes_sent} of {size} bytes"


def test_the_verdicts_are_those_of_a_local_file(storage, videos, tmp_path):
    for name, reason in (("cut_short.mp4", Reason.TRUNCATED), ("notes.mp4", Reason.NOT_A_VIDEO)):
        local = tmp_path / name
        local.write_bytes(videos[name])
        with pytest.raises(PipelineError) as from_file:
            check_media(MEDIA, local, LIMITS)
        with pytest.raises(PipelineError) as by_ranges, storage.reading("uploads", f"owner/{name}") as source:
            check_media(MEDIA, source, LIMITS)
        assert from_file.value.reason == by_ranges.value.reason == reason
        assert "token" not in by_ranges.value.message and "127.0.0.1" not in by_ranges.value.message


def test_the_one_decode_reads_the_source_about_once_through_broken_connections(storage, api, videos, tmp_path):
    api.drop_downloads_after = 3 * 1024**2  # every response is cut off after 3 MB
    with storage.reading("uploads", "owner/index_last.mp4") as source:
        tech = technical_from_probe(MEDIA.probe(source), MadeBy(tool="ffprobe", version="test"))
        result = render(source, tmp_path, tech, RenditionSettings().rendition_options(), MEDIA.limits)
    proxy = next(r for r in result.renditions if r.kind == "proxy")
    assert abs(float(proxy.details["duration_seconds"]) - 20) < 0.1
    size = len(videos["index_last.mp4"])
    assert size < api.bytes_sent < 1.3 * size, f"read {api.bytes_sent} of {size} bytes"


def test_storage_trouble_is_retried_not_blamed_on_the_upload(storage, api):
    api.fail_downloads_with = 503
    with pytest.raises(StorageUnavailable) as failed, storage.reading("uploads", "owner/index_last.mp4") as source:
        check_media(MEDIA, source, LIMITS)
    assert "5XX" in str(failed.value) and "token" not in str(failed.value)


def test_an_upload_deleted_while_it_is_read_is_missing(storage, api):
    with pytest.raises(ObjectMissing), storage.reading("uploads", "owner/index_last.mp4") as source:
        del api.objects[("uploads", "owner/index_last.mp4")]
        check_media(MEDIA, source, LIMITS)


def test_a_missing_object_cannot_be_read(storage):
    with pytest.raises(ObjectMissing), storage.reading("uploads", "owner/nothing.mp4"):
        pass


@pytest.fixture(scope="module")
def s3(videos: dict[str, bytes]) -> Iterator[S3Storage]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    client = boto3.client(
        "s3",
        endpoint_url=f"http://{host}:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket="uploads")
    for name, data in videos.items():
        client.put_object(Bucket="uploads", Key=f"owner/{name}", Body=data)
    yield S3Storage(f"http://{host}:{port}", "us-east-1", "test", "test")
    server.stop()


def test_an_s3_presigned_url_is_read_the_same_way(s3):
    with s3.reading("uploads", "owner/index_last.mp4") as source:
        check_media(MEDIA, source, LIMITS)
    for name, reason in (("cut_short.mp4", Reason.TRUNCATED), ("notes.mp4", Reason.NOT_A_VIDEO)):
        with pytest.raises(PipelineError) as refused, s3.reading("uploads", f"owner/{name}") as source:
            check_media(MEDIA, source, LIMITS)
        assert refused.value.reason == reason
    with pytest.raises(ObjectMissing), s3.reading("uploads", "owner/nothing.mp4"):
        pass


def pcm_wav(path: Path, seconds: int) -> Path:
    """16 kHz mono 16-bit noise, as the process step's audio track is laid out."""
    samples = np.random.default_rng(7).integers(-3000, 3000, seconds * 16000, dtype=np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(samples.tobytes())
    return path


def windows(chunks: Iterator[AudioChunk]) -> list[tuple[float, bytes, tuple[Segment, ...]]]:
    return [(c.start, c.pcm, c.spans) for c in chunks]


def test_the_audio_track_is_read_a_window_at_a_time(storage, api, tmp_path):
    """generate_metadata hears the stored track by ranges: the same windows as from a local
    file, and only the bytes of the stretches that sound."""
    wav = pcm_wav(tmp_path / "audio.wav", 120)
    api.objects[("derived", "owner/audio.wav")] = (wav.read_bytes(), "audio/wav")
    spans = [Segment(start=10, end=20), Segment(start=70, end=75)]
    with storage.reading("derived", "owner/audio.wav") as source, open_source(source) as stored:
        assert windows(audio_chunks(stored, spans)) == windows(audio_chunks(wav, spans))
        assert source.read(wav.stat().st_size + 10, 100) == b""  # past the end: nothing
    assert api.bytes_sent < wav.stat().st_size // 4, f"read {api.bytes_sent} of {wav.stat().st_size}"


def test_an_s3_audio_track_is_read_the_same_way(s3, tmp_path):
    wav = pcm_wav(tmp_path / "audio.wav", 40)
    s3._client.upload_file(str(wav), "uploads", "owner/audio.wav")
    spans = [Segment(start=5, end=30)]
    with s3.reading("uploads", "owner/audio.wav") as source, open_source(source) as stored:
        assert windows(audio_chunks(stored, spans)) == windows(audio_chunks(wav, spans))
        assert source.read(wav.stat().st_size, 10) == b""
