"""The versioned metadata document of a video.

Version 2 added thumbnails, storyboard, loudness, black and silent segments, scenes, the poster's
choice and HLS to version 1; version 3 added what the video says: transcript, captions, chapters,
keywords and tags, and title and description suggestions; version 4 says which language the
transcript is in as detected (ISO 639-1, none when nothing was heard) and how sure the engine was."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from shared.content import captions as cc
from shared.content import chapters as ch
from shared.content import keywords as kw
from shared.content.chapters import Chapter
from shared.content.described import Content
from shared.content.keywords import Keyword
from shared.content.suggestions import Suggestions
from shared.content.transcript import Utterance
from shared.media.models import Loudness, MadeBy, MediaAnalysis, PosterChoice, SceneCut, Segment, StoryboardGrid
from shared.metadata.technical import Technical
from shared.models import Artifact, Video

SCHEMA_VERSION: Literal[5] = 5


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


class ThumbnailRef(BaseModel):
    time: float
    path: str
    kind: Literal["interval", "scene"]


class Thumbnails(BaseModel):
    bucket: str
    interval_seconds: float
    width: int
    height: int
    items: list[ThumbnailRef]
    manifest: ArtifactRef
    made_by: MadeBy


class Storyboard(StoryboardGrid):
    vtt: ArtifactRef  # WebVTT, one cue per tile: `sprite_001.jpg#xywh=x,y,w,h`
    sprites: list[str]  # paths in the vtt's bucket
    made_by: MadeBy


class LoudnessPart(Loudness):
    standard: Literal["EBU R128"] = "EBU R128"
    made_by: MadeBy


class Segments(BaseModel):
    detector: str  # the ffmpeg filter and its settings
    segments: list[Segment]
    made_by: MadeBy


class Scenes(BaseModel):
    threshold: float  # scdet's score (0-100) that starts a scene
    cuts: list[SceneCut]
    frames_scored: int
    scores: ArtifactRef | None  # CSV of every frame's score
    made_by: MadeBy


class Hls(BaseModel):
    master: ArtifactRef
    variants: int
    made_by: MadeBy | None = None


class Playback(BaseModel):
    """Where a player starts: `hls`, the video's one HLS address (the master playlist over every
    HLS rendition, a player picking by bandwidth; or the only HLS rendition there is), and the
    renditions it offers."""

    hls: ArtifactRef
    variants: int
    source_hls: ArtifactRef | None = None  # the upload's own packets, remuxed (web-ready input)
    proxy_hls: ArtifactRef | None = None  # the proxy's one encode, as HLS


class TranscriptPart(BaseModel):
    language: str | None  # ISO 639-1, as detected; null when nothing was heard
    language_probability: float | None  # the engine's confidence in the language, 0-1
    speech: bool
    no_speech_reason: str | None = None
    text: str
    word_count: int
    mean_confidence: float | None  # the engine's, 0-1
    segments: list[Utterance]  # runs of words between pauses, with times
    words: ArtifactRef | None  # JSON of every word with its times and confidence
    made_by: MadeBy


class CaptionRulesPart(BaseModel):
    max_line_chars: int
    max_lines: int
    min_seconds: float
    max_seconds: float


class Captions(BaseModel):
    vtt: ArtifactRef
    srt: ArtifactRef
    cues: int
    rules: CaptionRulesPart
    made_by: MadeBy


class Chapters(BaseModel):
    min_seconds: float  # the shortest a chapter may be (VIDPIPE_CHAPTER_MIN_SECONDS)
    items: list[Chapter]
    youtube: str  # "0:00 Label" lines for a video description
    youtube_ready: bool  # first at 0:00, at least three, each at least 10 s
    made_by: MadeBy


class Keywords(BaseModel):
    items: list[Keyword]  # best first
    tags: list[str]
    made_by: MadeBy


class MetadataDocument(BaseModel):
    schema_version: Literal[5] = SCHEMA_VERSION
    video_id: UUID
    job_id: UUID
    generated_at: datetime
    source: Source
    technical: Technical
    poster: ArtifactRef | None = None
    poster_choice: PosterChoice | None = None
    proxy: ArtifactRef | None = None
    audio: ArtifactRef | None = None
    thumbnails: Thumbnails | None = None
    storyboard: Storyboard | None = None
    loudness: LoudnessPart | None = None
    black_segments: Segments | None = None
    silent_segments: Segments | None = None
    scenes: Scenes | None = None
    hls: Hls | None = None
    playback: Playback | None = None
    transcript: TranscriptPart | None = None
    captions: Captions | None = None
    chapters: Chapters | None = None
    keywords: Keywords | None = None
    suggestions: Suggestions | None = None
    # Why a part is missing, by part name: a part is either present or explained here.
    absent: dict[str, str] = Field(default_factory=dict)


SCHEMA_FILE = Path(__file__).with_name("metadata_document.schema.json")


def json_schema() -> dict[str, Any]:
    """The document's JSON Schema, as consumers validate it: the serialized shape, computed fields too.
    Kept in the repo as SCHEMA_FILE (`vidpipe schema` rewrites it; a test keeps it current)."""
    schema = MetadataDocument.model_json_schema(mode="serialization")
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://vidpipe.dev/schemas/metadata-document.v{SCHEMA_VERSION}.json",
        **schema,
    }
    return schema


BLACK_DETECTOR = "blackdetect d=0.5 pix_th=0.10"
SILENCE_DETECTOR = "silencedetect n=-50dB d=0.5"


def artifact_ref(artifact: Artifact) -> ArtifactRef:
    d: dict[str, Any] = artifact.details
    made_by = MadeBy.model_validate(d["made_by"]) if isinstance(d.get("made_by"), dict) else None
    return ArtifactRef(
        bucket=artifact.bucket,
        path=artifact.path,
        bytes=artifact.bytes,
        content_type=artifact.content_type,
        width=d.get("width"),
        height=d.get("height"),
        duration_seconds=d.get("duration_seconds"),
        made_by=made_by,
    )


def build_document(
    video: Video,
    job_id: UUID,
    technical: Technical,
    artifacts: list[Artifact],
    analysis: MediaAnalysis | None,
    analysis_by: MadeBy | None,
    content: Content | None,
    now: datetime,
) -> MetadataDocument:
    refs = {a.kind: artifact_ref(a) for a in artifacts}
    folder = video.derived_folder
    doc = MetadataDocument(
        video_id=video.id,
        job_id=job_id,
        generated_at=now,
        source=Source(
            bucket=video.bucket, path=video.path, size_bytes=video.size_bytes, content_type=video.content_type
        ),
        technical=technical,
        poster=refs.get("poster"),
        proxy=refs.get("proxy"),
        audio=refs.get("audio"),
    )
    if analysis is not None and analysis_by is not None:
        doc.poster_choice = analysis.poster
        if "thumbnails" in refs:
            manifest = refs["thumbnails"]
            doc.thumbnails = Thumbnails(
                bucket=manifest.bucket,
                interval_seconds=analysis.thumbnail_interval_seconds,
                width=manifest.width or 0,
                height=manifest.height or 0,
                manifest=manifest,
                made_by=analysis_by,
                items=[ThumbnailRef(time=t.time, path=f"{folder}/{t.key}", kind=t.kind) for t in analysis.thumbnails],
            )
        if analysis.storyboard is not None and "storyboard" in refs:
            sb = analysis.storyboard
            doc.storyboard = Storyboard(
                **sb.model_dump(include=set(StoryboardGrid.model_fields)),
                vtt=refs["storyboard"],
                sprites=[f"{folder}/{s}" for s in sb.sprites],
                made_by=analysis_by,
            )
        if analysis.loudness is not None:
            doc.loudness = LoudnessPart(**analysis.loudness.model_dump(), made_by=analysis_by)
        doc.black_segments = Segments(detector=BLACK_DETECTOR, made_by=analysis_by, segments=analysis.black_segments)
        if analysis.silent_segments is not None:
            doc.silent_segments = Segments(
                detector=SILENCE_DETECTOR, made_by=analysis_by, segments=analysis.silent_segments
            )
        doc.scenes = Scenes(
            threshold=analysis.scene_threshold,
            cuts=analysis.scene_cuts,
            frames_scored=analysis.frames_scored,
            scores=refs.get("scene_scores"),
            made_by=analysis_by,
        )
    if "hls" in refs:
        hls = next(a for a in artifacts if a.kind == "hls")
        doc.hls = Hls(master=refs["hls"], variants=int(hls.details.get("variants", 0)), made_by=refs["hls"].made_by)
    doc.playback = playback(artifacts, refs)
    if content is not None:
        add_content(doc, content, refs)
    doc.absent = absent_parts(doc, technical, analysis, content)
    return doc


def add_content(doc: MetadataDocument, content: Content, refs: dict[str, ArtifactRef]) -> None:
    t = content.transcript
    if t is not None:
        doc.transcript = TranscriptPart(
            language=t.language,
            language_probability=t.language_probability,
            speech=t.speech,
            no_speech_reason=t.no_speech_reason,
            text=t.text,
            word_count=len(t.words),
            segments=t.utterances(),
            words=refs.get("transcript"),
            made_by=t.made_by,
            mean_confidence=round(sum(w.confidence for w in t.words) / len(t.words), 3) if t.words else None,
        )
    if "captions_vtt" in refs and "captions_srt" in refs and t is not None:
        rules = cc.CaptionRules()
        doc.captions = Captions(
            vtt=refs["captions_vtt"],
            srt=refs["captions_srt"],
            cues=len(content.captions),
            rules=CaptionRulesPart(**{f: getattr(rules, f) for f in CaptionRulesPart.model_fields}),
            made_by=cc.made_by(),
        )
    if content.chapters:
        doc.chapters = Chapters(
            min_seconds=content.chapter_min_seconds,
            items=content.chapters,
            youtube=ch.youtube_list(content.chapters),
            youtube_ready=ch.youtube_ready(content.chapters),
            made_by=ch.made_by(),
        )
    if content.keywords:
        doc.keywords = Keywords(items=content.keywords, tags=kw.tags(content.keywords), made_by=kw.made_by())
    doc.suggestions = content.suggestions


def playback(artifacts: list[Artifact], refs: dict[str, ArtifactRef]) -> Playback | None:
    """The master playlist (process's `playback` artifact), else the one HLS rendition made."""
    master = next((a for a in artifacts if a.kind == "playback"), None)
    only = next((kind for kind in ("proxy_hls", "source_hls", "hls") if kind in refs), None)
    if master is None and only is None:
        return None
    return Playback(
        hls=refs["playback"] if master is not None else refs[str(only)],
        variants=int(master.details.get("variants", 0)) if master is not None else 1,
        source_hls=refs.get("source_hls"),
        proxy_hls=refs.get("proxy_hls"),
    )


def absent_parts(
    doc: MetadataDocument, technical: Technical, analysis: MediaAnalysis | None, content: Content | None
) -> dict[str, str]:
    no_audio = technical.audio is None
    reasons = {
        "audio": "the source has no audio stream" if no_audio else "the process step produced no audio track",
        "loudness": "the source has no audio stream" if no_audio else "ebur128 measured no loudness",
        "silent_segments": "the source has no audio stream" if no_audio else "silence was not measured",
        "hls": "no HLS renditions were made (VIDPIPE_HLS_ENABLED turns them on)",
        "playback": "no HLS rendition was made",
        "chapters": "the video has no duration",
    }
    known = content.absent if content else {}
    absent: dict[str, str] = {}
    for part in (
        "poster",
        "poster_choice",
        "proxy",
        "audio",
        "thumbnails",
        "storyboard",
        "loudness",
        "black_segments",
        "silent_segments",
        "scenes",
        "hls",
        "playback",
        "transcript",
        "captions",
        "chapters",
        "keywords",
        "suggestions",
    ):
        if getattr(doc, part) is None:
            absent[part] = (
                known.get(part)
                or (reasons.get(part) if analysis is not None or part in ("audio", "hls") else None)
                or "the process step recorded no such result"
            )
    return absent
