"""What the video says: transcript, captions, chapters, keywords and title and description
suggestions, from the audio track and the measurements the process step recorded."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from shared.config import GenerateMetadataSettings
from shared.content import captions as cc
from shared.content.chapters import ChapterRules, chapters
from shared.content.described import Content
from shared.content.keywords import keywords
from shared.content.suggestions import VideoFacts, suggest
from shared.content.transcript import Transcript, TranscriptionError, running_text, transcribe
from shared.logs import get_logger
from shared.media.models import MadeBy, MediaAnalysis, OutputFile, Rendition
from shared.media.source_file import open_source
from shared.metadata.technical import Technical
from shared.models import Artifact, Job, Video
from shared.ports import Services, given
from shared.usecases.heartbeat import Heartbeat
from shared.usecases.progress import Progress

log = get_logger("describe")


@contextmanager
def timed(timings: dict[str, int], part: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    timings[part] = int((time.monotonic() - started) * 1000)


def listen(
    svc: Services[GenerateMetadataSettings],
    job: Job,
    beat: Heartbeat,
    technical: Technical,
    analysis: MediaAnalysis | None,
    audio: Artifact | None,
) -> tuple[Transcript | None, str | None]:
    """The transcript, or None and why there is none."""
    if technical.audio is None:
        return None, "the source has no audio stream"
    transcriber = svc.transcriber()  # the model loads on first use, not for silent videos
    if transcriber is None:
        return None, "transcription is off (VIDPIPE_TRANSCRIBER=none)"
    if audio is None or analysis is None:
        return None, "the process step produced no audio track"
    with given(svc.storage, "storage").reading(audio.bucket, audio.path) as stored, open_source(stored) as wav:
        heard = Progress(svc, job).stage("transcribing", technical.duration_seconds or 0.0)

        def on_chunk(seconds: float) -> None:
            beat.check()  # stop between chunks once the lease is gone
            heard(seconds)

        try:
            return transcribe(
                transcriber,
                wav,
                analysis.silent_segments or [],
                technical.duration_seconds or 0.0,
                min_confidence=svc.settings.transcript_min_confidence,
                on_chunk=on_chunk,
            ), None
        except TranscriptionError as exc:  # a hosted engine failed: described without a transcript
            log.warning("transcription failed: %s", exc)
            return None, f"the transcription failed: {exc.public}"


def describe_content(
    svc: Services[GenerateMetadataSettings],
    job: Job,
    beat: Heartbeat,
    video: Video,
    technical: Technical,
    analysis: MediaAnalysis | None,
    artifacts: list[Artifact],
    workdir: Path,
) -> Content:
    timings: dict[str, int] = {}
    absent: dict[str, str] = {}
    duration = technical.duration_seconds or 0.0
    with timed(timings, "transcript"):
        transcript, why = listen(
            svc, job, beat, technical, analysis, next((a for a in artifacts if a.kind == "audio"), None)
        )
    if why:
        absent["transcript"] = why
    words = transcript.words if transcript else []
    no_words = why or (transcript.no_speech_reason if transcript else None) or "no speech"
    with timed(timings, "captions"):
        cues = cc.cues(words)
    with timed(timings, "keywords"):
        utterances = transcript.utterances() if transcript else []
        language = (transcript.language if transcript and transcript.speech else None) or "en"
        ranked = keywords(running_text(utterances), limit=svc.settings.keywords_max, language=language)
    with timed(timings, "chapters"):
        rules = ChapterRules(min_seconds=svc.settings.chapter_min_seconds, max_seconds=svc.settings.chapter_max_seconds)
        parts = chapters(duration, analysis.scene_cuts if analysis else [], words, rules, language)
    with timed(timings, "suggestions"):
        v = technical.video
        facts = VideoFacts(
            file_name=PurePosixPath(video.path).name,
            duration_seconds=duration,
            width=v.display_width if v else None,
            height=v.display_height if v else None,
            scenes=len(analysis.scene_cuts) + 1 if analysis else 1,
            language=language,
            utterances=utterances,
            keywords=[k.text for k in ranked],
            chapters=[c.label for c in parts] if len(parts) > 1 else [],
        )
        suggestions = suggest(facts, svc.text_generator)
    files: list[tuple[Rendition, MadeBy]] = []
    if transcript is not None and transcript.speech:
        files = write_files(workdir, transcript, cues)
    else:
        absent["captions"] = absent["keywords"] = no_words
    log.info("content described", extra={"job_id": str(job.id), "timings_ms": timings})
    return Content(
        transcript=transcript,
        captions=cues,
        chapters=parts,
        chapter_min_seconds=rules.min_seconds,
        keywords=ranked,
        suggestions=suggestions,
        files=files,
        absent=absent,
    )


def write_files(workdir: Path, transcript: Transcript, cues: list[cc.Cue]) -> list[tuple[Rendition, MadeBy]]:
    files = {
        "transcript.json": json.dumps(
            {"language": transcript.language, "words": [w.model_dump() for w in transcript.words]}
        ),
        "captions.vtt": cc.webvtt(cues),
        "captions.srt": cc.srt(cues),
    }
    for name, text in files.items():
        (workdir / name).write_text(text, encoding="utf-8")
    details = {"cues": len(cues), "language": transcript.language}
    return [
        (
            Rendition(
                "transcript",
                OutputFile(workdir / "transcript.json", "transcript.json", "application/json"),
                details={"words": len(transcript.words), "language": transcript.language},
            ),
            transcript.made_by,
        ),
        (
            Rendition(
                "captions_vtt", OutputFile(workdir / "captions.vtt", "captions.vtt", "text/vtt"), details=details
            ),
            cc.made_by(),
        ),
        (
            Rendition(
                "captions_srt",
                OutputFile(workdir / "captions.srt", "captions.srt", "application/x-subrip"),
                details=details,
            ),
            cc.made_by(),
        ),
    ]
