"""Playable first: a source that browsers already play is packaged as HLS without decoding.

Web-ready, as Mux's "standard input" (decided from the probe, before any work): H.264 in a
profile every browser decodes (Constrained Baseline, Baseline, Main, High), 8-bit 4:2:0 pixels,
square pixels, no rotation left to the player (a remux into MPEG-TS would drop it), at most 4096
pixels a side and 60 frames a second; AAC audio or none. Its keyframes decide the segments: the
remux cuts at the first keyframe after every `segment_seconds`, so a segment longer than
MAX_KEYFRAME_GAP_SECONDS means keyframes too far apart to start and seek promptly, and the remux
is dropped (the encoded renditions make such a video playable instead).

The remux reads the source once and writes no frame: its cost is reading the file, so a long
video plays long before its encode is done.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from shared.domain import Reason
from shared.media.collect import media_segments, playlist_rendition
from shared.media.confine import VIDEO_CONTAINERS, DecodeLimits, Source, as_source, demuxer_of, input_args
from shared.media.ffmpeg_tools import run_tool
from shared.media.models import Rendition
from shared.metadata.technical import Technical

WEB_PROFILES = ("Constrained Baseline", "Baseline", "Main", "High")
WEB_PIXEL_FORMATS = ("yuv420p", "yuvj420p")
MAX_SIDE = 4096
MAX_FPS = 60.0
MAX_KEYFRAME_GAP_SECONDS = 10.0
PLAYLIST = "play/index.m3u8"


def not_web_ready(tech: Technical) -> list[str]:
    """Why browsers cannot play the source as it is; empty when they can."""
    video, audio = tech.video, tech.audio
    if video is None:
        return ["no video stream"]
    checks = [
        (video.codec != "h264", f"the video is {video.codec}, not H.264"),
        (
            video.codec == "h264" and video.profile not in WEB_PROFILES,
            f"H.264 {video.profile or 'of an unknown profile'}, not Baseline, Main or High",
        ),
        (
            video.pixel_format not in WEB_PIXEL_FORMATS,
            f"its pixels are {video.pixel_format or 'unknown'}, not 8-bit 4:2:0",
        ),
        (video.hdr, "it is HDR"),
        (
            video.sample_aspect_ratio not in (None, "1:1", "0:1"),
            f"its pixels are not square ({video.sample_aspect_ratio})",
        ),
        (bool(video.rotation), f"the player is told to turn it {video.rotation} degrees"),
        (max(video.width, video.height) > MAX_SIDE, f"it is {video.width}x{video.height}, over {MAX_SIDE} a side"),
        (
            video.fps is not None and video.fps > MAX_FPS,
            f"it runs at {video.fps or 0:g} frames a second, over {MAX_FPS:g}",
        ),
        (audio is not None and audio.codec != "aac", f"the sound is {audio.codec if audio else ''}, not AAC"),
    ]
    return [why for failed, why in checks if failed]


def remux_hls(
    src: Path | Source,
    work: Path,
    tech: Technical,
    segment_seconds: int,
    limits: DecodeLimits,
    stop: threading.Event | None = None,
    hold: Callable[[], bool] | None = None,
) -> Rendition | None:
    """The source's own video and sound packaged as HLS in `work`, cut at its keyframes; None
    when its keyframes are too far apart (see the module's docstring)."""
    assert tech.video is not None
    folder = work / "play"
    folder.mkdir(parents=True, exist_ok=True)
    source = as_source(src)
    streams = ["-map", f"0:{tech.video.index}"] + (["-map", f"0:{tech.audio.index}"] if tech.audio else [])
    run_tool(
        [
            "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y",
            *input_args(source, tuple(VIDEO_CONTAINERS), limits, demuxer_of(tech.container)),
            "-t", f"{limits.max_seconds + 1:g}",
            *streams, "-c", "copy", "-sn", "-dn", "-map_metadata", "-1",
            "-f", "hls", "-hls_time", str(segment_seconds), "-hls_playlist_type", "vod",
            "-hls_segment_type", "mpegts", "-hls_flags", "temp_file",
            "-hls_segment_filename", str(folder / "segment_%05d.ts"),
            str(work / PLAYLIST),
        ],
        Reason.MEDIA_ERROR,
        "packaging the source as HLS",
        timeout=max(300.0, 2 * (tech.duration_seconds or 0)),
        stop=stop,
        hold=hold,
    )  # fmt: skip
    lengths = [seconds for seconds, _ in media_segments(work / PLAYLIST)]
    found = playlist_rendition("source_hls", work, "play")
    if found is None or not lengths or max(lengths) > MAX_KEYFRAME_GAP_SECONDS:
        return None
    return Rendition(
        found.kind,
        found.main,
        found.extra,
        details={
            **found.details,
            "remuxed": True,
            "longest_segment_seconds": round(max(lengths), 3),
            "duration_seconds": round(sum(lengths), 3),
            "codec": tech.video.codec,
            "width": tech.video.width,
            "height": tech.video.height,
            "audio_codec": tech.audio.codec if tech.audio else None,
        },
    )
