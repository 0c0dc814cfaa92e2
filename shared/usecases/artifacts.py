"""Storing a step's files in the derived bucket and describing them as artifact rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.config import StepSettings
from shared.media.models import Rendition
from shared.models import Artifact, Video
from shared.ports import Services, given
from shared.usecases.heartbeat import Heartbeat


def store(
    svc: Services[StepSettings],
    video: Video,
    rendition: Rendition,
    made_by: dict[str, str],
    beat: Heartbeat,
    shipped: Mapping[str, int] | None = None,
) -> Artifact:
    """Upload every file of a rendition (the main one last) and describe it as one artifact.
    Files in `shipped` (key → bytes) were stored while they were made (see shipping)."""
    beat.check()
    prefix = video.derived_folder
    shipped = shipped or {}
    for file in rendition.files:
        if file.key not in shipped:
            given(svc.storage, "storage").upload(
                svc.settings.derived_bucket, f"{prefix}/{file.key}", file.local, file.content_type
            )
    details: dict[str, Any] = {**rendition.details, "made_by": made_by}
    if rendition.extra:
        details["files"] = [f"{prefix}/{f.key}" for f in rendition.extra]
        sizes = [shipped[f.key] if f.key in shipped else f.local.stat().st_size for f in rendition.files]
        details["total_bytes"] = sum(sizes)
    return Artifact(
        kind=rendition.kind,
        bucket=svc.settings.derived_bucket,
        path=f"{prefix}/{rendition.main.key}",
        bytes=rendition.main.local.stat().st_size,
        content_type=rendition.main.content_type,
        details=details,
    )
