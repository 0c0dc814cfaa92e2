"""What a file holds, according to ffprobe, and whether its video actually decodes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.domain import PipelineError, Reason
from shared.media.ffmpeg_tools import run_tool

PROBE_TIMEOUT_S = 60.0


def probe(path: Path) -> dict[str, Any]:
    """ffprobe's format and streams as JSON; NOT_A_VIDEO when it cannot read the file."""
    result = run_tool(["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
                      Reason.NOT_A_VIDEO, "reading the file as a media container", timeout=PROBE_TIMEOUT_S)
    try:
        info: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise PipelineError(Reason.NOT_A_VIDEO, "ffprobe gave no readable description of the file") from None
    if not info.get("format"):
        raise PipelineError(Reason.NOT_A_VIDEO, "the file is not a readable media container")
    return info


def video_streams(info: dict[str, Any]) -> list[dict[str, Any]]:
    """Real video streams: cover art (attached pictures) does not count."""
    return [s for s in info.get("streams", [])
            if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")]


def audio_streams(info: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]


def check_decodes(path: Path, stream_index: int) -> None:
    """Decode the first frame of the stream: a header can lie, a decoder cannot."""
    run_tool(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-xerror", "-i", str(path),
              "-map", f"0:{stream_index}", "-frames:v", "1", "-f", "null", "-"],
             Reason.UNDECODABLE, "decoding the first video frame", timeout=PROBE_TIMEOUT_S)
