"""The job's vocabulary, mirrored from the database enums, and the pipeline's exceptions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class JobStatus(StrEnum):
    """Must equal Postgres' public.job_status (tested)."""

    QUEUED = "queued"
    PROCESSING = "processing"
    PROCESSED = "processed"
    DESCRIBING = "describing"
    READY = "ready"
    FAILED = "failed"


class JobStep(StrEnum):
    """Must equal Postgres' public.job_step (tested)."""

    INGEST = "ingest"
    PROCESS = "process"
    GENERATE_METADATA = "generate_metadata"


class PipelineFunction(StrEnum):
    """The functions events are delivered to. Must equal Postgres' public.pipeline_function (tested)."""

    INGEST = "ingest"
    PROCESS = "process"
    GENERATE_METADATA = "generate_metadata"
    NOTIFY = "notify"


class WebhookEventType(StrEnum):
    """What customers' endpoints hear. Must equal Postgres' public.webhook_event_type (tested)."""

    INGESTED = "video.ingested"
    PLAYABLE = "video.playable"
    PROCESSED = "video.processed"
    READY = "video.ready"
    FAILED = "video.failed"


class WebhookDeliveryStatus(StrEnum):
    """One message on its way to one endpoint. Must equal Postgres' public.webhook_delivery_status (tested)."""

    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


class DeliveryCarrier(StrEnum):
    """What carries outbox events to the functions. Must equal Postgres' public.delivery_carrier (tested)."""

    DISPATCHER = "dispatcher"  # a process of ours (infra/dispatcher.py)
    PG_NET = "pg_net"  # the database itself, through pg_net and pg_cron


class EventSubject(StrEnum):
    """What an outbox event is about. Must equal Postgres' public.event_subject (tested)."""

    STORAGE_OBJECT = "storage_object"
    JOB = "job"
    WEBHOOK_DELIVERY = "webhook_delivery"


class Reason(StrEnum):
    """Stable reason codes a failed job can carry. Documented in README.md. Must equal Postgres'
    public.failure_reason (tested)."""

    BAD_PATH = "bad_path"  # not <owner_id>/<file>, or unsafe characters
    PATH_NOT_OWNED = "path_not_owned"  # the uploader is not the owner the path names
    UNKNOWN_OWNER = "unknown_owner"  # the path's owner is not a user
    UNKNOWN_BUCKET = "unknown_bucket"  # the bucket is not an ingest bucket
    OBJECT_MISSING = "object_missing"  # the storage object or its file is gone
    EMPTY_FILE = "empty_file"
    TOO_LARGE = "too_large"  # over max_upload_bytes
    TOO_LONG = "too_long"  # over max_duration_seconds
    NOT_A_VIDEO = "not_a_video"  # no media container, a still image, or no video stream
    UNSUPPORTED_CONTAINER = "unsupported_container"  # a playlist, list or other kind that opens further files
    TRUNCATED = "truncated"  # the container's index is missing: the upload was cut short
    BAD_DIMENSIONS = "bad_dimensions"  # a frame size that is invalid or over max_video_dimension
    FRAME_RATE_TOO_HIGH = "frame_rate_too_high"  # over max_frame_rate
    TOO_MANY_FRAMES = "too_many_frames"  # over max_video_frames
    TOO_MANY_PIXELS = "too_many_pixels"  # frame size times frame rate over max_pixels_per_second
    TOO_MANY_STREAMS = "too_many_streams"  # over max_streams
    UNDECODABLE = "undecodable"  # a video stream whose frames do not decode
    MEDIA_ERROR = "media_error"  # ffmpeg failed on a file that probed fine
    EVENT_REJECTED = "event_rejected"  # a function refused the job's event (4xx): misconfiguration
    RETRIES_EXHAUSTED = "retries_exhausted"  # a transient failure or an unreachable function outlasted its tries
    INTERNAL_ERROR = "internal_error"  # a bug: the log has the traceback


class PipelineError(Exception):
    """A failure with a stable reason and a sentence fit for a user."""

    def __init__(self, reason: Reason, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retryable = retryable


# What the database's functions refuse, by SQLSTATE (shared/adapters/postgres.SQLSTATE_ERRORS); the
# message says which job, video or delivery.
class NotFound(Exception):
    """What the event or request names does not exist: a job, a video's upload, a webhook delivery
    or the event carrying it (VP404)."""


class Busy(Exception):
    """Someone is at it now: another worker holds the step, a retry is being checked, an attempt
    is in flight (VP409)."""


class NothingToDo(Exception):
    """The work asked for is done or scheduled otherwise: the job has moved past this step, the
    delivery is finished or its next attempt is not due, a job is not failed (VP410). A duplicate
    or late event."""


class WebhookCancelled(NothingToDo):
    """The delivery's endpoint is turned off: the delivery is cancelled, nothing is sent."""


class WebhookDeferred(Exception):
    """A webhook delivery waits its turn: its endpoint (or its owner's sending limit) is busy until
    `until`; the database has scheduled it again."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"the endpoint is busy; the delivery waits until {until.isoformat()}")
        self.until = until


class ProviderError(Exception):
    """A hosted service (text generation, transcription) gave no usable answer. str(): why, for
    the log (redacted, but it may quote the provider); `public`: a fixed sentence for the owner's
    document, which never holds a provider's words."""

    def __init__(self, message: str, public: str) -> None:
        super().__init__(message)
        self.public = public


class LeaseLost(Exception):
    """The caller's lease expired and the step was taken away (VP412)."""


class IllegalTransition(Exception):
    """A status change the state machine forbids (VP422)."""


class LimitReached(Exception):
    """An owner asked for more than their limits allow, such as another retry (VP429)."""


class TransientError(Exception):
    """Infrastructure trouble (database, storage) worth retrying the whole event for."""


class ObjectMissing(Exception):
    """A storage object does not exist."""


class StorageUnavailable(TransientError):
    """The storage backend could not be reached or answered with an error worth retrying."""


class UnsafePath(ValueError):
    """A bucket or object path that would escape its bucket."""


def safe_key(bucket: str, path: str) -> tuple[str, str]:
    """Reject names that could leave their bucket: empty, absolute, `..`, NUL or backslash; and
    bucket names starting with a dot, which the local layout keeps for itself."""
    parts = path.split("/")
    if (
        not bucket
        or "/" in bucket
        or bucket.startswith(".")
        or not path
        or path.startswith("/")
        or any(p in {"", ".", ".."} for p in parts)
        or "\x00" in path
        or "\\" in path
    ):
        raise UnsafePath(f"unsafe storage key {bucket!r}/{path!r}")
    return bucket, path
