"""`lifeline profile|consolidate|forget` (memory service).

The memory URL comes from `$LIFELINE_MEMORY_URL`, else `.lifeline/stack.env` (written by
`make run`), else the local default port 8004.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from lifeline_cli import render
from lifeline_cli.client import Api
from lifeline_cli.config import find_stack_env, parse_env_file
from lifeline_cli.context import Context, run

DEFAULT_MEMORY_URL = "http://127.0.0.1:8004"


def memory_url() -> str:
    if os.environ.get("LIFELINE_MEMORY_URL"):
        return os.environ["LIFELINE_MEMORY_URL"]
    path = find_stack_env(Path.cwd())
    from_file = parse_env_file(path.read_text()) if path else {}
    return from_file.get("LIFELINE_MEMORY_URL") or DEFAULT_MEMORY_URL


def _memory(c: Context) -> Api:
    return Api(memory_url(), c.config.api_key)


def _items(title: str, items: list[dict[str, Any]]) -> None:
    if not items:
        return
    render.table(
        title,
        ["code", "weight", "turns", "sessions", "trend", "intent", "notes"],
        [
            (
                i["code"],
                f"{i['weight']:.3f}",
                i["occurrences"],
                i["sessions"],
                i["trend"],
                i["intent"] or "",
                ", ".join(
                    n
                    for n, on in (
                        ("frequent", i["frequent"]),
                        ("dormant", i["dormant"]),
                        ("conflict", i["conflict"]),
                    )
                    if on
                ),
            )
            for i in items[:10]
        ],
    )


def _show_profile(p: dict[str, Any]) -> None:
    render.out.print(
        f"[bold]{p['person_id']}[/bold] — profile v{p['version']} as of {p['as_of']} "
        f"({p['sessions_count']} sessions, hash {p['content_hash'][:12]})",
        markup=True,
    )
    render.out.print(p["summary"])
    _items("errors", p["errors"])
    _items("strengths", p["strengths"])
    _items("skills", p["skills"])
    if p["flags"]:
        render.table(
            "compliance flags",
            ["code", "severity", "turns", "status", "last seen"],
            [
                (f["code"], f["severity"], f["occurrences"], f["status"], f["last_seen"][:10])
                for f in p["flags"]
            ],
        )
    if p["facts"]:
        render.table(
            "facts",
            ["key", "value", "since", "stale", "earlier values"],
            [
                (
                    f["key"],
                    "(retracted)" if f["retracted"] else str(f["value"]),
                    (f["valid_from"] or "")[:10],
                    render.mark(f["stale"]),
                    ", ".join(str(h["value"]) for h in f["history"][:3]),
                )
                for f in p["facts"]
            ],
        )


def _show_evidence(body: dict[str, Any]) -> None:
    render.table(
        f"evidence of {body['kind']} {body['code']}",
        ["session", "turn", "seq", "source", "live", "suppressed", "event id"],
        [
            (
                e["session_id"],
                e["turn_id"],
                e["seq"],
                e["source"],
                render.mark(e["live"]),
                render.mark(e["suppressed"]),
                e["event_id"],
            )
            for e in body["evidence"]
        ],
    )


def profile(
    ctx: typer.Context,
    words: Annotated[list[str], typer.Argument(help="PERSON, or: explain PERSON")],
    version: Annotated[int | None, typer.Option(help="an older kept version")] = None,
    kind: Annotated[str | None, typer.Option(help="explain: error, strength, skill_tag, flag, fact")] = None,
    code: Annotated[str | None, typer.Option(help="explain: the item's code (or fact key)")] = None,
    limit: Annotated[int, typer.Option(help="explain: most evidence rows")] = 100,
) -> None:
    """`lifeline profile p-7` shows the profile; `lifeline profile explain p-7 --kind error --code X`
    lists every turn behind one item (event ids open the turn in trace-store)."""
    if words[0] == "explain":
        if len(words) != 2 or not kind or not code:
            raise typer.BadParameter("usage: lifeline profile explain PERSON --kind KIND --code CODE")
        person = words[1]

        def evidence(c: Context) -> Any:
            with _memory(c) as api:
                return api.json(
                    "GET",
                    f"/v1/persons/{person}/evidence",
                    params={"kind": kind, "code": code, "limit": limit},
                )

        run(ctx, evidence, _show_evidence)
        return
    if len(words) != 1:
        raise typer.BadParameter("usage: lifeline profile PERSON [--version N]")
    params = {"version": version} if version else {}

    def action(c: Context) -> Any:
        with _memory(c) as api:
            return api.json("GET", f"/v1/persons/{words[0]}/profile", params=params)

    run(ctx, action, _show_profile)


def consolidate(
    ctx: typer.Context,
    person: str,
    session: Annotated[str | None, typer.Option(help="catch up and seal this session")] = None,
    rebuild: Annotated[bool, typer.Option(help="recompute from ingest's log")] = False,
    dry_run: Annotated[bool, typer.Option(help="show what would change, write nothing")] = False,
) -> None:
    """Recompute a person's profile now (idempotent: unchanged input, unchanged hash)."""

    def action(c: Context) -> Any:
        with _memory(c) as api:
            return api.json(
                "POST",
                f"/v1/persons/{person}/consolidate",
                json={"session_id": session, "rebuild": rebuild, "dry_run": dry_run},
            )

    def show(r: dict[str, Any]) -> None:
        verb = "new version" if r["changed"] else "unchanged at version"
        render.out.print(
            f"{r['person_id']}: {verb} {r['version']} ({r['sessions_count']} sessions, "
            f"hash {(r['content_hash'] or '')[:12]}, {r['took_ms']} ms)" + (" [dry run]" if dry_run else "")
        )

    run(ctx, action, show)


def forget(
    ctx: typer.Context,
    person: str,
    session: Annotated[str | None, typer.Option(help="forget only this session")] = None,
    block_future: Annotated[bool, typer.Option(help="also ignore the person's later sessions")] = False,
    reason: Annotated[str | None, typer.Option(help="why (kept with the tombstone)")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False,
) -> None:
    """Erase memory's derived data of a person (or one session); ingest's log is NOT erased."""
    if not yes and not ctx.obj.json:
        typer.confirm(
            f"Forget {'session ' + session + ' of ' if session else ''}{person} in memory?", abort=True
        )

    def action(c: Context) -> Any:
        with _memory(c) as api:
            if session:
                return api.json(
                    "DELETE",
                    f"/v1/persons/{person}/sessions/{session}",
                    params={"reason": reason} if reason else {},
                )
            params: dict[str, Any] = {"block_future": block_future}
            if reason:
                params["reason"] = reason
            return api.json("DELETE", f"/v1/persons/{person}", params=params)

    def show(r: dict[str, Any]) -> None:
        d = r["deleted"]
        render.out.print(
            f"forgot {person}: {d['observations']} observations, {d['digests']} digests"
            + (f", {d['versions']} versions" if "versions" in d else "")
        )
        render.err.print(r["not_erased"])

    run(ctx, action, show)


def register(app: typer.Typer) -> None:
    """Add the memory commands to the `lifeline` app."""
    app.command("profile")(profile)
    app.command("consolidate")(consolidate)
    app.command("forget")(forget)
