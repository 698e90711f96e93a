"""`lifeline wal list|reconcile`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lifeline_cli import render
from lifeline_cli.context import Context, run

wal_app = typer.Typer(
    help="The write-ahead log: what is published and applied; reconcile.", no_args_is_help=True
)


def _show_wal(body: dict[str, Any]) -> None:
    names = list(body["projections"])
    rows = [
        (
            e["seq"],
            e["event_type"],
            e["turn_id"],
            render.mark(e["published"]),
            *(render.mark(e["applied"][n]) for n in names),
        )
        for e in body["entries"]
    ]
    render.table(
        f"WAL of {body['session_id']} (last seq {body['last_seq']})",
        ["seq", "type", "turn", "published", *names],
        rows,
    )
    for name, p in body["projections"].items():
        render.out.print(f"{name}: {p['status']}, at seq {p['last_seq']}")


@wal_app.command("list")
def wal_list(
    ctx: typer.Context,
    session: str,
    after_seq: Annotated[int, typer.Option(min=0)] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
) -> None:
    """Each event: published by ingest? applied by snapshot and replay?"""

    def action(c: Context) -> Any:
        with c.snapshot() as api:
            return api.json(
                "GET", f"/v1/sessions/{session}/wal", params={"after_seq": after_seq, "limit": limit}
            )

    run(ctx, action, _show_wal)


@wal_app.command("reconcile")
def wal_reconcile(
    ctx: typer.Context,
    session: str,
    apply: Annotated[bool, typer.Option("--apply", help="repair (default: dry run)")] = False,
) -> None:
    """Report unpublished or unapplied events; with --apply ask ingest to re-publish them."""

    def action(c: Context) -> Any:
        with c.snapshot() as api:
            return api.json("POST", f"/v1/sessions/{session}/wal/reconcile", json={"dry_run": not apply})

    def show(r: dict[str, Any]) -> None:
        plan = r["plan"]
        if not plan["needed"]:
            render.out.print(f"{session}: nothing to reconcile (last seq {r['last_seq']})")
            return
        reasons = ", ".join(f"{k} from {v}" for k, v in plan["reasons"].items())
        verb = "re-publishing" if r["repair"] is not None else "would re-publish (dry run)"
        render.out.print(f"{session}: {verb} from seq {plan['from_seq']} ({reasons})")

    run(ctx, action, show)
