"""What a hostile tenant's cheapest attacks cost, measured (run by hand, not part of `make test`):

    PYTHONPATH=. .venv/bin/python bench/hostile.py [--endpoints 8] [--flicker-seconds 120]

(PYTHONPATH: it borrows the tests' hostile endpoint and flicker clip.)

1. One send to an endpoint that answers one byte every 2 s, with a 3 s send timeout.
2. On a fresh local stack (production defaults), a tenant with N such endpoints uploads a
   video; then another owner uploads one. Reported: the other owner's wait between `processed`
   and `describing` and from upload to ready, and whether every send to the dripping endpoints
   is in webhook_attempts.
3. A 2-minute 2x2 video at 1000 fps whose every frame is a scene cut: the time ingest takes to
   refuse it, and, with the frame-rate limit lifted, the process step's time, the scene cuts and
   thumbnails it keeps, and the time to make chapters of them.
4. Uploads that decoding would betray, with the production limits: 8192x4320 frames at 60 fps
   (refused at ingest: the time, and the process step's time and peak memory with the limit
   lifted), and an MPEG-TS of 320x240 frames then one of 12000x12000 (which ingest accepts on
   its header): the process step's time, and ffmpeg's peak memory, until the decoder refuses it.
"""

from __future__ import annotations

import multiprocessing
import resource
import tempfile
import time
import uuid
from pathlib import Path

from bench_options import options

from infra import queries
from infra.cli import upload
from infra.clips import make_clip, run_ffmpeg
from infra.local.stack import LocalStack, StackState
from infra.local.uploads import store_upload
from shared.config import IngestLimits, RenditionSettings, Settings
from shared.content.chapters import chapters
from shared.domain import PipelineError
from shared.media.confine import DecodeLimits
from shared.media.models import MadeBy
from shared.media.probe import FfmpegProbe, probe
from shared.media.renditions import render
from shared.metadata.technical import technical_from_probe
from shared.net_guard import LOOPBACK
from shared.signing import new_secret
from shared.usecases.ingest import check_media
from shared.webhooks import post_to_endpoint
from tests.bad_inputs import make_flicker
from tests.receiver import Dripper


def one_send() -> None:
    dripper = Dripper(every=2.0)
    started = time.monotonic()
    sent = post_to_endpoint(dripper.url, new_secret(), "msg_bench", "{}", 3.0, allowed=LOOPBACK)
    dripper.close()
    print(f"1. one send, 3 s timeout, a byte every 2 s: {time.monotonic() - started:.2f} s ({sent.error})")


def wait_ready(conn: queries.Conn, object_id: uuid.UUID, timeout: float) -> queries.Row:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = queries.job_timings(conn, object_id=object_id)
        if rows and rows[0]["status"] in ("ready", "failed"):
            return rows[0]
        time.sleep(0.2)
    raise SystemExit(f"upload {object_id} did not finish in {timeout:.0f} s")


def hostile_tenant(state: StackState, clip: Path, endpoints: int) -> None:
    drippers = [Dripper(every=2.0) for _ in range(endpoints)]
    attacker = uuid.uuid4()
    with queries.connect(state.database_url) as conn:
        queries.added_user(conn, attacker)
        for d in drippers:
            queries.created_endpoint(conn, d.url, None, None, attacker)
        with clip.open("rb") as source:
            attack = store_upload(
                state.database_url,
                state.storage_root,
                f"{attacker}/attack.mp4",
                source,
                clip.stat().st_size,
                owner=str(attacker),
            )
        wait_ready(conn, attack, 300)
        time.sleep(2)  # the attacker's deliveries are under way
        victim = upload(state, clip)
        row = wait_ready(conn, victim, 300)
        print(
            f"2. with {endpoints} dripping endpoints on another owner: processed -> describing "
            f"{float(row['describe_hop']):.2f} s, upload -> ready {float(row['total']):.2f} s"
        )
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if queries.open_deliveries(conn) == 0 or sum(d.connections for d in drippers) >= 3 * endpoints:
                break
            time.sleep(1)
        while queries.deliveries_sending(conn):
            time.sleep(0.2)  # the sends under way end (by their deadline) and are recorded
        sends = sum(d.connections for d in drippers)
        attempts = queries.attempt_summary(conn)
        print(
            f"   sends to the dripping endpoints: {sends}; attempts recorded: {attempts['n']}; "
            f"longest {attempts['longest_ms']} ms"
        )
    for d in drippers:
        d.close()


def flicker(seconds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = make_flicker(Path(tmp) / "flicker.mp4", seconds=seconds, fps=1000, size=2)
        started = time.monotonic()
        try:
            check_media(FfmpegProbe(DecodeLimits.from_settings(IngestLimits())), src, Settings())
            refusal = "accepted"
        except PipelineError as exc:
            refusal = f"{exc.reason}: {exc}"
        took = time.monotonic() - started
        print(f"3. {seconds} s at 1000 fps, {src.stat().st_size} bytes: ingest {took:.2f} s, {refusal}")
        tech = technical_from_probe(probe(src), MadeBy(tool="ffprobe", version="bench"))
        started = time.monotonic()
        result = render(
            src,
            Path(tmp) / "work",
            tech,
            RenditionSettings().rendition_options(),
            DecodeLimits.from_settings(IngestLimits()),
        )
        rendered = time.monotonic() - started
        scene_files = len(list((Path(tmp) / "work" / "thumbnails").glob("scene_*")))
        cuts = result.analysis.scene_cuts
        started = time.monotonic()
        made = chapters(float(seconds), cuts, [])
        print(
            f"   with the limit lifted: process {rendered:.1f} s, {len(cuts)} cuts kept, "
            f"{scene_files} scene thumbnails, {len(made)} chapters in {time.monotonic() - started:.3f} s"
        )


def decoded(src: Path, work: Path, settings: Settings) -> str:
    """The process step's media work on `src` in a child of its own, so that the peak memory is
    its ffmpeg's alone: its time, that peak and its verdict."""
    with multiprocessing.get_context("fork").Pool(1) as pool:
        said: str = pool.apply(_decode, (src, work, settings))
    return said


def _decode(src: Path, work: Path, settings: Settings) -> str:
    started = time.monotonic()
    try:
        tech = technical_from_probe(probe(src, limits=DecodeLimits.from_settings(settings)), BY)
        render(src, work, tech, RenditionSettings().rendition_options(), DecodeLimits.from_settings(settings))
        verdict = "rendered"
    except PipelineError as exc:
        verdict = f"{exc.reason}: {exc}"
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # its largest child
    return f"{time.monotonic() - started:.1f} s, ffmpeg peak {peak:.0f} MB, {verdict}"


def betrayals() -> None:
    settings = Settings()
    with tempfile.TemporaryDirectory() as tmp:
        flood = make_clip(Path(tmp) / "flood.mp4", seconds=1, width=8192, height=4320, fps=60, audio=False)
        started = time.monotonic()
        try:
            check_media(FfmpegProbe(DecodeLimits.from_settings(settings)), flood, settings)
            refusal = "accepted"
        except PipelineError as exc:
            refusal = f"{exc.reason}: {exc}"
        took = time.monotonic() - started
        print(f"4. 1 s of 8192x4320 at 60 fps, {flood.stat().st_size} bytes: ingest {took:.2f} s, {refusal}")
        lifted = settings.model_copy(update={"max_pixels_per_second": 1e12})
        print(f"   with the limit lifted, process: {decoded(flood, Path(tmp) / 'a', lifted)}")
        parts = []
        for size, name in (("320x240", "small.ts"), ("12000x12000", "large.ts")):
            run_ffmpeg(
                ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=10:duration=1", "-frames:v", "2", "-c:v", "libx264",
                 "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-f", "mpegts", str(Path(tmp) / name)]
            )  # fmt: skip
            parts.append((Path(tmp) / name).read_bytes())
        smuggled = Path(tmp) / "smuggled.ts"
        smuggled.write_bytes(b"".join(parts))
        print(f"   320x240 then 12000x12000 in one MPEG-TS, process: {decoded(smuggled, Path(tmp) / 'b', settings)}")


BY = MadeBy(tool="ffprobe", version="bench")


def main() -> None:
    args = options(__doc__, endpoints=8, flicker_seconds=120)
    one_send()
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(Path(tmp) / "clip.mp4", seconds=2, width=640, height=360)
        stack = LocalStack(Path(tmp) / "stack")
        try:
            hostile_tenant(stack.up(), clip, args.endpoints)
        finally:
            stack.destroy()
    flicker(args.flicker_seconds)
    betrayals()


if __name__ == "__main__":
    main()
