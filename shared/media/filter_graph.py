"""The one ffmpeg command of the process step: a filter graph that decodes the source once and
splits the frames and samples to every output and analysis filter (see shared/media/renditions.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ffmpeg

from shared.media.confine import VIDEO_CONTAINERS, DecodeLimits, Source, as_source, demuxer_of, input_options
from shared.media.plan import Plan, hls_ladder, ladder_kbps, proxy_size
from shared.metadata.technical import Technical


def _scaled(stream: Any, size: tuple[int, int]) -> Any:
    return stream.filter("scale", size[0], size[1]).filter("setsar", 1)


def build_command(src: Path | Source, plan: Plan, tech: Technical, limits: DecodeLimits) -> list[str]:
    assert tech.video is not None  # plan_for checked
    opts = plan.options
    for folder in ("thumbnails", "storyboard", "meta"):
        (plan.work / folder).mkdir(parents=True, exist_ok=True)
    # Confined to the demuxer the probe found, with the decode limits (shared/media/confine.py).
    # ffmpeg auto-rotates on decode, so frames arrive upright.
    read = as_source(src)
    source = ffmpeg.input(
        read.url, **input_options(read, tuple(VIDEO_CONTAINERS), limits, demuxer_of(tech.container), whole=True)
    )
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
    picture_stats = (
        thumbs[1]
        .filter("scale", plan.analysis[0], plan.analysis[1])
        .filter("signalstats")
        .filter("metadata", mode="print", file=str(plan.path("meta/stats.txt")))
        .filter("edgedetect")
        .filter("signalstats")
        .filter("metadata", mode="print", file=str(plan.path("meta/edges.txt")))
    )
    tiles = (
        _scaled(
            video[2].filter("fps", fps=f"1/{plan.storyboard.interval_seconds}"),
            (plan.storyboard.tile_width, plan.storyboard.tile_height),
        )
        # metadata=print skips frames without metadata; signalstats gives each tile some.
        .filter("signalstats")
        .filter("metadata", mode="print", file=str(plan.path("meta/tiles.txt")))
        .filter("tile", f"{plan.storyboard.columns}x{plan.storyboard.rows}")
    )
    scenes = (
        video[3]
        .filter("scale", plan.analysis[0], plan.analysis[1], flags="bilinear")
        .filter("blackdetect", d=0.5, pix_th=0.10)
        .filter("scdet", threshold=opts.scene_threshold)
        .filter("metadata", mode="print", file=str(plan.path("meta/scores.txt")))
        .filter("metadata", mode="select", key="lavfi.scd.time")
        .filter("select", f"isnan(prev_selected_t)+gte(t-prev_selected_t,{opts.scene_min_gap_seconds})")
        .filter("metadata", mode="print", file=str(plan.path("meta/scene_cuts.txt")))
    )

    # The proxy's one encode is written twice by ffmpeg's tee muxer: the MP4 and an HLS rendition
    # of the same packets. Keyframes at each segment boundary cut the segments evenly; the global
    # header puts the codec setup where MP4 wants it (MPEG-TS gets it in-band from the muxer).
    seconds = opts.hls_segment_seconds
    proxy_args: dict[str, Any] = {
        "vcodec": "libx264",
        "preset": opts.proxy_preset,
        "crf": opts.proxy_crf,
        "pix_fmt": "yuv420p",
        "force_key_frames": f"expr:gte(t,n_forced*{seconds})",
        "flags": "+global_header",
        "map_metadata": -1,
        "f": "tee",
    }
    (plan.work / "proxy_hls").mkdir(exist_ok=True)
    proxy_targets = (
        f"[f=mp4:movflags=+faststart]{plan.path('proxy.mp4')}|"
        f"[f=hls:hls_time={seconds}:hls_playlist_type=vod:hls_flags=temp_file:"
        f"hls_segment_filename={plan.path('proxy_hls/segment_%04d.ts')}]{plan.path('proxy_hls/index.m3u8')}"
    )
    outputs = [
        ffmpeg.output(
            thumbs[0].filter("format", image_format), str(plan.path(f"thumbnails/thumb_%04d.{ext}")), **image
        ),
        ffmpeg.output(tiles.filter("format", "yuvj420p"), str(plan.path("storyboard/sprite_%03d.jpg")), **{"q:v": 4}),
        ffmpeg.output(
            scenes.filter("format", image_format),
            str(plan.path(f"thumbnails/scene_%04d.{ext}")),
            fps_mode="passthrough",
            **{"frames:v": opts.max_scene_thumbnails},
            **image,
        ),
    ]
    proxy_video = video[0]
    sound: Any = None
    if tech.audio is not None:
        sound = source[str(tech.audio.index)].filter_multi_output("asplit", 3 + len(hls_heights))
        listened = sound[2].filter("ebur128", peak="true", framelog="verbose").filter("silencedetect", n="-50dB", d=0.5)
        outputs += [
            ffmpeg.output(
                proxy_video,
                sound[0],
                proxy_targets,
                acodec="aac",
                ac=2,
                **{"b:a": opts.audio_bitrate},
                **proxy_args,
            ),
            ffmpeg.output(sound[1], str(plan.path("audio.wav")), acodec="pcm_s16le", ac=1, ar=16000),
            ffmpeg.output(picture_stats, listened, "-", f="null"),
        ]
    else:
        outputs += [
            ffmpeg.output(proxy_video, proxy_targets, **proxy_args),
            ffmpeg.output(picture_stats, "-", f="null"),
        ]
    if hls_heights:
        outputs.append(
            _hls_output(
                plan,
                tech,
                hls_heights,
                [rungs[1 + i] for i in range(len(hls_heights))],
                [sound[3 + i] for i in range(len(hls_heights))] if sound is not None else [],
            )
        )
    graph = ffmpeg.merge_outputs(*outputs).global_args("-hide_banner", "-nostdin", "-nostats", "-v", "info")
    args: list[str] = graph.overwrite_output().compile(cmd="ffmpeg")
    return args


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
        "f": "hls",
        "hls_time": opts.hls_segment_seconds,
        "hls_playlist_type": "vod",
        "hls_flags": "temp_file",  # each segment whole before its name appears (see shipping)
        "hls_segment_filename": str(plan.path("hls/%v/segment_%04d.ts")),
        "master_pl_name": "master.m3u8",
        "var_stream_map": " ".join(variants),
        "vcodec": "libx264",
        "preset": opts.proxy_preset,
        "crf": opts.proxy_crf,
        "pix_fmt": "yuv420p",
        "g": max(1, round(fps * opts.hls_segment_seconds)),
        "sc_threshold": 0,
    }
    for i, height in enumerate(heights):  # a cap per rung, so players can choose by BANDWIDTH
        kbps = ladder_kbps(height)
        args.update({f"maxrate:v:{i}": f"{kbps}k", f"bufsize:v:{i}": f"{2 * kbps}k"})
    if sounds:
        args.update(acodec="aac", ac=2, **{"b:a": opts.audio_bitrate})
    return ffmpeg.output(*streams, str(plan.path("hls/%v/index.m3u8")), **args)
