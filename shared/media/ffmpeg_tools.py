"""Running ffmpeg/ffprobe: captured stderr, timeouts, and a readable error on failure."""

from __future__ import annotations

import subprocess
from functools import cache

from shared.domain import PipelineError, Reason


def stderr_tail(stderr: bytes | str | None, lines: int = 3) -> str:
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else (stderr or "")
    kept = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(kept[-lines:]) or "no diagnostic output"


def run_tool(args: list[str], reason: Reason, what: str, timeout: float) -> subprocess.CompletedProcess[bytes]:
    """Run an ffmpeg-family command; a non-zero exit becomes PipelineError(reason)."""
    try:
        result = subprocess.run(args, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise PipelineError(Reason.INTERNAL_ERROR, f"{args[0]} is not installed", retryable=True) from exc
    except subprocess.TimeoutExpired as exc:
        raise PipelineError(Reason.MEDIA_ERROR, f"{what} took longer than {timeout:.0f} s",
                            retryable=True) from exc
    if result.returncode != 0:
        raise PipelineError(reason, f"{what} failed: {stderr_tail(result.stderr)}")
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
