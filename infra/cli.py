"""`vidpipe`: run the pipeline on this machine.

Exit codes (infra/console.py): 0 done · 1 refused (nothing to retry…) · 2 usage error · 3 the job
failed (reason on stderr) · 4 timed out · 5 the local stack is not up.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path, PurePosixPath
from typing import Annotated, Any
from uuid import UUID

import typer
from rich import box
from rich.table import Table

from infra import REPO_ROOT, queries
from infra import types as typegen
from infra.clips import make_sample
from infra.console import (
    EXIT_FAILED,
    EXIT_REFUSED,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    err,
    out,
    plain,
    resolve_job,
    running_stack,
    short_id,
    stop,
)
from infra.deploy import PlanError
from infra.deploy import plan as deploy_plan
from infra.local.stack import CARRIERS, FUNCTIONS, LocalStack, StackState
from infra.local.uploads import upload_file
from infra.summary import summary
from infra.webhooks_cli import webhooks
from shared import __version__, webhook_payload
from shared.adapters.postgres import PostgresDatabase
from shared.domain import Busy, NotFound, NothingToDo, WebhookEventType
from shared.metadata.document import SCHEMA_FILE, json_schema

app = typer.Typer(add_completion=False, no_args_is_help=True, help="vidpipe: the video ingest pipeline, locally.")
app.add_typer(webhooks, name="webhooks")


def _stack() -> LocalStack:
    return LocalStack()


def _ensure_up() -> StackState:
    stack = _stack()
    state = stack.running()
    if state is None:
        err.print("[dim]starting the local stack…[/dim]")
        state = stack.up()
        if state.ui_url:
            err.print(f"[dim]results page: {stack.ui_address(state)}[/dim]", highlight=False)
    return state


@app.command()
def up() -> None:
    """Start the local stack (Postgres, the four functions, the dispatcher, the results page)."""
    stack = _stack()
    state = stack.running() or stack.up()
    err.print(
        f"stack up: postgres on port {state.pg_port}; functions "
        + ", ".join(f"{n} {u}" for n, u in state.function_urls.items())
    )
    if state.ui_url:
        err.print(f"results page: {stack.ui_address(state)}", highlight=False)


@app.command()
def ui() -> None:
    """Print the results page's URL (starting the stack if needed): the videos, live, with their
    player, captions, chapters, storyboard, transcript and metadata."""
    state = _ensure_up()
    if not state.ui_url:
        stop("this stack was started without the results page: `vidpipe down`, then `vidpipe up`", EXIT_REFUSED)
    print(_stack().ui_address(state))


@app.command()
def down() -> None:
    """Stop the local stack."""
    _stack().down()
    err.print("stack down")


def upload(state: StackState, file: Path, name: str | None = None) -> UUID:
    """Upload FILE as the local user's video; `name` overrides the object key (tests of odd paths)."""
    return upload_file(state.database_url, state.storage_root, file, name)


def wait_for_end(conn: queries.Conn, object_id: UUID, timeout: float) -> dict[str, Any]:
    """The upload's job once it is ready or failed; TimeoutError if it is neither in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = queries.job_of_upload(conn, object_id)
        if job is not None and job["status"] in ("ready", "failed"):
            return job
        time.sleep(0.2)
    raise TimeoutError(f"the job of {object_id} did not end within {timeout} s")


def announcement(conn: queries.Conn, job: dict[str, Any]) -> tuple[Any, str] | None:
    """When and how the job's final event reached its owner's endpoints, or None while a first
    attempt is still on its way."""
    if job["owner_id"] is None:
        return job["finished_at"], "not announced: the upload names no known owner"
    final = WebhookEventType.READY if job["status"] == "ready" else WebhookEventType.FAILED
    row = queries.announcement_of(conn, job["id"], final)
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
    with queries.connect(state.database_url) as conn:
        uploaded = queries.upload_time(conn, object_id)
        assert uploaded is not None

        def stage(at: Any, text: str) -> None:
            err.print(f"[cyan]{(at - uploaded).total_seconds():6.2f}s[/cyan]  {text}", highlight=False)

        stage(uploaded, "uploaded")
        while time.monotonic() < deadline:
            job = queries.job_of_upload(conn, object_id)
            if job is not None:
                for event in queries.job_history(conn, job["id"], after=last_event):
                    last_event = event["id"]
                    note = f"  ({event['reason_code'] or ''} {event['message'] or ''})" if event["message"] else ""
                    stage(event["created_at"], f"{event['to_status']}{note}")
                if job["status"] in ("ready", "failed") and (told := announcement(conn, job)) is not None:
                    stage(*told)
                    return job
            time.sleep(0.1)
    return None


@app.command()
def process(
    file: Annotated[Path, typer.Argument(help="a video file to upload and process")],
    as_json: Annotated[
        bool,
        typer.Option("--json", help="print the result as JSON: the metadata document, or the job's status and reason"),
    ] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the job")] = 600.0,
) -> None:
    """Upload FILE as the local user's video, follow it through the pipeline, print the result."""
    if not file.is_file():
        stop(f"[red]no such file: {file}[/red]", EXIT_USAGE)
    state = _ensure_up()
    object_id = upload(state, file)
    job = wait_for_job(state, object_id, timeout)
    if job is None or job["status"] != "ready":
        if as_json:
            print(json.dumps(job_outcome(state, object_id, job), indent=2))
        if job is None:
            stop(
                f"[red]timed out after {timeout:.0f} s; see `vidpipe status` and {state.home}/logs[/red]", EXIT_TIMEOUT
            )
        stop(f"[red]failed[/red] {job['reason_code']}: {job['last_error']}", EXIT_FAILED)
    with queries.connect(state.database_url) as conn:
        document = queries.metadata_document(conn, job["video_id"])
    assert document is not None
    if as_json:
        print(json.dumps(document, indent=2))
    else:
        print(summary(document))


def job_outcome(state: StackState, object_id: UUID, job: dict[str, Any] | None) -> dict[str, Any]:
    """What a script needs to know of a job that did not end ready."""
    if job is None:  # timed out: where it stands now, if it exists yet
        with queries.connect(state.database_url) as conn:
            job = queries.job_of_upload(conn, object_id)
    if job is None:
        return {"job_id": None, "object_id": str(object_id), "status": "uploaded", "timed_out": True}
    outcome = {
        "job_id": str(job["id"]),
        "video_id": str(job["video_id"]),
        "status": job["status"],
        "reason": job["reason_code"],
        "message": job["last_error"],
        "failed_step": job["failed_step"],
    }
    return outcome if job["status"] == "failed" else {**outcome, "timed_out": True}


def _clip(text: str | None, width: int) -> str:
    text = text or ""
    return text if len(text) <= width else text[: width - 1] + "…"


@app.command()
def status(job: Annotated[str | None, typer.Argument(help="a job id, or a unique prefix of one")] = None) -> None:
    """List the newest jobs, or show one job and its history."""
    state = running_stack()
    with queries.connect(state.database_url) as conn:
        if job is None:
            list_jobs(conn)
        else:
            show_job(conn, resolve_job(conn, job))


def list_jobs(conn: queries.Conn) -> None:
    """One line a job, readable at 80 columns; the ids are prefixes `status` and `retry` take."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("job", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("try", no_wrap=True)
    table.add_column("file", overflow="ellipsis", no_wrap=True, max_width=28)
    table.add_column("reason", overflow="ellipsis", no_wrap=True, max_width=17)
    table.add_column("updated", no_wrap=True)
    for r in queries.newest_jobs(conn, 50):
        retries = f"+{r['retries']}" if r["retries"] else ""
        table.add_row(
            short_id(r["id"]),
            r["status"] + (f" {percent(r)}%" if r["progress_stage"] else ""),
            f"{r['attempts']}/{r['max_attempts']}{retries}",
            display_name(r["path"]),
            r["reason_code"] or "",
            r["updated_at"].strftime("%H:%M:%S"),
        )
    out.print(table)


def percent(row: dict[str, Any]) -> int:
    """How far the job's running step is, from its row's progress."""
    return int(100 * row["progress_done"] / row["progress_total"])


def display_name(path: str) -> str:
    """The uploaded file's name: `<owner>/<8 hex>-clip.mp4` → `clip.mp4`."""
    name = PurePosixPath(path).name
    return plain(re.sub(r"^[0-9a-f]{8}-", "", name) or name)


def show_job(conn: queries.Conn, job_id: UUID) -> None:
    row = queries.job_by_id(conn, job_id)
    assert row is not None
    out.print(
        f"job {row['id']}  {display_name(row['path'])}\n"
        f"{row['status']}, attempt {row['attempts']}/{row['max_attempts']}, retries {row['retries']}"
        + (f"\nreason {row['reason_code']}: {row['last_error']}" if row["reason_code"] else "")
        + (
            f"\n{row['progress_stage']}: {row['progress_done']:.0f} of {row['progress_total']:.0f} "
            f"{row['progress_unit']} ({percent(row)}%)"
            if row["progress_stage"]
            else ""
        )
    )
    history = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name in ("at", "from", "to", "try"):
        history.add_column(name, no_wrap=True)
    history.add_column("reason and message", overflow="fold")
    for e in queries.job_history(conn, job_id):
        note = plain(" ".join(part for part in (e["reason_code"], e["message"]) if part))
        history.add_row(
            e["created_at"].strftime("%H:%M:%S.%f")[:-3],
            e["from_status"] or "",
            e["to_status"],
            str(e["attempt"]),
            note,
        )
    out.print(history)


@app.command()
def retry(job: Annotated[str, typer.Argument(help="a failed job's id, or a unique prefix of one")]) -> None:
    """Put a failed job back at the step that failed; its history is kept."""
    state = running_stack()
    with queries.connect(state.database_url) as conn:
        job_id = resolve_job(conn, job)
    db = PostgresDatabase(state.database_url)
    try:
        requeued = db.requeue_job(job_id)
    except (NotFound, NothingToDo, Busy) as exc:
        stop(f"[red]cannot retry:[/red] {exc}", EXIT_REFUSED)
    finally:
        db.close()
    step = "ingest" if requeued.retry_requested_at else requeued.status.value
    err.print(
        f"job {short_id(job_id)} requeued ({step}), retry {requeued.retries}; "
        f"follow it with `vidpipe status {short_id(job_id)}`"
    )


def stack_health(state: StackState) -> list[dict[str, Any]]:
    """public.delivery_health() of the local stack, where its platform (infra/local/platform.py)
    runs the scheduled jobs in place of pg_cron, which a local cluster may not have."""
    with queries.connect(state.database_url) as conn:
        parts = queries.delivery_health(conn)
    if CARRIERS.get(state.delivery) == "platform" and "platform" in state.pids:
        says = "this local stack's platform runs the scheduled jobs in place of pg_cron (enable pg_cron on hosted)"
        parts = [{**p, "ok": True, "says": says} if p["part"] == "pg_cron" and not p["ok"] else p for p in parts]
    return parts


@app.command()
def doctor() -> None:
    """Say whether events can flow: the carrier, pg_net's worker, the event secret, pg_cron's
    runs (SQL: `select * from public.delivery_health()`); exit 1 when something needs doing."""
    parts = stack_health(running_stack())
    for part in parts:
        mark = "[green]ok[/green]  " if part["ok"] else "[red]fix[/red] "
        out.print(f"{mark} {part['part']}: {plain(part['says'])}", highlight=False)
    if not all(part["ok"] for part in parts):
        raise typer.Exit(EXIT_REFUSED)


@app.command()
def schema() -> None:
    """Write the JSON Schemas of the metadata document and of the webhook payload (the repo keeps
    each beside its model)."""
    for file, made in ((SCHEMA_FILE, json_schema()), (webhook_payload.SCHEMA_FILE, webhook_payload.json_schema())):
        file.write_text(json.dumps(made, indent=2) + "\n")
        err.print(f"schema: {file.relative_to(REPO_ROOT)}")


@app.command()
def types(
    check: Annotated[bool, typer.Option("--check", help="write nothing; exit 1 when types/ is stale")] = False,
) -> None:
    """Write types/: the database's TypeScript types (the Supabase CLI) and the metadata document's and
    webhook payload's (from their JSON Schemas); then compile the typed example."""
    try:
        if check:
            if found := typegen.stale():
                stop(f"[red]types/ is stale:[/red] {', '.join(found)}; run `make types` and commit", EXIT_REFUSED)
        else:
            for file in typegen.write():
                err.print(f"types: {file.relative_to(REPO_ROOT)}")
        typegen.check_example()
    except typegen.TypesError as exc:
        stop(f"[red]{exc}[/red]", EXIT_REFUSED)
    err.print("types: current, and the example compiles")


@app.command()
def sample(path: Annotated[Path, typer.Argument()] = Path(".vidpipe/sample.mp4")) -> None:
    """Write the sample clip (36 s, 1280x720, 30 fps, H.264/AAC, a sentence spoken in each of its
    three scenes) unless it exists."""
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
        stop(f"unknown function {name!r}; one of {', '.join(FUNCTIONS)}", EXIT_USAGE)
    target = dest / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(REPO_ROOT / "functions" / name, target, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO_ROOT / "shared", target / "shared", ignore=shutil.ignore_patterns("__pycache__"))
    err.print(f"bundle: {target}")


@app.command()
def deploy(
    project: Annotated[str, typer.Option(help="the Google Cloud project id")],
    region: Annotated[str, typer.Option(help="the Cloud Run region, such as europe-west1")],
    supabase_url: Annotated[str, typer.Option(help="https://<ref>.supabase.co")],
    plan: Annotated[bool, typer.Option("--plan", help="print the commands (the only mode)")] = False,
    tag: Annotated[str, typer.Option(help="the images' tag")] = __version__,
) -> None:
    """Print the commands that deploy the four functions to Google Cloud Run, in order."""
    if not plan:
        stop("vidpipe calls no cloud itself: `vidpipe deploy --plan …` prints the commands to run", EXIT_USAGE)
    try:
        typer.echo(deploy_plan(project, region, supabase_url, tag), nl=False)
    except PlanError as exc:
        stop(str(exc), EXIT_USAGE)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
