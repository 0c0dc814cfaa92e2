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

import threading
from pathlib import Path

from shared.domain import PipelineError, Reason
from shared.media.collect import collect
from shared.media.ffmpeg_tools import run_tool
from shared.media.filter_graph import build_command
from shared.media.models import RenderResult
from shared.media.plan import RenditionOptions, plan_for
from shared.metadata.technical import Technical


def render(
    src: Path, work: Path, tech: Technical, options: RenditionOptions, stop: threading.Event | None = None
) -> RenderResult:
    plan = plan_for(work, tech, options)
    args = build_command(src, plan, tech)
    timeout = max(300.0, 20 * plan.duration)
    result = run_tool(args, Reason.MEDIA_ERROR, "transcoding", timeout=timeout, stop=stop)
    log = result.stderr.decode(errors="replace")
    if not (plan.path("proxy.mp4")).exists() or not sorted((work / "thumbnails").glob("thumb_*")):
        raise PipelineError(Reason.MEDIA_ERROR, "no video frame could be decoded")
    return collect(plan, tech, log)
