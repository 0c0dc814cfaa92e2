"""The bad uploads people really make, generated, with the reason each must end with.

Used by the integration matrix (through the ingest function) and the end-to-end test (through
the whole stack). Limits are lowered so "too long" and "too large" stay small files."""

from __future__ import annotations

import random
import struct
from pathlib import Path

from infra.clips import lavfi, make_clip, run_ffmpeg

MAX_DURATION_SECONDS = 30
MAX_UPLOAD_BYTES = 5_000_000
MAX_VIDEO_FRAMES = 1000  # a 30 s clip at 30 fps has 900
MAX_FRAME_PIXELS = 1920 * 1088
MAX_PIXELS_PER_SECOND = 1280 * 720 * 40  # the 720p samples at 30 fps pass
LIMITS_ENV = {
    "VIDPIPE_MAX_DURATION_SECONDS": str(MAX_DURATION_SECONDS),
    "VIDPIPE_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
    "VIDPIPE_MAX_VIDEO_FRAMES": str(MAX_VIDEO_FRAMES),
    "VIDPIPE_MAX_FRAME_PIXELS": str(MAX_FRAME_PIXELS),
    "VIDPIPE_MAX_PIXELS_PER_SECOND": str(MAX_PIXELS_PER_SECOND),
}
# Where a playlist's entry leads: another owner's folder beside the uploader's.
OTHER_OWNERS_FILE = "../00000000-0000-4000-8000-0000000000ff/their-video.mp4"

# file name -> (reason code, words the human message must contain)
BAD_FILES: dict[str, tuple[str, str]] = {
    "empty.mp4": ("empty_file", "empty"),
    "random.mp4": ("not_a_video", "media container"),
    "picture.mov": ("not_a_video", "still image"),
    "voice.m4a": ("not_a_video", "audio only"),
    "moov_missing.mp4": ("truncated", "moov"),
    "cut_short.mp4": ("truncated", "cut short"),
    "garbled.mp4": ("undecodable", "decoding the first video frame"),
    "absurd_size.mp4": ("bad_dimensions", "frame size"),
    "too_wide.mp4": ("bad_dimensions", "10000x16"),
    "huge_frames.mkv": ("bad_dimensions", "2048x2048"),
    "pixel_flood.mp4": ("too_many_pixels", "million pixels a second"),
    # Files that name other files: refused before any of them is opened.
    "playlist.mp4": ("unsupported_container", "(hls)"),
    "concat_list.mp4": ("unsupported_container", "(concat)"),
    # Containers whose header hides what follows: caught where the frames are decoded (process).
    "smuggled_size.ts": ("bad_dimensions", "2048x2048"),
    "smuggled_length.ts": ("too_long", "decodes to more than 30 s"),
    "too_long.mp4": ("too_long", "limit"),
    "flicker_1000fps.mp4": ("frame_rate_too_high", "1000 frames a second"),
    "many_frames.mp4": ("too_many_frames", "1200 frames"),
    "many_streams.mkv": ("too_many_streams", "40 streams"),
    "too_large.mp4": ("too_large", "limit"),
}


# Caught only by decoding: ingest accepts them, process fails them.
CAUGHT_IN_PROCESS = {"smuggled_size.ts", "smuggled_length.ts"}


def _lying_avi(path: Path, width: int, height: int) -> Path:
    """A raw-video AVI whose headers declare any frame size over a few small frames."""
    run_ffmpeg(
        ["-f", "lavfi", "-i", "testsrc=size=16x16:rate=5:duration=1", "-c:v", "rawvideo", "-f", "avi", str(path)]
    )
    data = bytearray(path.read_bytes())
    struct.pack_into("<ii", data, data.index(b"strf") + 12, width, height)  # BITMAPINFOHEADER
    struct.pack_into("<ii", data, data.index(b"avih") + 40, width, height)  # the main header
    path.write_bytes(bytes(data))
    return path


def _ts(path: Path, size: str, seconds: int) -> bytes:
    run_ffmpeg(
        ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=10:duration={seconds}", "-c:v", "libx264",
         "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-f", "mpegts", str(path)]
    )  # fmt: skip
    return path.read_bytes()


def make_flicker(path: Path, seconds: float, fps: int, size: int = 16) -> Path:
    """The attack: a tiny file where nearly every frame is a scene cut. A steady black-white
    alternation is not one (scdet scores the change of the change): the grey jumps about."""
    run_ffmpeg(
        ["-f", "lavfi", "-i", f"color=black:size={size}x{size}:rate={fps}:duration={seconds}",
         "-vf", "geq=lum='255*mod(N*N*7,17)/16':cb=128:cr=128", "-c:v", "libx264", "-preset", "ultrafast",
         "-pix_fmt", "yuv420p", str(path)]
    )  # fmt: skip
    return path


def plant_other_owners_video(uploads: Path, clip: Path) -> None:
    """Put a video where the playlist and the concat list lead, so that following them would
    find one: in the uploads bucket, under the folder beside the uploader's."""
    target = uploads / OTHER_OWNERS_FILE.removeprefix("../")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(clip.read_bytes())
    target.chmod(0o600)  # as the storage keeps every file


def make_bad_files(root: Path) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20261125)  # noqa: S311  # reproducible junk, not a secret
    files: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        (root / name).write_bytes(data)
        files[name] = root / name

    put("empty.mp4", b"")
    put("random.mp4", rng.randbytes(64 * 1024))
    run_ffmpeg(
        [
            *lavfi("testsrc=size=160x120"),
            "-frames:v",
            "1",
            "-f",
            "image2",
            "-c:v",
            "png",
            str(root / "picture.mov"),
        ]
    )
    files["picture.mov"] = root / "picture.mov"
    run_ffmpeg(["-f", "lavfi", "-i", "sine=duration=2", "-c:a", "aac", str(root / "voice.m4a")])
    files["voice.m4a"] = root / "voice.m4a"

    # The index after the media data, and the upload stopped halfway: no moov at all.
    camera = make_clip(root / "camera.mp4", seconds=2, width=320, height=240, faststart=False).read_bytes()
    put("moov_missing.mp4", camera[: len(camera) // 2])
    # The index first, then the media data stops before the first frame is whole.
    streamed = make_clip(root / "streamed.mp4", seconds=2, width=320, height=240).read_bytes()
    mdat = streamed.index(b"mdat") + 4
    put("cut_short.mp4", streamed[: mdat + 64])
    # A sound index over media data that is noise.
    put("garbled.mp4", streamed[: mdat + 64] + rng.randbytes(len(streamed) - mdat - 64))

    files["absurd_size.mp4"] = _lying_avi(root / "absurd_size.mp4", 100_000, 100_000)
    files["too_wide.mp4"] = make_clip(root / "too_wide.mp4", seconds=1, width=10_000, height=16, fps=5, audio=False)
    files["huge_frames.mkv"] = make_clip(root / "huge_frames.mkv", seconds=1, width=2048, height=2048, fps=2)
    files["pixel_flood.mp4"] = make_clip(root / "pixel_flood.mp4", seconds=1, width=640, height=360, fps=200)
    put("playlist.mp4", f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n{OTHER_OWNERS_FILE}\n#EXT-X-ENDLIST\n".encode())
    put("concat_list.mp4", f"ffconcat version 1.0\nfile '{OTHER_OWNERS_FILE}'\nduration 1\n".encode())
    # A small picture for the probe, then frames far larger, in one stream of one file.
    put("smuggled_size.ts", _ts(root / "small.ts", "320x240", 2) + _ts(root / "large.ts", "2048x2048", 1))
    # Timestamps that start again: the container says 10 s, the decoder sees 40 s.
    put("smuggled_length.ts", _ts(root / "ten.ts", "64x64", 10) * 4)
    files["too_long.mp4"] = make_clip(
        root / "too_long.mp4", seconds=MAX_DURATION_SECONDS + 2, width=32, height=32, fps=1, audio=False
    )
    files["flicker_1000fps.mp4"] = make_flicker(root / "flicker_1000fps.mp4", seconds=2, fps=1000)
    files["many_frames.mp4"] = make_clip(
        root / "many_frames.mp4", seconds=20, width=32, height=32, fps=60, audio=False
    )  # within every limit but the number of frames
    run_ffmpeg(
        ["-f", "lavfi", "-i", "testsrc2=size=32x32:rate=5:duration=1", "-f", "lavfi", "-i", "sine=duration=1",
         "-map", "0:v", *(["-map", "1:a"] * 39), "-c:v", "libx264", "-c:a", "aac", "-b:a", "8k",
         str(root / "many_streams.mkv")]
    )  # fmt: skip
    files["many_streams.mkv"] = root / "many_streams.mkv"
    big = root / "too_large.mp4"
    with big.open("wb") as f:
        f.truncate(MAX_UPLOAD_BYTES + 1)  # sparse: the size check comes before any read
    files["too_large.mp4"] = big
    assert set(files) == set(BAD_FILES)
    return files
