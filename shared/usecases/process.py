"""process: probe the source, make every artifact and measurement in one ffmpeg run, store the
files in the derived bucket and record artifacts, probe and analysis in one transaction. The
source is read where it is stored (by ranges from a signed URL), never copied to the instance,
whose disk on Cloud Run is memory."""

from __future__ import annotations

import tempfile
from pathlib import Path
from uuid import UUID

from shared.config import ProcessSettings
from shared.domain import JobStep, ObjectMissing, PipelineError, Reason
from shared.events import SignedEvent, parse_job_event
from shared.media.confine import DecodeLimits
from shared.media.ffmpeg_tools import tool_version
from shared.media.models import MadeBy
from shared.media.renditions import render
from shared.metadata.technical import technical_from_probe
from shared.models import Job
from shared.ports import Services, given
from shared.usecases.artifacts import store
from shared.usecases.heartbeat import Heartbeat
from shared.usecases.leased_step import accept_step
from shared.usecases.outcome import Accepted


def process_job(svc: Services[ProcessSettings], job: Job, beat: Heartbeat) -> Job:
    video = svc.db.get_video(job.video_id)
    ffmpeg_by = {"tool": "ffmpeg", "version": tool_version("ffmpeg")}
    try:
        with (
            tempfile.TemporaryDirectory(prefix="vidpipe-process-") as tmp,
            given(svc.storage, "storage").reading(video.bucket, video.path) as src,
        ):
            info = given(svc.media, "a media probe").probe(src)
            info["made_by"] = {"tool": "ffprobe", "version": tool_version("ffprobe")}
            technical = technical_from_probe(info, MadeBy.model_validate(info["made_by"]))
            limits = DecodeLimits.from_settings(svc.settings)
            result = render(src, Path(tmp), technical, svc.settings.rendition_options(), limits, stop=beat.lost)
            artifacts = [store(svc, video, r, ffmpeg_by, beat) for r in result.renditions]
    except ObjectMissing:
        raise PipelineError(Reason.OBJECT_MISSING, "the uploaded file is no longer in storage") from None
    analysis = {**result.analysis.model_dump(mode="json"), "made_by": ffmpeg_by}
    beat.check()
    return svc.db.complete_process(job.id, job.claim, info, artifacts, analysis)


def accept(svc: Services[ProcessSettings], job_id: UUID) -> Accepted:
    """The job's process step, claimed under its lease; `finish` does the work."""
    return accept_step(svc, job_id, JobStep.PROCESS, lambda job, beat: process_job(svc, job, beat))


def accept_event(svc: Services[ProcessSettings], event: SignedEvent) -> Accepted:
    return accept(svc, parse_job_event(event.body).id)
