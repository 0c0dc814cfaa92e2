"""Every artifact of the process step from ONE ffmpeg run. The source is read and decoded once;
split/asplit hand the decoded frames and samples to every output and analysis filter:

    video ─┬─ scale ─────────────────────────────────────────── proxy.mp4 (H.264, + AAC)
           ├─ fps=1/T, scale ─┬──────────────────────────────── thumbnails/thumb_NNNN.jpg
           │                  └─ signalstats (+ over edgedetect) → picture stats for the poster
           ├─ fps=1/S, scale, tile ──────────────────────────── storyboard/sprite_NNN.jpg
           ├─ scale small, blackdetect, scdet ─┬─ scores ────── per-frame scene scores
           │                                   └─ cuts only ─── thumbnails/scene_NNNN.jpg
           └─ (optional) scale per height ───────────────────── hls/ (one master playlist)
    audio ─┬─ proxy's AAC track,  ├─ 16 kHz mono WAV,  └─ ebur128 + silencedetect
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import ffmpeg
from pydantic import BaseModel

from shared.domain import PipelineError, Reason
from shared.media import analysis as parse
from shared.media.ffmpeg_tools import run_tool
from shared.media.poster import PosterChoice, choose_poster
from shared.media.probe import probe
from shared.media.storyboard import StoryboardLayout, sprite_name, webvtt
from shared.metadata.technical import Technical


@dataclass(frozen=True)
class RenditionOptions:
    proxy_max_height: int = 720       # the proxy's short side, so portrait video stays ≤720p too
    proxy_crf: int = 23
    proxy_preset: str = "veryfast"
    audio_bitrate: str = "128k"
    thumbnail_interval_seconds: float | None = None   # None: a tenth of the video, 1 to 60 s
    thumbnail_format: Literal["jpg", "webp"] = "jpg"
    storyboard_tile_width: int = 160
    storyboard_columns: int = 10
    storyboard_rows: int = 10
    storyboard_interval_seconds: float | None = None  # None: one sprite sheet of tiles, ≥ 1 s each
    scene_threshold: float = 10.0     # scdet's score (0-100) above which a frame starts a scene
    analysis_width: int = 320         # frames for scene and black detection, and scene thumbnails
    hls: bool = False
    hls_heights: tuple[int, ...] = (360, 720, 1080)
    hls_segment_seconds: int = 6


@dataclass(frozen=True)
class OutputFile:
    local: Path
    key: str                          # where it is stored, under the video's folder
    content_type: str


@dataclass(frozen=True)
class Rendition:
    kind: str                         # proxy | audio | poster | thumbnails | storyboard | scene_scores | hls
    main: OutputFile                  # what the artifact row points at
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
    vtt: str                          # keys under the video's folder
    sprites: list[str]


class MediaAnalysis(BaseModel):
    """What the single run measured, for the metadata document."""
    loudness: parse.Loudness | None
    black_segments: list[parse.Segment]
    silent_segments: list[parse.Segment] | None      # None: no audio to listen to
    scene_threshold: float
    scene_cuts: list[parse.SceneCut]
    frames_scored: int
    thumbnail_interval_seconds: float
    thumbnails: list[Thumbnail]
    poster: PosterChoice | None
    storyboard: StoryboardInfo | None


@dataclass(frozen=True)
class RenderResult:
    renditions: list[Rendition]
    analysis: MediaAnalysis


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
    proxy: tuple[int, int]            # also the thumbnails' size: they are cut from the same frames
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
    return Plan(work=work, duration=duration, proxy=proxy_size(dw, dh, options.proxy_max_height),
                analysis=width_size(dw, dh, options.analysis_width),
                thumbnail_interval=thumbnail_interval(duration, options.thumbnail_interval_seconds),
                storyboard=StoryboardLayout(tile[0], tile[1], options.storyboard_columns, options.storyboard_rows,
                                            storyboard_interval(duration, options.storyboard_interval_seconds,
                                                                per_sprite)),
                has_audio=tech.audio is not None, options=options)


def _scaled(stream: Any, size: tuple[int, int]) -> Any:
    return stream.filter("scale", size[0], size[1]).filter("setsar", 1)


def build_command(src: Path, plan: Plan, tech: Technical) -> list[str]:
    assert tech.video is not None  # plan_for checked
    opts = plan.options
    for folder in ("thumbnails", "storyboard", "meta"):
        (plan.work / folder).mkdir(parents=True, exist_ok=True)
    source = ffmpeg.input(str(src))  # ffmpeg auto-rotates on decode, so frames arrive upright
    hls_heights = hls_ladder(tech, opts) if opts.hls else []
    # Scale once to the proxy's size, then split: the thumbnails share that size and the small
    # analysis frames come from it far more cheaply than from the source. Only HLS rungs, which
    # may be larger than the proxy, take frames at the source's size.
    decoded = source[str(tech.video.index)]
    rungs: Any = decoded.filter_multi_output("split", 1 + len(hls_heights)) if hls_heights else None
    # The shared frames are pinned to yuv420p: left open, format negotiation would convert every
    # frame for the JPEG outputs above the split instead of the few frames each branch keeps.
    proxy_sized = _scaled(rungs[0] if rungs is not None else decoded, plan.proxy).filter("format", "yuv420p")
    video = proxy_sized.filter_multi_output("split", 4)
    image = {"q:v": 3} if opts.thumbnail_format == "jpg" else {"vcodec": "libwebp", "quality": 80}
    ext = opts.thumbnail_format

    image_format = "yuvj420p" if opts.thumbnail_format == "jpg" else "yuv420p"
    thumbs = video[1].filter("fps", fps=f"1/{plan.thumbnail_interval}").filter_multi_output("split", 2)
    # Brightness, contrast and edge density read as well from small frames, at a fraction of the cost.
    picture_stats = (thumbs[1].filter("scale", plan.analysis[0], plan.analysis[1]).filter("signalstats")
                     .filter("metadata", mode="print", file=str(plan.path("meta/stats.txt")))
                     .filter("edgedetect").filter("signalstats")
                     .filter("metadata", mode="print", file=str(plan.path("meta/edges.txt"))))
    tiles = (_scaled(video[2].filter("fps", fps=f"1/{plan.storyboard.interval_seconds}"),
                     (plan.storyboard.tile_width, plan.storyboard.tile_height))
             # metadata=print skips frames without metadata; signalstats gives each tile some.
             .filter("signalstats").filter("metadata", mode="print", file=str(plan.path("meta/tiles.txt")))
             .filter("tile", f"{plan.storyboard.columns}x{plan.storyboard.rows}"))
    scenes = (video[3].filter("scale", plan.analysis[0], plan.analysis[1], flags="bilinear")
              .filter("blackdetect", d=0.5, pix_th=0.10)
              .filter("scdet", threshold=opts.scene_threshold)
              .filter("metadata", mode="print", file=str(plan.path("meta/scores.txt")))
              .filter("metadata", mode="select", key="lavfi.scd.time"))

    proxy_args: dict[str, Any] = {"vcodec": "libx264", "preset": opts.proxy_preset, "crf": opts.proxy_crf,
                                  "pix_fmt": "yuv420p", "movflags": "+faststart", "map_metadata": -1}
    outputs = [
        ffmpeg.output(thumbs[0].filter("format", image_format), str(plan.path(f"thumbnails/thumb_%04d.{ext}")),
                      **image),
        ffmpeg.output(tiles.filter("format", "yuvj420p"), str(plan.path("storyboard/sprite_%03d.jpg")),
                      **{"q:v": 4}),
        ffmpeg.output(scenes.filter("format", image_format), str(plan.path(f"thumbnails/scene_%04d.{ext}")),
                      fps_mode="passthrough", **image),
    ]
    proxy_video = video[0]
    sound: Any = None
    if tech.audio is not None:
        sound = source[str(tech.audio.index)].filter_multi_output("asplit", 3 + len(hls_heights))
        listened = (sound[2].filter("ebur128", peak="true", framelog="verbose")
                    .filter("silencedetect", n="-50dB", d=0.5))
        outputs += [
            ffmpeg.output(proxy_video, sound[0], str(plan.path("proxy.mp4")), acodec="aac", ac=2,
                          **{"b:a": opts.audio_bitrate}, **proxy_args),
            ffmpeg.output(sound[1], str(plan.path("audio.wav")), acodec="pcm_s16le", ac=1, ar=16000),
            ffmpeg.output(picture_stats, listened, "-", f="null"),
        ]
    else:
        outputs += [ffmpeg.output(proxy_video, str(plan.path("proxy.mp4")), **proxy_args),
                    ffmpeg.output(picture_stats, "-", f="null")]
    if hls_heights:
        outputs.append(_hls_output(plan, tech, hls_heights, [rungs[1 + i] for i in range(len(hls_heights))],
                                   [sound[3 + i] for i in range(len(hls_heights))] if sound is not None else []))
    graph = ffmpeg.merge_outputs(*outputs).global_args("-hide_banner", "-nostdin", "-nostats", "-v", "info")
    args: list[str] = graph.overwrite_output().compile(cmd="ffmpeg")
    return args


def hls_ladder(tech: Technical, options: RenditionOptions) -> list[int]:
    """The configured heights up to the source's short side; the source's own when it is smaller."""
    assert tech.video is not None
    short = min(tech.video.display_width, tech.video.display_height)
    heights = sorted({h for h in options.hls_heights if h <= short})
    return heights or [even(short)]


def ladder_kbps(height: int) -> int:
    """Peak video bitrate of an HLS rung: 2800 kb/s at 720p, scaled by pixel count."""
    return max(300, round(2800 * (height / 720) ** 2 / 50) * 50)


def _hls_output(plan: Plan, tech: Technical, heights: list[int], videos: list[Any], sounds: list[Any]) -> Any:
    assert tech.video is not None
    opts = plan.options
    (plan.work / "hls").mkdir(exist_ok=True)
    streams: list[Any] = []
    variants = []
    for i, height in enumerate(heights):
        size = proxy_size(tech.video.display_width, tech.video.display_height, height)
        streams.append(_scaled(videos[i], size).filter("format", "yuv420p"))
        if sounds:
            streams.append(sounds[i])
            variants.append(f"v:{i},a:{i}")
        else:
            variants.append(f"v:{i}")
    fps = tech.video.fps or 30.0
    args: dict[str, Any] = {
        "f": "hls", "hls_time": opts.hls_segment_seconds, "hls_playlist_type": "vod",
        "hls_segment_filename": str(plan.path("hls/%v/segment_%04d.ts")), "master_pl_name": "master.m3u8",
        "var_stream_map": " ".join(variants), "vcodec": "libx264", "preset": opts.proxy_preset,
        "crf": opts.proxy_crf, "pix_fmt": "yuv420p", "g": max(1, round(fps * opts.hls_segment_seconds)),
        "sc_threshold": 0}
    for i, height in enumerate(heights):  # a cap per rung, so players can choose by BANDWIDTH
        kbps = ladder_kbps(height)
        args.update({f"maxrate:v:{i}": f"{kbps}k", f"bufsize:v:{i}": f"{2 * kbps}k"})
    if sounds:
        args.update(acodec="aac", ac=2, **{"b:a": opts.audio_bitrate})
    return ffmpeg.output(*streams, str(plan.path("hls/%v/index.m3u8")), **args)


def render(src: Path, work: Path, tech: Technical, options: RenditionOptions) -> RenderResult:
    plan = plan_for(work, tech, options)
    args = build_command(src, plan, tech)
    timeout = max(300.0, 20 * plan.duration)
    result = run_tool(args, Reason.MEDIA_ERROR, "transcoding", timeout=timeout)
    log = result.stderr.decode(errors="replace")
    if not (plan.path("proxy.mp4")).exists() or not sorted((work / "thumbnails").glob("thumb_*")):
        raise PipelineError(Reason.MEDIA_ERROR, "no video frame could be decoded")
    return collect(plan, tech, log)


def collect(plan: Plan, tech: Technical, log: str) -> RenderResult:
    """Turn the run's files and printed measurements into artifacts and typed results."""
    ext = plan.options.thumbnail_format
    image_type = "image/jpeg" if ext == "jpg" else "image/webp"
    frames_scored, cuts = parse.scene_scores(plan.path("meta/scores.txt"), plan.path("scene_scores.csv"))
    stats = parse.picture_stats(plan.path("meta/stats.txt"), plan.path("meta/edges.txt"))
    interval_files = sorted((plan.work / "thumbnails").glob(f"thumb_*.{ext}"))
    scene_files = sorted((plan.work / "thumbnails").glob(f"scene_*.{ext}"))
    # The image muxer numbers files in frame order, as the metadata files list their times.
    thumbnails = (
        [Thumbnail(time=s.time, key=f"thumbnails/{f.name}", kind="interval")
         for s, f in zip(stats, interval_files, strict=False)]
        + [Thumbnail(time=c.time, key=f"thumbnails/{f.name}", kind="scene")
           for c, f in zip(cuts, scene_files, strict=False)])
    poster = choose_poster(stats[: len(interval_files)])

    renditions = [_described("proxy", OutputFile(plan.path("proxy.mp4"), "proxy.mp4", "video/mp4"))]
    if plan.has_audio and plan.path("audio.wav").exists():
        # PCM as asked for: nothing in its header that the command did not set.
        renditions.append(Rendition("audio", OutputFile(plan.path("audio.wav"), "audio.wav", "audio/wav"),
                                    details={"audio_codec": "pcm_s16le", "channels": 1, "sample_rate": 16000,
                                             "duration_seconds": round(plan.duration, 3)}))
    if poster is not None:
        shutil.copyfile(interval_files[poster.index], plan.path(f"poster.{ext}"))
        renditions.append(Rendition("poster", OutputFile(plan.path(f"poster.{ext}"), f"poster.{ext}", image_type),
                                    details={"width": plan.proxy[0], "height": plan.proxy[1],
                                             "time": poster.time, "rule": poster.rule}))
    manifest = plan.path("thumbnails/thumbnails.json")
    manifest.write_text(json.dumps([t.model_dump() for t in thumbnails]))
    renditions.append(Rendition(
        "thumbnails", OutputFile(manifest, "thumbnails/thumbnails.json", "application/json"),
        extra=tuple(OutputFile(plan.work / t.key, t.key, image_type) for t in thumbnails),
        details={"count": len(thumbnails), "width": plan.proxy[0], "height": plan.proxy[1],
                 "interval_seconds": plan.thumbnail_interval}))

    storyboard = _storyboard(plan)
    if storyboard is not None:
        renditions.append(Rendition(
            "storyboard", OutputFile(plan.path("storyboard/storyboard.vtt"), storyboard.vtt, "text/vtt"),
            extra=tuple(OutputFile(plan.work / key, key, "image/jpeg") for key in storyboard.sprites),
            details={"tiles": storyboard.tiles, "sprites": len(storyboard.sprites)}))

    renditions.append(Rendition("scene_scores", OutputFile(plan.path("scene_scores.csv"), "scene_scores.csv",
                                                           "text/csv"), details={"frames": frames_scored}))
    hls = _hls_rendition(plan)
    if hls is not None:
        renditions.append(hls)

    found = MediaAnalysis(
        loudness=parse.loudness(log) if plan.has_audio else None,
        black_segments=parse.black_segments(log),
        silent_segments=parse.silent_segments(log, plan.duration) if plan.has_audio else None,
        scene_threshold=plan.options.scene_threshold, scene_cuts=cuts, frames_scored=frames_scored,
        thumbnail_interval_seconds=plan.thumbnail_interval, thumbnails=thumbnails, poster=poster,
        storyboard=storyboard)
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
    return StoryboardInfo(vtt="storyboard/storyboard.vtt", sprites=keys, tile_width=layout.tile_width,
                          tile_height=layout.tile_height, columns=layout.columns, rows=layout.rows,
                          interval_seconds=layout.interval_seconds, tiles=len(times))


def _hls_rendition(plan: Plan) -> Rendition | None:
    master = plan.path("hls/master.m3u8")
    if not master.exists():
        return None
    files = [p for p in sorted((plan.work / "hls").rglob("*")) if p.is_file() and p != master]
    extra = tuple(OutputFile(p, f"hls/{p.relative_to(plan.work / 'hls')}",
                             "application/vnd.apple.mpegurl" if p.suffix == ".m3u8" else "video/mp2t")
                  for p in files)
    variants = sorted({p.parent.name for p in files})
    return Rendition("hls", OutputFile(master, "hls/master.m3u8", "application/vnd.apple.mpegurl"), extra=extra,
                     details={"variants": len(variants), "segments": sum(p.suffix == ".ts" for p in files)})


def _described(kind: str, file: OutputFile) -> Rendition:
    """Read the output's own header (no decode) for its dimensions and duration."""
    info = probe(file.local)
    details: dict[str, Any] = {}
    for stream in info.get("streams", []):
        if stream.get("codec_type") == "video" and "width" not in details:
            details.update(width=stream.get("width"), height=stream.get("height"),
                           codec=stream.get("codec_name"))
        elif stream.get("codec_type") == "audio" and "audio_codec" not in details:
            details.update(audio_codec=stream.get("codec_name"), channels=stream.get("channels"),
                           sample_rate=int(stream.get("sample_rate") or 0) or None)
    duration = (info.get("format") or {}).get("duration")
    if duration:
        details["duration_seconds"] = round(float(duration), 3)
    return Rendition(kind=kind, main=file, details=details)
