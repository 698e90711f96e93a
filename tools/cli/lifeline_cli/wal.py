"""`lifeline wal list|reconcile|cleanup|restore`."""

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


@wal_app.command("cleanup")
def wal_cleanup(
    ctx: typer.Context,
    days: Annotated[float, typer.Option(min=0, help="archive finished sessions idle longer than this")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only report what would go")] = False,
    tenant: Annotated[str | None, typer.Option(help="only this tenant (default: every tenant)")] = None,
) -> None:
    """Archive finished sessions idle for --days (verified by hash), then remove them from
    ingest's hot log. Run with --dry-run first. Needs an operator key."""

    def action(c: Context) -> Any:
        body = {"days": days, "dry_run": dry_run, "tenant_id": tenant}
        with c.ingest() as api:
            return api.json("POST", "/v1/admin/wal/cleanup", json=body)

    def show(r: dict[str, Any]) -> None:
        sessions = r["sessions"]
        if r["dry_run"]:
            render.table(
                f"would archive {len(sessions)} sessions, {r['events']} events (idle since {r['cutoff']})",
                ["tenant", "session", "events", "last event"],
                [(s["tenant_id"], s["session_id"], s["events"], s["last_recorded_at"]) for s in sessions],
            )
        elif r["archive"]:
            render.out.print(
                f"archived {len(sessions) - len(r['kept'])} sessions ({r['events']} events) to "
                f"{r['archive_path']} ({r['archive_bytes']} bytes, verified); removed {r['removed']} "
                f"from the log. Restore with: lifeline wal restore {r['archive']}"
            )
        else:
            render.out.print(f"nothing to archive (no finished session idle since {r['cutoff']})")
        for kept in r["kept"]:
            render.out.print(f"kept {kept['tenant_id']}/{kept['session_id']}: {kept['reason']}")
        if r["more"]:
            render.out.print("more sessions qualify than one run takes: run again")

    run(ctx, action, show)


@wal_app.command("restore")
def wal_restore(
    ctx: typer.Context,
    archive: Annotated[str, typer.Argument(help="the archive cleanup wrote (its name or path)")],
) -> None:
    """Put an archive's sessions back in ingest's log, verified by hash (twice is harmless)."""
    name = archive.rsplit("/", 1)[-1]

    def action(c: Context) -> Any:
        with c.ingest() as api:
            return api.json("POST", "/v1/admin/wal/restore", json={"archive": name})

    run(ctx, action, lambda r: render.out.print(
        f"{r['archive']}: {r['restored']} sessions restored, {r['present']} already present "
        f"({r['events']} events, verified by hash)"))
