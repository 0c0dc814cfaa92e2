"""generate_metadata: build the versioned metadata document from what process recorded."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from shared.config import GenerateMetadataSettings
from shared.domain import JobStep, ObjectMissing, PipelineError, Reason
from shared.events import SignedEvent, parse_job_event
from shared.media.models import MadeBy, MediaAnalysis
from shared.metadata.document import SCHEMA_VERSION, build_document
from shared.metadata.technical import technical_from_probe
from shared.models import Job
from shared.ports import Services
from shared.usecases.artifacts import store
from shared.usecases.describe_content import describe_content
from shared.usecases.heartbeat import Heartbeat
from shared.usecases.leased_step import accept_step
from shared.usecases.outcome import Accepted


def describe_job(svc: Services[GenerateMetadataSettings], job: Job, beat: Heartbeat) -> Job:
    video = svc.db.get_video(job.video_id)
    if video.probe is None:
        raise PipelineError(Reason.INTERNAL_ERROR, "the process step recorded no probe", retryable=False)
    made_by = MadeBy.model_validate(video.probe.get("made_by") or {"tool": "ffprobe", "version": "unknown"})
    technical = technical_from_probe(video.probe, made_by)
    analysis, analysis_by = None, None
    if video.analysis is not None:
        analysis = MediaAnalysis.model_validate(video.analysis)
        analysis_by = MadeBy.model_validate(video.analysis.get("made_by") or {"tool": "ffmpeg", "version": "unknown"})
    artifacts = svc.db.list_artifacts(video.id)
    with tempfile.TemporaryDirectory(prefix="vidpipe-describe-") as tmp:
        try:
            content = describe_content(svc, job, beat, video, technical, analysis, artifacts, Path(tmp))
        except ObjectMissing:
            raise PipelineError(Reason.OBJECT_MISSING, "the audio track is no longer in storage") from None
        stored = [store(svc, video, r, by.model_dump(), beat) for r, by in content.files]
    document = build_document(
        video, job.id, technical, [*artifacts, *stored], analysis, analysis_by, content, datetime.now(tz=UTC)
    )
    return svc.db.complete_generate_metadata(
        job.id, job.claim, SCHEMA_VERSION, document.model_dump(mode="json"), stored
    )


def accept_event(svc: Services[GenerateMetadataSettings], event: SignedEvent) -> Accepted:
    job_id = parse_job_event(event.body).id
    return accept_step(svc, job_id, JobStep.GENERATE_METADATA, lambda job, beat: describe_job(svc, job, beat))
