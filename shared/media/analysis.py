"""What ffmpeg's analysis filters print during the process step's single run, parsed into typed
results: scene-change scores per frame (scdet via `metadata=print`), black and silent segments
(blackdetect, silencedetect), EBU R128 loudness (ebur128), and per-thumbnail picture statistics
(signalstats, and signalstats over edgedetect) for choosing the poster."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

from shared.media.models import Loudness, PictureStats, SceneCut, Segment

# ---------------------------------------------------------------------------------------------
# `metadata=mode=print:file=…` output: "frame:N pts:P pts_time:T" then key=value lines


def frame_metadata(path: Path) -> Iterator[tuple[float, dict[str, str]]]:
    """(pts_time, {key: value}) per frame, read line by line: memory does not grow with length."""
    time: float | None = None
    values: dict[str, str] = {}
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if line.startswith("frame:"):
                if time is not None:
                    yield time, values
                match = re.search(r"pts_time:(\S+)", line)
                time, values = (float(match.group(1)) if match else 0.0), {}
            elif "=" in line:
                key, _, value = line.strip().partition("=")
                values[key] = value
    if time is not None:
        yield time, values


def scene_scores(path: Path, csv_out: Path) -> int:
    """Writes every frame's scene-change score to `csv_out` as it reads them (a long video has
    millions), and returns how many frames were scored."""
    frames = 0
    with csv_out.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["time", "score"])
        for time, values in frame_metadata(path):
            writer.writerow((round(time, 3), float(values.get("lavfi.scd.score", 0) or 0)))
            frames += 1
    return frames


def scene_cuts(path: Path) -> list[SceneCut]:
    """The cuts as the run kept them (scdet's, thinned by the run to one a gap), which are also
    the scene thumbnails' frames: one rule, applied once."""
    return [
        SceneCut(time=round(time, 3), score=float(values.get("lavfi.scd.score", 0) or 0))
        for time, values in frame_metadata(path)
    ]


def picture_stats(stats_file: Path, edges_file: Path) -> list[PictureStats]:
    edges = {round(t, 3): float(v.get("lavfi.signalstats.YAVG", 0)) for t, v in frame_metadata(edges_file)}
    result = []
    for time, v in frame_metadata(stats_file):
        result.append(
            PictureStats(
                time=round(time, 3),
                luma_mean=float(v.get("lavfi.signalstats.YAVG", 0)),
                luma_low=float(v.get("lavfi.signalstats.YLOW", 0)),
                luma_high=float(v.get("lavfi.signalstats.YHIGH", 0)),
                edge_density=edges.get(round(time, 3), 0.0),
            )
        )
    return result


# ---------------------------------------------------------------------------------------------
# stderr lines of blackdetect, silencedetect and ebur128's summary

_BLACK = re.compile(r"black_start:(\S+) black_end:(\S+)")
_SILENCE_START = re.compile(r"silence_start: (\S+)")
_SILENCE_END = re.compile(r"silence_end: (\S+)")


def black_segments(log: str) -> list[Segment]:
    return [Segment(start=round(float(a), 3), end=round(float(b), 3)) for a, b in _BLACK.findall(log)]


def silent_segments(log: str, duration: float | None) -> list[Segment]:
    """silencedetect prints a start, then an end; silence running to the end has no end line."""
    segments: list[Segment] = []
    start: float | None = None
    for line in log.splitlines():
        if (m := _SILENCE_START.search(line)) is not None:
            start = max(0.0, float(m.group(1)))
        elif (m := _SILENCE_END.search(line)) is not None and start is not None:
            segments.append(Segment(start=round(start, 3), end=round(float(m.group(1)), 3)))
            start = None
    if start is not None and duration:
        segments.append(Segment(start=round(start, 3), end=round(duration, 3)))
    return segments


def loudness(log: str) -> Loudness | None:
    """ebur128's closing summary: `I: -23.0 LUFS`, `LRA: 5.2 LU`, `Peak: -1.3 dBFS` (true peak)."""
    _, found, summary = log.rpartition("Summary:")
    if not found:
        return None

    def value(label: str) -> float | None:
        m = re.search(rf"^\s*{label}:\s+(-?[\d.]+|-inf)", summary, re.MULTILINE)
        if m is None or m.group(1) == "-inf":
            return None
        return float(m.group(1))

    return Loudness(integrated_lufs=value("I"), range_lu=value("LRA"), true_peak_dbtp=value("Peak"))
