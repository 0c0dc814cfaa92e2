"""After the run: the files it wrote and the measurements it printed, turned into renditions (one
artifact each) and a typed MediaAnalysis."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

from shared.media import analysis as parse
from shared.media.confine import OUTPUT_FORMATS
from shared.media.models import MediaAnalysis, OutputFile, RenderResult, Rendition, StoryboardInfo, Thumbnail
from shared.media.plan import Plan
from shared.media.poster import choose_poster
from shared.media.probe import probe
from shared.media.storyboard import sprite_name, webvtt
from shared.metadata.technical import Technical

HLS_TYPE = "application/vnd.apple.mpegurl"
TS_TYPE = "video/mp2t"
MEDIA_SEGMENT = re.compile(r"#EXTINF:([0-9.]+),?[^\n]*\n([^#\s][^\n]*)")


def collect(plan: Plan, tech: Technical, log: str) -> RenderResult:
    """Turn the run's files and printed measurements into artifacts and typed results."""
    ext = plan.options.thumbnail_format
    image_type = "image/jpeg" if ext == "jpg" else "image/webp"
    frames_scored = parse.scene_scores(plan.path("meta/scores.txt"), plan.path("scene_scores.csv"))
    cuts = parse.scene_cuts(plan.path("meta/scene_cuts.txt"))
    stats = parse.picture_stats(plan.path("meta/stats.txt"), plan.path("meta/edges.txt"))
    interval_files = sorted((plan.work / "thumbnails").glob(f"thumb_*.{ext}"))
    scene_files = sorted((plan.work / "thumbnails").glob(f"scene_*.{ext}"))
    # The image muxer numbers files in frame order, as the metadata files list their times.
    thumbnails = [
        Thumbnail(time=s.time, key=f"thumbnails/{f.name}", kind="interval")
        for s, f in zip(stats, interval_files, strict=False)
    ] + [
        Thumbnail(time=c.time, key=f"thumbnails/{f.name}", kind="scene")
        for c, f in zip(cuts, scene_files, strict=False)
    ]
    poster = choose_poster(stats[: len(interval_files)])

    renditions = [_described("proxy", OutputFile(plan.path("proxy.mp4"), "proxy.mp4", "video/mp4"))]
    if plan.has_audio and plan.path("audio.wav").exists():
        # PCM as asked for: nothing in its header that the command did not set.
        renditions.append(
            Rendition(
                "audio",
                OutputFile(plan.path("audio.wav"), "audio.wav", "audio/wav"),
                details={
                    "audio_codec": "pcm_s16le",
                    "channels": 1,
                    "sample_rate": 16000,
                    "duration_seconds": round(plan.duration, 3),
                },
            )
        )
    if poster is not None:
        shutil.copyfile(interval_files[poster.index], plan.path(f"poster.{ext}"))
        renditions.append(
            Rendition(
                "poster",
                OutputFile(plan.path(f"poster.{ext}"), f"poster.{ext}", image_type),
                details={"width": plan.proxy[0], "height": plan.proxy[1], "time": poster.time, "rule": poster.rule},
            )
        )
    manifest = plan.path("thumbnails/thumbnails.json")
    manifest.write_text(json.dumps([t.model_dump() for t in thumbnails]))
    renditions.append(
        Rendition(
            "thumbnails",
            OutputFile(manifest, "thumbnails/thumbnails.json", "application/json"),
            extra=tuple(OutputFile(plan.work / t.key, t.key, image_type) for t in thumbnails),
            details={
                "count": len(thumbnails),
                "width": plan.proxy[0],
                "height": plan.proxy[1],
                "interval_seconds": plan.thumbnail_interval,
            },
        )
    )

    storyboard = _storyboard(plan)
    if storyboard is not None:
        renditions.append(
            Rendition(
                "storyboard",
                OutputFile(plan.path("storyboard/storyboard.vtt"), storyboard.vtt, "text/vtt"),
                extra=tuple(OutputFile(plan.work / key, key, "image/jpeg") for key in storyboard.sprites),
                details={"tiles": storyboard.tiles, "sprites": len(storyboard.sprites)},
            )
        )

    renditions.append(
        Rendition(
            "scene_scores",
            OutputFile(plan.path("scene_scores.csv"), "scene_scores.csv", "text/csv"),
            details={"frames": frames_scored},
        )
    )
    renditions += [r for r in (playlist_rendition("proxy_hls", plan.work, "proxy_hls"), _hls_rendition(plan)) if r]

    found = MediaAnalysis(
        loudness=parse.loudness(log) if plan.has_audio else None,
        black_segments=parse.black_segments(log),
        silent_segments=parse.silent_segments(log, plan.duration) if plan.has_audio else None,
        scene_threshold=plan.options.scene_threshold,
        scene_cuts=cuts,
        frames_scored=frames_scored,
        thumbnail_interval_seconds=plan.thumbnail_interval,
        thumbnails=thumbnails,
        poster=poster,
        storyboard=storyboard,
    )
    return RenderResult(renditions, found)


def _storyboard(plan: Plan) -> StoryboardInfo | None:
    times = [round(t, 3) for t, _ in parse.frame_metadata(plan.path("meta/tiles.txt"))]
    sprites = sorted((plan.work / "storyboard").glob("sprite_*.jpg"))
    if not times or not sprites:
        return None
    layout = plan.storyboard
    needed = math.ceil(len(times) / layout.per_sprite)
    keys = [f"storyboard/{sprite_name(i)}" for i in range(min(needed, len(sprites)))]
    times = times[: len(keys) * layout.per_sprite]
    plan.path("storyboard/storyboard.vtt").write_text(webvtt(layout, times, max(plan.duration, times[-1])))
    return StoryboardInfo(
        vtt="storyboard/storyboard.vtt",
        sprites=keys,
        tile_width=layout.tile_width,
        tile_height=layout.tile_height,
        columns=layout.columns,
        rows=layout.rows,
        interval_seconds=layout.interval_seconds,
        tiles=len(times),
    )


def playlist_rendition(kind: str, work: Path, folder: str, main: str = "index.m3u8") -> Rendition | None:
    """The HLS files in `work/folder` as one rendition, named by its playlist `main`. The files are
    the ones the playlists name, not the folder's: segments may be stored and gone already."""
    playlist = work / folder / main
    if not playlist.exists():
        return None
    names = playlist_files(playlist)
    extra = tuple(
        OutputFile(work / folder / name, f"{folder}/{name}", HLS_TYPE if name.endswith(".m3u8") else TS_TYPE)
        for name in names
    )
    return Rendition(
        kind,
        OutputFile(playlist, f"{folder}/{main}", HLS_TYPE),
        extra,
        {"segments": sum(n.endswith(".ts") for n in names)},
    )


def media_segments(playlist: Path) -> list[tuple[float, str]]:
    """(seconds, file name) of each segment of a media playlist, in order."""
    return [(float(seconds), name.strip()) for seconds, name in MEDIA_SEGMENT.findall(playlist.read_text())]


def playlist_files(playlist: Path) -> list[str]:
    """Every file a playlist names, through its variant playlists, relative to its folder."""
    names: list[str] = []
    for line in playlist.read_text().splitlines():
        uri = line.strip()
        if not uri or uri.startswith("#"):
            continue
        names.append(uri)
        if uri.endswith(".m3u8"):
            inner = Path(uri).parent
            names += [(inner / name).as_posix() for name in playlist_files(playlist.parent / uri)]
    return names


def _hls_rendition(plan: Plan) -> Rendition | None:
    """The optional ladder: a master playlist over one folder per rung."""
    ladder = playlist_rendition("hls", plan.work, "hls", "master.m3u8")
    if ladder is None:
        return None
    variants = {f.local.parent.name for f in ladder.extra}
    return Rendition(ladder.kind, ladder.main, ladder.extra, {"variants": len(variants), **ladder.details})


def _described(kind: str, file: OutputFile) -> Rendition:
    """Read the output's own header (no decode) for its dimensions and duration."""
    info = probe(file.local, OUTPUT_FORMATS)
    details: dict[str, Any] = {}
    for stream in info.get("streams", []):
        if stream.get("codec_type") == "video" and "width" not in details:
            details.update(width=stream.get("width"), height=stream.get("height"), codec=stream.get("codec_name"))
        elif stream.get("codec_type") == "audio" and "audio_codec" not in details:
            details.update(
                audio_codec=stream.get("codec_name"),
                channels=stream.get("channels"),
                sample_rate=int(stream.get("sample_rate") or 0) or None,
            )
    duration = (info.get("format") or {}).get("duration")
    if duration:
        details["duration_seconds"] = round(float(duration), 3)
    return Rendition(kind=kind, main=file, details=details)
