"""Running ffmpeg/ffprobe: captured stderr, timeouts, and a readable error on failure."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from functools import cache

from shared.domain import PipelineError, Reason

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


# (text in ffmpeg's stderr, reason, sentence): failures common enough to deserve their own words.
Diagnosis = tuple[str, Reason, str]


def run_tool(
    args: list[str], reason: Reason, what: str, timeout: float, known: Sequence[Diagnosis] = ()
) -> subprocess.CompletedProcess[bytes]:
    """Run an ffmpeg-family command; a non-zero exit becomes PipelineError(reason), or the
    reason of the first `known` diagnosis whose text ffmpeg printed."""
    try:
        result = subprocess.run(args, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise PipelineError(Reason.INTERNAL_ERROR, f"{args[0]} is not installed", retryable=True) from exc
    except subprocess.TimeoutExpired as exc:
        raise PipelineError(Reason.MEDIA_ERROR, f"{what} took longer than {timeout:.0f} s", retryable=True) from exc
    if result.returncode != 0:
        stderr = result.stderr.decode(errors="replace")
        for text, known_reason, sentence in known:
            if text in stderr:
                raise PipelineError(known_reason, sentence)
        raise PipelineError(reason, f"{what} failed: {stderr_tail(stderr)}")
    return result


@cache
def tool_version(tool: str) -> str:
    """`ffmpeg version 5.1.6-0+deb12u1 …` → `5.1.6-0+deb12u1`."""
    try:
        out = subprocess.run([tool, "-version"], capture_output=True, text=True, check=False).stdout
    except FileNotFoundError:
        return "unknown"
    words = out.split()
    return words[2] if len(words) > 2 and words[1] == "version" else "unknown"
