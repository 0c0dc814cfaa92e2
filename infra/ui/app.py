"""The results page's server: a small Flask app on loopback for the local user.

Every read goes through row level security as that user (infra.local.owner_db.as_owner), never
as the service role. Live status comes from the database's notifications on vidpipe_jobs, which
carry a job's id alone; each is read again as the user before it is sent to the browser as a
server-sent event. Uploads enter the pipeline as `vidpipe process` does (infra.local.uploads).

One key, made anew by the stack each time it starts the page and printed in the page's URL,
opens the page: it is traded for a login, a random token that expires, kept in a same-site,
HTTP-only cookie named for the page's port (cookies ignore ports: other servers on localhost see
the login, never the key, and not for long). The Host header must name the loopback address, so
neither another site in the browser nor another user's process reads the videos. The server
(`screen`) judges each request on its headers, before it reads a byte of the body."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import mimetypes
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import parse_qs
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
from waitress.parser import HTTPRequestParser
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_cookie

from infra import REPO_ROOT, queries
from infra.local.owner_db import as_owner
from infra.local.uploads import UploadRefused, check_upload, storage_name, store_upload
from shared.adapters.local_storage import LocalStorage
from shared.adapters.postgres import map_error
from shared.domain import Busy, LimitReached, NotFound, NothingToDo
from shared.serve import Refused, Screen

STATIC = Path(__file__).with_name("static")
HLS_JS = REPO_ROOT / ".tools" / "node_modules" / "hls.js" / "dist"
LOOPBACK_NAMES = ("127.0.0.1", "localhost")
# A login lasts a working day: one that leaked (to another server on localhost) dies with it.
LOGIN_SECONDS = 8 * 3600
JOBS_CHANNEL = "vidpipe_jobs"
# What the page shows of each step of a job's history.
HISTORY_FIELDS = ("from_status", "to_status", "attempt", "reason_code", "message", "created_at")
# Each open page holds one of the server's threads for its event stream; a few threads always stay
# for everything else, and a stream whose page is gone is noticed at its next keepalive.
THREADS = 16
MAX_STREAMS = 12
KEEPALIVE_SECONDS = 5.0
# Types the standard table lacks or gets wrong for a player.
MEDIA_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".m4s": "video/iso.segment", ".vtt": "text/vtt"}
# What a user's file may be served as, inline: what the page plays, shows and reads. Anything else
# (an upload named .html, .svg or .js) is an attachment of no type, so it never runs here.
INLINE_TYPES = frozenset(
    {
        "video/mp4",
        "video/mp2t",
        "video/webm",
        "video/quicktime",
        "video/iso.segment",
        "application/vnd.apple.mpegurl",
        "image/jpeg",
        "image/png",
        "image/webp",
        "text/vtt",
        "application/json",
        "audio/wav",
        "audio/x-wav",
    }
)
# A file opened on its own is a document of no origin that runs nothing.
FILE_POLICY = "sandbox; default-src 'none'"


@dataclass(frozen=True)
class UiConfig:
    database_url: str
    storage_root: Path
    owner: str  # the signed-in user the page acts for
    key: str  # opens the page: traded for a login
    derived_bucket: str = "derived"
    port: int = 0  # the page's own: its cookie is named for it

    @property
    def cookie(self) -> str:
        return f"vidpipe_ui_{self.port}"


class Logins:
    """Logins the key opened: random tokens, never the key, each valid for LOGIN_SECONDS. Kept in
    memory (a restart of the page ends them), by their SHA-256 (a lookup reveals nothing)."""

    def __init__(self, key: str, seconds: float = LOGIN_SECONDS) -> None:
        self.key, self.seconds = key, seconds
        self._until: dict[bytes, float] = {}
        self._lock = threading.Lock()

    def open(self, given_key: str) -> str | None:
        """A new login's token, when `given_key` is the key."""
        if not _same(given_key, self.key):
            return None
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            self._until = {k: t for k, t in self._until.items() if t > now}
            self._until[_digest(token)] = now + self.seconds
        return token

    def valid(self, token: str) -> bool:
        with self._lock:
            until = self._until.get(_digest(token))
        return until is not None and until > time.monotonic()


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode(errors="surrogateescape")).digest()


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
    app.config["LOGINS"] = Logins(config.key)
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


def refusal(logins: Logins, host: str, method: str, key_given: bool, login: str, origin: str | None) -> int:
    """The page's rules, one home for the server's screen and the app: 0 to go on, or the status
    that refuses. Loopback names only; the key (a GET with ?key=, judged by the app) or a live
    login; no writes from other origins."""
    if host.rsplit(":", 1)[0] not in LOOPBACK_NAMES:
        return 421  # a name rebound to this machine does not reach the page
    if method == "GET" and key_given:
        return 0
    if not logins.valid(login):
        return 401
    if method not in ("GET", "HEAD") and origin is not None and origin != f"http://{host}":
        return 403
    return 0


def gate() -> Any:
    config, logins = ui(), current_app.config["LOGINS"]
    given = request.args.get("key")
    status = refusal(
        logins,
        request.host or "",
        request.method,
        given is not None,
        request.cookies.get(config.cookie, ""),
        request.headers.get("Origin"),
    )
    if status:
        abort(status)
    if request.method == "GET" and given is not None:
        token = logins.open(given)
        if token is None:
            abort(401)
        answer = redirect(request.path)
        answer.set_cookie(config.cookie, token, max_age=LOGIN_SECONDS, httponly=True, samesite="Strict", path="/")
        return answer
    return None


UPLOADS_PATH = "/api/uploads"
REASONS = {401: "Unauthorized", 403: "Forbidden", 411: "Length Required", 421: "Misdirected Request"}


def screen_for(app: Flask) -> Screen:
    """The server's judgement of a request on its headers alone, before its body is read: the
    same rules as `gate`; an upload's body goes straight to a file beside the buckets, which
    `store_upload` links into place (or which vanishes when the request ends)."""
    config: UiConfig = app.config["UI"]
    logins: Logins = app.config["LOGINS"]
    partial = LocalStorage(config.storage_root).partial_dir

    def screen(request: HTTPRequestParser) -> Refused | IO[bytes] | None:
        headers = request.headers
        status = refusal(
            logins,
            headers.get("HOST", ""),
            request.command,
            "key" in parse_qs(request.query or ""),
            parse_cookie(headers.get("COOKIE", "")).get(config.cookie, ""),
            headers.get("ORIGIN"),
        )
        if status:
            return Refused(status, REASONS[status], MESSAGES.get(status, ""))
        if request.command != "POST" or request.path != UPLOADS_PATH:
            return None
        if request.chunked or request.content_length <= 0:
            return Refused(411, REASONS[411], "send the file as the body, with its length")
        partial.mkdir(mode=0o700, parents=True, exist_ok=True)
        return tempfile.NamedTemporaryFile(dir=partial, prefix="upload-")  # the request closes it

    return screen


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
    answer.headers.setdefault("Content-Security-Policy", CONTENT_POLICY)
    answer.headers["X-Content-Type-Options"] = "nosniff"
    answer.headers["Referrer-Policy"] = "no-referrer"  # the key never leaves in a Referer
    return answer


MESSAGES = {401: "open the page with the URL `vidpipe ui` prints", 421: "use 127.0.0.1"}


def http_error(exc: HTTPException) -> Any:
    return jsonify(error=MESSAGES.get(exc.code or 500, exc.description)), exc.code


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
        rows = queries.page_jobs(conn)
    return jsonify([_json(r) for r in rows])


@page.get("/api/videos/<uuid:video_id>")
def video(video_id: UUID) -> Any:
    """All the page shows of one video: its job and history, document, what plays it now and
    its webhook deliveries."""
    with owner_db() as conn:
        job = queries.page_job_of_video(conn, video_id)
        if job is None:
            abort(404, "no such video")
        document = queries.metadata_document(conn, video_id)
        playing = queries.playing(conn, video_id)
        events = queries.job_history(conn, job["job_id"])
        deliveries = queries.job_deliveries(conn, job["job_id"])
    return jsonify(
        job=_json(job),
        document=document,
        playing=playing,
        events=[_json({key: e[key] for key in HISTORY_FIELDS}) for e in events],
        deliveries=[_json(d) for d in deliveries],
    )


@page.post("/api/jobs/<uuid:job_id>/retry")
def retry(job_id: UUID) -> Any:
    try:
        with owner_db() as conn:
            status_after = queries.retried_job_status(conn, job_id)
    except psycopg.Error as exc:
        refused = map_error(exc)  # the one SQLSTATE table
        status = next((code for kind, code in RETRY_ANSWERS.items() if isinstance(refused, kind)), None)
        if status is None:
            raise
        return jsonify(error=str(refused)), status
    return jsonify(status=status_after)


# An owner's retry refused: not theirs (or no such job), already being checked again, nothing to
# retry, over their limits.
RETRY_ANSWERS: dict[type[Exception], int] = {NotFound: 404, Busy: 409, NothingToDo: 409, LimitReached: 429}


@page.post(UPLOADS_PATH)
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
            request.environ["wsgi.input"],  # the screen's file, when served by make_server
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
    if ".." in parts or key.startswith("/") or len(parts) < 2 or "\x00" in bucket + key:
        abort(404)
    with owner_db() as conn:
        allowed = queries.video_owns_file(conn, bucket, key, ui().derived_bucket)
    target = ui().storage_root / bucket / key
    if not allowed or not target.is_file():
        abort(404)
    kind = mimetypes.guess_type(target.name)[0]
    inline = kind in INLINE_TYPES
    answer = send_file(
        target,
        mimetype=kind if inline else "application/octet-stream",
        as_attachment=not inline,
        download_name=target.name,
        conditional=True,
        max_age=0,
    )
    answer.headers["Content-Security-Policy"] = FILE_POLICY
    return answer


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
                    rows = queries.page_jobs_by_id(conn, job_ids(ids))
                for row in rows:  # another owner's jobs are not among them
                    yield f"event: job\ndata: {json.dumps(_json(row))}\n\n"
    except psycopg.OperationalError:
        return
