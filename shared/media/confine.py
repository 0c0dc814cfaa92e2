"""What an ffmpeg or ffprobe run on an upload may open, and how much it may decode.

An upload is hostile until proven otherwise. Some demuxers open further files named inside the
file they read: an HLS or DASH playlist, an ffconcat list, an image sequence, a MOV with external
data references. Uploaded as `holiday.mp4`, a playlist whose entry is `../<other owner>/x.mp4`
made the pipeline process another owner's video, and hid a duration and a frame size from the
probe. So every run on an upload names its one input (a `file:` URL, or the storage's signed URL
that ranged reads fetch), allows that input's protocol alone, and allows only demuxers that read
the one file they are given. Limits are enforced where
the frames are decoded (`-max_pixels`, `-t`), not only on what the container declares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from shared.config import IngestLimits

# The containers the pipeline processes, by ffmpeg's demuxer name, and who makes them. Each reads
# its one file only: the mov demuxer follows external data references only when asked
# (`enable_drefs`, off by default, and never set here).
VIDEO_CONTAINERS: dict[str, tuple[str, str]] = {
    "mov": ("MP4/MOV", "phones, cameras, editors, the web"),
    "matroska": ("MKV/WebM", "screen recorders, OBS, browsers' MediaRecorder"),
    "avi": ("AVI", "older cameras and capture tools"),
    "mpegts": ("MPEG-TS", "AVCHD cameras (M2TS), broadcast and stream recordings"),
    "mpeg": ("MPEG-PS", "DVD (VOB) and MPEG-1/2 files"),
    "flv": ("FLV", "stream recordings"),
    "asf": ("WMV", "Windows' own recorders"),
    "ogg": ("Ogg", "Theora video"),
    "gif": ("GIF", "animations"),
}
ACCEPTED = ", ".join(label for label, _ in VIDEO_CONTAINERS.values())
# Read so that ingest can say what a file is, never processed: single pictures, sound alone.
STILL_IMAGE_DEMUXERS = ("png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "gif_pipe", "qoi_pipe")
AUDIO_DEMUXERS = ("mp3", "wav", "flac", "aac", "w64")
UPLOAD_FORMATS = (*VIDEO_CONTAINERS, *STILL_IMAGE_DEMUXERS, *AUDIO_DEMUXERS)
# What the pipeline itself writes, read back to describe it: the proxy, the ladder, the sound.
OUTPUT_FORMATS = ("mov", "hls", "mpegts", "wav")


# How long one read from storage may stall before the run fails (retryably, as any media timeout).
REMOTE_READ_TIMEOUT_S = 30


@dataclass(frozen=True)
class DecodeLimits:
    """What one run may decode: frames of at most `max_frame_pixels`, at most `max_seconds` of
    the source (a second more is read, so that going past the limit shows)."""

    max_frame_pixels: int
    max_seconds: float

    @classmethod
    def from_settings(cls, settings: IngestLimits) -> DecodeLimits:
        return cls(settings.max_frame_pixels, settings.max_duration_seconds)


@dataclass(frozen=True)
class Source:
    """Where a run reads an upload from, and the protocols that reading takes: a local file, or
    a signed URL that ffmpeg reads by ranges (only the parts a probe or a decode needs, so no
    instance copies a whole upload to learn what it is). `read(offset, n)` gives at most n bytes
    from offset (none past the end): what Python reads of it, by ranges too (source_file)."""

    url: str
    protocols: str
    read: Callable[[int, int], bytes] = field(compare=False, repr=False)

    def head(self, n: int) -> bytes:
        return self.read(0, n)

    @classmethod
    def file(cls, path: Path) -> Source:
        # A `file:` URL, so that no part of a name (`concat:`, `subfile,,`) is read as a protocol.
        def read(offset: int, n: int) -> bytes:
            with path.open("rb") as f:
                f.seek(offset)
                return f.read(n)

        return cls(f"file:{path.absolute()}", "file", read)

    @classmethod
    def remote(cls, url: str, read: Callable[[int, int], bytes]) -> Source:
        """A URL of the project's own storage (never one a user gave): https, or http where the
        operator's storage speaks it (a local stack)."""
        scheme = urlsplit(url).scheme
        protocols = {"https": "https,tls,tcp", "http": "http,tcp"}.get(scheme)
        if protocols is None:
            raise ValueError(f"storage URLs are http or https, not {scheme!r}")
        return cls(url, protocols, read)


def as_source(src: Path | Source) -> Source:
    return src if isinstance(src, Source) else Source.file(src)


def demuxer_of(format_name: str) -> str:
    """ffprobe's `format_name` (`mov,mp4,m4a,3gp,3g2,mj2`) → the demuxer's short name (`mov`)."""
    return format_name.split(",", 1)[0]


def input_options(
    source: Source,
    formats: tuple[str, ...],
    limits: DecodeLimits | None = None,
    demuxer: str | None = None,
    *,
    whole: bool = False,
) -> dict[str, str]:
    """Input options for one source: only its protocol, only `formats` (or exactly `demuxer`),
    and with `limits`, frames no larger than allowed and (for a `whole` read) no more than the
    allowed duration."""
    options = {"protocol_whitelist": source.protocols, "format_whitelist": ",".join(formats)}
    if source.protocols != "file":
        # A stalled storage read fails the run instead of hanging it; a connection that breaks
        # mid-read is opened again where it broke (ranges), not the whole run retried.
        options |= {
            "rw_timeout": str(REMOTE_READ_TIMEOUT_S * 1_000_000),
            "reconnect": "1",
            "reconnect_on_network_error": "1",
            "reconnect_delay_max": "4",
        }
    if demuxer is not None:
        if demuxer not in formats:
            raise ValueError(f"demuxer {demuxer!r} is not among {formats}")
        options["f"] = demuxer
    if limits is not None:
        options["max_pixels"] = str(limits.max_frame_pixels)
        if whole:
            options["t"] = f"{limits.max_seconds + 1:g}"
    return options


def input_args(
    src: Path | Source, formats: tuple[str, ...], limits: DecodeLimits | None = None, demuxer: str | None = None
) -> list[str]:
    """The same as command-line words, ending with `-i <url>`."""
    source = as_source(src)
    words: list[str] = []
    for key, value in input_options(source, formats, limits, demuxer).items():
        words += [f"-{key}", value]
    return [*words, "-i", source.url]
