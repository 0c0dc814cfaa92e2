"""Every decision the process step makes before its ffmpeg run: the sizes and intervals of each
output, the HLS ladder, where each file goes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from shared.domain import PipelineError, Reason
from shared.media.storyboard import StoryboardLayout
from shared.metadata.technical import Technical


@dataclass(frozen=True)
class RenditionOptions:
    """What the one ffmpeg run makes. Built from the settings alone
    (RenditionSettings.rendition_options), where each value is explained and has its default."""

    proxy_max_height: int  # the proxy's short side, so portrait video stays within it too
    proxy_crf: int
    proxy_preset: str
    audio_bitrate: str
    thumbnail_interval_seconds: float | None  # None: a tenth of the video, 1 to 60 s
    thumbnail_format: Literal["jpg", "webp"]
    storyboard_tile_width: int
    storyboard_columns: int
    storyboard_rows: int
    storyboard_interval_seconds: float | None  # None: one sprite sheet of tiles, ≥ 1 s each
    scene_threshold: float
    scene_min_gap_seconds: float
    max_scene_thumbnails: int
    analysis_width: int
    hls: bool
    hls_heights: tuple[int, ...]
    hls_segment_seconds: int


def even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def proxy_size(display_w: int, display_h: int, max_short_side: int) -> tuple[int, int]:
    """Scale so the short side is at most max_short_side, both sides even, aspect kept."""
    short = min(display_w, display_h)
    scale = min(1.0, max_short_side / short) if short > 0 else 1.0
    return even(display_w * scale), even(display_h * scale)


def width_size(display_w: int, display_h: int, width: int) -> tuple[int, int]:
    """`width` wide (never wider than the source), height by aspect, both even."""
    width = min(width, display_w)
    return even(width), even(width * display_h / max(display_w, 1))


def thumbnail_interval(duration: float, configured: float | None) -> float:
    if configured:
        return configured
    return round(min(60.0, max(1.0, duration / 10)), 3)


def storyboard_interval(duration: float, configured: float | None, per_sprite: int) -> float:
    if configured:
        return configured
    return round(max(1.0, duration / per_sprite), 3)


@dataclass(frozen=True)
class Plan:
    """Every decision made before the run: sizes, intervals and where each output goes."""

    work: Path
    duration: float
    proxy: tuple[int, int]  # also the thumbnails' size: they are cut from the same frames
    analysis: tuple[int, int]
    thumbnail_interval: float
    storyboard: StoryboardLayout
    has_audio: bool
    options: RenditionOptions

    def path(self, name: str) -> Path:
        return self.work / name


def plan_for(work: Path, tech: Technical, options: RenditionOptions) -> Plan:
    video = tech.video
    if video is None:
        raise PipelineError(Reason.NOT_A_VIDEO, "the file has no video stream")
    dw, dh = video.display_width, video.display_height
    duration = tech.duration_seconds or 0.0
    per_sprite = options.storyboard_columns * options.storyboard_rows
    tile = width_size(dw, dh, options.storyboard_tile_width)
    return Plan(
        work=work,
        duration=duration,
        proxy=proxy_size(dw, dh, options.proxy_max_height),
        analysis=width_size(dw, dh, options.analysis_width),
        thumbnail_interval=thumbnail_interval(duration, options.thumbnail_interval_seconds),
        storyboard=StoryboardLayout(
            tile[0],
            tile[1],
            options.storyboard_columns,
            options.storyboard_rows,
            storyboard_interval(duration, options.storyboard_interval_seconds, per_sprite),
        ),
        has_audio=tech.audio is not None,
        options=options,
    )


def hls_ladder(tech: Technical, options: RenditionOptions) -> list[int]:
    """The configured heights up to the source's short side; the source's own when it is smaller."""
    assert tech.video is not None
    short = min(tech.video.display_width, tech.video.display_height)
    heights = sorted({h for h in options.hls_heights if h <= short})
    return heights or [even(short)]


def ladder_kbps(height: int) -> int:
    """Peak video bitrate of an HLS rung: 2800 kb/s at 720p, scaled by pixel count."""
    return max(300, round(2800 * (height / 720) ** 2 / 50) * 50)
