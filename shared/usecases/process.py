"""process: probe the source, make every artifact and measurement in one ffmpeg run, store the
files in the derived bucket and record artifacts, probe and analysis in one transaction. The
source is read where it is stored (by ranges from a signed URL), never copied to the instance,
whose disk on Cloud Run is memory."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from uuid import UUID

from shared.config import ProcessSettings
from shared.domain import JobStep, ObjectMissing, PipelineError, Reason
from shared.events import SignedEvent, parse_job_event
from shared.logs import get_logger
from shared.media.confine import DecodeLimits, Source
from shared.media.ffmpeg_tools import tool_version
from shared.media.master import Variant, ladder_variants, master_rendition, measured_variant
from shared.media.models import MadeBy, Rendition
from shared.media.renditions import render
from shared.media.web_ready import not_web_ready, remux_hls
from shared.metadata.technical import Technical, technical_from_probe
from shared.models import Job, Video
from shared.ports import Services, given
from shared.usecases.artifacts import store
from shared.usecases.heartbeat import Heartbeat
from shared.usecases.leased_step import accept_step
from shared.usecases.outcome import Accepted
from shared.usecases.progress import Progress
from shared.usecases.shipping import shipping

log = get_logger("process")


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
            progress, duration = Progress(svc, job), technical.duration_seconds or 0
            source = play_first(svc, job, video, src, Path(tmp), technical, limits, beat, progress)
            encoding = progress.segments("encoding", duration, svc.settings.hls_segment_seconds)
            with shipping(svc, video, Path(tmp), ("proxy_hls", "hls"), beat, counted=encoding) as shipped:
                options = svc.settings.rendition_options()
                result = render(src, Path(tmp), technical, options, limits, stop=beat.lost, hold=shipped.full)
            progress.end("encoding")
            made = [*result.renditions, *playback(Path(tmp), technical, source, result.renditions, shipped.stored)]
            artifacts = [store(svc, video, r, ffmpeg_by, beat, shipped.stored) for r in made]
    except ObjectMissing:
        raise PipelineError(Reason.OBJECT_MISSING, "the uploaded file is no longer in storage") from None
    analysis = {**result.analysis.model_dump(mode="json"), "made_by": ffmpeg_by}
    beat.check()
    return svc.db.complete_process(job.id, job.claim, info, artifacts, analysis)


def play_first(
    svc: Services[ProcessSettings],
    job: Job,
    video: Video,
    src: Source,
    work: Path,
    technical: Technical,
    limits: DecodeLimits,
    beat: Heartbeat,
    progress: Progress,
) -> Variant | None:
    """A web-ready source plays before its encode starts: packaged as HLS without decoding,
    stored, and said playable; it is then a variant of the master playlist. Any other source
    plays once its renditions are stored."""
    settings = svc.settings
    why_not = not_web_ready(technical)
    if why_not:
        log.info("not web-ready: %s", "; ".join(why_not), extra={"job_id": str(job.id), "outcome": "encode_first"})
        return None
    packaging = progress.segments("packaging", technical.duration_seconds or 0, settings.hls_segment_seconds)
    with shipping(svc, video, work, ("play",), beat, counted=packaging) as shipped:
        remuxed = remux_hls(
            src, work, technical, settings.hls_segment_seconds, limits, stop=beat.lost, hold=shipped.full
        )
    progress.end("packaging")
    if remuxed is None:
        log.info("keyframes too far apart to play the source as it is", extra={"job_id": str(job.id)})
        return None
    by = {"tool": "ffmpeg", "version": tool_version("ffmpeg")}
    svc.db.mark_playable(job.id, job.claim, [store(svc, video, remuxed, by, beat, shipped.stored)])
    fps = technical.video.fps if technical.video else None
    variant = measured_variant(work, "play", shipped.stored, remuxed.details["width"], remuxed.details["height"], fps)
    shutil.rmtree(work / "play", ignore_errors=True)  # stored: the scratch space is the encode's now
    return variant


def playback(
    work: Path, technical: Technical, source: Variant | None, renditions: list[Rendition], stored: dict[str, int]
) -> list[Rendition]:
    """The master playlist over the source's HLS, the proxy's and the ladder's rungs (see
    shared/media/master.py), when there are two of them or more."""
    proxy = next(r for r in renditions if r.kind == "proxy")
    fps = technical.video.fps if technical.video else None
    encoded = measured_variant(work, "proxy_hls", stored, proxy.details["width"], proxy.details["height"], fps)
    variants = [v for v in (source, encoded) if v is not None] + ladder_variants(work)
    master = master_rendition(work, variants)
    return [master] if master is not None else []


def accept(svc: Services[ProcessSettings], job_id: UUID) -> Accepted:
    """The job's process step, claimed under its lease; `finish` does the work."""
    return accept_step(svc, job_id, JobStep.PROCESS, lambda job, beat: process_job(svc, job, beat))


def accept_event(svc: Services[ProcessSettings], event: SignedEvent) -> Accepted:
    return accept(svc, parse_job_event(event.body).id)
