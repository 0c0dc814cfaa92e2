"""Generated test media (ffmpeg lavfi sources), for the sample run, the tests and benchmarks."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path


class ClipError(RuntimeError):
    pass


def run_ffmpeg(args: list[str]) -> None:
    result = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", *args],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ClipError(f"ffmpeg could not make the clip: {result.stderr.strip()}")


def make_clip(path: Path, *, seconds: float = 2.0, width: int = 640, height: int = 360, fps: int = 25,
              audio: bool = True, rotate: int | None = None, pattern: str = "testsrc2",
              faststart: bool = True) -> Path:
    """An H.264/AAC MP4 of a moving test pattern and a tone; `rotate` remuxes a display matrix in,
    the way a phone records portrait video (ffmpeg 5.1 drops the tag during an encode).
    Without `faststart` the index (moov) is written after the media data, as cameras do."""
    path.parent.mkdir(parents=True, exist_ok=True)
    args = ["-f", "lavfi", "-i", f"{pattern}=size={width}x{height}:rate={fps}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", str(fps)]
    if audio:
        args += ["-c:a", "aac", "-b:a", "96k"]
    args += ["-shortest", *(["-movflags", "+faststart"] if faststart else [])]
    if rotate is None:
        run_ffmpeg([*args, str(path)])
        return path
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "plain.mp4"
        run_ffmpeg([*args, str(plain)])
        run_ffmpeg(["-i", str(plain), "-c", "copy", "-metadata:s:v:0", f"rotate={rotate}", str(path)])
    return path


def make_sample(path: Path) -> Path:
    """The `make run` sample: 10 s of 720p30 video with a tone."""
    return make_clip(path, seconds=10, width=1280, height=720, fps=30)

