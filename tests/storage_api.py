"""A local HTTP server answering the Supabase Storage API's request shapes, as storage-api and
supabase-py 2.34 exchange them (see DESIGN.md): `apikey` plus `Authorization: Bearer`, multipart
uploads (`cacheControl`, `file` with its content type; `x-upsert: "true"` to overwrite, else 409
Duplicate), object info, signed URLs (downloads that honour a `Range: bytes=a-b` with 206 and
Content-Range, as storage-api does for video players), resumable (TUS) uploads, and error bodies
`{statusCode, error, message}`. It can also refuse large files (413) and drop a download midway."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import json
import re
import secrets
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

PREFIX = "/storage/v1"


class StorageApi:
    def __init__(self, key: str, max_bytes: int = 1 << 40) -> None:
        self.key = key
        self.max_bytes = max_bytes
        self.objects: dict[tuple[str, str], tuple[bytes, str]] = {}  # (bucket, path) -> (bytes, content type)
        self.tokens: dict[str, tuple[str, str]] = {}
        self.uploads: dict[str, dict[str, Any]] = {}  # resumable uploads in progress
        self.drop_downloads_after: int | None = None  # bytes sent before the connection is cut
        self.fail_downloads_with: int | None = None  # a status every signed download answers
        self.requests: list[tuple[str, str]] = []
        self.bytes_sent = 0  # by signed downloads, ranged or whole
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                api.handle(self, "GET")

            def do_POST(self) -> None:
                api.handle(self, "POST")

            def do_PATCH(self) -> None:
                api.handle(self, "PATCH")

            def do_HEAD(self) -> None:
                api.handle(self, "HEAD")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------------------------------
    def handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(h.path)
        path = unquote(url.path).removeprefix(PREFIX)
        self.requests.append((method, path))
        body = h.rfile.read(int(h.headers.get("content-length") or 0))
        if path.startswith("/object/sign/") and method == "GET":
            return self.download(h, path, parse_qs(url.query).get("token", [""])[0])
        if h.headers.get("apikey") != self.key or h.headers.get("authorization") != f"Bearer {self.key}":
            return self.error(h, 400, "Unauthorized", "Invalid Compact JWS")
        if path.startswith("/upload/resumable"):
            return self.resumable(h, method, path, body)
        if path.startswith("/object/info/") and method == "GET":
            bucket, name = path.removeprefix("/object/info/").split("/", 1)
            stored = self.objects.get((bucket, name))
            if stored is None:
                return self.error(h, 404, "not_found", "Object not found")
            return self.json(h, 200, {"name": name, "size": len(stored[0]), "content_type": stored[1]})
        if path.startswith("/object/sign/") and method == "POST":
            bucket, name = path.removeprefix("/object/sign/").split("/", 1)
            if (bucket, name) not in self.objects:
                return self.error(h, 404, "not_found", "Object not found")
            token = secrets.token_urlsafe(16)
            self.tokens[token] = (bucket, name)
            return self.json(h, 200, {"signedURL": f"/object/sign/{bucket}/{name}?token={token}"})
        if path.startswith("/object/") and method == "POST":
            return self.upload(h, path.removeprefix("/object/"), body)
        return self.error(h, 400, "InvalidRequest", f"no route {method} {path}")

    def upload(self, h: BaseHTTPRequestHandler, key: str, body: bytes) -> None:
        bucket, name = key.split("/", 1)
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {h.headers['content-type']}\r\n\r\n".encode() + body
        )
        parts = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()}
        if "file" not in parts or "cacheControl" not in parts:
            return self.error(h, 400, "InvalidRequest", "multipart fields cacheControl and file are required")
        data = parts["file"].get_payload(decode=True)
        if len(data) > self.max_bytes:
            return self.error(h, 413, "Payload too large", "The object exceeded the maximum allowed size")
        if (bucket, name) in self.objects and h.headers.get("x-upsert") != "true":
            return self.error(h, 409, "Duplicate", "The resource already exists")
        self.objects[(bucket, name)] = (data, parts["file"].get_content_type())
        return self.json(h, 200, {"Key": key, "Id": secrets.token_hex(8)})

    def download(self, h: BaseHTTPRequestHandler, path: str, token: str) -> None:
        where = self.tokens.get(token)
        if where is None or path != f"/object/sign/{where[0]}/{where[1]}":
            return self.error(h, 400, "InvalidJWT", "invalid signature")
        if self.fail_downloads_with is not None:
            return self.error(h, self.fail_downloads_with, "Unavailable", "the storage backend is unavailable")
        if where not in self.objects:
            return self.error(h, 404, "not_found", "Object not found")
        data, content_type = self.objects[where]
        asked = re.fullmatch(r"bytes=(\d+)-(\d*)", h.headers.get("range") or "")
        first, last = (int(asked[1]), min(int(asked[2] or len(data) - 1), len(data) - 1)) if asked else (0, -1)
        if asked and first >= len(data):
            h.send_response(416)
            h.send_header("Content-Range", f"bytes */{len(data)}")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        part = data[first : last + 1] if asked else data
        h.send_response(206 if asked else 200)
        h.send_header("Content-Type", content_type)
        h.send_header("Accept-Ranges", "bytes")
        if asked:
            h.send_header("Content-Range", f"bytes {first}-{last}/{len(data)}")
        h.send_header("Content-Length", str(len(part)))
        h.end_headers()
        cut = self.drop_downloads_after
        sent = part if cut is None else part[:cut]
        # In small writes through a small send buffer, so that bytes_sent counts what the reader
        # took, not what the socket could hold when a reader that had what it needed hung up.
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        for start in range(0, len(sent), 64 * 1024):
            try:
                h.wfile.write(sent[start : start + 64 * 1024])
            except (BrokenPipeError, ConnectionResetError):
                return
            self.bytes_sent += len(sent[start : start + 64 * 1024])
        if cut is not None:
            h.close_connection = True
            h.wfile.flush()
            h.connection.shutdown(2)

    def resumable(self, h: BaseHTTPRequestHandler, method: str, path: str, body: bytes) -> None:
        if h.headers.get("tus-resumable") != "1.0.0":
            return self.error(h, 412, "PreconditionFailed", "Tus-Resumable 1.0.0 required")
        if method == "POST":
            meta = dict(item.split(" ", 1) for item in h.headers["upload-metadata"].split(","))
            meta = {k: base64.b64decode(v).decode() for k, v in meta.items()}
            length = int(h.headers["upload-length"])
            if length > self.max_bytes:
                return self.error(h, 413, "Payload too large", "The object exceeded the maximum allowed size")
            upload_id = secrets.token_hex(8)
            self.uploads[upload_id] = {"meta": meta, "length": length, "data": bytearray()}
            h.send_response(201)
            h.send_header("Location", f"{PREFIX}/upload/resumable/{upload_id}")
            h.send_header("Tus-Resumable", "1.0.0")
            h.send_header("Content-Length", "0")
            return h.end_headers()
        upload = self.uploads[path.rsplit("/", 1)[1]]
        if method == "PATCH":
            if int(h.headers["upload-offset"]) != len(upload["data"]):
                return self.error(h, 409, "Conflict", "offset mismatch")
            if len(body) != 6 * 1024**2 and len(upload["data"]) + len(body) != upload["length"]:
                return self.error(h, 400, "InvalidRequest", "chunks must be 6 MiB but for the last")
            upload["data"] += body
            if len(upload["data"]) == upload["length"]:
                meta = upload["meta"]
                self.objects[(meta["bucketName"], meta["objectName"])] = (bytes(upload["data"]), meta["contentType"])
        h.send_response(204)
        h.send_header("Upload-Offset", str(len(upload["data"])))
        h.send_header("Tus-Resumable", "1.0.0")
        h.send_header("Content-Length", "0")
        h.end_headers()

    def json(self, h: BaseHTTPRequestHandler, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def error(self, h: BaseHTTPRequestHandler, status: int, error: str, message: str) -> None:
        self.json(h, status, {"statusCode": str(status), "error": error, "message": message})
