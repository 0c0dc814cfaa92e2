"""Time to playable and to ready by the video's length, beside Mux's published medians:

    .venv/bin/python bench/length.py [--minutes 1,10,60] [--kinds web,hevc10] [--ready-up-to 10]

The footage is real: opencv-doc's Megamind clip (`apt-get install opencv-doc`; 11 s of film),
encoded once at 1920x1080 and looped without re-encoding to each length. `web` is H.264 High 8-bit
4:2:0 with AAC, keyframes every 2 s (Mux's "standard input": it plays from its source, remuxed);
`hevc10` is HEVC Main 10, which browsers cannot be given as it is (it plays once encoded). Each
upload goes alone through a fresh local stack (its dispatcher, the four functions); the figures
are seconds from the storage insert, from database timestamps. Ready is waited for only up to
`--ready-up-to` minutes of video (an hour of 1080p takes most of an hour to encode and transcribe
on two cores). Not part of `make test`.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from uuid import UUID

from bench_options import options

from infra import queries
from infra.cli import upload
from infra.clips import run_ffmpeg
from infra.local.stack import LocalStack, StackState

FOOTAGE = Path("/usr/share/doc/opencv-doc/examples/data/Megamind.avi")
ENCODE = {
    "web": ["-c:v", "libx264", "-profile:v", "high", "-pix_fmt", "yuv420p", "-crf", "20"],
    "hevc10": ["-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-crf", "24", "-tag:v", "hvc1",
               "-x265-params", "log-level=error"],
}  # fmt: skip
# Mux's median time to publish (2023), standard input / all inputs, by duration in minutes.
MUX_MEDIANS = ((1, 1.8, 2.0), (5, 2.6, 3.3), (20, 5.5, 9.0), (60, 26.7, 46.4), (float("inf"), 50.1, 93.5))


def footage(work: Path, kind: str, minutes: float) -> Path:
    """`minutes` of 1080p footage: the clip encoded once, then looped without re-encoding."""
    if not FOOTAGE.exists():
        raise SystemExit(f"{FOOTAGE} is missing: apt-get install opencv-doc")
    base = work / f"base-{kind}.mp4"
    if not base.exists():
        run_ffmpeg(
            ["-i", str(FOOTAGE), "-vf", "scale=1920:1080,setsar=1", *ENCODE[kind], "-preset", "veryfast",
             "-g", "48", "-keyint_min", "48", "-sc_threshold", "0", "-c:a", "aac", "-b:a", "128k", "-ar", "48000",
             str(base)]
        )  # fmt: skip
    out = work / f"{kind}-{minutes:g}min.mp4"
    run_ffmpeg(
        ["-stream_loop", "-1", "-i", str(base), "-c", "copy", "-t", str(minutes * 60), "-movflags", "+faststart",
         str(out)]
    )  # fmt: skip
    return out


def mux_median(minutes: float, web_ready: bool) -> float:
    for up_to, standard, every in MUX_MEDIANS:
        if minutes <= up_to:
            return standard if web_ready else every
    raise AssertionError("unreachable")


def measure(state: StackState, clip: Path, wait_ready: bool, timeout: float) -> dict[str, float | None]:
    object_id: UUID = upload(state, clip)
    deadline = time.monotonic() + timeout
    with queries.connect(state.database_url) as conn:
        while time.monotonic() < deadline:
            rows = queries.job_timings(conn, object_id=object_id)
            row = rows[0] if rows else None
            if row is not None and (row["status"] == "failed" or row["total"] is not None):
                break
            if row is not None and row["playable"] is not None and not wait_ready:
                break
            time.sleep(0.2)
        else:
            raise SystemExit(f"{clip.name} did not finish within {timeout:g} s")
    if row["status"] == "failed":
        raise SystemExit(f"{clip.name} failed: {row}")
    playable, total = row["playable"], row["total"]
    return {"playable": None if playable is None else float(playable), "ready": None if total is None else float(total)}


def main() -> None:
    args = options(__doc__, minutes="1,10,60", kinds="web,hevc10", ready_up_to=10.0, timeout=7200.0)
    work = Path(tempfile.mkdtemp(prefix="vidpipe-bench-length-"))
    stack = LocalStack(work / "stack")
    state = stack.up()
    print("kind     minutes  MB      playable s  ready s   Mux median s")
    try:
        for kind in args.kinds.split(","):
            for minutes in (float(m) for m in args.minutes.split(",")):
                clip = footage(work, kind, minutes)
                got = measure(state, clip, minutes <= args.ready_up_to, args.timeout)
                mb = clip.stat().st_size / 1e6
                clip.unlink()

                def shown(value: float | None) -> str:
                    return "-" if value is None else f"{value:.1f}"

                print(
                    f"{kind:8} {minutes:7g}  {mb:6.0f}  {shown(got['playable']):>10}  {shown(got['ready']):>7}"
                    f"   {mux_median(minutes, kind == 'web'):>6}",
                    flush=True,
                )
    finally:
        stack.destroy()


if __name__ == "__main__":
    main()
