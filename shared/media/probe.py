"""What a file holds, according to ffprobe, and whether its video actually decodes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.domain import PipelineError, Reason
from shared.media.confine import ACCEPTED, UPLOAD_FORMATS, DecodeLimits, Source, as_source, input_args
from shared.media.ffmpeg_tools import Diagnosis, run_tool

PROBE_TIMEOUT_S = 60.0

# A frame over the limit is refused by the decoder before it allocates it (`-max_pixels`).
FRAME_TOO_LARGE: Diagnosis = (
    r"Picture size (\d+x\d+) exceeds specified max pixel count (\d+)",
    Reason.BAD_DIMENSIONS,
    "the video has frames of {0} pixels; the limit is {1} pixels a frame",
)
PROBE_DIAGNOSES: list[Diagnosis] = [
    (
        r"\[(\w+) @ 0x[0-9a-f]+\] Format not on whitelist",
        Reason.UNSUPPORTED_CONTAINER,
        "the file is of a kind the pipeline does not read ({0}): playlists, lists and image sequences "
        f"name other files. It reads {ACCEPTED}",
    ),
    (
        "moov atom not found",
        Reason.TRUNCATED,
        "the file is incomplete: its MP4 index (moov atom) is missing, so the upload was probably cut short",
    ),
    ("Picture size", Reason.BAD_DIMENSIONS, "the video declares a frame size no decoder can allocate"),
]
DECODE_DIAGNOSES: list[Diagnosis] = [
    (
        "partial file",
        Reason.TRUNCATED,
        "the file is incomplete: its media data stops early, so the upload was probably cut short",
    ),
]
# The first box of an MP4/MOV file: only a file that starts like one can be a truncated one.
ISO_BMFF_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot")

# ffprobe reports one "video" stream for a PNG or a JPEG; these demuxers read single pictures.
# An animated GIF is read by the `gif` demuxer and counts as a video.
STILL_IMAGE_DEMUXERS = ("image2",)


def probe(
    src: Path | Source, formats: tuple[str, ...] = UPLOAD_FORMATS, limits: DecodeLimits | None = None
) -> dict[str, Any]:
    """ffprobe's format and streams as JSON, read by one of `formats` only (see
    shared/media/confine.py); NOT_A_VIDEO (or a more precise reason) when it cannot read the file."""
    source = as_source(src)
    command = ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json"]
    try:
        result = run_tool(
            [*command, *input_args(source, formats, limits)],
            Reason.NOT_A_VIDEO,
            "reading the file as a media container",
            timeout=PROBE_TIMEOUT_S,
            known=PROBE_DIAGNOSES,
            refuse=[FRAME_TOO_LARGE],
        )
    except PipelineError as exc:
        # ffprobe trusts a .mp4 name and misses the moov of any bytes at all.
        if exc.reason == Reason.TRUNCATED and source.head(8)[4:] not in ISO_BMFF_BOXES:
            raise PipelineError(Reason.NOT_A_VIDEO, "the file is not a readable media container") from None
        raise
    try:
        info: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise PipelineError(Reason.NOT_A_VIDEO, "ffprobe gave no readable description of the file") from None
    if not info.get("format"):
        raise PipelineError(Reason.NOT_A_VIDEO, "the file is not a readable media container")
    return info


def video_streams(info: dict[str, Any]) -> list[dict[str, Any]]:
    """Real video streams: cover art (attached pictures) does not count."""
    return [
        s
        for s in info.get("streams", [])
        if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
    ]


def still_image_format(info: dict[str, Any]) -> str | None:
    """The image format when the file is a single picture (png_pipe, image2, …), else None."""
    name = str((info.get("format") or {}).get("format_name") or "")
    return name if name.endswith("_pipe") or name in STILL_IMAGE_DEMUXERS else None


def audio_streams(info: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]


def check_decodes(src: Path | Source, demuxer: str, stream_index: int, limits: DecodeLimits | None = None) -> None:
    """Decode the first frame of the stream, read by the demuxer the probe found: a header can
    lie, a decoder cannot."""
    run_tool(
        [
            "ffmpeg",
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-xerror",
            *input_args(src, UPLOAD_FORMATS, limits, demuxer),
            "-map",
            f"0:{stream_index}",
            "-frames:v",
            "1",
            "-f",
            "null",
            "-",
        ],
        Reason.UNDECODABLE,
        "decoding the first video frame",
        timeout=PROBE_TIMEOUT_S,
        known=DECODE_DIAGNOSES,
        refuse=[FRAME_TOO_LARGE],
    )


class FfmpegProbe:
    """The MediaProbe port on ffprobe and ffmpeg, confined and held to the decode limits."""

    def __init__(self, limits: DecodeLimits) -> None:
        self.limits = limits

    def probe(self, source: Path | Source) -> dict[str, Any]:
        return probe(source, limits=self.limits)

    def check_decodes(self, source: Path | Source, demuxer: str, stream_index: int) -> None:
        check_decodes(source, demuxer, stream_index, self.limits)
