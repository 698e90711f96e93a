"""`lifeline models|route|promote|quarantine|audit` (governance service).

The governance URL comes from `$LIFELINE_GOVERNANCE_URL`, else `.lifeline/stack.env`
(written by `make run`), else the local default port 8005.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from lifeline_cli import render
from lifeline_cli.client import Api
from lifeline_cli.config import find_stack_env, parse_env_file
from lifeline_cli.context import Context, run

DEFAULT_GOVERNANCE_URL = "http://127.0.0.1:8005"


def governance_url() -> str:
    if os.environ.get("LIFELINE_GOVERNANCE_URL"):
        return os.environ["LIFELINE_GOVERNANCE_URL"]
    path = find_stack_env(Path.cwd())
    from_file = parse_env_file(path.read_text()) if path else {}
    return from_file.get("LIFELINE_GOVERNANCE_URL") or DEFAULT_GOVERNANCE_URL


def _api(c: Context) -> Api:
    return Api(governance_url(), c.config.api_key)


def _num(value: Any, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _show_models(body: dict[str, Any]) -> None:
    rows = []
    for m in body["models"]:
        for p in m["placements"]:
            w = p.get("window") or {}
            vs = p.get("vs_primary") or {}
            rows.append(
                (
                    m["model_id"],
                    p["intent"],
                    p["state"],
                    render.mark(p["pinned"]),
                    f"{p['streak']}/{p['sustain_required']}",
                    w.get("calls", ""),
                    _num(w.get("success_rate")),
                    _num(w.get("score_mean"), 2),
                    _num(w.get("effective_score")),
                    _num(vs.get("ratio")),
                    p.get("verdict") or "",
                )
            )
    render.table(
        "models",
        [
            "model",
            "intent",
            "state",
            "pinned",
            "streak",
            "calls",
            "success",
            "score",
            "ES",
            "vs PRIMARY",
            "verdict",
        ],
        rows,
    )


def models(
    ctx: typer.Context,
    intent: Annotated[str | None, typer.Option(help="only this intent")] = None,
    state: Annotated[str | None, typer.Option(help="only this state")] = None,
) -> None:
    """Every model's placements: state, streak and the last window's figures."""
    params = {k: v for k, v in {"intent": intent, "state": state}.items() if v}

    def action(c: Context) -> Any:
        with _api(c) as api:
            return api.json("GET", "/v1/models", params=params)

    run(ctx, action, _show_models)


def route(
    ctx: typer.Context,
    intent: str,
    at: Annotated[str | None, typer.Option(help="ISO time: which model was PRIMARY then")] = None,
    sample_key: Annotated[str | None, typer.Option(help="deterministic canary/mirror choice")] = None,
) -> None:
    """Which model to use for INTENT (now, or --at a past time)."""
    params = {k: v for k, v in {"at": at, "sample_key": sample_key}.items() if v}

    def action(c: Context) -> Any:
        with _api(c) as api:
            return api.json("GET", f"/v1/routing/{quote(intent, safe='')}", params=params)

    def show(r: dict[str, Any]) -> None:
        extra = "" if at else f" ({r['reason']}{', degraded' if r.get('degraded') else ''})"
        render.out.print(
            f"{intent} → [bold]{r['model_id']}[/bold] {r['state']} matched {r['matched']}{extra}", markup=True
        )
        for warning in r.get("warnings", []):
            render.out.print(f"[yellow]warning:[/yellow] {warning}", markup=True)

    run(ctx, action, show)


def _transition(
    ctx: typer.Context,
    model: str,
    intent: str,
    to_state: str,
    reason: str,
    expected: str | None,
    respect_guards: bool,
    actor: str | None,
) -> None:
    body = {
        "intent": intent,
        "to_state": to_state,
        "reason": reason,
        "expected_state": expected,
        "respect_guards": respect_guards,
        "actor": actor or os.environ.get("USER"),
    }

    def action(c: Context) -> Any:
        with _api(c) as api:
            return api.json("POST", f"/v1/models/{quote(model, safe='')}/transition", json=body)

    def show(r: dict[str, Any]) -> None:
        d = r["decision"]
        render.out.print(
            f"decision {d['seq']}: {d['model_id']} {d['from_state']} → {d['to_state']}"
            + "".join(f"; {x['model_id']} {x['from_state']} → {x['to_state']}" for x in d["displaced"])
        )

    run(ctx, action, show)


def promote(
    ctx: typer.Context,
    model: str,
    intent: Annotated[str, typer.Option(help="the intent")],
    reason: Annotated[str, typer.Option(help="why (audited)")],
    to: Annotated[str, typer.Option(help="CANDIDATE or PRIMARY")] = "PRIMARY",
    expected_state: Annotated[str | None, typer.Option(help="refuse unless in this state")] = None,
    respect_guards: Annotated[bool, typer.Option(help="refuse when a guard fails")] = False,
    actor: Annotated[str | None, typer.Option(help="who (default: $USER)")] = None,
) -> None:
    """Promote MODEL for an intent by hand (to PRIMARY: an atomic swap)."""
    _transition(ctx, model, intent, to.upper(), reason, expected_state, respect_guards, actor)


def quarantine(
    ctx: typer.Context,
    model: str,
    intent: Annotated[str, typer.Option(help="the intent")],
    reason: Annotated[str, typer.Option(help="why (audited)")],
    actor: Annotated[str | None, typer.Option(help="who (default: $USER)")] = None,
) -> None:
    """Quarantine MODEL for an intent (terminal; a PRIMARY fails over at once)."""
    _transition(ctx, model, intent, "QUARANTINED", reason, None, False, actor)


def audit(
    ctx: typer.Context,
    intent: Annotated[str | None, typer.Option(help="only this intent")] = None,
    model: Annotated[str | None, typer.Option(help="only this model")] = None,
    limit: Annotated[int, typer.Option(help="most decisions")] = 100,
) -> None:
    """The decision log: every automatic and manual decision with its rule and reason."""
    params = {k: v for k, v in {"intent": intent, "model_id": model, "limit": limit}.items() if v}

    def action(c: Context) -> Any:
        with _api(c) as api:
            return api.json("GET", "/v1/audit", params=params)

    def show(body: dict[str, Any]) -> None:
        render.table(
            "decisions",
            ["seq", "at", "intent", "model", "from", "to", "rule", "actor", "reason"],
            [
                (
                    d["seq"],
                    d["decided_at"][:19],
                    d["intent"],
                    d["model_id"] or "",
                    d["from_state"] or "",
                    d["to_state"] or "",
                    d["rule"],
                    d["actor"] or "",
                    d["reason"][:60],
                )
                for d in body["decisions"]
            ],
        )

    run(ctx, action, show)


def register(app: typer.Typer) -> None:
    """Add the governance commands to the `lifeline` app."""
    for command in (models, route, promote, quarantine, audit):
        app.command()(command)
