"""What every `vidpipe` command shares: its two consoles, its exit codes, and the way it finds
the local stack and a job."""

from __future__ import annotations

import re
from typing import Any, NoReturn
from uuid import UUID

import typer
from rich.console import Console
from rich.markup import escape

from infra import queries
from infra.local.stack import LocalStack, StackState

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)

# 0: done (the video is ready) · 1: refused (nothing to retry, no such endpoint…) · 2: usage
EXIT_REFUSED, EXIT_USAGE, EXIT_FAILED, EXIT_TIMEOUT, EXIT_NOT_UP = 1, 2, 3, 4, 5
SHORT_ID = 8
UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # ESC, C1, bidi overrides
ID_PREFIX = re.compile(r"^[0-9a-f]{4,8}(-[0-9a-f]{0,4}){0,3}(-[0-9a-f]{0,12})?$")


def plain(text: str) -> str:
    """User data (file names, messages) as inert text: no terminal escapes, no bidi overrides, no
    rich markup."""
    return escape(UNPRINTABLE.sub("", text))


def stop(message: str, code: int) -> NoReturn:
    err.print(message)
    raise typer.Exit(code)


def running_stack() -> StackState:
    state = LocalStack().running()
    if state is None:
        stop("[red]the local stack is not up: `vidpipe up` starts it[/red]", EXIT_NOT_UP)
    return state


def short_id(value: Any) -> str:
    return str(value)[:SHORT_ID]


def resolve_job(conn: queries.Conn, text: str) -> UUID:
    """A job id, or a unique prefix of one (at least 4 characters), as git takes commits."""
    text = text.strip().lower()
    try:
        return UUID(text)
    except ValueError:
        pass
    if not ID_PREFIX.match(text):
        stop(f"[red]not a job id: {text}[/red]", EXIT_USAGE)
    found = queries.job_ids_starting(conn, text)
    if not found:
        stop(f"[red]no job {text}[/red]", EXIT_REFUSED)
    if len(found) > 1:
        stop(f"[red]{text} names more than one job: give more of its id[/red]", EXIT_USAGE)
    return found[0]
