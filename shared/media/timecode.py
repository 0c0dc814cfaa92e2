"""Times as the text formats we write spell them: WebVTT, SRT and chapter lists."""

from __future__ import annotations


def _parts(seconds: float) -> tuple[int, int, int, int]:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return hours, minutes, secs, millis


def vtt_time(seconds: float) -> str:
    """`01:02:05.500`"""
    h, m, s, ms = _parts(seconds)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def srt_time(seconds: float) -> str:
    """`01:02:05,500`"""
    h, m, s, ms = _parts(seconds)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def clock(seconds: float, with_hours: bool = False) -> str:
    """`2:05`, or `1:02:05` when the video runs an hour or more (YouTube's chapter style)."""
    h, m, s, _ = _parts(int(seconds))
    return f"{h}:{m:02d}:{s:02d}" if with_hours or h else f"{m}:{s:02d}"
