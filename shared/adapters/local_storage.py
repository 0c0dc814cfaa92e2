"""The Storage port on a local directory: <root>/<bucket>/<path>, and <root>/.partial for files
being written. The embedded stack's default."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.domain import ObjectMissing, UnsafePath, safe_key
from shared.media.confine import Source


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def partial_dir(self) -> Path:
        """Where files being written wait, outside every bucket (on the same file system)."""
        return self.root / ".partial"

    def file_path(self, bucket: str, path: str) -> Path:
        bucket, path = safe_key(bucket, path)
        home = (self.root / bucket).resolve()
        target = home / path
        # A link inside a bucket (planted by anyone who can write to the disk) could lead to
        # another owner's files or the system's: never followed.
        if target.resolve() != target:
            raise UnsafePath(f"{bucket}/{path} leads through a link")
        return target

    def size(self, bucket: str, path: str) -> int | None:
        try:
            return self.file_path(bucket, path).stat().st_size
        except FileNotFoundError:
            return None

    @contextmanager
    def reading(self, bucket: str, path: str) -> Iterator[Source]:
        # Readers only read, so the stored file itself serves: no copy, no cleanup.
        target = self.file_path(bucket, path)
        if not target.is_file():
            raise ObjectMissing(f"{bucket}/{path} does not exist")
        yield Source.file(target)

    def upload(self, bucket: str, path: str, src: Path, content_type: str) -> None:
        target = self.file_path(bucket, path)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Write aside and rename, so readers never see half a file. The partial file lives outside
        # the buckets, so a writer killed mid-copy leaves nothing in the owner's folder.
        self.partial_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.partial_dir, prefix="upload-")  # 0600: the owner's alone
        os.close(fd)
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
