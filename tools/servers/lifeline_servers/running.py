"""`RunningServer`: one server a test or `make run` talks to, whoever started it.

Errors (everything this package raises derives from `ServerError`):

    ServerError
    ├── ServerStartError            it would not start: reason + tail of its log
    └── ServerNotControllableError  kill/restart asked of a server we do not own
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol
from urllib.parse import urlsplit

from lifeline_servers.process import ManagedProcess, wait_until

Kind = Literal["redis", "postgres", "kafka"]
Source = Literal["embedded", "container", "external"]


class ServerError(RuntimeError):
    """Base of every error raised by lifeline_servers."""


class ServerStartError(ServerError):
    """A server did not come up; the message carries the reason and its log tail."""


class ServerNotControllableError(ServerError):
    """A failure test needs to kill or restart a server that was provided externally."""


class ServerControl(Protocol):
    """What it takes to drive a server we own through crashes and restarts."""

    log_path: Path | None

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def kill(self) -> None: ...

    def is_running(self) -> bool: ...


@dataclass
class RunningServer:
    """A reachable server: its URL and, when we own it, the means to stop, kill, restart.

    `url` is `redis://host:port`, `postgresql://user@host:port/db` or `kafka://host:port`.
    External servers (named by env vars) have `control=None`: `stop()` leaves them
    alone, and `kill()`/`restart()` raise `ServerNotControllableError` so a failure
    test fails loudly instead of silently testing nothing.
    """

    kind: Kind
    url: str
    source: Source
    control: ServerControl | None = None
    description: str = ""
    _stopped: bool = field(default=False, repr=False)

    @property
    def controllable(self) -> bool:
        return self.control is not None

    @property
    def host(self) -> str:
        return self._first_address()[0]

    @property
    def port(self) -> int:
        return self._first_address()[1]

    @property
    def bootstrap(self) -> str:
        """`host:port[,host:port]` for Kafka clients (only meaningful for kind kafka)."""
        return self.url.split("://", 1)[1].split("/", 1)[0]

    @property
    def log_path(self) -> Path | None:
        return self.control.log_path if self.control else None

    def _first_address(self) -> tuple[str, int]:
        netloc = urlsplit(self.url).netloc.rsplit("@", 1)[-1].split(",", 1)[0]
        host, _, port = netloc.rpartition(":")
        return host.strip("[]"), int(port)

    def require_control(self, action: str) -> ServerControl:
        """The control handle, or a clear error saying why `action` is impossible."""
        if self.control is None:
            raise ServerNotControllableError(
                f"cannot {action} the {self.kind} server at {self.url}: it is {self.source}ly "
                f"provided ({self.description or 'by environment'}), so this process cannot "
                "crash or restart it. Unset LIFELINE_TEST_*_URL to let the suite start its own."
            )
        return self.control

    def is_running(self) -> bool:
        """True for external servers (assumed up) and for owned ones whose process lives."""
        return self.control.is_running() if self.control else True

    def stop(self) -> None:
        """Stop a server we own (data kept); a no-op for external ones."""
        if self.control is not None:
            self.control.stop()

    def kill(self) -> None:
        """SIGKILL the server (its whole process group), as a crash would."""
        self.require_control("kill").kill()

    def restart(self) -> None:
        """Bring the server back on the same port with the same data (stopping it first
        if it still runs); returns once it answers its protocol again."""
        control = self.require_control("restart")
        if control.is_running():
            control.stop()
        control.start()

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)

    async def akill(self) -> None:
        await asyncio.to_thread(self.kill)

    async def arestart(self) -> None:
        """`restart()` without blocking the caller's event loop."""
        await asyncio.to_thread(self.restart)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ProcessControl:
    """Controls a server that is one local process (group) with a protocol probe.

    `prepare` runs before each start (Postgres' initdb, for instance); `ready` is the
    probe polled until it returns True or `startup_timeout` passes.
    """

    def __init__(
        self,
        name: str,
        process: ManagedProcess,
        ready: Callable[[], bool],
        *,
        startup_timeout: float = 30.0,
        stop_timeout: float = 10.0,
        prepare: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.process = process
        self.ready = ready
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.prepare = prepare
        self.log_path: Path | None = process.log_path

    def start(self) -> None:
        if self.prepare is not None:
            self.prepare()
        try:
            self.process.start()
        except OSError as exc:
            raise ServerStartError(f"{self.name}: cannot execute {self.process.argv[0]}: {exc}") from exc
        if wait_until(self.ready, self.startup_timeout, alive=self.process):
            return
        code = self.process.returncode
        tail = self.process.log_tail()
        self.process.kill()
        reason = (
            f"exited with code {code} during startup"
            if code is not None
            else f"did not answer within {self.startup_timeout:.0f}s"
        )
        raise ServerStartError(
            f"{self.name} {reason}\ncommand: {' '.join(self.process.argv)}\n"
            f"--- last lines of {self.log_path} ---\n{tail}"
        )

    def stop(self) -> None:
        self.process.stop(self.stop_timeout)

    def kill(self) -> None:
        self.process.kill()

    def is_running(self) -> bool:
        return self.process.is_alive()
