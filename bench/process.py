"""What the process step costs against the floor and against the naive way.

    .venv/bin/python bench/process.py [--lengths 10 60] [--memory-lengths 10 120] [--runs 5]

On generated 1920x1080 30 fps H.264/AAC clips it measures, in fresh child processes (CPU is
user + system of the child and everything it waited for; medians of --runs rounds in turns):
  (a) the process step's media work: probe, the play-first remux of a web-ready source, the
      single ffmpeg run, parsing, output probes, timed inside a warm interpreter as in a running
      function (the remux's own share is printed too);
  (b) the floor: one ffmpeg run that decodes the source and encodes only the proxy;
  (c) the naive way: one ffmpeg run per artifact or measurement, each decoding the source.
and reports a/b (goal ≤ 1.2) and c/a (goal ≥ 2). Then the peak RSS of the step (its Python
process and its largest ffmpeg child) for short and long clips. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from infra.clips import make_clip  # noqa: E402
from shared.config import IngestLimits, RenditionSettings  # noqa: E402
from shared.media.confine import DecodeLimits  # noqa: E402
from shared.media.models import MadeBy  # noqa: E402
from shared.media.plan import RenditionOptions, plan_for  # noqa: E402
from shared.media.probe import probe  # noqa: E402
from shared.media.renditions import render  # noqa: E402
from shared.media.web_ready import not_web_ready, remux_hls  # noqa: E402
from shared.metadata.technical import technical_from_probe  # noqa: E402


@dataclass
class Cost:
    cpu: float  # seconds of CPU, all processes
    wall: float  # seconds
    maxrss_mb: float


def measured(cmd: list[str]) -> Cost:
    """Run a command in a child; CPU and peak RSS from wait4, which counts its reaped children."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:6])}… failed: {proc.stderr.read().decode()[-500:] if proc.stderr else ''}")
    return Cost(cpu=usage.ru_utime + usage.ru_stime, wall=wall, maxrss_mb=usage.ru_maxrss / 1024)


def step_command(clip: Path) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--step", str(clip)]


def run_step(clip: Path) -> None:
    """The child for (a): what process_job does to the media, minus storage, timed from inside
    a warm interpreter as in a running function (imports and start-up are not the step's)."""
    import resource

    def cpu() -> float:
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    before, started = cpu(), time.perf_counter()
    settings, limits = RenditionSettings(), DecodeLimits.from_settings(IngestLimits())
    with tempfile.TemporaryDirectory() as out:
        info = probe(clip)
        tech = technical_from_probe(info, MadeBy(tool="ffprobe", version="bench"))
        remux_cpu, remux_started = cpu(), time.perf_counter()
        if not not_web_ready(tech):  # play first, as process_job does
            remux_hls(clip, Path(out), tech, settings.hls_segment_seconds, limits)
        remux = {"remux_cpu": cpu() - remux_cpu, "remux_wall": time.perf_counter() - remux_started}
        render(clip, Path(out), tech, settings.rendition_options(), limits)
    print(
        json.dumps(
            {
                "cpu": cpu() - before,
                "wall": time.perf_counter() - started,
                "python_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "ffmpeg_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                **remux,
            }
        ),
        file=sys.stderr,
    )


def step(clip: Path) -> dict[str, float]:
    done = subprocess.run(step_command(clip), capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stderr.strip().splitlines()[-1])
    return result


REMUX: list[tuple[float, float]] = []  # each step's play-first remux: CPU s, wall s


def repeat_step(clip: Path, runs: int) -> Cost:
    results = [step(clip) for _ in range(runs)]
    REMUX.extend((r["remux_cpu"], r["remux_wall"]) for r in results)
    return Cost(
        cpu=statistics.median(r["cpu"] for r in results),
        wall=statistics.median(r["wall"] for r in results),
        maxrss_mb=max(r["python_mb"] for r in results),
    )


def floor_command(clip: Path, out: Path, w: int, h: int, opts: RenditionOptions) -> list[str]:
    return [
        "ffmpeg",
        "-v",
        "error",
        "-nostdin",
        "-y",
        "-i",
        str(clip),
        "-map",
        "0:v:0",
        "-map",
        "0:a:0",
        "-vf",
        f"scale={w}:{h},setsar=1",
        "-c:v",
        "libx264",
        "-preset",
        opts.proxy_preset,
        "-crf",
        str(opts.proxy_crf),
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-ac",
        "2",
        "-b:a",
        opts.audio_bitrate,
        "-movflags",
        "+faststart",
        str(out / "proxy.mp4"),
    ]


def naive_commands(clip: Path, out: Path, opts: RenditionOptions) -> dict[str, list[str]]:
    """One run per artifact or measurement, as a pipeline without a shared decode would do it."""
    tech = technical_from_probe(probe(clip), MadeBy(tool="ffprobe", version="bench"))
    plan = plan_for(out, tech, opts)
    base = ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(clip)]
    (tw, th), (aw, ah) = plan.proxy, plan.analysis
    sb = plan.storyboard
    video = [*base, "-an", "-map", "0:v:0"]
    audio = [*base, "-vn", "-map", "0:a:0"]
    return {
        "proxy": floor_command(clip, out, *plan.proxy, opts),
        "wav": [*audio, "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", str(out / "audio.wav")],
        "thumbnails": [
            *video,
            "-vf",
            f"fps=1/{plan.thumbnail_interval},scale={tw}:{th}",
            "-q:v",
            "3",
            str(out / "thumb_%04d.jpg"),
        ],
        "poster stats": [
            *video,
            "-vf",
            f"fps=1/{plan.thumbnail_interval},scale={tw}:{th},signalstats,"
            f"metadata=print:file={out / 'stats.txt'},edgedetect,signalstats,"
            f"metadata=print:file={out / 'edges.txt'}",
            "-f",
            "null",
            "-",
        ],
        "storyboard": [
            *video,
            "-vf",
            f"fps=1/{sb.interval_seconds},scale={sb.tile_width}:{sb.tile_height},tile={sb.columns}x{sb.rows}",
            "-q:v",
            "4",
            str(out / "sprite_%03d.jpg"),
        ],
        "scene scores": [
            *video,
            "-vf",
            f"scale={aw}:{ah},scdet=threshold={opts.scene_threshold},metadata=print:file={out / 'scores.txt'}",
            "-f",
            "null",
            "-",
        ],
        "scene thumbnails": [
            *video,
            "-vf",
            f"scale={aw}:{ah},scdet=threshold={opts.scene_threshold},metadata=mode=select:key=lavfi.scd.time",
            "-fps_mode",
            "passthrough",
            "-q:v",
            "3",
            str(out / "scene_%04d.jpg"),
        ],
        "black": [*video, "-vf", f"scale={aw}:{ah},blackdetect=d=0.5:pix_th=0.10", "-f", "null", "-"],
        "loudness": [*audio, "-af", "ebur128=peak=true:framelog=verbose", "-f", "null", "-"],
        "silence": [*audio, "-af", "silencedetect=n=-50dB:d=0.5", "-f", "null", "-"],
    }


def compare(clip: Path, seconds: int, runs: int) -> dict[str, float]:
    """a, b and c measured in turns, `runs` rounds, so a drift in the machine's load (it is
    shared) hits all three alike; medians per measurement."""
    opts = RenditionSettings().rendition_options()
    tech = technical_from_probe(probe(clip), MadeBy(tool="ffprobe", version="bench"))
    a_runs: list[Cost] = []
    b_runs: list[Cost] = []
    naive_runs: dict[str, list[Cost]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        floor = floor_command(clip, out, *plan_for(out, tech, opts).proxy, opts)
        naive = naive_commands(clip, out, opts)
        for _ in range(runs):
            a_runs.append(repeat_step(clip, 1))
            b_runs.append(measured(floor))
            for name, cmd in naive.items():
                naive_runs.setdefault(name, []).append(measured(cmd))

    def median(costs: list[Cost]) -> Cost:
        return Cost(
            cpu=statistics.median(c.cpu for c in costs),
            wall=statistics.median(c.wall for c in costs),
            maxrss_mb=max(c.maxrss_mb for c in costs),
        )

    a, b = median(a_runs), median(b_runs)
    per_artifact = {name: median(costs) for name, costs in naive_runs.items()}
    print(
        f"\n{seconds} s clip: of (a), the play-first remux: CPU {statistics.median(c for c, _ in REMUX):.2f} s, "
        f"wall {statistics.median(w for _, w in REMUX):.2f} s"
    )
    REMUX.clear()
    print(
        f"\n{seconds} s clip: naive runs (CPU s): "
        + ", ".join(f"{name} {cost.cpu:.1f}" for name, cost in per_artifact.items())
    )
    return {
        "seconds": seconds,
        "a_cpu": a.cpu,
        "a_wall": a.wall,
        "b_cpu": b.cpu,
        "b_wall": b.wall,
        "c_cpu": sum(x.cpu for x in per_artifact.values()),
        "c_wall": sum(x.wall for x in per_artifact.values()),
    }


def peak_memory(clip: Path) -> tuple[float, float]:
    result = step(clip)
    return result["python_mb"], result["ffmpeg_mb"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--step", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--lengths", type=int, nargs="+", default=[10, 60])
    parser.add_argument("--memory-lengths", type=int, nargs="+", default=[10, 120])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.step:
        run_step(args.step)
        return
    work = Path(tempfile.mkdtemp(prefix="vidpipe-bench-process-"))
    clips = {
        s: make_clip(work / f"clip_{s}s.mp4", seconds=s, width=1920, height=1080, fps=30)
        for s in sorted({*args.lengths, *args.memory_lengths})
    }
    rows = [compare(clips[s], s, args.runs) for s in args.lengths]
    print(f"\nCPU and wall seconds, median of {args.runs} (1920x1080 30 fps H.264/AAC source, 720p proxy):\n")
    print("| clip | (a) process step | (b) floor: decode + proxy | (c) naive: a run per artifact | a/b | c/a |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['seconds']} s | {r['a_cpu']:.1f} CPU s / {r['a_wall']:.1f} s | {r['b_cpu']:.1f} / "
            f"{r['b_wall']:.1f} s | {r['c_cpu']:.1f} / {r['c_wall']:.1f} s | {r['a_cpu'] / r['b_cpu']:.2f} "
            f"(wall {r['a_wall'] / r['b_wall']:.2f}) | {r['c_cpu'] / r['a_cpu']:.2f} "
            f"(wall {r['c_wall'] / r['a_wall']:.2f}) |"
        )
    print("\nPeak RSS of the process step:\n\n| clip | Python | largest ffmpeg |\n|---|---|---|")
    for s in args.memory_lengths:
        python_mb, ffmpeg_mb = peak_memory(clips[s])
        print(f"| {s} s | {python_mb:.0f} MB | {ffmpeg_mb:.0f} MB |")


if __name__ == "__main__":
    main()
