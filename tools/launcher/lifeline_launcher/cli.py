"""`python -m lifeline_launcher` (`make run`): the whole stack in one terminal.

Starts the servers (embedded unless LIFELINE_*_URL name real ones), then every
declared service as its own process, waits until each is healthy and ready, prints
the URLs and the dev API key, writes `<home>/stack.env`, and supervises until
Ctrl-C or SIGTERM, when it stops everything it started: services first (SIGTERM,
then SIGKILL after the grace period), then the servers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import signal
from pathlib import Path
from typing import NoReturn

from rich.console import Console
from rich.table import Table

from lifeline_launcher.servers_watch import watch_servers
from lifeline_launcher.services import SERVICES, ServiceSpec, parse_service
from lifeline_launcher.stack import (
    Stack,
    api_keys_json,
    default_tenant,
    dev_api_key,
    explorer_url,
    service_env,
    start_stack,
    write_stack_env,
)
from lifeline_launcher.supervisor import Supervisor
from lifeline_servers import ServerError, port_is_free


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m lifeline_launcher", description=__doc__)
    parser.add_argument(
        "--home",
        default=os.environ.get("LIFELINE_HOME", ".lifeline"),
        help="state directory: data, logs, dev key, stack.env (default .lifeline)",
    )
    parser.add_argument(
        "--bus",
        choices=["redis", "kafka"],
        default="redis",
        help="embedded bus when LIFELINE_BUS_URL is unset (default redis)",
    )
    parser.add_argument(
        "--service",
        action="append",
        type=parse_service,
        metavar="NAME=MODULE:PORT",
        help="run these services instead of the declared ones (repeatable)",
    )
    parser.add_argument("--ready-timeout", type=float, default=60.0, metavar="SECONDS")
    parser.add_argument("--stop-grace", type=float, default=15.0, metavar="SECONDS")
    return parser.parse_args(argv)


def _interrupt(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the stack until interrupted; 0 after a clean stop, 1 if it could not start."""
    args = _arguments(argv)
    home = Path(args.home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    console = Console(highlight=False)
    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM during startup: clean up too
    stack: Stack | None = None
    try:
        with console.status("starting Redis, PostgreSQL and the bus…"):
            stack = start_stack(home, args.bus)
        return asyncio.run(_run(args, home, stack, console))
    except KeyboardInterrupt:
        return 0
    except ServerError as exc:
        console.print(f"[red]cannot start the stack:[/red] {exc}")
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # finish the cleanup we began
        if stack is not None:
            console.print("stopping servers…")
            stack.stop()
        with contextlib.suppress(FileNotFoundError):
            (home / "stack.env").unlink()


def _has_main(module: str) -> bool:
    """`python -m module` works: a plain module, or a package with a `__main__`."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.submodule_search_locations is None:
        return spec is not None
    return importlib.util.find_spec(f"{module}.__main__") is not None


def _runnable(specs: list[ServiceSpec], console: Console) -> list[ServiceSpec] | None:
    """The specs whose module exists; None (after saying why) if a port is taken."""
    runnable = []
    for spec in specs:
        if not _has_main(spec.module):
            console.print(
                f"[yellow]note:[/yellow] {spec.name}: module {spec.module} is not installed yet, skipped"
            )
            continue
        if not port_is_free(spec.port):
            console.print(
                f"[red]{spec.name}: port {spec.port} is taken[/red] (another `make run` still running?)"
            )
            return None
        runnable.append(spec)
    return runnable


async def _run(args: argparse.Namespace, home: Path, stack: Stack, console: Console) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runnable = _runnable(args.service or SERVICES, console)
    if runnable is None:
        return 1
    key = dev_api_key(home)
    keys = api_keys_json(key, default_tenant())
    supervisor = Supervisor(
        home / "logs",
        console.print,
        ready_timeout_s=args.ready_timeout,
        stop_grace_s=args.stop_grace,
    )
    for spec in runnable:
        supervisor.add(spec, service_env(stack, spec, runnable, keys))
    try:
        starting = asyncio.create_task(supervisor.start_all())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            starting.cancel()
            return 0
        stopping.cancel()
        write_stack_env(home, stack, key, runnable)
        _summary(console, home, stack, key, runnable, starting.result())
        await asyncio.gather(supervisor.watch(stop), watch_servers(stack.owned, console.print, stop))
        console.print("stopping services…")
        return 0
    finally:
        await supervisor.stop_all()


def _summary(
    console: Console,
    home: Path,
    stack: Stack,
    key: str,
    runnable: list[ServiceSpec],
    outcomes: dict[str, str],
) -> None:
    table = Table(title="Lifeline stack", title_justify="left")
    for column in ("what", "url", "status"):
        table.add_column(column)
    for label, url, env in (
        ("redis", stack.redis_url, "LIFELINE_REDIS_URL"),
        ("postgres", stack.database_url, "LIFELINE_DATABASE_URL"),
        ("bus", stack.bus_url, "LIFELINE_BUS_URL"),
    ):
        origin = f"from {env}" if os.environ.get(env) else "embedded"
        table.add_row(label, url, origin)
    for spec in runnable:
        outcome = outcomes.get(spec.name, "?")
        style = "green" if outcome == "ready" else "red"
        table.add_row(spec.name, spec.url, f"[{style}]{outcome}[/{style}]")
    console.print(table)
    # soft_wrap: a key or path broken over two lines cannot be copied whole.
    tenant = default_tenant()
    console.print(f"API key (tenant {tenant}, all scopes): [bold]{key}[/bold]", soft_wrap=True)
    explorer = explorer_url(runnable)
    if explorer:
        console.print(f"session explorer: [bold]{explorer}[/bold] (paste the API key there)", soft_wrap=True)
    console.print(f"written: {home / 'stack.env'}  logs: {home / 'logs'}/", soft_wrap=True)
    console.print("Ctrl-C stops everything.")
