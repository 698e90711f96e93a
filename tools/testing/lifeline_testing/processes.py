"""Run a Lifeline service as a real process, so tests can SIGKILL and restart it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from lifeline_servers import free_port

TEST_API_KEY = "test-admin-key"
"""The platform operator's key (and the services'): every scope in every tenant."""
TENANT_ADMIN_KEY = "test-tenant-admin"
"""A tenant's admin: every action, in tenant `default` only."""
TEST_KEYS: dict[str, dict[str, Any]] = {
    TEST_API_KEY: {"tenant": "default", "scopes": ["ingest", "read", "admin", "operator"]},
    TENANT_ADMIN_KEY: {"tenant": "default", "scopes": ["ingest", "read", "admin"]},
    "test-other-tenant": {"tenant": "other", "scopes": ["ingest", "read"]},
    "test-read-only": {"tenant": "default", "scopes": ["read"]},
}


@dataclass
class ServiceProcess:
    """One service process; `env` is added to the parent's environment."""

    module: str
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    log_dir: Path = Path("/tmp")
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.module}-{self.port}.log"

    def start(self, *, wait_ready: bool = True, timeout: float = 30.0) -> ServiceProcess:
        import json

        env = {**os.environ, "LIFELINE_PORT": str(self.port),
               "LIFELINE_API_KEYS": json.dumps(TEST_KEYS), **self.env}
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", self.module], env=env, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self._wait("/ready" if wait_ready else "/health", timeout)
        return self

    def _wait(self, path: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.module} exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                r = httpx.get(self.url + path, timeout=2)
                if r.status_code == 200:
                    return
                last = r.text
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.1)
        raise RuntimeError(f"{self.module} not ready after {timeout}s ({last}):\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, exactly like a crashed pod."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait: the graceful path."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            return self.proc.wait(timeout)
        return self.proc.returncode if self.proc else 0

    def restart(self) -> ServiceProcess:
        self.kill()
        return self.start()

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(self, *_: object) -> None:
        self.kill()


def auth(key: str = TEST_API_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


PEERS = ("INGEST", "REPLAY", "MEMORY", "SNAPSHOT", "GOVERNANCE", "EXPLORER_MEMORY")


@contextmanager
def services_without_peers(services: Iterable[str], database_url: str, redis_url: str,
                           log_dir: Path) -> Iterator[dict[str, ServiceProcess]]:
    """Each named service as its own process, every peer URL pointing at a closed port.

    For tests of a service's own edge (authorization, validation): they must answer before
    any peer is asked, so no peer needs to run. Started one at a time because each
    migrates its own schema; killed on the way out.
    """
    nowhere = f"http://127.0.0.1:{free_port()}"
    env = {"LIFELINE_DATABASE_URL": database_url, "LIFELINE_REDIS_URL": redis_url,
           "LIFELINE_BUS_URL": redis_url, "LIFELINE_SERVICE_API_KEY": TEST_API_KEY,
           **{f"LIFELINE_{peer}_URL": nowhere for peer in PEERS},
           "LIFELINE_HTTP_TIMEOUT_S": "1", "LIFELINE_SHUTDOWN_GRACE_S": "2"}
    procs: dict[str, ServiceProcess] = {}
    try:
        for service in services:
            procs[service] = ServiceProcess(f"lifeline_{service}", env, log_dir=log_dir).start(
                wait_ready=False, timeout=60)
        yield procs
    finally:
        for proc in procs.values():
            proc.kill()
