"""`lifeline snapshot create|list|restore|delete`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lifeline_cli import render
from lifeline_cli.context import Context, run

snapshot_app = typer.Typer(help="Create, list, restore and delete snapshots.", no_args_is_help=True)


def _snapshot_rows(body: dict[str, Any]) -> None:
    render.table(
        f"snapshots of {body['session_id']}",
        ["id", "at seq", "trigger", "label", "created", "hash"],
        [
            (
                s["snapshot_id"],
                s["at_seq"],
                s["trigger"],
                s["label"],
                s["created_at"][:19],
                s["content_hash"][:12],
            )
            for s in body["snapshots"]
        ],
    )


@snapshot_app.command("create")
def snapshot_create(
    ctx: typer.Context,
    session: str,
    label: Annotated[str | None, typer.Option(help="a name for the snapshot")] = None,
) -> None:
    """Snapshot a session's current state (the same state again returns the existing snapshot)."""

    def action(c: Context) -> Any:
        with c.snapshot() as api:
            return api.json("POST", f"/v1/sessions/{session}/snapshots", json={"label": label})

    def show(s: dict[str, Any]) -> None:
        verb = "created" if s["created"] else "unchanged, existing"
        render.out.print(f"{verb} snapshot {s['snapshot_id']} at seq {s['at_seq']}")

    run(ctx, action, show)


@snapshot_app.command("list")
def snapshot_list(ctx: typer.Context, session: str) -> None:
    """List a session's snapshots, newest first."""

    def action(c: Context) -> Any:
        with c.snapshot() as api:
            return api.json("GET", f"/v1/sessions/{session}/snapshots")

    run(ctx, action, _snapshot_rows)


@snapshot_app.command("restore")
def snapshot_restore(ctx: typer.Context, session: str, snapshot_id: str) -> None:
    """Restore a snapshot: appends session.restored to the log (history is kept)."""

    def action(c: Context) -> Any:
        with c.snapshot() as api:
            return api.json("POST", f"/v1/sessions/{session}/restore/{snapshot_id}")

    run(
        ctx,
        action,
        lambda r: render.out.print(
            f"restored snapshot {r['snapshot_id']} (from seq {r['snapshot_at_seq']}) as seq {r['seq']}"
        ),
    )


@snapshot_app.command("delete")
def snapshot_delete(ctx: typer.Context, session: str, snapshot_id: str) -> None:
    """Delete one snapshot."""

    def action(c: Context) -> Any:
        with c.snapshot() as api:
            api.call("DELETE", f"/v1/sessions/{session}/snapshots/{snapshot_id}")
        return {"session_id": session, "snapshot_id": snapshot_id, "deleted": True}

    run(ctx, action, lambda r: render.out.print(f"deleted snapshot {r['snapshot_id']}"))
