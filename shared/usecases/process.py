"""process: probe the source and make the poster, proxy and audio track in one ffmpeg run,
store them in the derived bucket and record them with the probe in one transaction."""

from __future__ import annotations

import tempfile
from pathlib import Path
from uuid import UUID

from shared.domain import JobStep, ObjectMissing, PipelineError, Reason
from shared.events import parse_job_event
from shared.media.ffmpeg_tools import tool_version
from shared.media.probe import probe
from shared.media.renditions import RenditionOptions, render
from shared.metadata.technical import MadeBy, technical_from_probe
from shared.models import Artifact, Job, Video
from shared.services import Services, get_services
from shared.usecases.leased_step import run_leased_step
from shared.usecases.outcome import Outcome


def artifact_prefix(video: Video) -> str:
    """Derived files sit under the owner's folder, like the upload they come from."""
    return f"{video.owner_id or 'unowned'}/{video.id}"


def process_job(svc: Services, job: Job) -> Job:
    video = svc.db.get_video(job.video_id)
    options = RenditionOptions(proxy_max_height=svc.settings.proxy_max_height,
                               poster_at_seconds=svc.settings.poster_at_seconds)
    ffmpeg_by = {"tool": "ffmpeg", "version": tool_version("ffmpeg")}
    try:
        with tempfile.TemporaryDirectory(prefix="vidpipe-process-") as tmp, \
                svc.storage.local_copy(video.bucket, video.path) as src:
            info = probe(src)
            info["made_by"] = {"tool": "ffprobe", "version": tool_version("ffprobe")}
            technical = technical_from_probe(info, MadeBy.model_validate(info["made_by"]))
            artifacts = []
            for rendition in render(src, Path(tmp), technical, options):
                path = f"{artifact_prefix(video)}/{rendition.file.name}"
                svc.storage.upload(svc.settings.derived_bucket, path, rendition.file, rendition.content_type)
                artifacts.append(Artifact(kind=rendition.kind, bucket=svc.settings.derived_bucket, path=path,
                                          bytes=rendition.file.stat().st_size,
                                          content_type=rendition.content_type,
                                          details={**rendition.details, "made_by": ffmpeg_by}))
    except ObjectMissing:
        raise PipelineError(Reason.OBJECT_MISSING, "the uploaded file is no longer in storage") from None
    return svc.db.complete_process(job.id, svc.worker, info, artifacts)


def process(svc: Services, job_id: UUID) -> Outcome:
    return run_leased_step(svc, job_id, JobStep.PROCESS, svc.settings.process_lease_seconds,
                           lambda job: process_job(svc, job))


def handle_event(body: bytes) -> Outcome:
    return process(get_services(), parse_job_event(body).id)
