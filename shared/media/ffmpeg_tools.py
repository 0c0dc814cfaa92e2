"""Running ffmpeg/ffprobe: captured stderr, timeouts, and a readable error on failure."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from functools import cache
from urllib.parse import urlsplit

from shared.domain import LeaseLost, ObjectMissing, PipelineError, Reason, StorageUnavailable

STOP_POLL_SECONDS = 0.2  # how soon a tool is killed once its step's lease is gone
HOLD_POLL_SECONDS = 0.01  # how soon a tool is paused once its outputs wait for storage
# `[h264 @ 0x55d0c…] ` prefixes name ffmpeg's internals and memory addresses: not for users.
CONTEXT_PREFIX = re.compile(r"\[[^\]]* @ 0x[0-9a-f]+\]\s*")


def stderr_tail(stderr: bytes | str | None, lines: int = 3) -> str:
    """The last distinct lines of ffmpeg's diagnostics, fit to show a user."""
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else (stderr or "")
    kept: list[str] = []
    for raw in text.strip().splitlines():
        line = CONTEXT_PREFIX.sub("", raw).strip()
        if line and line not in kept:
            kept.append(line)
    return " | ".join(kept[-lines:]) or "no diagnostic output"


# (pattern in ffmpeg's stderr, reason, sentence): failures common enough to deserve their own
# words. The sentence may name the pattern's groups: {0}, {1}.
Diagnosis = tuple[str, Reason, str]


def diagnose(stderr: str, known: Sequence[Diagnosis]) -> PipelineError | None:
    """The first known diagnosis ffmpeg printed, as an error with its own words."""
    for pattern, reason, sentence in known:
        found = re.search(pattern, stderr)
        if found:
            return PipelineError(reason, sentence.format(*found.groups()))
    return None


def run_tool(
    args: list[str],
    reason: Reason,
    what: str,
    timeout: float,
    known: Sequence[Diagnosis] = (),
    stop: threading.Event | None = None,
    refuse: Sequence[Diagnosis] = (),
    hold: Callable[[], bool] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run an ffmpeg-family command; a non-zero exit becomes PipelineError(reason), or the
    reason of the first `known` diagnosis whose text ffmpeg printed. A `refuse` diagnosis fails
    the run whatever its exit (ffmpeg skips a frame it may not decode and goes on). When `stop`
    is set (the step's lease is gone) the tool is killed and LeaseLost raised. While `hold` says
    so (its outputs wait for their upload) the tool is paused; the pause counts in `timeout`.
    An error `hold` raises (its outputs cannot be stored) ends the run."""
    try:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError as exc:
        raise PipelineError(Reason.INTERNAL_ERROR, f"{args[0]} is not installed", retryable=True) from exc
    with proc:
        output: list[bytes] = []  # stdout, stderr: read on a thread, so this one can watch `stop`
        reading = threading.Thread(target=lambda: output.extend(proc.communicate()), daemon=True)
        reading.start()
        try:
            _watch(proc, reading, what, timeout, stop, hold)
        except BaseException:  # stopped, too slow, or `hold` raised: the tool goes too
            proc.kill()
            reading.join()
            raise
    result = subprocess.CompletedProcess(args, proc.returncode, output[0], output[1])
    stderr = result.stderr.decode(errors="replace")
    if result.returncode != 0:
        failed_read = read_failure(stderr, args)
        if failed_read is not None:
            raise failed_read
    refused = diagnose(stderr, [*refuse, *known] if result.returncode else refuse)
    if refused is not None:
        raise refused
    if result.returncode != 0:
        raise PipelineError(reason, f"{what} failed: {stderr_tail(scrub_paths(stderr, args))}")
    return result


def _watch(
    proc: subprocess.Popen[bytes],
    reading: threading.Thread,
    what: str,
    timeout: float,
    stop: threading.Event | None,
    hold: Callable[[], bool] | None,
) -> None:
    """Until the tool ends: pause and resume it as `hold` says, raise when `stop` is set or the
    time is up."""
    deadline = time.monotonic() + timeout
    paused = False
    while reading.is_alive():
        reading.join(STOP_POLL_SECONDS if hold is None else HOLD_POLL_SECONDS)
        if hold is not None and reading.is_alive() and hold() != paused:
            paused = not paused
            proc.send_signal(signal.SIGSTOP if paused else signal.SIGCONT)
        if stop is not None and stop.is_set():
            raise LeaseLost(f"{what} stopped: the step's lease was lost")
        if time.monotonic() > deadline:
            raise PipelineError(Reason.MEDIA_ERROR, f"{what} took longer than {timeout:.0f} s", retryable=True)


# The folders of an absolute path (`file:/tmp/x/` of `file:/tmp/x/clip.mp4`), where a word, a quote
# or an option's `=` begins: not a ratio such as 16/9.
FOLDERS = re.compile(r"(?<![^\s'\"(=])(?:file:)?/(?:[^/\s'\"]+/)+")


# How ffmpeg says that reading a URL failed (`<url>: Server returned 5XX Server Error reply`), as
# opposed to what it found in the bytes it read.
READ_FAILURE = re.compile(
    r"Server returned|Connection (?:refused|timed out|reset)|Operation timed out|Failed to resolve|"
    r"Network is unreachable|Input/output error"
)


def read_failure(stderr: str, args: Sequence[str]) -> Exception | None:
    """When reading an input from storage failed, the storage's trouble (retried) or the object's
    absence; never a verdict on the upload."""
    for arg in args:
        if not arg.startswith(("http://", "https://")):
            continue
        found = re.search(re.escape(arg) + r": (.+)", stderr)
        if found is None or not READ_FAILURE.match(found.group(1)):
            continue
        if "404" in found.group(1):
            return ObjectMissing("the upload is no longer in storage")
        return StorageUnavailable(f"reading from storage failed: {found.group(1).strip()}")
    return None


def scrub_paths(text: str, args: Sequence[str] = ()) -> str:
    """ffmpeg names its files in its messages; where the instance keeps them is not the user's
    business (nor an attacker's): each path becomes its file name. The command's own files are
    matched whole (their folders may hold spaces), any other absolute path by its shape."""
    for arg in sorted(args, key=len, reverse=True):
        if arg.startswith(("http://", "https://")):  # a signed URL: its token is a credential
            text = text.replace(arg, urlsplit(arg).path.rsplit("/", 1)[-1])
            continue
        path = arg.removeprefix("file:")
        if path.startswith("/"):
            text = text.replace(path, path.rsplit("/", 1)[-1])
    return FOLDERS.sub("", text)


@cache
def tool_version(tool: str) -> str:
    """`ffmpeg version 5.1.6-0+deb12u1 …` → `5.1.6-0+deb12u1`."""
    try:
        out = subprocess.run([tool, "-version"], capture_output=True, text=True, check=False).stdout
    except FileNotFoundError:
        return "unknown"
    words = out.split()
    return words[2] if len(words) > 2 and words[1] == "version" else "unknown"
