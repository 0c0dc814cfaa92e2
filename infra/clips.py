"""Generated test media (ffmpeg lavfi sources), for the sample run, the tests and benchmarks."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path


class ClipError(RuntimeError):
    pass


def lavfi(*graphs: str) -> list[str]:
    """ffmpeg's input options for generated sources (`testsrc2=…`, `sine=…`), one input each."""
    return [arg for graph in graphs for arg in ("-f", "lavfi", "-i", graph)]


def run_ffmpeg(args: list[str]) -> None:
    result = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise ClipError(f"ffmpeg could not make the clip: {result.stderr.strip()}")


def make_clip(
    path: Path,
    *,
    seconds: float = 2.0,
    width: int = 640,
    height: int = 360,
    fps: int = 25,
    audio: bool = True,
    rotate: int | None = None,
    pattern: str = "testsrc2",
    faststart: bool = True,
) -> Path:
    """An H.264/AAC MP4 of a moving test pattern and a tone; `rotate` remuxes a display matrix in,
    the way a phone records portrait video (ffmpeg 5.1 drops the tag during an encode).
    Without `faststart` the index (moov) is written after the media data, as cameras do."""
    path.parent.mkdir(parents=True, exist_ok=True)
    args = lavfi(f"{pattern}=size={width}x{height}:rate={fps}:duration={seconds}")
    if audio:
        args += lavfi(f"sine=frequency=440:sample_rate=48000:duration={seconds}")
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


# Sentences espeak-ng says clearly enough for the offline recogniser, one per scene.
SPEECH_SCENES = (
    "Welcome to the kitchen. Today we cook pasta with fresh tomato sauce.",
    "Our football team won the championship game last night.",
    "The president spoke about the economy and jobs.",
)
SCENE_PATTERNS = ("testsrc2", "smptehdbars", "cellauto")
VOICE = ("-v", "en-us+klatt2", "-s", "150", "-g", "6")
# Quick H.264 and AAC for generated test clips.
FAST_H264_AAC = ("-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac")


def make_speech_clip(
    path: Path,
    sentences: tuple[str, ...] = SPEECH_SCENES,
    *,
    scene_seconds: float = 12.0,
    width: int = 1280,
    height: int = 720,
    fps: int = 30,
    speech_at: float = 1.0,
) -> Path:
    """One scene per sentence, each a different picture; the sentence is spoken (espeak-ng) from
    speech_at seconds into its scene, over faint pink noise, as a room would sound."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        args, graph = [], []
        for i, _ in enumerate(sentences):
            pattern = SCENE_PATTERNS[i % len(SCENE_PATTERNS)]
            args += ["-t", str(scene_seconds), *lavfi(f"{pattern}=size={width}x{height}:rate={fps}")]
        for i, text in enumerate(sentences):
            wav = Path(tmp) / f"sentence_{i}.wav"
            result = subprocess.run(
                ["espeak-ng", *VOICE, "-w", str(wav), text], capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                raise ClipError(f"espeak-ng could not speak: {result.stderr.strip()}")
            args += ["-i", str(wav)]
            graph.append(
                f"[{len(sentences) + i}:a]aresample=48000,adelay={int(speech_at * 1000)}:all=1,"
                f"apad=whole_dur={scene_seconds},atrim=0:{scene_seconds}[s{i}]"
            )
        n = len(sentences)
        total = n * scene_seconds
        graph += [
            f"{''.join(f'[{i}:v]' for i in range(n))}concat=n={n}:v=1:a=0,format=yuv420p[v]",
            f"{''.join(f'[s{i}]' for i in range(n))}concat=n={n}:v=0:a=1[speech]",
            f"anoisesrc=colour=pink:amplitude=0.002:sample_rate=48000:duration={total}[noise]",
            "[speech][noise]amix=inputs=2:duration=first:normalize=0[a]",
        ]
        run_ffmpeg(
            [
                *args,
                "-filter_complex",
                ";".join(graph),
                "-map",
                "[v]",
                "-map",
                "[a]",
                *FAST_H264_AAC,
                "-b:a",
                "96k",
                "-movflags",
                "+faststart",
                str(path),
            ]
        )
    return path


def make_sample(path: Path) -> Path:
    """The `make run` sample: 36 s of 720p30 in three scenes, a sentence spoken in each."""
    return make_speech_clip(path)
