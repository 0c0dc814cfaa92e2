"""`vidpipe webhooks`: an owner's endpoints on the local stack (add, list, remove, test).

The commands call the same SQL functions an owner calls over the Supabase API; the secret is
printed once, when the endpoint is added.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID, uuid4

import psycopg
import typer
from rich.table import Table

from infra import queries
from infra.console import EXIT_REFUSED, EXIT_USAGE, err, out, running_stack, stop
from infra.local.stack import LOCAL_USER_ID
from shared.adapters.postgres import map_error
from shared.config import get_settings
from shared.domain import WebhookEventType
from shared.net_guard import UnsafeUrl, resolve
from shared.webhooks import post_to_endpoint

EVENT_TYPES = tuple(t.value for t in WebhookEventType)
webhooks = typer.Typer(no_args_is_help=True, help="Manage the local user's webhook endpoints.")
Owner = Annotated[UUID, typer.Option(help="whose endpoints (default: the local stack's user)")]
LOCAL_USER = UUID(LOCAL_USER_ID)


def _connect() -> queries.Conn:
    return queries.connect(running_stack().database_url)


@webhooks.command()
def add(
    url: Annotated[str, typer.Argument(help="http(s) URL that receives the events")],
    event: Annotated[list[str] | None, typer.Option(help=f"an event type to send (repeatable): {EVENT_TYPES}")] = None,
    description: Annotated[str | None, typer.Option(help="a note for yourself")] = None,
    owner: Owner = LOCAL_USER,
) -> None:
    """Register URL; prints its id and signing secret (shown only now)."""
    unknown = sorted(set(event or ()) - set(EVENT_TYPES))
    if unknown:
        stop(f"[red]unknown event type(s): {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}[/red]", EXIT_USAGE)
    try:
        resolve(url, get_settings().webhook_allowed_networks)
    except UnsafeUrl as exc:
        stop(
            f"[red]refused: {exc}[/red] (for local development, VIDPIPE_WEBHOOK_ALLOWED_NETWORKS='[\"127.0.0.0/8\"]' "
            "allows this machine)",
            EXIT_USAGE,
        )
    with _connect() as conn:
        try:
            row = queries.created_endpoint(conn, url, event or None, description, owner)
        except psycopg.errors.CheckViolation as exc:  # the database says which rule, and no more
            stop(f"[red]refused: {exc.diag.message_primary}[/red]", EXIT_USAGE)
    assert row is not None
    out.print(f"endpoint {row['id']}\nsecret   {row['secret']}")
    err.print("[dim]keep the secret: it verifies the webhook-signature header, and is not shown again[/dim]")


@webhooks.command("list")
def list_endpoints(owner: Owner = LOCAL_USER) -> None:
    """The owner's endpoints with their last delivery."""
    with _connect() as conn:
        rows = queries.owner_endpoints(conn, owner)
    table = Table("endpoint", "url", "events", "enabled", "deliveries", "last answer", "note")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["url"],
            ", ".join(r["event_types"]),
            "yes" if r["enabled"] else f"no ({r['disabled_reason'] or 'turned off'})",
            str(r["deliveries"]),
            r["last"] or "-",
            r["description"] or "",
        )
    out.print(table)


def _owner_call(change: Callable[[queries.Conn], bool], endpoint: UUID, owner: UUID, done: str) -> None:
    """Run a change of the owner's endpoint, which answers whether the endpoint was there."""
    with _connect() as conn:
        found = change(conn)
    if not found:
        stop(f"[red]no endpoint {endpoint} for owner {owner}[/red]", EXIT_REFUSED)
    err.print(f"{endpoint} {done}")


@webhooks.command()
def remove(endpoint: Annotated[UUID, typer.Argument(help="an endpoint id")], owner: Owner = LOCAL_USER) -> None:
    """Delete an endpoint (and its delivery log)."""
    _owner_call(lambda conn: queries.endpoint_removed(conn, endpoint, owner), endpoint, owner, "removed")


@webhooks.command()
def enable(endpoint: Annotated[UUID, typer.Argument(help="an endpoint id")], owner: Owner = LOCAL_USER) -> None:
    """Turn an endpoint back on (after a 410, say); new events reach it again."""
    _owner_call(lambda conn: queries.endpoint_switched(conn, endpoint, True, owner), endpoint, owner, "enabled")


@webhooks.command()
def disable(endpoint: Annotated[UUID, typer.Argument(help="an endpoint id")], owner: Owner = LOCAL_USER) -> None:
    """Turn an endpoint off: its waiting deliveries are cancelled when their turn comes."""
    _owner_call(lambda conn: queries.endpoint_switched(conn, endpoint, False, owner), endpoint, owner, "disabled")


@webhooks.command()
def test(endpoint: Annotated[UUID, typer.Argument(help="an endpoint id")], owner: Owner = LOCAL_USER) -> None:
    """Send a signed `webhook.test` event now; exit 0 when the endpoint answers 2xx."""
    with _connect() as conn:
        row = queries.endpoint_address(conn, endpoint, owner)
    if row is None:
        stop(f"[red]no endpoint {endpoint} for owner {owner}[/red]", EXIT_REFUSED)
    settings = get_settings()
    message_id = f"msg_test_{uuid4().hex}"
    body = json.dumps(
        {"type": "webhook.test", "timestamp": datetime.now(tz=UTC).isoformat(), "data": {"endpoint_id": str(endpoint)}},
        separators=(",", ":"),
    )
    sent = post_to_endpoint(
        row["url"],
        row["secret"],
        message_id,
        body,
        settings.webhook_timeout_seconds,
        settings.webhook_allowed_networks,
    )
    answer = f"HTTP {sent.status_code}" if sent.status_code is not None else sent.error
    out.print(f"{message_id}: {answer} in {sent.latency_ms} ms" + (f"\n{sent.body}" if sent.body else ""))
    if not sent.ok:
        raise typer.Exit(EXIT_REFUSED)


@webhooks.command()
def deliveries(
    endpoint: Annotated[UUID | None, typer.Option(help="only this endpoint's")] = None,
    owner: Owner = LOCAL_USER,
    limit: Annotated[int, typer.Option(help="the newest N")] = 20,
) -> None:
    """Recent deliveries: message, endpoint, status, attempts, next attempt, last error."""
    with _connect() as conn:
        rows = queries.owner_deliveries(conn, owner, endpoint, limit)
    table = Table("delivery", "event", "message", "endpoint", "status", "attempts", "next / last")
    for r in rows:
        when = (
            f"next {r['next_attempt_at']:%H:%M:%S}"
            if r["status"] == "pending"
            else (f"{r['code']} {r['last_error'] or ''}".strip() or "-")
        )
        table.add_row(
            str(r["id"]),
            r["event_type"],
            r["message_id"],
            str(r["endpoint_id"])[:8],
            r["status"],
            f"{r['attempts']}" + (f" (replayed {r['replays']}x)" if r["replays"] else ""),
            when,
        )
    out.print(table)


@webhooks.command()
def replay(
    delivery: Annotated[UUID, typer.Argument(help="a delivery id (see `vidpipe webhooks deliveries`)")],
    owner: Owner = LOCAL_USER,
) -> None:
    """Send a delivery again from the start of its schedule, with the same webhook-id."""
    with _connect() as conn:
        if not queries.owner_has_delivery(conn, delivery, owner):
            stop(f"[red]no delivery {delivery} for owner {owner}[/red]", EXIT_REFUSED)
        try:
            queries.replayed_delivery(conn, delivery)
        except psycopg.Error as exc:
            stop(f"[red]{map_error(exc)}[/red]", EXIT_REFUSED)
    err.print(f"replaying {delivery}")
