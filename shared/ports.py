"""The ports the use cases depend on, and Services: what a function hands its use case.
Adapters live in shared/adapters (and shared/webhooks.py, shared/media/probe.py); the
composition root that builds them from the settings is shared/services.py. The Transcriber and
TextGenerator ports sit beside their use in shared/content/."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar
from uuid import UUID

from shared.config import DoorSettings
from shared.domain import JobStep, Reason
from shared.media.confine import Source
from shared.models import Artifact, Job, PostAnswer, StorageObject, UploadInfo, Video, WebhookDelivery, WebhookSend

if TYPE_CHECKING:  # only generate_metadata loads the speech and text stack (numpy, the model)
    from shared.content.suggestions import TextGenerator
    from shared.content.transcript import Transcriber


class Database(Protocol):
    def get_storage_object(self, object_id: UUID) -> StorageObject | None: ...
    def user_exists(self, user_id: UUID) -> bool: ...
    def is_ingest_bucket(self, bucket: str) -> bool: ...
    def job_for_object(self, object_id: UUID) -> Job | None: ...
    def create_job(
        self, upload: UploadInfo, max_attempts: int, reason: Reason | None = None, message: str | None = None
    ) -> Job:
        """Queued, or born failed when a reason is given; the same job again for the same upload."""
        ...

    def finish_reingest(
        self, job_id: UUID, owner_id: UUID | None, size: int | None, reason: Reason | None, message: str | None
    ) -> Job: ...
    def requeue_job(self, job_id: UUID) -> Job: ...

    def receipt_exists(self, message_id: str) -> bool: ...
    def record_receipt(self, message_id: str, function: str) -> None: ...

    def claim_step(self, job_id: UUID, step: JobStep, worker: str, lease_seconds: int) -> Job: ...
    def fail_step(
        self, job_id: UUID, step: JobStep, worker: str, reason: Reason, message: str, retryable: bool
    ) -> Job: ...
    def mark_playable(self, job_id: UUID, worker: str, artifacts: list[Artifact]) -> Job:
        """The source's remux stored while process holds the job: the video plays from now."""
        ...

    def complete_process(
        self, job_id: UUID, worker: str, probe: dict[str, Any], artifacts: list[Artifact], analysis: dict[str, Any]
    ) -> Job: ...
    def complete_generate_metadata(
        self, job_id: UUID, worker: str, schema_version: int, document: dict[str, Any], artifacts: list[Artifact]
    ) -> Job: ...
    def renew_lease(self, job_id: UUID, worker: str, lease_seconds: int) -> Job: ...
    def report_progress(self, job_id: UUID, worker: str, stage: str, done: float, total: float, unit: str) -> None:
        """How far the running step is, on the job's row; ignored when `worker` holds no lease."""
        ...

    def get_video(self, video_id: UUID) -> Video: ...
    def list_artifacts(self, video_id: UUID) -> list[Artifact]: ...
    def claim_webhook_delivery(
        self, delivery_id: UUID, message_id: str, claim_seconds: int, owner_limit: int
    ) -> WebhookSend:
        """One attempt, claimed through the event that carries it (its webhook-id); WebhookDeferred
        while its endpoint or owner is busy sending, WebhookCancelled when its endpoint is off."""
        ...

    def record_webhook_attempt(
        self, delivery_id: UUID, claim: str, answer: PostAnswer, retry_at: datetime | None
    ) -> WebhookDelivery:
        """The attempt and what follows it (delivered, the next attempt at retry_at, or failed)."""
        ...


class Storage(Protocol):
    def size(self, bucket: str, path: str) -> int | None:
        """Bytes of the object, or None when it does not exist."""
        ...

    def reading(self, bucket: str, path: str) -> AbstractContextManager[Source]:
        """The object as ffmpeg reads it for the duration of the block: the stored file itself
        where it is on this machine, else a short-lived signed URL read by ranges. Python reads it
        the same way, as a file (shared/media/source_file.py). Nothing copies a whole object to
        the instance. ObjectMissing when it does not exist."""
        ...

    def upload(self, bucket: str, path: str, src: Path, content_type: str) -> None: ...


class MediaProbe(Protocol):
    """What ingest and process learn of a file before any real work (ffprobe and ffmpeg)."""

    def probe(self, source: Path | Source) -> dict[str, Any]:
        """ffprobe's JSON for the file, or PipelineError with the reason it is unusable."""
        ...

    def check_decodes(self, source: Path | Source, demuxer: str, stream_index: int) -> None:
        """PipelineError unless the stream's first frame decodes, read by `demuxer` (the probe's)."""
        ...


class WebhookSender(Protocol):
    def send(self, url: str, secret: str, message_id: str, body: str) -> PostAnswer:
        """POST body signed with secret; never raises for network trouble."""
        ...


def no_transcriber() -> Transcriber | None:
    return None


SettingsT = TypeVar("SettingsT", bound=DoorSettings, covariant=True)
PartT = TypeVar("PartT")


@dataclass(frozen=True)
class Services(Generic[SettingsT]):
    """What a use case needs, passed in by its function's door (or a test): its function's
    settings (shared/config.py) and only the adapters that function works with."""

    settings: SettingsT
    db: Database
    worker: str  # who holds leases, in leases and logs
    storage: Storage | None = None  # all but notify
    media: MediaProbe | None = None  # ingest and process
    webhooks: WebhookSender | None = None  # notify
    transcriber: Callable[[], Transcriber | None] = no_transcriber  # loads its model on first call
    text_generator: TextGenerator | None = None  # None: the extractive default


def given(part: PartT | None, what: str) -> PartT:
    """An adapter the composition root builds for this function; its absence is a wiring mistake."""
    if part is None:
        raise RuntimeError(f"this function was built without {what}")
    return part
