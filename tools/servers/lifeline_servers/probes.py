"""Readiness probes that speak each server's real protocol.

An open TCP port proves little: Postgres accepts connections while it still answers
"the database system is starting up", and a Kafka broker may accept before it can
serve metadata. Each probe here does what a client would do first.

The probes are synchronous so that `RunningServer.restart()` works from sync code and
from inside a running event loop alike: async clients run on a private loop in a
short-lived thread.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")


def run_in_private_loop(factory: Callable[[], Awaitable[T]], timeout: float = 10.0) -> T:
    """Run a coroutine on its own loop in a new thread and return its result."""
    box: dict[str, object] = {}

    def target() -> None:
        async def bounded() -> T:
            return await asyncio.wait_for(factory(), timeout)

        try:
            box["value"] = asyncio.run(bounded())
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="lifeline-probe", daemon=True)
    thread.start()
    thread.join(timeout + 5.0)
    if thread.is_alive():
        raise TimeoutError(f"probe did not finish within {timeout}s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def redis_ping(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when the server answers a RESP PING with +PONG."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        return sock.recv(64).startswith(b"+PONG")


def accepts_tcp(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when something accepts a TCP connection on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _address(url: str) -> tuple[str, int]:
    netloc = urlsplit(url if "://" in url else f"//{url}").netloc.rsplit("@", 1)[-1]
    host, _, port = netloc.split(",", 1)[0].rpartition(":")
    return host.strip("[]"), int(port)


def postgres_select_1(url: str, timeout: float = 3.0) -> bool:
    """True when asyncpg can log in and run SELECT 1."""
    import asyncpg

    if not accepts_tcp(*_address(url)):  # cheap pre-check while the server boots
        return False

    async def probe() -> bool:
        conn = await asyncpg.connect(url, timeout=timeout)
        try:
            return await conn.fetchval("SELECT 1") == 1
        finally:
            await conn.close()

    return run_in_private_loop(probe, timeout + 1.0)


def kafka_metadata(bootstrap: str, timeout: float = 5.0) -> list[str]:
    """The broker's topic list, fetched by a real Kafka client (creates nothing)."""
    from aiokafka.admin import AIOKafkaAdminClient

    if not accepts_tcp(*_address(bootstrap)):  # spares aiokafka's connection-error logs
        raise ConnectionRefusedError(f"nothing listens on {bootstrap}")

    async def probe() -> list[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
        await admin.start()
        try:
            return list(await admin.list_topics())
        finally:
            await admin.close()

    return run_in_private_loop(probe, timeout + 1.0)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on host:port and a server could bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As servers do: a port held only by TIME_WAIT connections is free to them.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port the OS just reported free (racy by nature; bind soon)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
