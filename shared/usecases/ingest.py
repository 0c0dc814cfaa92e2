"""ingest: an object landed in an ingest bucket. Check it, then create its video and job:
queued when it holds a decodable video, born failed with a reason when it does not."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any
from uuid import UUID

from shared.config import IngestLimits, IngestSettings
from shared.domain import ObjectMissing, PipelineError, Reason, TransientError, UnsafePath, safe_key
from shared.events import SignedEvent, parse_storage_object_event
from shared.logs import get_logger
from shared.media.confine import ACCEPTED, VIDEO_CONTAINERS, Source, demuxer_of
from shared.media.probe import audio_streams, still_image_format, video_streams
from shared.models import StorageObject, UploadInfo
from shared.ports import MediaProbe, Services, given
from shared.usecases.outcome import Outcome

log = get_logger("ingest")

# Control characters and quotes break shells, headers and players downstream; bidirectional
# overrides disguise a name (`gpj.exe` shown as `exe.jpg`).
UNSAFE_NAME_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\"'`\u202a-\u202e\u2066-\u2069]")
MAX_NAME_BYTES = 255
# What is left of bytes that were not UTF-8: the replacement character, or lone surrogates.
NOT_UTF8 = re.compile("[\ufffd\ud800-\udfff]")


def path_owner(bucket: str, name: str) -> UUID:
    """The owner named by a `<owner_id>/<file>` path, or BAD_PATH."""
    try:
        safe_key(bucket, name)
    except UnsafePath:
        raise PipelineError(Reason.BAD_PATH, "the object path is empty, absolute or contains '..'") from None
    if NOT_UTF8.search(name):
        raise PipelineError(Reason.BAD_PATH, "the object path holds bytes that are not valid UTF-8")
    if UNSAFE_NAME_CHARS.search(name):
        raise PipelineError(Reason.BAD_PATH, "the object path contains quotes or control characters")
    if any(len(part.encode()) > MAX_NAME_BYTES for part in name.split("/")):
        # Longer than a file system takes (NAME_MAX): storing what is derived from it would fail.
        raise PipelineError(Reason.BAD_PATH, f"a folder or file name in the path is over {MAX_NAME_BYTES} bytes")
    first, _, rest = name.partition("/")
    if not rest:
        raise PipelineError(Reason.BAD_PATH, "uploads must be stored as <owner_id>/<file>")
    try:
        return UUID(first)
    except ValueError:
        raise PipelineError(Reason.BAD_PATH, "the first folder of the path must be the owner's user id") from None


def check_limits(size: int | None, settings: IngestLimits) -> int:
    if size is None:
        raise PipelineError(Reason.OBJECT_MISSING, "the uploaded file is no longer in storage")
    if size == 0:
        raise PipelineError(Reason.EMPTY_FILE, "the uploaded file is empty")
    if size > settings.max_upload_bytes:
        raise PipelineError(Reason.TOO_LARGE, f"the file is {size} bytes; the limit is {settings.max_upload_bytes}")
    return size


def check_frame_size(stream: dict[str, Any], settings: IngestLimits) -> None:
    """Before any decode: a frame size from a header can ask a decoder for gigabytes. (The
    decoders are held to max_frame_pixels too, for frames that grow after the header.)"""
    width, height = int(stream.get("width") or 0), int(stream.get("height") or 0)
    if width <= 0 or height <= 0:
        raise PipelineError(Reason.BAD_DIMENSIONS, "the video stream declares no frame size")
    if max(width, height) > settings.max_video_dimension:
        raise PipelineError(
            Reason.BAD_DIMENSIONS,
            f"the video declares {width}x{height} pixels; the limit is {settings.max_video_dimension} on either side",
        )
    if width * height > settings.max_frame_pixels:
        raise PipelineError(
            Reason.BAD_DIMENSIONS,
            f"the video has frames of {width}x{height} pixels; the limit is {settings.max_frame_pixels} pixels a frame",
        )


def frame_rate(stream: dict[str, Any]) -> float | None:
    """Frames a second: the measured average, else the container's base rate."""
    for key in ("avg_frame_rate", "r_frame_rate"):
        num, _, den = str(stream.get(key) or "").partition("/")
        try:
            rate = float(num) / float(den or 1)
        except (ValueError, ZeroDivisionError):
            continue
        if rate > 0:
            return rate
    return None


def check_frames(stream: dict[str, Any], duration: float, settings: IngestLimits) -> None:
    """What decoding will cost: frames a second and frames in all (the count the container
    gives, else duration times rate)."""
    rate = frame_rate(stream)
    if rate is not None and rate > settings.max_frame_rate:
        raise PipelineError(
            Reason.FRAME_RATE_TOO_HIGH,
            f"the video runs at {rate:g} frames a second; the limit is {settings.max_frame_rate:g}",
        )
    try:
        frames = int(stream.get("nb_frames") or 0)
    except ValueError:
        frames = 0
    frames = frames or round(duration * (rate or 0))
    if frames > settings.max_video_frames:
        raise PipelineError(
            Reason.TOO_MANY_FRAMES, f"the video has {frames} frames; the limit is {settings.max_video_frames}"
        )
    # The frames' rate over the whole video, when the container counts them: a rate declared for
    # the first frames says little of the rest.
    rate = max(rate or 0.0, frames / duration if duration > 0 else 0.0)
    pixel_rate = int(stream["width"]) * int(stream["height"]) * rate
    if pixel_rate > settings.max_pixels_per_second:
        raise PipelineError(
            Reason.TOO_MANY_PIXELS,
            f"the video decodes {pixel_rate / 1e6:.0f} million pixels a second "
            f"({stream['width']}x{stream['height']} at {rate:.3g} frames a second); "
            f"the limit is {settings.max_pixels_per_second / 1e6:.0f} million",
        )


def check_media(media: MediaProbe, source: Path | Source, settings: IngestLimits) -> None:
    """A real, decodable video within the limits, or PipelineError."""
    info = media.probe(source)
    count = len(info.get("streams") or [])
    if count > settings.max_streams:
        raise PipelineError(
            Reason.TOO_MANY_STREAMS, f"the file holds {count} streams; the limit is {settings.max_streams}"
        )
    image = still_image_format(info)
    if image:
        raise PipelineError(
            Reason.NOT_A_VIDEO, f"the file is a still image ({image.removesuffix('_pipe')}), not a video"
        )
    streams = video_streams(info)
    if not streams:
        raise PipelineError(
            Reason.NOT_A_VIDEO,
            "the file holds audio only, no video stream" if audio_streams(info) else "the file holds no video stream",
        )
    demuxer = demuxer_of(str(info["format"].get("format_name") or ""))
    if demuxer not in VIDEO_CONTAINERS:
        raise PipelineError(
            Reason.UNSUPPORTED_CONTAINER, f"the pipeline does not process {demuxer} files; it reads {ACCEPTED}"
        )
    duration = float((info.get("format") or {}).get("duration") or 0)
    if duration > settings.max_duration_seconds:
        raise PipelineError(
            Reason.TOO_LONG, f"the video lasts {duration:.0f} s; the limit is {settings.max_duration_seconds:.0f} s"
        )
    check_frame_size(streams[0], settings)
    check_frames(streams[0], duration, settings)
    media.check_decodes(source, demuxer, int(streams[0]["index"]))


def inspect_upload(svc: Services[IngestSettings], obj: StorageObject) -> tuple[UUID, int]:
    """Everything ingest checks, cheapest first. Returns (owner, size) or raises PipelineError."""
    if not svc.db.is_ingest_bucket(obj.bucket_id):
        raise PipelineError(Reason.UNKNOWN_BUCKET, f"bucket {obj.bucket_id!r} does not feed the pipeline")
    owner = path_owner(obj.bucket_id, obj.name)
    if obj.owner is not None and obj.owner != owner:
        raise PipelineError(Reason.PATH_NOT_OWNED, "the path names a different owner than the uploader")
    if not svc.db.user_exists(owner):
        raise PipelineError(Reason.UNKNOWN_OWNER, "the path's owner is not a known user")
    try:
        storage = given(svc.storage, "storage")
        size = check_limits(storage.size(obj.bucket_id, obj.name), svc.settings)
        with storage.reading(obj.bucket_id, obj.name) as source:  # ranged reads: no copy of the upload
            check_media(given(svc.media, "a media probe"), source, svc.settings)
    except ObjectMissing:
        raise PipelineError(Reason.OBJECT_MISSING, "the uploaded file is no longer in storage") from None
    except UnsafePath:
        raise PipelineError(Reason.BAD_PATH, "the stored object leads out of its place through a link") from None
    return owner, size


def ingest(svc: Services[IngestSettings], object_id: UUID) -> Outcome:
    started = time.monotonic()
    obj = svc.db.get_storage_object(object_id)
    if obj is None:
        log.info("object gone before ingest", extra={"outcome": "ignored"})
        return Outcome("ignored", None, "the storage object no longer exists")
    existing = svc.db.job_for_object(object_id)
    if existing is not None and existing.retry_requested_at is None:
        # A repeated storage event: this upload was judged already.
        log.info("upload already ingested", extra={"job_id": str(existing.id), "outcome": "duplicate"})
        return Outcome("duplicate", existing.id, "this upload was ingested already")
    record = UploadInfo(
        object_id=obj.id,
        owner_id=None,
        bucket=obj.bucket_id,
        path=obj.name,
        size_bytes=obj.declared_size,
        content_type=obj.declared_content_type,
    )
    try:
        owner, size = inspect_upload(svc, obj)
    except PipelineError as exc:
        if exc.retryable:  # no job exists yet: the event itself is what gets retried
            raise TransientError(exc.message) from exc
        if existing is not None:  # a requeued upload that still fails
            job = svc.db.finish_reingest(existing.id, None, None, exc.reason, exc.message)
        else:
            # Record who we can: the uploader if they are a known user.
            known = obj.owner if obj.owner is not None and svc.db.user_exists(obj.owner) else None
            job = svc.db.create_job(
                record.model_copy(update={"owner_id": known}), svc.settings.max_attempts, exc.reason, exc.message
            )
        log.info(
            "upload rejected: %s",
            exc.message,
            extra={
                "job_id": str(job.id),
                "outcome": "rejected",
                "reason": exc.reason.value,
                "duration_ms": int((time.monotonic() - started) * 1000),
            },
        )
        return Outcome("rejected", job.id, exc.message)
    if existing is not None:
        job = svc.db.finish_reingest(existing.id, owner, size, None, None)
    else:
        job = svc.db.create_job(
            record.model_copy(update={"owner_id": owner, "size_bytes": size}), svc.settings.max_attempts
        )
    log.info(
        "upload accepted",
        extra={
            "job_id": str(job.id),
            "video_id": str(job.video_id),
            "outcome": "done",
            "duration_ms": int((time.monotonic() - started) * 1000),
        },
    )
    return Outcome("done", job.id)


def handle_event(svc: Services[IngestSettings], event: SignedEvent) -> Outcome:
    return ingest(svc, parse_storage_object_event(event.body).id)
