"""`vidpipe webhooks`: an owner's endpoints on the local stack (add, list, remove, test).

The commands call the same SQL functions an owner calls over the Supabase API; the secret is
printed once, when the endpoint is added.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

import psycopg
import typer
from psycopg.rows import dict_row
from rich.table import Table

from infra.console import EXIT_REFUSED, EXIT_USAGE, err, out, running_stack, stop
from infra.local.stack import LOCAL_USER_ID
from shared.config import get_settings
from shared.domain import WebhookEventType
from shared.net_guard import UnsafeUrl, resolve
from shared.webhooks import post_to_endpoint

EVENT_TYPES = tuple(t.value for t in WebhookEventType)
webhooks = typer.Typer(no_args_is_help=True, help="Manage the local user's webhook endpoints.")
Owner = Annotated[UUID, typer.Option(help="whose endpoints (default: the local stack's user)")]
LOCAL_USER = UUID(LOCAL_USER_ID)


def _connect() -> psycopg.Connection[dict[str, Any]]:
    return psycopg.connect(running_stack().database_url, autocommit=True, row_factory=dict_row)


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
            row = conn.execute(
                "select * from public.create_webhook_endpoint(%s, %s, %s, %s)", (url, event or None, description, owner)
            ).fetchone()
        except psycopg.errors.CheckViolation as exc:  # the database says which rule, and no more
            stop(f"[red]refused: {exc.diag.message_primary}[/red]", EXIT_USAGE)
    assert row is not None
    out.print(f"endpoint {row['id']}\nsecret   {row['secret']}")
    err.print("[dim]keep the secret: it verifies the webhook-signature header, and is not shown again[/dim]")


@webhooks.command("list")
def list_endpoints(owner: Owner = LOCAL_USER) -> None:
    """The owner's endpoints with their last delivery."""
    with _connect() as conn:
        rows = conn.execute(
            "select e.id, e.url, e.event_types::text[] as event_types, e.enabled, e.disabled_reason, e.description, "
            "(select count(*) from public.webhook_deliveries d where d.endpoint_id = e.id) as deliveries, "
            "(select coalesce(a.status_code::text, a.error) from public.webhook_attempts a "
            "  where a.endpoint_id = e.id order by a.created_at desc, a.id desc limit 1) as last "
            "from public.webhook_endpoints e where e.owner_id = %s order by e.created_at",
            (owner,),
        ).fetchall()
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


def _owner_call(sql: str, params: tuple[Any, ...], endpoint: UUID, owner: UUID, done: str) -> None:
    """Run an endpoint function that answers whether the owner's endpoint was there."""
    with _connect() as conn:
        row = conn.execute(f"select {sql} as done", params).fetchone()
    if not (row and row["done"]):
        stop(f"[red]no endpoint {endpoint} for owner {owner}[/red]", EXIT_REFUSED)
    err.print(f"{endpoint} {done}")


@webhooks.command()
def remove(endpoint: Annotated[UUID, typer.Argument(help="an endpoint id")], owner: Owner = LOCAL_USER) -> None:
    """Delete an endpoint (and its delivery log)."""
    _owner_call("public.delete_webhook_endpoint(%s, %s)", (endpoint, owner), endpoint, owner, "removed")


@webhooks.command()
def enable(endpoint: Annotated[UUID, typer.Argument(help="an endpoint id")], owner: Owner = LOCAL_USER) -> None:
    """Turn an endpoint back on (after a 410, say); new events reach it again."""
    _owner_call("public.set_webhook_endpoint_enabled(%s, true, %s)", (endpoint, owner), endpoint, owner, "enabled")


@webhooks.command()
def disable(endpoint: Annotated[UUID, typer.Argument(help="an endpoint id")], owner: Owner = LOCAL_USER) -> None:
    """Turn an endpoint off: its waiting deliveries are cancelled when their turn comes."""
    _owner_call("public.set_webhook_endpoint_enabled(%s, false, %s)", (endpoint, owner), endpoint, owner, "disabled")


@webhooks.command()
def test(endpoint: Annotated[UUID, typer.Argument(help="an endpoint id")], owner: Owner = LOCAL_USER) -> None:
    """Send a signed `webhook.test` event now; exit 0 when the endpoint answers 2xx."""
    with _connect() as conn:
        row = conn.execute(
            "select url, secret from public.webhook_endpoints where id = %s and owner_id = %s", (endpoint, owner)
        ).fetchone()
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
        rows = conn.execute(
            "select d.id, d.message_id, m.event_type, d.endpoint_id, d.status, d.attempts, d.replays, "
            "d.next_attempt_at, coalesce(d.last_status_code::text, '') as code, d.last_error "
            "from public.webhook_deliveries d join public.webhook_messages m on m.id = d.message_id "
            "where d.owner_id = %s and (%s::uuid is null or d.endpoint_id = %s) "
            "order by d.created_at desc limit %s",
            (owner, endpoint, endpoint, limit),
        ).fetchall()
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
        mine = conn.execute(
            "select 1 from public.webhook_deliveries where id = %s and owner_id = %s", (delivery, owner)
        ).fetchone()
        if mine is None:
            stop(f"[red]no delivery {delivery} for owner {owner}[/red]", EXIT_REFUSED)
        try:
            conn.execute("select public.replay_delivery(%s)", (delivery,))
        except psycopg.Error as exc:
            stop(f"[red]{exc.diag.message_primary}[/red]", EXIT_REFUSED)
    err.print(f"replaying {delivery}")
