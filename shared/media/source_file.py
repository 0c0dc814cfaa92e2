"""A Source read as a file: seekable, each read a ranged read of the storage (or of the local
file), buffered so that small reads (`wave` reading a header) make few requests. What the instance
holds is the buffer, never the object: a four-hour audio track is read a window at a time."""

from __future__ import annotations

import io

from shared.media.confine import Source

# Small reads (a header) fill the buffer; a larger one (a 28 s window of 16 kHz mono PCM is
# 0.9 MB) goes past it as one ranged read.
BUFFER_BYTES = 64 * 1024


class SourceFile(io.RawIOBase):
    def __init__(self, source: Source) -> None:
        self.source = source
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            self.position = offset
        elif whence == io.SEEK_CUR:
            self.position += offset
        else:  # the end is not known without asking; no reader here needs it
            raise io.UnsupportedOperation("seeking from the end of a stored object")
        if self.position < 0:
            raise ValueError("negative seek position")
        return self.position

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.source.read(self.position, len(buffer))
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)


def open_source(source: Source, buffer_bytes: int = BUFFER_BYTES) -> io.BufferedReader:
    """The source as a read-only binary file."""
    return io.BufferedReader(SourceFile(source), buffer_size=buffer_bytes)
