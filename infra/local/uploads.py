"""What Supabase Storage does on an upload, for the local stack: the bytes are stored, then one
row is inserted into storage.objects, whose trigger hands the upload to the pipeline.

`vidpipe process` and the results page both upload through here. The results page first asks
the database, with the uploader's rights, whether the upload is allowed (`check_upload`), as the
storage server does with a permission-check insert that it rolls back."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path
from typing import IO
from uuid import UUID, uuid4

import psycopg

from infra import queries
from infra.local.owner_db import as_owner
from infra.local.stack import LOCAL_USER_ID, UPLOADS_BUCKET
from shared.adapters.local_storage import LocalStorage


class UploadRefused(Exception):
    """The storage server would refuse this upload; `status` is its HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def storage_name(file_name: str | Path, owner: str = LOCAL_USER_ID) -> str:
    """`<owner>/<short id>-<file name>`, with characters a storage key should not carry replaced."""
    clean = re.sub(r"[^A-Za-z0-9._-]", "_", Path(file_name).name).lstrip(".")[-120:] or "video"
    return f"{owner}/{uuid4().hex[:8]}-{clean}"


def check_upload(database_url: str, owner: str, name: str, size: int, bucket: str = UPLOADS_BUCKET) -> None:
    """Refuses (UploadRefused) what Supabase Storage would refuse the signed-in `owner`: a key the
    bucket's policies do not let them insert (403), a file over the bucket's limit (413)."""
    with as_owner(database_url, owner) as conn:
        limit = queries.bucket_size_limit(conn, bucket)
        if limit is None:
            raise UploadRefused(404, f"no bucket {bucket}")
        if limit["file_size_limit"] is not None and size > limit["file_size_limit"]:
            raise UploadRefused(413, f"the file is {size} bytes; the bucket takes at most {limit['file_size_limit']}")
        try:
            with conn.transaction():  # the policies decide; the row never commits
                queries.inserted_object(conn, bucket, name, owner, None)
                raise psycopg.Rollback
        except psycopg.errors.InsufficientPrivilege as exc:
            raise UploadRefused(403, f"not allowed to upload {name}") from exc
        except psycopg.errors.UniqueViolation as exc:
            raise UploadRefused(409, f"{name} exists") from exc


def store_upload(
    database_url: str,
    storage_root: Path,
    name: str,
    source: IO[bytes],
    size: int,
    owner: str = LOCAL_USER_ID,
    content_type: str = "video/mp4",
    bucket: str = UPLOADS_BUCKET,
) -> UUID:
    """Store the bytes of `source` under `bucket/name`, then insert the object as the storage
    service does (owner from the uploader's token); returns the object's id."""
    target = storage_root / bucket / name
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    received = _received_file(source, storage_root, size)
    if received is not None:
        os.link(received, target)  # the body was written beside the buckets as it arrived: no copy
    else:
        _copy_in(source, target)
    with queries.connect(database_url) as conn:
        return queries.inserted_object(conn, bucket, name, owner, {"size": size, "mimetype": content_type})


def _copy_in(source: IO[bytes], target: Path) -> None:
    """Write aside and rename, so that nobody sees half a file."""
    partial = target.with_name(f".{target.name}.partial")
    try:
        # Readable by the stack's user alone, as every stored file (os.open: open() would take 0644).
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
        os.replace(partial, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def _received_file(source: IO[bytes], storage_root: Path, size: int) -> Path | None:
    """The file the results page's server received the body into (shared.serve's screen), when
    `source` is one: a whole one, in the storage's own folder for files being written."""
    name = getattr(source, "name", None)
    if not isinstance(name, str) or Path(name).parent.resolve() != LocalStorage(storage_root).partial_dir.resolve():
        return None
    source.flush()
    return Path(name) if os.fstat(source.fileno()).st_size == size else None


def upload_file(database_url: str, storage_root: Path, file: Path, name: str | None = None) -> UUID:
    """Upload a file of this machine as the local user's video. `name` overrides the object key
    (tests of odd paths)."""
    with open(file, "rb") as source:
        return store_upload(database_url, storage_root, name or storage_name(file.name), source, file.stat().st_size)
