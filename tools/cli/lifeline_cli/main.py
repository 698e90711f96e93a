"""`lifeline`: snapshots, recap, export/import and the WAL (snapshot service), replay and
state (replay service). `--json` (before the command) prints JSON for scripts; errors
print the service's problem detail and exit with status 1."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from lifeline_cli import render, transfer
from lifeline_cli.config import load_config
from lifeline_cli.context import Context, run
from lifeline_cli.governance import register as register_governance
from lifeline_cli.memory import register as register_memory
from lifeline_cli.snapshots import snapshot_app
from lifeline_cli.wal import wal_app

app = typer.Typer(help=__doc__, no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(snapshot_app, name="snapshot")
app.add_typer(wal_app, name="wal")
register_memory(app)
register_governance(app)


@app.callback()
def main(
    ctx: typer.Context,
    api_key: Annotated[str | None, typer.Option(help="API key (default: $LIFELINE_API_KEY)")] = None,
    snapshot_url: Annotated[str | None, typer.Option(help="snapshot service URL")] = None,
    replay_url: Annotated[str | None, typer.Option(help="replay service URL")] = None,
    ingest_url: Annotated[str | None, typer.Option(help="ingest service URL")] = None,
    stack_env: Annotated[
        Path | None, typer.Option(help="a stack.env to read (default: .lifeline/stack.env)")
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="print JSON for scripts")] = False,
) -> None:
    config = load_config(
        os.environ,
        cwd=Path.cwd(),
        stack_env=stack_env,
        api_key=api_key,
        snapshot_url=snapshot_url,
        replay_url=replay_url,
        ingest_url=ingest_url,
    )
    ctx.obj = Context(config, json)


@app.command()
def recap(
    ctx: typer.Context,
    session: str,
    last_turns: Annotated[int, typer.Option("--last-turns", "-k", help="turns to include")] = 3,
) -> None:
    """A deterministic 2–6 sentence recap of a session."""

    def action(c: Context) -> Any:
        with c.snapshot() as api:
            return api.json("GET", f"/v1/sessions/{session}/recap", params={"lastTurns": last_turns})

    run(ctx, action, lambda r: render.out.print(r["recap"]))


@app.command("export")
def export_session(
    ctx: typer.Context,
    session: str,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="bundle file")] = None,
) -> None:
    """Export a session (events, snapshots, profile; secrets redacted) to a JSON file."""
    target = output or Path(f"{session}.lifeline.json")

    def action(c: Context) -> Any:
        with c.snapshot() as api:
            return transfer.export_to(api, session, target, show_progress=not c.json)

    def show(r: dict[str, Any]) -> None:
        redacted = ", ".join(f"{k} {v}" for k, v in r["redactions"].items() if v) or "nothing"
        render.out.print(
            f"exported {r['events']} events and {r['snapshots']} snapshots to {r['file']} "
            f"({r['bytes']} bytes); redacted: {redacted}"
        )

    run(ctx, action, show)


@app.command("import")
def import_session(
    ctx: typer.Context,
    bundle: Path,
    preserve_turn_id: Annotated[bool, typer.Option("--preserve-turn-id")] = False,
) -> None:
    """Import a bundle as a new sandbox session."""

    def action(c: Context) -> Any:
        with c.snapshot() as api:
            return transfer.import_from(
                api, bundle, preserve_turn_id=preserve_turn_id, show_progress=not c.json
            )

    run(
        ctx,
        action,
        lambda r: render.out.print(
            f"imported {r['events']} events of {r['source_session_id']} as {r['session_id']}"
        ),
    )


@app.command()
def replay(
    ctx: typer.Context,
    session: str,
    until_seq: Annotated[int | None, typer.Option(min=1, help="the state after this seq")] = None,
    at: Annotated[str | None, typer.Option(help="state as of this time (ISO 8601)")] = None,
) -> None:
    """Time travel: the session's state at a seq or a time (replay service)."""

    def action(c: Context) -> Any:
        body = {k: v for k, v in {"until_seq": until_seq, "at": at}.items() if v is not None}
        with c.replay() as api:
            return api.json("POST", f"/v1/sessions/{session}/replay", json=body)

    run(ctx, action, _show_state)


@app.command()
def state(ctx: typer.Context, session: str) -> None:
    """The session's current state (replay service)."""

    def action(c: Context) -> Any:
        with c.replay() as api:
            return api.json("GET", f"/v1/sessions/{session}/state")

    run(ctx, action, _show_state)


def _show_state(doc: dict[str, Any]) -> None:
    """A one-line summary, then the state itself (as JSON: it is nested data)."""
    state = doc.get("state") or {}
    render.out.print(
        f"{doc.get('session_id')} at seq {doc.get('seq')} (from {doc.get('mode')}): "
        f"stage {state.get('stage')}, {state.get('turn_count', 0)} turns"
    )
    render.emit_json(state)


if __name__ == "__main__":
    app()
