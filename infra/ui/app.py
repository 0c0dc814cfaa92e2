"""The results page's server: a small Flask app on loopback for the local user.

Every read goes through row level security as that user (infra.local.owner_db.as_owner), never
as the service role. Live status comes from the database's notifications on vidpipe_jobs, which
carry a job's id alone; each is read again as the user before it is sent to the browser as a
server-sent event. Uploads enter the pipeline as `vidpipe process` does (infra.local.uploads).

One key, made by the stack and printed in the page's URL, opens the page: it becomes a
same-site, HTTP-only cookie, and the Host header must name the loopback address, so neither
another site in the browser nor another user's process reads the videos."""

from __future__ import annotations

import contextlib
import hmac
import json
import mimetypes
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from uuid import UUID

import psycopg
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    request,
    send_file,
    send_from_directory,
)
from werkzeug.exceptions import HTTPException

from infra import REPO_ROOT
from infra.local.owner_db import as_owner
from infra.local.uploads import UploadRefused, check_upload, storage_name, store_upload

STATIC = Path(__file__).with_name("static")
HLS_JS = REPO_ROOT / ".tools" / "node_modules" / "hls.js" / "dist"
COOKIE = "vidpipe_ui"
JOBS_CHANNEL = "vidpipe_jobs"
# Each open page holds one of the server's threads for its event stream; a few threads always stay
# for everything else, and a stream whose page is gone is noticed at its next keepalive.
THREADS = 16
MAX_STREAMS = 12
KEEPALIVE_SECONDS = 5.0
# Types the standard table lacks or gets wrong for a player.
MEDIA_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".m4s": "video/iso.segment", ".vtt": "text/vtt"}

JOB_COLUMNS = """
  j.id as job_id, j.video_id, v.object_id, v.path, v.size_bytes, j.status, j.reason_code, j.last_error,
  j.failed_step, j.attempts, j.max_attempts, j.retries, j.retry_requested_at, j.created_at, j.updated_at,
  j.finished_at, m.document #>> '{suggestions,title}' as title, m.document #>> '{poster,path}' as poster,
  m.document #>> '{poster,bucket}' as poster_bucket
"""
JOBS = f"""
select {JOB_COLUMNS}
  from public.processing_jobs j join public.videos v on v.id = j.video_id
  left join public.video_metadata m on m.video_id = j.video_id
"""


@dataclass(frozen=True)
class UiConfig:
    database_url: str
    storage_root: Path
    owner: str  # the signed-in user the page acts for
    key: str  # opens the page
    derived_bucket: str = "derived"


def _json(row: dict[str, Any]) -> dict[str, Any]:
    """A row as JSON types: ids and times as strings."""
    out: dict[str, Any] = json.loads(json.dumps(row, default=str))
    return out


page = Blueprint("page", __name__)


def create_app(config: UiConfig) -> Flask:
    for suffix, kind in MEDIA_TYPES.items():  # here, not at import: the table is read from disk
        mimetypes.add_type(kind, suffix)
    app = Flask(__name__, static_folder=None)
    app.config["UI"] = config
    app.config["STREAMS"] = threading.BoundedSemaphore(MAX_STREAMS)
    app.config["MAX_CONTENT_LENGTH"] = None  # the bucket's limit applies (check_upload)
    app.before_request(gate)
    app.after_request(harden)
    app.register_error_handler(HTTPException, http_error)
    app.register_blueprint(page)
    return app


def ui() -> UiConfig:
    config: UiConfig = current_app.config["UI"]
    return config


def owner_db() -> AbstractContextManager[psycopg.Connection[dict[str, Any]]]:
    return as_owner(ui().database_url, ui().owner)


def gate() -> Any:
    """Loopback names only; the key once in the URL, then its cookie; no writes from other origins."""
    host = (request.host or "").rsplit(":", 1)[0]
    if host not in ("127.0.0.1", "localhost"):
        abort(421)  # a name rebound to this machine does not reach the page
    key = ui().key
    given = request.args.get("key")
    if given is not None and _same(given, key):
        answer = redirect(request.path)
        answer.set_cookie(COOKIE, key, httponly=True, samesite="Strict", path="/")
        return answer
    if not _same(request.cookies.get(COOKIE, ""), key):
        abort(401)
    origin = request.headers.get("Origin")
    if request.method != "GET" and origin is not None and origin != request.host_url.rstrip("/"):
        abort(403)
    return None


def _same(given: str, key: str) -> bool:
    """In constant time, as bytes: compare_digest refuses str with non-ASCII characters."""
    return hmac.compare_digest(given.encode(), key.encode())


# The page runs its own scripts only, and talks to its own server only; hls.js feeds the player
# from blob: URLs and parses in a blob: worker; no other site may frame it.
CONTENT_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


def harden(answer: Response) -> Response:
    answer.headers["Content-Security-Policy"] = CONTENT_POLICY
    answer.headers["X-Content-Type-Options"] = "nosniff"
    answer.headers["Referrer-Policy"] = "no-referrer"  # the key never leaves in a Referer
    return answer


def http_error(exc: HTTPException) -> Any:
    messages = {401: "open the page with the URL `vidpipe ui` prints", 421: "use 127.0.0.1"}
    return jsonify(error=messages.get(exc.code or 500, exc.description)), exc.code


@page.get("/")
def index() -> Any:
    return send_from_directory(STATIC, "index.html", max_age=0)


@page.get("/static/<path:name>")
def static_file(name: str) -> Any:
    return send_from_directory(STATIC, name, max_age=0)


@page.get("/vendor/hls.min.js")
def hls_js() -> Any:
    return send_from_directory(HLS_JS, "hls.min.js", max_age=3600)


@page.get("/api/videos")
def videos() -> Any:
    with owner_db() as conn:
        rows = conn.execute(JOBS + " order by j.created_at desc limit 200").fetchall()
    return jsonify([_json(r) for r in rows])


DELIVERIES = """
select d.id, m.event_type, e.url, d.status, d.attempts, d.last_status_code, d.last_error, d.delivered_at,
       d.created_at,
       coalesce((select json_agg(json_build_object('attempt', a.attempt, 'status_code', a.status_code,
                                                   'error', a.error, 'latency_ms', a.latency_ms, 'at', a.created_at)
                                 order by a.id)
                   from public.webhook_attempts a where a.delivery_id = d.id), '[]') as tries
  from public.webhook_deliveries d join public.webhook_messages m on m.id = d.message_id
  join public.webhook_endpoints e on e.id = d.endpoint_id
 where d.job_id = %s order by d.created_at
"""


@page.get("/api/videos/<uuid:video_id>")
def video(video_id: UUID) -> Any:
    """All the page shows of one video: its job and history, document and webhook deliveries."""
    with owner_db() as conn:
        job = conn.execute(JOBS + " where j.video_id = %s", (video_id,)).fetchone()
        if job is None:
            abort(404, "no such video")
        document = conn.execute(
            "select document from public.video_metadata where video_id = %s", (video_id,)
        ).fetchone()
        events = conn.execute(
            "select from_status, to_status, attempt, reason_code, message, created_at from public.job_events "
            "where job_id = %s order by id",
            (job["job_id"],),
        ).fetchall()
        deliveries = conn.execute(DELIVERIES, (job["job_id"],)).fetchall()
    return jsonify(
        job=_json(job),
        document=document["document"] if document else None,
        events=[_json(e) for e in events],
        deliveries=[_json(d) for d in deliveries],
    )


@page.post("/api/jobs/<uuid:job_id>/retry")
def retry(job_id: UUID) -> Any:
    try:
        with owner_db() as conn:
            row = conn.execute("select status from public.retry_job(%s)", (job_id,)).fetchone()
    except psycopg.Error as exc:
        status = {"VP404": 404, "VP409": 409, "VP410": 409}.get(exc.sqlstate or "")
        if status is None:
            raise
        return jsonify(error=exc.diag.message_primary), status
    return jsonify(status=row["status"] if row else None)


@page.post("/api/uploads")
def upload() -> Any:
    """The request's body is the file; `?name=` its name. Answers the storage object's id."""
    size = request.content_length
    if size is None:
        return jsonify(error="send the file as the body, with its length"), 411
    config = ui()
    name = storage_name(request.args.get("name", "video"), config.owner)
    try:
        check_upload(config.database_url, config.owner, name, size)
        object_id = store_upload(
            config.database_url,
            config.storage_root,
            name,
            request.stream,
            size,
            owner=config.owner,
            content_type=request.mimetype or "application/octet-stream",
        )
    except UploadRefused as exc:
        return jsonify(error=str(exc)), exc.status
    return jsonify(object_id=str(object_id), path=name), 201


@page.get("/files/<bucket>/<path:key>")
def file(bucket: str, key: str) -> Any:
    """A file of a video the user may read: its upload, or one derived from it."""
    parts = PurePosixPath(key).parts
    if ".." in parts or key.startswith("/") or len(parts) < 2:
        abort(404)
    with owner_db() as conn:
        allowed = conn.execute(
            "select 1 from public.videos v where (v.bucket = %(bucket)s and v.path = %(key)s) "
            "or (%(bucket)s = %(derived)s and v.owner_id::text = %(owner)s and v.id::text = %(video)s)",
            {"bucket": bucket, "key": key, "derived": ui().derived_bucket, "owner": parts[0], "video": parts[1]},
        ).fetchone()
    target = ui().storage_root / bucket / key
    if allowed is None or not target.is_file():
        abort(404)
    return send_file(target, conditional=True, max_age=0)


@page.get("/api/events")
def events() -> Any:
    streams: threading.BoundedSemaphore = current_app.config["STREAMS"]
    if not streams.acquire(blocking=False):
        return jsonify(error=f"{MAX_STREAMS} pages are open already; close one"), 503
    answer = Response(job_events(ui()), mimetype="text/event-stream", headers={"Cache-Control": "no-store"})
    answer.call_on_close(streams.release)  # however the stream ends, even before its first byte
    return answer


def job_ids(payloads: set[str]) -> list[str]:
    """The notifications' job ids; anything else sent on the channel is ignored."""
    found = []
    for payload in payloads:
        with contextlib.suppress(ValueError):
            found.append(str(UUID(payload)))
    return sorted(found)


def job_events(config: UiConfig) -> Iterator[str]:
    """Server-sent events: `job` with the job's row (as the user reads it) after each change. The
    stream ends when the database goes away; the browser's EventSource connects again by itself."""
    try:
        with psycopg.connect(config.database_url, autocommit=True) as listener:
            listener.execute(f"listen {JOBS_CHANNEL}")
            yield "event: hello\ndata: {}\n\n"
            while True:
                ids = {n.payload for n in listener.notifies(timeout=KEEPALIVE_SECONDS, stop_after=1)}
                if not ids:
                    yield ": keepalive\n\n"  # also how a closed tab is noticed: the write fails
                    continue
                ids |= {n.payload for n in listener.notifies(timeout=0.01)}  # the rest of a burst, at once
                with as_owner(config.database_url, config.owner) as conn:
                    rows = conn.execute(JOBS + " where j.id = any(%s::uuid[])", (job_ids(ids),)).fetchall()
                for row in rows:  # another owner's jobs are not among them
                    yield f"event: job\ndata: {json.dumps(_json(row))}\n\n"
    except psycopg.OperationalError:
        return
