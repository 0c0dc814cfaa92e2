"""`vidpipe`: run the pipeline on this machine.

Exit codes: 0 ready · 2 usage error · 3 the job failed (reason on stderr) · 4 timed out.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID, uuid4

import psycopg
import typer
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from rich.console import Console
from rich.table import Table

from infra.clips import make_sample
from infra.local.postgres import REPO_ROOT
from infra.local.stack import FUNCTIONS, LOCAL_USER_ID, UPLOADS_BUCKET, LocalStack, StackState
from infra.webhooks_cli import webhooks
from shared.adapters.postgres import PostgresDatabase
from shared.domain import JobNotFound, StepBusy, StepNotApplicable
from shared.metadata.document import SCHEMA_FILE, json_schema

app = typer.Typer(add_completion=False, no_args_is_help=True, help="vidpipe: the video ingest pipeline, locally.")
app.add_typer(webhooks, name="webhooks")
err = Console(stderr=True)
out = Console()

EXIT_FAILED, EXIT_TIMEOUT = 3, 4


def _stack() -> LocalStack:
    return LocalStack()


def _ensure_up() -> StackState:
    stack = _stack()
    state = stack.running()
    if state is None:
        err.print("[dim]starting the local stack…[/dim]")
        state = stack.up()
    return state


@app.command()
def up() -> None:
    """Start the local stack (Postgres, the four functions, the dispatcher)."""
    state = _ensure_up()
    err.print(f"stack up: postgres on port {state.pg_port}; functions "
              + ", ".join(f"{n} {u}" for n, u in state.function_urls.items()))


@app.command()
def down() -> None:
    """Stop the local stack."""
    _stack().down()
    err.print("stack down")


def storage_name(file: Path) -> str:
    """`<owner>/<short id>-<file name>`, with characters a storage key should not carry replaced."""
    clean = re.sub(r"[^A-Za-z0-9._-]", "_", file.name).lstrip(".") or "video"
    return f"{LOCAL_USER_ID}/{uuid4().hex[:8]}-{clean}"


def upload(state: StackState, file: Path, name: str | None = None) -> UUID:
    """What Supabase Storage does on an upload: store the bytes, then insert storage.objects.
    `name` overrides the object key (tests of odd paths)."""
    name = name or storage_name(file)
    target = state.storage_root / UPLOADS_BUCKET / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(file, target)
    with psycopg.connect(state.database_url, autocommit=True) as conn:
        row = conn.execute(
            "insert into storage.objects (bucket_id, name, owner, owner_id, metadata) "
            "values (%s, %s, %s, %s, %s) returning id",
            (UPLOADS_BUCKET, name, LOCAL_USER_ID, LOCAL_USER_ID,
             Jsonb({"size": file.stat().st_size, "mimetype": "video/mp4"}))).fetchone()
    assert row is not None
    return UUID(str(row[0]))


def job_for_object(conn: psycopg.Connection[dict[str, Any]], object_id: UUID) -> dict[str, Any] | None:
    return conn.execute(
        "select j.*, v.path from public.videos v join public.processing_jobs j on j.video_id = v.id "
        "where v.object_id = %s", (object_id,)).fetchone()


def announcement(conn: psycopg.Connection[dict[str, Any]], job: dict[str, Any]) -> tuple[Any, str] | None:
    """When and how the job's final event reached its owner's endpoints, or None while a first
    attempt is still on its way."""
    if job["owner_id"] is None:
        return job["finished_at"], "not announced: the upload names no known owner"
    row = conn.execute(
        "select m.event_type, m.created_at, count(d.id) as endpoints, "
        "count(*) filter (where d.status = 'delivered') as delivered, "
        "count(*) filter (where d.attempts = 0 and d.finished_at is null) as unsent, "
        "max(greatest(d.delivered_at, d.finished_at)) as last_at, string_agg(distinct d.last_error, '; ') as errors "
        "from public.webhook_messages m left join public.webhook_deliveries d on d.message_id = m.id "
        "where m.job_id = %s and m.event_type = %s group by m.id order by m.created_at desc limit 1",
        (job["id"], "video.ready" if job["status"] == "ready" else "video.failed")).fetchone()
    if row is None or row["unsent"]:
        return None
    if not row["endpoints"]:
        return row["created_at"], f"announced {row['event_type']} (no endpoint subscribed)"
    text = f"announced {row['event_type']}: delivered to {row['delivered']} of {row['endpoints']} endpoint(s)"
    if row["errors"]:
        text += f"; {row['errors']}"
    return row["last_at"] or row["created_at"], text


def wait_for_job(state: StackState, object_id: UUID, timeout: float) -> dict[str, Any] | None:
    """Follow the job until it ends and its end is announced, printing on stderr every stage from
    its history, timed by the database from the upload."""
    deadline = time.monotonic() + timeout
    last_event = 0
    with psycopg.connect(state.database_url, autocommit=True, row_factory=dict_row) as conn:
        uploaded = conn.execute("select created_at from storage.objects where id = %s", (object_id,)).fetchone()
        assert uploaded is not None

        def stage(at: Any, text: str) -> None:
            err.print(f"[cyan]{(at - uploaded['created_at']).total_seconds():6.2f}s[/cyan]  {text}", highlight=False)

        stage(uploaded["created_at"], "uploaded")
        while time.monotonic() < deadline:
            job = job_for_object(conn, object_id)
            if job is not None:
                for event in conn.execute("select * from public.job_events where job_id = %s and id > %s "
                                          "order by id", (job["id"], last_event)):
                    last_event = event["id"]
                    note = f"  ({event['reason_code'] or ''} {event['message'] or ''})" if event["message"] else ""
                    stage(event["created_at"], f"{event['to_status']}{note}")
                if job["status"] in ("ready", "failed") and (told := announcement(conn, job)) is not None:
                    stage(*told)
                    return job
            time.sleep(0.1)
    return None


def summary(doc: dict[str, Any]) -> str:
    tech = doc["technical"]
    lines = [f"video {doc['video_id']}  ({doc['source']['path']})",
             f"container {tech['container']}, {tech.get('duration_seconds')} s, {tech.get('size_bytes')} bytes, "
             f"{tech.get('bit_rate')} b/s"]
    for s in tech["streams"]:
        if s["kind"] == "video":
            lines.append(f"video #{s['index']}: {s['codec']} {s.get('profile') or ''} {s['width']}x{s['height']} "
                         f"@ {s.get('fps')} fps, {s.get('pixel_format')}, rotation {s['rotation']}")
        elif s["kind"] == "audio":
            lines.append(f"audio #{s['index']}: {s['codec']} {s.get('channels')} ch @ {s.get('sample_rate')} Hz")
    for part in ("poster", "proxy", "audio"):
        ref = doc.get(part)
        lines.append(f"{part}: {ref['bucket']}/{ref['path']} ({ref['bytes']} bytes)" if ref
                     else f"{part}: absent ({doc['absent'].get(part)})")
    if choice := doc.get("poster_choice"):
        lines.append(f"poster chosen: frame at {choice['time']} s, {choice['rule']} of {choice['candidates']}")
    if thumbs := doc.get("thumbnails"):
        lines.append(f"thumbnails: {len(thumbs['items'])} (every {thumbs['interval_seconds']} s, and at scene cuts)")
    if board := doc.get("storyboard"):
        lines.append(f"storyboard: {board['tiles']} tiles of {board['tile_width']}x{board['tile_height']} in "
                     f"{len(board['sprites'])} sprite(s), {board['vtt']['path']}")
    if loud := doc.get("loudness"):
        lines.append(f"loudness: {loud['integrated_lufs']} LUFS integrated, LRA {loud['range_lu']} LU, "
                     f"true peak {loud['true_peak_dbtp']} dBTP")
    if scenes := doc.get("scenes"):
        cuts = ", ".join(f"{c['time']} s" for c in scenes["cuts"])
        lines.append(f"scenes: cuts at {cuts}" if cuts else "scenes: one continuous shot")
    for part, label in (("black_segments", "black"), ("silent_segments", "silent")):
        if found := doc.get(part):
            spans = ", ".join(f"{s['start']}-{s['end']} s" for s in found["segments"]) or "none"
            lines.append(f"{label}: {spans}")
    if hls := doc.get("hls"):
        lines.append(f"hls: {hls['master']['path']} ({hls['variants']} variants)")
    return "\n".join(lines + content_summary(doc))


def content_summary(doc: dict[str, Any]) -> list[str]:
    """What the video says: transcript, captions, chapters, keywords, title and description."""
    lines = []
    if (t := doc.get("transcript")) is None:
        lines.append(f"transcript: absent ({doc['absent'].get('transcript')})")
    elif not t["speech"]:
        lines.append(f"transcript: no speech ({t['no_speech_reason']})")
    else:
        text = t["text"] if len(t["text"]) <= 100 else t["text"][:99] + "…"
        lines.append(f"transcript ({t['language']}, {t['word_count']} words): {text}")
    if c := doc.get("captions"):
        lines.append(f"captions: {c['cues']} cues, {c['vtt']['path']} and {c['srt']['path']}")
    if ch := doc.get("chapters"):
        lines.append("chapters:" + "".join(f"\n  {line}" for line in ch["youtube"].splitlines()))
    if k := doc.get("keywords"):
        lines.append("keywords: " + ", ".join(item["text"] for item in k["items"]))
    if s := doc.get("suggestions"):
        lines += [f"title: {s['title']}", f"description: {s['description']}"]
        if s.get("provider_error"):
            lines.append(f"  (the text generator failed, so these are extractive: {s['provider_error']})")
    return lines


@app.command()
def process(
    file: Annotated[Path, typer.Argument(help="a video file to upload and process")],
    as_json: Annotated[bool, typer.Option("--json", help="print the metadata document as JSON")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the job")] = 600.0,
) -> None:
    """Upload FILE as the local user's video, follow it through the pipeline, print the result."""
    if not file.is_file():
        err.print(f"[red]no such file: {file}[/red]")
        raise typer.Exit(2)
    state = _ensure_up()
    object_id = upload(state, file)
    job = wait_for_job(state, object_id, timeout)
    if job is None:
        err.print(f"[red]timed out after {timeout:.0f} s; see `vidpipe status` and {state.home}/logs[/red]")
        raise typer.Exit(EXIT_TIMEOUT)
    if job["status"] != "ready":
        err.print(f"[red]failed[/red] {job['reason_code']}: {job['last_error']}")
        raise typer.Exit(EXIT_FAILED)
    with psycopg.connect(state.database_url, row_factory=dict_row) as conn:
        row = conn.execute("select document from public.video_metadata where video_id = %s",
                           (job["video_id"],)).fetchone()
    assert row is not None
    if as_json:
        print(json.dumps(row["document"], indent=2))
    else:
        print(summary(row["document"]))


def _clip(text: str | None, width: int) -> str:
    text = text or ""
    return text if len(text) <= width else text[: width - 1] + "…"


@app.command()
def status(job: Annotated[str | None, typer.Argument(help="a job id for its full history")] = None) -> None:
    """List jobs, or show one job and its history."""
    state = _stack().running()
    if state is None:
        err.print("the stack is not up (vidpipe up)")
        raise typer.Exit(1)
    with psycopg.connect(state.database_url, row_factory=dict_row) as conn:
        if job is None:
            table = Table("job", "status", "attempt", "retries", "reason", "last error", "path", "updated")
            for r in conn.execute("select j.*, v.path from public.processing_jobs j "
                                  "join public.videos v on v.id = j.video_id order by j.created_at desc limit 50"):
                table.add_row(str(r["id"]), r["status"], f"{r['attempts']}/{r['max_attempts']}", str(r["retries"]),
                              r["reason_code"] or "", _clip(r["last_error"], 60), r["path"],
                              r["updated_at"].strftime("%H:%M:%S"))
            out.print(table)
            return
        try:
            job_id = UUID(job)
        except ValueError:
            err.print(f"not a job id: {job}")
            raise typer.Exit(2) from None
        row = conn.execute("select * from public.processing_jobs where id = %s", (job_id,)).fetchone()
        if row is None:
            err.print(f"no job {job}")
            raise typer.Exit(1)
        out.print(f"job {row['id']}: {row['status']}, attempt {row['attempts']}/{row['max_attempts']}, "
                  f"retries {row['retries']}, reason {row['reason_code']}, last error {row['last_error']}",
                  highlight=False)
        history = Table("at", "from", "to", "attempt", "reason", "message")
        for e in conn.execute("select * from public.job_events where job_id = %s order by id", (job_id,)):
            history.add_row(e["created_at"].strftime("%H:%M:%S.%f")[:-3], e["from_status"] or "", e["to_status"],
                            str(e["attempt"]), e["reason_code"] or "", e["message"] or "")
        out.print(history)


@app.command()
def retry(job: Annotated[str, typer.Argument(help="the id of a failed job")]) -> None:
    """Put a failed job back at the step that failed; its history is kept."""
    state = _stack().running()
    if state is None:
        err.print("the stack is not up (vidpipe up)")
        raise typer.Exit(1)
    try:
        job_id = UUID(job)
    except ValueError:
        err.print(f"not a job id: {job}")
        raise typer.Exit(2) from None
    db = PostgresDatabase(state.database_url)
    try:
        requeued = db.requeue_job(job_id)
    except (JobNotFound, StepNotApplicable, StepBusy) as exc:
        err.print(f"[red]cannot retry:[/red] {exc}")
        raise typer.Exit(1) from None
    finally:
        db.close()
    step = "ingest" if requeued.retry_requested_at else requeued.status.value
    err.print(f"job {job_id} requeued ({step}), retry {requeued.retries}; follow it with `vidpipe status {job_id}`")


@app.command()
def schema(out: Annotated[Path, typer.Option(help="where to write it")] = SCHEMA_FILE) -> None:
    """Write the metadata document's JSON Schema (the repo keeps it beside the model)."""
    out.write_text(json.dumps(json_schema(), indent=2) + "\n")
    err.print(f"schema: {out}")


@app.command()
def sample(path: Annotated[Path, typer.Argument()] = Path(".vidpipe/sample.mp4")) -> None:
    """Write the sample clip (10 s, 1280x720, 30 fps, H.264/AAC) unless it exists."""
    if not path.exists():
        make_sample(path)
    err.print(f"sample: {path}")


@app.command()
def bundle(
    name: Annotated[str, typer.Argument(help="ingest | process | generate_metadata | notify")],
    dest: Annotated[Path, typer.Option(help="where bundles are written")] = Path("build"),
) -> None:
    """Write a deployable folder for one function: main.py, requirements.txt and shared/."""
    if name not in FUNCTIONS:
        err.print(f"unknown function {name!r}; one of {', '.join(FUNCTIONS)}")
        raise typer.Exit(2)
    target = dest / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(REPO_ROOT / "functions" / name, target, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO_ROOT / "shared", target / "shared", ignore=shutil.ignore_patterns("__pycache__"))
    err.print(f"bundle: {target}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
