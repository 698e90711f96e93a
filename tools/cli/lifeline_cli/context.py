"""What every command shares: the resolved configuration, output mode and error handling."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import typer

from lifeline_cli import render
from lifeline_cli.client import Api, CliError
from lifeline_cli.config import CliConfig

T = TypeVar("T")


@dataclass
class Context:
    config: CliConfig
    json: bool

    def snapshot(self) -> Api:
        return Api(self.config.snapshot_url, self.config.api_key)

    def replay(self) -> Api:
        return Api(self.config.replay_url, self.config.api_key)

    def ingest(self) -> Api:
        return Api(self.config.ingest_url, self.config.api_key)


def run(ctx: typer.Context, action: Callable[[Context], T], show: Callable[[T], None]) -> None:
    """Run `action`; print JSON or `show` it; on CliError print the problem and exit 1."""
    context: Context = ctx.obj
    try:
        result = action(context)
    except CliError as exc:
        render.err.print(f"[red]Error:[/red] {exc}", markup=True)
        raise typer.Exit(1) from None
    if context.json:
        render.emit_json(result)
    else:
        show(result)
