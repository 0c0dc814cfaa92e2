"""Checks that an artifact really opens: decoding it with ffmpeg, and reading WebVTT cue times."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path


def decodes(path: Path) -> bool:
    """ffmpeg decodes the whole file without a single complaint."""
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True, check=False
    )
    return done.returncode == 0 and not done.stderr


def duration(path: Path) -> float:
    """The file's duration as ffprobe reads it (a playlist: the sum of its segments)."""
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout)


def vtt_cues(text: str) -> list[tuple[float, float, str]]:
    """(start, end, payload's first line) per cue."""

    def seconds(stamp: str) -> float:
        h, m, s = stamp.split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)

    return [(seconds(a), seconds(b), ref) for a, b, ref in re.findall(r"(\S+) --> (\S+)\n(\S+)", text)]


def subtitle_cues(path: Path) -> list[tuple[float, float]]:
    """(start, end) of every cue, as ffprobe's own WebVTT or SubRip demuxer reads the file."""
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "packet=pts_time,duration_time", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    cues = []
    for line in done.stdout.split():
        start, duration = (float(x) for x in line.split(",")[:2])
        cues.append((round(start, 3), round(start + duration, 3)))
    return cues
