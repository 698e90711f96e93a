"""Output: rich tables for people, plain JSON (`--json`) for scripts; errors to stderr."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def emit_json(data: Any) -> None:
    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    t = Table(title=title)
    first = max((len(str(row[0])) for row in rows), default=0)
    for i, column in enumerate(columns):
        # the first column is the id users copy: never truncated, whatever the terminal width
        t.add_column(column, no_wrap=i == 0, min_width=first if i == 0 else None)
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    # piped or captured output is read by tools, not squeezed into 80 columns
    Console(highlight=False, width=None if out.is_terminal else 160).print(t)


def mark(value: bool | None) -> str:
    return "?" if value is None else ("yes" if value else "NO")
