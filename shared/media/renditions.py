"""Every artifact of the process step from ONE ffmpeg run: the source is read and decoded once
and the decoded streams are split (split/asplit) into the poster, the proxy and the WAV."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ffmpeg

from shared.domain import PipelineError, Reason
from shared.media.ffmpeg_tools import run_tool
from shared.media.probe import probe
from shared.metadata.technical import Technical


@dataclass(frozen=True)
class RenditionOptions:
    proxy_max_height: int = 720       # the proxy's short side, so portrait video stays ≤720p too
    poster_at_seconds: float = 1.0
    proxy_crf: int = 23
    proxy_preset: str = "veryfast"
    audio_bitrate: str = "128k"


@dataclass(frozen=True)
class Rendition:
    kind: str                 # poster | proxy | audio
    file: Path
    content_type: str
    details: dict[str, Any] = field(default_factory=dict)


def even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def proxy_size(display_w: int, display_h: int, max_short_side: int) -> tuple[int, int]:
    """Scale so the short side is at most max_short_side, both sides even, aspect kept."""
    short = min(display_w, display_h)
    scale = min(1.0, max_short_side / short) if short > 0 else 1.0
    return even(display_w * scale), even(display_h * scale)


def poster_time(duration: float | None, preferred: float) -> float:
    """The preferred second, pulled earlier for clips too short to reach it."""
    if not duration or duration <= 0:
        return 0.0
    return max(0.0, min(preferred, duration / 3))


def build_command(src: Path, out_dir: Path, tech: Technical, options: RenditionOptions) -> list[str]:
    video = tech.video
    if video is None:
        raise PipelineError(Reason.NOT_A_VIDEO, "the file has no video stream")
    width, height = proxy_size(video.display_width, video.display_height, options.proxy_max_height)
    source = ffmpeg.input(str(src))  # ffmpeg auto-rotates on decode, so frames arrive upright
    frames = source[str(video.index)].filter_multi_output("split", 2)
    proxy_video = frames[0].filter("scale", width, height).filter("setsar", 1)
    poster_video = (frames[1].trim(start=poster_time(tech.duration_seconds, options.poster_at_seconds))
                    .setpts("PTS-STARTPTS").filter("scale", width, height).filter("setsar", 1))

    outputs = [ffmpeg.output(poster_video, str(out_dir / "poster.jpg"), **{"frames:v": 1, "q:v": 3})]
    proxy_args: dict[str, Any] = {"vcodec": "libx264", "preset": options.proxy_preset,
                                  "crf": options.proxy_crf, "pix_fmt": "yuv420p",
                                  "movflags": "+faststart", "map_metadata": -1}
    audio = tech.audio
    if audio is None:
        outputs.append(ffmpeg.output(proxy_video, str(out_dir / "proxy.mp4"), **proxy_args))
    else:
        sound = source[str(audio.index)].filter_multi_output("asplit", 2)
        outputs.append(ffmpeg.output(proxy_video, sound[0], str(out_dir / "proxy.mp4"), acodec="aac",
                                     ac=2, **{"b:a": options.audio_bitrate}, **proxy_args))
        outputs.append(ffmpeg.output(sound[1], str(out_dir / "audio.wav"), acodec="pcm_s16le",
                                     ac=1, ar=16000))
    graph = ffmpeg.merge_outputs(*outputs).global_args("-hide_banner", "-nostdin", "-v", "error")
    args: list[str] = graph.overwrite_output().compile(cmd="ffmpeg")
    return args


def render(src: Path, out_dir: Path, tech: Technical, options: RenditionOptions) -> list[Rendition]:
    args = build_command(src, out_dir, tech, options)
    timeout = max(300.0, 20 * (tech.duration_seconds or 0))
    run_tool(args, Reason.MEDIA_ERROR, "transcoding", timeout=timeout)
    poster = out_dir / "poster.jpg"
    if not poster.exists():
        raise PipelineError(Reason.MEDIA_ERROR, "no video frame could be decoded for the poster")
    return [_described(kind, out_dir / name, ctype) for kind, name, ctype in (
        ("poster", "poster.jpg", "image/jpeg"),
        ("proxy", "proxy.mp4", "video/mp4"),
        ("audio", "audio.wav", "audio/wav"),
    ) if (out_dir / name).exists()]


def _described(kind: str, path: Path, content_type: str) -> Rendition:
    """Read the output's own header (no decode) for its dimensions and duration."""
    info = probe(path)
    details: dict[str, Any] = {}
    for stream in info.get("streams", []):
        if stream.get("codec_type") == "video" and "width" not in details:
            details.update(width=stream.get("width"), height=stream.get("height"),
                           codec=stream.get("codec_name"))
        elif stream.get("codec_type") == "audio" and "audio_codec" not in details:
            details.update(audio_codec=stream.get("codec_name"), channels=stream.get("channels"),
                           sample_rate=int(stream.get("sample_rate") or 0) or None)
    duration = (info.get("format") or {}).get("duration")
    if duration and kind != "poster":
        details["duration_seconds"] = round(float(duration), 3)
    return Rendition(kind=kind, file=path, content_type=content_type, details=details)
