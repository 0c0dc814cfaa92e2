"""One HLS address for the whole video (`master.m3u8`): a master playlist over the renditions that
cost no encode of their own, the source remuxed (where web-ready) and the proxy's HLS, and the
ladder's rungs when the ladder is on. A player picks among them by bandwidth, so a viewer on a
slow link gets the proxy and one on a fast link the source's own quality.

Each variant's BANDWIDTH is its peak segment bit rate and AVERAGE-BANDWIDTH its mean, measured
on the segments as stored (RFC 8216, 4.3.4.2); the ladder's rungs keep what ffmpeg wrote for
them. Every segment starts at a keyframe (the remux cuts at the source's, the encodes force
them), hence EXT-X-INDEPENDENT-SEGMENTS."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shared.media.collect import HLS_TYPE, media_segments
from shared.media.models import OutputFile, Rendition

STREAM_INF = re.compile(r"#EXT-X-STREAM-INF:([^\n]*)\n([^#\s][^\n]*)")
MASTER = "master.m3u8"


@dataclass(frozen=True)
class Variant:
    uri: str  # its media playlist, relative to the master
    attributes: str  # EXT-X-STREAM-INF's attribute list

    @property
    def bandwidth(self) -> int:
        found = re.search(r"(?:^|,)BANDWIDTH=(\d+)", self.attributes)
        return int(found.group(1)) if found else 0


def measured_variant(
    work: Path, folder: str, stored: Mapping[str, int], width: int, height: int, fps: float | None
) -> Variant | None:
    """The variant of the media playlist `work/folder/index.m3u8`, its segments' sizes taken from
    `stored` (key under the video's folder → bytes) or the scratch space."""
    playlist = work / folder / "index.m3u8"
    if not playlist.exists():
        return None
    rates, total_bits, total_seconds = [], 0, 0.0
    for seconds, name in media_segments(playlist):
        key = f"{folder}/{name}"
        bits = 8 * (stored[key] if key in stored else (work / key).stat().st_size)
        rates.append(bits / max(seconds, 0.001))
        total_bits, total_seconds = total_bits + bits, total_seconds + seconds
    if not rates:
        return None
    attributes = (
        f"BANDWIDTH={round(max(rates))},AVERAGE-BANDWIDTH={round(total_bits / max(total_seconds, 0.001))},"
        f"RESOLUTION={width}x{height}" + (f",FRAME-RATE={fps:.3f}" if fps else "")
    )
    return Variant(f"{folder}/index.m3u8", attributes)


def ladder_variants(work: Path, folder: str = "hls") -> list[Variant]:
    """The ladder's rungs as ffmpeg listed them in its own master, relative to ours."""
    ladder = work / folder / MASTER
    if not ladder.exists():
        return []
    return [Variant(f"{folder}/{uri.strip()}", attrs.strip()) for attrs, uri in STREAM_INF.findall(ladder.read_text())]


def master_rendition(work: Path, variants: list[Variant]) -> Rendition | None:
    """The master playlist over `variants`, lowest bandwidth first (where most players start);
    None for fewer than two: a single rendition is its own address."""
    if len(variants) < 2:
        return None
    ordered = sorted(variants, key=lambda v: v.bandwidth)
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for variant in ordered:
        lines += [f"#EXT-X-STREAM-INF:{variant.attributes}", variant.uri]
    (work / MASTER).write_text("\n".join(lines) + "\n")
    return Rendition(
        "playback",
        OutputFile(work / MASTER, MASTER, HLS_TYPE),
        details={"variants": len(ordered), "playlists": [v.uri for v in ordered]},
    )
