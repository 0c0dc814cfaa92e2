"""The versioned metadata document of a video (schema version 1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from shared.metadata.technical import MadeBy, Technical
from shared.models import Artifact, Video

SCHEMA_VERSION: Literal[1] = 1


class Source(BaseModel):
    bucket: str
    path: str
    size_bytes: int | None = None
    content_type: str | None = None


class ArtifactRef(BaseModel):
    bucket: str
    path: str
    bytes: int
    content_type: str
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None
    made_by: MadeBy | None = None


class MetadataDocument(BaseModel):
    schema_version: Literal[1] = SCHEMA_VERSION
    video_id: UUID
    job_id: UUID
    generated_at: datetime
    source: Source
    technical: Technical
    poster: ArtifactRef | None = None
    proxy: ArtifactRef | None = None
    audio: ArtifactRef | None = None
    # Why a part is missing, by part name: a part is either present or explained here.
    absent: dict[str, str] = Field(default_factory=dict)


def artifact_ref(artifact: Artifact) -> ArtifactRef:
    d: dict[str, Any] = artifact.details
    made_by = MadeBy.model_validate(d["made_by"]) if isinstance(d.get("made_by"), dict) else None
    return ArtifactRef(bucket=artifact.bucket, path=artifact.path, bytes=artifact.bytes,
                       content_type=artifact.content_type, width=d.get("width"), height=d.get("height"),
                       duration_seconds=d.get("duration_seconds"), made_by=made_by)


def build_document(video: Video, job_id: UUID, technical: Technical, artifacts: list[Artifact],
                   now: datetime) -> MetadataDocument:
    by_kind = {a.kind: artifact_ref(a) for a in artifacts}
    absent: dict[str, str] = {}
    for part in ("poster", "proxy", "audio"):
        if part not in by_kind:
            absent[part] = ("the source has no audio stream" if part == "audio" and technical.audio is None
                            else "the process step produced no such artifact")
    return MetadataDocument(
        video_id=video.id, job_id=job_id, generated_at=now,
        source=Source(bucket=video.bucket, path=video.path, size_bytes=video.size_bytes,
                      content_type=video.content_type),
        technical=technical, poster=by_kind.get("poster"), proxy=by_kind.get("proxy"),
        audio=by_kind.get("audio"), absent=absent,
    )
