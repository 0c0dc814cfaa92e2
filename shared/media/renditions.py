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
from collections.abc import Callable
from pathlib import Path

from shared.domain import PipelineError, Reason
from shared.media.collect import collect
from shared.media.confine import DecodeLimits, Source
from shared.media.ffmpeg_tools import run_tool
from shared.media.filter_graph import build_command
from shared.media.models import RenderResult
from shared.media.plan import RenditionOptions, plan_for
from shared.media.probe import FRAME_TOO_LARGE
from shared.metadata.technical import Technical

# How far past the duration limit a decode may go before it counts as over: a video of exactly
# the limit ends within a frame or an audio packet of it.
DURATION_SLACK_SECONDS = 0.5


def render(
    src: Path | Source,
    work: Path,
    tech: Technical,
    options: RenditionOptions,
    limits: DecodeLimits,
    stop: threading.Event | None = None,
    hold: Callable[[], bool] | None = None,
) -> RenderResult:
    """The run (see run_tool for `stop` and `hold`) and what it made."""
    plan = plan_for(work, tech, options)
    args = build_command(src, plan, tech, limits)
    timeout = max(300.0, 20 * plan.duration)
    result = run_tool(
        args, Reason.MEDIA_ERROR, "transcoding", timeout=timeout, stop=stop, refuse=[FRAME_TOO_LARGE], hold=hold
    )
    log = result.stderr.decode(errors="replace")
    if not (plan.path("proxy.mp4")).exists() or not sorted((work / "thumbnails").glob("thumb_*")):
        raise PipelineError(Reason.MEDIA_ERROR, "no video frame could be decoded")
    found = collect(plan, tech, log)
    check_decoded_duration(found, tech, limits)
    return found


def check_decoded_duration(found: RenderResult, tech: Technical, limits: DecodeLimits) -> None:
    """The run reads at most a second past the limit: a proxy longer than the limit means the
    source holds more than its container declared (timestamps that start again, a short header)."""
    proxy = next(r for r in found.renditions if r.kind == "proxy")
    decoded = float(proxy.details.get("duration_seconds") or 0)
    if decoded > limits.max_seconds + DURATION_SLACK_SECONDS:
        raise PipelineError(
            Reason.TOO_LONG,
            f"the video decodes to more than {limits.max_seconds:.0f} s, the limit, "
            f"though its container declares {tech.duration_seconds or 0:.0f} s",
        )
