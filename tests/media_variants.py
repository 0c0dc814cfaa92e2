"""Generated clips shaped like what people really upload, each 2 s with a moving pattern."""

from __future__ import annotations

from pathlib import Path

from infra.clips import FAST_H264_AAC, lavfi, make_clip, run_ffmpeg

PATTERN = "testsrc2=size={size}:rate={rate}:duration=2"
TONE = "sine=frequency=440:sample_rate=48000:duration=2"


def _make(path: Path, video: list[str], audio: list[str] | None, extra_inputs: list[str] | None = None) -> Path:
    args = lavfi(PATTERN.format(size="320x240", rate=25))
    if audio is not None:
        args += lavfi(TONE)
    run_ffmpeg([*args, *(extra_inputs or []), *video, *(audio or []), "-shortest", str(path)])
    return path


def _encoded(path: Path, *args: str) -> Path:
    """A clip ffmpeg makes from `args` (inputs and filters), encoded fast as H.264/AAC."""
    run_ffmpeg([*args, *FAST_H264_AAC, "-shortest", str(path)])
    return path


def make_variants(root: Path) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    v: dict[str, Path] = {}
    v["phone_rotated"] = make_clip(root / "phone.mp4", seconds=2, width=320, height=240, rotate=90)
    v["no_audio"] = make_clip(root / "silent.mp4", seconds=2, width=320, height=240, audio=False)
    # 30 fps for a second, then 10 fps: timestamps the container cannot describe by one rate.
    second = PATTERN.replace("duration=2", "duration=1")
    v["variable_frame_rate"] = _encoded(
        root / "vfr.mp4",
        *lavfi(second.format(size="320x240", rate=30), second.format(size="320x240", rate=10), TONE),
        *("-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]", "-map", "2:a", "-fps_mode", "vfr"),
    )
    v["ten_bit"] = _make(
        root / "ten_bit.mp4", ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le"], ["-c:a", "aac"]
    )
    # 4:4:4 chroma allows odd sizes, which a 4:2:0 proxy cannot keep.
    v["odd_dimensions"] = _encoded(
        root / "odd.mp4",
        *lavfi(PATTERN.format(size="322x242", rate=25), TONE),
        "-vf",
        "format=yuv444p,crop=321:241:0:0",
    )
    six = "[1:a]pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0[a]"  # one tone in all six channels
    v["surround_5_1"] = _encoded(
        root / "surround.mp4",
        *lavfi(PATTERN.format(size="320x240", rate=25), TONE),
        *("-filter_complex", six, "-map", "0:v", "-map", "[a]"),
    )
    v["webm_vp9"] = _make(
        root / "clip.webm",
        ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k"],
        ["-c:a", "libopus"],
    )
    v["mkv_hevc"] = _make(
        root / "clip.mkv",
        ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error"],
        ["-c:a", "aac"],
    )
    v["mov_prores"] = _make(root / "clip.mov", ["-c:v", "prores_ks", "-profile:v", "0"], ["-c:a", "pcm_s16le"])
    return v
