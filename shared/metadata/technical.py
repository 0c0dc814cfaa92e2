"""Technical metadata: ffprobe's JSON turned into a typed, documented shape."""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel

from shared.media.models import MadeBy
from shared.media.probe import audio_streams, video_streams

HDR_TRANSFERS = {"smpte2084", "arib-std-b67"}  # PQ and HLG


class VideoStreamInfo(BaseModel):
    kind: Literal["video"] = "video"
    index: int
    codec: str
    codec_long_name: str | None = None
    profile: str | None = None
    width: int
    height: int
    display_width: int  # as shown: rotation and sample aspect ratio applied
    display_height: int
    sample_aspect_ratio: str | None = None
    rotation: int = 0  # clockwise degrees a player turns the picture: 0, 90, 180 or 270
    fps: float | None = None
    variable_frame_rate: bool = False
    pixel_format: str | None = None
    bit_depth: int | None = None
    color_space: str | None = None
    color_transfer: str | None = None
    color_primaries: str | None = None
    hdr: bool = False
    bit_rate: int | None = None
    frames: int | None = None
    duration_seconds: float | None = None
    language: str | None = None


class AudioStreamInfo(BaseModel):
    kind: Literal["audio"] = "audio"
    index: int
    codec: str
    codec_long_name: str | None = None
    profile: str | None = None
    channels: int | None = None
    channel_layout: str | None = None
    sample_rate: int | None = None
    bit_rate: int | None = None
    duration_seconds: float | None = None
    language: str | None = None


class OtherStreamInfo(BaseModel):
    kind: Literal["other"] = "other"
    index: int
    codec_type: str | None = None
    codec: str | None = None
    language: str | None = None


StreamInfo = VideoStreamInfo | AudioStreamInfo | OtherStreamInfo


class Technical(BaseModel):
    made_by: MadeBy
    container: str  # ffprobe's format_name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    container_long_name: str | None = None
    duration_seconds: float | None = None
    size_bytes: int | None = None
    bit_rate: int | None = None
    streams: list[StreamInfo]

    @property
    def video(self) -> VideoStreamInfo | None:
        return next((s for s in self.streams if isinstance(s, VideoStreamInfo)), None)

    @property
    def audio(self) -> AudioStreamInfo | None:
        return next((s for s in self.streams if isinstance(s, AudioStreamInfo)), None)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if result == result and result not in (float("inf"), float("-inf")) else None


def _rate(value: Any) -> float | None:
    """'30000/1001' → 29.97; '0/0' → None."""
    try:
        frac = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return None
    return round(float(frac), 3) if frac > 0 else None


def rotation_of(stream: dict[str, Any]) -> int:
    """Clockwise display rotation from the display matrix (or the legacy `rotate` tag)."""
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            # ffprobe reports the matrix angle counter-clockwise: -90 means turn 90° clockwise.
            return int(-round(float(side["rotation"]))) % 360
    tag = _int((stream.get("tags") or {}).get("rotate"))
    return tag % 360 if tag is not None else 0


def sample_aspect(stream: dict[str, Any]) -> Fraction:
    raw = str(stream.get("sample_aspect_ratio") or "1:1").replace(":", "/")
    try:
        sar = Fraction(raw)
    except (ValueError, ZeroDivisionError):
        return Fraction(1)
    return sar if sar > 0 else Fraction(1)


def display_size(width: int, height: int, sar: Fraction, rotation: int) -> tuple[int, int]:
    shown_w = max(1, round(width * sar))
    return (height, shown_w) if rotation in (90, 270) else (shown_w, height)


def _language(stream: dict[str, Any]) -> str | None:
    lang = (stream.get("tags") or {}).get("language")
    return None if lang in (None, "", "und") else str(lang)


def _video(stream: dict[str, Any]) -> VideoStreamInfo:
    width, height = _int(stream.get("width")) or 0, _int(stream.get("height")) or 0
    rotation = rotation_of(stream)
    shown_w, shown_h = display_size(width, height, sample_aspect(stream), rotation)
    avg, real = _rate(stream.get("avg_frame_rate")), _rate(stream.get("r_frame_rate"))
    transfer = stream.get("color_transfer")
    return VideoStreamInfo(
        index=int(stream["index"]),
        codec=str(stream.get("codec_name") or "unknown"),
        codec_long_name=stream.get("codec_long_name"),
        profile=stream.get("profile"),
        width=width,
        height=height,
        display_width=shown_w,
        display_height=shown_h,
        sample_aspect_ratio=stream.get("sample_aspect_ratio"),
        rotation=rotation,
        fps=avg or real,
        variable_frame_rate=bool(avg and real and abs(avg - real) > 0.01),
        pixel_format=stream.get("pix_fmt"),
        bit_depth=_int(stream.get("bits_per_raw_sample")),
        color_space=stream.get("color_space"),
        color_transfer=transfer,
        color_primaries=stream.get("color_primaries"),
        hdr=transfer in HDR_TRANSFERS,
        bit_rate=_int(stream.get("bit_rate")),
        frames=_int(stream.get("nb_frames")),
        duration_seconds=_float(stream.get("duration")),
        language=_language(stream),
    )


def _audio(stream: dict[str, Any]) -> AudioStreamInfo:
    return AudioStreamInfo(
        index=int(stream["index"]),
        codec=str(stream.get("codec_name") or "unknown"),
        codec_long_name=stream.get("codec_long_name"),
        profile=stream.get("profile"),
        channels=_int(stream.get("channels")),
        channel_layout=stream.get("channel_layout"),
        sample_rate=_int(stream.get("sample_rate")),
        bit_rate=_int(stream.get("bit_rate")),
        duration_seconds=_float(stream.get("duration")),
        language=_language(stream),
    )


def technical_from_probe(info: dict[str, Any], made_by: MadeBy) -> Technical:
    videos = {id(s) for s in video_streams(info)}
    audios = {id(s) for s in audio_streams(info)}
    streams: list[StreamInfo] = []
    for s in info.get("streams", []):
        if id(s) in videos:
            streams.append(_video(s))
        elif id(s) in audios:
            streams.append(_audio(s))
        else:
            streams.append(
                OtherStreamInfo(
                    index=int(s.get("index", len(streams))),
                    codec_type=s.get("codec_type"),
                    codec=s.get("codec_name"),
                    language=_language(s),
                )
            )
    fmt = info.get("format") or {}
    return Technical(
        made_by=made_by,
        container=str(fmt.get("format_name") or "unknown"),
        container_long_name=fmt.get("format_long_name"),
        duration_seconds=_float(fmt.get("duration")),
        size_bytes=_int(fmt.get("size")),
        bit_rate=_int(fmt.get("bit_rate")),
        streams=streams,
    )
