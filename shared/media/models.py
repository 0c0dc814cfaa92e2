"""The media step's results as typed values, shared by the steps, the content work and the
metadata document: who made a part, the files of a rendition, and what the single ffmpeg run
measured."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, computed_field


class MadeBy(BaseModel):
    tool: str
    version: str


class Segment(BaseModel):
    start: float
    end: float

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration(self) -> float:
        return round(self.end - self.start, 3)


class Loudness(BaseModel):
    integrated_lufs: float | None  # EBU R128 integrated loudness
    range_lu: float | None  # loudness range (LRA)
    true_peak_dbtp: float | None  # maximum true peak over all channels


class SceneCut(BaseModel):
    time: float
    score: float  # scdet's score at the cut, 0-100


class PictureStats(BaseModel):
    """One thumbnail: brightness and contrast from signalstats, edge density from edgedetect."""

    time: float
    luma_mean: float
    luma_low: float  # 10th percentile
    luma_high: float  # 90th percentile
    edge_density: float  # mean of the edge map: high for sharp, detailed frames

    @property
    def contrast(self) -> float:
        return self.luma_high - self.luma_low


PosterRule = Literal["sharpest_of_usable", "least_flat_of_all"]


class PosterChoice(BaseModel):
    index: int  # into the interval thumbnails
    time: float
    score: float
    rule: PosterRule
    candidates: int
    rejected_black: int
    rejected_flat: int


@dataclass(frozen=True)
class OutputFile:
    local: Path
    key: str  # where it is stored, under the video's folder
    content_type: str


@dataclass(frozen=True)
class Rendition:
    kind: str  # proxy | audio | poster | thumbnails | storyboard | scene_scores | hls
    main: OutputFile  # what the artifact row points at
    extra: tuple[OutputFile, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def files(self) -> tuple[OutputFile, ...]:
        return (*self.extra, self.main)  # the main file last: it names the others


class Thumbnail(BaseModel):
    time: float
    key: str
    kind: Literal["interval", "scene"]


class StoryboardGrid(BaseModel):
    """How the storyboard's tiles are laid out and how much time each one stands for."""

    tile_width: int
    tile_height: int
    columns: int
    rows: int
    interval_seconds: float
    tiles: int


class StoryboardInfo(StoryboardGrid):
    vtt: str  # keys under the video's folder
    sprites: list[str]


class MediaAnalysis(BaseModel):
    """What the single run measured, for the metadata document."""

    loudness: Loudness | None
    black_segments: list[Segment]
    silent_segments: list[Segment] | None  # None: no audio to listen to
    scene_threshold: float
    scene_cuts: list[SceneCut]
    frames_scored: int
    thumbnail_interval_seconds: float
    thumbnails: list[Thumbnail]
    poster: PosterChoice | None
    storyboard: StoryboardInfo | None


@dataclass(frozen=True)
class RenderResult:
    renditions: list[Rendition]
    analysis: MediaAnalysis
