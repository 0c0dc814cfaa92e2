"""The Storage port on Supabase Storage's own API, through supabase-py (storage3), with the project
URL and the service-role key.

Reads go through a signed URL, by ranges (the Storage API serves Range requests): ffmpeg's, and
Python's through `Source.read`, which streams each range and keeps what was asked, so a large
object never sits in memory or on disk (storage3's download() returns the whole body). Uploads
go through storage3 with their content type and overwrite what a rerun wrote before; large files
use the Storage API's resumable (TUS) endpoint in the 6 MiB chunks it takes, resuming from the
server's offset when a connection drops."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from storage3.exceptions import StorageApiError

from shared.domain import ObjectMissing, PipelineError, Reason, StorageUnavailable, safe_key
from shared.media.confine import Source
from supabase import create_client

TUS_CHUNK = 6 * 1024**2  # the resumable endpoint's chunk size
READ_CHUNK = 1024**2
SIGNED_URL_SECONDS = 3600


class SupabaseStorage:
    def __init__(self, url: str, service_key: str, resumable_above: int = 50 * 1024**2, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.storage = create_client(self.url, service_key).storage
        self.auth = {"apikey": service_key, "Authorization": f"Bearer {service_key}"}
        self.resumable_above = resumable_above
        self.http = httpx.Client(timeout=timeout, follow_redirects=False)

    def size(self, bucket: str, path: str) -> int | None:
        bucket, path = safe_key(bucket, path)
        try:
            info: dict[str, Any] = self._call(lambda: self.storage.from_(bucket).info(path))
        except ObjectMissing:
            return None
        size = info.get("size", (info.get("metadata") or {}).get("size"))
        return int(size) if size is not None else None

    @contextmanager
    def reading(self, bucket: str, path: str) -> Iterator[Source]:
        bucket, path = safe_key(bucket, path)
        signed = self._call(lambda: self.storage.from_(bucket).create_signed_url(path, SIGNED_URL_SECONDS))
        url = signed["signedURL"]

        yield Source.remote(url, lambda offset, n: self._read(url, offset, n))

    def upload(self, bucket: str, path: str, src: Path, content_type: str) -> None:
        bucket, path = safe_key(bucket, path)
        if src.stat().st_size > self.resumable_above:
            self._upload_resumable(bucket, path, src, content_type)
            return
        options: Any = {"content-type": content_type, "upsert": "true"}
        self._call(lambda: self.storage.from_(bucket).upload(path, src, options))

    # ------------------------------------------------------------------------------------------
    def _call(self, request: Any) -> Any:
        """One storage3 call, its failures as the port's: missing, refused for good, or transient."""
        try:
            return request()
        except StorageApiError as exc:
            raise storage_failure(int(str(exc.status)) if str(exc.status).isdigit() else 500, exc.message) from None
        except httpx.HTTPError as exc:
            raise StorageUnavailable(f"Supabase Storage unreachable: {type(exc).__name__}: {exc}") from None

    def _read(self, url: str, offset: int, n: int) -> bytes:
        """At most n bytes from offset (none past the end), streamed: a server that ignores the
        range and sends the whole object is read up to what was asked, not held whole."""
        kept = bytearray()
        try:
            with self.http.stream("GET", url, headers={"Range": f"bytes={offset}-{offset + n - 1}"}) as response:
                if response.status_code == 416:  # from past the end
                    return b""
                if response.status_code not in (200, 206):
                    response.read()
                    raise storage_failure(response.status_code, response.text[:200])
                skip = offset if response.status_code == 200 else 0
                for chunk in response.iter_bytes(READ_CHUNK):
                    kept += chunk[skip:] if skip < len(chunk) else b""
                    skip = max(0, skip - len(chunk))
                    if len(kept) >= n:
                        break
        except httpx.HTTPError as exc:
            raise StorageUnavailable(f"the read broke off: {type(exc).__name__}: {exc}") from None
        return bytes(kept[:n])

    def _upload_resumable(self, bucket: str, path: str, src: Path, content_type: str) -> None:
        size = src.stat().st_size
        tus = {**self.auth, "Tus-Resumable": "1.0.0"}
        metadata = {"bucketName": bucket, "objectName": path, "contentType": content_type, "cacheControl": "3600"}
        created = self._tus(
            "POST",
            f"{self.url}/storage/v1/upload/resumable",
            {
                **tus,
                "Upload-Length": str(size),
                "x-upsert": "true",
                "Upload-Metadata": ",".join(
                    f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in metadata.items()
                ),
            },
        )
        location = httpx.URL(self.url).join(created.headers["Location"])
        offset, broken = 0, 0
        with src.open("rb") as f:
            while offset < size:
                f.seek(offset)
                try:
                    sent = self._tus(
                        "PATCH",
                        str(location),
                        {
                            **tus,
                            "Upload-Offset": str(offset),
                            "Content-Type": "application/offset+octet-stream",
                        },
                        f.read(TUS_CHUNK),
                    )
                except StorageUnavailable:
                    broken += 1
                    if broken > 3:
                        raise
                    sent = self._tus("HEAD", str(location), tus)  # where the server got to
                offset = int(sent.headers["Upload-Offset"])

    def _tus(self, method: str, url: str, headers: dict[str, str], body: bytes | None = None) -> httpx.Response:
        try:
            response = self.http.request(method, url, headers=headers, content=body)
        except httpx.HTTPError as exc:
            raise StorageUnavailable(f"the resumable upload broke off: {type(exc).__name__}: {exc}") from None
        if response.status_code not in (200, 201, 204):
            raise storage_failure(response.status_code, response.text[:200])
        return response


def storage_failure(status: int, message: str) -> Exception:
    if status == 404:
        return ObjectMissing(message)
    if status in (408, 429) or status >= 500:
        return StorageUnavailable(f"Supabase Storage answered {status}: {message}")
    # 400, 401, 403, 409, 413…: a misconfiguration (the key, a bucket's limits) that retrying will not fix.
    return PipelineError(Reason.INTERNAL_ERROR, f"Supabase Storage refused the request ({status}): {message}")
