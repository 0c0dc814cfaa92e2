"""Upload-to-ready time on the local stack, and how much of it is the pipeline's own overhead.

    .venv/bin/python bench/pipeline.py [--runs 5] [--clip sample|1080p]

For the `make run` sample (36 s of 1280x720 30 fps H.264/AAC in three scenes, a sentence spoken
in each), or the same made at 1920x1080 in three 10 s scenes (30 s), it reports, per run, the
time from the storage insert to `ready` (database timestamps); the media time: the same work the
steps do (ingest's probe and first-frame decode, process's probe and one-run render,
generate_metadata's transcription with a loaded model), timed on its own; and the floor: one
ffmpeg run that decodes the source and encodes only the proxy (bench/process.py's). Overhead =
ready - media; the goal for ready / floor is ≤ 1.5.
Not part of `make test`: figures on a shared machine are for reading, not asserting.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from process import floor_command, measured  # bench/process.py, beside this file

from infra import queries
from infra.cli import upload, wait_for_job
from infra.clips import make_sample, make_speech_clip
from infra.local.stack import LocalStack
from shared.adapters.whisper_transcriber import WhisperTranscriber
from shared.config import IngestLimits, RenditionSettings, Settings
from shared.content.transcript import transcribe
from shared.media.confine import DecodeLimits
from shared.media.models import MadeBy
from shared.media.plan import plan_for
from shared.media.probe import check_decodes, probe, video_streams
from shared.media.renditions import render
from shared.metadata.technical import technical_from_probe

ENGINE = WhisperTranscriber(Settings().model_cache_dir)  # loaded once, as in a warm function


def media_seconds(clip: Path) -> float:
    started = time.perf_counter()
    info = probe(clip)  # ingest
    check_decodes(clip, "mov", int(video_streams(info)[0]["index"]))
    info = probe(clip)  # process
    tech = technical_from_probe(info, MadeBy(tool="ffprobe", version="bench"))
    with tempfile.TemporaryDirectory() as out:
        result = render(
            clip, Path(out), tech, RenditionSettings().rendition_options(), DecodeLimits.from_settings(IngestLimits())
        )
        wav = next(r for r in result.renditions if r.kind == "audio").main.local
        transcribe(ENGINE, wav, result.analysis.silent_segments or [], tech.duration_seconds or 0.0)
    return time.perf_counter() - started


def floor_seconds(clip: Path) -> float:
    """Wall time of one ffmpeg run that decodes the source and encodes only the proxy."""
    opts = RenditionSettings().rendition_options()
    tech = technical_from_probe(probe(clip), MadeBy(tool="ffprobe", version="bench"))
    with tempfile.TemporaryDirectory() as out:
        return measured(floor_command(clip, Path(out), *plan_for(Path(out), tech, opts).proxy, opts)).wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--clip", choices=["sample", "1080p"], default="sample")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vidpipe-bench-"))
    if args.clip == "sample":
        clip = make_sample(work / "sample.mp4")
    else:
        clip = make_speech_clip(work / "hd.mp4", scene_seconds=10.0, width=1920, height=1080)
    stack = LocalStack(work / "home")
    state = stack.up()
    rows = []
    try:
        wait_for_job(state, upload(state, clip), 300)  # warm-up: first imports, pools, connections
        for _ in range(args.runs):
            object_id = upload(state, clip)
            job = wait_for_job(state, object_id, 300)
            assert job is not None and job["status"] == "ready", job
            with queries.connect(state.database_url) as conn:
                (timing,) = queries.job_timings(conn, job_id=job["id"])
            media = media_seconds(clip)
            rows.append((float(timing["total"]), media, floor_seconds(clip)))
    finally:
        stack.down()
    print(f"{'run':>3} {'ready s':>8} {'media s':>8} {'overhead s':>10} {'floor s':>8} {'ready/floor':>11}")
    for i, (ready, media, floor) in enumerate(rows, 1):
        print(f"{i:>3} {ready:8.2f} {media:8.2f} {ready - media:10.2f} {floor:8.2f} {ready / floor:11.2f}")
    med = [statistics.median(col) for col in zip(*rows, strict=True)]
    print(f"med {med[0]:8.2f} {med[1]:8.2f} {med[0] - med[1]:10.2f} {med[2]:8.2f} {med[0] / med[2]:11.2f}")


if __name__ == "__main__":
    main()
